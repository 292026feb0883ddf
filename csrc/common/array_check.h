// Argument checks for the thin pybind11 layer: numpy views of torch tensors -> raw pointers,
// with errors (std::invalid_argument -> Python ValueError) naming the op, the argument, what
// was expected and what was given.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace chord {
namespace pyarg {

namespace py = pybind11;

inline std::string shape_str(const py::array& a) {
  std::string s = "[";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + "]";
}

// Checks dtype, rank and C-contiguity (and writability for outputs); returns the data pointer.
template <class T>
T* array_ptr(const py::array& a, const char* op, const char* name, int ndim, bool writable = false) {
  const std::string where = std::string(op) + ": " + name + ": ";
  if (!a.dtype().is(py::dtype::of<T>()))
    throw std::invalid_argument(where + "expected dtype " + std::string(py::str(py::dtype::of<T>())) + ", got " +
                                std::string(py::str(a.dtype())));
  if (a.ndim() != ndim)
    throw std::invalid_argument(where + "expected a " + std::to_string(ndim) + "-D array, got shape " + shape_str(a));
  if (!(a.flags() & py::array::c_style))
    throw std::invalid_argument(where + "expected a C-contiguous array, got strides that are not");
  if (writable && !a.writeable()) throw std::invalid_argument(where + "output array is read-only");
  return static_cast<T*>(const_cast<void*>(a.data()));
}

inline void expect_len(const py::array& a, int64_t n, const char* op, const char* name) {
  if (a.size() != n)
    throw std::invalid_argument(std::string(op) + ": " + name + ": expected " + std::to_string(n) + " entries, got " +
                                std::to_string(a.size()));
}

}  // namespace pyarg
}  // namespace chord
