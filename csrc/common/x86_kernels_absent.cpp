// Off x86 (AArch64: CMakeLists.txt builds no *_avx2 / *_avx512 file) the dispatchers still name
// a few x86 kernels in branches the ISA layer never takes there (isa_has_avx2() is false on
// every non-x86 CPU) but the compiler cannot drop: values stored in structs, captured by
// reference in a parallel_for task, or kernel tables. They link against these definitions,
// which throw if ever reached (a dispatch bug, reported as such, never a wrong result).
// A new x86 kernel called that way fails the aarch64 link in CI (tools/arm/ci.sh): add it here.
#include "common/isa.h"

#if !CHORD_ARCH_X86
#include <cstdint>
#include <stdexcept>

#include "mp_linear/mp_linear_kernels.h"

namespace chord {
namespace {
[[noreturn]] void absent(const char* fn) {
  throw std::logic_error(std::string("chord: x86 kernel ") + fn + " reached on a non-x86 build (dispatch bug)");
}
}  // namespace

namespace mpl {
void dot_f32_avx2(const uint8_t*, int64_t, int, int64_t, const float*, int64_t, int64_t, float*, int64_t) {
  absent("dot_f32_avx2");
}
void dot_f32_avx512(const uint8_t*, int64_t, int, int64_t, const float*, int64_t, int64_t, float*, int64_t) {
  absent("dot_f32_avx512");
}
void dot_i8_avx2(const uint8_t*, int64_t, int, int64_t, const int8_t*, int64_t, int64_t, const int64_t*, int64_t*,
                 int64_t) {
  absent("dot_i8_avx2");
}
void layout_f32_avx2(const float*, int64_t, int, float*) { absent("layout_f32_avx2"); }
void layout_f32_avx512(const float*, int64_t, int, float*) { absent("layout_f32_avx512"); }
void layout_i8_avx2(const int8_t*, int64_t, int, int8_t*) { absent("layout_i8_avx2"); }
float quantize_row_i8_avx2(const float*, int64_t, int8_t*) { absent("quantize_row_i8_avx2"); }
void dequant_row_avx2(const uint8_t*, int, int64_t, float, float, float*) { absent("dequant_row_avx2"); }
void widen_f16_avx2(const uint16_t*, int64_t, float*) { absent("widen_f16_avx2"); }
void transpose8_avx2(const float*, int64_t, int64_t, float*, int64_t) { absent("transpose8_avx2"); }
}  // namespace mpl

namespace runtime {
namespace avx2 {
void linear_f32(const float*, int64_t, int64_t, const float*, int64_t, int64_t, const float*, float*, int64_t) {
  absent("runtime::avx2::linear_f32");
}
void gemm_nn_f32(const float*, int64_t, int64_t, const float*, int64_t, int64_t, int64_t, float*, int64_t) {
  absent("runtime::avx2::gemm_nn_f32");
}
void dot_rows_f32(const float*, const float*, int64_t, int64_t, int64_t, int64_t, float*) {
  absent("runtime::avx2::dot_rows_f32");
}
float dot_f32(const float*, const float*, int64_t) { absent("runtime::avx2::dot_f32"); }
}  // namespace avx2
}  // namespace runtime
}  // namespace chord
#endif  // !CHORD_ARCH_X86
