// Thin pybind11 layer over the raw-pointer kernels.
#include <pybind11/pybind11.h>
namespace py = pybind11;

namespace chord {
void bind_quantize_pack(py::module_& m);     // bindings/quantize_pack.cpp
void bind_topk(py::module_& m);              // bindings/topk.cpp
void bind_mp_linear(py::module_& m);         // bindings/mp_linear.cpp
void bind_embedding_lookup(py::module_& m);  // bindings/embedding.cpp
void bind_isa(py::module_& m);               // bindings/isa.cpp
void bind_format(py::module_& m);            // bindings/format.cpp
void bind_runtime(py::module_& m);           // bindings/runtime.cpp
void bind_membw(py::module_& m);             // bindings/membw.cpp
void bind_pool(py::module_& m);              // bindings/pool.cpp
}  // namespace chord

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "chord C++ CPU kernels";
  chord::bind_quantize_pack(m);
  chord::bind_topk(m);
  chord::bind_mp_linear(m);
  chord::bind_embedding_lookup(m);
  chord::bind_runtime(m);
  chord::bind_isa(m);
  chord::bind_format(m);
  chord::bind_membw(m);
  chord::bind_pool(m);
}
