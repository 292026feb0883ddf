// overlap experiment: alternating 2-bit (compute-bound) and 8-bit (memory-bound) tasks at M = 1,
// rotated over a large buffer; mode 0: as today (no sw prefetch); mode 1: each 2-bit tile prefetches
// a slice of the next 8-bit task
#include SRCFILE
#include <sys/mman.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
using namespace chord::mpl;
int main(int argc, char** argv) {
  const int64_t K = 4096, rb2 = 1024, rb8 = 4096, n2 = 240, n8 = 64;
  const int64_t b2 = rb2 * n2, b8 = rb8 * n8, pair = b2 + b8;
  std::vector<int> modes;  // 0: no prefetch; L > 0: L lines per 2-bit tile call
  for (int i = 1; i < argc; ++i) modes.push_back(atoi(argv[i]));
  int64_t npairs = (256ll << 20) / pair;
  uint8_t* w = (uint8_t*)aligned_alloc(2 << 20, (npairs * pair + (2 << 20)) / (2 << 20) * (2 << 20));
  madvise(w, (npairs * pair + (2 << 20)) / (2 << 20) * (2 << 20), MADV_HUGEPAGE);
  for (int64_t i = 0; i < npairs * pair; ++i) w[i] = i * 2654435761u >> 13;
  int8_t* x2 = (int8_t*)aligned_alloc(64, K);
  int8_t* x8 = (int8_t*)aligned_alloc(64, K);
  for (int i = 0; i < K; ++i) x2[i] = x8[i] = (i * 37 % 255) - 127;
  int64_t qsum = 0;
  for (int i = 0; i < K; ++i) qsum += x8[i];
  std::vector<int64_t> out(256);
  std::vector<double> bests(modes.size(), 1e30), t2s(modes.size()), t8s(modes.size());
  for (int rep = 0; rep < 10; ++rep)
    for (size_t mi = 0; mi < modes.size(); ++mi) {
      int lpt = modes[mi], mode = lpt > 0;
      double& best = bests[mi];
      double a2 = 0, a8 = 0;
      auto t0 = std::chrono::steady_clock::now();
      for (int64_t p = 0; p < npairs; ++p) {
        auto ta = std::chrono::steady_clock::now();
        const uint8_t* w2 = w + p * pair;
        const uint8_t* w8 = w2 + b2;
        const int64_t Q = n2 / 4;
        for (int64_t q = 0; q < Q; ++q) {
          const uint8_t* pf = w8 + q * (b8 / Q);
          tile_i8<2, 4, 1>(w2 + q * rb2, rb2, x2, K, &qsum, out.data() + q, 1, pf, mode ? lpt : 0, Q * rb2, Q);
        }
        auto tb = std::chrono::steady_clock::now();
        dot_i8_avx2(w8, rb8, 8, n8, x8, K, 1, &qsum, out.data(), n8, w + npairs * pair);
        auto tc = std::chrono::steady_clock::now();
        a2 += std::chrono::duration<double>(tb - ta).count();
        a8 += std::chrono::duration<double>(tc - tb).count();
      }
      auto t1 = std::chrono::steady_clock::now();
      double dt = std::chrono::duration<double>(t1 - t0).count();
      if (dt < best) {
        best = dt;
        t2s[mi] = a2;
        t8s[mi] = a8;
      }
    }
  for (size_t mi = 0; mi < modes.size(); ++mi)
    printf("lpt=%d: %.3f ms per 6.29 MB, %.1f GB/s\n", modes[mi], bests[mi] / (npairs * pair) * 6.29e6 * 1e3,
           npairs * pair / bests[mi] / 1e9),
        printf("   2-bit part %.1f GB/s, 8-bit part %.1f GB/s\n", npairs * b2 / t2s[mi] / 1e9,
               npairs * b8 / t8s[mi] / 1e9);
}
