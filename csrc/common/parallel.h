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
// A worker that finishes spins briefly (kSpin) before it sleeps, and so does a caller waiting
// for claimed tasks: waking a sleeping thread (a futex wake-up, slow on a VM) is a large part of
// a sub-millisecond kernel call, and calls often come back to back (the layers of a model).
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
struct PoolStats {
  int64_t shared = 0, alone = 0, stragglers = 0, helped = 0, wait_us = 0;
};
PoolStats pool_stats();

}  // namespace chord
