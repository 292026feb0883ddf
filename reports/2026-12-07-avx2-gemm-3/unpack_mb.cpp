// Standalone cost of the AVX2 2-bit unpack (the packed-row GEMM's unpack_row<2>) per 1 KiB row.
#include <immintrin.h>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
// plane order (no permute): for activations laid out to match
template <int BITS>
__attribute__((noinline)) void unpack_planes(const uint8_t* row, int64_t rb, uint8_t* dst) {
  constexpr int epb = 8 / BITS;
  const __m256i mask = _mm256_set1_epi8(char((1 << BITS) - 1));
  for (int64_t o = 0; o < rb; o += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + o));
    for (int i = 0; i < epb; ++i)
      _mm256_store_si256(reinterpret_cast<__m256i*>(dst + o * epb + 32 * i),
                         _mm256_and_si256(i ? _mm256_srli_epi16(v, BITS * i) : v, mask));
  }
}
int main() {
  const int64_t rb = 1024, ncol = 3072;
  uint8_t* w = static_cast<uint8_t*>(aligned_alloc(64, rb * ncol));
  for (int64_t i = 0; i < rb * ncol; ++i) w[i] = uint8_t(rand());
  alignas(64) static uint8_t buf[3][4096 + 192];
  for (int v = 0; v < 2; ++v) {
    double best = 1e9;
    for (int rep = 0; rep < 50; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      for (int64_t j = 0; j < ncol; ++j) {
        if (v == 0)
          unpack_row<2>(w + j * rb, rb, buf[j % 3]);
        else
          unpack_planes<2>(w + j * rb, rb, buf[j % 3]);
      }
      double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      if (us < best) best = us;
    }
    printf("%s: %.4f us per 2-bit column (3072 columns, 3 MiB packed, L2/L3)\n",
           v ? "planes, no permute" : "unpack_row<2>", best / ncol);
  }
}
