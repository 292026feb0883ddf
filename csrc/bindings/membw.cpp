// The streaming-read probe (csrc/membw/read_stream.h) for chord bench's read-only bandwidth.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "common/array_check.h"
#include "membw/read_stream.h"

namespace py = pybind11;

namespace chord {

void bind_membw(py::module_& m) {
  m.def(
      "read_stream",
      [](const py::array& buf, int nthreads, int64_t prefetch_bytes, bool nta) {
        const uint8_t* p = pyarg::array_ptr<uint8_t>(buf, "read_stream", "buf", 1);
        if (nthreads < 1)
          throw std::invalid_argument("read_stream: nthreads: expected >= 1, got " + std::to_string(nthreads));
        if (prefetch_bytes < 0)
          throw std::invalid_argument("read_stream: prefetch_bytes: expected >= 0, got " +
                                      std::to_string(prefetch_bytes));
        const int64_t n = buf.size();
        py::gil_scoped_release nogil;
        return membw::read_stream(p, n, nthreads, prefetch_bytes, nta);
      },
      py::arg("buf"), py::arg("nthreads") = 1, py::arg("prefetch_bytes") = 0, py::arg("nta") = false,
      "Read a uint8 buffer once (widest loads, independent accumulators; nthreads contiguous shares; optional "
      "software prefetch prefetch_bytes ahead, T0 or non-temporal hint); returns the wrapping sum of its "
      "little-endian 64-bit words (zero-padded), so no load is elided.");
}

}  // namespace chord
