// pybind11 glue of the thread pool's counters and idle policy (common/parallel.h): what the one
// thread pool did, for benchmarks that report how a multi-threaded figure was reached, and how long
// its idle workers spin before they sleep.
#include <pybind11/pybind11.h>

#include "common/parallel.h"

namespace py = pybind11;

namespace chord {

void bind_pool(py::module_& m) {
  m.def(
      "pool_stats",
      []() {
        const PoolStats st = pool_stats();
        py::dict d;
        d["shared"] = st.shared;
        d["alone"] = st.alone;
        d["stragglers"] = st.stragglers;
        d["helped"] = st.helped;
        d["wait_us"] = st.wait_us;
        d["wakeups"] = st.wakeups;
        return d;
      },
      "Counts since the process started (or forked): jobs the thread pool ran with its workers "
      "('shared'), jobs it ran on the caller alone during a straggler pause ('alone'), and the "
      "stragglers that started a pause, shared jobs where a worker ran a task ('helped'), the "
      "callers' total wait for tasks claimed by workers in microseconds ('wait_us'), and the times "
      "an idle worker had gone to sleep and was woken for a job ('wakeups'; csrc/common/parallel.h). "
      "Raises ValueError for a bad CHORD_POOL_SPIN_US.");
  m.def(
      "pool_spin",
      []() {
        const PoolSpin sp = pool_spin();
        py::dict d;
        d["cap_us"] = sp.cap_us;
        d["window_us"] = sp.window_us;
        d["workers"] = sp.workers;
        d["sleeping"] = sp.sleeping;
        d["worker_cpu_us"] = sp.worker_cpu_us;
        return d;
      },
      "The idle workers' spin: the cap in microseconds ('cap_us': CHORD_POOL_SPIN_US, else "
      "set_pool_spin, else 1000), what an idle worker spins now ('window_us', adapted to the gaps "
      "between jobs), workers started ('workers'), workers asleep now ('sleeping'), and the CPU time "
      "the workers used ('worker_cpu_us', -1 where the OS cannot say). Raises ValueError for a bad "
      "CHORD_POOL_SPIN_US.");
  m.def(
      "set_pool_spin", [](int64_t spin_us) { set_pool_spin(spin_us); }, py::arg("spin_us"),
      "Sets the most an idle worker spins before it sleeps, in whole microseconds (0: sleep at "
      "once; at most 1000000), from the next job on; it outranks CHORD_POOL_SPIN_US. ValueError "
      "outside that range.");
}

}  // namespace chord
