// Bounds-checked safetensors reader; see safetensors.h.
#include "capi/safetensors.h"

#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>

namespace chord {
namespace st {

namespace {

// The safetensors library's own limit on the header (guards against a huge allocation).
constexpr uint64_t kMaxHeader = 100u << 20;

[[noreturn]] void bad(const std::string& msg) {
  throw std::invalid_argument("model file: " + msg);
}

int dtype_size(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL") return 1;
  return 0;
}

}  // namespace

File::File(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw IoError("model file: cannot open '" + path + "'");
  // read in chunks to EOF (no trust in ftell: directories, pipes and special files)
  constexpr size_t kChunk = size_t(1) << 20;
  if (std::fseek(f.get(), 0, SEEK_END) == 0) {  // a size hint, so a regular file is read with one allocation
    const long hint = std::ftell(f.get());
    if (hint > 0 && uint64_t(hint) < (uint64_t(1) << 40)) bytes_.reserve(size_t(hint) + kChunk);
  }
  std::rewind(f.get());
  size_t used = 0;
  for (;;) {
    bytes_.resize(used + kChunk);
    const size_t got = std::fread(bytes_.data() + used, 1, kChunk, f.get());
    used += got;
    if (got < kChunk) break;
  }
  if (std::ferror(f.get())) throw IoError("model file: cannot read '" + path + "'");
  bytes_.resize(used);
  parse();
}

File::File(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {
  parse();
}

void File::parse() {
  const uint64_t n = bytes_.size();
  if (n < 8) bad("truncated: " + std::to_string(n) + " bytes, a safetensors file starts with an 8-byte header length");
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | bytes_[size_t(i)];
  if (hlen > kMaxHeader || hlen > n - 8)
    bad("header length " + std::to_string(hlen) + " exceeds the file (" + std::to_string(n) + " bytes)");
  const json::Value h = json::parse(reinterpret_cast<const char*>(bytes_.data() + 8), size_t(hlen));
  if (h.kind != json::Value::Object) bad("header: expected a JSON object");
  const uint8_t* base = bytes_.data() + 8 + hlen;
  const uint64_t data_len = n - 8 - hlen;
  for (const auto& kv : h.obj) {
    const std::string& name = kv.first;
    if (name == "__metadata__") {
      if (kv.second.kind != json::Value::Object) bad("__metadata__: expected an object of strings");
      for (const auto& m : kv.second.obj) meta_[m.first] = m.second.as_string("__metadata__." + m.first);
      continue;
    }
    const std::string w = "tensor '" + name + "'";
    Tensor t;
    t.dtype = kv.second.at("dtype", w).as_string(w + ".dtype");
    const int es = dtype_size(t.dtype);
    if (!es) bad(w + ": unknown dtype '" + t.dtype + "'");
    for (const json::Value& d : kv.second.at("shape", w).as_array(w + ".shape")) {
      const int64_t s = d.as_int(w + ".shape", 0, int64_t(1) << 40);
      if (s && t.numel > std::numeric_limits<int64_t>::max() / s) bad(w + ": shape overflows");
      t.numel *= s;
      t.shape.push_back(s);
    }
    const auto& off = kv.second.at("data_offsets", w).as_array(w + ".data_offsets");
    if (off.size() != 2) bad(w + ".data_offsets: expected [begin, end]");
    const int64_t b = off[0].as_int(w + ".data_offsets[0]", 0, int64_t(data_len));
    const int64_t e = off[1].as_int(w + ".data_offsets[1]", b, int64_t(data_len));
    if (t.numel > (e - b) / es || t.numel * es != e - b)
      bad(w + ": " + std::to_string(e - b) + " data bytes for " + std::to_string(t.numel) + " elements of " + t.dtype);
    t.nbytes = e - b;
    t.data = base + b;
    if (reinterpret_cast<uintptr_t>(t.data) % uintptr_t(es)) {  // not aligned: keep an aligned copy
      realigned_.emplace_back(size_t(t.nbytes) + 8);
      uint8_t* dst = realigned_.back().data();
      dst += (8 - reinterpret_cast<uintptr_t>(dst) % 8) % 8;
      if (t.nbytes) std::memcpy(dst, t.data, size_t(t.nbytes));
      t.data = dst;
    }
    tensors_.emplace(name, std::move(t));
  }
}

const Tensor& File::get(const std::string& name, const char* dtype, int ndim) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) bad("missing tensor '" + name + "'");
  const Tensor& t = it->second;
  if (t.dtype != dtype) bad("tensor '" + name + "': expected dtype " + dtype + ", got " + t.dtype);
  if (ndim >= 0 && int(t.shape.size()) != ndim)
    bad("tensor '" + name + "': expected " + std::to_string(ndim) + " dimensions, got " +
        std::to_string(t.shape.size()));
  return t;
}

}  // namespace st
}  // namespace chord
