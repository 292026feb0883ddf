// The act_bits = 8 kernel of mp_linear on the AArch64 dot-product extension (FEAT_DotProd:
// SDOT, on phones since ~2018). Compiled with a target pragma (the rest of the library stays
// baseline ARMv8-A) and selected at run time (common/isa.h: neon_dotprod, HWCAP_ASIMDDP).
// Like mp_linear_avx2.cpp: raw loops and intrinsics only, no header templates or STL, so no
// dot-product instruction leaks into code a CPU without it would run.
//
// Natural-order int8 activations (as mp_linear_neon.cpp): field i of a 16-byte planar load
// lines up with 16 consecutive activations. Fields of b <= 4 bits are < 16, valid signed
// bytes; 8-bit fields run as u - 128 and get 128 * sum(xq) back (the AVX2 trick). SDOT sums 4
// byte products into each int32 lane: exact for K <= kMaxKInt8, so bit-identical to scalar.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstdint>

#include "mp_linear/mp_linear_kernels.h"

#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")

namespace chord {
namespace mpl {

namespace {

// One packed row against MB activation rows; the field loop is written out per width so every
// shift is an immediate (no templates: see the header comment).
#define CHORD_SDOT_FIELD(F, I) \
  for (int m = 0; m < MB; ++m) acc[m] = vdotq_s32(acc[m], F, vld1q_s8(x + m * ldx + c * be + 16 * (I)));

#define CHORD_ROW_I8(NAME, BITS, MB_)                                                                      \
  static void NAME(const uint8_t* row, int64_t nblocks, const int8_t* x, int64_t ldx, const int64_t* qsum, \
                   int64_t* out, int64_t ldo) {                                                            \
    constexpr int MB = MB_;                                                                                \
    constexpr int64_t be = 16 * (8 / BITS);                                                                \
    const uint8x16_t mask = vdupq_n_u8(uint8_t((1u << BITS) - 1u));                                        \
    (void)mask;                                                                                            \
    int32x4_t acc[MB];                                                                                     \
    for (int m = 0; m < MB; ++m) acc[m] = vdupq_n_s32(0);                                                  \
    for (int64_t c = 0; c < nblocks; ++c) {                                                                \
      const uint8x16_t v = vld1q_u8(row + c * 16);                                                         \
      if (BITS == 8) {                                                                                     \
        const int8x16_t f = vreinterpretq_s8_u8(veorq_u8(v, vdupq_n_u8(0x80)));                            \
        CHORD_SDOT_FIELD(f, 0)                                                                             \
      } else if (BITS == 4) {                                                                              \
        const int8x16_t f0 = vreinterpretq_s8_u8(vandq_u8(v, mask));                                       \
        const int8x16_t f1 = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));                                        \
        CHORD_SDOT_FIELD(f0, 0)                                                                            \
        CHORD_SDOT_FIELD(f1, 1)                                                                            \
      } else if (BITS == 2) {                                                                              \
        const int8x16_t f0 = vreinterpretq_s8_u8(vandq_u8(v, mask));                                       \
        const int8x16_t f1 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 2), mask));                        \
        const int8x16_t f2 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 4), mask));                        \
        const int8x16_t f3 = vreinterpretq_s8_u8(vshrq_n_u8(v, 6));                                        \
        CHORD_SDOT_FIELD(f0, 0)                                                                            \
        CHORD_SDOT_FIELD(f1, 1)                                                                            \
        CHORD_SDOT_FIELD(f2, 2)                                                                            \
        CHORD_SDOT_FIELD(f3, 3)                                                                            \
      } else {                                                                                             \
        const int8x16_t f0 = vreinterpretq_s8_u8(vandq_u8(v, mask));                                       \
        const int8x16_t f1 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 1), mask));                        \
        const int8x16_t f2 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 2), mask));                        \
        const int8x16_t f3 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 3), mask));                        \
        const int8x16_t f4 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 4), mask));                        \
        const int8x16_t f5 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 5), mask));                        \
        const int8x16_t f6 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 6), mask));                        \
        const int8x16_t f7 = vreinterpretq_s8_u8(vshrq_n_u8(v, 7));                                        \
        CHORD_SDOT_FIELD(f0, 0)                                                                            \
        CHORD_SDOT_FIELD(f1, 1)                                                                            \
        CHORD_SDOT_FIELD(f2, 2)                                                                            \
        CHORD_SDOT_FIELD(f3, 3)                                                                            \
        CHORD_SDOT_FIELD(f4, 4)                                                                            \
        CHORD_SDOT_FIELD(f5, 5)                                                                            \
        CHORD_SDOT_FIELD(f6, 6)                                                                            \
        CHORD_SDOT_FIELD(f7, 7)                                                                            \
      }                                                                                                    \
    }                                                                                                      \
    for (int m = 0; m < MB; ++m) {                                                                         \
      int64_t s = vaddlvq_s32(acc[m]);                                                                     \
      if (BITS == 8) s += 128 * qsum[m];                                                                   \
      out[m * ldo] = s;                                                                                    \
    }                                                                                                      \
  }

CHORD_ROW_I8(row1_b1, 1, 1)
CHORD_ROW_I8(row4_b1, 1, 4)
CHORD_ROW_I8(row1_b2, 2, 1)
CHORD_ROW_I8(row4_b2, 2, 4)
CHORD_ROW_I8(row1_b4, 4, 1)
CHORD_ROW_I8(row4_b4, 4, 4)
CHORD_ROW_I8(row1_b8, 8, 1)
CHORD_ROW_I8(row4_b8, 8, 4)

#undef CHORD_ROW_I8
#undef CHORD_SDOT_FIELD

typedef void (*RowFn)(const uint8_t*, int64_t, const int8_t*, int64_t, const int64_t*, int64_t*, int64_t);

}  // namespace

void dot_i8_neon_dotprod(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                         const int64_t* qsum, int64_t* out, int64_t ldo) {
  RowFn one = bits == 1 ? row1_b1 : bits == 2 ? row1_b2 : bits == 4 ? row1_b4 : row1_b8;
  RowFn four = bits == 1 ? row4_b1 : bits == 2 ? row4_b2 : bits == 4 ? row4_b4 : row4_b8;
  const int64_t nblocks = rb / 16;
  for (int64_t r = 0; r < nr; ++r) {
    const uint8_t* row = w + r * rb;
    int64_t m = 0;
    for (; m + 4 <= nm; m += 4) four(row, nblocks, x + m * ldx, ldx, qsum + m, out + m * ldo + r, ldo);
    for (; m < nm; ++m) one(row, nblocks, x + m * ldx, ldx, qsum + m, out + m * ldo + r, ldo);
  }
}

}  // namespace mpl
}  // namespace chord

#pragma GCC pop_options
#endif  // __aarch64__
