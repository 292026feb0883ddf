// csrc/common/parallel.cpp checked on its own (tests/common/test_pool.py builds and runs this):
// every task runs exactly once on a slot no other running task holds, at any thread count, in
// both hand-out orders (also beside a worker that sleeps holding a task); an exception reaches the
// caller and the pool keeps working; a nested call runs inline; and the straggler pause: after a
// job where the caller, out of tasks, waited for a worker's task longer than the worker's tasks
// saved it, the next jobs run on the caller alone, and later ones on the workers again; a job where
// the *caller* was slow (descheduled holding a task while the worker ran the rest) is no
// straggler. Prints "ok <checks>" or the first failure (exit 1).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/parallel.h"

namespace {

int checks = 0;

void expect(bool ok, const char* what, long a = 0, long b = 0) {
  ++checks;
  if (!ok) {
    std::printf("FAIL %s (%ld, %ld)\n", what, a, b);
    std::exit(1);
  }
}

// every task once, slots in range and never shared by two running tasks. sleeper: the first task
// that slot runs sleeps 3 ms (a thread descheduled holding a task; -1: none)
void check_cover(int64_t ntasks, int nthreads, int mode, int sleeper = -1) {
  std::atomic<bool> slept{false};
  std::vector<std::atomic<int>> ran(static_cast<size_t>(ntasks));
  std::vector<std::atomic<int>> busy(static_cast<size_t>(std::max(nthreads, 1)));
  std::atomic<bool> bad_slot{false}, shared{false};
  const auto body = [&](int64_t t, int slot) {
    if (slot < 0 || slot >= std::max(nthreads, 1)) {
      bad_slot = true;
      return;
    }
    if (busy[size_t(slot)].fetch_add(1) != 0) shared = true;
    ran[size_t(t)].fetch_add(1);
    if (slot == sleeper && !slept.exchange(true)) std::this_thread::sleep_for(std::chrono::milliseconds(3));
    volatile double x = 0;
    for (int i = 0; i < 2000; ++i) x = x + i;  // a little work, so threads overlap
    busy[size_t(slot)].fetch_sub(1);
  };
  std::vector<int64_t> cum(static_cast<size_t>(ntasks) + 1, 0);
  for (int64_t t = 0; t < ntasks; ++t) cum[size_t(t) + 1] = cum[size_t(t)] + 1 + (t % 7) * (t % 3);
  if (mode == 0) chord::parallel_for_slots(ntasks, nthreads, body);
  if (mode == 1) chord::parallel_for_blocked(ntasks, nthreads, body);
  if (mode == 2) chord::parallel_for_blocked(ntasks, nthreads, body, cum.data());
  if (mode == 3) chord::parallel_for(ntasks, nthreads, [&](int64_t t) { body(t, 0); });  // slot unused
  for (int64_t t = 0; t < ntasks; ++t)
    expect(ran[size_t(t)].load() == 1, "each task runs once", long(t), ran[size_t(t)]);
  expect(!bad_slot, "slot in [0, nthreads)", nthreads);
  if (mode != 3) expect(!shared, "no two running tasks share a slot", nthreads);
}

// one job of `ntasks` tasks at 2 threads; returns how many tasks a worker (slot > 0) ran. With
// `straggle`, the first task a worker runs sleeps that long (a thread descheduled holding it).
int run_job(int64_t ntasks, std::chrono::milliseconds straggle) {
  std::atomic<int> by_worker{0};
  std::atomic<bool> slept{false};
  chord::parallel_for_slots(ntasks, 2, [&](int64_t, int slot) {
    if (slot > 0) {
      by_worker.fetch_add(1);
      if (straggle.count() && !slept.exchange(true)) std::this_thread::sleep_for(straggle);
    }
    volatile double x = 0;
    for (int i = 0; i < 20000; ++i) x = x + i;  // ~10 us
  });
  return by_worker.load();
}

}  // namespace

int main() {
  for (int nthreads : {0, 1, 2, 3, 4})
    for (int64_t ntasks : {0, 1, 2, 3, 7, 64, 1000})
      for (int mode = 0; mode < 4; ++mode) check_cover(ntasks, nthreads, mode);
  // a worker or the caller sleeping while it holds a task: still every task once
  for (int sleeper : {0, 1})
    for (int nthreads : {2, 3})
      for (int64_t ntasks : {2, 7, 300})
        for (int mode = 0; mode < 3; ++mode) check_cover(ntasks, nthreads, mode, sleeper);

  // an exception: rethrown in the caller after the claimed tasks finish; the pool still works
  for (int nthreads : {1, 2}) {
    bool caught = false;
    try {
      chord::parallel_for(100, nthreads, [](int64_t t) {
        if (t == 37) throw std::runtime_error("task 37");
      });
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "task 37";
    }
    expect(caught, "the task's exception reaches the caller", nthreads);
    check_cover(100, nthreads, 0);
  }

  // a task that calls parallel_for runs it inline (slot 0 only), never deadlocks
  std::atomic<int> inner{0}, inner_bad{0};
  chord::parallel_for_slots(8, 2, [&](int64_t, int) {
    chord::parallel_for_slots(5, 2, [&](int64_t, int slot) {
      inner.fetch_add(1);
      if (slot != 0) inner_bad.fetch_add(1);
    });
  });
  expect(inner.load() == 40 && inner_bad.load() == 0, "nested calls run inline", inner.load(), inner_bad.load());

  // the straggler pause. A worker may not join a given job at all, and on a loaded machine the
  // caller itself may be descheduled for as long as the worker sleeps (then rightly no straggler):
  // retry until one job where a worker held a task for 40 ms, far past what its tasks saved the
  // caller, counted as a straggler. A rule that never counts one fails here.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool straggled = false;
  chord::PoolStats st0, st1;
  while (!straggled && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(70));  // past any pause (<= 64 ms)
    st0 = chord::pool_stats();
    straggled = run_job(64, std::chrono::milliseconds(40)) > 0;
    st1 = chord::pool_stats();
    straggled = straggled && st1.stragglers > st0.stragglers;
  }
  expect(straggled, "a worker holding a task 40 ms is a straggler (within 20 s of tries)");
  expect(st1.helped == st0.helped + 1 && st1.wait_us - st0.wait_us >= 1000, "the stats count the help and the wait",
         long(st1.helped - st0.helped), long(st1.wait_us - st0.wait_us));
  // the very next job starts within microseconds, inside the (>= 8 ms) pause: caller alone
  const int during = run_job(64, std::chrono::milliseconds(0));
  expect(during == 0, "after a straggler the next job runs on the caller alone", during);
  expect(chord::pool_stats().alone == st1.alone + 1, "the pool counts it alone", long(chord::pool_stats().alone));
  // and after the pause, workers take tasks again (retried: joining is up to the scheduler)
  bool rejoined = false;
  std::this_thread::sleep_for(std::chrono::milliseconds(70));  // past the longest pause (64 ms)
  while (!rejoined && std::chrono::steady_clock::now() < deadline + std::chrono::seconds(10)) {
    rejoined = run_job(512, std::chrono::milliseconds(0)) > 0;
    if (!rejoined) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  expect(rejoined, "workers run tasks again after the pause");

  // the caller descheduled holding a task (its first sleeps 40 ms) while the worker runs the
  // rest: no straggler, and the next job is shared (running it alone would keep a caller that
  // sits on a busy core at half speed). Retried until a job where the worker ran every other task
  // within 10 ms (on a loaded machine it may be descheduled too).
  bool helped = false;
  int64_t stragglers_before = 0, alone_before = 0;
  while (!helped && std::chrono::steady_clock::now() < deadline + std::chrono::seconds(40)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(70));  // past any pause (<= 64 ms)
    const chord::PoolStats s0 = chord::pool_stats();
    stragglers_before = s0.stragglers;
    alone_before = s0.alone;
    const int64_t ntasks = 64;
    std::atomic<int> by_worker{0};
    std::atomic<int64_t> worker_end{0};
    bool caller_slept = false;
    const auto t0 = std::chrono::steady_clock::now();
    chord::parallel_for_slots(ntasks, 2, [&](int64_t, int slot) {
      if (slot == 0 && !caller_slept) {
        caller_slept = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(40));
      }
      volatile double x = 0;
      for (int i = 0; i < 1000; ++i) x = x + i;
      if (slot > 0) {
        by_worker.fetch_add(1);
        worker_end.store((std::chrono::steady_clock::now() - t0).count());
      }
    });
    helped = by_worker.load() == ntasks - 1 && worker_end.load() < 10'000'000;
  }
  expect(helped, "a worker ran the other tasks within 10 ms while the caller slept");
  expect(chord::pool_stats().stragglers == stragglers_before, "a slow caller is no straggler",
         long(chord::pool_stats().stragglers - stragglers_before));
  run_job(64, std::chrono::milliseconds(0));
  expect(chord::pool_stats().alone == alone_before, "after a slow caller the next job is shared",
         long(chord::pool_stats().alone - alone_before));
  std::printf("ok %d\n", checks);
  return 0;
}
