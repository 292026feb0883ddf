// Fused Caser inference (chord.models.Caser in eval mode) in one native call: the L x d
// embedding image of the last L items -> vertical filters (a linear map over the L rows of
// each embedding column), horizontal filters of every height h (a linear map over each window
// of h consecutive rows, ReLU, max over windows) -> fc1 + ReLU (-> [z; user] -> fc2 + ReLU)
// -> user representation, then the fused top-k. Filters are chord-packed
// (MixedPrecisionConv2d: mpl::mp_linear over the same im2col rows) or fp32. Padding items are
// looked up like any other row (Caser does not mask them).
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

#include "runtime/runtime_layers.h"

namespace chord {
namespace runtime {

struct CaserConfig {
  int64_t num_items = 0, dim = 0, L = 0, n_v = 0, n_h = 0, num_users = 0;
};

class CaserRunner {
 public:
  CaserConfig cfg;
  Table item, user;            // user: only with num_users > 0
  Linear conv_v;               // [n_v, L] over the transposed image (n_v > 0)
  std::vector<Linear> conv_h;  // height h = i + 1: [n_h, h * dim] over windows (n_h > 0)
  Linear fc1, fc2;             // fc2 only with num_users > 0
  mpl::Isa isa = mpl::Isa::Auto;
  bool avx2 = false;

  void check();
  // seqs int64 [B, l] (any l >= 1: the last L columns, left-padded with 0 when shorter);
  // users int64 [B] in [0, num_users) (required iff num_users > 0); out [B, dim].
  void represent(const int64_t* seqs, int64_t B, int64_t l, int64_t lds, const int64_t* users, float* out,
                 int nthreads);
  void topk(const int64_t* seqs, int64_t B, int64_t l, int64_t lds, const int64_t* users, int64_t k,
            const int64_t* cand, int64_t C, int64_t ldc, float* values, int64_t* ids, int nthreads);

 private:
  std::mutex mu_;
  std::vector<float> e_, et_, yv_, win_, yh_, feat_, z_, zu_, users_, tmp_v_;
  std::vector<int64_t> tmp_i_;
  void represent_locked(const int64_t* seqs, int64_t B, int64_t l, int64_t lds, const int64_t* users, float* out,
                        int nthreads);
};

}  // namespace runtime
}  // namespace chord
