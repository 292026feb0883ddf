// AArch64 Advanced SIMD kernels of mp_linear (baseline ARMv8-A: every AArch64 CPU has them).
// Compiled only for AArch64 (empty elsewhere); selected at run time through common/isa.h.
//
// Activations stay in natural order (the scalar ISA's layout): in a planar block, field i of
// the 16 bytes, (v >> b*i) & mask, is the 16 consecutive elements [16i, 16i + 16) of the
// block, so one shift + AND of a 16-byte load lines up with one 16-element activation load.
//
// fp32 (act_bits = 0): fields widen u8 -> u16 -> u32 -> f32 and meet the activations in fp32
// FMAs, four independent 4-lane chains per activation row, summed in a fixed order at the end
// (never dependent on M, the row split or the thread count).
// int8 (act_bits = 8), no dot-product extension: fields (< 16 for b <= 4; u - 128 for b = 8,
// like the AVX2 kernel) times int8 activations with SMULL/SMULL2 (int16, |p| <= 128 * 127),
// pairwise-accumulated into int32 lanes (SADALP); exact, so bit-identical to the scalar path.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "mp_linear/mp_linear_kernels.h"

namespace chord {
namespace mpl {

namespace {

// Field I of a 16-byte planar load: elements [16 I, 16 I + 16) of the block (shift immediates).
template <int BITS, int I>
inline uint8x16_t field(uint8x16_t v) {
  if constexpr (BITS == 8)
    return v;
  else if constexpr (I == 0)
    return vandq_u8(v, vdupq_n_u8(uint8_t((1u << BITS) - 1u)));
  else if constexpr (BITS * (I + 1) == 8)
    return vshrq_n_u8(v, BITS * I);  // topmost: no mask
  else
    return vandq_u8(vshrq_n_u8(v, BITS * I), vdupq_n_u8(uint8_t((1u << BITS) - 1u)));
}

// f(std::integral_constant<int, I>) for every field I of a byte, unrolled.
template <int BITS, int I = 0, class F>
inline void for_fields(F&& f) {
  if constexpr (I < 8 / BITS) {
    f(std::integral_constant<int, I>{});
    for_fields<BITS, I + 1>(f);
  }
}

template <int BITS, int MB>
void row_f32(const uint8_t* row, int64_t nblocks, const float* x, int64_t ldx, float* out, int64_t ldo) {
  constexpr int epb = 8 / BITS;
  constexpr int64_t be = 16 * epb;
  float32x4_t acc[MB][4];
  for (int m = 0; m < MB; ++m)
    for (int q = 0; q < 4; ++q) acc[m][q] = vdupq_n_f32(0.f);
  for (int64_t c = 0; c < nblocks; ++c) {
    const uint8x16_t v = vld1q_u8(row + c * 16);
    for_fields<BITS>([&](auto ic) {
      constexpr int i = decltype(ic)::value;
      const uint8x16_t f = field<BITS, i>(v);
      const uint16x8_t lo = vmovl_u8(vget_low_u8(f)), hi = vmovl_high_u8(f);
      const float32x4_t w0 = vcvtq_f32_u32(vmovl_u16(vget_low_u16(lo)));
      const float32x4_t w1 = vcvtq_f32_u32(vmovl_high_u16(lo));
      const float32x4_t w2 = vcvtq_f32_u32(vmovl_u16(vget_low_u16(hi)));
      const float32x4_t w3 = vcvtq_f32_u32(vmovl_high_u16(hi));
      for (int m = 0; m < MB; ++m) {
        const float* xe = x + m * ldx + c * be + 16 * i;
        acc[m][0] = vfmaq_f32(acc[m][0], w0, vld1q_f32(xe));
        acc[m][1] = vfmaq_f32(acc[m][1], w1, vld1q_f32(xe + 4));
        acc[m][2] = vfmaq_f32(acc[m][2], w2, vld1q_f32(xe + 8));
        acc[m][3] = vfmaq_f32(acc[m][3], w3, vld1q_f32(xe + 12));
      }
    });
  }
  for (int m = 0; m < MB; ++m)
    out[m * ldo] = vaddvq_f32(vaddq_f32(vaddq_f32(acc[m][0], acc[m][1]), vaddq_f32(acc[m][2], acc[m][3])));
}

template <int BITS>
void dot_f32_bits(const uint8_t* w, int64_t rb, int64_t nr, const float* x, int64_t ldx, int64_t nm, float* out,
                  int64_t ldo) {
  const int64_t nblocks = rb / 16;
  for (int64_t r = 0; r < nr; ++r) {
    const uint8_t* row = w + r * rb;
    int64_t m = 0;
    for (; m + 4 <= nm; m += 4) row_f32<BITS, 4>(row, nblocks, x + m * ldx, ldx, out + m * ldo + r, ldo);
    for (; m < nm; ++m) row_f32<BITS, 1>(row, nblocks, x + m * ldx, ldx, out + m * ldo + r, ldo);
  }
}

// noinline: one call per packed row; keeps each loop a symbol of its own (tools/arm/loop_insns.py)
template <int BITS, int MB>
__attribute__((noinline)) void row_i8(const uint8_t* row, int64_t nblocks, const int8_t* x, int64_t ldx,
                                      const int64_t* qsum, int64_t* out, int64_t ldo) {
  constexpr int epb = 8 / BITS;
  constexpr int64_t be = 16 * epb;
  int32x4_t acc[MB];
  for (int m = 0; m < MB; ++m) acc[m] = vdupq_n_s32(0);
  for (int64_t c = 0; c < nblocks; ++c) {
    const uint8x16_t v = vld1q_u8(row + c * 16);
    for_fields<BITS>([&](auto ic) {
      constexpr int i = decltype(ic)::value;
      // b = 8: u - 128 (flip the top bit) keeps the product in int16
      const int8x16_t f =
          BITS == 8 ? vreinterpretq_s8_u8(veorq_u8(v, vdupq_n_u8(0x80))) : vreinterpretq_s8_u8(field<BITS, i>(v));
      for (int m = 0; m < MB; ++m) {
        const int8x16_t xv = vld1q_s8(x + m * ldx + c * be + 16 * i);
        acc[m] = vpadalq_s16(acc[m], vmull_s8(vget_low_s8(f), vget_low_s8(xv)));
        acc[m] = vpadalq_s16(acc[m], vmull_high_s8(f, xv));
      }
    });
  }
  for (int m = 0; m < MB; ++m) {
    int64_t s = vaddlvq_s32(acc[m]);
    if (BITS == 8) s += 128 * qsum[m];
    out[m * ldo] = s;
  }
}

template <int BITS>
void dot_i8_bits(const uint8_t* w, int64_t rb, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                 const int64_t* qsum, int64_t* out, int64_t ldo) {
  const int64_t nblocks = rb / 16;
  for (int64_t r = 0; r < nr; ++r) {
    const uint8_t* row = w + r * rb;
    int64_t m = 0;
    for (; m + 4 <= nm; m += 4) row_i8<BITS, 4>(row, nblocks, x + m * ldx, ldx, qsum + m, out + m * ldo + r, ldo);
    for (; m < nm; ++m) row_i8<BITS, 1>(row, nblocks, x + m * ldx, ldx, qsum + m, out + m * ldo + r, ldo);
  }
}

}  // namespace

void dot_f32_neon(const uint8_t* w, int64_t rb, int bits, int64_t nr, const float* x, int64_t ldx, int64_t nm,
                  float* out, int64_t ldo) {
  fmt::with_width(bits, [&](auto B) { dot_f32_bits<B.value>(w, rb, nr, x, ldx, nm, out, ldo); });
}

void dot_i8_neon(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                 const int64_t* qsum, int64_t* out, int64_t ldo) {
  fmt::with_width(bits, [&](auto B) { dot_i8_bits<B.value>(w, rb, nr, x, ldx, nm, qsum, out, ldo); });
}

float quantize_row_i8_neon(const float* x, int64_t K, int8_t* xq) {
  // quantize_row_i8_ref, 4 lanes at a time: FMAX propagates NaN like the scalar max, FDIV is
  // IEEE division, FRINTN rounds half to even (nearbyint in the default mode), FMAX/FMIN clamp
  // and FCVTZS turns a NaN quotient into 0, as the scalar code does.
  float32x4_t vmax = vdupq_n_f32(0.f);
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) vmax = vmaxq_f32(vmax, vabsq_f32(vld1q_f32(x + k)));
  float amax = vmaxvq_f32(vmax);
  for (; k < K; ++k) {
    const float a = std::fabs(x[k]);
    amax = (a > amax || std::isnan(a)) ? a : amax;
  }
  const float sx = amax / 127.0f;
  const float safe = sx > 0.f ? sx : 1.0f;
  const float32x4_t vs = vdupq_n_f32(safe), lo = vdupq_n_f32(-127.f), hi = vdupq_n_f32(127.f);
  for (k = 0; k + 8 <= K; k += 8) {
    const int32x4_t q0 = vcvtq_s32_f32(vminq_f32(vmaxq_f32(vrndnq_f32(vdivq_f32(vld1q_f32(x + k), vs)), lo), hi));
    const int32x4_t q1 = vcvtq_s32_f32(vminq_f32(vmaxq_f32(vrndnq_f32(vdivq_f32(vld1q_f32(x + k + 4), vs)), lo), hi));
    vst1_s8(xq + k, vmovn_s16(vcombine_s16(vmovn_s32(q0), vmovn_s32(q1))));
  }
  for (; k < K; ++k) {
    float q = std::nearbyint(x[k] / safe);
    q = q < -127.f ? -127.f : (q > 127.f ? 127.f : q);
    if (std::isnan(q)) q = 0.f;
    xq[k] = int8_t(q);
  }
  return sx;
}

void dequant_row_neon(const uint8_t* w, int bits, int64_t K, float scale, float zero, float* out) {
  // (u - zero) * scale per element, exactly the scalar expression (no FMA contraction)
  const int epb = 8 / bits;
  const int64_t be = 16 * epb, nfull = K / be;
  const float32x4_t z = vdupq_n_f32(zero), s = vdupq_n_f32(scale);
  const uint8x16_t mask = vdupq_n_u8(uint8_t((1u << bits) - 1u));
  for (int64_t c = 0; c < nfull; ++c) {
    const uint8x16_t v = vld1q_u8(w + c * 16);
    for (int i = 0; i < epb; ++i) {
      const uint8x16_t f = vandq_u8(vshlq_u8(v, vdupq_n_s8(int8_t(-bits * i))), mask);  // v >> b*i
      const uint16x8_t lo = vmovl_u8(vget_low_u8(f)), hi = vmovl_high_u8(f);
      float* o = out + c * be + 16 * i;
      vst1q_f32(o, vmulq_f32(vsubq_f32(vcvtq_f32_u32(vmovl_u16(vget_low_u16(lo))), z), s));
      vst1q_f32(o + 4, vmulq_f32(vsubq_f32(vcvtq_f32_u32(vmovl_high_u16(lo)), z), s));
      vst1q_f32(o + 8, vmulq_f32(vsubq_f32(vcvtq_f32_u32(vmovl_u16(vget_low_u16(hi))), z), s));
      vst1q_f32(o + 12, vmulq_f32(vsubq_f32(vcvtq_f32_u32(vmovl_high_u16(hi)), z), s));
    }
  }
  if (nfull * be < K) dequant_row_ref(w + nfull * 16, bits, K - nfull * be, scale, zero, out + nfull * be);
}

}  // namespace mpl
}  // namespace chord
#endif  // __aarch64__
