// A bounds-checked reader of safetensors files (https://github.com/huggingface/safetensors):
// 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets},
// "__metadata__": {str: str}}, then the raw little-endian tensor bytes. Everything is checked
// against the file size before use; bad input throws std::invalid_argument naming the tensor
// and what was wrong.
#pragma once
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "capi/json.h"

namespace chord {
namespace st {

// The file could not be opened or read (as opposed to malformed: std::invalid_argument).
struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Tensor {
  std::string dtype;  // "F32", "I32", "U8", "I64", ...
  std::vector<int64_t> shape;
  int64_t numel = 1;
  const uint8_t* data = nullptr;  // inside File::bytes
  int64_t nbytes = 0;
};

class File {
 public:
  // Reads the whole file; throws std::invalid_argument (malformed) or std::runtime_error (I/O).
  explicit File(const std::string& path);
  // Parses an in-memory copy (takes ownership of the bytes).
  explicit File(std::vector<uint8_t> bytes);

  const std::map<std::string, std::string>& metadata() const { return meta_; }
  // The tensor `name` with dtype `dtype` and `ndim` dimensions (ndim < 0: any); throws when
  // absent or different. The data pointer is aligned for the dtype.
  const Tensor& get(const std::string& name, const char* dtype, int ndim) const;
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  size_t size() const { return bytes_.size(); }

 private:
  std::vector<uint8_t> bytes_;
  std::vector<std::vector<uint8_t>> realigned_;  // copies of tensors not aligned in bytes_
  std::map<std::string, std::string> meta_;
  std::map<std::string, Tensor> tensors_;
  void parse();
};

}  // namespace st
}  // namespace chord
