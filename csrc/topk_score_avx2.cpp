// AVX2 row scorer of chord::mp_topk: 8-bit rows hold their elements in natural order (one
// element per byte), so 16 bytes widen to 16 floats and meet 16 activations.
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

#include "quantize_pack.h"
#include "topk_score.h"

namespace chord {
namespace topk {

float dot8_avx2(const uint8_t* row, int64_t K, const float* xa, float c) {
  const int64_t Kp = qpack::padded_k(K, 8);
  const __m256 vc = _mm256_set1_ps(c);
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  for (int64_t k = 0; k < Kp; k += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k));
    const __m256 u0 = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b)), vc);
    const __m256 u1 = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(b, 8))), vc);
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xa + k), u0, a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(xa + k + 8), u1, a1);
  }
  const __m256 a = _mm256_add_ps(a0, a1);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace topk
}  // namespace chord
