// chord::mpl::mp_linear at M = 1, act8, mix3 K x K (buckets 8/4/2 bits: 1/8, 1/8, 3/4 of the rows,
// as chord.pack lays mix3 out), against the kernel alone on the same bytes and the bare read of
// them, alternated round by round in one process (reports/2026-12-07-gemv-7.md): `mp_linear`, `read`,
// `prep` (the activation preparation alone) and `kernel` (the kernel alone through the same pool,
// the tasks cut as mp_linear cuts them, no preparation, no epilogue). Copies rotated
// over >= 256 MiB on 2 MiB pages; scales / zeros / perm per copy, on 4 KiB pages as torch's.
// Build from the repository root (the extension's sources, no Python):
//   g++ -O3 -fwrapv -std=c++17 -Icsrc reports/2026-12-07-gemv-7/e2e.cpp csrc/common/{isa,parallel,kernels_absent}.cpp \
//     $(ls csrc/mp_linear/*.cpp | grep -v neon) -o /tmp/e2e -lpthread
//   /tmp/e2e K THREADS ROUNDS      (PERM_ID=1: an identity perm)
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "common/parallel.h"
#include "harness.h"
#include "mp_linear/mp_linear.h"
#include "mp_linear/mp_linear_kernels.h"

using namespace chord;
using namespace chord::mpl;

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char** argv) {
  const int64_t K = argc > 1 ? atoi(argv[1]) : 8192, N = K;
  const int nt = argc > 2 ? atoi(argv[2]) : 1;
  const int rounds = argc > 3 ? atoi(argv[3]) : 200;
  const int64_t buckets[6] = {8, N / 8, 4, N / 8, 2, N - N / 4};
  const int64_t bytes = N / 8 * K + N / 8 * K / 2 + (N - N / 4) * K / 4;
  int64_t ncopies = 0;
  uint8_t* buf = huge_copies(bytes, &ncopies);
  std::mt19937 rng(1);
  std::vector<std::vector<float>> scales(static_cast<size_t>(ncopies)), zeros(static_cast<size_t>(ncopies));
  std::vector<std::vector<int32_t>> perms(static_cast<size_t>(ncopies));
  std::vector<PackedView> views;
  for (int64_t c = 0; c < ncopies; ++c) {
    scales[size_t(c)].resize(size_t(N));
    zeros[size_t(c)].resize(size_t(N));
    perms[size_t(c)].resize(size_t(N));
    for (int64_t i = 0; i < N; ++i) {
      scales[size_t(c)][size_t(i)] = 0.01f + 0.001f * float(rng() % 100);
      zeros[size_t(c)][size_t(i)] = float(rng() % 4);
    }
    std::iota(perms[size_t(c)].begin(), perms[size_t(c)].end(), 0);
    if (!getenv("PERM_ID")) std::shuffle(perms[size_t(c)].begin(), perms[size_t(c)].end(), std::mt19937(2));
    views.push_back(make_packed_view(buf + c * bytes, bytes, scales[size_t(c)].data(), N, zeros[size_t(c)].data(), N,
                                     perms[size_t(c)].data(), N, buckets, 6, K));
  }
  std::vector<float> x(static_cast<size_t>(K)), y(static_cast<size_t>(N));
  for (int64_t k = 0; k < K; ++k) x[size_t(k)] = float(std::normal_distribution<double>()(rng));
  // the kernel alone through the same pool, tasks cut as mp_linear cuts them (no preparation, no
  // epilogue; activations: the first copy's quantized row laid out for nothing, any int8 will do)
  struct Task {
    int bits;
    int64_t off, rb, nr;
  };
  std::vector<Task> tasks;
  std::vector<int64_t> cum{0};
  {
    int64_t off = 0;
    for (int b = 0; b < 3; ++b) {
      const int bits = int(buckets[2 * b]);
      const int64_t rows = buckets[2 * b + 1], rb = K * bits / 8;
      const int64_t step = task_step(rb, rows, nt);
      for (int64_t r = 0; r < rows; r += step) {
        tasks.push_back({bits, off + r * rb, rb, std::min(step, rows - r)});
        cum.push_back(cum.back() + tasks.back().nr * rb + 1);
      }
      off += rows * rb;
    }
  }
  int8_t* xq = static_cast<int8_t*>(std::aligned_alloc(64, size_t(K + 63) / 64 * 64));  // the kernels' aligned loads
  std::memset(xq, 3, size_t(K + 63) / 64 * 64);
  std::vector<int64_t> dots(static_cast<size_t>(N));
  std::vector<double> t_lin, t_read, t_prep, t_kern;
  uint64_t sink = 0;
  int64_t copy = 0;
  for (int r = 0; r < rounds; ++r) {
    copy = (copy + 1) % ncopies;
    double t0 = now();
    mp_linear(views[size_t(copy)], x.data(), DType::F32, 1, K, 1, nullptr, 8, y.data(), DType::F32, N, nt, Isa::Auto,
              Path::Auto);
    t_lin.push_back(now() - t0);
    copy = (copy + 1) % ncopies;
    const uint8_t* p = buf + copy * bytes;
    t0 = now();
    std::vector<uint64_t> part(static_cast<size_t>(nt));
    parallel_for(nt, nt, [&](int64_t t) { part[size_t(t)] = read_range(p + bytes / nt * t, bytes / nt); });
    t_read.push_back(now() - t0);
    sink += part[0];
    t0 = now();
    {
      PreparedActs a(x.data(), DType::F32, 1, K, K, 1, views[0].width_mask, 8, Isa::Auto, 1);
      sink += uint64_t(a.act_int8()[5]);
    }
    t_prep.push_back(now() - t0);
    copy = (copy + 1) % ncopies;
    const uint8_t* wq = buf + copy * bytes;
    t0 = now();
    parallel_for_blocked(
        int64_t(tasks.size()), nt,
        [&](int64_t t, int) {
          const Task& k = tasks[size_t(t)];
          dot_i8_avx512vnni(wq + k.off, k.rb, k.bits, k.nr, xq, K, 1, dots.data(), 1, wq + bytes);
        },
        cum.data());
    t_kern.push_back(now() - t0);
  }
  auto show = [&](const char* name, std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::printf("  %s %.4f/%.4f ms %.1f GB/s", name, v[0] * 1e3, v[v.size() / 10] * 1e3, bytes / v[0] / 1e9);
  };
  std::printf("K=%lld threads=%d %.2f MB x %lld copies, %d rounds:", (long long)K, nt, bytes / 1e6, (long long)ncopies,
              rounds);
  show("mp_linear", t_lin);
  show("read", t_read);
  show("prep", t_prep);
  show("kernel", t_kern);
  double h = 0;
  for (float v : y) h += v;
  std::printf("  (y sum %.3g, %llu)\n", h, (unsigned long long)(sink & 1));
}
