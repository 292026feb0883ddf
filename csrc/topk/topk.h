// chord::mp_topk on the CPU: fused quantized item scoring + top-k.
//
// Scores x[M, K] against the item rows of a mixed-precision table (chord.format) — all N rows,
// or a candidate list per activation row — and returns the k best (score, item id) per row,
// without materializing the [M, N] score matrix: packed rows are scored in cache-sized blocks
// (mpl::score_rows, the mp_linear kernels) and each thread keeps a k-entry heap per row; the
// heaps are merged at the end.
//
// Order (shared with python/chord/backends/reference.py::mp_topk): descending score; equal
// scores -> smaller original item id first. So results are exactly comparable whenever the
// scores themselves are (the scores are the mp_linear kernel's float32 scores, without bias).
#pragma once
#include <cstdint>

#include "mp_linear/mp_linear.h"

namespace chord {
namespace topk {

// w: the item table (perm required). x: float32 [M, K] row-major (ldx = row stride).
// cand: null (score all N rows), or int64 item ids, C per activation row at cand + m * ldc
// (ldc = 0: one list shared by every row). k in 1..(C or N). act_bits: 0 or 8 (as mp_linear).
// values float32 [M, k], ids int64 [M, k] (row-major). Throws std::invalid_argument on bad
// arguments (k out of range, candidate id out of range). Results do not depend on nthreads.
void mp_topk(const mpl::PackedView& w, const float* x, int64_t M, int64_t ldx, int64_t k, const int64_t* cand,
             int64_t C, int64_t ldc, int act_bits, float* values, int64_t* ids, int nthreads,
             mpl::Isa isa = mpl::Isa::Auto);

// The ranking order above, for any score type: higher score first, equal scores -> smaller id
// first, NaN below every number. Every top-k in chord (this kernel, the fused runtime) uses it.
template <class S>
inline bool ranks_before(S sa, int64_t ida, S sb, int64_t idb) {
  if (sa > sb) return true;
  if (sa < sb) return false;
  const bool an = sa != sa, bn = sb != sb;
  if (an != bn) return bn;
  return ida < idb;
}

}  // namespace topk
}  // namespace chord
