// AVX-512F GEMM microkernel of the panel path (mp_linear_panel.cpp): C tile of up to 6 rows x
// 64 columns in 24 zmm accumulators; per k, 4 aligned panel loads and 6 broadcasts (folded
// into the FMAs as embedded broadcasts) feed 24 FMAs, so the two FMA pipes stay busy with the
// panel in L1/L2. The last column vector of a tile is stored masked (N tails).
#include "common/x86_intrin.h"

#include <cstdint>

#include "mp_linear/mp_linear_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma,f16c")

namespace chord {
namespace mpl {
namespace {

template <int MR, int NV>
inline void ukr(const float* x, int64_t ldx, const float* p, int64_t ldp, int64_t K, const float* bias_p,
                const uint32_t* keep_p, float* c, int64_t ldc, __mmask16 tail) {
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const float* pk = p + k * ldp;
    __m512 b[NV];
    for (int v = 0; v < NV; ++v) b[v] = _mm512_load_ps(pk + 16 * v);
    for (int r = 0; r < MR; ++r) {
      const __m512 a = _mm512_set1_ps(x[r * ldx + k]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
    }
  }
  for (int v = 0; v < NV; ++v) {
    const __m512 bv = _mm512_load_ps(bias_p + 16 * v);
    const __m512i kv = _mm512_load_si512(keep_p + 16 * v);
    for (int r = 0; r < MR; ++r) {
      // pruned columns: bias + 0 exactly, even when the sum is NaN/Inf
      const __m512 o = _mm512_add_ps(bv, _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(acc[r][v]), kv)));
      if (v == NV - 1)
        _mm512_mask_storeu_ps(c + r * ldc + 16 * v, tail, o);
      else
        _mm512_storeu_ps(c + r * ldc + 16 * v, o);
    }
  }
}

template <int MR>
inline void ukr_nv(int nv, const float* x, int64_t ldx, const float* p, int64_t ldp, int64_t K, const float* bias_p,
                   const uint32_t* keep_p, float* c, int64_t ldc, __mmask16 tail) {
  switch (nv) {
    case 1:
      return ukr<MR, 1>(x, ldx, p, ldp, K, bias_p, keep_p, c, ldc, tail);
    case 2:
      return ukr<MR, 2>(x, ldx, p, ldp, K, bias_p, keep_p, c, ldc, tail);
    case 3:
      return ukr<MR, 3>(x, ldx, p, ldp, K, bias_p, keep_p, c, ldc, tail);
    default:
      return ukr<MR, 4>(x, ldx, p, ldp, K, bias_p, keep_p, c, ldc, tail);
  }
}

// The last nm % 6 rows (0 to 5) of a column tile: one microkernel of exactly that height.
template <int MR>
inline void ukr_rows(int rows, int nv, const float* x, int64_t ldx, const float* p, int64_t ldp, int64_t K,
                     const float* bias_p, const uint32_t* keep_p, float* c, int64_t ldc, __mmask16 tail) {
  if constexpr (MR > 0) {
    if (rows == MR)
      ukr_nv<MR>(nv, x, ldx, p, ldp, K, bias_p, keep_p, c, ldc, tail);
    else
      ukr_rows<MR - 1>(rows, nv, x, ldx, p, ldp, K, bias_p, keep_p, c, ldc, tail);
  }
}

}  // namespace

void panel_gemm_avx512(const float* x, int64_t ldx, int64_t nm, const float* p, int64_t K, int64_t nc,
                       const float* bias_p, const uint32_t* keep_p, float* c, int64_t ldc) {
  for (int64_t j = 0; j < nc; j += 64) {
    const int64_t w = nc - j < 64 ? nc - j : 64;
    const int nv = int((w + 15) / 16);
    const __mmask16 tail = (w % 16) ? __mmask16((1u << (w % 16)) - 1u) : __mmask16(0xffff);
    const float* pj = p + (j / 64) * K * 64;  // this tile: [K, 64]
    const int64_t ldp = 64;
    int64_t m = 0;
    for (; m + 6 <= nm; m += 6)
      ukr_nv<6>(nv, x + m * ldx, ldx, pj, ldp, K, bias_p + j, keep_p + j, c + m * ldc + j, ldc, tail);
    if (m < nm)
      ukr_rows<5>(int(nm - m), nv, x + m * ldx, ldx, pj, ldp, K, bias_p + j, keep_p + j, c + m * ldc + j, ldc, tail);
  }
}

}  // namespace mpl
}  // namespace chord

#pragma GCC pop_options
