// AVX2 pieces of the small-layer int8 path (mp_linear_small_i8.h): the k-quad GEMM tile and the
// float32 epilogue.
#include "common/x86_intrin.h"

#include <cstdint>
#include <cstring>

#include "mp_linear/mp_linear_small_i8.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
// The epilogue must round each float64 step as the scalar reference does: GCC contracts a
// multiply and an add into one FMA in C++ mode under an FMA target, intrinsics included, unless
// told not to (and clang honours the STDC pragma).
#pragma GCC optimize("fp-contract=off")
#pragma STDC FP_CONTRACT OFF

namespace chord {
namespace mpl {
namespace {

inline __m256i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// R activation rows x G groups of 8 columns: int16 sums of `steps` quads, then widened into
// int32 accumulators (madd with ones).
template <int R, int G>
__attribute__((noinline)) void tile(const int8_t* x, int64_t ldx, const uint8_t* wq, int64_t gstride, int64_t kq,
                                    int steps, int32_t* c, int64_t ldc) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[R][G];
  for (int r = 0; r < R; ++r)
    for (int g = 0; g < G; ++g) acc[r][g] = _mm256_setzero_si256();
  for (int64_t q0 = 0; q0 < kq; q0 += steps) {
    const int64_t q1 = q0 + steps < kq ? q0 + steps : kq;
    __m256i s[R][G];
    for (int r = 0; r < R; ++r)
      for (int g = 0; g < G; ++g) s[r][g] = _mm256_setzero_si256();
    for (int64_t q = q0; q < q1; ++q) {
      __m256i wv[G];
      for (int g = 0; g < G; ++g)
        wv[g] = _mm256_load_si256(reinterpret_cast<const __m256i*>(wq + g * gstride + q * 32));
      for (int r = 0; r < R; ++r) {
        const __m256i xb = bcast4(x + r * ldx + 4 * q);
        for (int g = 0; g < G; ++g) s[r][g] = _mm256_add_epi16(s[r][g], _mm256_maddubs_epi16(wv[g], xb));
      }
    }
    for (int r = 0; r < R; ++r)
      for (int g = 0; g < G; ++g) acc[r][g] = _mm256_add_epi32(acc[r][g], _mm256_madd_epi16(s[r][g], ones));
  }
  for (int r = 0; r < R; ++r)
    for (int g = 0; g < G; ++g) _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + r * ldc + 8 * g), acc[r][g]);
}

template <int G>
void tile_rows(int rows, const int8_t* x, int64_t ldx, const uint8_t* wq, int64_t gstride, int64_t kq, int steps,
               int32_t* c, int64_t ldc) {
  switch (rows) {
    case 1:
      return tile<1, G>(x, ldx, wq, gstride, kq, steps, c, ldc);
    case 2:
      return tile<2, G>(x, ldx, wq, gstride, kq, steps, c, ldc);
    case 3:
      return tile<3, G>(x, ldx, wq, gstride, kq, steps, c, ldc);
    default:
      return tile<4, G>(x, ldx, wq, gstride, kq, steps, c, ldc);
  }
}

}  // namespace

void gemm_i8_quads_avx2(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* wq, int64_t ngroups, int64_t kq,
                        int steps, int32_t* c, int64_t ldc) {
  const int64_t gstride = kq * 32;
  // two groups (16 columns) at a time, their 2 * kq * 32 bytes in L1 while every row passes
  for (int64_t g = 0; g < ngroups; g += 2) {
    const uint8_t* w = wq + g * gstride;
    for (int64_t m = 0; m < nm; m += 4) {
      const int rows = int(nm - m < 4 ? nm - m : 4);
      if (g + 2 <= ngroups)
        tile_rows<2>(rows, x + m * ldx, ldx, w, gstride, kq, steps, c + m * ldc + 8 * g, ldc);
      else
        tile_rows<1>(rows, x + m * ldx, ldx, w, gstride, kq, steps, c + m * ldc + 8 * g, ldc);
    }
  }
}

void layout_quads_avx2(const uint8_t* nat, int64_t ldn, int64_t kq, uint8_t* dst) {
  // 8 rows x 8 quads a step: an 8 x 8 transpose of 32-bit elements (row j's quad q lands in
  // register q, lane j)
  for (int64_t q0 = 0; q0 < kq; q0 += 8) {
    __m256i r[8];
    for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(nat + j * ldn + 4 * q0));
    const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    const __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    const __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
    const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
    __m256i o[8];  // quad q0 + i: lanes 0-3 from rows 0-3, 4-7 from rows 4-7
    o[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
    o[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
    o[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
    o[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
    o[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
    o[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
    o[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
    o[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
    const int64_t nq = kq - q0 < 8 ? kq - q0 : 8;
    for (int64_t i = 0; i < nq; ++i) _mm256_store_si256(reinterpret_cast<__m256i*>(dst + (q0 + i) * 32), o[i]);
  }
}

void split_nibbles_avx2(const uint8_t* src, int64_t n, uint8_t* hi, uint8_t* lo) {
  const __m256i m = _mm256_set1_epi8(15);
  for (int64_t i = 0; i < n; i += 32) {  // n: a multiple of 32
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(hi + i), _mm256_and_si256(_mm256_srli_epi16(v, 4), m));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo + i), _mm256_and_si256(v, m));
  }
}

void epilogue_small_i8_avx2(const int32_t* c, int64_t n, const float* zero, const float* scale, const double* bias,
                            const int32_t* col, double qs, double sx, float* y) {
  const __m256d vq = _mm256_set1_pd(qs), vsx = _mm256_set1_pd(sx);
  int64_t j = 0;
  alignas(16) float f[4];
  for (; j + 4 <= n; j += 4) {
    const __m256d d = _mm256_cvtepi32_pd(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + j)));
    // (double(c) - zero * qs) * (sx * scale), one rounding a step; then + bias
    // (float -> double is exact: the values the scalar epilogue widens)
    const __m256d z = _mm256_cvtps_pd(_mm_loadu_ps(zero + j)), sc = _mm256_cvtps_pd(_mm_loadu_ps(scale + j));
    __m256d v = _mm256_mul_pd(_mm256_sub_pd(d, _mm256_mul_pd(z, vq)), _mm256_mul_pd(vsx, sc));
    if (bias) v = _mm256_add_pd(v, _mm256_loadu_pd(bias + j));
    _mm_store_ps(f, _mm256_cvtpd_ps(v));
    y[col[j]] = f[0];
    y[col[j + 1]] = f[1];
    y[col[j + 2]] = f[2];
    y[col[j + 3]] = f[3];
  }
  for (; j < n; ++j) {
    const double v = (double(c[j]) - double(zero[j]) * qs) * (sx * double(scale[j]));
    y[col[j]] = float(bias ? v + bias[j] : v);
  }
}

}  // namespace mpl
}  // namespace chord

#pragma GCC pop_options
