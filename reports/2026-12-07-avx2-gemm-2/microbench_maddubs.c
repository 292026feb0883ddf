// Report 2026-12-07-avx2-gemm-2, section 2: gcc -O2 -mavx2 microbench_maddubs.c -o mb && ./mb
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
static double now() {
  struct timespec a;
  clock_gettime(CLOCK_MONOTONIC, &a);
  return a.tv_sec + a.tv_nsec * 1e-9;
}
int main() {
  __m256i a0 = _mm256_set1_epi8(1), b = _mm256_set1_epi8(3);
  __m256i s0 = a0, s1 = a0, s2 = a0, s3 = a0, s4 = a0, s5 = a0, s6 = a0, s7 = a0, s8 = a0;
  long n = 200000000;
  double best = 1e9;
  for (int r = 0; r < 5; r++) {
    double t = now();
    for (long i = 0; i < n; i++) {
#define D(s) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(b, s));
      D(s0) D(s1) D(s2) D(s3) D(s4) D(s5) D(s6) D(s7) D(s8) __asm__ volatile("" : "+x"(b));
    }
    t = now() - t;
    if (t < best) best = t;
  }
  __m256i z =
      _mm256_add_epi16(_mm256_add_epi16(_mm256_add_epi16(s0, s1), _mm256_add_epi16(s2, s3)),
                       _mm256_add_epi16(_mm256_add_epi16(s4, s5), _mm256_add_epi16(s6, _mm256_add_epi16(s7, s8))));
  printf("maddubs+add per ns: %.2f  (%d)\n", 9.0 * n / best / 1e9, _mm256_extract_epi16(z, 0));
  // maddubs only throughput
  best = 1e9;
  for (int r = 0; r < 5; r++) {
    double t = now();
    for (long i = 0; i < n; i++) {
#define E(s) s = _mm256_maddubs_epi16(b, s);
      E(s0) E(s1) E(s2) E(s3) E(s4) E(s5) E(s6) E(s7) E(s8) __asm__ volatile("" : "+x"(b));
    }
    t = now() - t;
    if (t < best) best = t;
  }
  z = _mm256_add_epi16(_mm256_add_epi16(_mm256_add_epi16(s0, s1), _mm256_add_epi16(s2, s3)),
                       _mm256_add_epi16(_mm256_add_epi16(s4, s5), _mm256_add_epi16(s6, _mm256_add_epi16(s7, s8))));
  printf("maddubs only per ns: %.2f (%d)\n", 9.0 * n / best / 1e9, _mm256_extract_epi16(z, 0));
}
