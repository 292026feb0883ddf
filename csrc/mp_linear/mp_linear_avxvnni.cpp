// The act8 kernels on AVX-VNNI (VEX vpdpbusd on 32-byte vectors), for CPUs with VNNI but without
// AVX-512 (Alder Lake and later client cores, Sierra Forest...), selected at run time (isa
// avx_vnni) for act_bits = 8. One file, one target pragma, one set of vector operations (V256)
// for both kernels:
// - the GEMV (dot_i8_avxvnni): the design and its exactness argument are in
//   mp_linear_gemv_vnni.inc; its activation layout is the AVX2 kernel's (32-byte groups);
// - the int8 GEMM microkernel (gemm_i8_avxvnni): 2 activation rows x 4 unpacked columns, 8 ymm
//   accumulators + 4 columns + 1 row within 16 registers; body and exactness argument in
//   mp_linear_gemm_i8_vnni.inc; the columns are unpacked by unpack_i8_avx2 (8-bit rows copied
//   as they are: vpdpbusd takes any u8).
#include "common/x86_intrin.h"

#include <algorithm>
#include <cstdint>

#include "mp_linear/mp_linear_kernels.h"

#pragma GCC push_options
#pragma GCC target("avxvnni,avx2,fma,f16c")

namespace chord {
namespace mpl {
namespace {

struct V256 {
  using vec = __m256i;
  static constexpr int BYTES = 32;
  static constexpr int MR = 2;      // GEMM: rows per tile
  static constexpr int BLOCKS = 2;  // GEMV: 16-byte blocks per load
  static constexpr int ACC = 8;     // GEMV: accumulator budget of a tile (of 16 ymm registers)
  static vec zero() { return _mm256_setzero_si256(); }
  static vec load(const void* p) { return _mm256_load_si256(static_cast<const __m256i*>(p)); }
  static vec loadu(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static vec loadu_blocks(const void* p, int64_t /*blocks: always 1*/) {
    return _mm256_zextsi128_si256(_mm_loadu_si128(static_cast<const __m128i*>(p)));
  }
  static vec dpbusd(vec acc, vec u, vec x) { return _mm256_dpbusd_avx_epi32(acc, u, x); }
  static vec srli16(vec v, int s) { return _mm256_srli_epi16(v, s); }
  static vec and8(vec v, int mask) { return _mm256_and_si256(v, _mm256_set1_epi8(char(mask))); }
  static vec add32(vec a, vec b) { return _mm256_add_epi32(a, b); }
  static vec srai32(vec v, int s) { return _mm256_srai_epi32(v, s); }
  // the int32 lane sums of a, b, c, d (wrapping adds: exact when each total fits int32)
  static __m128i sum4(vec a, vec b, vec c, vec d) {
    const vec ab = _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
    const vec cd = _mm256_add_epi32(_mm256_unpacklo_epi32(c, d), _mm256_unpackhi_epi32(c, d));
    const vec q = _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd));  // a b c d per lane
    return _mm_add_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  }
  // c[j] = sum of the 8 int32 lanes of vector j, j < nr
  static void store4(int32_t* c, int nr, vec a, vec b, vec cc, vec d) {
    alignas(16) int32_t t[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(t), sum4(a, b, cc, d));
    for (int j = 0; j < nr; ++j) c[j] = t[j];
  }
  static int64_t hsum64(vec v) {
    const __m256i s = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)),
                                       _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
    const __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return _mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1);
  }
};

#include "mp_linear/mp_linear_gemm_i8_vnni.inc"
#include "mp_linear/mp_linear_gemv_vnni.inc"

}  // namespace

void dot_i8_avxvnni(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                    int64_t* out, int64_t ldo, const uint8_t* pf_end) {
  dot_i8_vnni<V256>(w, rb, bits, nr, x, ldx, nm, out, ldo, pf_end);
}

void gemm_i8_avxvnni(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* p, int64_t ldp, int64_t nc, int64_t L,
                     int /*bits*/, const int64_t* /*qsum*/, int32_t* c, int64_t ldc, const uint8_t* pf, int64_t pfb) {
  gemm_vnni<V256>(x, ldx, nm, [&](int64_t j) { return Window<V256>{p + j * ldp, ldp}; }, nc, L, c, ldc, pf, pfb);
}

}  // namespace mpl
}  // namespace chord

#pragma GCC pop_options
