// pybind11 glue of chord::mp_topk (thin: checks arguments, releases the GIL, calls the
// raw-pointer kernel). Called from chord.backends.cpu with numpy views of torch tensors.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "bindings/topk_args.h"
#include "common/array_check.h"
#include "common/isa.h"
#include "mp_linear/mp_linear.h"
#include "topk/topk.h"

namespace py = pybind11;

namespace chord {

void bind_topk(py::module_& m) {
  m.def(
      "mp_topk",
      [](const py::array& x, const py::array& qweight, const py::array& scales, const py::array& zeros,
         const py::array& perm, const std::vector<int64_t>& buckets, int64_t K, int64_t k, const py::object& candidates,
         int act_bits, const py::array& values, const py::array& ids, int nthreads, const std::string& isa,
         bool perm_checked) {
        constexpr const char* op = "chord::mp_topk";
        const float* xp = pyarg::array_ptr<float>(x, op, "x", 2);
        const int64_t M = x.shape(0);
        if (x.shape(1) != K)
          throw std::invalid_argument(std::string(op) + ": x: expected shape [M, " + std::to_string(K) + "], got " +
                                      pyarg::shape_str(x));
        const uint8_t* qw = pyarg::array_ptr<uint8_t>(qweight, op, "qweight", 1);
        const float* sc = pyarg::array_ptr<float>(scales, op, "scales", 1);
        const float* ze = pyarg::array_ptr<float>(zeros, op, "zeros", 1);
        const int32_t* pm = pyarg::array_ptr<int32_t>(perm, op, "perm", 1);
        mpl::PackedView w = mpl::make_packed_view(qw, qweight.size(), sc, scales.size(), ze, zeros.size(), nullptr, 0,
                                                  buckets.data(), static_cast<int64_t>(buckets.size()), K);
        if (perm.size() != w.N)
          throw std::invalid_argument(std::string(op) + ": perm: expected " + std::to_string(w.N) +
                                      " entries (as scales), got " + std::to_string(perm.size()));
        // A duplicate id would rank one row twice and drop another: a silent wrong answer. The
        // whole-permutation pass (O(N) with an N-byte table, as long as a 1-row scan) runs here
        // unless the caller says perm was checked: chord's op layer checks it once per tensor
        // version, its eager path once per packed weight (_cpu.PackedWeight). The kernel
        // range-checks every entry it uses either way (memory safety).
        if (!perm_checked) {
          std::vector<char> seen(static_cast<size_t>(w.N), 0);
          for (int64_t i = 0; i < w.N; ++i) {
            const int64_t p = pm[i];
            if (p < 0 || p >= w.N)
              throw std::invalid_argument(std::string(op) + ": perm[" + std::to_string(i) +
                                          "]: expected an item id in 0.." + std::to_string(w.N - 1) + ", got " +
                                          std::to_string(p));
            if (seen[static_cast<size_t>(p)])
              throw std::invalid_argument(std::string(op) + ": perm: not a permutation (item id " + std::to_string(p) +
                                          " appears twice)");
            seen[static_cast<size_t>(p)] = 1;
          }
        }
        w.perm = pm;
        const pyarg::Candidates c = pyarg::candidates(candidates, M, op);
        const pyarg::TopkOutputs out = pyarg::topk_outputs(values, ids, M, k, op, "indices");
        const Isa is = parse_isa(isa, std::string(op) + ": isa");
        py::gil_scoped_release nogil;
        topk::mp_topk(w, xp, M, K, k, c.p, c.C, c.ldc, act_bits, out.values, out.ids, nthreads, is);
      },
      py::arg("x"), py::arg("qweight"), py::arg("scales"), py::arg("zeros"), py::arg("perm"), py::arg("buckets"),
      py::arg("K"), py::arg("k"), py::arg("candidates"), py::arg("act_bits"), py::arg("values"), py::arg("indices"),
      py::arg("nthreads") = 1, py::arg("isa") = "auto", py::arg("perm_checked") = false,
      "Fused scoring + top-k: x float32 [M, K] vs the packed item table (all rows, candidates int64 [C] shared or "
      "[M, C] per row) -> values float32 [M, k], indices int64 [M, k] (preallocated outputs). perm is checked to be "
      "a permutation (O(N)) unless perm_checked=True: the caller already checked it.");
}

}  // namespace chord
