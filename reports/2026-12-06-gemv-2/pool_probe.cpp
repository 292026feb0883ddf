#include <atomic>
#include <chrono>
#include <cstdio>
#include <vector>
#include "common/parallel.h"
static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
volatile double sink;
int main(int argc, char** argv) {
  const int nt = argc > 1 ? atoi(argv[1]) : 2;
  const double task_us = argc > 2 ? atof(argv[2]) : 4.0;
  const double gap_us = argc > 3 ? atof(argv[3]) : 15.0;
  std::vector<int64_t> cum(36);
  for (int i = 0; i <= 35; ++i) cum[i] = i;
  double best = 1e9, sum = 0;
  int cnt[4] = {0, 0, 0, 0};
  for (int rep = 0; rep < 2000; ++rep) {
    double t0 = now();
    chord::parallel_for_blocked(
        35, nt,
        [&](int64_t t, int slot) {
          double s = now();
          while (now() - s < task_us * 1e-6) {
          }
          __atomic_add_fetch(&cnt[slot], 1, __ATOMIC_RELAXED);
        },
        cum.data());
    double dt = now() - t0;
    best = std::min(best, dt);
    sum += dt;
    double g = now();
    while (now() - g < gap_us * 1e-6) {
    }
  }
  printf("nt=%d task %.1f us gap %.1f us: best %.1f us mean %.1f us (ideal %.1f); slot tasks %d %d %d\n", nt, task_us,
         gap_us, best * 1e6, sum / 2000 * 1e6, 35 * task_us / nt, cnt[0], cnt[1], cnt[2]);
}
