#include "common/isa.h"

#include <cstdlib>
#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace chord {

namespace {

struct IsaEntry {
  Isa isa;
  const char* name;
  const char* needs;  // what a CPU lacking it misses, for the error message
};
// Accepted names, in the order error messages list them.
constexpr IsaEntry kIsas[] = {
    {Isa::Auto, "auto", ""},
    {Isa::Scalar, "scalar", ""},
    {Isa::Avx2, "avx2", "AVX2 + FMA + F16C (with OS YMM support)"},
    {Isa::Avx512, "avx512", "AVX-512 F/BW/VL/DQ (with OS ZMM support)"},
    {Isa::Avx512Vnni, "avx512_vnni", "AVX-512 F/BW/VL/DQ + AVX-512 VNNI"},
    {Isa::AvxVnni, "avx_vnni", "AVX2 + AVX-VNNI"},
    {Isa::Neon, "neon", "AArch64 Advanced SIMD"},
    {Isa::NeonDotprod, "neon_dotprod", "AArch64 Advanced SIMD + the dot-product extension"},
};

const IsaEntry& entry(Isa isa) {
  for (const IsaEntry& e : kIsas)
    if (e.isa == isa) return e;
  static constexpr IsaEntry unknown{Isa::Auto, "?", ""};
  return unknown;
}

#if defined(__x86_64__) || defined(__i386__)
// xgetbv without -mxsave (the instruction is only reached when CPUID says OSXSAVE).
inline unsigned long long xcr0() {
  unsigned eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28);
  f.fma = c & (1u << 12);
  f.f16c = c & (1u << 29);
  if (osxsave && avx) {
    const unsigned long long x = xcr0();
    f.os_ymm = (x & 0x6) == 0x6;                // SSE + AVX state
    f.os_zmm = f.os_ymm && (x & 0xE0) == 0xE0;  // opmask + ZMM_Hi256 + Hi16_ZMM
  }
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = b & (1u << 5);
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512vnni = c & (1u << 11);
    const unsigned subleaves = a;
    if (subleaves >= 1) {
      __cpuid_count(7, 1, a, b, c, d);
      f.avx_vnni = a & (1u << 4);
    }
  }
  // Features whose registers the OS does not save are unusable.
  if (!f.os_ymm) f.avx2 = f.fma = f.f16c = f.avx_vnni = false;
  if (!f.os_zmm) f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512vnni = false;
#elif defined(__aarch64__)
  f.neon = true;  // Advanced SIMD is mandatory on AArch64
#if defined(__linux__) && defined(HWCAP_ASIMDDP)
  f.dotprod = getauxval(AT_HWCAP) & HWCAP_ASIMDDP;
#endif
#endif
  return f;
}

bool has_avx2_set(const CpuFeatures& f) {
  return f.avx2 && f.fma && f.f16c;
}
bool has_avx512_set(const CpuFeatures& f) {
  return has_avx2_set(f) && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
}

std::string supported_list() {
  std::string s;
  for (Isa i : supported_isas()) s += (s.empty() ? "" : ", ") + std::string(isa_name(i));
  return s;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::Auto:
    case Isa::Scalar:
      return true;
    case Isa::Avx2:
      return has_avx2_set(f);
    case Isa::Avx512:
      return has_avx512_set(f);
    case Isa::Avx512Vnni:
      return has_avx512_set(f) && f.avx512vnni;
    case Isa::AvxVnni:
      return has_avx2_set(f) && f.avx_vnni;
    case Isa::Neon:
      return f.neon;
    case Isa::NeonDotprod:
      return f.neon && f.dotprod;
  }
  return false;
}

Isa best_isa() {
  static const Isa best = [] {
    for (Isa i : {Isa::Avx512Vnni, Isa::Avx512, Isa::AvxVnni, Isa::Avx2, Isa::NeonDotprod, Isa::Neon})
      if (isa_supported(i)) return i;
    return Isa::Scalar;
  }();
  return best;
}

std::vector<Isa> all_isas() {
  std::vector<Isa> out;
  for (const IsaEntry& e : kIsas)
    if (e.isa != Isa::Auto) out.push_back(e.isa);
  return out;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa i : all_isas())
    if (isa_supported(i)) out.push_back(i);
  return out;
}

const char* isa_name(Isa isa) {
  return entry(isa).name;
}

std::string isa_choices() {
  std::string s;
  for (const IsaEntry& e : kIsas) s += (s.empty() ? "" : ", ") + std::string(e.name);
  return s;
}

Isa parse_isa(const std::string& name, const std::string& what) {
  for (const IsaEntry& e : kIsas)
    if (name == e.name) return e.isa;
  throw std::invalid_argument(what + ": expected one of " + isa_choices() + ", got '" + name + "'");
}

Isa resolve_isa(Isa requested) {
  std::string source = "isa";
  if (requested == Isa::Auto) {
    const char* env = std::getenv("CHORD_CPU_ISA");
    if (env && *env) {
      requested = parse_isa(env, "CHORD_CPU_ISA");
      source = "CHORD_CPU_ISA";
    }
  }
  if (requested == Isa::Auto) return best_isa();
  if (!isa_supported(requested))
    throw std::invalid_argument(source + "=" + isa_name(requested) + ": this CPU lacks " + entry(requested).needs +
                                " (supported here: " + supported_list() + ")");
  return requested;
}

}  // namespace chord
