// Min wall / thread-CPU time of chord::mpl::mp_linear, act_bits = 8, path = panel (the int8 GEMM),
// on a synthetic mix3 weight (3072 2-bit, 512 4-bit, 512 8-bit rows, random bytes, random row
// permutation), N = K = 4096: `gemm_i8_driver M THREADS REPS [avx2]`. Prints the measured
// vpdpbusd zmm peak first (8 independent accumulators: one vpdpbusd per cycle on Zen 4).
// Built by build_driver.sh against a tree's csrc/ (no Python): the C++ path alone, without the
// harness, so two trees can be timed back to back under `chrt -f 50 taskset -c 1` on a shared
// machine (reports/2026-12-07-gemm-2.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <vector>
#include "mp_linear/mp_linear.h"
using namespace chord::mpl;
static double cpu() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
static double wall() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
__attribute__((noinline, target("avx512f,avx512vnni"))) int64_t peak(int64_t iters) {
  for (int64_t it = 0; it < iters; ++it) {
    asm volatile(
        "vpdpbusd %%zmm30, %%zmm31, %%zmm0\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm1\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm2\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm3\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm4\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm5\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm6\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm7\n\t" ::
            : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7");
  }
  return 0;
}

int main(int argc, char** argv) {
  {
    double best = 1e9;
    for (int r = 0; r < 20; ++r) {
      double t = wall();
      peak(300000);
      best = std::min(best, wall() - t);
    }
    printf("peak %.1f GMAC/s\n", 300000.0 * 8 * 64 / best / 1e9);
  }
  const int64_t M = argc > 1 ? atoi(argv[1]) : 256, nt = argc > 2 ? atoi(argv[2]) : 1,
                reps = argc > 3 ? atoi(argv[3]) : 30;
  const char* isa_s = argc > 4 ? argv[4] : "auto";
  const int64_t N = 4096, K = 4096;
  int64_t buckets[6] = {2, 3072, 4, 512, 8, 512};
  const int64_t qbytes = 3072 * K / 4 + 512 * K / 2 + 512 * K;
  std::mt19937 rng(7);
  std::vector<uint8_t> q(qbytes);
  for (auto& b : q) b = uint8_t(rng());
  std::vector<float> sc(N), ze(N), x(M * K), y(M * N), bias(N);
  for (int64_t i = 0; i < N; ++i) {
    sc[i] = 0.01f + (rng() % 1000) * 1e-5f;
    ze[i] = float(rng() % 4);
    bias[i] = (rng() % 100) * 0.01f;
  }
  std::normal_distribution<float> nd;
  for (auto& v : x) v = nd(rng);
  std::vector<int32_t> perm(N);
  for (int64_t i = 0; i < N; ++i) perm[i] = int32_t(i);
  std::shuffle(perm.begin(), perm.end(), rng);
  PackedView w = make_packed_view(q.data(), qbytes, sc.data(), N, ze.data(), N, perm.data(), N, buckets, 6, K);
  Isa isa = Isa::Auto;
  if (std::string(isa_s) == "avx2") isa = Isa::Avx2;
  double bw = 1e9, bc = 1e9;
  for (int r = 0; r < reps; ++r) {
    const double t0 = wall(), c0 = cpu();
    mp_linear(w, x.data(), DType::F32, M, K, 1, bias.data(), 8, y.data(), DType::F32, N, int(nt), isa, Path::Panel);
    bw = std::min(bw, wall() - t0);
    bc = std::min(bc, cpu() - c0);
  }
  double cs = 0;
  for (float v : y) cs += v;
  printf("M=%ld t=%ld: min wall %.3f ms, min cpu %.3f ms (checksum %.6g)\n", M, nt, bw * 1e3, bc * 1e3, cs);
}
