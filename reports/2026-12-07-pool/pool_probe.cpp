// pool probe: time parallel_for jobs of `ntasks` tasks of ~`us` microseconds of in-cache work
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "parallel.h"
static volatile float sink;
static float work(int iters, int seed) {
  float a = seed * 1e-3f, b = 1.0001f;
  for (int i = 0; i < iters; ++i) a = a * b + 1e-7f;
  return a;
}
int main(int argc, char** argv) {
  const int ntasks = atoi(argv[1]), iters = atoi(argv[2]), reps = atoi(argv[3]), nt = atoi(argv[4]);
  std::vector<double> t;
  std::vector<float> out(ntasks * 16);
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    chord::parallel_for(ntasks, nt, [&](int64_t i) { out[i * 16] = work(iters, int(i)); });
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    // a gap between calls, like the Python between kernel calls
    auto g0 = std::chrono::steady_clock::now();
    while (std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - g0).count() < 30) {
    }
  }
  std::sort(t.begin(), t.end());
  printf("ntasks %d iters %d nt %d: min %.1f p10 %.1f p50 %.1f us\n", ntasks, iters, nt, t[0], t[reps / 10],
         t[reps / 2]);
}
