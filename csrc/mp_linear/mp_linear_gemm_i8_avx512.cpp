// AVX-512 VNNI pieces of the int8 GEMM path (mp_linear_gemm_i8.cpp): the natural-order unpack
// of packed rows and the vpdpbusd microkernel. Weights are unsigned fields (u8 operand) and the
// activations signed int8 (s8 operand), exactly the operand types of vpdpbusd: no offset, no
// correction, and four exact products summed into each int32 lane (no saturation).
//
// Microkernel: 6 activation rows x 4 unpacked columns, 24 zmm accumulators; per 64 bytes of k,
// 4 column loads + 6 row loads feed 24 vpdpbusd. Each accumulator holds 16 partial sums of one
// output, reduced once at the end (4 outputs at a time, ~3 instructions per output).
#include "common/x86_intrin.h"

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

// [sum(a), sum(b), sum(c), sum(d)] of 16 int32 lanes each (wrapping adds: exact when the sums fit).
inline __m128i hsum4(__m512i a, __m512i b, __m512i c, __m512i d) {
  const __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
  const __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
  const __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
  const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// Named accumulators (cMJ: row M, column J), not an array: GCC keeps a 24-vector array in
// memory and stores it back every iteration.
#define CHORD_ROW(M)                                                     \
  if constexpr (MR > M) {                                                \
    const __m512i a = _mm512_load_si512(x + M * ldx + l);                \
    c##M##0 = _mm512_dpbusd_epi32(c##M##0, b0, a);                       \
    if constexpr (NR > 1) c##M##1 = _mm512_dpbusd_epi32(c##M##1, b1, a); \
    if constexpr (NR > 2) c##M##2 = _mm512_dpbusd_epi32(c##M##2, b2, a); \
    if constexpr (NR > 3) c##M##3 = _mm512_dpbusd_epi32(c##M##3, b3, a); \
  }
#define CHORD_STORE(M) \
  if constexpr (MR > M) _mm_mask_storeu_epi32(c + M * ldc, km, hsum4(c##M##0, c##M##1, c##M##2, c##M##3));

template <int MR, int NR>
// noinline: its own register allocation; no tree-PRE: GCC 12's PRE otherwise keeps values
// across iterations that push the 24 accumulators out of the 32 zmm registers (spilled, 2.5x slower).
__attribute__((noinline, optimize("no-tree-pre"))) void ukr(const int8_t* x, int64_t ldx, const uint8_t* p, int64_t ldp,
                                                            int64_t L, int32_t* c, int64_t ldc) {
  const __m512i z = _mm512_setzero_si512();
  __m512i c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z, c20 = z, c21 = z, c22 = z, c23 = z;
  __m512i c30 = z, c31 = z, c32 = z, c33 = z, c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
  for (int64_t l = 0; l < L; l += 64) {
    const __m512i b0 = _mm512_load_si512(p + l);
    const __m512i b1 = NR > 1 ? _mm512_load_si512(p + ldp + l) : z;
    const __m512i b2 = NR > 2 ? _mm512_load_si512(p + 2 * ldp + l) : z;
    const __m512i b3 = NR > 3 ? _mm512_load_si512(p + 3 * ldp + l) : z;
    CHORD_ROW(0) CHORD_ROW(1) CHORD_ROW(2) CHORD_ROW(3) CHORD_ROW(4) CHORD_ROW(5)
  }
  const __mmask8 km = __mmask8((1u << NR) - 1u);
  CHORD_STORE(0) CHORD_STORE(1) CHORD_STORE(2) CHORD_STORE(3) CHORD_STORE(4) CHORD_STORE(5)
}
#undef CHORD_ROW
#undef CHORD_STORE

template <int MR>
inline void ukr_nr(int nr, const int8_t* x, int64_t ldx, const uint8_t* p, int64_t ldp, int64_t L, int32_t* c,
                   int64_t ldc) {
  switch (nr) {
    case 1:
      return ukr<MR, 1>(x, ldx, p, ldp, L, c, ldc);
    case 2:
      return ukr<MR, 2>(x, ldx, p, ldp, L, c, ldc);
    case 3:
      return ukr<MR, 3>(x, ldx, p, ldp, L, c, ldc);
    default:
      return ukr<MR, 4>(x, ldx, p, ldp, L, c, ldc);
  }
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
                  int /*bits*/, const int64_t* /*qsum*/, int32_t* c, int64_t ldc) {
  // Rows outer: six activation rows (6 * L bytes) stay in L1 while the window's columns stream
  // from L2 past them.
  for (int64_t m = 0; m < nm; m += 6) {
    const int64_t mr = nm - m < 6 ? nm - m : 6;
    const int8_t* xm = x + m * ldx;
    int32_t* cm = c + m * ldc;
    for (int64_t j = 0; j < nc; j += 4) {
      const int nr = int(nc - j < 4 ? nc - j : 4);
      const uint8_t* pj = p + j * ldp;
      switch (mr) {
        case 6:
          ukr_nr<6>(nr, xm, ldx, pj, ldp, L, cm + j, ldc);
          break;
        case 5:
          ukr_nr<5>(nr, xm, ldx, pj, ldp, L, cm + j, ldc);
          break;
        case 4:
          ukr_nr<4>(nr, xm, ldx, pj, ldp, L, cm + j, ldc);
          break;
        case 3:
          ukr_nr<3>(nr, xm, ldx, pj, ldp, L, cm + j, ldc);
          break;
        case 2:
          ukr_nr<2>(nr, xm, ldx, pj, ldp, L, cm + j, ldc);
          break;
        default:
          ukr_nr<1>(nr, xm, ldx, pj, ldp, L, cm + j, ldc);
          break;
      }
    }
  }
}

}  // namespace mpl
}  // namespace chord

#pragma GCC pop_options
