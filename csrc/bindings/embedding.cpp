// Row gather of a per-row packed embedding table (QuantizedEmbedding.forward on CPU): one
// native call per lookup instead of ~10 torch ops per width bucket, which at a batch-1 history
// of 50 ids cost ~40 us against ~4 us for nn.Embedding.
//
// Inputs are QuantizedEmbedding's per-original-row tables (row_bits, row_slot, row_scale,
// row_zero) and the byte offset / row count of each width bucket; values are computed exactly
// as the torch path does, (float(u) - zero) * scale in float32, and pruned rows are 0.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/array_check.h"

namespace py = pybind11;

namespace chord {
namespace {

constexpr const char* kOp = "chord::embedding_lookup";

[[noreturn]] void bad(const std::string& msg) { throw std::invalid_argument(std::string(kOp) + ": " + msg); }

inline int64_t row_bytes(int64_t K, int bits) {  // python/chord/format.py: 16-byte blocks along K
  const int64_t be = 16 * (8 / bits);
  return (K + be - 1) / be * 16;
}

}  // namespace

void bind_embedding_lookup(py::module_& m) {
  m.def(
      "embedding_lookup",
      [](const py::array& ids, const py::array& qweight, const py::array& row_bits, const py::array& row_slot,
         const py::array& row_scale, const py::array& row_zero, const std::vector<std::vector<int64_t>>& buckets,
         int64_t K, const py::array& out) {
        const int64_t* id = pyarg::array_ptr<int64_t>(ids, kOp, "ids", 1);
        const uint8_t* qw = pyarg::array_ptr<uint8_t>(qweight, kOp, "qweight", 1);
        const int64_t* rbits = pyarg::array_ptr<int64_t>(row_bits, kOp, "row_bits", 1);
        const int64_t* rslot = pyarg::array_ptr<int64_t>(row_slot, kOp, "row_slot", 1);
        const float* rscale = pyarg::array_ptr<float>(row_scale, kOp, "row_scale", 1);
        const float* rzero = pyarg::array_ptr<float>(row_zero, kOp, "row_zero", 1);
        float* o = pyarg::array_ptr<float>(out, kOp, "out", 2, /*writable=*/true);
        const int64_t n = ids.size(), N = row_bits.size(), nbytes = qweight.size();
        if (K < 1) bad("K: expected >= 1, got " + std::to_string(K));
        pyarg::expect_len(row_slot, N, kOp, "row_slot");
        pyarg::expect_len(row_scale, N, kOp, "row_scale");
        pyarg::expect_len(row_zero, N, kOp, "row_zero");
        if (out.shape(0) != n || out.shape(1) != K)
          bad("out: expected shape [" + std::to_string(n) + ", " + std::to_string(K) + "], got " + pyarg::shape_str(out));
        // buckets: [bits, byte_offset, rows] per live width; any width not listed has no rows
        int64_t off[9] = {0}, rows[9] = {0};
        for (const auto& bk : buckets) {
          if (bk.size() != 3) bad("buckets: expected [bits, byte_offset, rows] entries");
          const int64_t b = bk[0];
          if (b != 1 && b != 2 && b != 4 && b != 8) bad("buckets: bits " + std::to_string(b) + " not in {1, 2, 4, 8}");
          if (bk[1] < 0 || bk[2] < 0 || bk[1] + bk[2] * row_bytes(K, int(b)) > nbytes)
            bad("buckets: the " + std::to_string(b) + "-bit bucket overruns qweight (" + std::to_string(nbytes) +
                " bytes)");
          off[b] = bk[1];
          rows[b] = bk[2];
        }
        {  // microseconds of work: the GIL is kept
          for (int64_t i = 0; i < n; ++i) {
            const int64_t r = id[i];
            if (r < 0 || r >= N) {
              throw py::index_error(std::string(kOp) + ": ids: index " + std::to_string(r) + " out of range [0, " +
                                    std::to_string(N) + ")");
            }
            float* y = o + i * K;
            const int64_t b = rbits[r];
            if (b == 0) {
              std::memset(y, 0, size_t(K) * sizeof(float));
              continue;
            }
            if ((b != 1 && b != 2 && b != 4 && b != 8) || rslot[r] < 0 || rslot[r] >= rows[b]) {
              bad("row " + std::to_string(r) + ": width " + std::to_string(b) + " / slot " + std::to_string(rslot[r]) +
                  " does not match the buckets");
            }
            // planar blocks: byte j of a 16-byte block holds elements j, j + 16, ... in bits [0, b), [b, 2b), ...
            const uint8_t* p = qw + off[b] + rslot[r] * row_bytes(K, int(b));
            const int epb = 8 / int(b);
            const unsigned mask = (1u << b) - 1u;
            const float scale = rscale[r], zero = rzero[r];
            const int64_t be = 16 * epb;
            for (int64_t blk = 0; blk * be < K; ++blk, p += 16)
              for (int s = 0; s < epb; ++s) {
                const int64_t e0 = blk * be + 16 * s;
                const int64_t ne = K - e0 < 16 ? K - e0 : 16;
                for (int64_t j = 0; j < ne; ++j)
                  {
                  const unsigned u = (static_cast<unsigned>(p[j]) >> (s * static_cast<int>(b))) & mask;
                  y[e0 + j] = (static_cast<float>(u) - zero) * scale;
                }
              }
          }
        }
      },
      py::arg("ids"), py::arg("qweight"), py::arg("row_bits"), py::arg("row_slot"), py::arg("row_scale"),
      py::arg("row_zero"), py::arg("buckets"), py::arg("K"), py::arg("out"),
      "Gather + dequantize rows of a per-row packed table into out[n, K] (QuantizedEmbedding.forward).");
}

}  // namespace chord
