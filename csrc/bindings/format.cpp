// csrc/common/format.h for Python, so tests/test_format_header.py can check it against
// python/chord/format.py (the header is the C++ side of that contract).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <tuple>
#include <vector>

#include "common/format.h"

namespace py = pybind11;

namespace chord {

void bind_format(py::module_& m) {
  py::dict c;
  c["FORMAT_VERSION"] = fmt::kFormatVersion;
  c["BLOCK_BYTES"] = fmt::kBlockBytes;
  c["BUCKET_ORDER"] = py::make_tuple(fmt::kBucketOrder[0], fmt::kBucketOrder[1], fmt::kBucketOrder[2],
                                     fmt::kBucketOrder[3], fmt::kBucketOrder[4]);
  m.attr("format_constants") = c;
  m.def("format_block_elems", [](int bits) { return fmt::block_elems(bits); }, py::arg("bits"));
  m.def(
      "format_padded_k", [](int64_t K, int bits) { return fmt::padded_k_checked(K, bits, "padded_k"); }, py::arg("K"),
      py::arg("bits"));
  m.def(
      "format_row_bytes", [](int64_t K, int bits) { return fmt::row_bytes_checked(K, bits, "row_bytes"); },
      py::arg("K"), py::arg("bits"));
  m.def(
      "format_plane_elem", [](int64_t blk, int i, int j, int bits) { return fmt::plane_elem(blk, i, j, bits); },
      py::arg("blk"), py::arg("i"), py::arg("j"), py::arg("bits"));
  m.def(
      "format_bucket_spans",
      [](const std::vector<int64_t>& buckets, int64_t K, int64_t N) {
        int64_t total = 0;
        const auto spans = fmt::bucket_spans(buckets.data(), int64_t(buckets.size()), K, N, "format", &total);
        std::vector<std::tuple<int, int64_t, int64_t, int64_t>> out;
        for (const auto& s : spans) out.emplace_back(s.bits, s.row_start, s.rows, s.byte_offset);
        return py::make_tuple(out, total);
      },
      py::arg("buckets"), py::arg("K"), py::arg("N"),
      "([(bits, row_start, rows, byte_offset), ...], total_bytes), as format.bucket_spans / total_bytes.");
}

}  // namespace chord
