// chord::mp_topk: blocked scoring (mpl::score_rows) + per-thread k-entry heaps + merge.
#include "topk.h"

#include "topk_score.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace chord {
namespace topk {

namespace {

constexpr int64_t kGemmRows = 16;     // M at which the mp_linear block kernels take over
constexpr int64_t kChunkRows = 4096;  // packed rows per task (a chunk's bytes stay in L2)

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
  // false for scores that cannot enter (the common case: one compare, no id lookup)
  inline bool wants(float s) const {
    return static_cast<int64_t>(h_.size()) < k_ || !(s < h_.front().s);
  }
  std::vector<Entry>& entries() { return h_; }

 private:
  int64_t k_ = 0;
  std::vector<Entry> h_;
};

// Scores consecutive packed rows of one bucket for one activation row and offers them to a
// heap: s = post * scale_r * (dot - (zero_r - c) * sum(x)) (dot centered on c).
struct RowScan {
  const float* scales;
  const float* zeros;
  const int32_t* perm;
  float c, xsum, post;
  int64_t rb;
  template <class Dot>
  inline void run(const uint8_t* row, int64_t r0, int64_t r1, TopK& h, Dot dot) const {
    for (int64_t r = r0; r < r1; ++r, row += rb) {
      float d = dot(row);
      const float dz = zeros[r] - c;
      if (dz != 0.f) d -= dz * xsum;
      const float s = post * (scales[r] * d);
      if (h.wants(s)) h.push(s, perm[r]);
    }
  }
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
  const bool avx2 = isa == mpl::Isa::Avx2 || isa == mpl::Isa::Avx512;  // AVX-512 CPUs run the AVX2 scorers
  const int64_t K = w.K;
  // one thread per ~256k multiply-adds: small problems stay on the calling thread
  const int64_t work = M * (cand ? C : w.N) * K;
  const int T = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(nthreads, work / 262144)));
  const int64_t nspan = static_cast<int64_t>(w.spans.size());

  // Activation rows as float: x itself, or (act_bits = 8) its per-row int8 quantization
  // (reference.quantize_activations_int8: sx = amax/127, xq = clamp(round(x / sx))) with the
  // row scale sx applied after the dot product. Zero padded to act_pad(K).
  const int64_t Kpad = act_pad(K);
  std::vector<float> xa(static_cast<size_t>(M * Kpad), 0.f), post(static_cast<size_t>(M), 1.f),
      xsum(static_cast<size_t>(M), 0.f);
  for (int64_t m = 0; m < M; ++m) {
    const float* xm = x + m * ldx;
    float* d = xa.data() + m * Kpad;
    if (act_bits == 8) {
      float amax = 0.f;
      for (int64_t i = 0; i < K; ++i) amax = std::max(amax, std::fabs(xm[i]));
      const float sx = amax / 127.f, safe = sx > 0.f ? sx : 1.f;
      for (int64_t i = 0; i < K; ++i) d[i] = std::min(127.f, std::max(-127.f, std::nearbyint(xm[i] / safe)));
      post[m] = sx;
    } else {
      std::copy(xm, xm + K, d);
    }
    double s = 0;
    for (int64_t i = 0; i < K; ++i) s += d[i];
    xsum[m] = static_cast<float>(s);
  }
  // per bucket: the constant the dot products are centered on (its first row's zero point)
  std::vector<float> center(static_cast<size_t>(nspan), 0.f);
  for (int64_t si = 0; si < nspan; ++si)
    if (w.spans[si].rows) center[si] = w.zeros[w.spans[si].row_start];

  // score of activation row m against packed row r (in span si), optionally through a LUT
  auto score = [&](int64_t m, int64_t si, int64_t r, const ByteLut* lut) -> float {
    const mpl::BucketSpan& sp = w.spans[si];
    if (sp.bits == 0) return 0.f;
    const uint8_t* row = w.qweight + sp.byte_offset + (r - sp.row_start) * sp.row_bytes;
    const float* xm = xa.data() + m * Kpad;
    const float c = center[si];
    float d = lut ? lut->dot(row)
                  : (sp.bits == 8 && avx2 ? dot8_avx2(row, K, xm, c) : dot_direct_ref(row, sp.bits, K, xm, c));
    const float dz = w.zeros[r] - c;
    if (dz != 0.f) d -= dz * xsum[m];
    return post[m] * (w.scales[r] * d);
  };

  // heaps[t][m]: thread t's k best for activation row m (threads never share a heap)
  std::vector<std::vector<TopK>> heaps(static_cast<size_t>(T));
  auto thread_heaps = [&]() -> std::vector<TopK>& {
    std::vector<TopK>& hs = heaps[static_cast<size_t>(thread_id())];
    if (hs.empty()) {
      hs.resize(static_cast<size_t>(M));
      for (auto& h : hs) h.init(k);
    }
    return hs;
  };

  if (!cand && M >= kGemmRows) {
    // Many activation rows: the mp_linear kernels score a block of rows for all M at once
    // (weights unpacked once per block), then the heaps take the [M, BR] tile.
    const mpl::PreparedActs acts(x, mpl::DType::F32, M, K, ldx, 1, w.width_mask, act_bits, isa, T);
    const int64_t BR = std::max<int64_t>(64, std::min<int64_t>(2048, (16384 / M) / 16 * 16));
    const int64_t nblk = (w.N + BR - 1) / BR;
#pragma omp parallel num_threads(T)
    {
      std::vector<TopK>& hs = thread_heaps();
      std::vector<float> buf(static_cast<size_t>(M * BR));
#pragma omp for schedule(dynamic, 1)
      for (int64_t b = 0; b < nblk; ++b) {
        const int64_t j0 = b * BR, n = std::min(BR, w.N - j0);
        mpl::score_rows(w, acts, j0, j0 + n, buf.data(), BR);
        for (int64_t m = 0; m < M; ++m) {
          TopK& h = hs[m];
          const float* s = buf.data() + m * BR;
          for (int64_t j = 0; j < n; ++j)
            if (h.wants(s[j])) h.push(s[j], w.perm[j0 + j]);
        }
      }
    }
  } else if (!cand) {
    // Few activation rows, whole catalog: byte LUTs per (row, bucket) where they pay off.
    std::vector<ByteLut> luts(static_cast<size_t>(M * nspan));
    std::vector<uint8_t> has_lut(static_cast<size_t>(M * nspan), 0);
#pragma omp parallel for num_threads(T) schedule(dynamic, 1)
    for (int64_t t = 0; t < M * nspan; ++t) {
      const mpl::BucketSpan& sp = w.spans[t % nspan];
      if (ByteLut::worth_it(sp.bits, sp.rows, K)) {
        luts[t].build(sp.bits, K, xa.data() + (t / nspan) * Kpad, center[t % nspan]);
        has_lut[t] = 1;
      }
    }
    struct Task { int64_t si, r0, r1; };
    std::vector<Task> tasks;
    for (int64_t si = 0; si < nspan; ++si)
      for (int64_t r = 0; r < w.spans[si].rows; r += kChunkRows)
        tasks.push_back({si, w.spans[si].row_start + r, w.spans[si].row_start + std::min(w.spans[si].rows, r + kChunkRows)});
    const int64_t ntask = static_cast<int64_t>(tasks.size());
#pragma omp parallel num_threads(T)
    {
      std::vector<TopK>& hs = thread_heaps();
#pragma omp for schedule(dynamic, 1)
      for (int64_t t = 0; t < ntask; ++t) {
        const Task tk = tasks[t];
        const mpl::BucketSpan& sp = w.spans[tk.si];
        for (int64_t m = 0; m < M; ++m) {
          TopK& h = hs[m];
          if (sp.bits == 0) {  // pruned items score exactly 0
            for (int64_t r = tk.r0; r < tk.r1; ++r)
              if (h.wants(0.f)) h.push(0.f, w.perm[r]);
            continue;
          }
          const uint8_t* row = w.qweight + sp.byte_offset + (tk.r0 - sp.row_start) * sp.row_bytes;
          const float* xm = xa.data() + m * Kpad;
          const RowScan scan{w.scales, w.zeros, w.perm, center[tk.si], xsum[m], post[m], sp.row_bytes};
          if (has_lut[m * nspan + tk.si]) {
            const ByteLut& lut = luts[m * nspan + tk.si];
            switch (sp.row_bytes) {  // K = 64 rows at 2 and 4 bits, 128 at 2 bits: unrolled
              case 16: scan.run(row, tk.r0, tk.r1, h, [&](const uint8_t* q) { return lut.dot_fixed<16>(q); }); break;
              case 32: scan.run(row, tk.r0, tk.r1, h, [&](const uint8_t* q) { return lut.dot_fixed<32>(q); }); break;
              default: scan.run(row, tk.r0, tk.r1, h, [&](const uint8_t* q) { return lut.dot(q); });
            }
          } else if (sp.bits == 8 && avx2) {
            scan.run(row, tk.r0, tk.r1, h, [&](const uint8_t* q) { return dot8_avx2(q, K, xm, scan.c); });
          } else {
            const int bits = sp.bits;
            scan.run(row, tk.r0, tk.r1, h, [&](const uint8_t* q) { return dot_direct_ref(q, bits, K, xm, scan.c); });
          }
        }
      }
    }
  } else {
    // Candidate lists (shared: ldc == 0, or one per row): direct dot products per candidate.
    const bool shared = ldc == 0;
    std::vector<int64_t> pos;
    if (shared || ldc == C) {
      pos = packed_rows(w, cand, shared ? C : M * C, T);
    } else {
      std::vector<int64_t> flat(static_cast<size_t>(M * C));
      for (int64_t m = 0; m < M; ++m) std::copy(cand + m * ldc, cand + m * ldc + C, flat.begin() + m * C);
      pos = packed_rows(w, flat.data(), M * C, T);
    }
    std::vector<int64_t> span_of(static_cast<size_t>(pos.size()));
    for (size_t i = 0; i < pos.size(); ++i) {
      int64_t si = 0;
      while (pos[i] >= w.spans[si].row_start + w.spans[si].rows) ++si;
      span_of[i] = si;
    }
    const int64_t CB = 1024, nchunk = (C + CB - 1) / CB, ntask = M * nchunk;
#pragma omp parallel num_threads(T)
    {
      std::vector<TopK>& hs = thread_heaps();
#pragma omp for schedule(dynamic, 1)
      for (int64_t t = 0; t < ntask; ++t) {
        const int64_t m = t / nchunk, c0 = (t % nchunk) * CB, c1 = std::min(C, c0 + CB);
        TopK& h = hs[m];
        for (int64_t c = c0; c < c1; ++c) {
          const int64_t i = shared ? c : m * C + c;
          const float s = score(m, span_of[i], pos[i], nullptr);
          if (h.wants(s)) h.push(s, cand[shared ? c : m * ldc + c]);
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
