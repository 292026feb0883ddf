// AVX2 pieces of the int8 GEMM path (mp_linear_gemm_i8.cpp), for CPUs without AVX-512 VNNI:
// the natural-order unpack and maddubs microkernels, one call per run of one width (on a window,
// or, up to one row block, on the packed rows: gemm_i8_avx2_packed), and the epilogue. Exact: for
// fields of <= 4 bits, maddubs pairs are <= 2 * 15 * 127 (no int16 saturation) and are summed in
// int16 for a bounded number of steps (ukr16); 8-bit columns are unpacked as q = u - 128 and run
// as maddubs(|q|, sign(x, q)) (pairs <= 2 * 128 * 127 < 32767, widened every step: ukr8), and
// the kernel adds 128 * sum(x) back. Raw loops and intrinsics only (see mp_linear_avx2.cpp).
#include "common/x86_intrin.h"

#include <cstdint>

#include "mp_linear/mp_linear_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace chord {
namespace mpl {
namespace {

// [sum(a), sum(b), sum(c), sum(d)] of 8 int32 lanes each (wrapping adds).
inline __m128i hsum4(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
  return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

// Named accumulators (cMJ: row M, column J): GCC keeps an array of them in memory.
#define CHORD_DOT(M, J)       \
  c##M##J = _mm256_add_epi32( \
      c##M##J, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(b##J), _mm256_sign_epi8(a, b##J)), ones));
#define CHORD_ROW(M)                                                                        \
  if constexpr (MR > M) {                                                                   \
    const __m256i a = _mm256_load_si256(reinterpret_cast<const __m256i*>(x + M * ldx + l)); \
    CHORD_DOT(M, 0)                                                                         \
    if constexpr (NR > 1) {                                                                 \
      CHORD_DOT(M, 1)                                                                       \
    }                                                                                       \
    if constexpr (NR > 2) {                                                                 \
      CHORD_DOT(M, 2)                                                                       \
    }                                                                                       \
    if constexpr (NR > 3) {                                                                 \
      CHORD_DOT(M, 3)                                                                       \
    }                                                                                       \
  }
#define CHORD_STORE(M)                                                               \
  if constexpr (MR > M) {                                                            \
    alignas(16) int32_t t[4];                                                        \
    __m128i s = hsum4(c##M##0, c##M##1, c##M##2, c##M##3);                           \
    s = _mm_add_epi32(s, _mm_set1_epi32(int32_t(128 * qsum[M]))); /* the sum fits */ \
    _mm_store_si128(reinterpret_cast<__m128i*>(t), s);                               \
    for (int j = 0; j < NR; ++j) c[M * ldc + j] = t[j];                              \
  }

// 8-bit columns: 2 rows x 4 columns of int32 accumulators, the 4 column vectors, the row vector.
template <int MR, int NR>
// noinline + no tree-PRE: see mp_linear_gemm_i8_avx512.cpp (accumulators kept in registers).
__attribute__((noinline, optimize("no-tree-pre"))) void ukr8(const int8_t* x, int64_t ldx, const uint8_t* p,
                                                             int64_t ldp, int64_t L, const int64_t* qsum, int32_t* c,
                                                             int64_t ldc) {
  const __m256i ones = _mm256_set1_epi16(1), z = _mm256_setzero_si256();
  __m256i c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
  for (int64_t l = 0; l < L; l += 32) {
    const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p + l));
    const __m256i b1 = NR > 1 ? _mm256_load_si256(reinterpret_cast<const __m256i*>(p + ldp + l)) : z;
    const __m256i b2 = NR > 2 ? _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 2 * ldp + l)) : z;
    const __m256i b3 = NR > 3 ? _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 3 * ldp + l)) : z;
    CHORD_ROW(0) CHORD_ROW(1)
  }
  CHORD_STORE(0) CHORD_STORE(1)
}
#undef CHORD_DOT
#undef CHORD_ROW
#undef CHORD_STORE

template <int MR>
inline void ukr8_nr(int nr, const int8_t* x, int64_t ldx, const uint8_t* p, int64_t ldp, int64_t L, const int64_t* qsum,
                    int32_t* c, int64_t ldc) {
  switch (nr) {
    case 1:
      return ukr8<MR, 1>(x, ldx, p, ldp, L, qsum, c, ldc);
    case 2:
      return ukr8<MR, 2>(x, ldx, p, ldp, L, qsum, c, ldc);
    case 3:
      return ukr8<MR, 3>(x, ldx, p, ldp, L, qsum, c, ldc);
    default:
      return ukr8<MR, 4>(x, ldx, p, ldp, L, qsum, c, ldc);
  }
}

// Fields of <= 4 bits: maddubs pairs are <= 2 * 15 * 127 = 3810 (2 bits: 762), so S = 8 (32)
// steps add up in int16 lanes without overflow (<= 30480 and 24384 < 32767) before one madd
// widens them to int32: one multiply-pipe op per 32 products instead of two (maddubs + madd
// every step). Tiles of MR rows x NR columns (3 x 3: 9 int16 accumulators, 3 column vectors,
// the row vector, the ones; the int32 sums are touched once per S steps, spilled or not).
#define CHORD_ACC(M, J) s##M##J = _mm256_add_epi16(s##M##J, _mm256_maddubs_epi16(b##J, a));
#define CHORD_ROW16(M)                                                                      \
  if constexpr (MR > M) {                                                                   \
    const __m256i a = _mm256_load_si256(reinterpret_cast<const __m256i*>(x + M * ldx + l)); \
    CHORD_ACC(M, 0)                                                                         \
    if constexpr (NR > 1) {                                                                 \
      CHORD_ACC(M, 1)                                                                       \
    }                                                                                       \
    if constexpr (NR > 2) {                                                                 \
      CHORD_ACC(M, 2)                                                                       \
    }                                                                                       \
  }
#define CHORD_WIDEN(M, J) c##M##J = _mm256_add_epi32(c##M##J, _mm256_madd_epi16(s##M##J, ones));
#define CHORD_WIDEN_ROW(M)  \
  if constexpr (MR > M) {   \
    CHORD_WIDEN(M, 0)       \
    if constexpr (NR > 1) { \
      CHORD_WIDEN(M, 1)     \
    }                       \
    if constexpr (NR > 2) { \
      CHORD_WIDEN(M, 2)     \
    }                       \
  }
#define CHORD_STORE16(M)                                                                 \
  if constexpr (MR > M) {                                                                \
    alignas(16) int32_t t[4];                                                            \
    _mm_store_si128(reinterpret_cast<__m128i*>(t), hsum4(c##M##0, c##M##1, c##M##2, z)); \
    for (int j = 0; j < NR; ++j) c[M * ldc + j] = t[j];                                  \
  }

template <int MR, int NR, int S>
__attribute__((noinline, optimize("no-tree-pre"))) void ukr16(const int8_t* x, int64_t ldx, const uint8_t* p,
                                                              int64_t ldp, int64_t L, int32_t* c, int64_t ldc) {
  const __m256i ones = _mm256_set1_epi16(1), z = _mm256_setzero_si256();
  __m256i c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z;
  for (int64_t l0 = 0; l0 < L; l0 += 32 * S) {
    const int64_t l1 = L - l0 < 32 * S ? L : l0 + 32 * S;
    __m256i s00 = z, s01 = z, s02 = z, s10 = z, s11 = z, s12 = z, s20 = z, s21 = z, s22 = z;
    for (int64_t l = l0; l < l1; l += 32) {
      const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p + l));
      const __m256i b1 = NR > 1 ? _mm256_load_si256(reinterpret_cast<const __m256i*>(p + ldp + l)) : z;
      const __m256i b2 = NR > 2 ? _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 2 * ldp + l)) : z;
      CHORD_ROW16(0) CHORD_ROW16(1) CHORD_ROW16(2)
    }
    CHORD_WIDEN_ROW(0) CHORD_WIDEN_ROW(1) CHORD_WIDEN_ROW(2)
  }
  CHORD_STORE16(0) CHORD_STORE16(1) CHORD_STORE16(2)
}
#undef CHORD_ACC
#undef CHORD_ROW16
#undef CHORD_WIDEN
#undef CHORD_WIDEN_ROW
#undef CHORD_STORE16

template <int MR, int S>
inline void ukr16_nr(int nr, const int8_t* x, int64_t ldx, const uint8_t* p, int64_t ldp, int64_t L, int32_t* c,
                     int64_t ldc) {
  switch (nr) {
    case 1:
      return ukr16<MR, 1, S>(x, ldx, p, ldp, L, c, ldc);
    case 2:
      return ukr16<MR, 2, S>(x, ldx, p, ldp, L, c, ldc);
    default:
      return ukr16<MR, 3, S>(x, ldx, p, ldp, L, c, ldc);
  }
}

template <int S>
void gemm16(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* p, int64_t ldp, int64_t nc, int64_t L, int32_t* c,
            int64_t ldc) {
  // Row tiles of 3, the last two of 2 where 3 does not divide nm (a 1-row tile loads as many
  // column vectors as it multiplies). The column triple stays in L1 across the row tiles.
  for (int64_t j = 0; j < nc; j += 3) {
    const int nr = int(nc - j < 3 ? nc - j : 3);
    for (int64_t m = 0; m < nm;) {
      const int64_t left = nm - m;
      const int mr = left >= 3 && left != 4 ? 3 : left >= 2 ? 2 : 1;
      const int8_t* xm = x + m * ldx;
      int32_t* cm = c + m * ldc + j;
      if (mr == 3)
        ukr16_nr<3, S>(nr, xm, ldx, p + j * ldp, ldp, L, cm, ldc);
      else if (mr == 2)
        ukr16_nr<2, S>(nr, xm, ldx, p + j * ldp, ldp, L, cm, ldc);
      else
        ukr16_nr<1, S>(nr, xm, ldx, p + j * ldp, ldp, L, cm, ldc);
      m += mr;
    }
  }
}

void gemm8(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* p, int64_t ldp, int64_t nc, int64_t L,
           const int64_t* qsum, int32_t* c, int64_t ldc) {
  for (int64_t m = 0; m < nm; m += 2) {
    const int8_t* xm = x + m * ldx;
    for (int64_t j = 0; j < nc; j += 4) {
      const int nr = int(nc - j < 4 ? nc - j : 4);
      if (nm - m >= 2)
        ukr8_nr<2>(nr, xm, ldx, p + j * ldp, ldp, L, qsum + m, c + m * ldc + j, ldc);
      else
        ukr8_nr<1>(nr, xm, ldx, p + j * ldp, ldp, L, qsum + m, c + m * ldc + j, ldc);
    }
  }
}

// One packed row of BITS-bit fields -> u8 (8-bit: q = u - 128), natural k order; the width a
// template argument, so every plane's shift is an immediate and the plane loop unrolls.
template <int BITS>
void unpack_row(const uint8_t* row, int64_t rb, uint8_t* dst) {
  constexpr int epb = 8 / BITS;
  constexpr int64_t be = 16 * epb;
  const int64_t nblk = rb / 16;
  int64_t blk = 0;
  if constexpr (BITS == 8) {
    const __m256i sign = _mm256_set1_epi8(char(0x80));
    for (; blk + 2 <= nblk; blk += 2)  // q = u - 128
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + blk * 16),
                          _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + blk * 16)), sign));
  } else {
    // two blocks a step: plane i of both in one register (block blk low, blk + 1 high), and
    // planes 2p, 2p + 1 of one block stored as one 32-byte run
    const __m256i mask = _mm256_set1_epi8(char((1 << BITS) - 1));
    for (; blk + 2 <= nblk; blk += 2) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + blk * 16));
      uint8_t* d0 = dst + blk * be;
      uint8_t* d1 = d0 + be;
      for (int i = 0; i < epb; i += 2) {
        const __m256i lo = _mm256_and_si256(i ? _mm256_srli_epi16(v, BITS * i) : v, mask);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, BITS * (i + 1)), mask);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d0 + 16 * i), _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d1 + 16 * i), _mm256_permute2x128_si256(lo, hi, 0x31));
      }
    }
  }
  const __m128i mask = _mm_set1_epi8(char((1 << BITS) - 1));
  const __m128i sign = _mm_set1_epi8(char(0x80));
  for (; blk < nblk; ++blk) {  // an odd last block
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + blk * 16));
    if constexpr (BITS == 8) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + blk * 16), _mm_xor_si128(v, sign));  // q = u - 128
    } else {
      for (int i = 0; i < epb; ++i)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + blk * be + 16 * i),
                         _mm_and_si128(_mm_srli_epi16(v, BITS * i), mask));
    }
  }
}

}  // namespace

void unpack_i8_avx2(const uint8_t* row, int64_t rb, int bits, uint8_t* dst) {
  switch (bits) {
    case 1:
      return unpack_row<1>(row, rb, dst);
    case 2:
      return unpack_row<2>(row, rb, dst);
    case 4:
      return unpack_row<4>(row, rb, dst);
    default:
      return unpack_row<8>(row, rb, dst);
  }
}

namespace {

// gemm_i8_avx2_packed for one width: columns in groups of the tile's width, each unpacked into
// buf (ldb apart) and run over every row before the next group.
template <int BITS>
void gemm_packed(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* w, int64_t rb, int64_t nc, int64_t L,
                 const int64_t* qsum, int32_t* c, int64_t ldc, uint8_t* buf, int64_t ldb) {
  constexpr int64_t g = BITS == 8 ? 4 : 3;
  for (int64_t j = 0; j < nc; j += g) {
    const int64_t n = nc - j < g ? nc - j : g;
    for (int64_t i = 0; i < n; ++i) unpack_row<BITS>(w + (j + i) * rb, rb, buf + i * ldb);
    // The next group's packed rows into L1 while this group's row tiles run (microseconds of
    // arithmetic): the unpack reads a group in one burst, which the hardware prefetcher does not
    // run ahead of (in situ the unpack took 2-3x its standalone time, waiting on those lines;
    // reports/2026-12-07-avx2-gemm-3.md).
    if (j + g < nc) {
      const uint8_t* next = w + (j + g) * rb;
      const int64_t bytes = (nc - j - g < g ? nc - j - g : g) * rb;
      for (int64_t o = 0; o < bytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(next + o), _MM_HINT_T0);
    }
    if constexpr (BITS == 8)
      gemm8(x, ldx, nm, buf, ldb, n, L, qsum, c + j, ldc);
    else if constexpr (BITS == 4)
      gemm16<8>(x, ldx, nm, buf, ldb, n, L, c + j, ldc);
    else
      gemm16<32>(x, ldx, nm, buf, ldb, n, L, c + j, ldc);
  }
}

}  // namespace

void gemm_i8_avx2_packed(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* w, int64_t rb, int bits, int64_t nc,
                         int64_t L, const int64_t* qsum, int32_t* c, int64_t ldc) {
  // The group's columns are stored ldb apart, ldb = 64 (mod 128): not a multiple of 4096, so
  // the columns' lines at one k fall in different L1 sets (the activation rows, Kp apart, often
  // are a multiple of 4096 and share one set).
  const int64_t ldb = (L + 127) / 128 * 128 + 64;
  thread_local AlignedBuf<uint8_t> buf;
  buf.ensure(size_t(4 * ldb));
  switch (bits) {
    case 1:
      return gemm_packed<1>(x, ldx, nm, w, rb, nc, L, qsum, c, ldc, buf.p, ldb);
    case 2:
      return gemm_packed<2>(x, ldx, nm, w, rb, nc, L, qsum, c, ldc, buf.p, ldb);
    case 4:
      return gemm_packed<4>(x, ldx, nm, w, rb, nc, L, qsum, c, ldc, buf.p, ldb);
    default:
      return gemm_packed<8>(x, ldx, nm, w, rb, nc, L, qsum, c, ldc, buf.p, ldb);
  }
}

void epilogue_i8_avx2(const int32_t* c, int64_t ldc, int64_t nm, int64_t n, const double* zero, const double* scale,
                      const double* bias, const int32_t* col, const int64_t* qsum, const float* sx, float* y,
                      int64_t ldy) {
  // Each step rounds as the scalar expression's does: the FMA is exact (zero * q needs at most
  // 24 + 23 bits: a float times |q| <= 127 * kMaxKGemmI8 < 2^23, so d - zero * q rounds once
  // either way), and the empty asm keeps GCC from contracting the product and the bias add into
  // one FMA (one rounding where the scalar expression has two). The last n % 4 columns go
  // through a zero-padded copy of their inputs, so they take the same instructions.
  for (int64_t m = 0; m < nm; ++m) {
    const int32_t* cm = c + m * ldc;
    float* ym = y + m * ldy;
    const __m256d vq = _mm256_set1_pd(double(qsum[m])), vxs = _mm256_set1_pd(double(sx[m]));
    auto block = [&](const int32_t* cj, const double* zj, const double* sj, const double* bj) {
      const __m256d d = _mm256_cvtepi32_pd(_mm_loadu_si128(reinterpret_cast<const __m128i*>(cj)));
      const __m256d sc = _mm256_mul_pd(vxs, _mm256_loadu_pd(sj));
      __m256d v = _mm256_mul_pd(_mm256_fnmadd_pd(_mm256_loadu_pd(zj), vq, d), sc);
      if (bj) {
        __asm__("" : "+x"(v));
        v = _mm256_add_pd(v, _mm256_loadu_pd(bj));
      }
      return _mm256_cvtpd_ps(v);
    };
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      const __m128 f = block(cm + j, zero + j, scale + j, bias ? bias + j : nullptr);
      if (!col) {
        _mm_storeu_ps(ym + j, f);
      } else {
        alignas(16) float t[4];
        _mm_store_ps(t, f);
        ym[col[j]] = t[0];
        ym[col[j + 1]] = t[1];
        ym[col[j + 2]] = t[2];
        ym[col[j + 3]] = t[3];
      }
    }
    if (j < n) {
      alignas(16) int32_t ct[4] = {0, 0, 0, 0};
      alignas(32) double zt[4] = {0, 0, 0, 0}, st[4] = {0, 0, 0, 0}, bt[4] = {0, 0, 0, 0};
      alignas(16) float t[4];
      for (int64_t i = j; i < n; ++i) {
        ct[i - j] = cm[i];
        zt[i - j] = zero[i];
        st[i - j] = scale[i];
        if (bias) bt[i - j] = bias[i];
      }
      _mm_store_ps(t, block(ct, zt, st, bias ? bt : nullptr));
      for (int64_t i = j; i < n; ++i) ym[col ? col[i] : i] = t[i - j];
    }
  }
}

void gemm_i8_avx2(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* p, int64_t ldp, int64_t nc, int64_t L,
                  int bits, const int64_t* qsum, int32_t* c, int64_t ldc, const uint8_t* pf, int64_t pfb) {
  for (int64_t o = 0; o < pfb; o += 64) _mm_prefetch(reinterpret_cast<const char*>(pf + o), _MM_HINT_T1);
  if (bits == 8)
    gemm8(x, ldx, nm, p, ldp, nc, L, qsum, c, ldc);
  else if (bits == 4)
    gemm16<8>(x, ldx, nm, p, ldp, nc, L, c, ldc);
  else
    gemm16<32>(x, ldx, nm, p, ldp, nc, L, c, ldc);
}

}  // namespace mpl
}  // namespace chord

#pragma GCC pop_options
