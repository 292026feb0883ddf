// AVX-512 VNNI pieces of the int8 GEMM path (mp_linear_gemm_i8.cpp): up to kMFusedGemmI8
// activation rows, the packed-row microkernel (6 rows x 4 columns, 24 zmm accumulators, fields
// unpacked in registers; its body, shared with AVX-VNNI, is in mp_linear_gemm_i8_vnni.inc);
// beyond, the column-quad windows and their microkernel (6 rows x 16 columns); the vectorized
// epilogue.
#include "common/x86_intrin.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "mp_linear/mp_linear_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")

namespace chord {
namespace mpl {
namespace {

// A packed row's natural order puts block c's EPB fields (16 elements each) side by side, so 64
// consecutive fields are one block (or, at 4 bits, two) broadcast to the 128-bit lanes, shifted
// per lane by the lane's field offset (vpsrlvw) and masked.
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
// step (64 fields in natural order), so the microkernel computes the exact integers with no
// window to write and read back.
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
      // in a register once per k step: in tiles of 3 rows GCC otherwise reloads it for every
      // row, 15 loads per 12 vpdpbusd (reports/2026-12-07-gemm-3.md)
      __m512i v = _mm512_loadu_si512(r + l);
      asm("" : "+v"(v));
      return v;
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
  // one step's loaded bytes -> its 64 fields
  static __m512i fields(__m512i v) {
    if constexpr (BITS == 4) v = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3), v);
    return _mm512_and_si512(_mm512_srlv_epi16(v, lane_shifts<BITS>(0)), _mm512_set1_epi8(char((1 << BITS) - 1)));
  }
};

// The rows in the fewest tiles of at most V512::MR rows and near-equal height (8 rows: 4 + 4,
// not 6 + 2): a tile of few rows pays its columns' loads and unpacking over few vpdpbusd
// (reports/2026-12-07-gemm-3.md). The prefetch range is shared between the tiles by rows.
template <int BITS>
void gemm_packed(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* w, int64_t rb, int64_t nc, int64_t L,
                 int32_t* c, int64_t ldc, const uint8_t* pf, int64_t pfb) {
  const int64_t ntile = (nm + V512::MR - 1) / V512::MR;
  for (int64_t ti = 0, m = 0; ti < ntile; ++ti) {
    const int64_t mr = (nm - m) / (ntile - ti);
    const int64_t p0 = pfb * m / nm, p1 = pfb * (m + mr) / nm;
    gemm_vnni<V512>(
        x + m * ldx, ldx, mr, [&](int64_t j) { return Packed<BITS>{w + j * rb, rb}; }, nc, L, c + m * ldc, ldc, pf + p0,
        p1 - p0);
    m += mr;
  }
}

// ---- the column-quad window (the window path: M > kMPackedOrder) ----------------------------
// Columns in groups of four; a group is L / 16 chunks of 64 bytes, chunk t holding fields
// [16t, 16t + 16) of each of its four columns side by side (Packed's natural-order fields, in
// 16-byte pieces). One vpdpbusd of a chunk against the activation row's 16 bytes at 16t (broadcast to the
// four 128-bit lanes) adds into lanes of four outputs at once, so a 6-row x 16-column tile keeps
// 96 outputs in 24 accumulators and reduces each output over 4 lanes once per call, where the
// natural layout (64 k of one column per vector) pays a 16-lane reduction per output: that
// reduction's shuffles took ~7 % of the vpdpbusd issue slots (reports/2026-12-07-gemm-2.md).

// Four 64-byte vectors (a column's 64 fields each) -> n <= 4 chunks of the quad at d: chunk t =
// 128-bit lane t of a[0], a[1], a[2], a[3].
inline void store_transposed(const __m512i* a, uint8_t* d, int64_t n) {
  const __m512i t0 = _mm512_shuffle_i64x2(a[0], a[1], 0x44), t1 = _mm512_shuffle_i64x2(a[0], a[1], 0xee);
  const __m512i t2 = _mm512_shuffle_i64x2(a[2], a[3], 0x44), t3 = _mm512_shuffle_i64x2(a[2], a[3], 0xee);
  _mm512_storeu_si512(d, _mm512_shuffle_i64x2(t0, t2, 0x88));
  if (n > 1) _mm512_storeu_si512(d + 64, _mm512_shuffle_i64x2(t0, t2, 0xdd));
  if (n > 2) _mm512_storeu_si512(d + 128, _mm512_shuffle_i64x2(t1, t3, 0x88));
  if (n > 3) _mm512_storeu_si512(d + 192, _mm512_shuffle_i64x2(t1, t3, 0xdd));
}

// Fields [l, l + 64) of a packed row in natural order (zero past its end): Packed's loads.
inline __m512i natural64(const uint8_t* row, int64_t rb, int bits, int64_t l) {
  switch (bits) {
    case 1:
      return Packed<1>{row, rb}.col(0, l);
    case 2:
      return Packed<2>{row, rb}.col(0, l);
    case 4: {
      const Packed<4> p{row, rb};
      return l < p.full(0) ? p.col(0, l) : p.tail(0, l);
    }
    default: {
      const Packed<8> p{row, rb};
      return l < p.full(0) ? p.col(0, l) : p.tail(0, l);
    }
  }
}

// The four columns' 16-byte blocks c of rows r, r + rb, r + 2 rb, r + 3 rb in the four lanes.
inline __m512i gather4(const uint8_t* const* r, int64_t off) {
  __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r[0] + off)));
  v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r[1] + off)), 1);
  v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r[2] + off)), 2);
  return _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r[3] + off)), 3);
}

// Four rows of one width: each block's fields (BITS < 8) come out of one gathered vector by a
// uniform shift and mask; 8-bit rows are four 64-byte loads transposed by 128-bit lanes.
template <int BITS>
void unpack_quad(const uint8_t* const* r, int64_t rb, uint8_t* dst) {
  const int64_t nblk = rb / 16;
  if constexpr (BITS == 8) {
    for (int64_t o = 0; o < rb; o += 64) {
      const __mmask64 km = rb - o >= 64 ? ~__mmask64(0) : (__mmask64(1) << (rb - o)) - 1;
      const __m512i a[4] = {_mm512_maskz_loadu_epi8(km, r[0] + o), _mm512_maskz_loadu_epi8(km, r[1] + o),
                            _mm512_maskz_loadu_epi8(km, r[2] + o), _mm512_maskz_loadu_epi8(km, r[3] + o)};
      store_transposed(a, dst + o * 4, std::min<int64_t>(4, (rb - o) / 16));  // chunks o / 16 ...
    }
  } else {
    constexpr int EPB = 8 / BITS;
    const __m512i mask = _mm512_set1_epi8(char((1 << BITS) - 1));
    for (int64_t c = 0; c < nblk; ++c) {
      const __m512i v = gather4(r, c * 16);
      for (int i = 0; i < EPB; ++i)
        _mm512_storeu_si512(dst + (c * EPB + i) * 64, _mm512_and_si512(_mm512_srli_epi16(v, BITS * i), mask));
    }
  }
}

// 6 x 4 tiles (MR rows x NR groups of four columns), 24 accumulators + 4 chunks + 1 row.
#define CHORD_ROW(M)                                                                                             \
  if constexpr (MR > M) {                                                                                        \
    const __m512i a = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(x + M * ldx + l))); \
    c##M##0 = _mm512_dpbusd_epi32(c##M##0, b0, a);                                                               \
    if constexpr (NR > 1) c##M##1 = _mm512_dpbusd_epi32(c##M##1, b1, a);                                         \
    if constexpr (NR > 2) c##M##2 = _mm512_dpbusd_epi32(c##M##2, b2, a);                                         \
    if constexpr (NR > 3) c##M##3 = _mm512_dpbusd_epi32(c##M##3, b3, a);                                         \
  }
#define CHORD_STORE(M) \
  if constexpr (MR > M) store16(c + M * ldc, km, c##M##0, c##M##1, c##M##2, c##M##3);

// c[j] (j < 16, mask km) = output j of the tile row: lane L of group vector g sums to column 4g + L.
inline void store16(int32_t* c, __mmask16 km, __m512i a, __m512i b, __m512i cc, __m512i d) {
  const __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
  const __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(cc, d), _mm512_unpackhi_epi32(cc, d));
  const __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
  // s: lane L, dword g = column 4g + L
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  _mm512_mask_storeu_epi32(c, km, _mm512_permutexvar_epi32(idx, s));
}

template <int MR, int NR>
// noinline, no tree-PRE: as ukr in mp_linear_gemm_i8_vnni.inc (accumulators stay in registers)
__attribute__((noinline, optimize("no-tree-pre"))) void ukr_quad(const int8_t* x, int64_t ldx, const uint8_t* p,
                                                                 int64_t ldg, int64_t L, int32_t* c, int64_t ldc,
                                                                 int nc) {
  const __m512i z = _mm512_setzero_si512();
  __m512i c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z, c20 = z, c21 = z, c22 = z, c23 = z;
  __m512i c30 = z, c31 = z, c32 = z, c33 = z, c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
  for (int64_t l = 0; l < L; l += 16) {
    const uint8_t* pl = p + l * 4;
    const __m512i b0 = _mm512_load_si512(pl);
    const __m512i b1 = NR > 1 ? _mm512_load_si512(pl + ldg) : z;
    const __m512i b2 = NR > 2 ? _mm512_load_si512(pl + 2 * ldg) : z;
    const __m512i b3 = NR > 3 ? _mm512_load_si512(pl + 3 * ldg) : z;
    CHORD_ROW(0) CHORD_ROW(1) CHORD_ROW(2) CHORD_ROW(3) CHORD_ROW(4) CHORD_ROW(5)
  }
  const __mmask16 km = __mmask16((1u << nc) - 1u);
  CHORD_STORE(0) CHORD_STORE(1) CHORD_STORE(2) CHORD_STORE(3) CHORD_STORE(4) CHORD_STORE(5)
}
#undef CHORD_ROW
#undef CHORD_STORE

using UkrQuad = void (*)(const int8_t*, int64_t, const uint8_t*, int64_t, int64_t, int32_t*, int64_t, int);
// [rows - 1][column groups - 1]
constexpr UkrQuad kUkrQuad[6][4] = {
    {ukr_quad<1, 1>, ukr_quad<1, 2>, ukr_quad<1, 3>, ukr_quad<1, 4>},
    {ukr_quad<2, 1>, ukr_quad<2, 2>, ukr_quad<2, 3>, ukr_quad<2, 4>},
    {ukr_quad<3, 1>, ukr_quad<3, 2>, ukr_quad<3, 3>, ukr_quad<3, 4>},
    {ukr_quad<4, 1>, ukr_quad<4, 2>, ukr_quad<4, 3>, ukr_quad<4, 4>},
    {ukr_quad<5, 1>, ukr_quad<5, 2>, ukr_quad<5, 3>, ukr_quad<5, 4>},
    {ukr_quad<6, 1>, ukr_quad<6, 2>, ukr_quad<6, 3>, ukr_quad<6, 4>},
};

}  // namespace

void unpack_i8_vnni_quad(const uint8_t* const* row, const int64_t* rb, const int* bits, int n, int64_t L,
                         uint8_t* dst) {
  if (n == 4 && rb[1] == rb[0] && rb[2] == rb[0] && rb[3] == rb[0] && bits[1] == bits[0] && bits[2] == bits[0] &&
      bits[3] == bits[0]) {
    switch (bits[0]) {
      case 1:
        return unpack_quad<1>(row, rb[0], dst);
      case 2:
        return unpack_quad<2>(row, rb[0], dst);
      case 4:
        return unpack_quad<4>(row, rb[0], dst);
      default:
        return unpack_quad<8>(row, rb[0], dst);
    }
  }
  // Mixed widths or fewer than four columns: per 64 fields, each column's natural-order fields
  // (as the packed-row microkernel loads them), transposed by 128-bit lanes.
  for (int64_t l = 0; l < L; l += 64) {
    __m512i a[4];
    for (int j = 0; j < 4; ++j) a[j] = j < n ? natural64(row[j], rb[j], bits[j], l) : _mm512_setzero_si512();
    store_transposed(a, dst + l * 4, 4);
  }
}

void gemm_i8_vnni_quad(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* p, int64_t ldp, int64_t nc, int64_t L,
                       int32_t* c, int64_t ldc) {
  const int64_t ldg = 4 * ldp;
  // Rows outer: 6 activation rows stay in L1 while the window's column groups stream past.
  for (int64_t m = 0; m < nm; m += 6)
    for (int64_t j = 0; j < nc; j += 16) {
      const int n = int(std::min<int64_t>(16, nc - j));
      kUkrQuad[std::min<int64_t>(6, nm - m) - 1][(n + 3) / 4 - 1](x + m * ldx, ldx, p + j / 4 * ldg, ldg, L,
                                                                  c + m * ldc + j, ldc, n);
    }
}

void epilogue_i8_avx512(const int32_t* c, int64_t ldc, int64_t nm, int64_t n, const double* zero, const double* scale,
                        const double* bias, const int32_t* col, const int64_t* qsum, const float* sx, float* y,
                        int64_t ldy) {
  // Explicit-rounding intrinsics: GCC never contracts them into FMAs, so every step rounds as
  // the scalar expression's does. The one FMA below is exact: zero * q needs at most 24 + 23
  // bits (a float times |q| <= 127 * kMaxKGemmI8 < 2^23), so d - zero * q rounds once either way.
  // All the block's rows in one call: a call per row of 96 outputs cost ~20 % of the epilogue
  // at M = 256 (reports/2026-12-07-gemm-4.md).
  constexpr int R = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  for (int64_t m = 0; m < nm; ++m) {
    const int32_t* cm = c + m * ldc;
    float* ym = y + m * ldy;
    const __m512d vq = _mm512_set1_pd(double(qsum[m])), vxs = _mm512_set1_pd(double(sx[m]));
    auto block = [&](int64_t j0, __mmask8 km) {
      const __m512d d = _mm512_cvtepi32_pd(_mm256_maskz_loadu_epi32(km, cm + j0));
      const __m512d sc = _mm512_mul_round_pd(vxs, _mm512_maskz_loadu_pd(km, scale + j0), R);
      __m512d v = _mm512_mul_round_pd(_mm512_fnmadd_round_pd(_mm512_maskz_loadu_pd(km, zero + j0), vq, d, R), sc, R);
      if (bias) v = _mm512_add_round_pd(v, _mm512_maskz_loadu_pd(km, bias + j0), R);
      const __m256 f = _mm512_cvt_roundpd_ps(v, R);
      if (!col) {
        _mm256_mask_storeu_ps(ym + j0, km, f);
      } else {
        alignas(32) float t[8];
        _mm256_store_ps(t, f);
        for (int i = 0; i < 8 && j0 + i < n; ++i) ym[col[j0 + i]] = t[i];
      }
    };
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) block(j, 0xff);
    if (j < n) block(j, __mmask8((1u << (n - j)) - 1u));
  }
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
