// Portable build of the runtime's fp32 kernels (runtime_fp32_kernels.inc) and the dispatcher.
#include "runtime/runtime_fp32.h"

namespace chord {
namespace runtime {
namespace ref {
#include "runtime/runtime_fp32_kernels.inc"
}  // namespace ref

namespace avx2 {  // runtime_fp32_avx2.cpp
void linear_f32(const float* x, int64_t M, int64_t ldx, const float* wt, int64_t N, int64_t K, const float* bias,
                float* y, int64_t ldy);
void gemm_nn_f32(const float* a, int64_t M, int64_t lda, const float* b, int64_t ldb, int64_t N, int64_t K, float* c,
                 int64_t ldc);
void dot_rows_f32(const float* x, const float* table, int64_t ldt, int64_t n0, int64_t n1, int64_t K, float* out);
float dot_f32(const float* a, const float* b, int64_t K);
}  // namespace avx2

const Fp32Kernels& fp32_kernels(bool use_avx2) {
  static const Fp32Kernels r{ref::linear_f32, ref::gemm_nn_f32, ref::dot_rows_f32, ref::dot_f32};
  static const Fp32Kernels a{avx2::linear_f32, avx2::gemm_nn_f32, avx2::dot_rows_f32, avx2::dot_f32};
  return use_avx2 ? a : r;
}

}  // namespace runtime
}  // namespace chord
