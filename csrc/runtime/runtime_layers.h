// Building blocks of the fused model runtime (one native call per inference, as on-device
// engines such as llama.cpp do): a linear layer that is either chord-packed (mpl::mp_linear)
// or fp32, an embedding table that is either per-row packed (QuantizedEmbedding's layout) or
// fp32, a layer norm, and the fused top-k over a table. Raw pointers only; every pointer is
// borrowed (the binding keeps the owning arrays alive).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mp_linear/mp_linear.h"
#include "runtime/runtime_fp32.h"

namespace chord {
namespace runtime {

// y[M, N] = x[M, K] @ W^T + bias.
struct Linear {
  std::string name;
  int64_t N = 0, K = 0;
  bool packed = false;
  mpl::PackedView w;      // packed
  int act_bits = 0;       // packed: 0 or 8 (as the module's mp_linear call)
  std::vector<float> wt;  // fp32: W^T [K, N] (a copy: layers are small; tables are never copied)
  const float* bias = nullptr;
  // What mp_linear keeps between calls on w (the small-layer int8 path's k-quad layout, built by
  // the first call that takes that path; mpl::WeightCache): a runner holds its weights for its
  // life, so the layout is built once, not per call. Copies of this Linear share it (same view);
  // set_packed starts a new one (never refills this one: the bytes it was built from may be
  // gone). Null: nothing kept (fp32 layers; keep_layout = false).
  std::shared_ptr<mpl::WeightCache> cache;

  // fp32 weight [N, K] row-major
  void set_fp32(const std::string& nm, const float* weight, int64_t n, int64_t k, const float* b);
  // keep_layout = false: mp_linear lays the weight out per call (a reference for tests and A/B)
  void set_packed(const std::string& nm, const mpl::PackedView& view, int act, const float* b, bool keep_layout = true);
  // Bytes cache holds (0 before the first call that builds a layout, or without one).
  int64_t cache_bytes() const { return cache ? cache->bytes() : 0; }
  // nthreads: mp_linear's threads (split over weight rows); fp32 splits activation rows.
  void forward(const Fp32Kernels& kr, const float* x, int64_t M, int64_t ldx, float* y, int64_t ldy, int nthreads,
               mpl::Isa isa) const;
};

// Rows of an embedding table [N, d].
struct Table {
  std::string name;
  int64_t N = 0, d = 0;
  const float* f32 = nullptr;       // fp32 table (row stride d), or null when packed
  mpl::PackedView w;                // packed table (perm required)
  int act_bits = 0;                 // packed: activations of its scoring path
  std::vector<int32_t> packed_row;  // original row -> packed row
  std::vector<int32_t> span_of;     // packed row -> index into w.spans

  void set_fp32(const std::string& nm, const float* t, int64_t n, int64_t dim);
  void set_packed(const std::string& nm, const mpl::PackedView& view, int act);
  // out[0..d) = row `id` as QuantizedEmbedding.forward / nn.Embedding compute it:
  // (u - zero) * scale in float32 per element for a packed row, 0 for a pruned one.
  void row(int64_t id, float* out) const;
};

// y = (x - mean) / sqrt(var + eps) * w + b per row of d (population variance, like
// nn.LayerNorm); w, b may be null (no affine / no bias). Moments are taken in float64.
struct LayerNorm {
  const float* w = nullptr;
  const float* b = nullptr;
  float eps = 1e-5f;
  int64_t d = 0;
  void apply(const float* x, float* y) const;
};

// Top-k of the scores x . table[i] for rows x[M, d] (ldx), over every row of the table
// except row 0 (the padding item; cand == null) or over the candidate ids cand[m * ldc + c]
// (C per row; ldc = 0: one shared list). Order: descending score, equal scores -> smaller id
// first (as chord::mp_topk). Packed tables run chord::topk::mp_topk; fp32 tables a blocked
// scan here. values [M, k], ids [M, k]. scratch: reused buffers.
void table_topk(const Table& t, const Fp32Kernels& kr, const float* x, int64_t M, int64_t ldx, int64_t k,
                const int64_t* cand, int64_t C, int64_t ldc, float* values, int64_t* ids, int nthreads, mpl::Isa isa,
                std::vector<float>& scratch_v, std::vector<int64_t>& scratch_i);

}  // namespace runtime
}  // namespace chord
