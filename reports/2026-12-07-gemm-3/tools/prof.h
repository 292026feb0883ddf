#pragma once
#include <pthread.h>
#include <x86intrin.h>
#include <atomic>
#include <cstdint>
struct ProfEv {
  uint64_t t0, t1;
  int kind;
  int64_t a;
  uint64_t tid;
};
extern ProfEv g_prof[1 << 16];
extern std::atomic<int> g_nprof;
struct ProfScope {
  uint64_t t0;
  int kind;
  int64_t a;
  bool done = false;
  ProfScope(int k, int64_t a_) : t0(__rdtsc()), kind(k), a(a_) {}
  void end() {
    if (done) return;
    done = true;
    int i = g_nprof.fetch_add(1);
    if (i < (1 << 16)) g_prof[i] = {t0, __rdtsc(), kind, a, (uint64_t)pthread_self()};
  }
  ~ProfScope() { end(); }
};
