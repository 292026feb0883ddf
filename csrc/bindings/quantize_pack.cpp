// pybind11 glue of chord::quantize_pack (thin: checks arguments, releases the GIL, calls the
// raw-pointer kernel). Called from chord.backends.cpu with numpy views of torch tensors.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "common/array_check.h"
#include "common/isa.h"
#include "quantize_pack/quantize_pack.h"

namespace py = pybind11;

namespace chord {

void bind_quantize_pack(py::module_& m) {
  m.def(
      "quantize_pack",
      [](const py::array& weight, const py::array& perm, const std::vector<int64_t>& buckets, const std::string& scheme,
         const py::array& qweight, const py::array& scales, const py::array& zeros, int nthreads,
         const std::string& isa) {
        constexpr const char* op = "chord::quantize_pack";
        const float* w = pyarg::array_ptr<float>(weight, op, "weight", 2);
        const int64_t N = weight.shape(0), K = weight.shape(1);
        const int32_t* p = pyarg::array_ptr<int32_t>(perm, op, "perm", 1);
        pyarg::expect_len(perm, N, op, "perm (one entry per weight row)");
        uint8_t* qw = pyarg::array_ptr<uint8_t>(qweight, op, "qweight", 1, true);
        float* sc = pyarg::array_ptr<float>(scales, op, "scales", 1, true);
        float* ze = pyarg::array_ptr<float>(zeros, op, "zeros", 1, true);
        pyarg::expect_len(scales, N, op, "scales");
        pyarg::expect_len(zeros, N, op, "zeros");
        qpack::Scheme sch;
        if (scheme == "sym")
          sch = qpack::Scheme::Sym;
        else if (scheme == "asym")
          sch = qpack::Scheme::Asym;
        else
          throw std::invalid_argument(std::string(op) + ": scheme: expected 'sym' or 'asym', got '" + scheme + "'");
        const Isa is = parse_isa(isa, std::string(op) + ": isa");
        py::gil_scoped_release nogil;
        qpack::quantize_pack(w, N, K, K, p, buckets.data(), static_cast<int64_t>(buckets.size()), sch, qw,
                             static_cast<int64_t>(qweight.size()), sc, ze, nthreads, is);
      },
      py::arg("weight"), py::arg("perm"), py::arg("buckets"), py::arg("scheme"), py::arg("qweight"), py::arg("scales"),
      py::arg("zeros"), py::arg("nthreads") = 1, py::arg("isa") = "auto",
      "Quantize float32 weight [N, K] rows (packed order perm int32 [N], bucket table) into qweight uint8 "
      "[total_bytes], scales/zeros float32 [N] (preallocated outputs). isa: a name of common/isa.h ('auto': the "
      "best).");
  m.def(
      "packed_bytes",
      [](const std::vector<int64_t>& buckets, int64_t N, int64_t K) {
        return qpack::packed_bytes(buckets.data(), static_cast<int64_t>(buckets.size()), N, K);
      },
      py::arg("buckets"), py::arg("N"), py::arg("K"));
}

}  // namespace chord
