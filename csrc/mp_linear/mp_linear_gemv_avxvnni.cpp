// The int8-activation mp_linear kernel on AVX-VNNI (VEX vpdpbusd on 32-byte loads), for CPUs
// with VNNI but without AVX-512 (Alder Lake and later client cores, Sierra Forest...): the
// design and its exactness argument are in mp_linear_gemv_vnni.inc. Its activation layout is
// the AVX2 kernel's (32-byte groups). Compiled with a target pragma and selected at run time
// (isa avx_vnni) for act_bits = 8.
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
  static constexpr int BLOCKS = 2;
  static constexpr int ACC = 8;  // accumulator budget of a tile (of 16 ymm registers)
  static vec loadu(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static vec loadu_blocks(const void* p, int64_t /*blocks: always 1*/) {
    return _mm256_zextsi128_si256(_mm_loadu_si128(static_cast<const __m128i*>(p)));
  }
  static vec srli16(vec v, int s) { return _mm256_srli_epi16(v, s); }
  static vec and8(vec v, int mask) { return _mm256_and_si256(v, _mm256_set1_epi8(char(mask))); }
  static vec add32(vec a, vec b) { return _mm256_add_epi32(a, b); }
  static vec srai32(vec v, int s) { return _mm256_srai_epi32(v, s); }
  static int64_t hsum64(vec v) {
    const __m256i s = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)),
                                       _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
    const __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return _mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1);
  }
};

#include "mp_linear/mp_linear_gemv_vnni.inc"

}  // namespace

void dot_i8_avxvnni(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                    int64_t* out, int64_t ldo, const uint8_t* pf_end) {
  dot_i8_vnni<V256>(w, rb, bits, nr, x, ldx, nm, out, ldo, pf_end);
}

}  // namespace mpl
}  // namespace chord

#pragma GCC pop_options
