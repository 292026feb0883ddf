// The ISA layer (csrc/common/isa.h) for Python: what this CPU supports and what a request
// (honouring CHORD_CPU_ISA) resolves to. chord.backends.cpu wraps these.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <utility>
#include <vector>

#include "common/isa.h"

namespace py = pybind11;

namespace chord {
namespace {
std::vector<std::string> names(const std::vector<Isa>& isas) {
  std::vector<std::string> out;
  for (Isa i : isas) out.push_back(isa_name(i));
  return out;
}
}  // namespace

void bind_isa(py::module_& m) {
  m.def(
      "cpu_isa", [](const std::string& isa) { return std::string(isa_name(resolve_isa(parse_isa(isa)))); },
      py::arg("isa") = "auto",
      "The ISA a request resolves to on this CPU ('auto' honours CHORD_CPU_ISA); raises ValueError for a bad "
      "name or an ISA this CPU lacks.");
  m.def("cpu_isas", []() { return names(supported_isas()); }, "Every ISA this CPU supports, scalar first.");
  m.def(
      "isa_names", []() { return names(all_isas()); },
      "Every ISA name CHORD_CPU_ISA and isa= accept (besides 'auto').");
  m.def(
      "cpu_features",
      []() {
        const CpuFeatures& f = cpu_features();
        const std::pair<const char*, bool> named[] = {
            {"avx2", f.avx2},         {"fma", f.fma},           {"f16c", f.f16c},         {"avx512f", f.avx512f},
            {"avx512bw", f.avx512bw}, {"avx512vl", f.avx512vl}, {"avx512dq", f.avx512dq}, {"avx512_vnni", f.avx512vnni},
            {"avx_vnni", f.avx_vnni}, {"os_ymm", f.os_ymm},     {"os_zmm", f.os_zmm},     {"neon", f.neon},
            {"dotprod", f.dotprod}};
        py::dict d;
        for (const auto& [name, on] : named) d[name] = on;
        return d;
      },
      "Raw CPU/OS features the ISA layer read (cpuid + xgetbv, or getauxval).");
}

}  // namespace chord
