// The ISA layer (csrc/common/isa.h) for Python: what this CPU supports and what a request
// (honouring CHORD_CPU_ISA) resolves to. chord.backends.cpu wraps these.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "common/isa.h"

namespace py = pybind11;

namespace chord {

void bind_isa(py::module_& m) {
  m.def(
      "cpu_isa", [](const std::string& isa) { return std::string(isa_name(resolve_isa(parse_isa(isa)))); },
      py::arg("isa") = "auto",
      "The ISA a request resolves to on this CPU ('auto' honours CHORD_CPU_ISA); raises ValueError for a bad "
      "name or an ISA this CPU lacks.");
  m.def(
      "cpu_isas",
      []() {
        std::vector<std::string> out;
        for (Isa i : supported_isas()) out.push_back(isa_name(i));
        return out;
      },
      "Every ISA this CPU supports, scalar first.");
  m.def(
      "isa_names",
      []() {
        std::vector<std::string> out;
        for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni, Isa::AvxVnni, Isa::Neon, Isa::NeonDotprod})
          out.push_back(isa_name(i));
        return out;
      },
      "Every ISA name CHORD_CPU_ISA and isa= accept (besides 'auto').");
  m.def(
      "cpu_features",
      []() {
        const CpuFeatures& f = cpu_features();
        py::dict d;
        d["avx2"] = f.avx2;
        d["fma"] = f.fma;
        d["f16c"] = f.f16c;
        d["avx512f"] = f.avx512f;
        d["avx512bw"] = f.avx512bw;
        d["avx512vl"] = f.avx512vl;
        d["avx512dq"] = f.avx512dq;
        d["avx512_vnni"] = f.avx512vnni;
        d["avx_vnni"] = f.avx_vnni;
        d["os_ymm"] = f.os_ymm;
        d["os_zmm"] = f.os_zmm;
        d["neon"] = f.neon;
        d["dotprod"] = f.dotprod;
        return d;
      },
      "Raw CPU/OS features the ISA layer read (cpuid + xgetbv, or getauxval).");
}

}  // namespace chord
