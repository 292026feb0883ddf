// The one ISA layer of chord's CPU kernels: what this CPU can run, which instruction set a call
// runs, and the CHORD_CPU_ISA override. Every kernel family (mp_linear, quantize_pack, mp_topk,
// embedding lookup, the fused runtime) resolves its ISA here, so a pinned ISA means the same
// thing everywhere and a bad one is the same clear error everywhere.
//
// The ISAs are feature sets, each a superset of the ones its predicates below say it includes:
//   scalar        portable C++ (always available; the reference every SIMD path is tested against)
//   avx2          AVX2 + FMA + F16C (with OS support for the YMM state)
//   avx512        avx2 + AVX-512 F/BW/VL/DQ (with OS support for the ZMM/opmask state)
//   avx512_vnni   avx512 + AVX-512 VNNI (vpdpbusd on zmm)
//   avx_vnni      avx2 + AVX-VNNI (VEX vpdpbusd on ymm: VNNI CPUs without AVX-512)
//   neon          AArch64 Advanced SIMD
//   neon_dotprod  neon + the dot-product extension (sdot/udot)
// A family without a kernel for some ISA runs the widest one it has below it (e.g. quantize_pack
// runs its AVX2 kernel under avx512_vnni); that is by design, not a fallback, and never warns.
#pragma once
#include <string>
#include <vector>

namespace chord {

enum class Isa : int {
  Auto = 0,
  Scalar = 1,
  Avx2 = 2,
  Avx512 = 3,
  Avx512Vnni = 4,
  AvxVnni = 5,
  Neon = 6,
  NeonDotprod = 7,
};

// Raw CPU (and OS) features, read once with cpuid / xgetbv (x86) or getauxval (aarch64).
struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false;
  bool avx_vnni = false;
  bool os_ymm = false;  // XCR0 has the SSE and AVX state (OSXSAVE set)
  bool os_zmm = false;  // XCR0 also has the opmask and ZMM state
  bool neon = false, dotprod = false;
};
const CpuFeatures& cpu_features();

// Can this CPU (and OS) run kernels compiled for `isa`? (Auto: true.)
bool isa_supported(Isa isa);
// The best ISA this CPU supports: avx512_vnni > avx512 > avx_vnni > avx2 > scalar (x86),
// neon_dotprod > neon > scalar (aarch64).
Isa best_isa();
// Every ISA (Auto excluded), in the order of the accepted names: what isa= and CHORD_CPU_ISA
// accept besides "auto", on any CPU.
std::vector<Isa> all_isas();
// The ones this CPU supports, scalar first (what tests pin one by one).
std::vector<Isa> supported_isas();

// "scalar", "avx2", ... ("auto" for Auto).
const char* isa_name(Isa isa);
// The accepted spellings, for error messages: "auto, scalar, avx2, avx512, ...".
std::string isa_choices();
// Parse a name (an isa= argument); throws std::invalid_argument naming `what` (e.g.
// "chord::mp_topk: isa") and the accepted values.
Isa parse_isa(const std::string& name, const std::string& what = "isa");

// The ISA a call runs: Auto -> CHORD_CPU_ISA when set (and not "auto"), else best_isa(); an
// explicit request is kept. Throws std::invalid_argument when CHORD_CPU_ISA is not an accepted
// value, or when the requested ISA (from the argument or the variable, which the message names)
// is not supported by this CPU. Reads the variable on every call (tests may change it).
Isa resolve_isa(Isa requested);

// The architecture this file is compiled for: an ISA of another architecture is never
// supported, and the predicates below are constant false for it, so a dispatch branch like
// `if (isa_has_avx2(isa)) dot_f32_avx2(...)` compiles away (kernel files of other
// architectures are not built: CMakeLists.txt; -O1 or more).
#if defined(__x86_64__) || defined(__i386__)
#define CHORD_ARCH_X86 1
#else
#define CHORD_ARCH_X86 0
#endif
#if defined(__aarch64__)
#define CHORD_ARCH_ARM64 1
#else
#define CHORD_ARCH_ARM64 0
#endif

// Feature predicates of a resolved ISA (what kernels may use under it).
inline bool isa_has_avx2(Isa i) {
  return CHORD_ARCH_X86 && (i == Isa::Avx2 || i == Isa::Avx512 || i == Isa::Avx512Vnni || i == Isa::AvxVnni);
}
inline bool isa_has_avx512(Isa i) {
  return CHORD_ARCH_X86 && (i == Isa::Avx512 || i == Isa::Avx512Vnni);
}
inline bool isa_has_avx512_vnni(Isa i) {
  return CHORD_ARCH_X86 && i == Isa::Avx512Vnni;
}
inline bool isa_has_avx_vnni(Isa i) {
  return CHORD_ARCH_X86 && i == Isa::AvxVnni;
}
inline bool isa_has_neon(Isa i) {
  return CHORD_ARCH_ARM64 && (i == Isa::Neon || i == Isa::NeonDotprod);
}
inline bool isa_has_neon_dotprod(Isa i) {
  return CHORD_ARCH_ARM64 && i == Isa::NeonDotprod;
}

}  // namespace chord
