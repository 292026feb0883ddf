// AVX2 row scorer of chord::mp_topk: 8-bit rows hold their elements in natural order (one
// element per byte), so 16 bytes widen to 16 floats and meet 16 activations.
#pragma GCC target("avx2,fma,f16c")
#include "common/x86_intrin.h"

#include "common/format.h"
#include "topk/topk_score.h"

namespace chord {
namespace topk {

float dot8_avx2(const uint8_t* row, int64_t K, const float* xa, float c) {
  const int64_t Kp = fmt::padded_k(K, 8);
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

// 1/2/4-bit rows (planar 16-byte blocks: plane i of byte j is element j + 16 i of the block):
// one shift + mask per plane yields 16 consecutive elements, widened to floats against 16
// consecutive activations. Used per candidate, where a lookup table would not pay for itself.
float dotq_avx2(const uint8_t* row, int bits, int64_t K, const float* xa, float c) {
  const int epb = 8 / bits;
  const int64_t be = fmt::block_elems(bits), nblk = fmt::padded_k(K, bits) / be;
  const __m128i mask = _mm_set1_epi8(static_cast<char>((1 << bits) - 1));
  const __m256 vc = _mm256_set1_ps(c);
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  for (int64_t b = 0; b < nblk; ++b, row += 16, xa += be) {
    const __m128i blk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row));
    for (int i = 0; i < epb; ++i) {
      // a 16-bit lane shift is exact here: the mask drops the bits shifted in from the high byte
      const __m128i v = _mm_and_si128(_mm_srli_epi16(blk, i * bits), mask);
      const __m256 u0 = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)), vc);
      const __m256 u1 = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8))), vc);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xa + 16 * i), u0, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(xa + 16 * i + 8), u1, a1);
    }
  }
  const __m256 a = _mm256_add_ps(a0, a1);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace topk
}  // namespace chord
