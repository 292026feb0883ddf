// A tiny task pool for the CPU kernels (used instead of OpenMP regions).
//
// Why not OpenMP: the extension shares torch's libgomp, whose workers spin at barriers; on an
// oversubscribed machine (other processes, torch's own spinning pool) a region's end barrier
// waits for a worker the OS has not scheduled yet, and a 0.3 ms call takes 20-40 ms (measured).
// Here the calling thread claims tasks itself and only waits for tasks already *claimed*: a
// worker that wakes late finds nothing left and goes back to sleep. So the worst case is the
// single-thread time, and results never depend on who ran which task (callers make every
// task's output independent of the others).
#pragma once
#include <cstdint>
#include <functional>

namespace chord {

// Runs fn(t) for every t in [0, ntasks) on up to `nthreads` threads, the caller included;
// returns when all are done. fn must not throw. Concurrent callers are fine: while the pool is
// busy with another caller's job, a call runs on its own thread only.
void parallel_for(int64_t ntasks, int nthreads, const std::function<void(int64_t)>& fn);

}  // namespace chord
