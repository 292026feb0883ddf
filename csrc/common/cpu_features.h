// Run-time CPU feature detection, shared by every kernel family (one place, cached).
#pragma once

namespace chord {

// AVX2 + FMA + F16C: what the *_avx2.cpp kernels are compiled for.
inline bool cpu_has_avx2_fma_f16c() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          __builtin_cpu_supports("f16c");
  return has;
#else
  return false;
#endif
}

// AVX-512F on top of the above: what the *_avx512.cpp kernels are compiled for.
inline bool cpu_has_avx512f() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool has = cpu_has_avx2_fma_f16c() && __builtin_cpu_supports("avx512f");
  return has;
#else
  return false;
#endif
}

}  // namespace chord
