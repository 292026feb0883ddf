// csrc/common/parallel.cpp checked on its own (tests/common/test_pool.py builds and runs this):
// every task runs exactly once on a slot no other running task holds, at any thread count, in
// both hand-out orders (also beside a worker that sleeps holding a task); an exception reaches the
// caller and the pool keeps working; a nested call runs inline; and the straggler pause: after a
// job where the caller, out of tasks, waited for a worker's task longer than the worker's tasks
// saved it, the next jobs run on the caller alone, and later ones on the workers again; a job where
// the *caller* was slow (descheduled holding a task while the worker ran the rest) is no
// straggler. The idle policy: detail::SpinWindow driven with made-up gaps; set_pool_spin's range; with
// the cap at 0 a worker sleeps after every job and each job wakes it; an idle worker goes to sleep
// after its spin and then uses no CPU; a straggler drops the spin to the floor; with more threads
// than CPUs it spins the floor at most. `pool_check spin` (a fresh process, so no earlier call
// started more workers than CPUs) checks that jobs ~300 us apart are caught by a spinning worker
// once the window has grown: at most 2 of 20 wake it (the fixed 100 us spin this replaced woke it
// for every one; `pool_check spin 100` runs with that spin and fails).
// Prints "ok <checks>" or the first failure (exit 1).
#if defined(__linux__)
#include <sched.h>
#endif

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
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

// waits up to `limit` for cond() (a liveness bound, not a timing claim); returns cond()
bool eventually(const std::function<bool()>& cond, std::chrono::seconds limit = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!cond() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return cond();
}

bool all_asleep() {
  const chord::PoolSpin sp = chord::pool_spin();
  return sp.workers > 0 && sp.sleeping == sp.workers;
}

int usable_cpus() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
#endif
  return int(std::thread::hardware_concurrency());
}

void busy_wait_us(int us) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  while (std::chrono::steady_clock::now() < end) {
  }
}

// detail::SpinWindow with made-up gaps (ns): deterministic
void check_spin_window() {
  using chord::detail::SpinWindow;
  constexpr int64_t us = 1000, cap = 1000 * us;
  SpinWindow w;
  expect(w.spin_ns(cap) == 100 * us, "the window starts at the floor", long(w.spin_ns(cap)));
  expect(w.spin_ns(0) == 0 && w.spin_ns(40 * us) == 40 * us, "the cap bounds the spin", long(w.spin_ns(0)));
  w.on_gap(60 * us, cap);
  expect(w.spin_ns(cap) == 100 * us, "a gap the spin caught changes nothing", long(w.spin_ns(cap)));
  w.on_gap(170 * us, cap);
  expect(w.spin_ns(cap) == 340 * us, "a missed gap within the cap: twice the gap", long(w.spin_ns(cap)));
  w.on_gap(300 * us, cap);
  expect(w.spin_ns(cap) == 340 * us, "then gaps up to it are caught", long(w.spin_ns(cap)));
  w.on_gap(700 * us, cap);
  expect(w.spin_ns(cap) == cap, "never past the cap", long(w.spin_ns(cap)));
  expect(w.spin_ns(200 * us) == 200 * us, "a lower cap bounds a grown window", long(w.spin_ns(200 * us)));
  const int64_t halves[] = {500 * us, 250 * us, 125 * us, 100 * us, 100 * us};
  for (int64_t h : halves) {
    w.on_gap(50'000 * us, cap);  // a gap no allowed spin catches
    expect(w.spin_ns(cap) == h, "a gap past the cap halves the window, down to the floor", long(w.spin_ns(cap)),
           long(h));
  }
  w.on_gap(900 * us, cap);
  expect(w.spin_ns(cap) == cap, "a gap over half the cap: the cap", long(w.spin_ns(cap)));
  w.on_straggler();
  expect(w.spin_ns(cap) == 100 * us, "a straggler drops it to the floor", long(w.spin_ns(cap)));
  SpinWindow z;
  z.on_gap(10 * us, 0);
  expect(z.spin_ns(0) == 0, "cap 0: no spin", long(z.spin_ns(0)));
}

// set_pool_spin's range and the cap-0 policy: every job wakes a sleeping worker
void check_spin_cap() {
  for (int64_t bad : {int64_t(-1), chord::kMaxSpinUs + 1}) {
    bool threw = false;
    try {
      chord::set_pool_spin(bad);
    } catch (const std::invalid_argument& e) {
      threw = std::string(e.what()).find("spin_us") != std::string::npos;
    }
    expect(threw, "set_pool_spin refuses a cap outside [0, kMaxSpinUs], naming spin_us", long(bad));
  }
  chord::set_pool_spin(0);
  expect(chord::pool_spin().cap_us == 0 && chord::pool_spin().window_us == 0, "cap 0: no spin",
         long(chord::pool_spin().window_us));
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(70));  // past any straggler pause (<= 64 ms)
    expect(eventually(all_asleep), "cap 0: the workers sleep after a job");
    const int64_t w0 = chord::pool_stats().wakeups;
    const int workers = chord::pool_spin().workers;
    run_job(64, std::chrono::milliseconds(0));
    expect(eventually([&] { return chord::pool_stats().wakeups == w0 + workers; }),
           "cap 0: a job wakes every sleeping worker once", long(chord::pool_stats().wakeups - w0), workers);
    expect(eventually(all_asleep), "cap 0: and they sleep again");
    expect(chord::pool_stats().wakeups == w0 + workers, "exactly once", long(chord::pool_stats().wakeups - w0));
  }
  chord::set_pool_spin(1000);
}

// after the last job an idle worker spins at most the cap, then sleeps and uses no CPU
void check_sleeps_after_cap() {
  chord::set_pool_spin(1000);
  for (int i = 0; i < 20; ++i) {
    run_job(64, std::chrono::milliseconds(0));
    busy_wait_us(400);  // gaps the window grows to bridge
  }
  expect(chord::pool_spin().window_us <= 1000, "the window stays within the cap", long(chord::pool_spin().window_us));
  expect(eventually(all_asleep), "an idle worker goes to sleep after its spin");
  const int64_t cpu0 = chord::pool_spin().worker_cpu_us;
#if defined(__linux__)
  expect(cpu0 > 0, "the workers' CPU time is known on Linux", long(cpu0));
#endif
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const chord::PoolSpin sp = chord::pool_spin();
  // asleep on a condition variable a thread uses no CPU; a worker still spinning would have used
  // up to the whole 300 ms
  if (cpu0 >= 0)
    expect(sp.worker_cpu_us - cpu0 < 20'000, "asleep, the workers use no CPU", long(sp.worker_cpu_us - cpu0));
  expect(sp.sleeping == sp.workers, "and stay asleep", sp.sleeping, sp.workers);
}

// a fresh process (`pool_check spin`): once the window has grown, jobs ~300 us apart find the
// worker spinning (no wake-up); the fixed 100 us spin woke it for every one. Retried: on a loaded
// machine the worker or the caller may be descheduled past the window now and then.
void check_spin_bridges_gaps(int64_t cap_us) {
  if (usable_cpus() < 2) {
    std::printf("note: fewer than 2 CPUs, the bridging check does not apply\n");
    return;
  }
  chord::set_pool_spin(cap_us);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool bridged = false;
  int tries = 0;
  int64_t window = 0, woken = -1;
  while (!bridged && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 10; ++i) {  // the window learns the gap
      run_job(64, std::chrono::milliseconds(0));
      busy_wait_us(300);
    }
    window = chord::pool_spin().window_us;
    const int64_t w0 = chord::pool_stats().wakeups;
    int ran = 0;
    for (int i = 0; i < 20; ++i) {
      busy_wait_us(300);
      ran += run_job(64, std::chrono::milliseconds(0)) > 0;
    }
    expect(eventually(all_asleep), "the worker sleeps after the run");
    woken = chord::pool_stats().wakeups - w0;
    bridged = woken <= 2 && ran > 0 && window >= 300;  // a descheduled worker may miss one or two
    ++tries;
    if (std::getenv("POOL_CHECK_VERBOSE"))
      std::printf("try %d: window %ld us, woken %ld of 20\n", tries, long(window), long(woken));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  expect(bridged, "jobs 300 us apart: the window grows past the gap and (almost) no job wakes the worker", long(window),
         long(woken));
  std::printf("bridged after %d tries\n", tries);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "spin") {
    // a second argument sets another cap: `spin 100` (the old fixed spin) must fail
    check_spin_bridges_gaps(argc > 2 ? std::atoll(argv[2]) : 1000);
    std::printf("ok %d\n", checks);
    return 0;
  }
  check_spin_window();
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
  expect(chord::pool_spin().window_us <= 100, "a straggler drops the spin to the floor",
         long(chord::pool_spin().window_us));
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

  check_spin_cap();
  check_sleeps_after_cap();
  // the workers started above (4 threads: 3 workers) outnumber this machine's CPUs: spin the floor
  if (chord::pool_spin().workers + 1 > usable_cpus()) {
    for (int i = 0; i < 10; ++i) {
      run_job(64, std::chrono::milliseconds(0));
      busy_wait_us(300);
    }
    expect(chord::pool_spin().window_us <= 100, "more threads than CPUs: the spin stays at the floor",
           long(chord::pool_spin().window_us));
  }
  std::printf("ok %d\n", checks);
  return 0;
}
