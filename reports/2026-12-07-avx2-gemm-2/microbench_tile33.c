// Report 2026-12-07-avx2-gemm-2, section 2: gcc -O2 -mavx2 microbench_tile33.c -o mb && ./mb 4096 15   (row bytes,
// activation rows)
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now() {
  struct timespec a;
  clock_gettime(CLOCK_MONOTONIC, &a);
  return a.tv_sec + a.tv_nsec * 1e-9;
}
// 3x3 tile like ukr16 on buffers: x rows [3][L], p cols [3][L]
__attribute__((noinline)) void k33(const signed char* x, long ldx, const unsigned char* p, long ldp, long L,
                                   __m256i* out) {
  __m256i z = _mm256_setzero_si256();
  __m256i s00 = z, s01 = z, s02 = z, s10 = z, s11 = z, s12 = z, s20 = z, s21 = z, s22 = z;
  for (long l = 0; l < L; l += 32) {
    __m256i b0 = _mm256_load_si256((const __m256i*)(p + l)), b1 = _mm256_load_si256((const __m256i*)(p + ldp + l)),
            b2 = _mm256_load_si256((const __m256i*)(p + 2 * ldp + l));
    __m256i a = _mm256_load_si256((const __m256i*)(x + l));
    s00 = _mm256_add_epi16(s00, _mm256_maddubs_epi16(b0, a));
    s01 = _mm256_add_epi16(s01, _mm256_maddubs_epi16(b1, a));
    s02 = _mm256_add_epi16(s02, _mm256_maddubs_epi16(b2, a));
    a = _mm256_load_si256((const __m256i*)(x + ldx + l));
    s10 = _mm256_add_epi16(s10, _mm256_maddubs_epi16(b0, a));
    s11 = _mm256_add_epi16(s11, _mm256_maddubs_epi16(b1, a));
    s12 = _mm256_add_epi16(s12, _mm256_maddubs_epi16(b2, a));
    a = _mm256_load_si256((const __m256i*)(x + 2 * ldx + l));
    s20 = _mm256_add_epi16(s20, _mm256_maddubs_epi16(b0, a));
    s21 = _mm256_add_epi16(s21, _mm256_maddubs_epi16(b1, a));
    s22 = _mm256_add_epi16(s22, _mm256_maddubs_epi16(b2, a));
  }
  out[0] = s00;
  out[1] = s01;
  out[2] = s02;
  out[3] = s10;
  out[4] = s11;
  out[5] = s12;
  out[6] = s20;
  out[7] = s21;
  out[8] = s22;
}
int main(int argc, char** argv) {
  long L = atol(argv[1]);
  long nx = atol(argv[2]);  // L bytes per row; nx rows of x total (tiles cycle through)
  signed char* x = aligned_alloc(64, nx * L);
  unsigned char* p = aligned_alloc(64, 3 * L);
  for (long i = 0; i < nx * L; i++) x[i] = i * 7;
  for (long i = 0; i < 3 * L; i++) p[i] = i & 3;
  __m256i out[9];
  double best = 1e9;
  long reps = 200000000 / (L * nx / 3 * 9 / 32) + 1;
  for (int r = 0; r < 5; r++) {
    double t = now();
    for (long i = 0; i < reps; i++)
      for (long m = 0; m + 3 <= nx; m += 3) {
        const signed char* xx = x + m * L;
        __asm__ volatile("" : "+r"(xx)::"memory");
        k33(xx, L, p, L, L, out);
      }
    t = now() - t;
    if (t < best) best = t;
  }
  printf("L=%ld rows=%ld maddubs/ns %.2f\n", L, nx, (double)reps * (nx / 3) * 9 * (L / 32) / best / 1e9);
}
