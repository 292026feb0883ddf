// Candidate selection of chord::mp_topk: the first, approximate stage of an exact top-k.
//
// A scan offers every item row with an interval [lo, up] that provably contains the row's exact
// score (approximate score -/+ a rigorous per-row error bound: int8 activations, float32
// rounding). A Selector keeps the k largest lower bounds seen; their minimum tau is a lower
// bound on the exact k-th best score, so a row with up < tau can never enter the top-k and is
// dropped after one SIMD compare. Rows with up >= tau are kept as candidates and rescored
// exactly (float64) at the end. Keys are packed rows (whole catalog) or positions in the
// candidate list; one Selector per (thread, activation row), never shared.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace chord {
namespace topk {

struct Cand {
  int64_t key;
  float up;
};

class Selector {
 public:
  void init(int64_t k) {
    k_ = k;
    lo_.clear();
    lo_.reserve(static_cast<size_t>(std::min<int64_t>(k, 1 << 16)));
    cands_.clear();
    cap_ = static_cast<size_t>(std::max<int64_t>(1024, 4 * k));
    tau_ = -std::numeric_limits<float>::infinity();
  }
  // the current pruning threshold: rows with up < tau() cannot enter the top-k
  float tau() const { return tau_; }
  // NaN bounds pass (kept, rescored exactly); a NaN lo never raises tau.
  inline void offer(int64_t key, float lo, float up) {
    if (up < tau_) return;
    cands_.push_back({key, up});
    if (static_cast<int64_t>(lo_.size()) < k_) {
      lo_.push_back(lo == lo ? lo : -std::numeric_limits<float>::infinity());
      std::push_heap(lo_.begin(), lo_.end(), std::greater<float>());
      if (static_cast<int64_t>(lo_.size()) == k_) tau_ = lo_.front();
    } else if (lo > lo_.front()) {
      std::pop_heap(lo_.begin(), lo_.end(), std::greater<float>());
      lo_.back() = lo;
      std::push_heap(lo_.begin(), lo_.end(), std::greater<float>());
      tau_ = lo_.front();
    }
    if (cands_.size() > cap_) compact();
  }
  const std::vector<float>& lows() const { return lo_; }
  const std::vector<Cand>& cands() const { return cands_; }

 private:
  // drop candidates that tau has overtaken; grow the buffer when that does not free enough
  // (near-constant scores: everything stays a candidate, bounded by the rows scanned)
  void compact() {
    const float t = tau_;
    cands_.erase(std::remove_if(cands_.begin(), cands_.end(), [t](const Cand& c) { return c.up < t; }), cands_.end());
    if (cands_.size() > cap_ / 2) cap_ *= 2;
  }
  int64_t k_ = 0;
  float tau_ = 0.f;
  size_t cap_ = 0;
  std::vector<float> lo_;  // min-heap of the k largest lower bounds
  std::vector<Cand> cands_;
};

}  // namespace topk
}  // namespace chord
