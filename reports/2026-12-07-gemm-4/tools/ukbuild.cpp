// microbench: unpack_i8_vnni_quad (the column-quad window build) of 96-column windows.
//   ukbuild hot [BITS]   one window, packed rows L1/L2-resident (BITS: all rows that wide; default
//                        mix3 widths at random), min over 200 builds
//   ukbuild cold [pf]    windows cycling through a 4096-row mix3 weight (6.3 MB: rows in L3), L2
//                        polluted by a 2 MB read between windows (as the activation stream does);
//                        pf = 1: the window's rows prefetched (T1) before the pollution
#include <xmmintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "mp_linear/mp_linear_kernels.h"
using namespace chord::mpl;
static double wall() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
int main(int argc, char** argv) {
  const bool cold = argc > 1 && std::string(argv[1]) == "cold";
  const int arg = argc > 2 ? atoi(argv[2]) : 0;
  const int64_t K = 4096, L = 4096, ldp = 4096, nw = 96, N = cold ? 4096 : nw, nwin = N / nw;
  std::mt19937 rng(1);
  std::vector<int> bits(N);
  std::vector<int64_t> rb(N);
  std::vector<std::vector<uint8_t>> rows(N);
  std::vector<const uint8_t*> rp(N);
  for (int j = 0; j < N; ++j) {
    const int r = rng() % 8;
    bits[j] = !cold && arg ? arg : (r < 6 ? 2 : r == 6 ? 4 : 8);
    rb[j] = K * bits[j] / 8;
    rows[j].resize(rb[j]);
    for (auto& v : rows[j]) v = uint8_t(rng());
    rp[j] = rows[j].data();
  }
  AlignedBuf<uint8_t> p;
  p.resize(nw * ldp);
  std::vector<uint8_t> junk(2 << 20);
  auto pollute = [&] {
    volatile int s = 0;
    for (size_t i = 0; i < junk.size(); i += 64) s += junk[i];
  };
  double best = 1e9;
  for (int r = 0; r < (cold ? 5 : 200); ++r) {
    double sum = 0;
    for (int64_t w = 0; w < nwin; ++w) {
      const int64_t r0 = w * nw;
      if (cold && arg)
        for (int64_t j = r0; j < r0 + nw; ++j)
          for (int64_t b = 0; b < rb[j]; b += 64) _mm_prefetch((const char*)rp[j] + b, _MM_HINT_T1);
      if (cold) pollute();
      const double t = wall();
      for (int64_t j = 0; j < nw; j += 4)
        unpack_i8_vnni_quad(rp.data() + r0 + j, rb.data() + r0 + j, bits.data() + r0 + j, 4, L, p.p + j * ldp);
      sum += wall() - t;
    }
    best = std::min(best, sum);
  }
  printf("%s %d: %.2f us per 96-column window\n", cold ? "cold pf" : "hot bits", arg, best / nwin * 1e6);
}
