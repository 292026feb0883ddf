// Latency of the C API (chord.h) on this machine: open, apply a strategy, and rerank one user's
// history (median over REPS calls, after one warm-up). tools/arm/bench_latency.py runs it beside
// the Python fused runtime on the same model file, strategy and history.
//   chord_bench_capi MODEL STRATEGY REPS THREADS ACT_BITS USER ITEM [ITEM ...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "chord.h"

namespace {
double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
std::vector<unsigned char> read_all(const char* path) {
  std::vector<unsigned char> b;
  if (FILE* f = std::fopen(path, "rb")) {
    unsigned char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) b.insert(b.end(), buf, buf + n);
    std::fclose(f);
  }
  return b;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 8) return 2;
  const int reps = std::atoi(argv[3]);
  const chord_options opt{std::atoi(argv[5]), std::atoi(argv[4])};
  const int64_t user = std::atoll(argv[6]);
  std::vector<int64_t> hist;
  for (int i = 7; i < argc; ++i) hist.push_back(std::atoll(argv[i]));
  const std::vector<unsigned char> strat = read_all(argv[2]);
  chord_model* m = nullptr;
  double t0 = now_us();
  if (chord_open(argv[1], &opt, &m) != CHORD_OK) return std::fprintf(stderr, "%s\n", chord_last_error()), 1;
  const double open_us = now_us() - t0;
  std::vector<double> apply, rerank;
  for (int r = 0; r < std::max(1, reps / 10); ++r) {
    t0 = now_us();
    if (chord_apply_strategy(m, strat.data(), strat.size()) != CHORD_OK)
      return std::fprintf(stderr, "%s\n", chord_last_error()), 1;
    apply.push_back(now_us() - t0);
  }
  int64_t ids[10];
  float sc[10];
  for (int r = 0; r <= reps; ++r) {
    t0 = now_us();
    if (chord_rerank(m, hist.data(), hist.size(), user, nullptr, 0, 10, ids, sc) != CHORD_OK)
      return std::fprintf(stderr, "%s\n", chord_last_error()), 1;
    if (r) rerank.push_back(now_us() - t0);  // r = 0: warm-up
  }
  std::sort(apply.begin(), apply.end());
  std::sort(rerank.begin(), rerank.end());
  std::printf("open_us %.1f\napply_us %.1f\nrerank_us %.2f\nrerank_min_us %.2f\ntop1 %lld\n", open_us,
              apply[apply.size() / 2], rerank[rerank.size() / 2], rerank[0], (long long)ids[0]);
  chord_close(m);
  return 0;
}
