// Row-vectorized int8 scans of chord::mp_topk for short item rows (K <= 256): AVX-512 VNNI,
// an AVX2 fallback, and AArch64 NEON (SDOT, or plain NEON without the dot-product extension).
//
// Item tables have short rows (K = 64: a 2-bit row is one 16-byte planar block), so instead of
// one row per register the scan packs several rows into a zmm: 4 rows of one block, 2 rows of
// two blocks, or one row of >= 3 blocks (masked 64-byte chunks). Each plane of b-bit fields is
// one shift + and; vpdpbusd multiplies it with the user's int8 activations (laid out per
// 128-bit lane to match the block the lane holds) into int32 lanes; 16 rows' lanes are reduced
// by a transpose-add tree into one vector of 16 exact integer dots. The epilogue (float32):
//   a   = sx * scale_r * (dot - zero_r * sum(xq))                      approximate score
//   bnd = |scale_r| * (max(|z_r|, |2^b-1-z_r|) * D + (2^b-1 + |z_r|) * cS)   rigorous bound
// where D = sum_k |x_ref_k - sx * xq_k| (the activation quantization error, 0 when the exact
// path itself uses these int8 activations) and cS covers float32 rounding. Rows whose
// up = a + bnd reaches the user's tau (one compare per 16 rows) go to its Selector.
// Pruned rows are never scanned (the caller handles them).
#pragma once
#include <cstdint>

#include "mp_linear/mp_linear.h"
#include "topk/topk_select.h"

namespace chord {
namespace topk {

constexpr int64_t kVnniMaxK = 256;
constexpr int64_t kVnniActBytes = 256;  // xq is zero padded to this many bytes

// One activation row, prepared for the int8 scan.
struct VnniUser {
  const int8_t* xq;  // [kVnniActBytes], zero beyond K
  float sx;          // xq * sx ~= x_ref
  float sq;          // sum(xq) (exact integer)
  float D;           // sum |x_ref - sx * xq|, rounded up
  float cS;          // rounding-slack coefficient (see above)
  Selector* sel;
};

// Scans packed rows [r0, r1) of the (non-pruned, K <= 256) bucket sp for users[0..nu) and
// offers (packed row, lo, up) to each user's Selector. xq: |xq| <= 127. Runs under the
// avx512_vnni ISA only (common/isa.h).
void scan_vnni(const mpl::PackedView& w, const mpl::BucketSpan& sp, int64_t r0, int64_t r1, const VnniUser* users,
               int nu);

// The AVX2 fallback (topk_i8_avx2.cpp, vpmaddubsw): the same contract, but xq must satisfy
// |xq| <= kI8Avx2Qmax (vpmaddubsw saturates int16 pairs).
constexpr int kI8Avx2Qmax = 63;
void scan_i8_avx2(const mpl::PackedView& w, const mpl::BucketSpan& sp, int64_t r0, int64_t r1, const VnniUser* users,
                  int nu);

// AArch64 (topk_i8_neon.cpp): the same contract with |xq| <= 127 (nothing saturates); exact int32
// dots on SDOT when dotprod (the neon_dotprod ISA), else on SMULL/SMLAL + SADALP (neon).
void scan_i8_neon(const mpl::PackedView& w, const mpl::BucketSpan& sp, int64_t r0, int64_t r1, const VnniUser* users,
                  int nu, bool dotprod);
// Its dot kernels: out[i] = bias + sum_k xq[k] * (field k of row i, minus 128 for 8-bit rows)
// for the n rows at rows + i * rb (rb = the bucket's row bytes; xq zero padded past K).
void dots_i8_neon(const uint8_t* rows, int64_t rb, int bits, int64_t n, const int8_t* xq, int32_t bias, int32_t* out);
void dots_i8_neon_dotprod(const uint8_t* rows, int64_t rb, int bits, int64_t n, const int8_t* xq, int32_t bias,
                          int32_t* out);

}  // namespace topk
}  // namespace chord
