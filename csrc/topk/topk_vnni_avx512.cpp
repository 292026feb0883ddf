// AVX-512 VNNI row-vectorized int8 scan of chord::mp_topk (see topk_vnni.h for the design).
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#include "common/x86_intrin.h"

#include <algorithm>
#include <cstring>

#include "topk/topk_vnni.h"

namespace chord {
namespace topk {

namespace {

constexpr int64_t kPrefetchBytes = 8192;  // software prefetch distance (8 groups of 8-bit rows)

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

template <int B, int R, int MU>
void scan_run(const mpl::PackedView& w, const mpl::BucketSpan& sp, int64_t r0, int64_t r1, const VnniUser* users,
              const __m512i* xv, int XS) {
  const int64_t rb = sp.row_bytes;
  const int nch = R <= 1 ? static_cast<int>((rb + 63) / 64) : 1;
  const __mmask64 lastmask = (R == 1 && rb % 64) ? ((__mmask64{1} << (rb % 64)) - 1) : ~__mmask64{0};
  const uint8_t* q = w.qweight + sp.byte_offset + (r0 - sp.row_start) * rb;
  const __m512 Uv = _mm512_set1_ps(static_cast<float>((1 << B) - 1));
  __m512 sqv[MU], sxv[MU], Dv[MU], cSv[MU];
  for (int u = 0; u < MU; ++u) {
    sqv[u] = _mm512_set1_ps(users[u].sq);
    sxv[u] = _mm512_set1_ps(users[u].sx);
    Dv[u] = _mm512_set1_ps(users[u].D);
    cSv[u] = _mm512_set1_ps(users[u].cS);
  }
  alignas(64) uint8_t tail[16 * kVnniActBytes];
  alignas(64) float tsc[16], tz[16], lo[16], up[16];
  for (int64_t r = r0; r < r1; r += 16, q += 16 * rb) {
    const int64_t n = std::min<int64_t>(16, r1 - r);
    const uint8_t* p = q;
    const float* sc = w.scales + r;
    const float* ze = w.zeros + r;
    __mmask16 valid = 0xFFFF;
    if (n < 16) {  // the last rows: a zero-padded copy (never read past the table)
      std::memcpy(tail, q, static_cast<size_t>(n * rb));
      std::memset(tail + n * rb, 0, static_cast<size_t>((16 - n) * rb));
      std::fill(tsc, tsc + 16, 0.f);
      std::fill(tz, tz + 16, 0.f);
      std::copy(sc, sc + n, tsc);
      std::copy(ze, ze + n, tz);
      p = tail;
      sc = tsc;
      ze = tz;
      valid = static_cast<__mmask16>((1u << n) - 1);
    }
    // software prefetch kPrefetchBytes ahead: the hardware prefetcher alone leaves
    // DRAM streams of the wide (8-bit) rows well below copy bandwidth
    if ((r1 - r) * rb >= kPrefetchBytes + 16 * rb)
      for (int64_t off = 0; off < 16 * rb; off += 64)
        _mm_prefetch(reinterpret_cast<const char*>(q + kPrefetchBytes + off), _MM_HINT_T0);
    __m512i sums[MU];
    group16<B, R, MU>(p, rb, nch, lastmask, xv, XS, sums);
    const __m512 scv = _mm512_loadu_ps(sc), zv = _mm512_loadu_ps(ze);
    const __m512 az = _mm512_abs_ps(zv), asc = _mm512_abs_ps(scv);
    const __m512 mr = _mm512_max_ps(az, _mm512_abs_ps(_mm512_sub_ps(Uv, zv)));
    const __m512 ua = _mm512_add_ps(Uv, az);
    for (int u = 0; u < MU; ++u) {
      const __m512 d = _mm512_fnmadd_ps(zv, sqv[u], _mm512_cvtepi32_ps(sums[u]));
      const __m512 a = _mm512_mul_ps(_mm512_mul_ps(d, sxv[u]), scv);
      const __m512 bnd = _mm512_mul_ps(asc, _mm512_fmadd_ps(mr, Dv[u], _mm512_mul_ps(ua, cSv[u])));
      const __m512 upv = _mm512_add_ps(a, bnd);
      Selector& sel = *users[u].sel;
      __mmask16 m = _mm512_cmp_ps_mask(upv, _mm512_set1_ps(sel.tau()), _CMP_NLT_UQ) & valid;
      if (m) {  // rare once tau has settled
        _mm512_store_ps(lo, _mm512_sub_ps(a, bnd));
        _mm512_store_ps(up, upv);
        while (m) {
          const int i = __builtin_ctz(m);
          m &= m - 1;
          sel.offer(r + i, lo[i], up[i]);
        }
      }
    }
  }
}

template <int B, int R>
void scan_users(const mpl::PackedView& w, const mpl::BucketSpan& sp, int64_t r0, int64_t r1, const VnniUser* users,
                int nu) {
  constexpr int P = 8 / B, G = (R == 4 || R == 0) ? 4 : R == 2 ? 2 : 1;  // users per pass (accumulators fit)
  const int64_t nb = sp.row_bytes / 16;
  const int nch = R <= 1 ? static_cast<int>((nb + 3) / 4) : 1;
  const int XS = R == 0 ? nch * 4 * P : nch * P;  // R = 0: one broadcast block per (chunk, block, plane)
  constexpr int64_t be = 16 * P;
  alignas(64) __m512i xv[G * 64];
  for (int u0 = 0; u0 < nu; u0 += G) {
    const int gn = std::min(G, nu - u0);
    for (int u = 0; u < gn && R == 0; ++u)
      for (int c = 0; c < nch; ++c)
        for (int b = 0; b < 4; ++b)
          for (int i = 0; i < P; ++i)
            xv[u * XS + (c * 4 + b) * P + i] = _mm512_broadcast_i32x4(
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(users[u0 + u].xq + (4 * c + b) * be + 16 * i)));
    for (int u = 0; u < gn && R != 0; ++u)
      for (int c = 0; c < nch; ++c)
        for (int i = 0; i < P; ++i) {
          alignas(64) int8_t lanes[64];
          for (int qd = 0; qd < 4; ++qd) {
            const int64_t blk = R == 1 ? 4 * c + qd : qd % nb;
            if (blk < nb)
              std::memcpy(lanes + 16 * qd, users[u0 + u].xq + blk * be + 16 * i, 16);
            else
              std::memset(lanes + 16 * qd, 0, 16);
          }
          xv[u * XS + c * P + i] = _mm512_load_si512(lanes);
        }
    if constexpr (G >= 4) {
      if (gn == 4) {
        scan_run<B, R, 4>(w, sp, r0, r1, users + u0, xv, XS);
        continue;
      }
      if (gn == 3) {
        scan_run<B, R, 2>(w, sp, r0, r1, users + u0, xv, XS);
        scan_run<B, R, 1>(w, sp, r0, r1, users + u0 + 2, xv + 2 * XS, XS);
        continue;
      }
    }
    if constexpr (G >= 2) {
      if (gn == 2) {
        scan_run<B, R, 2>(w, sp, r0, r1, users + u0, xv, XS);
        continue;
      }
    }
    scan_run<B, R, 1>(w, sp, r0, r1, users + u0, xv, XS);
  }
}

template <int B>
void scan_bits(const mpl::PackedView& w, const mpl::BucketSpan& sp, int64_t r0, int64_t r1, const VnniUser* users,
               int nu) {
  const int64_t nb = sp.row_bytes / 16;
  if (nb == 1)
    scan_users<B, 4>(w, sp, r0, r1, users, nu);
  else if (nb == 2)
    scan_users<B, 2>(w, sp, r0, r1, users, nu);
  else if (nb % 4 == 0)
    scan_users<B, 0>(w, sp, r0, r1, users, nu);
  else
    scan_users<B, 1>(w, sp, r0, r1, users, nu);
}

}  // namespace

void scan_vnni(const mpl::PackedView& w, const mpl::BucketSpan& sp, int64_t r0, int64_t r1, const VnniUser* users,
               int nu) {
  if (r0 >= r1 || nu <= 0) return;
  switch (sp.bits) {
    case 1:
      scan_bits<1>(w, sp, r0, r1, users, nu);
      break;
    case 2:
      scan_bits<2>(w, sp, r0, r1, users, nu);
      break;
    case 4:
      scan_bits<4>(w, sp, r0, r1, users, nu);
      break;
    case 8:
      scan_bits<8>(w, sp, r0, r1, users, nu);
      break;
    default:
      break;  // pruned rows are never scanned
  }
}

}  // namespace topk
}  // namespace chord
