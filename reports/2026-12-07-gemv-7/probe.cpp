// Where the time of the M = 1 act8 GEMV goes (reports/2026-12-07-gemv-7.md): in one process, round
// after round, each mode on the next copy of a mix3 K x K packed weight (75 % 2-bit, 12.5 % 4-bit,
// 12.5 % 8-bit rows) rotated over >= 256 MiB on 2 MiB pages, cut into tasks as mp_linear.cpp cuts
// them, at THREADS threads (contiguous halves by bytes, as parallel_for_blocked). Modes:
//   read    the bare read of the same bytes, in address order (4 zmm accumulators, as read_stream)
//   readpf  the same with prefetcht0 1 KiB ahead
//   walk    the kernel's walk with the compute stubbed: the same tiles (4 rows, one 64-byte load of
//           each per group), the same prefetch of the next tile, the loads summed
//   kernel  the shipped kernel (dot_i8_avx512vnni; no epilogue, no activation preparation)
//   var     a candidate (or the previous) kernel: var_wrap.h with -DVAR_KERNEL (see there)
//   hot     the shipped kernel on one 256 KiB task of 2-bit rows, over and over (in L2): the
//           compute ceiling of the loop
// Build from the repository root:
//   g++ -O3 -fwrapv -std=c++17 -Icsrc reports/2026-12-07-gemv-7/probe.cpp -o /tmp/probe -lpthread
//   /tmp/probe K THREADS ROUNDS [modes, comma separated]
// Prints min / p10 ms per mode and GB/s of the weight bytes at the min, and an output hash per
// kernel (a variant must compute what the shipped kernel computes).
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "mp_linear/mp_linear_gemv_avx512vnni.cpp"

#ifdef VAR_KERNEL
namespace var {
#include VAR_KERNEL
}
#endif

using namespace chord::mpl;

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Task {
  int bits;
  const uint8_t* w;
  int64_t rb, nr, out0, bytes;
};

// the kernel's tile walk, compute stubbed (R rows, one 64-byte load of each per group, the next
// tile prefetched in address order, one line per 64 bytes loaded, never at or past pf_end)
template <int R>
__attribute__((target("avx512f"))) static void walk_tile(const uint8_t* w, int64_t rb, const uint8_t* pf,
                                                         int64_t pf_lines, __m512i* acc) {
  const int64_t nfull = rb / 64;
  const int64_t npf = std::min(nfull, pf_lines / R);
  int64_t g = 0;
  for (; g < npf; ++g) {
#pragma GCC unroll 16
    for (int l = 0; l < R; ++l) _mm_prefetch(reinterpret_cast<const char*>(pf + 64 * (g * R + l)), _MM_HINT_T0);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[r] = _mm512_add_epi64(acc[r], _mm512_loadu_si512(w + r * rb + g * 64));
  }
  for (; g < nfull; ++g) {
    for (int64_t l = g * R; l < std::min<int64_t>(pf_lines, (g + 1) * R); ++l)
      _mm_prefetch(reinterpret_cast<const char*>(pf + 64 * l), _MM_HINT_T0);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[r] = _mm512_add_epi64(acc[r], _mm512_loadu_si512(w + r * rb + g * 64));
  }
}

__attribute__((target("avx512f"))) static uint64_t walk_task(const Task& t, const uint8_t* end) {
  __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
  auto lines_after = [&](int64_t r, int rows) {
    const uint8_t* pf = t.w + (r + rows) * t.rb;
    return pf < end ? std::min<int64_t>(rows * t.rb, end - pf) / 64 : int64_t(0);
  };
  int64_t r = 0;
  for (; r + 4 <= t.nr; r += 4) walk_tile<4>(t.w + r * t.rb, t.rb, t.w + (r + 4) * t.rb, lines_after(r, 4), acc);
  for (; r < t.nr; ++r) walk_tile<1>(t.w + r * t.rb, t.rb, t.w + (r + 1) * t.rb, lines_after(r, 1), acc);
  return uint64_t(
      _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(acc[0], acc[1]), _mm512_add_epi64(acc[2], acc[3]))));
}

int main(int argc, char** argv) {
  const int64_t K = argc > 1 ? atoi(argv[1]) : 8192, N = K;
  const int nt = argc > 2 ? atoi(argv[2]) : 1;
  const int rounds = argc > 3 ? atoi(argv[3]) : 200;
  std::vector<std::string> modes;
  {
    std::string m = argc > 4 ? argv[4] : "read,walk,kernel";
    for (size_t a = 0; a <= m.size();) {
      size_t b = m.find(',', a);
      if (b == std::string::npos) b = m.size();
      modes.push_back(m.substr(a, b - a));
      a = b + 1;
    }
  }
  const int bits[3] = {8, 4, 2};  // mix3's buckets in the order the packer lays them out
  int64_t rows[3] = {N / 8, N / 8, N * 3 / 4};
  if (getenv("ONLY"))
    for (int b = 0; b < 3; ++b) rows[b] = bits[b] == atoi(getenv("ONLY")) ? N : 0;
  int64_t bytes = 0;
  for (int b = 0; b < 3; ++b) bytes += rows[b] * K * bits[b] / 8;
  int64_t ncopies = 0;
  uint8_t* buf = huge_copies(bytes, &ncopies);
  int8_t* x = static_cast<int8_t*>(std::aligned_alloc(64, size_t(K + 63) / 64 * 64));
  for (int64_t k = 0; k < K; ++k) x[k] = int8_t((k * 37) % 255 - 127);
  std::vector<int64_t> out(static_cast<size_t>(N));
  // tasks as mp_linear.cpp's task_rows cuts them (~256 KB, multiples of 24 rows, <= 240 rows)
  std::vector<std::vector<Task>> all(static_cast<size_t>(ncopies));
  for (int64_t c = 0; c < ncopies; ++c) {
    int64_t off = 0, o = 0;
    for (int b = 0; b < 3; ++b) {
      const int64_t rb = K * bits[b] / 8;
      const int64_t step = task_step(rb, rows[b], nt);
      for (int64_t r = 0; r < rows[b]; r += step) {
        const int64_t nr = std::min(step, rows[b] - r);
        all[size_t(c)].push_back({bits[b], buf + c * bytes + off + r * rb, rb, nr, o + r, nr * rb});
      }
      off += rows[b] * rb;
      o += rows[b];
    }
  }
  // each thread's contiguous run of tasks: equal bytes (parallel_for_blocked with cum_bytes)
  std::vector<int64_t> cut(size_t(nt + 1), 0);
  {
    const auto& ts = all[0];
    std::vector<int64_t> cum{0};
    for (const auto& t : ts) cum.push_back(cum.back() + t.bytes);
    for (int i = 1; i < nt; ++i)
      cut[size_t(i)] = std::lower_bound(cum.begin(), cum.end(), cum.back() * i / nt) - cum.begin();
    cut[size_t(nt)] = int64_t(ts.size());
  }
  const uint8_t* end = buf + ncopies * bytes;
  std::vector<uint64_t> sink(size_t(nt), 0);
  std::vector<uint64_t> hash(modes.size(), 0);
  // one thread's share of mode `mode` on copy c
  auto share = [&](size_t mode, int64_t c, int i) {
    const std::string& m = modes[mode];
    const auto& ts = all[size_t(c)];
    if (m == "read" || m == "readpf") {
      const int64_t lo = i == 0 ? 0 : ts[size_t(cut[size_t(i)])].w - ts[0].w;
      const int64_t hi = i == nt - 1 ? bytes : ts[size_t(cut[size_t(i + 1)])].w - ts[0].w;
      sink[size_t(i)] += read_range(ts[0].w + lo, hi - lo, m == "read" ? 0 : 1024);
      return;
    }
    if (m == "hot") {  // the first 2-bit task of copy 0, as many times as this share has tasks
      const Task* h2 = nullptr;
      for (const auto& t : all[0])
        if (t.bits == 2) {
          h2 = &t;
          break;
        }
      for (int64_t t = cut[size_t(i)]; t < cut[size_t(i + 1)]; ++t)
        dot_i8_avx512vnni(h2->w, h2->rb, 2, h2->nr, x, K, 1, out.data() + h2->out0, 1, h2->w + h2->bytes);
      return;
    }
    for (int64_t t = cut[size_t(i)]; t < cut[size_t(i + 1)]; ++t) {
      const Task& k = ts[size_t(t)];
      if (m == "walk")
        sink[size_t(i)] += walk_task(k, end);
      else if (m == "kernel")
        dot_i8_avx512vnni(k.w, k.rb, k.bits, k.nr, x, K, 1, out.data() + k.out0, 1, end);
#ifdef VAR_KERNEL
      else if (m == "var")
        var::dot_i8_var(k.w, k.rb, k.bits, k.nr, x, K, 1, out.data() + k.out0, 1, end);
#endif
      else {
        std::fprintf(stderr, "unknown mode %s\n", m.c_str());
        std::exit(2);
      }
    }
  };
  std::atomic<int64_t> gen{0}, done{0};
  std::atomic<size_t> cur_mode{0};
  std::atomic<int64_t> cur_copy{0};
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
        share(cur_mode.load(), cur_copy.load(), i);
        done.fetch_add(1);
      }
    });
  std::vector<std::vector<double>> ts(modes.size());
  int64_t copy = 0;
  for (int r = 0; r < rounds; ++r)
    for (size_t m = 0; m < modes.size(); ++m) {
      copy = (copy + 1) % ncopies;
      const double t0 = now();
      done = 0;
      cur_mode = m;
      cur_copy = copy;
      gen.fetch_add(1);
      share(m, copy, 0);
      while (done.load() < nt - 1) _mm_pause();
      ts[m].push_back(now() - t0);
      if (r == rounds - 1 && (modes[m] == "kernel" || modes[m] == "var")) {
        uint64_t h = 0;
        for (auto v : out) h = (h ^ uint64_t(v)) * 0x100000001b3ull;
        hash[m] = h;
      }
    }
  stop = true;
  for (auto& t : th) t.join();
  std::printf("K=%lld threads=%d %.2f MB x %lld copies, %d rounds:", (long long)K, nt, bytes / 1e6, (long long)ncopies,
              rounds);
  for (size_t m = 0; m < modes.size(); ++m) {
    auto v = ts[m];
    std::sort(v.begin(), v.end());
    std::printf("  %s %.4f/%.4f ms %.1f GB/s", modes[m].c_str(), v[0] * 1e3, v[v.size() / 10] * 1e3,
                bytes / v[0] / 1e9);
    if (hash[m]) std::printf(" #%04llx", (unsigned long long)(hash[m] & 0xffff));
  }
  std::printf("\n");
}
