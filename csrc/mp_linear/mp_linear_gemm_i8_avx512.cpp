// AVX-512 VNNI pieces of the int8 GEMM path (mp_linear_gemm_i8.cpp): the natural-order unpack
// of packed rows, the vectorized epilogue and the vpdpbusd microkernel (6 activation rows x 4
// unpacked columns, 24 zmm accumulators; its body, shared with AVX-VNNI, is in
// mp_linear_gemm_i8_vnni.inc).
#include "common/x86_intrin.h"

#include <algorithm>
#include <cstdint>

#include "mp_linear/mp_linear_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")

namespace chord {
namespace mpl {
namespace {

// Unpack without transposes: natural order puts block c's EPB fields (16 elements each) side
// by side, so each 64-byte output is one block (or, at 4 bits, two) broadcast to the 128-bit
// lanes, shifted per lane by the lane's field offset (vpsrlvw) and masked: one broadcast load
// and two ALU operations per 64 output bytes.
template <int BITS>
inline __m512i lane_shifts(int half) {  // shift of lane l: BITS * (field of lane l)
  if constexpr (BITS == 4)
    return _mm512_setr_epi64(0, 0, 0x0004000400040004LL, 0x0004000400040004LL, 0, 0, 0x0004000400040004LL,
                             0x0004000400040004LL);
  const int f0 = BITS == 1 ? 4 * half : 0;  // 1 bit: two outputs per block (fields 0-3, 4-7)
  const int64_t s0 = 0x0001000100010001LL * int64_t(BITS * (f0 + 0)),
                s1 = 0x0001000100010001LL * int64_t(BITS * (f0 + 1));
  const int64_t s2 = 0x0001000100010001LL * int64_t(BITS * (f0 + 2)),
                s3 = 0x0001000100010001LL * int64_t(BITS * (f0 + 3));
  return _mm512_setr_epi64(s0, s0, s1, s1, s2, s2, s3, s3);
}

template <int BITS>
void unpack_bits(const uint8_t* row, int64_t rb, uint8_t* dst) {
  const int64_t nblk = rb / 16;
  if constexpr (BITS == 8) {
    int64_t i = 0;
    for (; i + 64 <= rb; i += 64) _mm512_storeu_si512(dst + i, _mm512_loadu_si512(row + i));
    if (i < rb) {
      const __mmask64 km = (__mmask64(1) << (rb - i)) - 1;
      _mm512_mask_storeu_epi8(dst + i, km, _mm512_maskz_loadu_epi8(km, row + i));
    }
  } else {
    const __m512i mask = _mm512_set1_epi8(char((1 << BITS) - 1));
    if constexpr (BITS == 4) {  // output o: blocks 2o, 2o+1, fields 0 and 1 each
      const __m512i sh = lane_shifts<4>(0);
      const __m512i idx = _mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3);
      int64_t c = 0;
      for (; c + 2 <= nblk; c += 2) {
        const __m512i v = _mm512_permutexvar_epi64(
            idx, _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c * 16))));
        _mm512_storeu_si512(dst + c * 32, _mm512_and_si512(_mm512_srlv_epi16(v, sh), mask));
      }
      if (c < nblk) {  // a lone last block: the low 32 output bytes
        const __m512i v = _mm512_permutexvar_epi64(
            idx, _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + c * 16))));
        _mm512_mask_storeu_epi8(dst + c * 32, __mmask64(0xffffffffULL),
                                _mm512_and_si512(_mm512_srlv_epi16(v, sh), mask));
      }
    } else {
      constexpr int OUT = BITS == 2 ? 1 : 2;  // outputs per block
      __m512i sh[OUT];
      for (int h = 0; h < OUT; ++h) sh[h] = lane_shifts<BITS>(h);
      for (int64_t c = 0; c < nblk; ++c) {
        const __m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + c * 16)));
        for (int h = 0; h < OUT; ++h)
          _mm512_storeu_si512(dst + (c * OUT + h) * 64, _mm512_and_si512(_mm512_srlv_epi16(v, sh[h]), mask));
      }
    }
  }
}

struct V512 {
  using vec = __m512i;
  static constexpr int BYTES = 64, MR = 6;  // 24 accumulators + 4 columns + 1 row of 32 zmm
  static vec zero() { return _mm512_setzero_si512(); }
  static vec load(const void* p) { return _mm512_load_si512(p); }
  static vec dpbusd(vec acc, vec u, vec x) { return _mm512_dpbusd_epi32(acc, u, x); }
  // c[j] = sum of the 16 int32 lanes of vector j, j < nr (wrapping adds: exact when the sums fit)
  static void store4(int32_t* c, int nr, vec a, vec b, vec cc, vec d) {
    const __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    const __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(cc, d), _mm512_unpackhi_epi32(cc, d));
    const __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
    const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
    _mm_mask_storeu_epi32(c, __mmask8((1u << nr) - 1u),
                          _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
  }
};

#include "mp_linear/mp_linear_gemm_i8_vnni.inc"

// Columns straight from packed rows (rb bytes apart, BITS wide), unpacked in registers per k
// step as unpack_bits does it in memory: the same fields in the same natural order, so the
// microkernel computes the same integers as from a window, with no window to write and read back.
template <int BITS>
struct Packed {
  const uint8_t* w;
  int64_t rb;
  // BITS = 8 and 4 read 64 and 32 bytes a step: the last step of a row whose bytes end mid-step
  // is the tail. 2 bits: one 16-byte block a step; 1 bit: half a block (fields 0-3, then 4-7).
  int64_t full(int64_t L) const { return BITS == 8 ? rb / 64 * 64 : BITS == 4 ? rb / 32 * 64 : L; }
  __m512i col(int j, int64_t l) const {
    const uint8_t* r = w + j * rb;
    if constexpr (BITS == 8) {
      return _mm512_loadu_si512(r + l);
    } else if constexpr (BITS == 4) {
      return fields(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + l / 2))));
    } else if constexpr (BITS == 2) {
      return fields(_mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + l / 4))));
    } else {
      const __m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + l / 128 * 16)));
      // fields 4-7 (odd steps): the lane shifts of fields 0-3 plus 4
      return fields(_mm512_srl_epi16(v, _mm_cvtsi64_si128(4 * ((l / 64) & 1))));
    }
  }
  __m512i tail(int j, int64_t l) const {
    const uint8_t* r = w + j * rb;
    if constexpr (BITS == 8) {
      return _mm512_maskz_loadu_epi8((__mmask64(1) << (rb - l)) - 1, r + l);
    } else {  // BITS == 4: one block left
      return fields(_mm512_zextsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + l / 2))));
    }
  }
  // one step's loaded bytes -> its 64 fields (lane shifts as unpack_bits)
  static __m512i fields(__m512i v) {
    if constexpr (BITS == 4) v = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3), v);
    return _mm512_and_si512(_mm512_srlv_epi16(v, lane_shifts<BITS>(0)), _mm512_set1_epi8(char((1 << BITS) - 1)));
  }
};

template <int BITS>
void gemm_packed(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* w, int64_t rb, int64_t nc, int64_t L,
                 int32_t* c, int64_t ldc, const uint8_t* pf, int64_t pfb) {
  gemm_vnni<V512>(x, ldx, nm, [&](int64_t j) { return Packed<BITS>{w + j * rb, rb}; }, nc, L, c, ldc, pf, pfb);
}

}  // namespace

void unpack_i8_vnni(const uint8_t* row, int64_t rb, int bits, uint8_t* dst) {
  switch (bits) {
    case 1:
      return unpack_bits<1>(row, rb, dst);
    case 2:
      return unpack_bits<2>(row, rb, dst);
    case 4:
      return unpack_bits<4>(row, rb, dst);
    default:
      return unpack_bits<8>(row, rb, dst);
  }
}

void epilogue_i8_avx512(const int32_t* c, int64_t n, const double* zero, const double* scale, const double* bias,
                        const int32_t* col, double q, double xs, float* y) {
  // Explicit-rounding intrinsics: GCC never contracts them into FMAs, so every step rounds as
  // the scalar expression's does.
  constexpr int R = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m512d vq = _mm512_set1_pd(q), vxs = _mm512_set1_pd(xs);
  int64_t j = 0;
  auto block = [&](int64_t j0, __mmask8 km) {
    const __m512d d = _mm512_cvtepi32_pd(_mm256_maskz_loadu_epi32(km, c + j0));
    const __m512d zq = _mm512_mul_round_pd(_mm512_maskz_loadu_pd(km, zero + j0), vq, R);
    const __m512d sc = _mm512_mul_round_pd(vxs, _mm512_maskz_loadu_pd(km, scale + j0), R);
    __m512d v = _mm512_mul_round_pd(_mm512_sub_round_pd(d, zq, R), sc, R);
    if (bias) v = _mm512_add_round_pd(v, _mm512_maskz_loadu_pd(km, bias + j0), R);
    const __m256 f = _mm512_cvt_roundpd_ps(v, R);
    if (!col) {
      _mm256_mask_storeu_ps(y + j0, km, f);
    } else {
      alignas(32) float t[8];
      _mm256_store_ps(t, f);
      for (int i = 0; i < 8 && j0 + i < n; ++i) y[col[j0 + i]] = t[i];
    }
  };
  for (; j + 8 <= n; j += 8) block(j, 0xff);
  if (j < n) block(j, __mmask8((1u << (n - j)) - 1u));
}

void gemm_i8_vnni(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* p, int64_t ldp, int64_t nc, int64_t L,
                  int /*bits*/, const int64_t* /*qsum*/, int32_t* c, int64_t ldc, const uint8_t* pf, int64_t pfb) {
  gemm_vnni<V512>(x, ldx, nm, [&](int64_t j) { return Window<V512>{p + j * ldp, ldp}; }, nc, L, c, ldc, pf, pfb);
}

void gemm_i8_vnni_packed(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* w, int64_t rb, int bits, int64_t nc,
                         int64_t L, int32_t* c, int64_t ldc, const uint8_t* pf, int64_t pfb) {
  switch (bits) {
    case 1:
      return gemm_packed<1>(x, ldx, nm, w, rb, nc, L, c, ldc, pf, pfb);
    case 2:
      return gemm_packed<2>(x, ldx, nm, w, rb, nc, L, c, ldc, pf, pfb);
    case 4:
      return gemm_packed<4>(x, ldx, nm, w, rb, nc, L, c, ldc, pf, pfb);
    default:
      return gemm_packed<8>(x, ldx, nm, w, rb, nc, L, c, ldc, pf, pfb);
  }
}

}  // namespace mpl
}  // namespace chord

#pragma GCC pop_options
