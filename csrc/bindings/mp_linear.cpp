// pybind11 bindings of the mp_linear kernels (csrc/mp_linear/mp_linear.h): one small function per op.
// Tensors arrive as numpy views of torch CPU tensors (no copies); fp16/bf16 arrive as 16-bit
// integer views with a dtype code. Everything is checked here before the GIL is released;
// bad input raises ValueError (std::invalid_argument) naming the argument.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "mp_linear/mp_linear.h"

namespace py = pybind11;
using namespace chord::mpl;

namespace {

[[noreturn]] void bad(const std::string& m) {
  throw std::invalid_argument(m);
}

std::string shape_of(const py::array& a) {
  std::string s = "[";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + "]";
}

template <class T>
const T* vec1d(const py::array& a, const char* name, const char* tname, int64_t expect = -1) {
  if (!a.dtype().is(py::dtype::of<T>()))
    bad(std::string(name) + ": expected dtype " + tname + ", got " + std::string(py::str(a.dtype())));
  if (a.ndim() != 1) bad(std::string(name) + ": expected a 1-D array, got shape " + shape_of(a));
  if (a.shape(0) > 1 && a.strides(0) != py::ssize_t(sizeof(T)))
    bad(std::string(name) + ": expected a contiguous array");
  if (expect >= 0 && a.shape(0) != expect)
    bad(std::string(name) + ": expected " + std::to_string(expect) + " entries, got " + std::to_string(a.shape(0)));
  return static_cast<const T*>(a.data());
}

DType dtype_code(int code) {
  if (code < 0 || code > 2)
    bad("dtype: expected 0 (float32), 1 (float16) or 2 (bfloat16), got " + std::to_string(code));
  return DType(code);
}

Isa isa_code(const std::string& s) {
  return chord::parse_isa(s, "isa");
}

Path path_code(const std::string& s) {
  if (s == "auto") return Path::Auto;
  if (s == "direct") return Path::Direct;
  if (s == "panel") return Path::Panel;
  if (s == "small") return Path::Small;
  bad("path: expected 'auto', 'direct', 'panel' or 'small', got '" + s + "'");
}

struct XView {
  const void* p;
  int64_t M, K, srow, scol;
  DType dt;
};

XView x_view(const py::array& x, int code, int64_t K) {
  const DType dt = dtype_code(code);
  const py::ssize_t isz = dt == DType::F32 ? 4 : 2;
  if (x.itemsize() != isz || (dt == DType::F32 && !x.dtype().is(py::dtype::of<float>())))
    bad("x: expected " + std::string(dt == DType::F32 ? "float32" : "16-bit") + " elements for dtype code " +
        std::to_string(code) + ", got " + std::string(py::str(x.dtype())));
  if (x.ndim() != 2) bad("x: expected a 2-D array [M, K], got shape " + shape_of(x));
  if (x.shape(1) != K) bad("x: expected shape [M, " + std::to_string(K) + "], got " + shape_of(x));
  for (int d = 0; d < 2; ++d)
    if (x.strides(d) < 0 || x.strides(d) % isz) bad("x: strides must be non-negative multiples of the element size");
  return {x.data(), int64_t(x.shape(0)), K, int64_t(x.strides(0) / isz), int64_t(x.strides(1) / isz), dt};
}

PackedView view(const py::array& qweight, const py::array& scales, const py::array& zeros, const py::object& perm,
                const std::vector<int64_t>& buckets, int64_t K, PermCheck perm_check = PermCheck::Permutation) {
  const uint8_t* q = vec1d<uint8_t>(qweight, "qweight", "uint8");
  const float* s = vec1d<float>(scales, "scales", "float32");
  const float* z = vec1d<float>(zeros, "zeros", "float32");
  const int32_t* p = nullptr;
  int64_t np = 0;
  if (!perm.is_none()) {
    py::array pa = perm.cast<py::array>();
    p = vec1d<int32_t>(pa, "perm", "int32");
    np = pa.shape(0);
  }
  return make_packed_view(q, qweight.shape(0), s, scales.shape(0), z, zeros.shape(0), p, np, buckets.data(),
                          int64_t(buckets.size()), K, perm_check);
}

// A packed weight validated once (make_packed_view: sizes, widths, perm is a permutation) for
// the eager fast path (python/chord/backends/cpu.py::mp_linear_eager); holds the arrays so the
// borrowed pointers stay valid. The weight's tensors must not be modified in place while it
// lives: the Python side keys its cache on the tensors' identities and version counters.
struct PackedWeight {
  py::array qweight, scales, zeros, perm;
  PackedView w;
  // Set for tensors without version counters (torch.inference_mode), whose in-place changes the
  // cache cannot see: every call re-checks that perm stays in range (memory safety, O(N)).
  bool recheck_perm = false;
  // What mp_linear keeps between calls on this weight (the small path's layout), dropped with the
  // handle: the Python side builds a new handle whenever a tensor is replaced or written in place,
  // so a cache never outlives the bytes it was built from. None for recheck_perm handles: their
  // in-place edits go unseen, and a kept layout would go on computing with the old weight.
  std::unique_ptr<WeightCache> cache;
};

}  // namespace

namespace chord {
void bind_mp_linear(py::module_& m) {
  py::class_<PackedWeight>(m, "PackedWeight", "A validated packed weight for mp_linear_ptr (keeps its arrays alive).")
      .def(py::init([](py::array qweight, py::array scales, py::array zeros, py::array perm,
                       const std::vector<int64_t>& buckets, int64_t K, bool recheck_perm) {
             PackedWeight pw{qweight,
                             scales,
                             zeros,
                             perm,
                             view(qweight, scales, zeros, perm, buckets, K),
                             recheck_perm,
                             recheck_perm ? nullptr : std::make_unique<WeightCache>()};
             return pw;
           }),
           py::arg("qweight"), py::arg("scales"), py::arg("zeros"), py::arg("perm"), py::arg("buckets"), py::arg("K"),
           py::arg("recheck_perm") = false)
      .def_property_readonly("N", [](const PackedWeight& pw) { return pw.w.N; })
      .def_property_readonly("K", [](const PackedWeight& pw) { return pw.w.K; })
      .def_property_readonly(
          "cache_bytes", [](const PackedWeight& pw) { return pw.cache ? pw.cache->bytes() : int64_t(0); },
          "Bytes mp_linear_ptr keeps for this weight between calls (the small path's layout, built on the first "
          "call that takes it; at most 128 KiB); 0 before, or for a handle that keeps nothing (recheck_perm).")
      .def_property_readonly(
          "caches", [](const PackedWeight& pw) { return bool(pw.cache); },
          "Whether mp_linear_ptr may keep work between calls (False for recheck_perm handles).");

  // The eager fast path: raw addresses of tensors the caller has validated (CPU, dtype, x
  // [M, K] with these element strides, y [M, N] contiguous rows of stride ldy, bias float32 [N]
  // contiguous or 0). No numpy views, no per-call weight validation: cheaper per call than
  // mp_linear (reports/2026-12-07-call-costs.md).
  m.def(
      "mp_linear_ptr",
      [](const PackedWeight& pw, uintptr_t x, int xdtype, int64_t M, int64_t sx_row, int64_t sx_col, uintptr_t bias,
         int act_bits, uintptr_t y, int64_t ldy, int nthreads) {
        const DType dt = dtype_code(xdtype);
        if (M < 0 || sx_row < 0 || sx_col < 0) bad("x: expected M >= 0 and non-negative strides");
        if (!x || !y) bad("x/y: null address");
        if (ldy < pw.w.N) bad("y: row stride " + std::to_string(ldy) + " < N = " + std::to_string(pw.w.N));
        if (act_bits != 0 && act_bits != 8) bad("act_bits: expected 0 or 8, got " + std::to_string(act_bits));
        if (pw.recheck_perm) {
          const int64_t i = perm_out_of_range(pw.w.perm, pw.w.N);
          if (i >= 0)
            bad("perm: a value left 0.." + std::to_string(pw.w.N - 1) + " (modified in place after packing): perm[" +
                std::to_string(i) + "] = " + std::to_string(pw.w.perm[i]));
        }
        py::gil_scoped_release nogil;
        mp_linear(pw.w, reinterpret_cast<const void*>(x), dt, M, sx_row, sx_col, reinterpret_cast<const float*>(bias),
                  act_bits, reinterpret_cast<void*>(y), dt, ldy, nthreads, Isa::Auto, Path::Auto, pw.cache.get());
      },
      py::arg("packed"), py::arg("x"), py::arg("xdtype"), py::arg("M"), py::arg("sx_row"), py::arg("sx_col"),
      py::arg("bias"), py::arg("act_bits"), py::arg("y"), py::arg("ldy"), py::arg("nthreads"),
      "mp_linear on raw addresses (eager fast path; the caller validated the tensors).");

  m.def(
      "mp_linear",
      [](const py::array& x, int xdtype, const py::array& qweight, const py::array& scales, const py::array& zeros,
         const py::array& perm, const std::vector<int64_t>& buckets, int64_t K, const py::object& bias, int act_bits,
         py::array y, int nthreads, const std::string& isa, const std::string& path, bool perm_checked) {
        const PackedView w =
            view(qweight, scales, zeros, perm, buckets, K, perm_checked ? PermCheck::Range : PermCheck::Permutation);
        const XView xv = x_view(x, xdtype, K);
        const float* b = nullptr;
        if (!bias.is_none()) b = vec1d<float>(bias.cast<py::array>(), "bias", "float32", w.N);
        if (y.itemsize() != x.itemsize() || y.ndim() != 2 || y.shape(0) != xv.M || y.shape(1) != w.N)
          bad("y: expected [" + std::to_string(xv.M) + ", " + std::to_string(w.N) + "] of x's dtype, got " +
              shape_of(y) + " " + std::string(py::str(y.dtype())));
        if (!y.writeable()) bad("y: not writeable");
        // an empty y's strides mean nothing (numpy reports 0 for them)
        if (xv.M > 0 && y.shape(1) > 1 && y.strides(1) != y.itemsize()) bad("y: rows must be contiguous");
        if (y.strides(0) < 0 || y.strides(0) % y.itemsize()) bad("y: bad row stride");
        const int64_t ldy = xv.M > 1 ? int64_t(y.strides(0) / y.itemsize()) : w.N;
        if (act_bits != 0 && act_bits != 8) bad("act_bits: expected 0 or 8, got " + std::to_string(act_bits));
        const Isa is = isa_code(isa);
        const Path pa = path_code(path);
        void* yp = y.mutable_data();
        py::gil_scoped_release nogil;
        mp_linear(w, xv.p, xv.dt, xv.M, xv.srow, xv.scol, b, act_bits, yp, xv.dt, ldy, nthreads, is, pa);
      },
      py::arg("x"), py::arg("xdtype"), py::arg("qweight"), py::arg("scales"), py::arg("zeros"), py::arg("perm"),
      py::arg("buckets"), py::arg("K"), py::arg("bias"), py::arg("act_bits"), py::arg("y"), py::arg("nthreads"),
      py::arg("isa") = "auto", py::arg("path") = "auto", py::arg("perm_checked") = false,
      "y[M, N] (preallocated, x's dtype) = x[M, K] @ W_hat.T + bias, written at original rows via perm. "
      "perm_checked: the caller has checked that perm is a permutation (then only its range is checked here).");

  m.def(
      "mp_linear_path",
      [](const py::array& qweight, const py::array& scales, const py::array& zeros, const py::array& perm,
         const std::vector<int64_t>& buckets, int64_t K, int64_t M, int act_bits, const std::string& isa) {
        const PackedView w = view(qweight, scales, zeros, perm, buckets, K);
        if (M < 0) bad("M: expected >= 0, got " + std::to_string(M));
        const Path p = choose_path(w, M, act_bits, resolve_isa(isa_code(isa)));
        return std::string(p == Path::Panel ? "panel" : p == Path::Small ? "small" : "direct");
      },
      py::arg("qweight"), py::arg("scales"), py::arg("zeros"), py::arg("perm"), py::arg("buckets"), py::arg("K"),
      py::arg("M"), py::arg("act_bits") = 0, py::arg("isa") = "auto",
      "The path ('direct', 'panel' or 'small') mp_linear takes for this weight at batch size M "
      "(csrc/mp_linear/mp_linear_panel.cpp).");

  m.def(
      "mp_linear_score_rows",
      [](const py::array& x, int xdtype, const py::array& qweight, const py::array& scales, const py::array& zeros,
         const std::vector<int64_t>& buckets, int64_t K, int64_t r0, int64_t r1, int act_bits, const std::string& isa) {
        const PackedView w = view(qweight, scales, zeros, py::none(), buckets, K);
        const XView xv = x_view(x, xdtype, K);
        if (r0 < 0 || r1 > w.N || r0 > r1) bad("rows: expected 0 <= r0 <= r1 <= " + std::to_string(w.N));
        py::array_t<float> out({xv.M, r1 - r0});
        float* o = out.mutable_data();
        const Isa is = isa_code(isa);
        {
          py::gil_scoped_release nogil;
          PreparedActs acts(xv.p, xv.dt, xv.M, K, xv.srow, xv.scol, w.width_mask, act_bits, is);
          score_rows(w, acts, r0, r1, o, r1 - r0);
        }
        return out;
      },
      py::arg("x"), py::arg("xdtype"), py::arg("qweight"), py::arg("scales"), py::arg("zeros"), py::arg("buckets"),
      py::arg("K"), py::arg("r0"), py::arg("r1"), py::arg("act_bits") = 0, py::arg("isa") = "auto",
      "Raw scores (no bias) of packed rows [r0, r1) in packed order: float32 [M, r1 - r0].");

  m.def(
      "mp_linear_dequantize_rows",
      [](const py::array& qweight, const py::array& scales, const py::array& zeros, const py::array& perm,
         const std::vector<int64_t>& buckets, int64_t K, int64_t n0, int64_t n1, py::array out, int nthreads) {
        const PackedView w = view(qweight, scales, zeros, perm, buckets, K);
        if (!out.dtype().is(py::dtype::of<float>()) || out.ndim() != 2 || out.shape(0) != n1 - n0 ||
            out.shape(1) != K || (K > 1 && out.strides(1) != 4) || out.strides(0) % 4 || !out.writeable())
          bad("out: expected a writeable float32 [" + std::to_string(n1 - n0) + ", " + std::to_string(K) +
              "] with contiguous rows, got " + shape_of(out));
        if (n0 < 0 || n1 > w.N || n0 > n1) bad("rows: expected 0 <= n0 <= n1 <= " + std::to_string(w.N));
        float* o = static_cast<float*>(out.mutable_data());
        const int64_t ldo = n1 - n0 > 1 ? int64_t(out.strides(0) / 4) : K;
        py::gil_scoped_release nogil;
        dequantize_rows(w, n0, n1, o, ldo, nthreads);
      },
      py::arg("qweight"), py::arg("scales"), py::arg("zeros"), py::arg("perm"), py::arg("buckets"), py::arg("K"),
      py::arg("n0"), py::arg("n1"), py::arg("out"), py::arg("nthreads"),
      "Dequantize original rows [n0, n1) into out float32 [n1 - n0, K].");

  m.def(
      "quantize_activations_int8",
      [](const py::array& x, int xdtype, const std::string& isa) {
        const XView xv = x_view(x, xdtype, x.ndim() == 2 ? int64_t(x.shape(1)) : -1);
        PreparedActs acts(xv.p, xv.dt, xv.M, xv.K, xv.srow, xv.scol, 0, 8, isa_code(isa));
        py::array_t<int8_t> xq({xv.M, xv.K});
        py::array_t<float> sx(xv.M);
        const int64_t Kp = acts.row_stride();
        for (int64_t m = 0; m < xv.M; ++m) {
          std::memcpy(xq.mutable_data() + m * xv.K, acts.act_int8() + m * Kp, size_t(xv.K));
          sx.mutable_data()[m] = acts.act_scales()[m];
        }
        return py::make_tuple(xq, sx);
      },
      py::arg("x"), py::arg("xdtype"), py::arg("isa") = "auto",
      "Per-row dynamic int8 activations (xq int8 [M, K], sx float32 [M]) as the act_bits=8 path computes them.");
}
}  // namespace chord
