// The act_bits = 8 kernel of mp_linear on the AArch64 dot-product extension (FEAT_DotProd:
// SDOT, on phones since ~2018). Compiled with a target pragma (the rest of the library stays
// baseline ARMv8-A) and selected at run time (common/isa.h: neon_dotprod, HWCAP_ASIMDDP).
// Like mp_linear_avx2.cpp: raw loops, intrinsics and templates local to this file only, no header
// templates or STL, so no dot-product instruction leaks into code a CPU without it would run.
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

// Field I of a 16-byte planar load as signed bytes (8-bit fields as u - 128). Templates local
// to this file only (internal linkage: nothing compiled here is shared with another file), with
// I a template argument so every shift is an immediate.
template <int BITS, int I>
inline int8x16_t field(uint8x16_t v) {
  const uint8x16_t mask = vdupq_n_u8(uint8_t((1u << BITS) - 1u));
  if constexpr (BITS == 8)
    return vreinterpretq_s8_u8(veorq_u8(v, vdupq_n_u8(0x80)));
  else if constexpr (I == 0)
    return vreinterpretq_s8_u8(vandq_u8(v, mask));
  else if constexpr (BITS * (I + 1) == 8)
    return vreinterpretq_s8_u8(vshrq_n_u8(v, BITS * I));  // topmost: no mask
  else
    return vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, BITS * I), mask));
}

// acc[m] += fields I, I + 1, ... of block v against activation row m of the block (xb + m * ldx).
template <int BITS, int MB, int I = 0>
inline void sdot_fields(int32x4_t* acc, uint8x16_t v, const int8_t* xb, int64_t ldx) {
  if constexpr (I < 8 / BITS) {
    const int8x16_t f = field<BITS, I>(v);
    for (int m = 0; m < MB; ++m) acc[m] = vdotq_s32(acc[m], f, vld1q_s8(xb + m * ldx + 16 * I));
    sdot_fields<BITS, MB, I + 1>(acc, v, xb, ldx);
  }
}

// One packed row against MB activation rows.
template <int BITS, int MB>
void row_i8(const uint8_t* row, int64_t nblocks, const int8_t* x, int64_t ldx, const int64_t* qsum, int64_t* out,
            int64_t ldo) {
  constexpr int64_t be = 16 * (8 / BITS);
  int32x4_t acc[MB];
  for (int m = 0; m < MB; ++m) acc[m] = vdupq_n_s32(0);
  for (int64_t c = 0; c < nblocks; ++c) sdot_fields<BITS, MB>(acc, vld1q_u8(row + c * 16), x + c * be, ldx);
  for (int m = 0; m < MB; ++m) {
    int64_t s = vaddlvq_s32(acc[m]);
    if (BITS == 8) s += 128 * qsum[m];
    out[m * ldo] = s;
  }
}

typedef void (*RowFn)(const uint8_t*, int64_t, const int8_t*, int64_t, const int64_t*, int64_t*, int64_t);

}  // namespace

void dot_i8_neon_dotprod(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                         const int64_t* qsum, int64_t* out, int64_t ldo) {
  RowFn one = bits == 1 ? row_i8<1, 1> : bits == 2 ? row_i8<2, 1> : bits == 4 ? row_i8<4, 1> : row_i8<8, 1>;
  RowFn four = bits == 1 ? row_i8<1, 4> : bits == 2 ? row_i8<2, 4> : bits == 4 ? row_i8<4, 4> : row_i8<8, 4>;
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
