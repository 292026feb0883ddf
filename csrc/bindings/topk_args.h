// The arguments every top-k binding takes alike (chord::mp_topk in topk.cpp, the fused runners'
// topk in runtime.cpp): the candidate lists and the preallocated outputs, numpy views -> raw
// pointers, checked once here so the two bindings cannot drift apart in what they accept.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/array_check.h"

namespace chord {
namespace pyarg {

// Candidate item ids: nullptr (score every item), one list shared by every row (ldc = 0), or
// one list per row (ldc = C).
struct Candidates {
  const int64_t* p = nullptr;
  int64_t C = 0, ldc = 0;
};

// candidates None | int64 [C] | [M, C] (M: the rows being ranked).
inline Candidates candidates(const py::object& o, int64_t M, const char* op) {
  Candidates c;
  if (o.is_none()) return c;
  if (!py::isinstance<py::array>(o))
    throw std::invalid_argument(std::string(op) + ": candidates: expected an int64 array or None");
  const py::array a = py::reinterpret_borrow<py::array>(o);
  if (a.ndim() == 1) {
    c.p = array_ptr<int64_t>(a, op, "candidates", 1);
    c.C = a.shape(0);
    return c;
  }
  c.p = array_ptr<int64_t>(a, op, "candidates", 2);
  if (a.shape(0) != M)
    throw std::invalid_argument(std::string(op) + ": candidates: expected [C] (shared) or [" + std::to_string(M) +
                                ", C] (one list per row), got " + shape_str(a));
  c.C = c.ldc = a.shape(1);
  return c;
}

struct TopkOutputs {
  float* values;
  int64_t* ids;
};

// values float32 [M, k] and ids int64 [M, k], C-contiguous and writable; ids_name: the binding's
// name of the ids argument.
inline TopkOutputs topk_outputs(const py::array& values, const py::array& ids, int64_t M, int64_t k, const char* op,
                                const char* ids_name) {
  TopkOutputs o{array_ptr<float>(values, op, "values", 2, true), array_ptr<int64_t>(ids, op, ids_name, 2, true)};
  if (values.shape(0) != M || values.shape(1) != k || ids.shape(0) != M || ids.shape(1) != k)
    throw std::invalid_argument(std::string(op) + ": outputs: expected [" + std::to_string(M) + ", " +
                                std::to_string(k) + "], got " + shape_str(values) + " and " + shape_str(ids));
  return o;
}

}  // namespace pyarg
}  // namespace chord
