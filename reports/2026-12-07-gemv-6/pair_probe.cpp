// Two-thread read-bandwidth probe: is the 2-thread stream of this host bimodal by itself?
// Threads pinned to CPU 0 and CPU 1 read disjoint halves of a weight-sized block (rotated over
// 256 MiB on 2 MiB pages). Rounds alternate: both threads together, CPU 0 alone, CPU 1 alone.
// Per 1 s window: min time of each, and the guest's steal time (jiffies) from /proc/stat. Then the
// same three in cache: a 1 MiB block read 24 times over (each thread's half stays in its own L2),
// to tell a memory-side limit (cache rounds keep scaling) from two vCPUs sharing one core.
//   g++ -O2 -mavx512f -pthread pair_probe.cpp -o pair_probe && ./pair_probe SECONDS [BLOCK_MB]
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
static long long sink;
static int g_reps = 1;  // passes over the same bytes (cache rounds)
static void read_bytes(const char* p, size_t n) {
  __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
  for (int r = 0; r < g_reps; ++r) {
    for (size_t i = 0; i < n; i += 256) {
      a = _mm512_add_epi64(a, _mm512_load_si512(p + i));
      b = _mm512_add_epi64(b, _mm512_load_si512(p + i + 64));
      c = _mm512_add_epi64(c, _mm512_load_si512(p + i + 128));
      d = _mm512_add_epi64(d, _mm512_load_si512(p + i + 192));
    }
  }
  sink += _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)));
}
static void pin(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}
static long long steal() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  long long v[8];
  f >> cpu;
  for (auto& x : v) f >> x;
  return v[7];
}

int main(int argc, char** argv) {
  const double secs = argc > 1 ? atof(argv[1]) : 20;
  const size_t block = size_t(argc > 2 ? atof(argv[2]) : 24) << 20, total = size_t(256) << 20;
  const size_t nblk = total / block;
  char* buf = (char*)aligned_alloc(2 << 20, total);
  madvise(buf, total, MADV_HUGEPAGE);
  memset(buf, 1, total);
  std::atomic<int> go{0}, fin{0};
  std::atomic<size_t> off{0}, wsize{0};
  double t1 = 0;
  std::thread w([&] {
    pin(1);
    int seen = 0;
    for (;;) {
      int g;
      while ((g = go.load(std::memory_order_acquire)) == seen) _mm_pause();
      seen = g;
      if (g < 0) return;
      const double s = now();
      read_bytes(buf + off.load(), wsize.load() / (g & 1 ? 2 : 1));  // odd: half (paired), even: all (alone)
      t1 = now() - s;
      fin.store(g, std::memory_order_release);
    }
  });
  pin(0);
  int gen = 0;
  size_t k = 0;
  const double end = now() + secs;
  double wstart = now();
  long long st0 = steal();
  double mnall[10];  // per kind (DRAM, cache): pair wall, pair cpu0, pair cpu1, cpu0 alone, cpu1 alone
  for (double& m : mnall) m = 1e9;
  printf(
      "window | DRAM: pair_wall pair_cpu0 pair_cpu1 cpu0_alone cpu1_alone | cache (1 MiB x 24): the same | "
      "steal_jiffies\n"
      "(ms, min per 1 s window; alone = the whole block on one thread)\n");
  int win = 0;
  while (now() < end) {
    for (int hot = 0; hot < 2; ++hot)
      for (int mode = 0; mode < 3; ++mode) {
        const size_t blk = hot ? size_t(1) << 20 : block;
        const size_t o = hot ? 0 : (k++ % nblk) * block;
        double* mn = mnall + 5 * hot;
        g_reps = hot ? 24 : 1;
        wsize.store(blk);
        if (mode == 0) {  // pair: cpu0 first half, cpu1 second half
          off.store(o + blk / 2);
          gen += gen % 2 ? 2 : 1;
          const double s = now();
          go.store(gen, std::memory_order_release);
          read_bytes(buf + o, blk / 2);
          const double t0 = now() - s;
          while (fin.load(std::memory_order_acquire) != gen) _mm_pause();
          const double wall = now() - s;
          mn[0] = std::min(mn[0], wall), mn[1] = std::min(mn[1], t0), mn[2] = std::min(mn[2], t1);
        } else if (mode == 1) {
          const double s = now();
          read_bytes(buf + o, blk);
          mn[3] = std::min(mn[3], now() - s);
        } else {
          off.store(o);
          gen += gen % 2 ? 1 : 2;
          go.store(gen, std::memory_order_release);
          while (fin.load(std::memory_order_acquire) != gen) _mm_pause();
          mn[4] = std::min(mn[4], t1);
        }
      }
    if (now() - wstart >= 1.0) {
      const long long st = steal();
      printf("%6d |", win++);
      for (int i = 0; i < 10; ++i) printf(" %6.3f%s", 1e3 * mnall[i], i == 4 ? " |" : "");
      printf(" | %lld\n", st - st0);
      fflush(stdout);
      st0 = st;
      wstart = now();
      for (double& m : mnall) m = 1e9;
    }
  }
  go.store(-1);
  w.join();
  return int(sink & 0);
}
