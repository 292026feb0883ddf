// Building blocks of the fused model runtime; see runtime_layers.h.
#include "runtime/runtime_layers.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "common/parallel.h"
#include "embedding/embedding.h"
#include "topk/topk.h"

namespace chord {
namespace runtime {

namespace {
[[noreturn]] void bad(const std::string& msg) {
  throw std::invalid_argument(msg);
}

// What a packed layer and a packed table both need: the packed -> original row map, and
// activations that are exact (0) or dynamic int8 (8).
void check_packed(const std::string& nm, const mpl::PackedView& view, int act, const char* what) {
  if (!view.perm) bad(nm + ": packed " + what + " needs perm");
  if (act != 0 && act != 8) bad(nm + ": act_bits: expected 0 or 8, got " + std::to_string(act));
}
}  // namespace

void Linear::set_fp32(const std::string& nm, const float* weight, int64_t n, int64_t k, const float* b) {
  if (n < 1 || k < 1)
    bad(nm + ": expected a weight [N >= 1, K >= 1], got [" + std::to_string(n) + ", " + std::to_string(k) + "]");
  name = nm;
  N = n;
  K = k;
  packed = false;
  bias = b;
  cache.reset();
  wt.assign(size_t(N * K), 0.f);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < K; ++j) wt[size_t(j * N + i)] = weight[i * K + j];
}

void Linear::set_packed(const std::string& nm, const mpl::PackedView& view, int act, const float* b, bool keep_layout) {
  check_packed(nm, view, act, "weight");
  *this = Linear{nm,
                 view.N,
                 view.K,
                 /*packed=*/true,
                 view,
                 act,
                 /*wt=*/{},
                 b,
                 keep_layout ? std::make_shared<mpl::WeightCache>() : nullptr};
}

void Linear::forward(const Fp32Kernels& kr, const float* x, int64_t M, int64_t ldx, float* y, int64_t ldy, int nthreads,
                     mpl::Isa isa) const {
  if (M == 0) return;
  if (packed) {
    mpl::mp_linear(w, x, mpl::DType::F32, M, ldx, 1, bias, act_bits, y, mpl::DType::F32, ldy, nthreads, isa,
                   mpl::Path::Auto, cache.get());
    return;
  }
  // fp32: row chunks over the task pool (a row's result does not depend on its chunk)
  constexpr int64_t kRows = 64;
  if (nthreads <= 1 || M <= kRows) {
    kr.linear(x, M, ldx, wt.data(), N, K, bias, y, ldy);
    return;
  }
  parallel_for((M + kRows - 1) / kRows, nthreads, [&](int64_t t) {
    const int64_t m0 = t * kRows, mc = std::min(kRows, M - m0);
    kr.linear(x + m0 * ldx, mc, ldx, wt.data(), N, K, bias, y + m0 * ldy, ldy);
  });
}

void Table::set_fp32(const std::string& nm, const float* t, int64_t n, int64_t dim) {
  name = nm;
  N = n;
  d = dim;
  f32 = t;
  packed_row.clear();
  span_of.clear();
}

void Table::set_packed(const std::string& nm, const mpl::PackedView& view, int act) {
  check_packed(nm, view, act, "table");
  *this = Table{nm, view.N, view.K, /*f32=*/nullptr, view, act, {}, {}};
  // O(N) int32 indexes built once per runner (the table itself is borrowed, never copied)
  packed_row.assign(size_t(N), 0);
  span_of.assign(size_t(N), 0);
  for (size_t s = 0; s < w.spans.size(); ++s)
    for (int64_t r = w.spans[s].row_start; r < w.spans[s].row_start + w.spans[s].rows; ++r) {
      packed_row[size_t(w.perm[r])] = int32_t(r);
      span_of[size_t(r)] = int32_t(s);
    }
}

void Table::row(int64_t id, float* out) const {
  if (f32) {
    std::memcpy(out, f32 + id * d, size_t(d) * sizeof(float));
    return;
  }
  const int64_t r = packed_row[size_t(id)];
  const mpl::BucketSpan& s = w.spans[size_t(span_of[size_t(r)])];
  const uint8_t* p = s.bits ? w.qweight + s.byte_offset + (r - s.row_start) * s.row_bytes : nullptr;
  embedding::dequantize_row(p, s.bits, d, w.scales[r], w.zeros[r], out);  // as QuantizedEmbedding does
}

void LayerNorm::apply(const float* x, float* y) const {
  double s = 0.0;
  for (int64_t i = 0; i < d; ++i) s += x[i];
  const double mean = s / double(d);
  double v = 0.0;
  for (int64_t i = 0; i < d; ++i) {
    const double c = double(x[i]) - mean;
    v += c * c;
  }
  const float rstd = float(1.0 / std::sqrt(v / double(d) + double(eps)));
  const float mf = float(mean);
  for (int64_t i = 0; i < d; ++i) {
    float o = (x[i] - mf) * rstd;
    if (w) o *= w[i];
    if (b) o += b[i];
    y[i] = o;
  }
}

// ---- top-k over an fp32 table ----------------------------------------------------------------
namespace {

struct Entry {
  float s;
  int64_t id;
};

inline bool better(const Entry& a, const Entry& b) {
  return topk::ranks_before(a.s, a.id, b.s, b.id);
}

// The k best entries, kept sorted (best first): small k, and most offers fail one compare.
struct Best {
  Entry* e;
  int64_t k, n = 0;
  inline void offer(float s, int64_t id) {
    if (n == k && s < e[n - 1].s) return;  // the common case: one compare
    const Entry x{s, id};
    if (n == k && !better(x, e[n - 1])) return;
    int64_t i = n < k ? n++ : k - 1;
    while (i > 0 && better(x, e[i - 1])) {
      e[i] = e[i - 1];
      --i;
    }
    e[i] = x;
  }
};

constexpr int64_t kScanBlock = 512;   // table rows scored per pass (stay in L1/L2)
constexpr int64_t kSortedMaxK = 128;  // above this k, collect every score and partial-sort

void topk_fp32_row(const Table& t, const Fp32Kernels& kr, const float* x, int64_t k, const int64_t* cand, int64_t C,
                   float* values, int64_t* ids) {
  const int64_t n_items = cand ? C : t.N - 1;
  auto id_at = [&](int64_t i) { return cand ? cand[i] : i + 1; };
  std::vector<Entry> ent(size_t(k <= kSortedMaxK ? k : n_items));
  float buf[kScanBlock];
  if (k <= kSortedMaxK) {
    Best best{ent.data(), k};
    for (int64_t i0 = 0; i0 < n_items; i0 += kScanBlock) {
      const int64_t nb = std::min(kScanBlock, n_items - i0);
      if (cand)
        for (int64_t i = 0; i < nb; ++i) buf[i] = kr.dot(x, t.f32 + cand[i0 + i] * t.d, t.d);
      else
        kr.dot_rows(x, t.f32, t.d, i0 + 1, i0 + 1 + nb, t.d, buf);
      for (int64_t i = 0; i < nb; ++i) best.offer(buf[i], id_at(i0 + i));
    }
  } else {
    for (int64_t i = 0; i < n_items; ++i) {
      const int64_t id = id_at(i);
      ent[size_t(i)] = {kr.dot(x, t.f32 + id * t.d, t.d), id};
    }
    std::partial_sort(ent.begin(), ent.begin() + k, ent.end(), better);
  }
  for (int64_t j = 0; j < k; ++j) {
    values[j] = ent[size_t(j)].s;
    ids[j] = ent[size_t(j)].id;
  }
}

// All items of an fp32 table for a group of rows x[M, d]: panels of kPanel items are
// transposed once and scored for every row by the register-tiled GEMM.
constexpr int64_t kPanel = 256;
constexpr int64_t kMinGemmRows = 4;  // below this, per-row dot products (no transpose to amortize)

void topk_fp32_gemm(const Table& t, const Fp32Kernels& kr, const float* x, int64_t M, int64_t ldx, int64_t k,
                    float* values, int64_t* ids) {
  const int64_t d = t.d, n_items = t.N - 1;
  std::vector<float> panel(size_t(d * kPanel)), sc(size_t(M * kPanel));
  std::vector<Entry> ent(size_t(M * k));
  std::vector<Best> best;
  best.reserve(size_t(M));
  for (int64_t m = 0; m < M; ++m) best.push_back(Best{ent.data() + m * k, k});
  for (int64_t i0 = 0; i0 < n_items; i0 += kPanel) {
    const int64_t nb = std::min(kPanel, n_items - i0);
    for (int64_t j = 0; j < nb; ++j) {
      const float* row = t.f32 + (1 + i0 + j) * d;
      for (int64_t e = 0; e < d; ++e) panel[size_t(e * kPanel + j)] = row[e];
    }
    kr.gemm(x, M, ldx, panel.data(), kPanel, nb, d, sc.data(), kPanel);
    for (int64_t m = 0; m < M; ++m) {
      const float* s = sc.data() + m * kPanel;
      for (int64_t j = 0; j < nb; ++j) best[size_t(m)].offer(s[j], 1 + i0 + j);
    }
  }
  for (int64_t i = 0; i < M * k; ++i) {
    values[i] = ent[size_t(i)].s;
    ids[i] = ent[size_t(i)].id;
  }
}

}  // namespace

void table_topk(const Table& t, const Fp32Kernels& kr, const float* x, int64_t M, int64_t ldx, int64_t k,
                const int64_t* cand, int64_t C, int64_t ldc, float* values, int64_t* ids, int nthreads, mpl::Isa isa,
                std::vector<float>& scratch_v, std::vector<int64_t>& scratch_i) {
  const int64_t avail = cand ? C : t.N - 1;
  if (k < 1 || k > avail)
    bad("k: expected 1 <= k <= " + std::to_string(avail) +
        (cand ? " (candidates per row)" : " (items, the padding row 0 excluded)") + ", got " + std::to_string(k));
  if (cand)
    for (int64_t m = 0; m < (ldc ? M : 1); ++m)
      for (int64_t c = 0; c < C; ++c) {
        const int64_t id = cand[m * ldc + c];
        if (id < 0 || id >= t.N)
          bad("candidates: item ids must be in [0, " + std::to_string(t.N) + "), got " + std::to_string(id) + " at [" +
              std::to_string(m) + ", " + std::to_string(c) + "]");
      }
  if (M == 0) return;
  if (t.f32 && !cand && M >= kMinGemmRows && k <= kSortedMaxK) {
    // one group of rows per thread (each transposes the panels once)
    const int64_t groups = std::max<int64_t>(1, std::min<int64_t>(nthreads, M / kMinGemmRows));
    const int64_t step = (M + groups - 1) / groups;
    parallel_for(groups, int(groups), [&](int64_t g) {
      const int64_t m0 = g * step, m1 = std::min(M, m0 + step);
      if (m0 < m1) topk_fp32_gemm(t, kr, x + m0 * ldx, m1 - m0, ldx, k, values + m0 * k, ids + m0 * k);
    });
    return;
  }
  if (t.f32) {
    parallel_for(M, nthreads, [&](int64_t m) {
      topk_fp32_row(t, kr, x + m * ldx, k, cand ? cand + m * ldc : nullptr, C, values + m * k, ids + m * k);
    });
    return;
  }
  if (cand) {
    topk::mp_topk(t.w, x, M, ldx, k, cand, C, ldc, t.act_bits, values, ids, nthreads, isa);
    return;
  }
  // all items: one more than asked, then drop the padding item 0 wherever it ranked
  const int64_t k1 = k + 1;
  scratch_v.resize(size_t(M * k1));
  scratch_i.resize(size_t(M * k1));
  topk::mp_topk(t.w, x, M, ldx, k1, nullptr, 0, 0, t.act_bits, scratch_v.data(), scratch_i.data(), nthreads, isa);
  for (int64_t m = 0; m < M; ++m) {
    int64_t j = 0;
    for (int64_t i = 0; i < k1 && j < k; ++i) {
      if (scratch_i[size_t(m * k1 + i)] == 0) continue;
      values[m * k + j] = scratch_v[size_t(m * k1 + i)];
      ids[m * k + j] = scratch_i[size_t(m * k1 + i)];
      ++j;
    }
  }
}

}  // namespace runtime
}  // namespace chord
