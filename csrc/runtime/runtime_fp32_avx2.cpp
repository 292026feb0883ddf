// AVX2+FMA build of the runtime's fp32 kernels (runtime_fp32_kernels.inc): the same loops,
// vectorized 8-wide by the compiler under a target pragma; selected at run time.
#include "common/x86_intrin.h"

#include <cstdint>

#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace chord {
namespace runtime {
namespace avx2 {
#define CHORD_RUNTIME_AVX2 1
#include "runtime/runtime_fp32_kernels.inc"
#undef CHORD_RUNTIME_AVX2
}  // namespace avx2
}  // namespace runtime
}  // namespace chord

#pragma GCC pop_options
