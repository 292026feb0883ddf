// fp32 kernels of the fused model runtime (runtime_sasrec.*): the layers a quantized model
// keeps in float (unswapped nn.Linear, a float item table). Raw pointers, single-threaded
// (the runner splits work). Two builds of the same loops: portable (ref) and AVX2+FMA.
//
// Every output element is one accumulation chain in a fixed order that does not depend on M,
// so a row's result never depends on the batch it is computed in.
#pragma once
#include <cstdint>

namespace chord {
namespace runtime {

struct Fp32Kernels {
  // y[m, n] = bias[n] + sum_k x[m, k] * wt[k, n]  (wt = W^T, [K, N] row-major; bias may be null)
  void (*linear)(const float* x, int64_t M, int64_t ldx, const float* wt, int64_t N, int64_t K, const float* bias,
                 float* y, int64_t ldy);
  // c[M, N] (row stride ldc) = a[M, K] (lda) @ b[K, N] (ldb): register-tiled, one chain per output
  void (*gemm)(const float* a, int64_t M, int64_t lda, const float* b, int64_t ldb, int64_t N, int64_t K, float* c,
               int64_t ldc);
  // out[n - n0] = table[n, :K] . x for n in [n0, n1) (row stride ldt)
  void (*dot_rows)(const float* x, const float* table, int64_t ldt, int64_t n0, int64_t n1, int64_t K, float* out);
  // a . b over K elements
  float (*dot)(const float* a, const float* b, int64_t K);
};

// avx2: the AVX2 build (the caller checks the CPU has it; see mpl::resolve_isa).
const Fp32Kernels& fp32_kernels(bool avx2);

}  // namespace runtime
}  // namespace chord
