// Kernels of another architecture, for the dispatchers' sake. Off x86 (AArch64: CMakeLists.txt
// builds no *_avx2 / *_avx512 file) and off AArch64 (the *_neon*.cpp files compile to nothing),
// the dispatchers still name kernels of the other architecture in branches the ISA layer never
// takes there (isa_has_avx2() / isa_has_neon() are constant false off their architecture) but
// that the compiler cannot always drop: flags stored in structs or captured by reference in a
// parallel_for task, kernel tables. They link against these definitions, which throw if ever
// reached (a dispatch bug, reported as such, never a wrong result). A new kernel called that way
// fails the other architecture's link (x86: setup.py; aarch64: tools/arm/ci.sh in CI): add it here.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/isa.h"
#include "mp_linear/mp_linear_kernels.h"
#include "mp_linear/mp_linear_small_i8.h"
#include "quantize_pack/quantize_pack.h"
#include "topk/topk_score.h"
#include "topk/topk_vnni.h"

namespace chord {
namespace {
[[noreturn]] [[maybe_unused]] void absent(const char* fn) {
  throw std::logic_error(std::string("chord: kernel ") + fn + " of another architecture reached (dispatch bug)");
}
}  // namespace

#if !CHORD_ARCH_ARM64
namespace mpl {
void dot_f32_neon(const uint8_t*, int64_t, int, int64_t, const float*, int64_t, int64_t, float*, int64_t) {
  absent("dot_f32_neon");
}
void dot_i8_neon(const uint8_t*, int64_t, int, int64_t, const int8_t*, int64_t, int64_t, const int64_t*, int64_t*,
                 int64_t) {
  absent("dot_i8_neon");
}
void dot_i8_neon_dotprod(const uint8_t*, int64_t, int, int64_t, const int8_t*, int64_t, int64_t, const int64_t*,
                         int64_t*, int64_t) {
  absent("dot_i8_neon_dotprod");
}
void dequant_row_neon(const uint8_t*, int, int64_t, float, float, float*) {
  absent("dequant_row_neon");
}
float quantize_row_i8_neon(const float*, int64_t, int8_t*) {
  absent("quantize_row_i8_neon");
}
}  // namespace mpl
namespace topk {
void scan_i8_neon(const mpl::PackedView&, const mpl::BucketSpan&, int64_t, int64_t, const VnniUser*, int, bool) {
  absent("topk::scan_i8_neon");
}
}  // namespace topk
namespace qpack {
bool quantize_row_neon(const float*, int64_t, int, Scheme, uint8_t*, float*, float*) {
  absent("quantize_row_neon");
}
}  // namespace qpack
#endif  // !CHORD_ARCH_ARM64

#if !CHORD_ARCH_X86

namespace mpl {
void dot_f32_avx2(const uint8_t*, int64_t, int, int64_t, const float*, int64_t, int64_t, float*, int64_t) {
  absent("dot_f32_avx2");
}
void dot_f32_avx512(const uint8_t*, int64_t, int, int64_t, const float*, int64_t, int64_t, float*, int64_t) {
  absent("dot_f32_avx512");
}
void dot_i8_avx2(const uint8_t*, int64_t, int, int64_t, const int8_t*, int64_t, int64_t, const int64_t*, int64_t*,
                 int64_t, const uint8_t*) {
  absent("dot_i8_avx2");
}
void layout_f32_avx2(const float*, int64_t, int, float*) {
  absent("layout_f32_avx2");
}
void layout_f32_avx512(const float*, int64_t, int, float*) {
  absent("layout_f32_avx512");
}
void layout_i8_avx2(const int8_t*, int64_t, int, int8_t*) {
  absent("layout_i8_avx2");
}
float quantize_row_i8_avx2(const float*, int64_t, int8_t*, int64_t*) {
  absent("quantize_row_i8_avx2");
}
void dequant_row_avx2(const uint8_t*, int, int64_t, float, float, float*) {
  absent("dequant_row_avx2");
}
void widen_f16_avx2(const uint16_t*, int64_t, float*) {
  absent("widen_f16_avx2");
}
void transpose8_avx2(const float*, int64_t, int64_t, float*, int64_t) {
  absent("transpose8_avx2");
}
void unpack_i8_avx2(const uint8_t*, int64_t, int, uint8_t*) {
  absent("unpack_i8_avx2");
}
void gemm_i8_avx2_packed(const int8_t*, int64_t, int64_t, const uint8_t*, int64_t, int, int64_t, int64_t,
                         const int64_t*, int32_t*, int64_t) {
  absent("gemm_i8_avx2_packed");
}
void gemm_i8_avxvnni(const int8_t*, int64_t, int64_t, const uint8_t*, int64_t, int64_t, int64_t, int, const int64_t*,
                     int32_t*, int64_t, const uint8_t*, int64_t) {
  absent("gemm_i8_avxvnni");
}
void gemm_i8_vnni_packed(const int8_t*, int64_t, int64_t, const uint8_t*, int64_t, int, int64_t, int64_t, int32_t*,
                         int64_t, const uint8_t*, int64_t) {
  absent("gemm_i8_vnni_packed");
}
void unpack_i8_vnni_quad(const uint8_t* const*, const int64_t*, const int*, int, int64_t, uint8_t*) {
  absent("unpack_i8_vnni_quad");
}
void gemm_i8_vnni_quad(const int8_t*, int64_t, int64_t, const uint8_t*, int64_t, int64_t, int64_t, int32_t*, int64_t) {
  absent("gemm_i8_vnni_quad");
}
void epilogue_i8_avx512(const int32_t*, int64_t, int64_t, int64_t, const double*, const double*, const double*,
                        const int32_t*, const int64_t*, const float*, float*, int64_t) {
  absent("epilogue_i8_avx512");
}
void epilogue_i8_avx2(const int32_t*, int64_t, int64_t, int64_t, const double*, const double*, const double*,
                      const int32_t*, const int64_t*, const float*, float*, int64_t) {
  absent("epilogue_i8_avx2");
}
void epilogue_gemv_i8_avx512(const int64_t*, int64_t, const float*, const float*, double, double, double*) {
  absent("epilogue_gemv_i8_avx512");
}
void scatter_rows_avx512(const double*, int64_t, const int32_t*, const float*, float*) {
  absent("scatter_rows_avx512");
}
void epilogue_gemv_f32_avx512(const float*, int64_t, const float*, const float*, const int32_t*, const float*, double,
                              float*) {
  absent("epilogue_gemv_f32_avx512");
}
void dot_i8_rows16_avx512vnni(const uint8_t*, int64_t, int, int64_t, const int8_t*, int64_t, int64_t, int64_t*, int64_t,
                              const uint8_t*) {
  absent("dot_i8_rows16_avx512vnni");
}
void dot_i8_rows8_avx2(const uint8_t*, int64_t, int, int64_t, const int8_t*, int64_t, int64_t, const int64_t*, int64_t*,
                       int64_t) {
  absent("dot_i8_rows8_avx2");
}
void gemm_i8_quads_avx2(const int8_t*, int64_t, int64_t, const uint8_t*, int64_t, int64_t, int, int32_t*, int64_t) {
  absent("gemm_i8_quads_avx2");
}
void layout_quads_avx2(const uint8_t*, int64_t, int64_t, uint8_t*) {
  absent("layout_quads_avx2");
}
void split_nibbles_avx2(const uint8_t*, int64_t, uint8_t*, uint8_t*) {
  absent("split_nibbles_avx2");
}
void epilogue_small_i8_avx2(const int32_t*, int64_t, const float*, const float*, const double*, const int32_t*, double,
                            double, float*) {
  absent("epilogue_small_i8_avx2");
}
}  // namespace mpl

namespace qpack {
bool quantize_row_avx2(const float*, int64_t, int, Scheme, uint8_t*, float*, float*) {
  absent("quantize_row_avx2");
}
}  // namespace qpack

namespace topk {
float dot8_avx2(const uint8_t*, int64_t, const float*, float) {
  absent("topk::dot8_avx2");
}
float dotq_avx2(const uint8_t*, int, int64_t, const float*, float) {
  absent("topk::dotq_avx2");
}
void scan_vnni(const mpl::PackedView&, const mpl::BucketSpan&, int64_t, int64_t, const VnniUser*, int) {
  absent("topk::scan_vnni");
}
void scan_i8_avx2(const mpl::PackedView&, const mpl::BucketSpan&, int64_t, int64_t, const VnniUser*, int) {
  absent("topk::scan_i8_avx2");
}
}  // namespace topk

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
float dot_f32(const float*, const float*, int64_t) {
  absent("runtime::avx2::dot_f32");
}
}  // namespace avx2
}  // namespace runtime
#endif  // !CHORD_ARCH_X86
}  // namespace chord
