// pybind11 glue of the fused model runtime (thin: reads the model spec that
// python/chord/runtime builds, keeps every array it borrows alive, checks call arguments,
// releases the GIL, calls runtime::SASRecRunner).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bindings/topk_args.h"
#include "common/array_check.h"
#include "runtime/runtime_caser.h"
#include "runtime/runtime_sasrec.h"

namespace py = pybind11;

namespace chord {

namespace {

constexpr const char* kOp = "chord.runtime";

// A runner plus the arrays its pointers borrow. keep_layouts: its packed layers keep what
// mp_linear builds from their weights between calls (runtime::Linear::cache).
struct Keep {
  std::vector<py::object> keep;
  bool keep_layouts = true;
};
struct PySASRec : Keep {
  runtime::SASRecRunner r;
};
struct PyCaser : Keep {
  runtime::CaserRunner r;
};

[[noreturn]] void bad(const std::string& msg) {
  throw std::invalid_argument(std::string(kOp) + ": " + msg);
}

py::object item(const py::dict& d, const char* key, const std::string& where) {
  if (!d.contains(key)) bad(where + ": missing '" + key + "'");
  return d[key];
}

// The integer fields of a model's config dict, each read into its runner-config member: one
// table per model instead of one `item(...).cast` line per field.
void read_ints(const py::dict& cfg, std::initializer_list<std::pair<const char*, int64_t*>> fields) {
  for (const auto& [key, dst] : fields) {
    const py::object v = item(cfg, key, "config");
    try {
      *dst = v.cast<int64_t>();
    } catch (const py::cast_error&) {
      bad(std::string("config.") + key + ": expected an int, got " +
          std::string(py::str(py::type::of(v).attr("__name__"))));
    }
  }
}

template <class T>
const T* arr(Keep& s, const py::object& o, const std::string& where, int ndim, int64_t* n0 = nullptr,
             int64_t* n1 = nullptr) {
  if (o.is_none()) return nullptr;
  if (!py::isinstance<py::array>(o)) bad(where + ": expected a numpy array");
  const py::array a = py::reinterpret_borrow<py::array>(o);
  const std::string name = where;
  const T* p = pyarg::array_ptr<T>(a, kOp, name.c_str(), ndim);
  if (n0) *n0 = a.shape(0);
  if (n1) *n1 = ndim > 1 ? a.shape(1) : 1;
  s.keep.push_back(a);
  return p;
}

mpl::PackedView packed_view(Keep& s, const py::dict& d, const std::string& where, int64_t K) {
  int64_t qb = 0, ns = 0, nz = 0, np_ = 0;
  const uint8_t* qw = arr<uint8_t>(s, item(d, "qweight", where), where + ".qweight", 1, &qb);
  const float* sc = arr<float>(s, item(d, "scales", where), where + ".scales", 1, &ns);
  const float* ze = arr<float>(s, item(d, "zeros", where), where + ".zeros", 1, &nz);
  const int32_t* pm = arr<int32_t>(s, item(d, "perm", where), where + ".perm", 1, &np_);
  const std::vector<int64_t> buckets = item(d, "buckets", where).cast<std::vector<int64_t>>();
  try {
    return mpl::make_packed_view(qw, qb, sc, ns, ze, nz, pm, np_, buckets.data(), int64_t(buckets.size()), K);
  } catch (const std::invalid_argument& e) {
    bad(where + ": " + e.what());
  }
}

void read_linear(Keep& s, runtime::Linear& l, const py::dict& d, const std::string& where) {
  const std::string kind = item(d, "kind", where).cast<std::string>();
  int64_t nb = 0;
  const float* bias = arr<float>(s, item(d, "bias", where), where + ".bias", 1, &nb);
  if (kind == "fp32") {
    int64_t N = 0, K = 0;
    const float* w = arr<float>(s, item(d, "weight", where), where + ".weight", 2, &N, &K);
    if (!w) bad(where + ".weight: expected an array, got None");
    if (bias && nb != N) bad(where + ".bias: expected " + std::to_string(N) + " entries, got " + std::to_string(nb));
    l.set_fp32(where, w, N, K, bias);
  } else if (kind == "packed") {
    const int64_t K = item(d, "K", where).cast<int64_t>();
    const mpl::PackedView v = packed_view(s, d, where, K);
    if (bias && nb != v.N)
      bad(where + ".bias: expected " + std::to_string(v.N) + " entries, got " + std::to_string(nb));
    l.set_packed(where, v, item(d, "act_bits", where).cast<int>(), bias, s.keep_layouts);
  } else {
    bad(where + ".kind: expected 'fp32' or 'packed', got '" + kind + "'");
  }
}

void read_table(Keep& s, runtime::Table& t, const py::dict& d, const std::string& where) {
  const std::string kind = item(d, "kind", where).cast<std::string>();
  if (kind == "fp32") {
    int64_t N = 0, D = 0;
    const float* w = arr<float>(s, item(d, "weight", where), where + ".weight", 2, &N, &D);
    if (!w) bad(where + ".weight: expected an array, got None");
    t.set_fp32(where, w, N, D);
  } else if (kind == "packed") {
    const int64_t K = item(d, "K", where).cast<int64_t>();
    t.set_packed(where, packed_view(s, d, where, K), item(d, "act_bits", where).cast<int>());
  } else {
    bad(where + ".kind: expected 'fp32' or 'packed', got '" + kind + "'");
  }
}

void read_norm(Keep& s, runtime::LayerNorm& n, const py::dict& d, const std::string& where) {
  int64_t nw = 0, nb = 0;
  n.w = arr<float>(s, item(d, "weight", where), where + ".weight", 1, &nw);
  n.b = arr<float>(s, item(d, "bias", where), where + ".bias", 1, &nb);
  n.eps = item(d, "eps", where).cast<float>();
  n.d = item(d, "dim", where).cast<int64_t>();
  if ((n.w && nw != n.d) || (n.b && nb != n.d))
    bad(where + ": weight/bias: expected " + std::to_string(n.d) + " entries");
}

const int64_t* seqs_ptr(const py::array& seqs, int64_t& B, int64_t& L) {
  const int64_t* p = pyarg::array_ptr<int64_t>(seqs, kOp, "seqs", 2);
  B = seqs.shape(0);
  L = seqs.shape(1);
  return p;
}

const int64_t* users_ptr(const py::object& users, int64_t B) {
  if (users.is_none()) return nullptr;
  if (!py::isinstance<py::array>(users)) bad("users: expected an int64 array or None");
  const py::array ua = py::reinterpret_borrow<py::array>(users);
  const int64_t* p = pyarg::array_ptr<int64_t>(ua, kOp, "users", 1);
  if (ua.shape(0) != B) bad("users: expected [" + std::to_string(B) + "], got " + pyarg::shape_str(ua));
  return p;
}

// out float32 [B, dim], writable -> pointer
float* out_ptr(const py::array& out, int64_t B, int64_t dim) {
  float* p = pyarg::array_ptr<float>(out, kOp, "out", 2, true);
  if (out.shape(0) != B || out.shape(1) != dim)
    bad("out: expected [" + std::to_string(B) + ", " + std::to_string(dim) + "], got " + pyarg::shape_str(out));
  return p;
}

int64_t cache_bytes(const runtime::SASRecRunner& r) {
  int64_t n = 0;
  for (const runtime::SASRecBlock& b : r.blocks)
    for (const runtime::Linear* l : {&b.q, &b.k, &b.v, &b.out, &b.fc1, &b.fc2}) n += l->cache_bytes();
  return n;
}

int64_t cache_bytes(const runtime::CaserRunner& r) {
  int64_t n = r.conv_v.cache_bytes() + r.fc1.cache_bytes() + r.fc2.cache_bytes();
  for (const runtime::Linear& l : r.conv_h) n += l.cache_bytes();
  return n;
}

// The class every fused runner binds as: constructed from its spec dict and an ISA name
// (python/chord/runtime/base.py calls runner_cls(spec, isa)); read_spec(keep, runner, spec,
// config) reads the model's own fields into the runner (as read_table / read_linear do: the
// arrays it borrows go to keep), then the ISA is set and the runner checks itself. The "isa"
// property says what it runs, "cache_bytes" what its layers keep between calls.
template <class Py, class ReadSpec>
py::class_<Py, std::shared_ptr<Py>> runner_class(py::module_& m, const char* name, const char* doc,
                                                 ReadSpec read_spec) {
  return py::class_<Py, std::shared_ptr<Py>>(m, name, doc)
      .def(py::init([read_spec](const py::dict& spec, const std::string& isa, bool keep_layouts) {
             auto s = std::make_shared<Py>();
             s->keep_layouts = keep_layouts;
             read_spec(*s, s->r, spec, item(spec, "config", "spec").cast<py::dict>());
             s->r.isa = chord::parse_isa(isa, std::string(kOp) + ": isa");
             try {
               s->r.check();
             } catch (const std::invalid_argument& e) {
               bad(e.what());
             }
             return s;
           }),
           py::arg("spec"), py::arg("isa") = "auto", py::arg("keep_layouts") = true)
      .def_property_readonly("isa", [](const Py& s) { return std::string(mpl::isa_name(s.r.isa)); })
      .def_property_readonly(
          "cache_bytes", [](const Py& s) { return cache_bytes(s.r); },
          "Bytes the packed layers keep between calls (the small-layer int8 path's weight layouts, built "
          "by the first call that takes the path); 0 before, or with keep_layouts=False (layouts built "
          "per call: a reference for tests).");
}

void read_caser(Keep& s, runtime::CaserRunner& r, const py::dict& spec, const py::dict& cfg) {
  read_ints(cfg, {{"num_items", &r.cfg.num_items},
                  {"dim", &r.cfg.dim},
                  {"L", &r.cfg.L},
                  {"n_v", &r.cfg.n_v},
                  {"n_h", &r.cfg.n_h},
                  {"num_users", &r.cfg.num_users}});
  read_table(s, r.item, item(spec, "item_emb", "spec").cast<py::dict>(), "item_emb");
  if (r.cfg.num_users) {
    read_table(s, r.user, item(spec, "user_emb", "spec").cast<py::dict>(), "user_emb");
    read_linear(s, r.fc2, item(spec, "fc2", "spec").cast<py::dict>(), "fc2");
  }
  if (r.cfg.n_v) read_linear(s, r.conv_v, item(spec, "conv_v", "spec").cast<py::dict>(), "conv_v");
  const py::list hs = item(spec, "conv_h", "spec").cast<py::list>();
  r.conv_h.resize(hs.size());
  for (size_t i = 0; i < hs.size(); ++i)
    read_linear(s, r.conv_h[i], hs[i].cast<py::dict>(), "conv_h." + std::to_string(i));
  read_linear(s, r.fc1, item(spec, "fc1", "spec").cast<py::dict>(), "fc1");
}

void read_sasrec(Keep& s, runtime::SASRecRunner& r, const py::dict& spec, const py::dict& cfg) {
  read_ints(cfg, {{"num_items", &r.cfg.num_items},
                  {"dim", &r.cfg.dim},
                  {"heads", &r.cfg.heads},
                  {"max_len", &r.cfg.max_len},
                  {"ffn_hidden", &r.cfg.ffn_hidden}});
  const std::string norm = item(cfg, "norm", "config").cast<std::string>();
  if (norm != "query" && norm != "pre") bad("config.norm: expected 'query' or 'pre', got '" + norm + "'");
  r.cfg.pre_norm = norm == "pre";
  r.cfg.emb_scale = item(cfg, "emb_scale", "config").cast<float>();
  read_table(s, r.item, item(spec, "item_emb", "spec").cast<py::dict>(), "item_emb");
  read_table(s, r.pos, item(spec, "pos_emb", "spec").cast<py::dict>(), "pos_emb");
  const py::list blocks = item(spec, "blocks", "spec").cast<py::list>();
  r.blocks.resize(blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    const py::dict b = blocks[i].cast<py::dict>();
    const std::string p = "blocks." + std::to_string(i) + ".";
    runtime::SASRecBlock& rb = r.blocks[i];
    read_norm(s, rb.attn_norm, item(b, "attn_norm", p).cast<py::dict>(), p + "attn_norm");
    read_norm(s, rb.ffn_norm, item(b, "ffn_norm", p).cast<py::dict>(), p + "ffn_norm");
    read_linear(s, rb.q, item(b, "q_proj", p).cast<py::dict>(), p + "attn.q_proj");
    read_linear(s, rb.k, item(b, "k_proj", p).cast<py::dict>(), p + "attn.k_proj");
    read_linear(s, rb.v, item(b, "v_proj", p).cast<py::dict>(), p + "attn.v_proj");
    read_linear(s, rb.out, item(b, "out_proj", p).cast<py::dict>(), p + "attn.out_proj");
    read_linear(s, rb.fc1, item(b, "fc1", p).cast<py::dict>(), p + "ffn.fc1");
    read_linear(s, rb.fc2, item(b, "fc2", p).cast<py::dict>(), p + "ffn.fc2");
  }
  read_norm(s, r.final_norm, item(spec, "final_norm", "spec").cast<py::dict>(), "final_norm");
}

void bind_caser(py::module_& m) {
  runner_class<PyCaser>(m, "CaserRunner", "Fused Caser inference (python/chord/runtime/caser.py builds it).",
                        read_caser)
      .def(
          "represent",
          [](PyCaser& s, const py::array& seqs, const py::object& users, const py::array& out, int nthreads) {
            int64_t B, L;
            const int64_t* sp = seqs_ptr(seqs, B, L);
            const int64_t* up = users_ptr(users, B);
            float* op = out_ptr(out, B, s.r.cfg.dim);
            py::gil_scoped_release nogil;
            s.r.represent(sp, B, L, L, up, op, nthreads);
          },
          py::arg("seqs"), py::arg("users"), py::arg("out"), py::arg("nthreads") = 1)
      .def(
          "topk",
          [](PyCaser& s, const py::array& seqs, const py::object& users, int64_t k, const py::object& candidates,
             const py::array& values, const py::array& ids, int nthreads) {
            int64_t B, L;
            const int64_t* sp = seqs_ptr(seqs, B, L);
            const int64_t* up = users_ptr(users, B);
            const pyarg::Candidates c = pyarg::candidates(candidates, B, kOp);
            const pyarg::TopkOutputs out = pyarg::topk_outputs(values, ids, B, k, kOp, "ids");
            py::gil_scoped_release nogil;
            s.r.topk(sp, B, L, L, up, k, c.p, c.C, c.ldc, out.values, out.ids, nthreads);
          },
          py::arg("seqs"), py::arg("users"), py::arg("k"), py::arg("candidates"), py::arg("values"), py::arg("ids"),
          py::arg("nthreads") = 1);
}

}  // namespace

void bind_runtime(py::module_& m) {
  bind_caser(m);
  runner_class<PySASRec>(m, "SASRecRunner", "Fused SASRec inference (python/chord/runtime/sasrec.py builds it).",
                         read_sasrec)
      .def(
          "represent",
          [](PySASRec& s, const py::array& seqs, const py::array& out, int nthreads) {
            int64_t B, L;
            const int64_t* sp = seqs_ptr(seqs, B, L);
            float* op = out_ptr(out, B, s.r.cfg.dim);
            py::gil_scoped_release nogil;
            s.r.represent(sp, B, L, L, op, nthreads);
          },
          py::arg("seqs"), py::arg("out"), py::arg("nthreads") = 1,
          "seqs int64 [B, L] -> out float32 [B, dim] (preallocated): the model's user representation.")
      .def(
          "topk",
          [](PySASRec& s, const py::array& seqs, int64_t k, const py::object& candidates, const py::array& values,
             const py::array& ids, int nthreads) {
            int64_t B, L;
            const int64_t* sp = seqs_ptr(seqs, B, L);
            const pyarg::Candidates c = pyarg::candidates(candidates, B, kOp);
            const pyarg::TopkOutputs out = pyarg::topk_outputs(values, ids, B, k, kOp, "ids");
            py::gil_scoped_release nogil;
            s.r.topk(sp, B, L, L, k, c.p, c.C, c.ldc, out.values, out.ids, nthreads);
          },
          py::arg("seqs"), py::arg("k"), py::arg("candidates"), py::arg("values"), py::arg("ids"),
          py::arg("nthreads") = 1,
          "seqs int64 [B, L], k, candidates None | int64 [C] | [B, C] -> values float32 [B, k], ids int64 [B, k].");
}

}  // namespace chord
