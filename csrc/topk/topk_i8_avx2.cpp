// AVX2 row-vectorized int8 scan of chord::mp_topk (the fallback of topk_vnni_avx512.cpp for
// CPUs without AVX-512 VNNI; same epilogue and bound, see topk_vnni.h).
//
// A ymm holds 2 rows of one block, 1 row of two blocks, or a 32-byte chunk of a longer row.
// vpmaddubsw multiplies each plane with the int8 activations into int16 pairs; the planes are
// summed in int16 and widened by vpmaddwd(1). vpmaddubsw saturates at 2^15 - 1, so this scan
// quantizes activations to |xq| <= 63 (2 * 255 * 63 < 2^15 for 8-bit rows; for b <= 4 every
// plane sum stays below 2^13): the rigorous bound absorbs the coarser quantization.
#pragma GCC target("avx2,fma,f16c")
#include "common/x86_intrin.h"

#include <algorithm>
#include <cstring>

#include "topk/topk_vnni.h"

namespace chord {
namespace topk {

namespace {

constexpr int64_t kPrefetchGroups = 16;  // groups of 8 rows

template <int B>
inline __m256i plane2(__m256i v, int i) {
  if constexpr (B == 8) {
    return v;
  } else {
    const __m256i mask = _mm256_set1_epi8(static_cast<char>((1 << B) - 1));
    return _mm256_and_si256(i ? _mm256_srli_epi16(v, i * B) : v, mask);
  }
}

// int32 lanes of one 32-byte chunk against activations xv[0..P)
template <int B>
inline __m256i chunk_dot(__m256i v, const __m256i* xv) {
  constexpr int P = 8 / B;
  __m256i s = _mm256_maddubs_epi16(plane2<B>(v, 0), xv[0]);
#pragma GCC unroll 8
  for (int i = 1; i < P; ++i) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(plane2<B>(v, i), xv[i]));
  return _mm256_madd_epi16(s, _mm256_set1_epi16(1));
}

// 8 rows' dots. TWO: 2 rows per register (one block each); else one row per register.
template <int B, bool TWO>
inline __m256i group8(const uint8_t* p, int64_t rb, int nch, bool half_last, const __m256i* xv) {
  constexpr int P = 8 / B;
  if constexpr (TWO) {
    __m256i a[4];
    for (int g = 0; g < 4; ++g)
      a[g] = chunk_dot<B>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * g)), xv);
    // per 128-bit half: [sum a0, sum a1, sum a2, sum a3]; low half rows 0,2,4,6, high 1,3,5,7
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a[0], a[1]), _mm256_hadd_epi32(a[2], a[3]));
    return _mm256_permutevar8x32_epi32(h, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  } else {
    __m256i a[8];
    for (int g = 0; g < 8; ++g) {
      const uint8_t* row = p + g * rb;
      a[g] = _mm256_setzero_si256();
      for (int c = 0; c < nch; ++c) {
        const __m256i v = (c + 1 == nch && half_last)
                              ? _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 32 * c)))
                              : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 32 * c));
        a[g] = _mm256_add_epi32(a[g], chunk_dot<B>(v, xv + c * P));
      }
    }
    const __m256i h0 = _mm256_hadd_epi32(_mm256_hadd_epi32(a[0], a[1]), _mm256_hadd_epi32(a[2], a[3]));
    const __m256i h1 = _mm256_hadd_epi32(_mm256_hadd_epi32(a[4], a[5]), _mm256_hadd_epi32(a[6], a[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(h0, h1, 0x20), _mm256_permute2x128_si256(h0, h1, 0x31));
  }
}

template <int B, bool TWO>
void scan_user(const mpl::PackedView& w, const mpl::BucketSpan& sp, int64_t r0, int64_t r1, const VnniUser& us) {
  constexpr int P = 8 / B;
  constexpr int64_t be = 16 * P;
  const int64_t rb = sp.row_bytes, nb = rb / 16;
  const int nch = TWO ? 1 : static_cast<int>((nb + 1) / 2);
  const bool half_last = !TWO && (nb % 2);
  // activations: lane half h of chunk c meets block (TWO ? 0 : 2c + h)
  __m256i xv[8 * 8];
  for (int c = 0; c < nch; ++c)
    for (int i = 0; i < P; ++i) {
      alignas(32) int8_t lanes[32];
      for (int h = 0; h < 2; ++h) {
        const int64_t blk = TWO ? 0 : 2 * c + h;
        if (blk < nb)
          std::memcpy(lanes + 16 * h, us.xq + blk * be + 16 * i, 16);
        else
          std::memset(lanes + 16 * h, 0, 16);
      }
      xv[c * P + i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
    }
  const __m256 Uv = _mm256_set1_ps(static_cast<float>((1 << B) - 1));
  const __m256 sqv = _mm256_set1_ps(us.sq), sxv = _mm256_set1_ps(us.sx), Dv = _mm256_set1_ps(us.D),
               cSv = _mm256_set1_ps(us.cS);
  const __m256 sign = _mm256_set1_ps(-0.f);
  Selector& sel = *us.sel;
  alignas(32) uint8_t tail[8 * kVnniActBytes];
  alignas(32) float tsc[8], tz[8], lo[8], up[8];
  const uint8_t* q = w.qweight + sp.byte_offset + (r0 - sp.row_start) * rb;
  for (int64_t r = r0; r < r1; r += 8, q += 8 * rb) {
    const int64_t n = std::min<int64_t>(8, r1 - r);
    const uint8_t* p = q;
    const float* sc = w.scales + r;
    const float* ze = w.zeros + r;
    int valid = 0xFF;
    if (n < 8) {
      std::memcpy(tail, q, static_cast<size_t>(n * rb));
      std::memset(tail + n * rb, 0, static_cast<size_t>((8 - n) * rb));
      std::fill(tsc, tsc + 8, 0.f);
      std::fill(tz, tz + 8, 0.f);
      std::copy(sc, sc + n, tsc);
      std::copy(ze, ze + n, tz);
      p = tail;
      sc = tsc;
      ze = tz;
      valid = (1 << n) - 1;
    }
    if (r + 8 * (kPrefetchGroups + 1) <= r1)  // software prefetch, as the AVX-512 scan
      for (int64_t off = 0; off < 8 * rb; off += 64)
        _mm_prefetch(reinterpret_cast<const char*>(q + kPrefetchGroups * 8 * rb + off), _MM_HINT_T0);
    const __m256i sums = group8<B, TWO>(p, rb, nch, half_last, xv);
    const __m256 scv = _mm256_loadu_ps(sc), zv = _mm256_loadu_ps(ze);
    const __m256 az = _mm256_andnot_ps(sign, zv), asc = _mm256_andnot_ps(sign, scv);
    const __m256 mr = _mm256_max_ps(az, _mm256_andnot_ps(sign, _mm256_sub_ps(Uv, zv)));
    const __m256 d = _mm256_fnmadd_ps(zv, sqv, _mm256_cvtepi32_ps(sums));
    const __m256 a = _mm256_mul_ps(_mm256_mul_ps(d, sxv), scv);
    const __m256 bnd = _mm256_mul_ps(asc, _mm256_fmadd_ps(mr, Dv, _mm256_mul_ps(_mm256_add_ps(Uv, az), cSv)));
    const __m256 upv = _mm256_add_ps(a, bnd);
    int m = _mm256_movemask_ps(_mm256_cmp_ps(upv, _mm256_set1_ps(sel.tau()), _CMP_NLT_UQ)) & valid;
    if (m) {
      _mm256_store_ps(lo, _mm256_sub_ps(a, bnd));
      _mm256_store_ps(up, upv);
      while (m) {
        const int i = __builtin_ctz(static_cast<unsigned>(m));
        m &= m - 1;
        sel.offer(r + i, lo[i], up[i]);
      }
    }
  }
}

template <int B>
void scan_bits2(const mpl::PackedView& w, const mpl::BucketSpan& sp, int64_t r0, int64_t r1, const VnniUser* users,
                int nu) {
  for (int u = 0; u < nu; ++u) {
    if (sp.row_bytes == 16)
      scan_user<B, true>(w, sp, r0, r1, users[u]);
    else
      scan_user<B, false>(w, sp, r0, r1, users[u]);
  }
}

}  // namespace

void scan_i8_avx2(const mpl::PackedView& w, const mpl::BucketSpan& sp, int64_t r0, int64_t r1, const VnniUser* users,
                  int nu) {
  if (r0 >= r1 || nu <= 0 || sp.bits == 0) return;  // (pruned rows are never scanned)
  fmt::with_width(sp.bits, [&](auto B) { scan_bits2<B.value>(w, sp, r0, r1, users, nu); });
}

}  // namespace topk
}  // namespace chord
