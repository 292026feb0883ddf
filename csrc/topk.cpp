// chord::mp_topk: blocked scoring (mpl::score_rows) + per-thread k-entry heaps + merge.
#include "topk.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace chord {
namespace topk {

namespace {

struct Entry {
  float s;
  int64_t id;
};

// The ranking order: higher score first, equal scores -> smaller item id first. A NaN score
// (possible only from overflowing activations) ranks below every number.
inline bool better(const Entry& a, const Entry& b) {
  if (a.s > b.s) return true;
  if (a.s < b.s) return false;
  const bool an = a.s != a.s, bn = b.s != b.s;
  if (an != bn) return bn;
  return a.id < b.id;
}

// The k best entries seen so far, worst on top of a binary heap.
class TopK {
 public:
  void init(int64_t k) {
    k_ = k;
    h_.clear();
    h_.reserve(static_cast<size_t>(std::min<int64_t>(k, 64)));
  }
  inline void push(float s, int64_t id) {
    if (static_cast<int64_t>(h_.size()) < k_) {
      h_.push_back({s, id});
      std::push_heap(h_.begin(), h_.end(), better);
      return;
    }
    if (s < h_.front().s) return;  // the common case for large catalogs: one compare
    const Entry e{s, id};
    if (!better(e, h_.front())) return;
    std::pop_heap(h_.begin(), h_.end(), better);
    h_.back() = e;
    std::push_heap(h_.begin(), h_.end(), better);
  }
  std::vector<Entry>& entries() { return h_; }

 private:
  int64_t k_ = 0;
  std::vector<Entry> h_;
};

inline int thread_id() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Packed row of item `id`: a binary search in each bucket's perm slice (chord.format keeps a
// bucket's rows in ascending original order); -1 when the slice is not sorted that way.
inline int64_t find_packed_row(const mpl::PackedView& w, int64_t id) {
  for (const auto& sp : w.spans) {
    const int32_t* b = w.perm + sp.row_start;
    const int32_t* e = b + sp.rows;
    const int32_t* it = std::lower_bound(b, e, static_cast<int32_t>(id));
    if (it != e && *it == id) return sp.row_start + (it - w.perm - sp.row_start);
  }
  return -1;
}

// Item ids -> packed rows for n ids at ids[i * ld_unused...]: validates the range; falls back
// to an inverse permutation for perms that are not sorted inside buckets.
std::vector<int64_t> packed_rows(const mpl::PackedView& w, const int64_t* ids, int64_t n, int nthreads) {
  std::vector<int64_t> pos(static_cast<size_t>(n));
  int64_t first_bad = n, misses = 0;
#pragma omp parallel for num_threads(nthreads) schedule(static) reduction(min : first_bad) reduction(+ : misses)
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = ids[i];
    if (id < 0 || id >= w.N) {
      first_bad = std::min(first_bad, i);
      pos[i] = -1;
      continue;
    }
    pos[i] = find_packed_row(w, id);
    misses += pos[i] < 0;
  }
  if (first_bad < n)
    throw std::invalid_argument("chord::mp_topk: candidates: item id " + std::to_string(ids[first_bad]) +
                                " (flat position " + std::to_string(first_bad) + ") is out of range [0, " +
                                std::to_string(w.N) + ")");
  if (misses) {
    std::vector<int64_t> inv(static_cast<size_t>(w.N), -1);
    for (int64_t r = 0; r < w.N; ++r) inv[w.perm[r]] = r;
    for (int64_t i = 0; i < n; ++i)
      if (pos[i] < 0) pos[i] = inv[ids[i]];
  }
  return pos;
}

}  // namespace

void mp_topk(const mpl::PackedView& w, const float* x, int64_t M, int64_t ldx, int64_t k, const int64_t* cand,
             int64_t C, int64_t ldc, int act_bits, float* values, int64_t* ids, int nthreads, mpl::Isa isa) {
  if (!w.perm) throw std::invalid_argument("chord::mp_topk: perm: required (packed row -> item id)");
  if (M < 0) throw std::invalid_argument("chord::mp_topk: x: negative row count " + std::to_string(M));
  if (ldx < w.K) throw std::invalid_argument("chord::mp_topk: x: row stride " + std::to_string(ldx) + " < K");
  if (act_bits != 0 && act_bits != 8)
    throw std::invalid_argument("chord::mp_topk: act_bits: expected 0 or 8, got " + std::to_string(act_bits));
  if (cand && (C < 0 || ldc < 0)) throw std::invalid_argument("chord::mp_topk: candidates: bad shape");
  const int64_t n_items = cand ? C : w.N;
  if (k < 1 || k > n_items)
    throw std::invalid_argument("chord::mp_topk: k: expected 1 <= k <= " + std::to_string(n_items) + " (" +
                                (cand ? "candidates per row" : "item rows") + "), got " + std::to_string(k));
  if (M == 0) return;
  isa = mpl::resolve_isa(isa);
  const int T = std::max(1, nthreads);
  const int64_t K = w.K;

  // heaps[t][m]: thread t's k best for activation row m (threads never share a heap)
  std::vector<std::vector<TopK>> heaps(static_cast<size_t>(T));

  if (!cand || ldc == 0) {
    // Every activation row scores the same item rows: prepare x once, score blocks of rows
    // for all M at a time (the weight bytes are read once per block, not once per row of x).
    const mpl::PreparedActs acts(x, mpl::DType::F32, M, K, ldx, 1, w.width_mask, act_bits, isa, T);
    std::vector<int64_t> pos;
    if (cand) pos = packed_rows(w, cand, C, T);
    const int64_t nrows = cand ? C : w.N;
    // block rows: a [M, BR] float32 score tile of <= 64 KiB stays in L2 between scoring and heap updates
    const int64_t BR = std::max<int64_t>(64, std::min<int64_t>(2048, (16384 / std::max<int64_t>(M, 1)) / 16 * 16));
    const int64_t nblk = (nrows + BR - 1) / BR;
#pragma omp parallel num_threads(T)
    {
      std::vector<TopK>& hs = heaps[static_cast<size_t>(thread_id())];
      hs.resize(static_cast<size_t>(M));
      for (auto& h : hs) h.init(k);
      std::vector<float> buf(static_cast<size_t>(M * BR));
      std::vector<int64_t> bid(static_cast<size_t>(BR));
#pragma omp for schedule(dynamic, 1)
      for (int64_t b = 0; b < nblk; ++b) {
        const int64_t j0 = b * BR, n = std::min(BR, nrows - j0);
        if (!cand) {
          mpl::score_rows(w, acts, j0, j0 + n, buf.data(), BR);
          for (int64_t j = 0; j < n; ++j) bid[j] = w.perm[j0 + j];
        } else {
          for (int64_t j = 0; j < n; ++j) {
            const int64_t p = pos[j0 + j];
            mpl::score_rows(w, acts, p, p + 1, buf.data() + j, BR);
            bid[j] = cand[j0 + j];
          }
        }
        for (int64_t m = 0; m < M; ++m) {
          TopK& h = hs[m];
          const float* s = buf.data() + m * BR;
          for (int64_t j = 0; j < n; ++j) h.push(s[j], bid[j]);
        }
      }
    }
  } else {
    // A candidate list per activation row: tasks are (row m, chunk of its candidates).
    const std::vector<int64_t> pos = [&] {
      if (ldc == C) return packed_rows(w, cand, M * C, T);
      std::vector<int64_t> flat(static_cast<size_t>(M * C));
      for (int64_t m = 0; m < M; ++m) std::copy(cand + m * ldc, cand + m * ldc + C, flat.begin() + m * C);
      return packed_rows(w, flat.data(), M * C, T);
    }();
    const int64_t CB = 1024, nchunk = (C + CB - 1) / CB, ntask = M * nchunk;
#pragma omp parallel num_threads(T)
    {
      std::vector<TopK>& hs = heaps[static_cast<size_t>(thread_id())];
      hs.resize(static_cast<size_t>(M));
      for (auto& h : hs) h.init(k);
#pragma omp for schedule(dynamic, 1)
      for (int64_t t = 0; t < ntask; ++t) {
        const int64_t m = t / nchunk, c0 = (t % nchunk) * CB, c1 = std::min(C, c0 + CB);
        const mpl::PreparedActs acts(x + m * ldx, mpl::DType::F32, 1, K, ldx, 1, w.width_mask, act_bits, isa, 1);
        TopK& h = hs[m];
        for (int64_t c = c0; c < c1; ++c) {
          const int64_t p = pos[m * C + c];
          float s;
          mpl::score_rows(w, acts, p, p + 1, &s, 1);
          h.push(s, cand[m * ldc + c]);
        }
      }
    }
  }

  // merge: the k best of the threads' heaps, in ranking order
#pragma omp parallel for num_threads(T) schedule(static)
  for (int64_t m = 0; m < M; ++m) {
    std::vector<Entry> all;
    for (auto& hs : heaps)
      if (!hs.empty()) all.insert(all.end(), hs[m].entries().begin(), hs[m].entries().end());
    std::partial_sort(all.begin(), all.begin() + k, all.end(), better);
    for (int64_t i = 0; i < k; ++i) {
      values[m * k + i] = all[i].s;
      ids[m * k + i] = all[i].id;
    }
  }
}

}  // namespace topk
}  // namespace chord
