// Fused Caser inference; see runtime_caser.h. Mirrors python/chord/models/caser.py (eval).
#include "runtime/runtime_caser.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace chord {
namespace runtime {

namespace {
[[noreturn]] void bad(const std::string& msg) {
  throw std::invalid_argument(msg);
}

void check_linear(const Linear& l, int64_t N, int64_t K, const std::string& what) {
  if (l.N != N || l.K != K)
    bad(what + ": expected a weight [" + std::to_string(N) + ", " + std::to_string(K) + "], got [" +
        std::to_string(l.N) + ", " + std::to_string(l.K) + "]");
}
}  // namespace

void CaserRunner::check() {
  const CaserConfig& c = cfg;
  if (c.dim < 1 || c.L < 1 || c.n_v < 0 || c.n_h < 0 || (c.n_v == 0 && c.n_h == 0))
    bad("config: expected dim, L >= 1 and n_v, n_h >= 0 (not both 0)");
  if (item.N != c.num_items + 1 || item.d != c.dim)
    bad("item_emb: expected [" + std::to_string(c.num_items + 1) + ", " + std::to_string(c.dim) + "], got [" +
        std::to_string(item.N) + ", " + std::to_string(item.d) + "]");
  if (c.n_v) check_linear(conv_v, c.n_v, c.L, "conv_v");
  if (int64_t(conv_h.size()) != (c.n_h ? c.L : 0))
    bad("conv_h: expected " + std::to_string(c.n_h ? c.L : 0) + " filters, got " + std::to_string(conv_h.size()));
  for (size_t i = 0; i < conv_h.size(); ++i)
    check_linear(conv_h[i], c.n_h, int64_t(i + 1) * c.dim, "conv_h." + std::to_string(i));
  check_linear(fc1, c.dim, c.n_v * c.dim + c.n_h * c.L, "fc1");
  if (c.num_users) {
    if (user.N != c.num_users || user.d != c.dim)
      bad("user_emb: expected [" + std::to_string(c.num_users) + ", " + std::to_string(c.dim) + "]");
    check_linear(fc2, c.dim, 2 * c.dim, "fc2");
  }
  isa = mpl::resolve_isa(isa);
  avx2 = isa_has_avx2(isa);
}

void CaserRunner::represent(const int64_t* seqs, int64_t B, int64_t l, int64_t lds, const int64_t* users, float* out,
                            int nthreads) {
  std::lock_guard<std::mutex> g(mu_);
  represent_locked(seqs, B, l, lds, users, out, nthreads);
}

void CaserRunner::topk(const int64_t* seqs, int64_t B, int64_t l, int64_t lds, const int64_t* users, int64_t k,
                       const int64_t* cand, int64_t C, int64_t ldc, float* values, int64_t* ids, int nthreads) {
  std::lock_guard<std::mutex> g(mu_);
  users_.resize(size_t(std::max<int64_t>(B, 1) * cfg.dim));
  represent_locked(seqs, B, l, lds, users, users_.data(), nthreads);
  table_topk(item, fp32_kernels(avx2), users_.data(), B, cfg.dim, k, cand, C, ldc, values, ids, nthreads, isa, tmp_v_,
             tmp_i_);
}

void CaserRunner::represent_locked(const int64_t* seqs, int64_t B, int64_t l, int64_t lds, const int64_t* users,
                                   float* out, int nthreads) {
  const CaserConfig& c = cfg;
  const int64_t d = c.dim, L = c.L, F = c.n_v * d + c.n_h * L;
  if (B < 0) bad("seqs: expected B >= 0 rows, got " + std::to_string(B));
  if (l < 1) bad("seqs: expected length >= 1, got " + std::to_string(l));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < l; ++j) {
      const int64_t id = seqs[b * lds + j];
      if (id < 0 || id > c.num_items)
        bad("seqs: item ids must be in [0, " + std::to_string(c.num_items) + "] (0 = padding), got " +
            std::to_string(id) + " at [" + std::to_string(b) + ", " + std::to_string(j) + "]");
    }
  if (c.num_users) {
    if (!users) bad("users: expected int64 [B] user indices (this Caser has user embeddings), got None");
    for (int64_t b = 0; b < B; ++b)
      if (users[b] < 0 || users[b] >= c.num_users)
        bad("users: expected indices in [0, " + std::to_string(c.num_users) + "), got " + std::to_string(users[b]) +
            " at [" + std::to_string(b) + "]");
  }
  if (B == 0) return;
  const Fp32Kernels& kr = fp32_kernels(avx2);
  // the embedding image [B, L, d] of the last L ids (left-padded with item 0)
  e_.resize(size_t(B * L * d));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < L; ++i) {
      const int64_t j = l - L + i;
      item.row(j >= 0 ? seqs[b * lds + j] : 0, e_.data() + (b * L + i) * d);
    }
  feat_.resize(size_t(B * F));
  if (c.n_v) {  // vertical: rows = embedding columns (the image transposed), K = L
    et_.resize(size_t(B * d * L));
    yv_.resize(size_t(B * d * c.n_v));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < L; ++i)
        for (int64_t j = 0; j < d; ++j) et_[size_t((b * d + j) * L + i)] = e_[size_t((b * L + i) * d + j)];
    conv_v.forward(kr, et_.data(), B * d, L, yv_.data(), c.n_v, nthreads, isa);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t ch = 0; ch < c.n_v; ++ch)
        for (int64_t j = 0; j < d; ++j) feat_[size_t(b * F + ch * d + j)] = yv_[size_t((b * d + j) * c.n_v + ch)];
  }
  for (int64_t h = 1; h <= (c.n_h ? L : 0); ++h) {  // horizontal: windows of h rows, K = h * d
    const int64_t T = L - h + 1, K = h * d;
    win_.resize(size_t(B * T * K));
    yh_.resize(size_t(B * T * c.n_h));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        std::memcpy(win_.data() + (b * T + t) * K, e_.data() + (b * L + t) * d, size_t(K) * sizeof(float));
    conv_h[size_t(h - 1)].forward(kr, win_.data(), B * T, K, yh_.data(), c.n_h, nthreads, isa);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t ch = 0; ch < c.n_h; ++ch) {
        float m = 0.f;  // max over windows of relu(y) == relu(max over windows of y)
        for (int64_t t = 0; t < T; ++t) m = std::max(m, yh_[size_t((b * T + t) * c.n_h + ch)]);
        feat_[size_t(b * F + c.n_v * d + (h - 1) * c.n_h + ch)] = m;
      }
  }
  float* z = out;
  if (c.num_users) {
    z_.resize(size_t(B * d));
    z = z_.data();
  }
  fc1.forward(kr, feat_.data(), B, F, z, d, nthreads, isa);
  for (int64_t i = 0; i < B * d; ++i) z[i] = std::max(z[i], 0.f);
  if (!c.num_users) return;
  zu_.resize(size_t(B * 2 * d));
  for (int64_t b = 0; b < B; ++b) {
    std::memcpy(zu_.data() + b * 2 * d, z + b * d, size_t(d) * sizeof(float));
    user.row(users[b], zu_.data() + b * 2 * d + d);
  }
  fc2.forward(kr, zu_.data(), B, 2 * d, out, d, nthreads, isa);
  for (int64_t i = 0; i < B * d; ++i) out[i] = std::max(out[i], 0.f);
}

}  // namespace runtime
}  // namespace chord
