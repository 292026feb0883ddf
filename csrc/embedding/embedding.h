// chord::embedding_lookup on the CPU: gather + dequantize rows of a per-row packed embedding
// table (QuantizedEmbedding.forward), one native call per lookup instead of ~10 torch ops per
// width bucket (measured at a batch-1 history of 50 ids: reports/2026-12-07-call-costs.md).
//
// The table is QuantizedEmbedding's per-original-row view: row r has width row_bits[r], sits in
// slot row_slot[r] of its width's bucket (byte offset off[b], rows[b] rows), and dequantizes as
// (float(u) - row_zero[r]) * row_scale[r] in float32, exactly as the torch path does; pruned
// rows are 0. Raw pointers only (no torch headers).
#pragma once
#include <cstdint>

#include "common/isa.h"

namespace chord {
namespace embedding {

struct Table {
  const uint8_t* qweight = nullptr;
  int64_t qbytes = 0;
  const int64_t* row_bits = nullptr;  // [N]
  const int64_t* row_slot = nullptr;  // [N]
  const float* row_scale = nullptr;   // [N]
  const float* row_zero = nullptr;    // [N]
  int64_t N = 0, K = 0;
  int64_t off[9] = {0};   // per width b: byte offset of its bucket in qweight
  int64_t rows[9] = {0};  // per width b: rows in its bucket (0: none)
};

// Validates the bucket layout (every listed bucket inside qweight); throws std::invalid_argument.
// buckets: nb entries of [bits, byte_offset, rows].
Table make_table(const uint8_t* qweight, int64_t qbytes, const int64_t* row_bits, const int64_t* row_slot,
                 const float* row_scale, const float* row_zero, int64_t N, const int64_t* buckets, int64_t nb,
                 int64_t K);

// One packed row of width bits (1, 2, 4, 8; 0: pruned) -> out[0..K) = (u - zero) * scale in float32
// (pruned: 0). Also the fused runtime's row lookup (runtime/runtime_layers.cpp).
void dequantize_row(const uint8_t* row, int bits, int64_t K, float scale, float zero, float* out);

// out[i * K + k] = element k of row ids[i], for i < n. Every id is checked before anything is
// written: an id outside [0, N) throws std::out_of_range, a row whose width / slot disagree with
// the buckets throws std::invalid_argument. isa: resolved (common/isa.h) so CHORD_CPU_ISA is
// honoured and checked; rows dequantize with mp_linear's row kernel of that ISA
// (mpl::dequant_row_avx2 / _neon: the same two float32 roundings, so bit-identical to
// dequantize_row on every ISA).
void lookup(const Table& t, const int64_t* ids, int64_t n, float* out, Isa isa = Isa::Auto);

}  // namespace embedding
}  // namespace chord
