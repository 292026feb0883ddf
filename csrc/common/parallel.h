// The one thread pool of the CPU kernels (every family uses it; no OpenMP anywhere).
//
// Why not OpenMP: the extension would share torch's libgomp, whose workers spin at barriers; on
// an oversubscribed machine (other processes, torch's own spinning pool) a region's end barrier
// waits for a worker the OS has not scheduled yet, and a sub-millisecond call takes scheduler
// time slices (reports/2026-12-07-comment-figures.md).
// libgomp also cannot survive fork(): a child that runs a parallel region hangs. Here the calling
// thread claims tasks itself and only waits for tasks already *claimed*: a worker that wakes late
// finds nothing left and goes back to sleep. So the worst case is near the single-thread time,
// and results never depend on who ran which task (callers make every task's output independent
// of the others). After fork() the child starts a fresh pool on first use (pthread_atfork).
// A worker that finishes spins for a while before it sleeps, and so does a caller waiting for
// claimed tasks: waking a sleeping thread (a futex wake-up, slow on a VM) is a large part of a
// sub-millisecond kernel call, and calls often come back to back (the layers of a model). How long
// an idle worker spins adapts to the gaps between jobs (detail::SpinWindow below; capped by
// CHORD_POOL_SPIN_US / set_pool_spin), so it bridges the gap calls actually leave and never burns
// more than the cap after the last one.
// A thread descheduled while it holds a claimed task still makes the caller wait: beside a busy
// process, until the busy one's time slice ends (milliseconds). When the caller's wait for the
// workers' tasks outlasts what they saved it (the time it would have taken to run their tasks
// itself), the job cost more than 1 thread would have, and the pool runs the following jobs on the
// caller alone for a while (a pause that grows while it keeps happening), so 2 threads on a machine
// with one core taken cost about what 1 thread costs, never several times it. A caller that is
// itself descheduled never pauses the pool: the worker then runs the tasks the caller cannot.
// A waiting caller spins longer than a worker, and yields its core only to a worker on the same CPU
// (parallel.cpp says why).
#pragma once
#include <cstdint>
#include <functional>

namespace chord {

// Runs fn(t) for every t in [0, ntasks) on up to `nthreads` threads, the caller included;
// returns when all are done. Concurrent callers are fine: while the pool is busy with another
// caller's job (or when called from inside a task), a call runs on its own thread only.
// If fn throws, the remaining unclaimed tasks are skipped and the first exception is rethrown
// in the caller once every claimed task has finished.
void parallel_for(int64_t ntasks, int nthreads, const std::function<void(int64_t)>& fn);

// The same, with fn(t, slot): slot in [0, nthreads) identifies the thread running the task
// (the caller is slot 0); no two threads of one call share a slot, so per-slot scratch or
// partial results need no locking.
void parallel_for_slots(int64_t ntasks, int nthreads, const std::function<void(int64_t, int)>& fn);

// The same tasks handed out in blocks, for kernels that stream memory task after task: [0,
// ntasks) is cut into one contiguous run per thread, of about equal cost (cum_cost: ntasks + 1
// non-decreasing prefix sums of the tasks' costs, cum_cost[0] = 0; null: equal counts). Slot s
// runs run s in order, then takes the unclaimed tasks of the other runs, so each thread reads
// one contiguous range, and a thread that wakes late or never delays nobody (as above). Tasks
// handed out one at a time across threads measured slower for a memory-bound GEMV
// (reports/2026-12-06-gemv-2.md).
void parallel_for_blocked(int64_t ntasks, int nthreads, const std::function<void(int64_t, int)>& fn,
                          const int64_t* cum_cost = nullptr);

// What the pool did since the process started (or forked): jobs run with its workers (shared),
// jobs run on the caller alone because of a straggler pause, stragglers seen (jobs that started a
// pause), shared jobs where a worker ran at least one task (helped), and the callers' total wait
// for tasks claimed by workers after running out of their own (wait_us, microseconds). For
// benchmarks: a contended 2-thread figure says how it was reached.
// wakeups: times an idle worker had gone to sleep and was woken for a job (a job a spinning worker
// caught counts none): a call that pays the futex wake-up counts one per worker.
struct PoolStats {
  int64_t shared = 0, alone = 0, stragglers = 0, helped = 0, wait_us = 0, wakeups = 0;
};
PoolStats pool_stats();

// The idle workers' spin (the idle policy, parallel.cpp). cap_us: the most an idle worker spins
// before it sleeps (CHORD_POOL_SPIN_US, else set_pool_spin, else 1000; 0: sleep at once);
// window_us: what it spins now (detail::SpinWindow, at most the cap); workers: threads started;
// sleeping: workers blocked now; worker_cpu_us: CPU time the workers used since they started
// (-1 where the OS cannot say). Throws std::invalid_argument for a bad CHORD_POOL_SPIN_US.
struct PoolSpin {
  int64_t cap_us = 0, window_us = 0;
  int workers = 0, sleeping = 0;
  int64_t worker_cpu_us = -1;
};
PoolSpin pool_spin();

// Sets the cap (microseconds, 0 .. kMaxSpinUs); it outranks CHORD_POOL_SPIN_US and holds in a
// forked child. Throws std::invalid_argument naming `spin_us` outside that range.
constexpr int64_t kMaxSpinUs = 1'000'000;
void set_pool_spin(int64_t spin_us);

namespace detail {
// How long an idle worker spins, learned from the gaps between jobs (the time from a job's end to
// the next job's start: what a worker must bridge to take the next job without a wake-up). Like a
// hypervisor's adaptive halt-polling: a gap the spin would have caught changes nothing; a gap
// longer than the spin but within the cap grows the spin to twice that gap (so the gaps around it
// are caught too); a gap past the cap, which no allowed spin catches, halves it (not below kFloor,
// the spin the pool always had); a straggler (a worker that could not run: a busy core,
// parallel.cpp) drops it to kFloor. So after the last job a worker burns at most the cap, and
// while calls keep coming less than the cap apart none pays a wake-up. Pure (no clock, no
// threads): the pool feeds it, tests drive it with made-up gaps.
class SpinWindow {
 public:
  static constexpr int64_t kFloor = 100'000;  // ns
  // what an idle worker spins under `cap` (ns)
  int64_t spin_ns(int64_t cap) const { return window_ < cap ? window_ : cap; }
  void on_gap(int64_t gap, int64_t cap) {
    if (gap <= spin_ns(cap)) return;
    if (gap <= cap) {
      window_ = gap < cap / 2 ? 2 * gap : cap;
    } else {
      window_ = window_ / 2 > kFloor ? window_ / 2 : kFloor;
    }
  }
  void on_straggler() { window_ = kFloor; }

 private:
  int64_t window_ = kFloor;
};
}  // namespace detail

}  // namespace chord
