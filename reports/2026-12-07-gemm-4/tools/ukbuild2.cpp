// unpack_i8_vnni_quad of 96-column windows cycling through a 6.3 MB mix3 weight (rows L3-resident), optional prefetch
#include <xmmintrin.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
#include "mp_linear/mp_linear_kernels.h"
using namespace chord::mpl;
static double wall() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
int main(int argc, char** argv) {
  const int64_t K = 4096, L = 4096, ldp = 4096, nw = 96, N = 4096, nwin = N / nw;
  const int pf = argc > 1 ? atoi(argv[1]) : 0;
  std::mt19937 rng(1);
  std::vector<int> bits(N);
  std::vector<int64_t> rb(N);
  std::vector<std::vector<uint8_t>> rows(N);
  std::vector<const uint8_t*> rp(N);
  for (int j = 0; j < N; ++j) {
    const int r = rng() % 8;
    bits[j] = r < 6 ? 2 : r == 6 ? 4 : 8;
    rb[j] = K * bits[j] / 8;
    rows[j].resize(rb[j]);
    for (auto& v : rows[j]) v = uint8_t(rng());
    rp[j] = rows[j].data();
  }
  AlignedBuf<uint8_t> p;
  p.resize(nw * ldp);
  std::vector<uint8_t> junk(2 << 20);  // evict between windows like the xq stream does
  double tot = 0;
  int n = 0;
  double best = 1e9;
  for (int r = 0; r < 5; ++r) {
    double sum = 0;
    for (int64_t w = 0; w < nwin; ++w) {
      const int64_t r0 = w * nw;
      if (pf)
        for (int64_t j = r0; j < r0 + nw; ++j)
          for (int64_t b = 0; b < rb[j]; b += 64) _mm_prefetch((const char*)rp[j] + b, _MM_HINT_T1);
      if (pf) {
        volatile int s = 0;
        for (size_t i = 0; i < junk.size(); i += 64) s += junk[i];
      }  // time for the prefetches
      double t = wall();
      for (int64_t j = 0; j < nw; j += 4)
        unpack_i8_vnni_quad(rp.data() + r0 + j, rb.data() + r0 + j, bits.data() + r0 + j, 4, L, p.p + j * ldp);
      sum += wall() - t;
      if (!pf) {
        volatile int s = 0;
        for (size_t i = 0; i < junk.size(); i += 64) s += junk[i];
      }
    }
    best = std::min(best, sum);
  }
  printf("pf=%d: %.2f us per window (%.0f us per %ld windows)\n", pf, best / nwin * 1e6, best * 1e6, nwin);
}
