// The one thread pool of the CPU kernels (every family uses it; no OpenMP anywhere).
//
// Why not OpenMP: the extension would share torch's libgomp, whose workers spin at barriers; on
// an oversubscribed machine (other processes, torch's own spinning pool) a region's end barrier
// waits for a worker the OS has not scheduled yet, and a 0.3 ms call takes 20-40 ms (measured).
// libgomp also cannot survive fork(): a child that runs a parallel region hangs. Here the calling
// thread claims tasks itself and only waits for tasks already *claimed*: a worker that wakes late
// finds nothing left and goes back to sleep. So the worst case is near the single-thread time,
// and results never depend on who ran which task (callers make every task's output independent
// of the others). After fork() the child starts a fresh pool on first use (pthread_atfork).
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

}  // namespace chord
