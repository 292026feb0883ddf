// AVX2+FMA pieces of the panel path (mp_linear_panel.cpp): the 6 x 16 GEMM microkernel (12 ymm
// accumulators, 2 panel loads + 6 broadcasts per 12 FMAs) and the 8 x 8 transpose that turns
// dequantized weight rows into panel columns. Raw loops and intrinsics only (see
// mp_linear_avx2.cpp for why: no header templates in target-pragma files).
#include "common/x86_intrin.h"

#include <cstdint>

#include "mp_linear/mp_linear_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace chord {
namespace mpl {
namespace {

// Named accumulators (aRV: row R, vector V): with an array GCC stores every accumulator to the
// stack on each k step (7 stores per 12 FMAs at 6 x 16: the stores, not the FMAs, set the pace).
#define CHORD_FMA_ROW(R)                                             \
  if constexpr (MR > R) {                                            \
    const __m256 a = _mm256_broadcast_ss(x + R * ldx + k);           \
    a##R##0 = _mm256_fmadd_ps(a, b0, a##R##0);                       \
    if constexpr (NV > 1) a##R##1 = _mm256_fmadd_ps(a, b1, a##R##1); \
  }
#define CHORD_STORE_ROW(R, V)                                                                  \
  if constexpr (MR > R) {                                                                      \
    const __m256 o = _mm256_add_ps(bv, _mm256_and_ps(a##R##V, kv)); /* pruned: bias exactly */ \
    if (V == NV - 1)                                                                           \
      _mm256_maskstore_ps(c + R * ldc + 8 * V, tail, o);                                       \
    else                                                                                       \
      _mm256_storeu_ps(c + R * ldc + 8 * V, o);                                                \
  }

template <int MR, int NV>
// noinline + no tree-PRE: see mp_linear_gemm_i8_avx512.cpp (accumulators kept in registers).
__attribute__((noinline, optimize("no-tree-pre"))) void ukr(const float* x, int64_t ldx, const float* p, int64_t ldp,
                                                            int64_t K, const float* bias_p, const uint32_t* keep_p,
                                                            float* c, int64_t ldc, __m256i tail) {
  const __m256 z = _mm256_setzero_ps();
  __m256 a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z, a40 = z, a41 = z, a50 = z, a51 = z;
  for (int64_t k = 0; k < K; ++k) {
    const float* pk = p + k * ldp;
    const __m256 b0 = _mm256_load_ps(pk);
    const __m256 b1 = NV > 1 ? _mm256_load_ps(pk + 8) : z;
    CHORD_FMA_ROW(0) CHORD_FMA_ROW(1) CHORD_FMA_ROW(2) CHORD_FMA_ROW(3) CHORD_FMA_ROW(4) CHORD_FMA_ROW(5)
  }
  {
    const __m256 bv = _mm256_load_ps(bias_p);
    const __m256 kv = _mm256_castsi256_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(keep_p)));
    CHORD_STORE_ROW(0, 0)
    CHORD_STORE_ROW(1, 0) CHORD_STORE_ROW(2, 0) CHORD_STORE_ROW(3, 0) CHORD_STORE_ROW(4, 0) CHORD_STORE_ROW(5, 0)
  }
  if constexpr (NV > 1) {
    const __m256 bv = _mm256_load_ps(bias_p + 8);
    const __m256 kv = _mm256_castsi256_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(keep_p + 8)));
    CHORD_STORE_ROW(0, 1)
    CHORD_STORE_ROW(1, 1) CHORD_STORE_ROW(2, 1) CHORD_STORE_ROW(3, 1) CHORD_STORE_ROW(4, 1) CHORD_STORE_ROW(5, 1)
  }
}
#undef CHORD_FMA_ROW
#undef CHORD_STORE_ROW

template <int MR>
inline void ukr_nv(int nv, const float* x, int64_t ldx, const float* p, int64_t ldp, int64_t K, const float* bias_p,
                   const uint32_t* keep_p, float* c, int64_t ldc, __m256i tail) {
  if (nv == 1)
    ukr<MR, 1>(x, ldx, p, ldp, K, bias_p, keep_p, c, ldc, tail);
  else
    ukr<MR, 2>(x, ldx, p, ldp, K, bias_p, keep_p, c, ldc, tail);
}

// The last nm % 6 rows (0 to 5) of a column tile: one microkernel of exactly that height.
template <int MR>
inline void ukr_rows(int rows, int nv, const float* x, int64_t ldx, const float* p, int64_t ldp, int64_t K,
                     const float* bias_p, const uint32_t* keep_p, float* c, int64_t ldc, __m256i tail) {
  if constexpr (MR > 0) {
    if (rows == MR)
      ukr_nv<MR>(nv, x, ldx, p, ldp, K, bias_p, keep_p, c, ldc, tail);
    else
      ukr_rows<MR - 1>(rows, nv, x, ldx, p, ldp, K, bias_p, keep_p, c, ldc, tail);
  }
}

}  // namespace

void panel_gemm_avx2(const float* x, int64_t ldx, int64_t nm, const float* p, int64_t K, int64_t nc,
                     const float* bias_p, const uint32_t* keep_p, float* c, int64_t ldc) {
  for (int64_t j = 0; j < nc; j += 16) {
    const int64_t w = nc - j < 16 ? nc - j : 16;
    const int nv = int((w + 7) / 8);
    const int lanes = (w % 8) ? int(w % 8) : 8;
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const float* pj = p + (j / 16) * K * 16;  // this tile: [K, 16]
    const int64_t ldp = 16;
    int64_t m = 0;
    for (; m + 6 <= nm; m += 6)
      ukr_nv<6>(nv, x + m * ldx, ldx, pj, ldp, K, bias_p + j, keep_p + j, c + m * ldc + j, ldc, tail);
    if (m < nm)
      ukr_rows<5>(int(nm - m), nv, x + m * ldx, ldx, pj, ldp, K, bias_p + j, keep_p + j, c + m * ldc + j, ldc, tail);
  }
}

void transpose8_avx2(const float* src, int64_t lds, int64_t K, float* dst, int64_t ldd) {
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 r[8], t[8], u[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds + k);
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int h = 0; h < 8; h += 4) {
      u[h + 0] = _mm256_shuffle_ps(t[h], t[h + 2], 0x44);
      u[h + 1] = _mm256_shuffle_ps(t[h], t[h + 2], 0xEE);
      u[h + 2] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0x44);
      u[h + 3] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0xEE);
    }
    for (int i = 0; i < 4; ++i) {
      _mm256_storeu_ps(dst + (k + i) * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
      _mm256_storeu_ps(dst + (k + i + 4) * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
  }
  for (; k < K; ++k)
    for (int j = 0; j < 8; ++j) dst[k * ldd + j] = src[j * lds + k];
}

}  // namespace mpl
}  // namespace chord

#pragma GCC pop_options
