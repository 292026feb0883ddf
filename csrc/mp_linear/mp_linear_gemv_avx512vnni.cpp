// The int8-activation mp_linear kernel on AVX-512 VNNI (vpdpbusd on 64-byte loads): the
// design and its exactness argument are in mp_linear_gemv_vnni.inc. Compiled with a target
// pragma and selected at run time (isa avx512_vnni) for act_bits = 8.
#include "common/x86_intrin.h"

#include <algorithm>
#include <cstdint>

#include "mp_linear/mp_linear_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")

#include "mp_linear/mp_linear_epilogue_avx512.h"

namespace chord {
namespace mpl {
namespace {

struct V512 {
  using vec = __m512i;
  static constexpr int BYTES = 64, BLOCKS = 4;
  static constexpr int ACC = 16;  // accumulator budget of a tile (of 32 zmm registers)
  static vec zero() { return _mm512_setzero_si512(); }
  static vec loadu(const void* p) { return _mm512_loadu_si512(p); }
  static vec load(const void* p) { return _mm512_load_si512(p); }
  // the first `blocks` 16-byte blocks of p (masked, non-faulting), zero above
  static vec loadu_blocks(const void* p, int64_t blocks) {
    return _mm512_maskz_loadu_epi32(__mmask16((1u << (4 * blocks)) - 1u), p);
  }
  static vec srli16(vec v, int s) { return _mm512_srli_epi16(v, unsigned(s)); }
  static vec and8(vec v, int mask) { return _mm512_and_si512(v, _mm512_set1_epi8(char(mask))); }
  // vpdpbusd in place on its accumulator: with the intrinsic GCC 12 copied most of the 16
  // accumulators of a 2-bit tile to other registers (and some to the stack) every 64-byte group,
  // which made the 2-bit rows slower (reports/2026-12-07-gemv-5.md)
  static vec dpbusd(vec acc, vec u, vec x) {
    asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(x));
    return acc;
  }
  static vec add32(vec a, vec b) { return _mm512_add_epi32(a, b); }
  static vec srai32(vec v, int s) { return _mm512_srai_epi32(v, unsigned(s)); }
  // the int32 lane sums of a, b, c, d (each total must fit int32)
  static __m128i sum4(vec a, vec b, vec c, vec d) {
    const vec ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    const vec cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    const vec q = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));  // a b c d per lane
    const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(q), _mm512_extracti64x4_epi64(q, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
  }
  static int64_t hsum64(vec v) {
    const __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
    const __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1));
    return _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
  }
};

#include "mp_linear/mp_linear_gemv_vnni.inc"

}  // namespace

void dot_i8_avx512vnni(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                       int64_t* out, int64_t ldo, const uint8_t* pf_end) {
  dot_i8_vnni<V512>(w, rb, bits, nr, x, ldx, nm, out, ldo, pf_end);
}

void epilogue_gemv_i8_avx512(const int64_t* d, int64_t n, const float* zero, const float* scale, double q, double xs,
                             double* v) {
  // Explicit-rounding intrinsics: GCC never contracts them into FMAs, so every step rounds as
  // the scalar expression's does (int64 -> double is exact: |d| < 2^53).
  constexpr int R = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m512d vq = _mm512_set1_pd(q), vxs = _mm512_set1_pd(xs);
  for (int64_t j = 0; j < n; j += 8) {
    const __mmask8 km = n - j >= 8 ? __mmask8(0xff) : __mmask8((1u << (n - j)) - 1u);
    const __m512d dv = _mm512_cvtepi64_pd(_mm512_maskz_loadu_epi64(km, d + j));
    const __m512d zq = _mm512_mul_round_pd(_mm512_cvtps_pd(_mm256_maskz_loadu_ps(km, zero + j)), vq, R);
    const __m512d sc = _mm512_mul_round_pd(vxs, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(km, scale + j)), R);
    _mm512_mask_storeu_pd(v + j, km, _mm512_mul_round_pd(_mm512_sub_round_pd(dv, zq, R), sc, R));
  }
}

void scatter_rows_avx512(const double* v, int64_t n, const int32_t* perm, const float* bias, float* y) {
  epilogue_blocks_8(
      n, perm, bias,
      y, [&](int64_t j0, __mmask8 km) __attribute__((always_inline)) { return _mm512_maskz_loadu_pd(km, v + j0); });
}

}  // namespace mpl
}  // namespace chord

#pragma GCC pop_options
