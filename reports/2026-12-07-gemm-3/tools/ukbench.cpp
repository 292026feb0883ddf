// microbench: gemm_i8_vnni_packed efficiency per nm and bits (cache-resident window)
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
  const int64_t K = 4096, L = 4096, Kp = 4096, nc = argc > 1 ? atoi(argv[1]) : 96;
  std::mt19937 rng(1);
  AlignedBuf<int8_t> xb;
  xb.resize(24 * Kp);
  int8_t* xp = xb.p;
  for (int64_t i = 0; i < 24 * Kp; ++i) xp[i] = int8_t(rng() % 255 - 127);
  std::vector<int32_t> c(24 * nc);
  for (int bits : {2, 8}) {
    const int64_t rb = K * bits / 8;
    std::vector<uint8_t> w(nc * rb + 64);
    for (auto& v : w) v = uint8_t(rng());
    for (int nm : {2, 3, 4, 5, 7, 8, 9, 10, 11, 13, 14, 16, 20}) {
      double best = 1e9;
      for (int r = 0; r < 30; ++r) {
        double t = wall();
        gemm_i8_vnni_packed(xp, Kp, nm, w.data(), rb, bits, nc, L, c.data(), nc, nullptr, 0);
        best = std::min(best, wall() - t);
      }
      const double cyc = double(nm) * nc * L / 64;
      printf("bits %d nm %2d: %.1f us, %.1f%% of 1 vpdpbusd/cycle at 3.69 GHz\n", bits, nm, best * 1e6,
             cyc / (best * 3.69e9) * 100);
    }
  }
}
