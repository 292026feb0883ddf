// AArch64 NEON row kernel of chord::quantize_pack (selected at run time under the neon and
// neon_dotprod ISAs; see quantize_pack.h). The same two reads of the row as the AVX2 kernel --
// statistics (max|w| as the integer max of |w|'s bit patterns, which is also the NaN/Inf test;
// min/max; or the 8-lane float64 |w| sum), then quantize + pack one 16-byte planar block at a
// time -- so the bytes are those of the scalar reference and of the x86 packer: IEEE division
// (FDIV, never a reciprocal), round-half-to-even (FRINTN), torch's clamp operand order, and no
// multiply for the compiler to contract into an FMA. Plane i of a block is 16 consecutive
// floats: 4 vector quotients narrow to 16 bytes, shifted to bits [i*b, (i+1)*b) and OR-ed. The
// partial last block goes through quantize_block_ref (shared padding and rounding code).
#if defined(__aarch64__)
#include <arm_neon.h>

#include "quantize_pack/quantize_pack.h"

namespace chord {
namespace qpack {

namespace {

enum Mode : int { kSym = 0, kAsym = 1, kAsym1 = 2, kSym1 = 3 };

constexpr uint32_t kInfBits = 0x7f800000u;

inline float bits_to_float(uint32_t b) {
  float f;
  __builtin_memcpy(&f, &b, 4);
  return f;
}

// the next min(4, n) floats of w (zeros beyond n: neutral for max|w| and the |w| sum)
inline float32x4_t load_tail(const float* w, int64_t n) {
  float t[4] = {0.f, 0.f, 0.f, 0.f};
  for (int64_t i = 0; i < n && i < 4; ++i) t[i] = w[i];
  return vld1q_f32(t);
}

RowStats stats_neon(const float* w, int64_t K, int bits, Scheme scheme) {
  RowStats st;
  const uint32x4_t absmask = vdupq_n_u32(0x7fffffffu);
  if (scheme == Scheme::Sym && bits == 1) {
    // lanes k % 8: a01 = {0, 1}, a23 = {2, 3}, a45 = {4, 5}, a67 = {6, 7} (row_stats_ref's order)
    uint32x4_t mb = vdupq_n_u32(0);
    float64x2_t a01 = vdupq_n_f64(0.0), a23 = a01, a45 = a01, a67 = a01;
    for (int64_t k = 0; k < K; k += 8) {
      const bool full = k + 8 <= K;
      const uint32x4_t v0 = vreinterpretq_u32_f32(full ? vld1q_f32(w + k) : load_tail(w + k, K - k));
      const uint32x4_t v1 =
          vreinterpretq_u32_f32(full ? vld1q_f32(w + k + 4) : load_tail(w + k + 4, K - k - 4 > 0 ? K - k - 4 : 0));
      const uint32x4_t b0 = vandq_u32(v0, absmask), b1 = vandq_u32(v1, absmask);
      mb = vmaxq_u32(mb, vmaxq_u32(b0, b1));
      const float32x4_t f0 = vreinterpretq_f32_u32(b0), f1 = vreinterpretq_f32_u32(b1);
      a01 = vaddq_f64(a01, vcvt_f64_f32(vget_low_f32(f0)));
      a23 = vaddq_f64(a23, vcvt_high_f64_f32(f0));
      a45 = vaddq_f64(a45, vcvt_f64_f32(vget_low_f32(f1)));
      a67 = vaddq_f64(a67, vcvt_high_f64_f32(f1));
    }
    if (vmaxvq_u32(mb) >= kInfBits) {
      st.finite = false;
      return st;
    }
    const double t0 = vgetq_lane_f64(a01, 0) + vgetq_lane_f64(a45, 0),
                 t1 = vgetq_lane_f64(a01, 1) + vgetq_lane_f64(a45, 1);
    const double t2 = vgetq_lane_f64(a23, 0) + vgetq_lane_f64(a67, 0),
                 t3 = vgetq_lane_f64(a23, 1) + vgetq_lane_f64(a67, 1);
    st.abs_sum = (t0 + t2) + (t1 + t3);
    return st;
  }
  if (scheme == Scheme::Sym) {
    uint32x4_t m0 = vdupq_n_u32(0), m1 = m0, m2 = m0, m3 = m0;
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
      m0 = vmaxq_u32(m0, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(w + k)), absmask));
      m1 = vmaxq_u32(m1, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(w + k + 4)), absmask));
      m2 = vmaxq_u32(m2, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(w + k + 8)), absmask));
      m3 = vmaxq_u32(m3, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(w + k + 12)), absmask));
    }
    for (; k < K; k += 4) {
      const float32x4_t v = k + 4 <= K ? vld1q_f32(w + k) : load_tail(w + k, K - k);
      m0 = vmaxq_u32(m0, vandq_u32(vreinterpretq_u32_f32(v), absmask));
    }
    const uint32_t mb = vmaxvq_u32(vmaxq_u32(vmaxq_u32(m0, m1), vmaxq_u32(m2, m3)));
    if (mb >= kInfBits) {
      st.finite = false;
      return st;
    }
    st.amax = bits_to_float(mb);
    return st;
  }
  // asym: min and max (tail lanes hold w[0], neutral for both). With every value finite the
  // extremes do not depend on the order; a signed zero may differ from the scalar scan's, which
  // row_params() makes harmless (its zero point is canonicalized to +0.0, |lo| for a constant row).
  const float32x4_t first = vdupq_n_f32(w[0]);
  float32x4_t lo0 = first, hi0 = first, lo1 = first, hi1 = first;
  uint32x4_t mb0 = vdupq_n_u32(0), mb1 = mb0;
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    const float32x4_t v0 = vld1q_f32(w + k), v1 = vld1q_f32(w + k + 4);
    lo0 = vminq_f32(lo0, v0);
    hi0 = vmaxq_f32(hi0, v0);
    lo1 = vminq_f32(lo1, v1);
    hi1 = vmaxq_f32(hi1, v1);
    mb0 = vmaxq_u32(mb0, vandq_u32(vreinterpretq_u32_f32(v0), absmask));
    mb1 = vmaxq_u32(mb1, vandq_u32(vreinterpretq_u32_f32(v1), absmask));
  }
  for (; k < K; k += 4) {
    float t[4] = {w[0], w[0], w[0], w[0]};
    for (int64_t i = 0; i < 4 && k + i < K; ++i) t[i] = w[k + i];
    const float32x4_t v = vld1q_f32(t);
    lo0 = vminq_f32(lo0, v);
    hi0 = vmaxq_f32(hi0, v);
    mb0 = vmaxq_u32(mb0, vandq_u32(vreinterpretq_u32_f32(v), absmask));
  }
  // a NaN makes FMIN/FMAX return NaN, but the bit-pattern max catches it first
  if (vmaxvq_u32(vmaxq_u32(mb0, mb1)) >= kInfBits) {
    st.finite = false;
    return st;
  }
  st.lo = vminvq_f32(vminq_f32(lo0, lo1));
  st.hi = vmaxvq_f32(vmaxq_f32(hi0, hi1));
  return st;
}

struct Consts {
  float32x4_t safe, qmin, qmax, off, zq;
};

// 4 floats -> 4 unsigned integers (uint32 lanes), exactly quantize_elem() of the scalar path.
template <int MODE>
inline uint32x4_t q4(float32x4_t v, const Consts& c) {
  if (MODE == kSym1) return vshrq_n_u32(vcgeq_f32(v, vdupq_n_f32(0.f)), 31);
  float32x4_t q;
  if (MODE == kSym) {
    q = vrndnq_f32(vdivq_f32(v, c.safe));
    q = vminq_f32(c.qmax, vmaxq_f32(c.qmin, q));  // finite operands: == torch.clamp
    q = vaddq_f32(q, c.off);
  } else if (MODE == kAsym) {
    q = vaddq_f32(vrndnq_f32(vdivq_f32(v, c.safe)), c.zq);
    q = vminq_f32(c.qmax, vmaxq_f32(c.qmin, q));
  } else {  // kAsym1
    q = vrndnq_f32(vaddq_f32(vdivq_f32(v, c.safe), c.zq));
    q = vminq_f32(c.qmax, vmaxq_f32(c.qmin, q));
  }
  return vcvtq_u32_f32(q);  // exact: q is an integer in [0, 255] (a -0.0 converts to 0)
}

// 16 consecutive floats -> 16 bytes (each < 256)
template <int MODE>
inline uint8x16_t q16(const float* src, const Consts& c) {
  const uint16x8_t a = vcombine_u16(vmovn_u32(q4<MODE>(vld1q_f32(src), c)), vmovn_u32(q4<MODE>(vld1q_f32(src + 4), c)));
  const uint16x8_t b =
      vcombine_u16(vmovn_u32(q4<MODE>(vld1q_f32(src + 8), c)), vmovn_u32(q4<MODE>(vld1q_f32(src + 12), c)));
  return vcombine_u8(vmovn_u16(a), vmovn_u16(b));
}

template <int BITS, int MODE>
void full_blocks(const float* w, int64_t nblk, const Consts& c, uint8_t* out) {
  constexpr int EPB = 8 / BITS, BE = 16 * EPB;
  for (int64_t b = 0; b < nblk; ++b) {
    const float* src = w + b * BE;
    uint8x16_t acc = q16<MODE>(src, c);
#pragma GCC unroll 8
    for (int i = 1; i < EPB; ++i)
      acc = vorrq_u8(acc, vshlq_u8(q16<MODE>(src + 16 * i, c), vdupq_n_s8(int8_t(i * BITS))));
    vst1q_u8(out + b * kBlockBytes, acc);
  }
}

template <int MODE>
void full_blocks_bits(int bits, const float* w, int64_t nblk, const Consts& c, uint8_t* out) {
  fmt::with_width(bits, [&](auto B) { full_blocks<B.value, MODE>(w, nblk, c, out); });
}

}  // namespace

bool quantize_row_neon(const float* w, int64_t K, int bits, Scheme scheme, uint8_t* out, float* scale, float* zero) {
  const RowStats st = stats_neon(w, K, bits, scheme);
  if (!st.finite) return false;
  const RowParams p = row_params(st, bits, scheme, K);
  const Consts c{vdupq_n_f32(p.safe), vdupq_n_f32(p.qmin), vdupq_n_f32(p.qmax), vdupq_n_f32(p.off), vdupq_n_f32(p.zq)};
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
#endif  // __aarch64__
