// The shipped AVX-512 VNNI GEMV kernel alone (csrc/mp_linear/mp_linear_gemv_avx512vnni.cpp, included
// as it is), on a mix3 packed weight (75 % 2-bit, 12.5 % 4-bit, 12.5 % 8-bit rows) rotated over
// >= 256 MB of copies on 2 MiB pages, cut into tasks as mp_linear.cpp cuts them; THREADS > 1 runs
// the tasks on spinning threads in contiguous halves (SPLIT=0: one shared counter instead).
// Build from the repository root:
//   g++ -O3 -std=c++17 -Icsrc reports/2026-12-06-gemv-2/gemv_harness.cpp -o /tmp/hm -lpthread
//   /tmp/hm K THREADS ROUNDS [only 2|4|8]
// The variants in the report were this harness with temporary edits of the kernel file; the
// output hash (added for reports/2026-12-07-gemv-5.md) checks that a variant computes the same.
// A variant in a directory VAR/mp_linear/ (its mp_linear_gemv_vnni.inc, mp_linear_gemv_avx512vnni.cpp)
// builds with -IVAR before -Icsrc.
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "mp_linear/mp_linear_gemv_avx512vnni.cpp"

using namespace chord::mpl;

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Task {
  int bits;
  const uint8_t* w;
  int64_t rb, nr, out0;
};

int main(int argc, char** argv) {
  const int64_t K = argc > 1 ? atoi(argv[1]) : 4096, N = K;
  const int nt = argc > 2 ? atoi(argv[2]) : 1;
  const int rounds = argc > 3 ? atoi(argv[3]) : 200;
  const int only = argc > 4 ? atoi(argv[4]) : 0;
  const bool split = !getenv("SPLIT") || atoi(getenv("SPLIT"));
  const int bits[3] = {2, 4, 8};
  int64_t rows[3] = {N * 3 / 4, N / 8, N / 8};
  if (only)
    for (int b = 0; b < 3; ++b) rows[b] = bits[b] == only ? N : 0;
  int64_t bytes = 0;
  for (int b = 0; b < 3; ++b) bytes += rows[b] * K * bits[b] / 8;
  const int64_t ncopies = std::max<int64_t>(2, ((256ll << 20) + bytes - 1) / bytes);
  const size_t total = size_t(ncopies * bytes), huge = 2 << 20;
  uint8_t* raw =
      static_cast<uint8_t*>(mmap(nullptr, total + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  uint8_t* buf = reinterpret_cast<uint8_t*>((uintptr_t(raw) + huge - 1) & ~uintptr_t(huge - 1));
  madvise(buf, total, MADV_HUGEPAGE);
  for (size_t i = 0; i < total; ++i) buf[i] = uint8_t(i * 2654435761u >> 13);
  // activations: any int8 values (the layout does not change the timing)
  int8_t* x = static_cast<int8_t*>(std::aligned_alloc(64, size_t(K + 63) / 64 * 64));  // aligned loads
  for (int64_t k = 0; k < K; ++k) x[k] = int8_t((k * 37) % 255 - 127);
  std::vector<int64_t> out(static_cast<size_t>(N));
  // tasks as mp_linear.cpp's task_rows cuts them (~256 KB, multiples of 24 rows, <= 240 rows)
  std::vector<std::vector<Task>> all(static_cast<size_t>(ncopies));
  for (int64_t c = 0; c < ncopies; ++c) {
    int64_t off = 0, o = 0;
    for (int b = 0; b < 3; ++b) {
      const int64_t rb = K * bits[b] / 8;
      auto down = [](int64_t r) { return r / 24 * 24; };
      const int64_t step = std::max<int64_t>(
          24, std::min({down((256 << 10) / rb), down((rows[b] + 4 * nt - 1) / (4 * nt)), int64_t(240)}));
      for (int64_t r = 0; r < rows[b]; r += step)
        all[size_t(c)].push_back({bits[b], buf + c * bytes + off + r * rb, rb, std::min(step, rows[b] - r), o + r});
      off += rows[b] * rb;
      o += rows[b];
    }
  }
  const uint8_t* end = buf + ncopies * bytes;
  auto run = [&](const Task& t) { dot_i8_avx512vnni(t.w, t.rb, t.bits, t.nr, x, K, 1, out.data() + t.out0, 1, end); };
  std::atomic<int64_t> gen{0}, next{0}, done{0};
  std::atomic<const std::vector<Task>*> cur{nullptr};
  std::atomic<bool> stop{false};
  std::vector<std::thread> th;
  for (int i = 1; i < nt; ++i)
    th.emplace_back([&, i] {
      int64_t seen = 0;
      while (!stop) {
        if (gen.load() == seen) {
          _mm_pause();
          continue;
        }
        seen = gen.load();
        const auto& ts = *cur.load();
        const int64_t n = int64_t(ts.size());
        for (int64_t t = split ? n * i / nt : next.fetch_add(1); t < (split ? n * (i + 1) / nt : n);
             t = split ? t + 1 : next.fetch_add(1)) {
          run(ts[size_t(t)]);
          done.fetch_add(1);
        }
      }
    });
  double best = 1e9;
  for (int r = 0; r < rounds; ++r) {
    const auto& ts = all[size_t(r % ncopies)];
    const int64_t n = int64_t(ts.size());
    const double t0 = now();
    next = 0;
    done = 0;
    cur = &ts;
    gen.fetch_add(1);
    for (int64_t t = split ? 0 : next.fetch_add(1); t < (split ? n / nt : n); t = split ? t + 1 : next.fetch_add(1)) {
      run(ts[size_t(t)]);
      done.fetch_add(1);
    }
    while (done.load() < n) _mm_pause();
    best = std::min(best, now() - t0);
  }
  stop = true;
  for (auto& t : th) t.join();
  uint64_t h = 0;
  for (auto v : out) h = (h ^ uint64_t(v)) * 0x100000001b3ull;
  std::printf("K=%lld threads=%d only=%d %.2f MB x %lld: best %.4f ms (%.1f GB/s) hash %016llx\n", (long long)K, nt,
              only, bytes / 1e6, (long long)ncopies, best * 1e3, bytes / best / 1e9, (unsigned long long)h);
}
