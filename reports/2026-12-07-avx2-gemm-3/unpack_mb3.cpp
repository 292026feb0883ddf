// The 2-bit unpack in situ: 3 columns unpacked into an L1 buffer, then 16 activation rows (4096
// apart, 64 KiB) read in 3-row tiles with the 3 columns (as gemm16's loads), timed apart (lfence+rdtsc).
#include <immintrin.h>
#include <x86intrin.h>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
template <int BITS>
__attribute__((noinline)) void unpack_row(const uint8_t* row, int64_t rb, uint8_t* dst) {
  constexpr int epb = 8 / BITS;
  constexpr int64_t be = 16 * epb;
  const int64_t nblk = rb / 16;
  const __m256i mask = _mm256_set1_epi8(char((1 << BITS) - 1));
  for (int64_t blk = 0; blk + 2 <= nblk; blk += 2) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + blk * 16));
    uint8_t* d0 = dst + blk * be;
    uint8_t* d1 = d0 + be;
    for (int i = 0; i < epb; i += 2) {
      const __m256i lo = _mm256_and_si256(i ? _mm256_srli_epi16(v, BITS * i) : v, mask);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, BITS * (i + 1)), mask);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d0 + 16 * i), _mm256_permute2x128_si256(lo, hi, 0x20));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d1 + 16 * i), _mm256_permute2x128_si256(lo, hi, 0x31));
    }
  }
}
__attribute__((noinline)) __m256i tile(const int8_t* x, const uint8_t* p, int64_t ldb, __m256i acc) {
  // 3 rows x 3 cols of maddubs over 4096 (as ukr16<3,3,32>, int16 sums only)
  __m256i s[9] = {};
  for (int64_t l = 0; l < 4096; l += 32) {
    __m256i b0 = _mm256_load_si256((const __m256i*)(p + l)), b1 = _mm256_load_si256((const __m256i*)(p + ldb + l)),
            b2 = _mm256_load_si256((const __m256i*)(p + 2 * ldb + l));
    for (int m = 0; m < 3; ++m) {
      __m256i a = _mm256_load_si256((const __m256i*)(x + m * 4096 + l));
      s[3 * m] = _mm256_add_epi16(s[3 * m], _mm256_maddubs_epi16(b0, a));
      s[3 * m + 1] = _mm256_add_epi16(s[3 * m + 1], _mm256_maddubs_epi16(b1, a));
      s[3 * m + 2] = _mm256_add_epi16(s[3 * m + 2], _mm256_maddubs_epi16(b2, a));
    }
  }
  for (int i = 0; i < 9; ++i) acc = _mm256_add_epi16(acc, s[i]);
  return acc;
}
int main(int argc, char** argv) {
  const int64_t rb = 1024, ncol = 3072, ldb = 4160;
  const int mode = argc > 1 ? atoi(argv[1]) : 0;
  uint8_t* w = static_cast<uint8_t*>(aligned_alloc(64, rb * ncol));
  for (int64_t i = 0; i < rb * ncol; ++i) w[i] = uint8_t(rand());
  int8_t* x = static_cast<int8_t*>(aligned_alloc(64, 16 * 4096));
  for (int i = 0; i < 16 * 4096; ++i) x[i] = int8_t(rand() % 200 - 100);
  uint8_t* buf = static_cast<uint8_t*>(aligned_alloc(64, 3 * ldb + 64));
  __m256i acc = _mm256_setzero_si256();
  double bu = 1e18, bt = 1e18;
  for (int rep = 0; rep < 150; ++rep) {
    uint64_t tu = 0, tt = 0;
    for (int64_t j = 0; j < ncol; j += 3) {
      _mm_lfence();
      uint64_t a = __rdtsc();
      _mm_lfence();
      for (int i = 0; i < 3; ++i) unpack_row<2>(mode == 2 ? w : w + (j + i) * rb, rb, buf + i * ldb);
      _mm_lfence();
      uint64_t b = __rdtsc();
      _mm_lfence();
      for (int m = 0; m < 15; m += 3) {
        if (mode == 1 && j + 3 < ncol)
          for (int q = 0; q < 10; ++q)
            _mm_prefetch((const char*)(w + (j + 3) * rb + (m / 3 * 10 + q) * 64), _MM_HINT_T0);
        if (mode == 3)
          for (int q = 0; q < 40; ++q)
            _mm_prefetch((const char*)(buf + (m / 3 * 40 + q) * 64 * 3 / 2 * 1), _MM_HINT_T0);
        acc = tile(x + m * 4096, buf, ldb, acc);
      }
      _mm_lfence();
      uint64_t c = __rdtsc();
      _mm_lfence();
      tu += b - a;
      tt += c - b;
    }
    if (tu < bu) bu = tu;
    if (tt < bt) bt = tt;
  }
  int sink = _mm256_extract_epi32(acc, 0);
  printf("mode %d (0 plain, 1 prefetch next packed rows, 2 packed row L1-resident, 3 touch buf):", mode);
  printf("ldb %ld: unpack %.4f us per column, tiles (15 rows) %.4f us per column (tsc 2.445 GHz) %d\n", ldb,
         bu / 2445.0 / ncol, bt / 2445.0 / ncol, sink & 1);
}
