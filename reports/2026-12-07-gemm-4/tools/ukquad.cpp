// microbench: gemm_i8_vnni_quad efficiency (L2-resident window of nc columns, nm x rows)
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
  const int64_t L = 4096, Kp = 4096, ldp = 4096, nc = argc > 1 ? atoi(argv[1]) : 96, MX = argc > 2 ? atoi(argv[2]) : 24;
  std::mt19937 rng(1);
  AlignedBuf<int8_t> xb;
  xb.resize(MX * Kp);
  for (int64_t i = 0; i < MX * Kp; ++i) xb.p[i] = int8_t(rng() % 255 - 127);
  AlignedBuf<uint8_t> p;
  p.resize((nc + 3) / 4 * 4 * ldp);
  for (size_t i = 0; i < p.n; ++i) p.p[i] = uint8_t(rng());
  std::vector<int32_t> c(24 * nc);
  for (int nm : {6, 12, 24}) {
    double best = 1e9;
    for (int r = 0; r < 40; ++r) {
      double t = wall();
      for (int64_t m0 = 0; m0 + nm <= MX; m0 += nm)
        for (int64_t j = 0; j < nc; j += 16)
          gemm_i8_vnni_quad(xb.p + m0 * Kp, Kp, nm, p.p + j * ldp, ldp, std::min<int64_t>(16, nc - j), L, c.data() + j,
                            nc);
      best = std::min(best, wall() - t);
    }
    const double macs = double(MX / nm * nm) * nc * L;
    printf("nc=%ld MX=%ld nm=%d: %.1f%% of 236.4 GMAC/s\n", nc, MX, nm, 100 * macs / best / 236.4e9);
  }
}
