// AVX-512 (F) kernel of the exact fp32 mp_linear path: the AVX2 design (mp_linear_avx2.cpp)
// at twice the width. A 64-byte load holds four planar blocks; as 16 int32 lanes, lane l holds
// bytes 4l..4l+3 and its b-bit field at bit s = 8t + b*i is element (l/4)*16*epb + 4*(l%4) + t
// + 16*i of the group. For b <= 4 a shift plus vpermps (which reads the low 4 bits of each
// lane, so a 16-entry table of period 2^b ignores the neighbouring fields) yields the floats;
// for b = 8, AND with (0xff << s) + int->float gives u * 2^s against activations pre-scaled by
// 2^-s. Tail blocks are masked loads (zero lanes; activations there are zero too).
// Selected at run time when the CPU has AVX-512F, for M >= kMinMAvx512 activation rows (below,
// the AVX2 kernel streams memory better and wins); the int8 path stays AVX2.
#include "common/x86_intrin.h"

#include <cstdint>

#include "mp_linear/mp_linear_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx2,fma,f16c")

#include "mp_linear/mp_linear_epilogue_avx512.h"

namespace chord {
namespace mpl {
namespace {

template <int BITS, int R, int MB>
inline void tile_f32_512(const uint8_t* w, int64_t rb, const float* x, int64_t ldx, float* out, int64_t ldo) {
  constexpr int EPB = 8 / BITS;
  constexpr uint32_t MASK = (1u << BITS) - 1u;
  const int64_t nblocks = rb / 16, nfull = nblocks / 4;
  __m512 acc[R][MB];
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MB; ++m) acc[r][m] = _mm512_setzero_ps();
  const __m512 lut = BITS == 1   ? _mm512_setr_ps(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1)
                     : BITS == 2 ? _mm512_setr_ps(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3)
                                 : _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m512i v[R];
  auto group = [&](int64_t g) __attribute__((always_inline)) {
    const float* xg = x + g * 64 * EPB;
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t) {
#pragma GCC unroll 8
      for (int i = 0; i < EPB; ++i) {
        const int s = 8 * t + BITS * i;
        __m512 wf[R];
        for (int r = 0; r < R; ++r) {
          if constexpr (BITS <= 4) {
            wf[r] = _mm512_permutexvar_ps(s ? _mm512_srli_epi32(v[r], s) : v[r], lut);
          } else {
            wf[r] = t == 3 ? _mm512_cvtepi32_ps(_mm512_srli_epi32(v[r], s))
                           : _mm512_cvtepi32_ps(_mm512_and_si512(v[r], _mm512_set1_epi32(int32_t(MASK << s))));
          }
        }
        for (int m = 0; m < MB; ++m) {
          const __m512 xv = _mm512_load_ps(xg + m * ldx + (t * EPB + i) * 16);
          for (int r = 0; r < R; ++r) acc[r][m] = _mm512_fmadd_ps(wf[r], xv, acc[r][m]);
        }
      }
    }
  };
  for (int64_t g = 0; g < nfull; ++g) {
    for (int r = 0; r < R; ++r) {
      // each load takes a whole cache line of every row stream: prefetch well ahead, or an
      // out-of-cache weight waits on DRAM at small M (reports/2026-12-07-comment-figures-2.md)
      _mm_prefetch(reinterpret_cast<const char*>(w + r * rb + g * 64 + 2048), _MM_HINT_T0);
      v[r] = _mm512_loadu_si512(w + r * rb + g * 64);
    }
    group(g);
  }
  if (const int64_t rem = nblocks - 4 * nfull) {  // 1..3 last blocks: masked (non-faulting) load
    const __mmask16 km = __mmask16((1u << (4 * rem)) - 1u);
    for (int r = 0; r < R; ++r) v[r] = _mm512_maskz_loadu_epi32(km, w + r * rb + nfull * 64);
    group(nfull);
  }
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MB; ++m) {
      // fixed-order horizontal sum (same for every tile shape)
      const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(acc[r][m]),
                                     _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r][m]), 1)));
      __m128 lo = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
      lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
      lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
      out[m * ldo + r] = _mm_cvtss_f32(lo);
    }
}

template <int BITS, int R, int MB>
inline void rows_f32_512(const uint8_t* w, int64_t rb, int64_t nr, const float* x, int64_t ldx, float* out,
                         int64_t ldo) {
  int64_t r = 0;
  for (; r + R <= nr; r += R) tile_f32_512<BITS, R, MB>(w + r * rb, rb, x, ldx, out + r, ldo);
  for (; R > 2 && r + 2 <= nr; r += 2) tile_f32_512<BITS, 2, MB>(w + r * rb, rb, x, ldx, out + r, ldo);
  for (; r < nr; ++r) tile_f32_512<BITS, 1, MB>(w + r * rb, rb, x, ldx, out + r, ldo);
}

template <int BITS>
void dot_f32_bits_512(const uint8_t* w, int64_t rb, int64_t nr, const float* x, int64_t ldx, int64_t nm, float* out,
                      int64_t ldo) {
  // 32 zmm registers: up to 24 accumulators. Tile heights divide the 24-row tasks.
  int64_t m = 0;
  for (; m + 8 <= nm; m += 8) rows_f32_512<BITS, 3, 8>(w, rb, nr, x + m * ldx, ldx, out + m * ldo, ldo);
  for (; m + 4 <= nm; m += 4) rows_f32_512<BITS, 4, 4>(w, rb, nr, x + m * ldx, ldx, out + m * ldo, ldo);
  for (; m + 2 <= nm; m += 2) rows_f32_512<BITS, 6, 2>(w, rb, nr, x + m * ldx, ldx, out + m * ldo, ldo);
  for (; m < nm; ++m) rows_f32_512<BITS, 6, 1>(w, rb, nr, x + m * ldx, ldx, out + m * ldo, ldo);
}

}  // namespace

void dot_f32_avx512(const uint8_t* w, int64_t rb, int bits, int64_t nr, const float* x, int64_t ldx, int64_t nm,
                    float* out, int64_t ldo) {
  fmt::with_width(bits, [&](auto B) { dot_f32_bits_512<B.value>(w, rb, nr, x, ldx, nm, out, ldo); });
}

// dst[g*64*epb + (t*epb + i)*16 + l] = sc * x[g*64*epb + (l/4)*16*epb + 4*(l%4) + t + 16*i],
// sc = 2^-s for 8-bit fields below the top byte, else 1.
void layout_f32_avx512(const float* xnat, int64_t Kp, int bits, float* dst) {
  const int epb = 8 / bits, ge = 64 * epb;
  for (int64_t g0 = 0; g0 < Kp; g0 += ge)
    for (int t = 0; t < 4; ++t)
      for (int i = 0; i < epb; ++i) {
        const int s = 8 * t + bits * i;
        const float sc = (bits <= 4 || t == 3) ? 1.0f : 1.0f / float(1u << s);
        float* d = dst + g0 + (t * epb + i) * 16;
        for (int l = 0; l < 16; ++l) d[l] = sc * xnat[g0 + (l / 4) * 16 * epb + 4 * (l % 4) + t + 16 * i];
      }
}

void epilogue_gemv_f32_avx512(const float* d, int64_t n, const float* zero, const float* scale, const int32_t* perm,
                              const float* bias, double xs, float* y) {
  // Explicit-rounding intrinsics: GCC never contracts them into FMAs, so every step rounds as
  // the scalar expression's does (float -> double is exact).
  constexpr int R = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m512d vxs = _mm512_set1_pd(xs);
  epilogue_blocks_8(
      n, perm, bias, y, [&](int64_t j0, __mmask8 km) __attribute__((always_inline)) {
        const __m512d zx = _mm512_mul_round_pd(_mm512_cvtps_pd(_mm256_maskz_loadu_ps(km, zero + j0)), vxs, R);
        const __m512d dv = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(km, d + j0));
        const __m512d sc = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(km, scale + j0));
        return _mm512_mul_round_pd(_mm512_sub_round_pd(dv, zx, R), sc, R);
      });
}

}  // namespace mpl
}  // namespace chord

#pragma GCC pop_options
