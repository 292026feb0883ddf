#include <immintrin.h>
#include <sys/mman.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
template <int S, int PF>
__attribute__((target("avx512f"))) uint64_t readS(const uint8_t* p, size_t n) {
  __m512i a[S];
  for (int s = 0; s < S; ++s) a[s] = _mm512_setzero_si512();
  const size_t q = n / S;
  for (size_t i = 0; i < q; i += 64) {
    for (int s = 0; s < S; ++s) {
      if (PF) _mm_prefetch((const char*)p + s * q + i + PF, _MM_HINT_T0);
      a[s] = _mm512_add_epi64(a[s], _mm512_load_si512(p + s * q + i));
    }
  }
  __m512i t = a[0];
  for (int s = 1; s < S; ++s) t = _mm512_add_epi64(t, a[s]);
  return _mm512_reduce_add_epi64(t);
}
using Fn = uint64_t (*)(const uint8_t*, size_t);
volatile uint64_t sink;
double run(Fn f, const uint8_t* buf, size_t n, size_t chunk, int reps) {
  size_t nch = n / chunk;
  std::vector<double> best(nch, 1e9);
  for (int r = 0; r < reps; ++r)
    for (size_t c = 0; c < nch; ++c) {
      double t0 = now();
      sink += f(buf + c * chunk, chunk);
      best[c] = std::min(best[c], now() - t0);
    }
  double s = 0;
  for (double x : best) s += x;
  return n / s / 1e9;
}
int main() {
  size_t n = 256ull << 20;
  uint8_t* buf = (uint8_t*)aligned_alloc(2 << 20, n);
  madvise(buf, n, MADV_HUGEPAGE);
  memset(buf, 1, n);
  for (size_t chunk : {size_t(4) << 20, size_t(8) << 20}) {
    for (int rep = 0; rep < 2; ++rep) {
      printf("chunk %zuMB: S1 %.1f S2 %.1f S4 %.1f S8 %.1f | pf1k: S1 %.1f S4 %.1f S8 %.1f | pf4k: S1 %.1f S4 %.1f\n",
             chunk >> 20, run(readS<1, 0>, buf, n, chunk, 10), run(readS<2, 0>, buf, n, chunk, 10),
             run(readS<4, 0>, buf, n, chunk, 10), run(readS<8, 0>, buf, n, chunk, 10),
             run(readS<1, 1024>, buf, n, chunk, 10), run(readS<4, 1024>, buf, n, chunk, 10),
             run(readS<8, 1024>, buf, n, chunk, 10), run(readS<1, 4096>, buf, n, chunk, 10),
             run(readS<4, 4096>, buf, n, chunk, 10));
    }
  }
}
