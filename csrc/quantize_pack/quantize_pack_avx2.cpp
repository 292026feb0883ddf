// AVX2 row kernel of chord::quantize_pack (selected at run time; see quantize_pack.h).
// Two reads of the row: statistics (max|w| as the integer max of |w|'s bit patterns, which is
// also the NaN/Inf test; min/max; or the 8-lane float64 |w| sum), then quantize + pack. One
// 16-byte planar block at a time: plane i of a block is 16 consecutive floats, so two vector
// loads give 16 quotients that are shifted to bits [i*b, (i+1)*b) and OR-ed together; no
// shuffles until the final 16 x int32 -> 16 bytes narrowing. The partial last block goes through
// the scalar quantize_block_ref so padding and rounding are shared code with the reference.
#pragma GCC target("avx2,fma,f16c")
#include "common/x86_intrin.h"

#include "quantize_pack/quantize_pack.h"

namespace chord {
namespace qpack {

namespace {

enum Mode : int { kSym = 0, kAsym = 1, kAsym1 = 2, kSym1 = 3 };

inline __m256i lane_mask(int64_t n) {  // first n (0..8) lanes set
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline int32_t hmax_epi32(__m256i v) {
  __m128i m = _mm_max_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0x4E));
  m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0xB1));
  return _mm_cvtsi128_si32(m);
}

inline float bits_to_float(int32_t b) {
  float f;
  __builtin_memcpy(&f, &b, 4);
  return f;
}

constexpr int32_t kInfBits = 0x7f800000;

RowStats stats_avx2(const float* w, int64_t K, int bits, Scheme scheme) {
  RowStats st;
  const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
  const int64_t K8 = K / 8 * 8;
  if (scheme == Scheme::Sym && bits == 1) {
    __m256i mb = _mm256_setzero_si256();
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();  // lanes k%8 in 0..3, 4..7
    for (int64_t k = 0; k < K; k += 8) {
      const __m256i m = lane_mask(K - k);
      const __m256i v = k < K8 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k))
                               : _mm256_castps_si256(_mm256_maskload_ps(w + k, m));
      const __m256i ab = _mm256_and_si256(v, absmask);
      mb = _mm256_max_epi32(mb, ab);
      const __m256 a = _mm256_castsi256_ps(ab);
      a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(a)));
      a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)));
    }
    if (hmax_epi32(mb) >= kInfBits) {
      st.finite = false;
      return st;
    }
    alignas(32) double l[8];
    _mm256_store_pd(l, a0);
    _mm256_store_pd(l + 4, a1);
    const double t0 = l[0] + l[4], t1 = l[1] + l[5], t2 = l[2] + l[6], t3 = l[3] + l[7];
    st.abs_sum = (t0 + t2) + (t1 + t3);
    return st;
  }
  if (scheme == Scheme::Sym) {
    __m256i m0 = _mm256_setzero_si256(), m1 = m0, m2 = m0, m3 = m0;
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
      m0 = _mm256_max_epi32(m0, _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k)), absmask));
      m1 = _mm256_max_epi32(m1,
                            _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k + 8)), absmask));
      m2 = _mm256_max_epi32(
          m2, _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k + 16)), absmask));
      m3 = _mm256_max_epi32(
          m3, _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k + 24)), absmask));
    }
    for (; k < K; k += 8) {
      const __m256i v = k + 8 <= K ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k))
                                   : _mm256_castps_si256(_mm256_maskload_ps(w + k, lane_mask(K - k)));
      m0 = _mm256_max_epi32(m0, _mm256_and_si256(v, absmask));
    }
    const int32_t mb = hmax_epi32(_mm256_max_epi32(_mm256_max_epi32(m0, m1), _mm256_max_epi32(m2, m3)));
    if (mb >= kInfBits) {
      st.finite = false;
      return st;
    }
    st.amax = bits_to_float(mb);
    return st;
  }
  // asym: min and max (masked tail lanes hold w[0], neutral for both)
  const __m256 first = _mm256_set1_ps(w[0]);
  __m256 lo0 = first, hi0 = first, lo1 = first, hi1 = first;
  __m256i mb0 = _mm256_setzero_si256(), mb1 = mb0;
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    const __m256 v0 = _mm256_loadu_ps(w + k), v1 = _mm256_loadu_ps(w + k + 8);
    lo0 = _mm256_min_ps(lo0, v0);
    hi0 = _mm256_max_ps(hi0, v0);
    lo1 = _mm256_min_ps(lo1, v1);
    hi1 = _mm256_max_ps(hi1, v1);
    mb0 = _mm256_max_epi32(mb0, _mm256_and_si256(_mm256_castps_si256(v0), absmask));
    mb1 = _mm256_max_epi32(mb1, _mm256_and_si256(_mm256_castps_si256(v1), absmask));
  }
  for (; k < K; k += 8) {
    const __m256i m = lane_mask(K - k);
    const __m256 v = _mm256_blendv_ps(first, _mm256_maskload_ps(w + k, m), _mm256_castsi256_ps(m));
    lo0 = _mm256_min_ps(lo0, v);
    hi0 = _mm256_max_ps(hi0, v);
    mb0 = _mm256_max_epi32(mb0, _mm256_and_si256(_mm256_castps_si256(v), absmask));
  }
  if (hmax_epi32(_mm256_max_epi32(mb0, mb1)) >= kInfBits) {
    st.finite = false;
    return st;
  }
  alignas(32) float l[8], h[8];
  _mm256_store_ps(l, _mm256_min_ps(lo0, lo1));
  _mm256_store_ps(h, _mm256_max_ps(hi0, hi1));
  st.lo = l[0];
  st.hi = h[0];
  for (int i = 1; i < 8; ++i) {
    st.lo = l[i] < st.lo ? l[i] : st.lo;
    st.hi = h[i] > st.hi ? h[i] : st.hi;
  }
  return st;
}

struct Consts {
  __m256 safe, qmin, qmax, off, zq;
};

// 8 floats -> 8 unsigned integers (int32 lanes), exactly quantize_elem() of the scalar path.
template <int MODE>
inline __m256i q8(__m256 v, const Consts& c) {
  constexpr int R = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;  // half-to-even
  if (MODE == kSym1)
    return _mm256_srli_epi32(_mm256_castps_si256(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GE_OQ)), 31);
  __m256 q;
  if (MODE == kSym) {
    q = _mm256_round_ps(_mm256_div_ps(v, c.safe), R);
    q = _mm256_min_ps(c.qmax, _mm256_max_ps(c.qmin, q));  // == torch.clamp operand order
    q = _mm256_add_ps(q, c.off);
  } else if (MODE == kAsym) {
    q = _mm256_add_ps(_mm256_round_ps(_mm256_div_ps(v, c.safe), R), c.zq);
    q = _mm256_min_ps(c.qmax, _mm256_max_ps(c.qmin, q));
  } else {  // kAsym1
    q = _mm256_round_ps(_mm256_add_ps(_mm256_div_ps(v, c.safe), c.zq), R);
    q = _mm256_min_ps(c.qmax, _mm256_max_ps(c.qmin, q));
  }
  return _mm256_cvtps_epi32(q);  // exact: q is an integer in [0, 255]
}

// 16 int32 lanes (< 256) -> 16 bytes in lane order
inline __m128i narrow16(__m256i a, __m256i b) {
  const __m256i p16 = _mm256_packus_epi32(a, b);  // [a0..3 b0..3 | a4..7 b4..7]
  const __m128i p8 = _mm_packus_epi16(_mm256_castsi256_si128(p16), _mm256_extracti128_si256(p16, 1));
  return _mm_shuffle_epi8(p8, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15));
}

template <int BITS, int MODE>
void full_blocks(const float* w, int64_t nblk, const Consts& c, uint8_t* out) {
  constexpr int EPB = 8 / BITS, BE = 16 * EPB;
  for (int64_t b = 0; b < nblk; ++b) {
    const float* src = w + b * BE;
    __m256i acc0 = q8<MODE>(_mm256_loadu_ps(src), c);
    __m256i acc1 = q8<MODE>(_mm256_loadu_ps(src + 8), c);
#pragma GCC unroll 8
    for (int i = 1; i < EPB; ++i) {
      acc0 = _mm256_or_si256(acc0, _mm256_slli_epi32(q8<MODE>(_mm256_loadu_ps(src + 16 * i), c), i * BITS));
      acc1 = _mm256_or_si256(acc1, _mm256_slli_epi32(q8<MODE>(_mm256_loadu_ps(src + 16 * i + 8), c), i * BITS));
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + b * kBlockBytes), narrow16(acc0, acc1));
  }
}

template <int MODE>
void full_blocks_bits(int bits, const float* w, int64_t nblk, const Consts& c, uint8_t* out) {
  fmt::with_width(bits, [&](auto B) { full_blocks<B.value, MODE>(w, nblk, c, out); });
}

}  // namespace

bool quantize_row_avx2(const float* w, int64_t K, int bits, Scheme scheme, uint8_t* out, float* scale, float* zero) {
  const RowStats st = stats_avx2(w, K, bits, scheme);
  if (!st.finite) return false;
  const RowParams p = row_params(st, bits, scheme, K);
  const Consts c{_mm256_set1_ps(p.safe), _mm256_set1_ps(p.qmin), _mm256_set1_ps(p.qmax), _mm256_set1_ps(p.off),
                 _mm256_set1_ps(p.zq)};
  const int64_t be = block_elems(bits), nfull = K / be, nblk = padded_k(K, bits) / be;
  if (scheme == Scheme::Sym)
    bits == 1 ? full_blocks<1, kSym1>(w, nfull, c, out) : full_blocks_bits<kSym>(bits, w, nfull, c, out);
  else
    bits == 1 ? full_blocks<1, kAsym1>(w, nfull, c, out) : full_blocks_bits<kAsym>(bits, w, nfull, c, out);
  if (nblk > nfull) quantize_block_ref(w, nfull * be, K, bits, scheme, p, out + nfull * kBlockBytes);
  *scale = p.scale;
  *zero = p.zero;
  return true;
}

}  // namespace qpack
}  // namespace chord
