// Microbench: does streaming ALU-bound 2-bit rows and memory-bound 8-bit rows in ONE loop beat
// running them one after the other (M = 1, K = 4096, AVX2)? The loop bodies are the landed
// tile_i8_m1<2, 4> (one shift, 4 AND, 4 maddubs, int16 sums over 4 groups) and tile_i8<8, 4, 1>
// (xor, abs, sign, maddubs, madd, add). Weights rotate through >= 256 MiB. g++ -O3 -mavx2 -mfma.
#include <immintrin.h>
#include <sys/mman.h>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

static constexpr int64_t K = 4096, RB2 = K / 4, RB8 = K, G2 = RB2 / 32, G8 = RB8 / 32;
alignas(32) static int8_t x2[K], x8[K];
static volatile int64_t sink;

static inline int64_t hsum(__m256i v) {
  alignas(32) int32_t t[8];
  _mm256_store_si256((__m256i*)t, v);
  int64_t s = 0;
  for (int i = 0; i < 8; ++i) s += t[i];
  return s;
}

struct S2 {  // 4 rows of 2-bit, one chunk state
  __m256i acc[4];
};

// one group of 4 two-bit rows (rows at w + r * rs), into int16 lo/hi
#define BODY2(wp, g, lo, hi)                                                                                  \
  {                                                                                                           \
    const __m256i* xp = (const __m256i*)(x2 + (g) * 128);                                                     \
    const __m256i xa = _mm256_load_si256(xp), xb = _mm256_load_si256(xp + 1), xc = _mm256_load_si256(xp + 2), \
                  xd = _mm256_load_si256(xp + 3);                                                             \
    for (int r = 0; r < 4; ++r) {                                                                             \
      __m256i v = _mm256_loadu_si256((const __m256i*)((wp) + r * rs2 + (g) * 32));                            \
      asm("" : "+x"(v));                                                                                      \
      const __m256i t = _mm256_srli_epi16(v, 4);                                                              \
      lo[r] = _mm256_add_epi16(lo[r], _mm256_maddubs_epi16(_mm256_and_si256(v, m3), xa));                     \
      hi[r] = _mm256_add_epi16(hi[r], _mm256_maddubs_epi16(_mm256_and_si256(v, m12), xb));                    \
      lo[r] = _mm256_add_epi16(lo[r], _mm256_maddubs_epi16(_mm256_and_si256(t, m3), xc));                     \
      hi[r] = _mm256_add_epi16(hi[r], _mm256_maddubs_epi16(_mm256_and_si256(t, m12), xd));                    \
      asm("" : "+x"(lo[r]), "+x"(hi[r]));                                                                     \
    }                                                                                                         \
  }

// 2-bit: nt tiles of 4 rows (tile q: rows q, q+Q, ...): sequential
static int64_t run2(const uint8_t* w, int64_t nrows) {
  const __m256i m3 = _mm256_set1_epi8(3), m12 = _mm256_set1_epi8(12);
  const int64_t Q = nrows / 4, rs2 = Q * RB2;
  int64_t tot = 0;
  for (int64_t q = 0; q < Q; ++q) {
    const uint8_t* wp = w + q * RB2;
    alignas(32) int32_t acc[4][8] = {};
    for (int64_t g = 0; g < G2; g += 4) {
      __m256i lo[4], hi[4];
      for (int r = 0; r < 4; ++r) lo[r] = hi[r] = _mm256_setzero_si256();
      for (int j = 0; j < 4; ++j) BODY2(wp, g + j, lo, hi);
      for (int r = 0; r < 4; ++r) {
        __m256i s = _mm256_add_epi32(_mm256_madd_epi16(lo[r], _mm256_set1_epi16(4)),
                                     _mm256_madd_epi16(hi[r], _mm256_set1_epi16(1)));
        _mm256_store_si256((__m256i*)acc[r], _mm256_add_epi32(_mm256_load_si256((__m256i*)acc[r]), s));
      }
    }
    for (int r = 0; r < 4; ++r) tot += hsum(_mm256_load_si256((__m256i*)acc[r]));
  }
  return tot;
}

static int64_t run8(const uint8_t* w, int64_t nrows) {
  const int64_t Q = nrows / 4, rs8 = Q * RB8;
  const __m256i ones = _mm256_set1_epi16(1), b80 = _mm256_set1_epi8(char(0x80));
  int64_t tot = 0;
  for (int64_t q = 0; q < Q; ++q) {
    const uint8_t* wp = w + q * RB8;
    __m256i acc[4];
    for (int r = 0; r < 4; ++r) acc[r] = _mm256_setzero_si256();
    for (int64_t g = 0; g < G8; ++g) {
      const __m256i xv = _mm256_load_si256((const __m256i*)(x8 + g * 32));
      for (int r = 0; r < 4; ++r) {
        const __m256i q8 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(wp + r * rs8 + g * 32)), b80);
        acc[r] = _mm256_add_epi32(
            acc[r], _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(q8), _mm256_sign_epi8(xv, q8)), ones));
      }
    }
    for (int r = 0; r < 4; ++r) tot += hsum(acc[r]);
  }
  return tot;
}

// fused: every chunk of 4 two-bit groups (512 B) goes with 16 eight-bit groups... ratio chosen by
// E8: eight-bit groups per two-bit group (4 = equal bytes)
template <int E8>
static int64_t runf(const uint8_t* w2, int64_t n2, const uint8_t* w8, int64_t n8) {
  const __m256i m3 = _mm256_set1_epi8(3), m12 = _mm256_set1_epi8(12);
  const __m256i ones = _mm256_set1_epi16(1), b80 = _mm256_set1_epi8(char(0x80));
  const int64_t Q2 = n2 / 4, rs2 = Q2 * RB2, Q8 = n8 / 4, rs8 = Q8 * RB8;
  int64_t tot = 0, q8 = 0, g8 = 0;
  __m256i a8[4];
  for (int r = 0; r < 4; ++r) a8[r] = _mm256_setzero_si256();
  auto step8 = [&]() __attribute__((always_inline)) {
    if (q8 >= Q8) return;
    const uint8_t* wp = w8 + q8 * RB8;
    const __m256i xv = _mm256_load_si256((const __m256i*)(x8 + g8 * 32));
    for (int r = 0; r < 4; ++r) {
      const __m256i q = _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(wp + r * rs8 + g8 * 32)), b80);
      a8[r] = _mm256_add_epi32(
          a8[r], _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(q), _mm256_sign_epi8(xv, q)), ones));
    }
    if (++g8 == G8) {
      for (int r = 0; r < 4; ++r) tot += hsum(a8[r]), a8[r] = _mm256_setzero_si256();
      g8 = 0;
      ++q8;
    }
  };
  for (int64_t q = 0; q < Q2; ++q) {
    const uint8_t* wp = w2 + q * RB2;
    alignas(32) int32_t acc[4][8] = {};
    for (int64_t g = 0; g < G2; g += 4) {
      __m256i lo[4], hi[4];
      for (int r = 0; r < 4; ++r) lo[r] = hi[r] = _mm256_setzero_si256();
      for (int j = 0; j < 4; ++j) {
        BODY2(wp, g + j, lo, hi);
        for (int e = 0; e < E8; ++e) step8();
      }
      for (int r = 0; r < 4; ++r) {
        __m256i s = _mm256_add_epi32(_mm256_madd_epi16(lo[r], _mm256_set1_epi16(4)),
                                     _mm256_madd_epi16(hi[r], _mm256_set1_epi16(1)));
        _mm256_store_si256((__m256i*)acc[r], _mm256_add_epi32(_mm256_load_si256((__m256i*)acc[r]), s));
      }
    }
    for (int r = 0; r < 4; ++r) tot += hsum(_mm256_load_si256((__m256i*)acc[r]));
  }
  while (q8 < Q8) step8();
  return tot;
}

// the read probe's 4-stream variant over the same bytes (the 8-bit tiles' stream pattern)
static int64_t read4(const uint8_t* w, int64_t nrows, int64_t rb) {
  const int64_t Q = nrows / 4, rs = Q * rb, n = Q * rb;
  __m256i a[8];
  for (int s = 0; s < 8; ++s) a[s] = _mm256_setzero_si256();
  for (int64_t i = 0; i < n; i += 64)
    for (int s = 0; s < 4; ++s) {
      a[2 * s] = _mm256_add_epi64(a[2 * s], _mm256_loadu_si256((const __m256i*)(w + s * rs + i)));
      a[2 * s + 1] = _mm256_add_epi64(a[2 * s + 1], _mm256_loadu_si256((const __m256i*)(w + s * rs + i + 32)));
    }
  __m256i t = a[0];
  for (int s = 1; s < 8; ++s) t = _mm256_add_epi64(t, a[s]);
  return hsum(t);
}

int main(int argc, char** argv) {
  const int64_t n2 = 2048, n8 = 512;  // 2 MiB of each at K = 4096
  const int64_t set = n2 * RB2 + n8 * RB8, nsets = (256ll << 20) / set + 1;
  const int rounds = argc > 1 ? atoi(argv[1]) : 20;
  uint8_t* buf =
      (uint8_t*)mmap(nullptr, nsets * set + (2 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  madvise(buf, nsets * set + (2 << 20), MADV_HUGEPAGE);
  for (int64_t i = 0; i < nsets * set; ++i) buf[i] = uint8_t(i * 2654435761u >> 13);
  for (int i = 0; i < K; ++i) x2[i] = int8_t((i * 37) % 255 - 127), x8[i] = int8_t((i * 53) % 255 - 127);
  double best[7] = {1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9};
  const char* names[7] = {"2-bit alone", "8-bit alone",     "2 then 8", "fused E8=4",
                          "fused E8=2",  "read 8-bit part", "read both"};
  int64_t chk = 0;
  for (int rd = 0; rd < rounds; ++rd)
    for (int v = 0; v < 7; ++v)
      for (int64_t s = 0; s < nsets; ++s) {
        const uint8_t* w2 = buf + s * set;
        const uint8_t* w8 = w2 + n2 * RB2;
        auto t0 = std::chrono::steady_clock::now();
        int64_t r = 0;
        if (v == 0) r = run2(w2, n2);
        if (v == 1) r = run8(w8, n8);
        if (v == 2) r = run2(w2, n2) + run8(w8, n8);
        if (v == 3) r = runf<4>(w2, n2, w8, n8);
        if (v == 4) r = runf<2>(w2, n2, w8, n8);
        if (v == 5) r = read4(w8, n8, RB8);
        if (v == 6) r = read4(w2, n2 + 4 * n8, RB2);
        double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (v >= 2 && s == 0 && rd == 0) printf("check %s %lld\n", names[v], (long long)r);
        chk += r;
        if (dt < best[v]) best[v] = dt;
      }
  const double b2 = n2 * RB2, b8 = n8 * RB8;
  const double bytes[7] = {b2, b8, b2 + b8, b2 + b8, b2 + b8, b8, b2 + b8};
  for (int v = 0; v < 7; ++v) printf("%-12s %8.1f us %6.2f GB/s\n", names[v], best[v] * 1e6, bytes[v] / best[v] / 1e9);
  sink = chk;
}
