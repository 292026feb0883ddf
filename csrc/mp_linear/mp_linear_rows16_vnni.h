// Exact int32 dot products of short packed rows (K <= 256: item tables), 16 rows at a time, on
// AVX-512 VNNI -- the row-vectorized core shared by chord::mp_topk's int8 scan
// (topk/topk_vnni_avx512.cpp) and mp_linear's act_bits = 8 kernel for such rows
// (mp_linear_rows16_avx512vnni.cpp).
//
// A 2-bit row of K = 64 is one 16-byte planar block, too short for one row per register: the
// rows are packed several to a zmm (layout_of): 4 rows of one block (R = 4), 2 rows of two
// blocks (R = 2), rows of 4k blocks transposed 4 at a time (R = 0), or one row of other lengths
// in masked 64-byte chunks (R = 1). Each plane of b-bit fields is one shift + and; vpdpbusd
// multiplies it with an activation row's int8 values (user_vectors: laid out per 128-bit lane to
// match the block the lane holds) into int32 lanes, and a transpose-add tree reduces 16 rows'
// lanes into one vector of 16 dots. Exact: |xq| <= 127 (or <= 128), u <= 255, K <= 256.
//
// Include after common/x86_intrin.h, under an AVX-512 VNNI target pragma; everything here has
// internal linkage (an anonymous namespace), so no out-of-line copy leaves the including file.
#pragma once
#include <cstdint>
#include <cstring>

namespace chord {
namespace rows16 {
namespace {

constexpr int64_t kMaxK = 256;      // the longest row (elements) these kernels take
constexpr int64_t kActBytes = 256;  // activation rows are read zero padded to this many bytes

// The register layout of rows of nb 16-byte blocks (see above): R = 4, 2, 0 or 1.
inline int layout_of(int64_t nb) {
  return nb == 1 ? 4 : nb == 2 ? 2 : nb % 4 == 0 ? 0 : 1;
}
// 64-byte chunks a row is read in (R = 0, 1) or 1.
inline int chunks_of(int R, int64_t nb) {
  return R <= 1 ? static_cast<int>((nb + 3) / 4) : 1;
}

// f1(a, b) per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3]; f2(f1(a, b), f1(c, d)) per lane:
// [sum a, sum b, sum c, sum d] (the first two levels of a transpose-add tree)
inline __m512i f1(__m512i a, __m512i b) {
  return _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
}
inline __m512i f2(__m512i s, __m512i t) {
  return _mm512_add_epi32(_mm512_unpacklo_epi64(s, t), _mm512_unpackhi_epi64(s, t));
}

// 16 rows' int32 lanes -> one vector, lane i = row i's dot.
// R = 4: acc[g] lane quarter q holds row 4g + q.
inline __m512i reduce4(const __m512i* a) {
  const __m512i t = f2(f1(a[0], a[1]), f1(a[2], a[3]));  // lane 4q + g = row 4g + q
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_epi32(idx, t);
}
// R = 2: acc[g] quarters 0-1 hold row 2g, quarters 2-3 row 2g + 1.
inline __m512i reduce2(const __m512i* a) {
  const __m512i t0 = f2(f1(a[0], a[1]), f1(a[2], a[3])), t1 = f2(f1(a[4], a[5]), f1(a[6], a[7]));
  // lane 4Q + j: Q = 0: row 2j, Q = 1: 2j + 1, Q = 2: 8 + 2j, Q = 3: 9 + 2j
  const __m512i u = _mm512_add_epi32(_mm512_shuffle_i32x4(t0, t1, 0x88), _mm512_shuffle_i32x4(t0, t1, 0xDD));
  const __m512i idx = _mm512_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15);
  return _mm512_permutexvar_epi32(idx, u);
}
// R = 1: acc[g] (all 16 lanes) is row g.
inline __m512i reduce1(const __m512i* a) {
  __m512i t[4];
  for (int i = 0; i < 4; ++i) t[i] = f2(f1(a[4 * i], a[4 * i + 1]), f1(a[4 * i + 2], a[4 * i + 3]));
  const __m512i v01 = _mm512_add_epi32(_mm512_shuffle_i32x4(t[0], t[1], 0x44), _mm512_shuffle_i32x4(t[0], t[1], 0xEE));
  const __m512i v23 = _mm512_add_epi32(_mm512_shuffle_i32x4(t[2], t[3], 0x44), _mm512_shuffle_i32x4(t[2], t[3], 0xEE));
  return _mm512_add_epi32(_mm512_shuffle_i32x4(v01, v23, 0x88), _mm512_shuffle_i32x4(v01, v23, 0xDD));
}

template <int B>
inline __m512i plane(__m512i v, int i) {
  if constexpr (B == 8) {
    return v;
  } else {
    const __m512i mask = _mm512_set1_epi8(static_cast<char>((1 << B) - 1));
    return _mm512_and_si512(i ? _mm512_srli_epi16(v, i * B) : v, mask);
  }
}

// Exact int32 dots of 16 consecutive rows (at p, rb bytes apart) for MU users.
// xv: per user XS = nch * P activation vectors (lane quarter q matches the block it meets).
template <int B, int R, int MU>
inline void group16(const uint8_t* p, int64_t rb, int nch, __mmask64 lastmask, const __m512i* xv, int XS,
                    __m512i* sums) {
  constexpr int P = 8 / B;
  if constexpr (R == 0) {
    // rows of 4k blocks: per 64-byte chunk, a 4x4 transpose of 128-bit lanes turns 4 rows into
    // 4 registers of one block each (block b of rows 0-3): the 4-rows-per-register layout, so
    // users share the transpose and reduce with reduce4 instead of a 16-lane tree per row
    __m512i acc[MU][4];
    for (int u = 0; u < MU; ++u)
      for (int s = 0; s < 4; ++s) acc[u][s] = _mm512_setzero_si512();
    for (int s = 0; s < 4; ++s)
      for (int c = 0; c < nch; ++c) {
        const uint8_t* b0 = p + (4 * s) * rb + 64 * c;
        const __m512i ra = _mm512_loadu_si512(b0), rb1 = _mm512_loadu_si512(b0 + rb),
                      rc = _mm512_loadu_si512(b0 + 2 * rb), rd = _mm512_loadu_si512(b0 + 3 * rb);
        const __m512i t0 = _mm512_shuffle_i32x4(ra, rb1, 0x44), t1 = _mm512_shuffle_i32x4(ra, rb1, 0xEE);
        const __m512i t2 = _mm512_shuffle_i32x4(rc, rd, 0x44), t3 = _mm512_shuffle_i32x4(rc, rd, 0xEE);
        const __m512i T[4] = {_mm512_shuffle_i32x4(t0, t2, 0x88), _mm512_shuffle_i32x4(t0, t2, 0xDD),
                              _mm512_shuffle_i32x4(t1, t3, 0x88), _mm512_shuffle_i32x4(t1, t3, 0xDD)};
#pragma GCC unroll 4
        for (int b = 0; b < 4; ++b) {
          __m512i pl[P];
#pragma GCC unroll 8
          for (int i = 0; i < P; ++i) pl[i] = plane<B>(T[b], i);
#pragma GCC unroll 4
          for (int u = 0; u < MU; ++u)
#pragma GCC unroll 8
            for (int i = 0; i < P; ++i)
              acc[u][s] = _mm512_dpbusd_epi32(acc[u][s], pl[i], xv[u * XS + (c * 4 + b) * P + i]);
        }
      }
    for (int u = 0; u < MU; ++u) sums[u] = reduce4(acc[u]);
  } else if constexpr (R == 1) {
    static_assert(MU == 1, "one user per pass when a row fills a register");
    __m512i acc[16];
    for (int g = 0; g < 16; ++g) {
      acc[g] = _mm512_setzero_si512();
      const uint8_t* row = p + g * rb;
      for (int c = 0; c < nch; ++c) {
        const __m512i v =
            c + 1 < nch ? _mm512_loadu_si512(row + 64 * c) : _mm512_maskz_loadu_epi8(lastmask, row + 64 * c);
#pragma GCC unroll 8
        for (int i = 0; i < P; ++i) acc[g] = _mm512_dpbusd_epi32(acc[g], plane<B>(v, i), xv[c * P + i]);
      }
    }
    sums[0] = reduce1(acc);
  } else {
    constexpr int NV = 16 / R;  // registers of rows per 16 rows
    __m512i acc[MU][NV];
#pragma GCC unroll 8
    for (int g = 0; g < NV; ++g) {
      const __m512i v = _mm512_loadu_si512(p + 64 * g);
      __m512i pl[P];
#pragma GCC unroll 8
      for (int i = 0; i < P; ++i) pl[i] = plane<B>(v, i);
#pragma GCC unroll 4
      for (int u = 0; u < MU; ++u) {
        __m512i a = _mm512_dpbusd_epi32(_mm512_setzero_si512(), pl[0], xv[u * XS]);
#pragma GCC unroll 8
        for (int i = 1; i < P; ++i) a = _mm512_dpbusd_epi32(a, pl[i], xv[u * XS + i]);
        acc[u][g] = a;
      }
    }
    for (int u = 0; u < MU; ++u) sums[u] = R == 4 ? reduce4(acc[u]) : reduce2(acc[u]);
  }
}

// How many activation vectors an activation row takes (XS of group16) for rows of nb blocks.
template <int B, int R>
inline int vectors_per_user(int64_t nb) {
  return chunks_of(R, nb) * (R == 0 ? 4 : 1) * (8 / B);
}

// The vectors_per_user activation vectors of one activation row (xq: kActBytes bytes, zero
// beyond K) for rows of nb blocks in layout R: lane quarter q of a vector holds the 16
// activation bytes that meet the block lane quarter q of the rows' register holds.
template <int B, int R>
inline void user_vectors(const int8_t* xq, int64_t nb, __m512i* xv) {
  constexpr int P = 8 / B;
  constexpr int64_t be = 16 * P;
  const int nch = chunks_of(R, nb);
  if constexpr (R == 0) {
    for (int c = 0; c < nch; ++c)
      for (int b = 0; b < 4; ++b)
        for (int i = 0; i < P; ++i)
          xv[(c * 4 + b) * P + i] =
              _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xq + (4 * c + b) * be + 16 * i)));
  } else {
    for (int c = 0; c < nch; ++c)
      for (int i = 0; i < P; ++i) {
        alignas(64) int8_t lanes[64];
        for (int qd = 0; qd < 4; ++qd) {
          const int64_t blk = R == 1 ? 4 * c + qd : qd % nb;
          if (blk < nb)
            std::memcpy(lanes + 16 * qd, xq + blk * be + 16 * i, 16);
          else
            std::memset(lanes + 16 * qd, 0, 16);
        }
        xv[c * P + i] = _mm512_load_si512(lanes);
      }
  }
}

}  // namespace
}  // namespace rows16
}  // namespace chord
