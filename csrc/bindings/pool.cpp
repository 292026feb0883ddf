// pybind11 glue of chord::pool_stats (common/parallel.h): what the one thread pool did, for
// benchmarks that report how a multi-threaded figure was reached.
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
        return d;
      },
      "Counts since the process started (or forked): jobs the thread pool ran with its workers "
      "('shared'), jobs it ran on the caller alone during a straggler pause ('alone'), and the "
      "stragglers that started a pause, shared jobs where a worker ran a task ('helped'), and the "
      "callers' total wait for tasks claimed by workers in microseconds ('wait_us'; "
      "csrc/common/parallel.h).");
}

}  // namespace chord
