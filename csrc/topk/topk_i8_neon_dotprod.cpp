// SDOT (FEAT_DotProd) dots of the AArch64 int8 scan of chord::mp_topk (topk_i8_neon.cpp holds
// the scan and its epilogue; this file only the dot products, compiled for armv8.2-a+dotprod
// and called only under the neon_dotprod ISA). Nothing but intrinsics after the pragma.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstdint>

#include "topk/topk_vnni.h"

#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")

#define CHORD_DOTS_SDOT 1
#define CHORD_DOTS_NAME dots_i8_neon_dotprod
#include "topk/topk_i8_neon_dots.inc"

#pragma GCC pop_options
#endif  // __aarch64__
