// The on-device model behind chord.h; see model.h.
#include "capi/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

#include "mp_linear/mp_linear.h"
#include "quantize_pack/quantize_pack.h"

namespace chord {
namespace capi {

namespace {

[[noreturn]] void bad_format(const std::string& msg) {
  throw FormatError("model file: " + msg);
}

// The default codebook (chord.Codebook.default(): code -> 0, 2, 4, 8 bits, symmetric): the
// packing every layer has until the first strategy arrives (DeviceModel's initial_bits=8).
constexpr uint8_t kDefaultWidths[4] = {0, 2, 4, 8};
constexpr int kBucketOrder[5] = {8, 4, 2, 1, 0};  // format.BUCKET_ORDER

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

const float* f32_tensor(const st::File& f, const std::string& name, int64_t n0, int64_t n1, const std::string& where) {
  const st::Tensor& t = f.get(name, "F32", n1 < 0 ? 1 : 2);
  if (t.shape[0] != n0 || (n1 >= 0 && t.shape[1] != n1))
    bad_format(where + ": tensor '" + name + "' has the wrong shape (expected [" + std::to_string(n0) +
               (n1 >= 0 ? ", " + std::to_string(n1) : "") + "])");
  return reinterpret_cast<const float*>(t.data);
}

}  // namespace

Model::Model(std::unique_ptr<st::File> file, int act_bits, int threads)
    : file_(std::move(file)), act_bits_(act_bits), threads_(threads) {
  if (act_bits != 0 && act_bits != 8)
    throw std::invalid_argument("options.act_bits: expected 0 or 8, got " + std::to_string(act_bits));
  if (threads_ <= 0) threads_ = int(std::max(1u, std::thread::hardware_concurrency()));
  const auto& meta = file_->metadata();
  auto it = meta.find("chord");
  if (it == meta.end()) bad_format("no 'chord' entry in __metadata__ (not written by `chord export`)");
  json::Value h;
  try {
    h = json::parse(it->second.data(), it->second.size());
    if (h.at("format", "header").as_string("header.format") != "chord.model")
      bad_format("header.format: expected 'chord.model'");
    const int64_t ver = h.at("version", "header").as_int("header.version", 0, 1 << 30);
    if (ver != 1) bad_format("format version " + std::to_string(ver) + " is not supported (this build reads 1)");
    arch = h.at("arch", "header").as_string("header.arch");
    if (arch != "sasrec" && arch != "caser")
      bad_format("header.arch: expected 'sasrec' or 'caser', got '" + arch + "'");
    const std::string& fp = h.at("fingerprint", "header").as_string("header.fingerprint");
    if (fp.size() != 16) bad_format("header.fingerprint: expected 16 hex digits");
    for (int i = 0; i < 8; ++i) {
      const int a = hexval(fp[size_t(2 * i)]), b = hexval(fp[size_t(2 * i + 1)]);
      if (a < 0 || b < 0) bad_format("header.fingerprint: expected 16 lowercase hex digits");
      fingerprint[i] = uint8_t(a * 16 + b);
    }
    spec_ = h.at("spec", "header");
    const json::Value& cfg = spec_.at("config", "spec");
    constexpr int64_t kBig = int64_t(1) << 31;
    num_items = cfg.at("num_items", "config").as_int("config.num_items", 1, kBig);
    dim = cfg.at("dim", "config").as_int("config.dim", 1, 1 << 16);
    if (arch == "sasrec")
      max_len = cfg.at("max_len", "config").as_int("config.max_len", 1, 1 << 20);
    else
      num_users = cfg.at("num_users", "config").as_int("config.num_users", 0, kBig);
    const auto& ls = h.at("layers", "header").as_array("header.layers");
    if (ls.size() > 0xFFFF) bad_format("header.layers: at most 65535 layers");
    for (size_t i = 0; i < ls.size(); ++i) {
      const std::string w = "header.layers[" + std::to_string(i) + "]";
      Layer l;
      l.name = ls[i].at("name", w).as_string(w + ".name");
      l.kind = ls[i].at("kind", w).as_string(w + ".kind");
      if (l.kind != "linear" && l.kind != "conv2d" && l.kind != "embedding")
        bad_format(w + ".kind: expected linear, conv2d or embedding, got '" + l.kind + "'");
      l.N = ls[i].at("channels", w).as_int(w + ".channels", 1, kBig);
      l.K = ls[i].at("elems", w).as_int(w + ".elems", 1, kBig);
      l.frozen = f32_tensor(*file_, l.name + ".weight", l.N, l.K, w);
      for (int64_t e = 0; e < l.N * l.K; ++e)  // checked once: the packer refuses NaN/Inf anyway
        if (!std::isfinite(l.frozen[e])) bad_format(w + ": weight '" + l.name + "' contains NaN or Inf");
      for (const Layer& o : layers)
        if (o.name == l.name) bad_format(w + ": duplicate layer name '" + l.name + "'");
      known_.push_back({l.name, l.N});
      layers.push_back(std::move(l));
    }
  } catch (const FormatError&) {
    throw;
  } catch (const std::invalid_argument& e) {
    bad_format(e.what());
  }
  // initial packing: every channel 8-bit (as chord.DeviceModel before its first strategy)
  std::vector<const Packing*> packs;
  for (Layer& l : layers) {
    const std::vector<uint8_t> codes(size_t(l.N), 3);
    pack_layer(l, codes.data(), kDefaultWidths, 0, l.cur);
    packs.push_back(&l.cur);
  }
  assemble(packs, sasrec_, caser_);
}

void Model::pack_layer(const Layer& l, const uint8_t* codes, const uint8_t widths[4], int scheme, Packing& out) const {
  const int64_t N = l.N, K = l.K;
  out.perm.clear();
  out.buckets.clear();
  for (int b : kBucketOrder) {  // plan_buckets: widest first, stable inside a bucket
    const size_t before = out.perm.size();
    for (int64_t r = 0; r < N; ++r)
      if (widths[codes[r]] == b) out.perm.push_back(int32_t(r));
    if (out.perm.size() > before) {
      out.buckets.push_back(b);
      out.buckets.push_back(int64_t(out.perm.size() - before));
    }
  }
  const int64_t nb = int64_t(out.buckets.size());
  const int64_t qbytes = qpack::packed_bytes(out.buckets.data(), nb, N, K);
  out.qweight.assign(size_t(qbytes), 0);
  out.scales.assign(size_t(N), 0.f);
  out.zeros.assign(size_t(N), 0.f);
  qpack::quantize_pack(l.frozen, N, K, K, out.perm.data(), out.buckets.data(), nb,
                       scheme ? qpack::Scheme::Asym : qpack::Scheme::Sym, out.qweight.data(), qbytes, out.scales.data(),
                       out.zeros.data(), threads_);
  out.tiny.clear();
  // MixedPrecisionLinear/Conv2d keep the dequantized weight when it is no larger than the
  // packing (quantize/modules.py _refresh_tiny) and the fused runtime then runs it in fp32
  if (l.kind != "embedding" && act_bits_ == 0 && N * K * 4 <= qbytes + 12 * N) {
    const mpl::PackedView v = mpl::make_packed_view(out.qweight.data(), qbytes, out.scales.data(), N, out.zeros.data(),
                                                    N, out.perm.data(), N, out.buckets.data(), nb, K);
    out.tiny.assign(size_t(N * K), 0.f);
    for (const mpl::BucketSpan& s : v.spans) {
      if (s.bits == 0) continue;
      const int epb = 8 / s.bits;
      const unsigned mask = (1u << s.bits) - 1u;
      const int64_t be = 16 * epb;
      for (int64_t r = s.row_start; r < s.row_start + s.rows; ++r) {
        const uint8_t* p = out.qweight.data() + s.byte_offset + (r - s.row_start) * s.row_bytes;
        float* o = out.tiny.data() + int64_t(out.perm[size_t(r)]) * K;
        for (int64_t e = 0; e < K; ++e) {
          const int64_t blk = e / be, rr = e % be;
          const unsigned u = (unsigned(p[blk * 16 + (rr % 16)]) >> (int(rr / 16) * s.bits)) & mask;
          o[e] = (float(u) - out.zeros[size_t(r)]) * out.scales[size_t(r)];
        }
      }
    }
  }
}

void Model::assemble(const std::vector<const Packing*>& packs, std::unique_ptr<runtime::SASRecRunner>& sr,
                     std::unique_ptr<runtime::CaserRunner>& cr) const {
  const st::File& f = *file_;
  auto layer_of = [&](const std::string& path) -> int {
    for (size_t i = 0; i < layers.size(); ++i)
      if (layers[i].name == path) return int(i);
    return -1;
  };
  auto opt_tensor = [&](const json::Value& e, const char* key, int64_t n, const std::string& where) -> const float* {
    const json::Value* v = e.find(key);
    if (!v || v->is_null()) return nullptr;
    return f32_tensor(f, v->as_string(where + "." + key), n, -1, where + "." + key);
  };
  auto view = [&](int i) {
    const Packing& p = *packs[size_t(i)];
    const Layer& l = layers[size_t(i)];
    return mpl::make_packed_view(p.qweight.data(), int64_t(p.qweight.size()), p.scales.data(), l.N, p.zeros.data(), l.N,
                                 p.perm.data(), l.N, p.buckets.data(), int64_t(p.buckets.size()), l.K);
  };
  auto linear = [&](const json::Value& e, const std::string& path, runtime::Linear& out) {
    if (e.at("kind", path).as_string(path + ".kind") != "fp32") bad_format(path + ".kind: expected 'fp32'");
    const std::string& wname = e.at("weight", path).as_string(path + ".weight");
    const st::Tensor& wt = f.get(wname, "F32", 2);
    const int64_t N = wt.shape[0], K = wt.shape[1];
    const float* bias = opt_tensor(e, "bias", N, path);
    const int i = layer_of(path);
    if (i < 0) {
      out.set_fp32(path, reinterpret_cast<const float*>(wt.data), N, K, bias);
      return;
    }
    const Layer& l = layers[size_t(i)];
    if (wname != l.name + ".weight" || l.N != N || l.K != K)
      bad_format(path + ": weight differs from layer '" + l.name + "'");
    if (!packs[size_t(i)]->tiny.empty())
      out.set_fp32(path, packs[size_t(i)]->tiny.data(), N, K, bias);
    else
      out.set_packed(path, view(i), act_bits_, bias);
  };
  auto table = [&](const json::Value& e, const std::string& path, runtime::Table& out) {
    if (e.at("kind", path).as_string(path + ".kind") != "fp32") bad_format(path + ".kind: expected 'fp32'");
    const std::string& wname = e.at("weight", path).as_string(path + ".weight");
    const st::Tensor& wt = f.get(wname, "F32", 2);
    const int i = layer_of(path);
    if (i < 0) {
      out.set_fp32(path, reinterpret_cast<const float*>(wt.data), wt.shape[0], wt.shape[1]);
      return;
    }
    const Layer& l = layers[size_t(i)];
    if (wname != l.name + ".weight" || l.N != wt.shape[0] || l.K != wt.shape[1])
      bad_format(path + ": weight differs from layer '" + l.name + "'");
    out.set_packed(path, view(i), act_bits_);
  };
  auto norm = [&](const json::Value& e, const std::string& path, runtime::LayerNorm& out) {
    out.d = e.at("dim", path).as_int(path + ".dim", 1, 1 << 16);
    out.eps = float(e.at("eps", path).as_number(path + ".eps"));
    out.w = opt_tensor(e, "weight", out.d, path);
    out.b = opt_tensor(e, "bias", out.d, path);
  };
  try {
    const json::Value& s = spec_;
    const json::Value& cfg = s.at("config", "spec");
    if (arch == "sasrec") {
      auto r = std::make_unique<runtime::SASRecRunner>();
      r->cfg.num_items = num_items;
      r->cfg.dim = dim;
      r->cfg.heads = cfg.at("heads", "config").as_int("config.heads", 1, 1 << 16);
      r->cfg.max_len = max_len;
      r->cfg.ffn_hidden = cfg.at("ffn_hidden", "config").as_int("config.ffn_hidden", 1, 1 << 24);
      const std::string& nm = cfg.at("norm", "config").as_string("config.norm");
      if (nm != "query" && nm != "pre") bad_format("config.norm: expected 'query' or 'pre', got '" + nm + "'");
      r->cfg.pre_norm = nm == "pre";
      r->cfg.emb_scale = float(cfg.at("emb_scale", "config").as_number("config.emb_scale"));
      table(s.at("item_emb", "spec"), "item_emb", r->item);
      table(s.at("pos_emb", "spec"), "pos_emb", r->pos);
      const auto& bl = s.at("blocks", "spec").as_array("spec.blocks");
      if (bl.size() > 4096) bad_format("spec.blocks: too many blocks");
      r->blocks.resize(bl.size());
      for (size_t i = 0; i < bl.size(); ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".";
        runtime::SASRecBlock& b = r->blocks[i];
        norm(bl[i].at("attn_norm", p), p + "attn_norm", b.attn_norm);
        norm(bl[i].at("ffn_norm", p), p + "ffn_norm", b.ffn_norm);
        linear(bl[i].at("q_proj", p), p + "attn.q_proj", b.q);
        linear(bl[i].at("k_proj", p), p + "attn.k_proj", b.k);
        linear(bl[i].at("v_proj", p), p + "attn.v_proj", b.v);
        linear(bl[i].at("out_proj", p), p + "attn.out_proj", b.out);
        linear(bl[i].at("fc1", p), p + "ffn.fc1", b.fc1);
        linear(bl[i].at("fc2", p), p + "ffn.fc2", b.fc2);
      }
      norm(s.at("final_norm", "spec"), "final_norm", r->final_norm);
      r->check();
      sr = std::move(r);
    } else {
      auto r = std::make_unique<runtime::CaserRunner>();
      r->cfg.num_items = num_items;
      r->cfg.dim = dim;
      r->cfg.L = cfg.at("L", "config").as_int("config.L", 1, 1 << 16);
      r->cfg.n_v = cfg.at("n_v", "config").as_int("config.n_v", 0, 1 << 16);
      r->cfg.n_h = cfg.at("n_h", "config").as_int("config.n_h", 0, 1 << 16);
      r->cfg.num_users = num_users;
      table(s.at("item_emb", "spec"), "item_emb", r->item);
      if (num_users) {
        table(s.at("user_emb", "spec"), "user_emb", r->user);
        linear(s.at("fc2", "spec"), "fc2", r->fc2);
      }
      if (r->cfg.n_v) linear(s.at("conv_v", "spec"), "conv_v", r->conv_v);
      const auto& hs = s.at("conv_h", "spec").as_array("spec.conv_h");
      if (hs.size() > (1 << 16)) bad_format("spec.conv_h: too many filters");
      r->conv_h.resize(hs.size());
      for (size_t i = 0; i < hs.size(); ++i) linear(hs[i], "conv_h." + std::to_string(i), r->conv_h[i]);
      linear(s.at("fc1", "spec"), "fc1", r->fc1);
      r->check();
      cr = std::move(r);
    }
  } catch (const FormatError&) {
    throw;
  } catch (const std::invalid_argument& e) {
    bad_format(e.what());
  }
}

void Model::apply(const uint8_t* bytes, size_t n) {
  std::lock_guard<std::mutex> g(mu_);
  wire::Strategy s;
  try {
    s = wire::decode(bytes, n, known_, fingerprint);
  } catch (const std::invalid_argument& e) {
    throw StrategyError(e.what());
  }
  // pack into fresh buffers; install only when every layer packed and the runner assembled
  std::vector<Packing> fresh(layers.size());
  std::vector<const Packing*> packs(layers.size());
  std::vector<bool> touched(layers.size(), false);
  for (size_t i = 0; i < layers.size(); ++i) packs[i] = &layers[i].cur;
  size_t off = 0;
  for (size_t j = 0; j < s.names.size(); ++j) {
    size_t i = 0;
    while (layers[i].name != s.names[j]) ++i;  // decode checked that it exists
    pack_layer(layers[i], s.codes.data() + off, s.widths, s.scheme, fresh[i]);
    off += size_t(s.channels[j]);
    packs[i] = &fresh[i];
    touched[i] = true;
  }
  std::unique_ptr<runtime::SASRecRunner> sr;
  std::unique_ptr<runtime::CaserRunner> cr;
  assemble(packs, sr, cr);
  // commit (moving a vector keeps its buffer, so the new runner's views stay valid)
  for (size_t i = 0; i < layers.size(); ++i)
    if (touched[i]) layers[i].cur = std::move(fresh[i]);
  sasrec_ = std::move(sr);
  caser_ = std::move(cr);
}

void Model::rerank(const int64_t* history, int64_t n, int64_t user, const int64_t* cand, int64_t C, int64_t k,
                   int64_t* ids, float* scores) {
  if (!history) throw std::invalid_argument("history: expected item ids, got a null pointer");
  if (n < 1) throw std::invalid_argument("history: expected at least one item, got 0");
  if (!ids || !scores)
    throw std::invalid_argument("ids, scores: expected output buffers of k entries, got a null pointer");
  for (int64_t i = 0; i < n; ++i)
    if (history[i] < 1 || history[i] > num_items)
      throw ItemError("history[" + std::to_string(i) + "]: expected an item id in [1, " + std::to_string(num_items) +
                      "], got " + std::to_string(history[i]));
  if (C < 0 || (C > 0 && !cand)) throw std::invalid_argument("candidates: expected a null pointer or C > 0 ids");
  for (int64_t i = 0; i < C; ++i)
    if (cand[i] < 1 || cand[i] > num_items)
      throw ItemError("candidates[" + std::to_string(i) + "]: expected an item id in [1, " + std::to_string(num_items) +
                      "], got " + std::to_string(cand[i]));
  const int64_t avail = cand ? C : num_items;
  if (k < 1 || k > avail)
    throw std::invalid_argument("k: expected 1 <= k <= " + std::to_string(avail) +
                                (cand ? " (candidates)" : " (items)") + ", got " + std::to_string(k));
  if (num_users > 0 && (user < 0 || user >= num_users))
    throw ItemError("user: expected a user index in [0, " + std::to_string(num_users) + "), got " +
                    std::to_string(user));
  if (num_users == 0 && user != -1)
    throw std::invalid_argument("user: this model has no user table; expected -1, got " + std::to_string(user));
  std::lock_guard<std::mutex> g(mu_);
  if (sasrec_) {
    const int64_t L = std::min(n, max_len);  // the most recent max_len items
    sasrec_->topk(history + (n - L), 1, L, L, k, cand, C, 0, scores, ids, threads_);
  } else {
    const int64_t* up = num_users ? &user : nullptr;
    caser_->topk(history, 1, n, n, up, k, cand, C, 0, scores, ids, threads_);
  }
}

}  // namespace capi
}  // namespace chord
