// microbench: unpack_i8_vnni_quad of a 96-column window (mix3 widths, random), packed rows L2-resident
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
  const int64_t K = 4096, L = 4096, ldp = 4096, nw = 96;
  const int uniform = argc > 1 ? atoi(argv[1]) : 0;
  std::mt19937 rng(1);
  std::vector<int> bits(nw);
  std::vector<int64_t> rb(nw);
  std::vector<std::vector<uint8_t>> rows(nw);
  std::vector<const uint8_t*> rp(nw);
  for (int j = 0; j < nw; ++j) {
    const int r = rng() % 8;
    bits[j] = uniform ? uniform : (r < 6 ? 2 : r == 6 ? 4 : 8);
    rb[j] = K * bits[j] / 8;
    rows[j].resize(rb[j]);
    for (auto& v : rows[j]) v = uint8_t(rng());
    rp[j] = rows[j].data();
  }
  AlignedBuf<uint8_t> p;
  p.resize(nw * ldp);
  double best = 1e9;
  for (int r = 0; r < 200; ++r) {
    double t = wall();
    for (int64_t j = 0; j < nw; j += 4)
      unpack_i8_vnni_quad(rp.data() + j, rb.data() + j, bits.data() + j, 4, L, p.p + j * ldp);
    best = std::min(best, wall() - t);
  }
  printf("uniform=%d: %.2f us per 96-column window (%.1f B/ns out)\n", uniform, best * 1e6, nw * L / best / 1e9);
}
