// Fused SASRec inference; see runtime_sasrec.h. Mirrors python/chord/models/sasrec.py (eval):
//   x = item_emb(seqs) * sqrt(d) + pos_emb(positions of the right end of a max_len window)
//   "query": q = LN1(x); x = q + out(attn(q_proj(q), k_proj(x), v_proj(x))); x = LN2(x); x = x + FFN(x)
//   "pre":   y = LN1(x); x = x + out(attn(q_proj(y), k_proj(y), v_proj(y))); x = x + FFN(LN2(x))
//   FFN(x) = fc2(relu(fc1(x))); attention causal over non-padding keys, softmax(q.k / sqrt(d_head));
//   user representation = final LN of the last position.
#include "runtime/runtime_sasrec.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "common/parallel.h"

namespace chord {
namespace runtime {

namespace {

[[noreturn]] void bad(const std::string& msg) {
  throw std::invalid_argument(msg);
}

constexpr int64_t kRowsPerTask = 16;  // rows of a row-wise step (LN, attention, fp32 linear) per task

// fn(r0, r1) over [0, n) in row chunks, on the task pool when it pays
template <class F>
void for_rows(int64_t n, int nthreads, F&& fn) {
  if (nthreads <= 1 || n <= kRowsPerTask) {
    fn(int64_t(0), n);
    return;
  }
  const int64_t tasks = (n + kRowsPerTask - 1) / kRowsPerTask;
  parallel_for(tasks, nthreads, [&](int64_t t) { fn(t * kRowsPerTask, std::min(n, (t + 1) * kRowsPerTask)); });
}

void check_linear(const Linear& l, int64_t N, int64_t K, const std::string& what) {
  if (l.N != N || l.K != K)
    bad(what + ": expected a weight [" + std::to_string(N) + ", " + std::to_string(K) + "], got [" +
        std::to_string(l.N) + ", " + std::to_string(l.K) + "]");
}

void check_norm(const LayerNorm& n, int64_t d, const std::string& what) {
  if (n.d != d) bad(what + ": expected normalized size " + std::to_string(d) + ", got " + std::to_string(n.d));
  if (!(n.eps >= 0.f)) bad(what + ": eps must be >= 0");
}

}  // namespace

void SASRecRunner::check() {
  const SASRecConfig& c = cfg;
  if (c.dim < 1 || c.heads < 1 || c.dim % c.heads)
    bad("dim, heads: expected heads dividing dim, got dim=" + std::to_string(c.dim) +
        ", heads=" + std::to_string(c.heads));
  if (c.max_len < 1) bad("max_len: expected >= 1, got " + std::to_string(c.max_len));
  if (blocks.empty()) bad("blocks: expected at least one block");
  if (item.N != c.num_items + 1 || item.d != c.dim)
    bad("item_emb: expected [" + std::to_string(c.num_items + 1) + ", " + std::to_string(c.dim) + "], got [" +
        std::to_string(item.N) + ", " + std::to_string(item.d) + "]");
  if (pos.N != c.max_len || pos.d != c.dim)
    bad("pos_emb: expected [" + std::to_string(c.max_len) + ", " + std::to_string(c.dim) + "], got [" +
        std::to_string(pos.N) + ", " + std::to_string(pos.d) + "]");
  for (size_t i = 0; i < blocks.size(); ++i) {
    const SASRecBlock& b = blocks[i];
    const std::string p = "blocks." + std::to_string(i) + ".";
    check_norm(b.attn_norm, c.dim, p + "attn_norm");
    check_norm(b.ffn_norm, c.dim, p + "ffn_norm");
    check_linear(b.q, c.dim, c.dim, p + "attn.q_proj");
    check_linear(b.k, c.dim, c.dim, p + "attn.k_proj");
    check_linear(b.v, c.dim, c.dim, p + "attn.v_proj");
    check_linear(b.out, c.dim, c.dim, p + "attn.out_proj");
    check_linear(b.fc1, c.ffn_hidden, c.dim, p + "ffn.fc1");
    check_linear(b.fc2, c.dim, c.ffn_hidden, p + "ffn.fc2");
  }
  check_norm(final_norm, c.dim, "final_norm");
  isa = mpl::resolve_isa(isa);
  avx2 = isa_has_avx2(isa);
}

void SASRecRunner::represent(const int64_t* seqs, int64_t B, int64_t L, int64_t lds, float* out, int nthreads) {
  std::lock_guard<std::mutex> g(mu_);
  represent_locked(seqs, B, L, lds, out, nthreads);
}

void SASRecRunner::topk(const int64_t* seqs, int64_t B, int64_t L, int64_t lds, int64_t k, const int64_t* cand,
                        int64_t C, int64_t ldc, float* values, int64_t* ids, int nthreads) {
  std::lock_guard<std::mutex> g(mu_);
  const int64_t d = cfg.dim;
  users_.resize(size_t(std::max<int64_t>(B, 1) * d));
  represent_locked(seqs, B, L, lds, users_.data(), nthreads);
  table_topk(item, fp32_kernels(avx2), users_.data(), B, d, k, cand, C, ldc, values, ids, nthreads, isa, tmp_v_,
             tmp_i_);
}

void SASRecRunner::represent_locked(const int64_t* seqs, int64_t B, int64_t L, int64_t lds, float* out, int nthreads) {
  const SASRecConfig& c = cfg;
  const int64_t d = c.dim, H = c.heads, dh = d / H, F = c.ffn_hidden;
  if (B < 0) bad("seqs: expected B >= 0 rows, got " + std::to_string(B));
  if (L < 1 || L > c.max_len)
    bad("seqs: expected 1 <= length <= max_len=" + std::to_string(c.max_len) + ", got " + std::to_string(L));
  const Fp32Kernels& kr = fp32_kernels(avx2);

  // ragged token list: non-padding positions of the sequences whose last position is an item
  tok_off_.assign(size_t(B + 1), 0);
  tok_id_.clear();
  tok_pos_.clear();
  last_.clear();
  for (int64_t b = 0; b < B; ++b) {
    const int64_t* s = seqs + b * lds;
    for (int64_t j = 0; j < L; ++j)
      if (s[j] < 0 || s[j] > c.num_items)
        bad("seqs: item ids must be in [0, " + std::to_string(c.num_items) + "] (0 = padding), got " +
            std::to_string(s[j]) + " at [" + std::to_string(b) + ", " + std::to_string(j) + "]");
    if (s[L - 1] != 0) {
      for (int64_t j = 0; j < L; ++j)
        if (s[j] != 0) {
          tok_id_.push_back(s[j]);
          tok_pos_.push_back(c.max_len - L + j);
        }
      last_.push_back(int64_t(tok_id_.size()) - 1);
    }
    tok_off_[size_t(b + 1)] = int64_t(tok_id_.size());
  }
  const int64_t T = int64_t(tok_id_.size()), R = int64_t(last_.size());
  // sequence of each token (attention needs its first token)
  std::vector<int64_t>& first = tmp_i_;
  first.resize(size_t(T));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = tok_off_[size_t(b)]; t < tok_off_[size_t(b + 1)]; ++t) first[size_t(t)] = tok_off_[size_t(b)];

  const size_t td = size_t(std::max<int64_t>(T, 1) * d);
  for (auto* v : {&x_, &h_, &kbuf_, &vbuf_, &q_, &o_, &a_})
    if (v->size() < td) v->resize(td);
  if (f_.size() < size_t(std::max<int64_t>(T, 1) * F)) f_.resize(size_t(std::max<int64_t>(T, 1) * F));
  if (r_.size() < size_t(std::max<int64_t>(R, 1) * d)) r_.resize(size_t(std::max<int64_t>(R, 1) * d));

  float* x = x_.data();
  float* h = h_.data();
  // embeddings (dropout and `keep` are identities here: every token is an item)
  for_rows(T, nthreads, [&](int64_t t0, int64_t t1) {
    std::vector<float> prow(static_cast<size_t>(d));
    for (int64_t t = t0; t < t1; ++t) {
      float* xr = x + t * d;
      item.row(tok_id_[size_t(t)], xr);
      pos.row(tok_pos_[size_t(t)], prow.data());
      for (int64_t i = 0; i < d; ++i) xr[i] = xr[i] * c.emb_scale + prow[i];
    }
  });

  const float scale = float(1.0 / std::sqrt(double(dh)));
  float* X = x;  // the residual stream of the rows being computed
  for (size_t bi = 0; bi < blocks.size(); ++bi) {
    const SASRecBlock& blk = blocks[bi];
    const bool last = bi + 1 == blocks.size();
    const int64_t rows = last ? R : T;  // query rows of this block
    // h = LN1(x) over every token (keys/values need them all)
    for_rows(T, nthreads, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) blk.attn_norm.apply(x + t * d, h + t * d);
    });
    const float* kv_in = c.pre_norm ? h : x;
    blk.k.forward(kr, kv_in, T, d, kbuf_.data(), d, nthreads, isa);
    blk.v.forward(kr, kv_in, T, d, vbuf_.data(), d, nthreads, isa);
    // query input and residual stream of the computed rows
    const float* qin;
    if (!last) {
      qin = h;
      X = c.pre_norm ? x : h;
    } else {
      float* g = o_.data();  // free until attention; the gathered query input
      X = r_.data();
      for (int64_t j = 0; j < R; ++j) {
        const int64_t t = last_[size_t(j)];
        std::memcpy(g + j * d, h + t * d, size_t(d) * sizeof(float));
        std::memcpy(X + j * d, (c.pre_norm ? x : h) + t * d, size_t(d) * sizeof(float));
      }
      qin = g;
    }
    blk.q.forward(kr, qin, rows, d, q_.data(), d, nthreads, isa);
    // causal attention over the token's own sequence (every key is an item)
    float* o = o_.data();
    const float* Q = q_.data();
    const float* Kb = kbuf_.data();
    const float* Vb = vbuf_.data();
    for_rows(rows, nthreads, [&](int64_t j0, int64_t j1) {
      std::vector<float> p(static_cast<size_t>(c.max_len));
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t t = last ? last_[size_t(j)] : j;
        const int64_t f = first[size_t(t)], n = t - f + 1;
        for (int64_t hh = 0; hh < H; ++hh) {
          const float* qv = Q + j * d + hh * dh;
          float mx = -INFINITY;
          for (int64_t u = 0; u < n; ++u) {
            p[size_t(u)] = kr.dot(qv, Kb + (f + u) * d + hh * dh, dh) * scale;
            mx = std::max(mx, p[size_t(u)]);
          }
          float sum = 0.f;
          for (int64_t u = 0; u < n; ++u) {
            p[size_t(u)] = std::exp(p[size_t(u)] - mx);
            sum += p[size_t(u)];
          }
          const float inv = 1.f / sum;
          float* od = o + j * d + hh * dh;
          for (int64_t e = 0; e < dh; ++e) od[e] = 0.f;
          for (int64_t u = 0; u < n; ++u) {
            const float w = p[size_t(u)] * inv;
            const float* vv = Vb + (f + u) * d + hh * dh;
            for (int64_t e = 0; e < dh; ++e) od[e] += w * vv[e];
          }
        }
      }
    });
    float* a = a_.data();
    blk.out.forward(kr, o, rows, d, a, d, nthreads, isa);
    // residual, then the feed-forward sublayer
    float* G = q_.data();  // "pre": LN2(x) (q is free now)
    for_rows(rows, nthreads, [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; ++j) {
        float* xr = X + j * d;
        const float* ar = a + j * d;
        for (int64_t i = 0; i < d; ++i) xr[i] = xr[i] + ar[i];
        if (c.pre_norm)
          blk.ffn_norm.apply(xr, G + j * d);
        else
          blk.ffn_norm.apply(xr, xr);
      }
    });
    const float* ffn_in = c.pre_norm ? G : X;
    blk.fc1.forward(kr, ffn_in, rows, d, f_.data(), F, nthreads, isa);
    for_rows(rows, nthreads, [&](int64_t j0, int64_t j1) {
      float* fr = f_.data();
      for (int64_t i = j0 * F; i < j1 * F; ++i) fr[i] = fr[i] > 0.f ? fr[i] : 0.f;
    });
    blk.fc2.forward(kr, f_.data(), rows, F, a, d, nthreads, isa);
    for_rows(rows, nthreads, [&](int64_t j0, int64_t j1) {
      for (int64_t i = j0 * d; i < j1 * d; ++i) X[i] = X[i] + a[i];
    });
    if (!last && X != x) std::swap(x, h);  // "query": the stream now lives in h
  }
  // user representation: final LN of the last position; padding there -> final_norm(0)
  std::vector<float> zero(static_cast<size_t>(d), 0.f), zout(static_cast<size_t>(d));
  final_norm.apply(zero.data(), zout.data());
  int64_t j = 0;
  for (int64_t b = 0; b < B; ++b) {
    float* ob = out + b * d;
    if (seqs[b * lds + L - 1] != 0)
      final_norm.apply(X + (j++) * d, ob);
    else
      std::memcpy(ob, zout.data(), size_t(d) * sizeof(float));
  }
}

}  // namespace runtime
}  // namespace chord
