// chord::quantize_pack: the on-device adaptation step. Frozen fp32 weights [N, K] x one
// bit-width per row (the bucket table) -> packed rows in the planar layout of
// python/chord/format.py, plus per-row scale and zero.
//
// Bit-identical to python/chord/backends/reference.py::quantize_pack (chord/quantizer.py):
// float32 arithmetic, IEEE division (never a reciprocal multiply), round-half-to-even, and
// clamp(x, lo, hi) = min(max(x, lo), hi) with torch's operand order (so even the sign of a
// zero zero-point matches). The 1-bit symmetric scale sums |w| in float64 over 8 interleaved
// lanes in a fixed order (see quantizer.py) so it is reproducible on every CPU.
//
// Raw pointers only (no torch headers). A scalar reference (*_ref) is always compiled; the
// AVX2 and NEON paths are selected at run time and must produce the same bytes (tests check it:
// tests/backends/test_cpu_quantize_pack.py on x86, tools/arm/kernel_test.cpp under qemu-aarch64).
#pragma once
#include <cstdint>

#include "common/format.h"
#include "common/isa.h"

namespace chord {
namespace qpack {

enum class Scheme : int { Sym = 0, Asym = 1 };
using chord::Isa;  // common/isa.h: the AVX2 row kernel runs under every AVX2-including ISA

// The format's arithmetic (common/format.h, the mirror of python/chord/format.py).
constexpr int kBlockBytes = fmt::kBlockBytes;
using fmt::block_elems;
using fmt::padded_k;
using fmt::row_bytes;

// Per-row statistics a quantizer needs (computed in one read of the row).
struct RowStats {
  float amax = 0.f;    // max |w|                          (sym, b >= 2)
  float lo = 0.f;      // min w                            (asym)
  float hi = 0.f;      // max w                            (asym)
  double abs_sum = 0;  // sum |w|, 8-lane float64 order    (sym, b == 1)
  bool finite = true;  // no NaN / Inf in the row
};

// Parameters of one row's quantizer, derived from RowStats exactly as quantizer.py does.
struct RowParams {
  float scale = 0.f;                        // stored scale
  float zero = 0.f;                         // stored zero point
  float safe = 1.f;                         // divisor used for w / s (1 where scale == 0)
  float zq = 0.f;                           // zero added to round(w / s) (asym b >= 2) or to w / s (asym b == 1)
  float qmin = 0.f, qmax = 0.f, off = 0.f;  // clamp range and offset of the quotient
};

RowParams row_params(const RowStats& st, int bits, Scheme scheme, int64_t K);

// One row: w[0..K) -> out[0..row_bytes(K, bits)), scale, zero. Returns false (and writes
// nothing meaningful) when the row holds a non-finite value. bits in {1, 2, 4, 8}.
bool quantize_row_ref(const float* w, int64_t K, int bits, Scheme scheme, uint8_t* out, float* scale, float* zero);
bool quantize_row_avx2(const float* w, int64_t K, int bits, Scheme scheme, uint8_t* out, float* scale, float* zero);
bool quantize_row_neon(const float* w, int64_t K, int bits, Scheme scheme, uint8_t* out, float* scale, float* zero);

// Element quantizer shared by both paths (the tail block of the AVX2 path uses it too).
void quantize_block_ref(const float* w, int64_t k0, int64_t K, int bits, Scheme scheme, const RowParams& p,
                        uint8_t* out16);
RowStats row_stats_ref(const float* w, int64_t K, int bits, Scheme scheme);

// The whole op. w: float32 [N, K] row-major with row stride ldw (>= K); perm int32 [N];
// buckets flat [bits0, rows0, bits1, rows1, ...] (nb entries); qweight uint8 [qbytes] must
// equal the table's total bytes; scales, zeros float32 [N]. Throws std::invalid_argument on
// inconsistent arguments or non-finite weights (naming the original row and column).
void quantize_pack(const float* w, int64_t N, int64_t K, int64_t ldw, const int32_t* perm, const int64_t* buckets,
                   int64_t nb, Scheme scheme, uint8_t* qweight, int64_t qbytes, float* scales, float* zeros,
                   int nthreads, Isa isa = Isa::Auto);

// Bytes the bucket table needs for rows of length K (validates the table: fmt::bucket_spans;
// throws std::invalid_argument, or std::overflow_error for sizes that do not fit int64).
int64_t packed_bytes(const int64_t* buckets, int64_t nb, int64_t N, int64_t K);

}  // namespace qpack
}  // namespace chord
