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
      [](const py::array& buf, int nthreads, int64_t prefetch_bytes, bool nta, int streams) {
        const uint8_t* p = pyarg::array_ptr<uint8_t>(buf, "read_stream", "buf", 1);
        if (nthreads < 1)
          throw std::invalid_argument("read_stream: nthreads: expected >= 1, got " + std::to_string(nthreads));
        if (prefetch_bytes < 0)
          throw std::invalid_argument("read_stream: prefetch_bytes: expected >= 0, got " +
                                      std::to_string(prefetch_bytes));
        if (streams != 1 && streams != 2 && streams != 4 && streams != 8)
          throw std::invalid_argument("read_stream: streams: expected 1, 2, 4 or 8, got " + std::to_string(streams));
        const int64_t n = buf.size();
        py::gil_scoped_release nogil;
        return membw::read_stream(p, n, nthreads, prefetch_bytes, nta, streams);
      },
      py::arg("buf"), py::arg("nthreads") = 1, py::arg("prefetch_bytes") = 0, py::arg("nta") = false,
      py::arg("streams") = 1,
      "Read a uint8 buffer once (widest loads, independent accumulators; nthreads contiguous shares; optional "
      "software prefetch prefetch_bytes ahead, T0 or non-temporal hint; streams parts of each share read in lockstep, "
      "AVX-512 only: 1, 2, 4 or 8); returns the wrapping sum of its "
      "little-endian 64-bit words (zero-padded), so no load is elided.");
}

}  // namespace chord
