// Fused SASRec inference (chord.models.SASRec in eval mode) in one native call: item ids in,
// user representations or top-k items out. Every swapped Linear runs chord's packed kernel
// (mpl::mp_linear), unswapped ones an fp32 kernel; tables are packed per row or fp32; the
// scoring step is the fused top-k (chord::topk::mp_topk for a packed item table).
//
// The batch is ragged: only non-padding positions are computed (a padding position never
// influences another: it is masked as a key and zeroed after every block), and in the last
// block only the last position of each sequence (the user representation) runs the query,
// output projection and feed-forward; its keys and values still come from every position.
// A sequence whose last position is padding gets final_norm(0), as the model computes.
//
// Results never depend on the thread count. fp32 layers give a row the same bits in any
// batch; packed layers may not (mp_linear may choose a differently rounding path by its
// number of rows), they agree to float32 rounding.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/runtime_layers.h"

namespace chord {
namespace runtime {

struct SASRecBlock {
  LayerNorm attn_norm, ffn_norm;
  Linear q, k, v, out, fc1, fc2;
};

struct SASRecConfig {
  int64_t num_items = 0;  // item table rows = num_items + 1 (row 0 = padding)
  int64_t dim = 0, heads = 1, max_len = 0, ffn_hidden = 0;
  bool pre_norm = false;  // "pre" layout; false = "query" (kang205)
  float emb_scale = 1.f;  // sqrt(dim), as float32
};

class SASRecRunner {
 public:
  SASRecConfig cfg;
  Table item, pos;
  std::vector<SASRecBlock> blocks;
  LayerNorm final_norm;
  mpl::Isa isa = mpl::Isa::Auto;  // resolved at check()
  bool avx2 = false;

  // Validates the assembled model (shapes agree); throws std::invalid_argument.
  void check();
  // seqs int64 [B, L] (row stride lds), 1 <= L <= max_len, ids in [0, num_items]; out [B, dim].
  void represent(const int64_t* seqs, int64_t B, int64_t L, int64_t lds, float* out, int nthreads);
  // represent + table_topk over the item table (runtime_layers.h): values [B, k], ids [B, k].
  void topk(const int64_t* seqs, int64_t B, int64_t L, int64_t lds, int64_t k, const int64_t* cand, int64_t C,
            int64_t ldc, float* values, int64_t* ids, int nthreads);

 private:
  std::mutex mu_;  // scratch is shared: one call at a time per runner
  // scratch, grown once and reused
  std::vector<float> x_, h_, kbuf_, vbuf_, q_, o_, a_, f_, r_, users_, probs_;
  std::vector<int64_t> tok_off_, tok_id_, tok_pos_, last_, tmp_i_;
  std::vector<float> tmp_v_;
  void represent_locked(const int64_t* seqs, int64_t B, int64_t L, int64_t lds, float* out, int nthreads);
};

}  // namespace runtime
}  // namespace chord
