// chord::mp_linear on the CPU: y[M, N] = x[M, K] @ W_hat.T (+ bias) for a weight packed per
// output row at mixed widths (the planar layout of python/chord/format.py).
//
// Per packed row r of width b: y = scale_r * (sum_k x_k u_rk - zero_r * sum_k x_k); the dot
// product runs on the raw unsigned integers u and the zero point is folded into the epilogue
// (in float64, rounded once to float32). Pruned rows (b = 0) read no weights and give exactly
// the bias (or 0).
//
// Two activation modes:
//   act_bits = 0: exact fp32 activations (fp16/bf16 are widened exactly).
//   act_bits = 8: per-row dynamic symmetric int8 activations, bit-identical to
//                 python/chord/backends/reference.py::quantize_activations_int8; integer dot
//                 products (exact), epilogue sx * scale * (dot - zero * sum(xq)).
//
// Raw pointers only (no torch headers). Each ISA (scalar reference, AVX2+FMA+F16C) has its own
// activation layout, chosen by `prepare`; kernels never let elements >= K contribute (prepared
// activations are zero beyond K, whatever the weight padding holds).
//
// Determinism: every output element is one sequential accumulation chain over K in a fixed
// order that depends on neither the thread count, the row split, nor the batch size M. Work is
// split over rows only, never over K.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "common/format.h"
#include "common/isa.h"

namespace chord {
namespace mpl {

// The ISA layer is common/isa.h (one enum and resolver for every kernel family).
using chord::Isa;
using chord::isa_name;
using chord::resolve_isa;
// Under the AVX-512 ISAs the exact fp32 path runs AVX-512 kernels at M >= 4 (kMinMAvx512);
// everything else runs the AVX2 kernels.

// Element type of activations / outputs.
enum class DType : int { F32 = 0, F16 = 1, BF16 = 2 };
// How mp_linear computes: Direct runs the packed kernels (per-row dot products on the raw
// integers); Panel unpacks the weight in L2-sized windows of output columns once per call (per
// thread) and runs a register-blocked GEMM over them: fp32 FMA on dequantized panels
// (act_bits = 0, mp_linear_panel.cpp; rounds differently from Direct), integer dot products on
// unpacked int8 (act_bits = 8, mp_linear_gemm_i8.cpp; the same result as Direct, bit for bit).
// Small (act_bits = 8 only): the int8 panel path for small layers on AVX2 CPUs without the
// dot-product units (mp_linear_small_i8.cpp: the whole weight in k-quads; the same result bit for
// bit). Auto picks by a cost model (choose_path).
enum class Path : int { Auto = 0, Direct = 1, Panel = 2, Small = 3 };

// One bucket: bits, row_start, rows, byte_offset, row_bytes (common/format.h).
using BucketSpan = fmt::Span;

// A packed weight, validated (sizes vs K/N/buckets, bucket widths). Pointers are borrowed.
struct PackedView {
  const uint8_t* qweight = nullptr;
  int64_t qbytes = 0;             // bytes of qweight (every bucket's rows, back to back)
  const float* scales = nullptr;  // [N], packed order
  const float* zeros = nullptr;   // [N], packed order
  const int32_t* perm = nullptr;  // [N], packed row -> original row (may be null for score_rows)
  int64_t N = 0, K = 0;
  std::vector<BucketSpan> spans;
  unsigned width_mask = 0;  // bit b set when a non-empty b-bit bucket exists
};

// What make_packed_view checks of perm's values. Permutation: each row exactly once (an N-byte
// table and a pass; a duplicate would silently drop a row). Range: only 0 <= perm[i] < N (memory
// safety: one vectorized pass, no table), for callers that have checked the permutation already
// (the registered op, after chord.ops.check_permutation: cached per perm tensor and version).
enum class PermCheck : int { Permutation = 0, Range = 1 };

// Builds and validates a PackedView; throws std::invalid_argument naming the argument, what
// was expected and what was given. buckets: flat [bits0, rows0, bits1, rows1, ...] (nb
// entries). perm's values are checked as perm_check says when perm is not null.
PackedView make_packed_view(const uint8_t* qweight, int64_t qbytes, const float* scales, int64_t nscales,
                            const float* zeros, int64_t nzeros, const int32_t* perm, int64_t nperm,
                            const int64_t* buckets, int64_t nb, int64_t K,
                            PermCheck perm_check = PermCheck::Permutation);

// The first i with perm[i] outside 0..N-1, or -1: one pass without an early exit (it vectorizes),
// then a scan for the index only when a value is out. PermCheck::Range, and handles that re-check
// perm on every call.
int64_t perm_out_of_range(const int32_t* perm, int64_t N);

struct SmallI8Layout;  // mp_linear_small_i8.h

// Weight-side work mp_linear may keep between calls on one packed weight: the small-layer int8
// path's k-quad layout (mp_linear_small_i8.h; at most kMaxSmallI8Bytes = 128 KiB, and only for
// weights that path takes), built on the first call that takes the path and read by every later
// one instead of laying the weight out per call (at 50 x 64 x 64 that was ~15 % of the call,
// reports/2026-12-07-small-layers.md). Its owner keeps it beside the PackedView it serves and
// drops it with it: a weight that changes (re-packed, swapped, written in place) needs a new
// cache, never this one refilled -- which is why nothing here invalidates. Thread-safe: one
// builder, every reader sees a whole layout; a build that throws leaves it empty.
class WeightCache {
 public:
  WeightCache();
  ~WeightCache();
  WeightCache(const WeightCache&) = delete;
  WeightCache& operator=(const WeightCache&) = delete;
  // w's layout (w: the view this cache serves; checked against the one it was built from).
  const SmallI8Layout& small_i8(const PackedView& w);
  // Bytes held (0 until a layout is built).
  int64_t bytes() const;

 private:
  std::mutex mu_;
  std::atomic<const SmallI8Layout*> small_{nullptr};
  std::unique_ptr<SmallI8Layout> own_;
};

// Activations laid out for one ISA's kernels (and, for act_bits=8, quantized). Immutable once
// built; may be shared by any number of threads.
class PreparedActs {
 public:
  // x: M rows of K elements of `dtype`; element (m, k) at x[m * sx_row + k * sx_col] (strides
  // in elements, any sign-free layout: transposed or non-contiguous x is fine). width_mask: the
  // widths the weight holds (PackedView::width_mask); act_bits: 0 or 8. nthreads: threads for
  // the preparation itself (parallel.h; 1 when the caller is already parallel).
  PreparedActs(const void* x, DType dtype, int64_t M, int64_t K, int64_t sx_row, int64_t sx_col, unsigned width_mask,
               int act_bits, Isa isa, int nthreads = 1);
  ~PreparedActs();
  PreparedActs(const PreparedActs&) = delete;
  PreparedActs& operator=(const PreparedActs&) = delete;

  int64_t M() const;
  int64_t K() const;
  int act_bits() const;
  Isa isa() const;
  // act_bits=8 only: per-row scale sx = amax/127 and the quantized values xq (row-major
  // [M, K], int8), for tests and for callers that want them.
  const float* act_scales() const;
  const int8_t* act_int8() const;  // row m at act_int8() + m * row_stride()
  int64_t row_stride() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Raw scores of packed rows [r0, r1) (any rows, buckets may be crossed) for every activation
// row: out[m * ldo + (r - r0)] = scale_r * (x_m . u_r - zero_r * sum(x_m)) (act_bits=0) or
// sx_m * scale_r * (xq_m . u_r - zero_r * sum(xq_m)) (act_bits=8). No bias, packed order,
// single-threaded (callers parallelize over row ranges). Pruned rows give 0.
// This is the entry point of the fused top-k item scorer.
void score_rows(const PackedView& w, const PreparedActs& a, int64_t r0, int64_t r1, float* out, int64_t ldo);

// The whole op. y: [M, N] of `ydtype` with row stride ldy (elements), written at original row
// positions via perm. bias: float32 [N] in original order or null. nthreads: threads, the
// caller's included (csrc/common/parallel.h; results do not depend on it).
// path: Auto (the cost model) or a forced path (tests, benchmarks); results are deterministic
// per path (any thread count, any row split) but the two paths round differently.
// cache: w's WeightCache (null: nothing kept between calls); results never depend on it.
void mp_linear(const PackedView& w, const void* x, DType xdtype, int64_t M, int64_t sx_row, int64_t sx_col,
               const float* bias, int act_bits, void* y, DType ydtype, int64_t ldy, int nthreads, Isa isa = Isa::Auto,
               Path path = Path::Auto, WeightCache* cache = nullptr);

// The path mp_linear takes for this weight, batch size and activation mode under `requested`
// (Auto -> the cost model). Depends on the shape, widths, M and ISA only, never on the thread
// count, so results never depend on it either.
Path choose_path(const PackedView& w, int64_t M, int act_bits, Isa isa, Path requested = Path::Auto);

// Dequantize original rows [n0, n1) into out[(n - n0) * ldo + k] as float32 (pruned rows: 0).
// Used by the large-M path (dequantize a panel, then a fast GEMM). Needs w.perm.
void dequantize_rows(const PackedView& w, int64_t n0, int64_t n1, float* out, int64_t ldo, int nthreads);

// The largest K the act_bits=8 path accepts (int32 per-lane accumulators cannot overflow).
constexpr int64_t kMaxKInt8 = 1 << 19;

}  // namespace mpl
}  // namespace chord
