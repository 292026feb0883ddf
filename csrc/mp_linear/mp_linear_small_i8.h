// The int8 panel path for small layers (act_bits = 8) on AVX2 CPUs without the dot-product units:
// the whole weight laid out in k-quads (once per call, or once per packed weight when its owner
// keeps a WeightCache: mp_linear.h) (4 consecutive k of 8 output columns in one
// 32-byte register), every activation row quantized once, and a register tile of 4 rows x 16
// columns that sums maddubs products in int16 lanes with no horizontal reduction.
//
// Why: at the layer sizes of sequence recommenders (K, N of 64..256, tens of rows per call) the
// general int8 GEMM (mp_linear_gemm_i8.cpp) holds one column's k run per register and pays a
// horizontal sum per output: with K = 64 that is two maddubs steps per reduction, and it ran
// 2.5x slower than the exact fp32 panel (reports/2026-12-07-small-layers.md). In k-quads each
// output column owns one int32 lane, so the tile's arithmetic is all multiply-adds.
//
// Exactness: the dots are exact integers and the epilogue is the direct path's float64
// expression, evaluated step by step (no contraction), so the result equals every other
// act_bits = 8 path's bit for bit.
#pragma once
#include <cstdint>

#include "mp_linear/mp_linear.h"
#include "mp_linear/mp_linear_kernels.h"

namespace chord {
namespace mpl {

// Longest rows and largest k-quad layout (bytes: live rows rounded up to 8 a bucket x K rounded
// up to 4, 8-bit rows twice) this path takes: the layout is read once per 4 activation rows, so
// it must stay in L2 beside them. (Also the most a cached layout holds: WeightCache.)
// (Longer rows: the GEMM's horizontal sums are amortized over the row; at K = 256 the two were
// level and at K = 1024 the GEMM was faster, reports/2026-12-07-small-layers.md.)
constexpr int64_t kMaxKSmallI8 = 128;
constexpr int64_t kMaxSmallI8Bytes = 128 << 10;
// The cost model takes this path from M >= max(2, K / kSmallI8RowsPerK) activation rows (choose_path).
constexpr int64_t kSmallI8RowsPerK = 32;

// Whether the small-layer int8 path serves this weight under `isa` (resolved): AVX2 without
// AVX-512 VNNI / AVX-VNNI (those have their own dot-product GEMMs), K <= kMaxKSmallI8 and a
// layout of at most kMaxSmallI8Bytes.
bool small_i8_fits(const PackedView& w, Isa isa);

// The weight side of this path: every live bucket's k-quad layout (8-bit buckets: the high and
// the low nibble plane), 8 packed rows a group, in bucket order. The epilogue reads the rows'
// scales, zero points and perm from the PackedView itself (packed order: one contiguous run per
// bucket), so a layout serves only the view it was built from (checked: `of`).
struct SmallI8Layout {
  struct Part {
    int64_t span;     // index of the bucket in PackedView::spans
    int64_t col0;     // its first result column (every part before it: whole groups of 8)
    int64_t ngroups;  // (rows + 7) / 8
    int64_t off[2];   // byte offsets of its layouts in wq (off[1]: 8-bit low nibbles, else off[0])
  };
  std::vector<Part> parts;
  AlignedBuf<uint8_t> wq;
  int64_t bytes = 0;            // of wq in use (<= kMaxSmallI8Bytes)
  int64_t kq = 0;               // quads per row: (K + 3) / 4
  int64_t ldc = 0;              // result columns: every part's groups x 8
  bool has8 = false;            // an 8-bit part (two planes, a second int32 sum)
  const uint8_t* of = nullptr;  // the qweight it was built from
  int64_t N = 0, K = 0;
};

// Builds the layout of w (small_i8_fits(w, ...) holds) into out, reusing its buffer.
void build_small_i8_layout(const PackedView& w, SmallI8Layout& out);

// The op on this path (mp_linear's arguments, act_bits = 8, M >= 1, perm required; the caller
// checked small_i8_fits). layout: w's built layout (a WeightCache's), or null to build one for
// this call (thread-local scratch).
void mp_linear_small_i8(const PackedView& w, const SmallI8Layout* layout, const void* x, DType xdtype, int64_t M,
                        int64_t sx_row, int64_t sx_col, const float* bias, void* y, DType ydtype, int64_t ldy,
                        int nthreads);

// ---- the AVX2 pieces (mp_linear_small_i8_avx2.cpp) ---------------------------------------------
// c[m * ldc + 8 g + j] = sum_k x[m * ldx + k] * u_(8g+j)[k] for m < nm, g < ngroups: x int8 rows
// of 4 * kq bytes (zero beyond K), wq the k-quad layout (group g, quad q at wq + (g * kq + q) *
// 32; byte 4 j + t = u_(8g+j)[4q + t], every u <= 15), steps: quads summed in int16 before
// widening (2 * umax * 127 * steps <= 32767).
void gemm_i8_quads_avx2(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* wq, int64_t ngroups, int64_t kq,
                        int steps, int32_t* c, int64_t ldc);
// One group's k-quad layout (kq quads, 32 bytes each, at dst: 32-byte aligned) from 8 rows of
// natural-order bytes ldn apart (ldn >= round_up(4 kq, 32), readable to there).
void layout_quads_avx2(const uint8_t* nat, int64_t ldn, int64_t kq, uint8_t* dst);
// hi[i] = src[i] >> 4, lo[i] = src[i] & 15 for i < n (a multiple of 32).
void split_nibbles_avx2(const uint8_t* src, int64_t n, uint8_t* hi, uint8_t* lo);
// The float32 epilogue of n live rows (packed order) for one activation row: y[col[j]] =
// float(v + bias[j]) (bias null: float(v)) with v = (double(c[j]) - double(zero[j]) * qs) * (sx *
// double(scale[j])); zero, scale, col: the rows' packed-order values (the PackedView's), bias:
// float32 values widened, in packed order. Each float64 step rounds as the direct path's scalar
// epilogue does.
void epilogue_small_i8_avx2(const int32_t* c, int64_t n, const float* zero, const float* scale, const double* bias,
                            const int32_t* col, double qs, double sx, float* y);

}  // namespace mpl
}  // namespace chord
