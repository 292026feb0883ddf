// The int8 GEMM microkernel on AVX-VNNI (VEX vpdpbusd on 32-byte vectors), for CPUs with VNNI but
// without AVX-512 (Alder Lake and later client cores, Sierra Forest...): 2 activation rows x 4
// unpacked columns, 8 ymm accumulators + 4 columns + 1 row within 16 registers. The body and its
// exactness argument are in mp_linear_gemm_i8_vnni.inc; the columns are unpacked by
// unpack_i8_avx2 (8-bit rows copied as they are: vpdpbusd takes any u8). Compiled with a target
// pragma and selected at run time (isa avx_vnni).
#include "common/x86_intrin.h"

#include <algorithm>
#include <cstdint>

#include "mp_linear/mp_linear_kernels.h"

#pragma GCC push_options
#pragma GCC target("avxvnni,avx2,fma,f16c")

namespace chord {
namespace mpl {
namespace {

#include "mp_linear/mp_linear_vnni256.inc"

struct V256 : Vnni256 {
  static constexpr int MR = 2;
  // c[j] = sum of the 8 int32 lanes of vector j, j < nr
  static void store4(int32_t* c, int nr, vec a, vec b, vec cc, vec d) {
    alignas(16) int32_t t[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(t), sum4(a, b, cc, d));
    for (int j = 0; j < nr; ++j) c[j] = t[j];
  }
};

#include "mp_linear/mp_linear_gemm_i8_vnni.inc"

}  // namespace

void gemm_i8_avxvnni(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* p, int64_t ldp, int64_t nc, int64_t L,
                     int /*bits*/, const int64_t* /*qsum*/, int32_t* c, int64_t ldc, const uint8_t* pf, int64_t pfb) {
  gemm_vnni<V256>(x, ldx, nm, [&](int64_t j) { return Window<V256>{p + j * ldp, ldp}; }, nc, L, c, ldc, pf, pfb);
}

}  // namespace mpl
}  // namespace chord

#pragma GCC pop_options
