// pybind11 glue of chord::embedding_lookup (csrc/embedding/embedding.h): checks arguments and
// calls the raw-pointer kernel. Microseconds of work: the GIL is kept.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/array_check.h"
#include "embedding/embedding.h"

namespace py = pybind11;

namespace chord {

void bind_embedding_lookup(py::module_& m) {
  m.def(
      "embedding_lookup",
      [](const py::array& ids, const py::array& qweight, const py::array& row_bits, const py::array& row_slot,
         const py::array& row_scale, const py::array& row_zero, const std::vector<std::vector<int64_t>>& buckets,
         int64_t K, const py::array& out, const std::string& isa) {
        constexpr const char* op = "chord::embedding_lookup";
        const int64_t* id = pyarg::array_ptr<int64_t>(ids, op, "ids", 1);
        const uint8_t* qw = pyarg::array_ptr<uint8_t>(qweight, op, "qweight", 1);
        const int64_t* rbits = pyarg::array_ptr<int64_t>(row_bits, op, "row_bits", 1);
        const int64_t* rslot = pyarg::array_ptr<int64_t>(row_slot, op, "row_slot", 1);
        const float* rscale = pyarg::array_ptr<float>(row_scale, op, "row_scale", 1);
        const float* rzero = pyarg::array_ptr<float>(row_zero, op, "row_zero", 1);
        float* o = pyarg::array_ptr<float>(out, op, "out", 2, /*writable=*/true);
        const int64_t n = ids.size(), N = row_bits.size();
        pyarg::expect_len(row_slot, N, op, "row_slot");
        pyarg::expect_len(row_scale, N, op, "row_scale");
        pyarg::expect_len(row_zero, N, op, "row_zero");
        std::vector<int64_t> flat;
        for (const auto& bk : buckets) {
          if (bk.size() != 3)
            throw std::invalid_argument(std::string(op) + ": buckets: expected [bits, byte_offset, rows] entries");
          flat.insert(flat.end(), bk.begin(), bk.end());
        }
        const embedding::Table t = embedding::make_table(qw, qweight.size(), rbits, rslot, rscale, rzero, N,
                                                         flat.data(), int64_t(buckets.size()), K);
        if (out.shape(0) != n || out.shape(1) != K)
          throw std::invalid_argument(std::string(op) + ": out: expected shape [" + std::to_string(n) + ", " +
                                      std::to_string(K) + "], got " + pyarg::shape_str(out));
        embedding::lookup(t, id, n, o, parse_isa(isa, std::string(op) + ": isa"));
      },
      py::arg("ids"), py::arg("qweight"), py::arg("row_bits"), py::arg("row_slot"), py::arg("row_scale"),
      py::arg("row_zero"), py::arg("buckets"), py::arg("K"), py::arg("out"), py::arg("isa") = "auto",
      "Gather + dequantize rows of a per-row packed table into out[n, K] (QuantizedEmbedding.forward).");
}

}  // namespace chord
