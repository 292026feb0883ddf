// AVX2+FMA+F16C kernels of mp_linear, compiled with a target pragma so the rest of the
// extension stays portable; selected at run time (cpu_features). Only raw loops and
// intrinsics here: no header-defined inline functions or STL templates, whose out-of-line
// copies could otherwise carry AVX2 instructions into the portable code.
//
// fp32 path. A 32-byte load of a packed row holds two planar blocks. Seen as 8 int32 lanes,
// lane l holds bytes 4l..4l+3; the b-bit field at bit s = 8t + b*i of a lane is element
// (l/4)*16*epb + 4*(l%4) + t + 16*i of the group. One AND with (mask << s) and one int->float
// conversion yield 8 such elements scaled by 2^s; the activations are laid out per call in
// exactly that lane order and pre-multiplied by 2^-s (exact: a power of two), so each 8
// weights cost AND + CVT + FMA and no shuffles. (The topmost field uses a shift instead, to
// keep the int32 positive.)
//
// int8 path. The same 32 bytes seen as bytes: (v >> b*i) & mask gives 32 consecutive-in-layout
// unsigned fields; _mm256_maddubs_epi16 multiplies them with the int8 activations (laid out to
// match) into int16 pairs, summed over the byte's fields in int16 (bounded: <= 8 * 2 * 127 *
// 15 < 32767 for b <= 4), then _mm256_madd_epi16 widens to int32. 8-bit fields would saturate
// maddubs (2 * 255 * 127 > 32767), so they run on q = u - 128 with the sign trick
// maddubs(|q|, sign(x, q)) (|q| <= 128, pairs <= 2 * 128 * 127) and add 128 * sum(x) back.
//
// Streaming (int8). M >= 2: a tile of R consecutive rows reads one contiguous R * rb-byte range
// in R interleaved streams and, while it runs, prefetches the next R * rb bytes (one line per 64
// bytes loaded, never at or past pf_end, the end of the packed weight), as the dot-product
// kernels do (mp_linear_gemv_vnni.inc). M = 1: a call's nr rows are cut into R equal runs of
// consecutive rows and a tile takes one row of each (rows q, q + Q, ..., Q = nr / R), so the
// kernel reads R long sequential streams, the pattern the read probe's lockstep streams showed
// the hardware prefetchers serve best, with no software prefetch. On an AVX2 Zen 3 (one thread,
// DRAM giving a 4-stream reader ~27-30 GB/s) the consecutive-row tiles with the hardware
// prefetchers alone fed an M = 1 GEMV at ~11-13 GB/s, with the next-tile prefetch ~18, the
// streams ~20-21 (reports/2026-12-07-avx2-gemv.md).
#include "common/x86_intrin.h"

#include <cstdint>

#include "mp_linear/mp_linear_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace chord {
namespace mpl {
namespace {

inline float hsum_ps(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}

inline int64_t hsum_epi32(__m256i v) {
  alignas(32) int32_t t[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), v);
  int64_t s = 0;
  for (int i = 0; i < 8; ++i) s += t[i];
  return s;
}

// ---- fp32 activations ---------------------------------------------------------------------
// One 32-byte group of R rows (v[r]) against the activations: for each of its 4 * EPB fields,
// acc[r][m] += field * xv(m, j), j = t * EPB + i the field's index in the group's layout.
template <int BITS, int R, int MB, class XV>
__attribute__((always_inline)) inline void group_f32(const __m256i* v, XV&& xv, __m256 (*acc)[MB]) {
  constexpr int EPB = 8 / BITS;
  constexpr uint32_t MASK = (1u << BITS) - 1u;
#pragma GCC unroll 4
  for (int t = 0; t < 4; ++t) {
#pragma GCC unroll 8
    for (int i = 0; i < EPB; ++i) {
      const int s = 8 * t + BITS * i;
      __m256 wf[R];
      for (int r = 0; r < R; ++r) {
        if constexpr (BITS <= 2) {
          // vpermps reads the low 3 bits of each lane: a table of period 2^BITS ignores the
          // neighbouring field's bits, so a shift alone selects the field (no mask, no cvt)
          const __m256 lut =
              BITS == 1 ? _mm256_setr_ps(0, 1, 0, 1, 0, 1, 0, 1) : _mm256_setr_ps(0, 1, 2, 3, 0, 1, 2, 3);
          wf[r] = _mm256_permutevar8x32_ps(lut, s ? _mm256_srli_epi32(v[r], s) : v[r]);
        } else {
          wf[r] = (t == 3 && i == EPB - 1)
                      ? _mm256_cvtepi32_ps(_mm256_srli_epi32(v[r], s))
                      : _mm256_cvtepi32_ps(_mm256_and_si256(v[r], _mm256_set1_epi32(int32_t(MASK << s))));
        }
      }
      for (int m = 0; m < MB; ++m) {
        const __m256 x = xv(m, t * EPB + i);
        for (int r = 0; r < R; ++r) acc[r][m] = _mm256_fmadd_ps(wf[r], x, acc[r][m]);
      }
    }
  }
}

template <int BITS, int R, int MB>
inline void tile_f32(const uint8_t* w, int64_t rb, const float* x, int64_t ldx, float* out, int64_t ldo) {
  constexpr int EPB = 8 / BITS;
  const int64_t nblocks = rb / 16, nfull = nblocks / 2;
  __m256 acc[R][MB];
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MB; ++m) acc[r][m] = _mm256_setzero_ps();
  __m256i v[R];
  auto group = [&](int64_t g) __attribute__((always_inline)) {
    const float* xg = x + g * 32 * EPB;
    group_f32<BITS, R, MB>(v, [&](int m, int j) { return _mm256_load_ps(xg + m * ldx + j * 8); }, acc);
  };
  for (int64_t g = 0; g < nfull; ++g) {
    for (int r = 0; r < R; ++r) v[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * rb + g * 32));
    group(g);
  }
  if (nblocks & 1) {  // a lone last block: the upper 16 bytes read as u = 0 (and x there is 0)
    for (int r = 0; r < R; ++r)
      v[r] = _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + r * rb + nfull * 32)));
    group(nfull);
  }
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MB; ++m) out[m * ldo + r] = hsum_ps(acc[r][m]);
}

// Rows of one 16-byte block (item tables: K = 64 at 2 bits, <= 128 at 1 bit): tile_f32 would
// run each as a lone block whose upper 16 bytes read as zeros, half of every step wasted. Here
// one 32-byte load holds two consecutive rows (rows are rb = 16 bytes apart), the activations'
// first-block lanes are broadcast to both halves, and the halves are reduced apart. Each row's
// chain is tile_f32's, step for step (its upper lanes added +0.0 there; the reduction adds it
// here too), so the two kernels give the same bits.
template <int BITS, int R, int MB>
inline void tile_f32_pairs(const uint8_t* w, const float* x, int64_t ldx, float* out, int64_t ldo) {
  __m256 acc[R][MB];
  __m256i v[R];
  for (int r = 0; r < R; ++r) {
    v[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * 32));
    for (int m = 0; m < MB; ++m) acc[r][m] = _mm256_setzero_ps();
  }
  group_f32<BITS, R, MB>(
      v,
      [&](int m, int j) {
        const __m256 xl = _mm256_load_ps(x + m * ldx + j * 8);
        return _mm256_permute2f128_ps(xl, xl, 0x00);  // block 0's lanes in both halves
      },
      acc);
  const __m128 zero = _mm_setzero_ps();
  auto hsum4 = [&](__m128 h) {  // hsum_ps's steps on one half, its upper half being +0.0
    h = _mm_add_ps(h, zero);
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)));
  };
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MB; ++m) {
      out[m * ldo + 2 * r] = hsum4(_mm256_castps256_ps128(acc[r][m]));
      out[m * ldo + 2 * r + 1] = hsum4(_mm256_extractf128_ps(acc[r][m], 1));
    }
}

template <int BITS, int R, int MB>
inline void rows_f32(const uint8_t* w, int64_t rb, int64_t nr, const float* x, int64_t ldx, float* out, int64_t ldo) {
  int64_t r = 0;
  if (rb == 16) {  // one block per row: two rows per load
    constexpr int RP = R / 2 > 0 ? R / 2 : 1;
    for (; r + 2 * RP <= nr; r += 2 * RP) tile_f32_pairs<BITS, RP, MB>(w + r * 16, x, ldx, out + r, ldo);
    for (; r + 2 <= nr; r += 2) tile_f32_pairs<BITS, 1, MB>(w + r * 16, x, ldx, out + r, ldo);
  }
  for (; r + R <= nr; r += R) tile_f32<BITS, R, MB>(w + r * rb, rb, x, ldx, out + r, ldo);
  // tails (a bucket's last rows): a lone accumulator chain is latency-bound, so pair rows up
  for (; R > 2 && r + 2 <= nr; r += 2) tile_f32<BITS, 2, MB>(w + r * rb, rb, x, ldx, out + r, ldo);
  for (; r < nr; ++r) tile_f32<BITS, 1, MB>(w + r * rb, rb, x, ldx, out + r, ldo);
}

template <int BITS>
void dot_f32_bits(const uint8_t* w, int64_t rb, int64_t nr, const float* x, int64_t ldx, int64_t nm, float* out,
                  int64_t ldo) {
  // Each (row, activation row) pair is one accumulator chain in the same order whatever the
  // tile shape, so blocking changes speed only, never results.
  int64_t m = 0;
  for (; m + 4 <= nm; m += 4) rows_f32<BITS, 2, 4>(w, rb, nr, x + m * ldx, ldx, out + m * ldo, ldo);
  for (; m + 2 <= nm; m += 2) rows_f32<BITS, 4, 2>(w, rb, nr, x + m * ldx, ldx, out + m * ldo, ldo);
  for (; m < nm; ++m) rows_f32<BITS, 6, 1>(w, rb, nr, x + m * ldx, ldx, out + m * ldo, ldo);
}

// ---- int8 activations ---------------------------------------------------------------------
template <int BITS, int R, int MB>
inline void tile_i8(const uint8_t* w, int64_t rb, const int8_t* x, int64_t ldx, const int64_t* qsum, int64_t* out,
                    int64_t ldo, const uint8_t* pf, int64_t pf_lines, int64_t rs = 0, int64_t os = 1) {
  // row r at w + r * rs (rs = 0: rb, consecutive rows), its result at out[m * ldo + r * os]
  if (!rs) rs = rb;
  constexpr int LPG = (R + 1) / 2;  // lines prefetched per group: one per 64 bytes loaded
  constexpr int EPB = 8 / BITS;
  [[maybe_unused]] constexpr int MASK = (1 << BITS) - 1;
  const int64_t nblocks = rb / 16, nfull = nblocks / 2;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[R][MB];
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MB; ++m) acc[r][m] = _mm256_setzero_si256();
  __m256i v[R];
  auto group = [&](int64_t g) __attribute__((always_inline)) {
    const int8_t* xg = x + g * 32 * EPB;
    if constexpr (BITS == 8) {
      __m256i q[R], aq[R];
      for (int r = 0; r < R; ++r) {
        q[r] = _mm256_xor_si256(v[r], _mm256_set1_epi8(char(0x80)));
        aq[r] = _mm256_abs_epi8(q[r]);  // |q| <= 128, read as unsigned by maddubs
      }
      for (int m = 0; m < MB; ++m) {
        const __m256i xv = _mm256_load_si256(reinterpret_cast<const __m256i*>(xg + m * ldx));
        for (int r = 0; r < R; ++r)
          acc[r][m] = _mm256_add_epi32(
              acc[r][m], _mm256_madd_epi16(_mm256_maddubs_epi16(aq[r], _mm256_sign_epi8(xv, q[r])), ones));
      }
    } else {
      __m256i p[R][MB];
      for (int r = 0; r < R; ++r)
        for (int m = 0; m < MB; ++m) p[r][m] = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int i = 0; i < EPB; ++i) {
        __m256i u[R];
        for (int r = 0; r < R; ++r)
          u[r] = _mm256_and_si256(i ? _mm256_srli_epi16(v[r], BITS * i) : v[r], _mm256_set1_epi8(char(MASK)));
        for (int m = 0; m < MB; ++m) {
          const __m256i xv = _mm256_load_si256(reinterpret_cast<const __m256i*>(xg + m * ldx + i * 32));
          for (int r = 0; r < R; ++r) p[r][m] = _mm256_add_epi16(p[r][m], _mm256_maddubs_epi16(u[r], xv));
        }
      }
      for (int r = 0; r < R; ++r)
        for (int m = 0; m < MB; ++m) acc[r][m] = _mm256_add_epi32(acc[r][m], _mm256_madd_epi16(p[r][m], ones));
    }
  };
  const int64_t npf = pf_lines / LPG < nfull ? pf_lines / LPG : nfull;
  int64_t g = 0;
  for (; g < npf; ++g) {
#pragma GCC unroll 8
    for (int l = 0; l < LPG; ++l) _mm_prefetch(reinterpret_cast<const char*>(pf + 64 * (g * LPG + l)), _MM_HINT_T0);
    for (int r = 0; r < R; ++r) v[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * rs + g * 32));
    group(g);
  }
  for (; g < nfull; ++g) {
    for (int64_t l = g * LPG; l < pf_lines && l < (g + 1) * LPG; ++l)
      _mm_prefetch(reinterpret_cast<const char*>(pf + 64 * l), _MM_HINT_T0);
    for (int r = 0; r < R; ++r) v[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * rs + g * 32));
    group(g);
  }
  if (nblocks & 1) {
    for (int r = 0; r < R; ++r)
      v[r] = _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + r * rs + nfull * 32)));
    group(nfull);
  }
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MB; ++m) out[m * ldo + r * os] = hsum_epi32(acc[r][m]) + (BITS == 8 ? 128 * qsum[m] : 0);
}

// One activation row, 2- and 4-bit rows (the M = 1 streams of rows_i8). tile_i8 spends per
// 32 bytes of a 2-bit row 3 shifts + 4 ANDs + 4 maddubs + 3 adds + madd + add (16 vector ops,
// and at R = 4 GCC spilled its accumulators): on an AVX2 Zen 3 those rows ran ALU-bound at ~20
// GB/s from L1 as from L2, below the DRAM rate (reports/2026-12-07-avx2-gemv-2.md). Here one
// shift per 32 bytes: with t = v >> 4 (16-bit lanes; only the low nibble of each byte of t is
// used) the 2-bit fields are v & 3, v & 12 = 4 * field 1, t & 3 and t & 12 = 4 * field 3,
// multiplied where they lie: the 1x products sum in lo, the 4x ones in hi, both in int16 over G
// groups, then widened as 4 * lo + hi (madd by 4 and by 1), so the int32 sum is 4 * the dot
// (exact, a multiple of 4, divided back at the end): 13 ops per 32 bytes plus 5 per G groups.
// Bounds per group: |lo| <= 2 * 2 * 3 * 127 = 1524, |hi| <= 4x that = 6096, so G = 4 keeps
// |hi| <= 24384 < 32767. 4-bit rows: v & 15 and t & 15 into lo (<= 2 * 2 * 15 * 127 = 7620 per
// group, 30480 over G = 4), widened once per G groups (7.5 ops per 32 bytes, was 8).
template <int BITS, int R>
inline void tile_i8_m1(const uint8_t* w, int64_t rb, const int8_t* x, int64_t* out, int64_t rs, int64_t os) {
  static_assert(BITS == 2 || BITS == 4, "2- and 4-bit rows only");
  constexpr int EPB = 8 / BITS, G = 4;
  const int64_t nblocks = rb / 16, nfull = nblocks / 2;
  const __m256i m_lo = _mm256_set1_epi8(char(BITS == 2 ? 3 : 15)), m_hi = _mm256_set1_epi8(12);
  // The int32 sums live in memory (touched once per G groups); the int16 sums live only within
  // a chunk of G groups. So the registers hold the group's activations, the masks, the int16
  // sums and a few temporaries (R = 4 at 2 bits: 4 + 2 + 8 + 2).
  alignas(32) int32_t acc[R][8] = {};
  // n groups from group g on (n <= G), each row's int16 sums widened into acc at the end
  auto chunk = [&](int64_t g, int n, bool half) __attribute__((always_inline)) {
    __m256i lo[R], hi[R];
    for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int j = 0; j < n; ++j) {
      const __m256i* xp = reinterpret_cast<const __m256i*>(x + (g + j) * 32 * EPB);
      __m256i xv[EPB];
      for (int i = 0; i < EPB; ++i) xv[i] = _mm256_load_si256(xp + i);
      for (int r = 0; r < R; ++r) {
        const uint8_t* wp = w + r * rs + (g + j) * 32;
        // a lone last block: the upper 16 bytes read as u = 0 (and x there is 0)
        __m256i v = half ? _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wp)))
                         : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp));
        asm("" : "+x"(v));  // one load (GCC otherwise loaded it again as the AND's memory operand)
        const __m256i t = _mm256_srli_epi16(v, 4);
        if constexpr (BITS == 2) {
          lo[r] = _mm256_add_epi16(lo[r], _mm256_maddubs_epi16(_mm256_and_si256(v, m_lo), xv[0]));
          hi[r] = _mm256_add_epi16(hi[r], _mm256_maddubs_epi16(_mm256_and_si256(v, m_hi), xv[1]));
          lo[r] = _mm256_add_epi16(lo[r], _mm256_maddubs_epi16(_mm256_and_si256(t, m_lo), xv[2]));
          hi[r] = _mm256_add_epi16(hi[r], _mm256_maddubs_epi16(_mm256_and_si256(t, m_hi), xv[3]));
          // keep each row's sums running in registers, in this order: without this GCC
          // reassociated a chunk's adds into trees over all its products and spilled them
          asm("" : "+x"(lo[r]), "+x"(hi[r]));
        } else {
          lo[r] = _mm256_add_epi16(lo[r], _mm256_maddubs_epi16(_mm256_and_si256(v, m_lo), xv[0]));
          lo[r] = _mm256_add_epi16(lo[r], _mm256_maddubs_epi16(_mm256_and_si256(t, m_lo), xv[1]));
          asm("" : "+x"(lo[r]));
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      __m256i* a = reinterpret_cast<__m256i*>(acc[r]);
      __m256i s = _mm256_madd_epi16(lo[r], _mm256_set1_epi16(BITS == 2 ? 4 : 1));
      if constexpr (BITS == 2) s = _mm256_add_epi32(s, _mm256_madd_epi16(hi[r], _mm256_set1_epi16(1)));
      _mm256_store_si256(a, _mm256_add_epi32(_mm256_load_si256(a), s));
    }
  };
  int64_t g = 0;
  for (; g + G <= nfull; g += G) chunk(g, G, false);
  if (g < nfull) chunk(g, int(nfull - g), false);  // < G groups left: their sums stay within the bound
  if (nblocks & 1) chunk(nfull, 1, true);
  for (int r = 0; r < R; ++r) {
    int64_t d = 0;
    for (int l = 0; l < 8; ++l) d += acc[r][l];
    out[r * os] = BITS == 2 ? d / 4 : d;
  }
}

template <int BITS, int R, int MB>
inline void rows_i8(const uint8_t* w, int64_t rb, int64_t nr, const int8_t* x, int64_t ldx, const int64_t* qsum,
                    int64_t* out, int64_t ldo, const uint8_t* pf_end) {
  // lines of the `rows` rows after row r to prefetch: the next tile, never at or past pf_end
  auto lines_after = [&](int64_t r, int rows) {
    const uint8_t* pf = w + (r + rows) * rb;
    const int64_t n = pf < pf_end ? (rows * rb < pf_end - pf ? rows * rb : pf_end - pf) / 64 : 0;
    return n;
  };
  int64_t r = 0;
  if constexpr (MB == 1) {  // one activation row: R streams, no software prefetch (see the top)
    const int64_t Q = nr / R;
    if constexpr (BITS == 2 || BITS == 4) {
      for (int64_t q = 0; q < Q; ++q) tile_i8_m1<BITS, R>(w + q * rb, rb, x, out + q, Q * rb, Q);
      for (r = R * Q; r < nr; ++r) tile_i8_m1<BITS, 1>(w + r * rb, rb, x, out + r, rb, 1);
    } else {
      for (int64_t q = 0; q < Q; ++q) tile_i8<BITS, R, 1>(w + q * rb, rb, x, ldx, qsum, out + q, ldo, w, 0, Q * rb, Q);
      for (r = R * Q; r < nr; ++r) tile_i8<BITS, 1, 1>(w + r * rb, rb, x, ldx, qsum, out + r, ldo, w, 0);
    }
    return;
  }
  for (; r + R <= nr; r += R)
    tile_i8<BITS, R, MB>(w + r * rb, rb, x, ldx, qsum, out + r, ldo, w + (r + R) * rb, lines_after(r, R));
  for (; R > 2 && r + 2 <= nr; r += 2)
    tile_i8<BITS, 2, MB>(w + r * rb, rb, x, ldx, qsum, out + r, ldo, w + (r + 2) * rb, lines_after(r, 2));
  for (; r < nr; ++r)
    tile_i8<BITS, 1, MB>(w + r * rb, rb, x, ldx, qsum, out + r, ldo, w + (r + 1) * rb, lines_after(r, 1));
}

template <int BITS>
void dot_i8_bits(const uint8_t* w, int64_t rb, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                 const int64_t* qsum, int64_t* out, int64_t ldo, const uint8_t* pf_end) {
  int64_t m = 0;
  for (; m + 4 <= nm; m += 4) rows_i8<BITS, 2, 4>(w, rb, nr, x + m * ldx, ldx, qsum + m, out + m * ldo, ldo, pf_end);
  for (; m + 2 <= nm; m += 2) rows_i8<BITS, 2, 2>(w, rb, nr, x + m * ldx, ldx, qsum + m, out + m * ldo, ldo, pf_end);
  for (; m < nm; ++m) rows_i8<BITS, 4, 1>(w, rb, nr, x + m * ldx, ldx, qsum + m, out + m * ldo, ldo, pf_end);
}

}  // namespace

void dot_f32_avx2(const uint8_t* w, int64_t rb, int bits, int64_t nr, const float* x, int64_t ldx, int64_t nm,
                  float* out, int64_t ldo) {
  fmt::with_width(bits, [&](auto B) { dot_f32_bits<B.value>(w, rb, nr, x, ldx, nm, out, ldo); });
}

void dot_i8_avx2(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                 const int64_t* qsum, int64_t* out, int64_t ldo, const uint8_t* pf_end) {
  fmt::with_width(bits, [&](auto B) { dot_i8_bits<B.value>(w, rb, nr, x, ldx, nm, qsum, out, ldo, pf_end); });
}

// dst[g*32*epb + (t*epb + i)*8 + l] = 2^-s * x[g*32*epb + (l/4)*16*epb + 4*(l%4) + t + 16*i],
// s = 8t + b*i (1 for the topmost field, which the kernel shifts down instead of masking).
void layout_f32_avx2(const float* xnat, int64_t Kp, int bits, float* dst) {
  const int epb = 8 / bits, ge = 32 * epb;
  for (int64_t g0 = 0; g0 < Kp; g0 += ge)
    for (int t = 0; t < 4; ++t)
      for (int i = 0; i < epb; ++i) {
        const int s = 8 * t + bits * i;
        const float sc = (bits <= 2 || (t == 3 && i == epb - 1)) ? 1.0f : 1.0f / float(1u << s);
        float* d = dst + g0 + (t * epb + i) * 8;
        for (int l = 0; l < 8; ++l) d[l] = sc * xnat[g0 + (l / 4) * 16 * epb + 4 * (l % 4) + t + 16 * i];
      }
}

// dst[g*32*epb + i*32 + p] = x[g*32*epb + (p/16)*16*epb + p%16 + 16*i]
void layout_i8_avx2(const int8_t* xnat, int64_t Kp, int bits, int8_t* dst) {
  const int epb = 8 / bits, ge = 32 * epb;
  for (int64_t g0 = 0; g0 < Kp; g0 += ge)
    for (int i = 0; i < epb; ++i)
      for (int p = 0; p < 32; ++p) dst[g0 + i * 32 + p] = xnat[g0 + (p / 16) * 16 * epb + p % 16 + 16 * i];
}

float quantize_row_i8_avx2(const float* x, int64_t K, int8_t* xq, int64_t* qsum) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 vmax = _mm256_setzero_ps(), vnan = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    const __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + k), absmask);
    vmax = _mm256_max_ps(vmax, a);
    vnan = _mm256_or_ps(vnan, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, vmax);
  float amax = 0.f;
  for (int i = 0; i < 8; ++i) amax = t[i] > amax ? t[i] : amax;
  bool nan = !_mm256_testz_ps(vnan, vnan);
  for (; k < K; ++k) {
    const float a = x[k] < 0 ? -x[k] : x[k];
    if (a != a) nan = true;
    amax = a > amax ? a : amax;
  }
  if (nan) amax = __builtin_nanf("");
  const float sx = amax / 127.0f;
  const float safe = sx > 0.f ? sx : 1.0f;
  const __m256 vs = _mm256_set1_ps(safe), lo = _mm256_set1_ps(-127.f), hi = _mm256_set1_ps(127.f);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  auto q8 = [&](int64_t j) {
    __m256 q =
        _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x + j), vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    // a NaN quotient (x NaN, or x = +-inf with sx = inf) -> 0, as quantize_row_i8_ref and the
    // NEON kernel give: sx = inf leaves the output's signs to these integers, so they must agree
    q = _mm256_and_ps(q, _mm256_cmp_ps(q, q, _CMP_ORD_Q));
    q = _mm256_min_ps(_mm256_max_ps(q, lo), hi);
    return _mm256_cvttps_epi32(q);
  };
  k = 0;
  // the int32 lanes are the stored values (the packs never saturate in [-127, 127]); a lane
  // sums <= K / 8 of them: |sum| <= 127 * 2^16 for K <= kMaxKInt8, far inside int32
  __m256i vsum = _mm256_setzero_si256();
  for (; k + 32 <= K; k += 32) {
    const __m256i q0 = q8(k), q1 = q8(k + 8), q2 = q8(k + 16), q3 = q8(k + 24);
    vsum = _mm256_add_epi32(vsum, _mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3)));
    const __m256i ab = _mm256_packs_epi32(q0, q1);
    const __m256i cd = _mm256_packs_epi32(q2, q3);
    const __m256i b8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), perm);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(xq + k), b8);
  }
  alignas(32) int32_t ls[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(ls), vsum);
  int64_t sum = 0;
  for (int i = 0; i < 8; ++i) sum += ls[i];
  for (; k < K; ++k) {
    float q = __builtin_nearbyintf(x[k] / safe);
    q = q < -127.f ? -127.f : (q > 127.f ? 127.f : q);
    xq[k] = (q == q) ? int8_t(q) : int8_t(0);  // NaN quotient -> 0 (see q8)
    sum += xq[k];
  }
  if (qsum) *qsum = sum;
  return sx;
}

void widen_f16_avx2(const uint16_t* src, int64_t n, float* dst) {
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    _mm256_storeu_ps(dst + k, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k))));
  for (; k < n; ++k) dst[k] = _cvtsh_ss(src[k]);
}

void dequant_row_avx2(const uint8_t* w, int bits, int64_t K, float scale, float zero, float* out) {
  const int epb = 8 / bits;
  const int64_t be = 16 * epb;
  const __m128i mask = _mm_set1_epi8(char((1 << bits) - 1));
  const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(zero);
  alignas(32) float tmp[128];
  for (int64_t c = 0; c * be < K; ++c) {
    const __m128i blk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + c * 16));
    const bool full = (c + 1) * be <= K;
    float* d = full ? out + c * be : tmp;
    for (int i = 0; i < epb; ++i) {
      const __m128i ub = _mm_and_si128(_mm_srli_epi16(blk, bits * i), mask);
      const __m256 f0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(ub));
      const __m256 f1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(ub, 8)));
      // (u - zero) * scale, two roundings exactly as the reference (no FMA contraction)
      _mm256_storeu_ps(d + 16 * i, _mm256_mul_ps(_mm256_sub_ps(f0, vz), vs));
      _mm256_storeu_ps(d + 16 * i + 8, _mm256_mul_ps(_mm256_sub_ps(f1, vz), vs));
    }
    if (!full) __builtin_memcpy(out + c * be, tmp, size_t(K - c * be) * sizeof(float));
  }
}

}  // namespace mpl
}  // namespace chord

#pragma GCC pop_options
