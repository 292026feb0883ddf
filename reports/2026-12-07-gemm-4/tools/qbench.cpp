// quantize_row_i8_avx2 vs an AVX-512 version whose quotient is x * (1/s) in double (exactly
// RN_f(x / s) after rounding to float; see the proof in the kernel's comment)
#include <immintrin.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>
#include "mp_linear/mp_linear_kernels.h"
using namespace chord::mpl;
static double wall() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"))) float quant512(const float* x, int64_t K, int8_t* xq,
                                                                             int64_t* qsum) {
  const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  __m512 vmax = _mm512_setzero_ps();
  __mmask16 nan = 0;
  int64_t k = 0;
  for (; k < K; k += 16) {
    const __mmask16 km = K - k >= 16 ? __mmask16(0xffff) : __mmask16((1u << (K - k)) - 1u);
    const __m512 a = _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(_mm512_maskz_loadu_ps(km, x + k)), _mm512_castps_si512(absmask)));
    vmax = _mm512_max_ps(vmax, a);
    nan |= _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
  }
  float amax = _mm512_reduce_max_ps(vmax);
  if (nan) amax = __builtin_nanf("");
  const float sx = amax / 127.0f;
  const float safe = sx > 0.f ? sx : 1.0f;
  const __m512d r = _mm512_set1_pd(1.0 / double(safe));
  const __m512 lo = _mm512_set1_ps(-127.f), hi = _mm512_set1_ps(127.f);
  __m512i vsum = _mm512_setzero_si512();
  for (k = 0; k < K; k += 16) {
    const __mmask16 km = K - k >= 16 ? __mmask16(0xffff) : __mmask16((1u << (K - k)) - 1u);
    const __m512 v = _mm512_maskz_loadu_ps(km, x + k);
    // (variant: __m512 q = _mm512_div_ps(v, vs); 192.5 against 197.8 us: the division bound either way)
    const __m256 q0 = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), r));
    const __m256 q1 = _mm512_cvtpd_ps(
        _mm512_mul_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))), r));
    __m512 q =
        _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(q0)), _mm256_castps_pd(q1), 1));
    q = _mm512_roundscale_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    q = _mm512_min_ps(_mm512_max_ps(q, lo), hi);
    const __m512i qi = _mm512_maskz_cvttps_epi32(km, q);
    vsum = _mm512_add_epi32(vsum, qi);
    _mm_mask_storeu_epi8(xq + k, km, _mm512_cvtsepi32_epi8(qi));
  }
  if (qsum) *qsum = _mm512_reduce_add_epi32(vsum);
  return sx;
}

int main() {
  const int64_t K = 4096, M = 256;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  std::vector<float> x(M * K);
  for (auto& v : x) v = nd(rng);
  std::vector<int8_t> a(M * K), b(M * K);
  std::vector<int64_t> sa(M), sb(M);
  for (int rep = 0; rep < 3; ++rep) {
    double t0 = 1e9, t1 = 1e9;
    for (int r = 0; r < 30; ++r) {
      double t = wall();
      for (int64_t m = 0; m < M; ++m) quantize_row_i8_avx2(x.data() + m * K, K, a.data() + m * K, &sa[m]);
      t0 = std::min(t0, wall() - t);
      t = wall();
      for (int64_t m = 0; m < M; ++m) quant512(x.data() + m * K, K, b.data() + m * K, &sb[m]);
      t1 = std::min(t1, wall() - t);
    }
    printf("avx2 %.1f us, avx512-recip %.1f us, equal %d\n", t0 * 1e6, t1 * 1e6, a == b && sa == sb);
  }
  // adversarial: quotients at and beside every half-integer, every scale exponent
  long bad = 0, n = 0;
  std::vector<float> row(K);
  std::vector<int8_t> qa(K), qb(K);
  for (int trial = 0; trial < 20000; ++trial) {
    const float amax = std::ldexp(1.0f + (rng() % (1 << 23)) * 0x1p-23f, int(rng() % 200) - 100);
    const float s = amax / 127.0f;
    row[0] = amax;
    for (int64_t k = 1; k < K; ++k) {
      const float h = (float(int(rng() % 254)) - 127.0f + 0.5f) * s;
      float v = h;
      const int nudge = int(rng() % 5) - 2;
      for (int i = 0; i < std::abs(nudge); ++i) v = std::nextafter(v, nudge > 0 ? 1e30f : -1e30f);
      row[k] = std::fabs(v) <= amax ? v : h;
    }
    int64_t s1, s2;
    const float x1 = quantize_row_i8_avx2(row.data(), K, qa.data(), &s1), x2 = quant512(row.data(), K, qb.data(), &s2);
    bad += !(qa == qb && s1 == s2 && std::memcmp(&x1, &x2, 4) == 0);
    ++n;
  }
  printf("adversarial rows: %ld of %ld differ\n", bad, n);
}
