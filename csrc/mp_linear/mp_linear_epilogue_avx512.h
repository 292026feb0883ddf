// The shared frame of the AVX-512 gemv epilogues (epilogue_gemv_f32_avx512,
// epilogue_gemv_i8_avx512): 8 output columns at a time in float64 (a masked block for the
// tail), then add each column's bias, round to float once and store to the permuted columns.
// Shared so that the exact paths round the same way, bit for bit.
//
// Include after common/x86_intrin.h, under an AVX-512 (F, VL) target pragma: the functions take
// the including file's target, so its always_inline lambdas inline into them; everything here
// has internal linkage (an anonymous namespace), so no copy compiled for one target leaves the file.
#pragma once
#include <cstdint>

namespace chord {
namespace mpl {
namespace {

// v: the float64 outputs of columns j0..j0+7 (lanes off km are ignored); n: columns in all.
// Explicit-rounding intrinsics: GCC never contracts them, so each step rounds as the scalar
// reference's does.
inline __attribute__((always_inline)) void bias_round_scatter_8(__m512d v, int64_t j0, __mmask8 km, int64_t n,
                                                                const int32_t* perm, const float* bias, float* y) {
  constexpr int R = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m256i col = _mm256_maskz_loadu_epi32(km, perm + j0);
  if (bias)
    v = _mm512_add_round_pd(v, _mm512_cvtps_pd(_mm256_mmask_i32gather_ps(_mm256_setzero_ps(), km, col, bias, 4)), R);
  alignas(32) float f[8];
  alignas(32) int32_t c[8];
  _mm256_store_ps(f, _mm512_cvt_roundpd_ps(v, R));
  _mm256_store_si256(reinterpret_cast<__m256i*>(c), col);
  for (int i = 0; i < 8 && j0 + i < n; ++i) y[c[i]] = f[i];  // (a scatter instruction is slower)
}

// y[perm[j]] = lanes(j0, km)[j - j0] (+ bias[perm[j]]) for j < n, 8 columns per call of lanes.
template <class Lanes>
inline __attribute__((always_inline)) void epilogue_blocks_8(int64_t n, const int32_t* perm, const float* bias,
                                                             float* y, Lanes&& lanes) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) bias_round_scatter_8(lanes(j, 0xff), j, 0xff, n, perm, bias, y);
  if (j < n) {
    const __mmask8 km = __mmask8((1u << (n - j)) - 1u);
    bias_round_scatter_8(lanes(j, km), j, km, n, perm, bias, y);
  }
}

}  // namespace
}  // namespace mpl
}  // namespace chord
