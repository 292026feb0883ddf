// A small strict JSON reader for the model file's header (csrc/capi/safetensors.*): objects,
// arrays, strings (with \u escapes), numbers, true/false/null. Bounded: nesting depth and
// input size are limited, every read is bounds-checked, and malformed input throws
// std::invalid_argument naming the byte offset -- never a crash.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chord {
namespace json {

struct Value {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool b = false;
  double num = 0.0;
  std::string str;
  std::vector<Value> arr;
  std::map<std::string, Value> obj;

  bool is_null() const { return kind == Null; }
  // Typed accessors: throw std::invalid_argument("<where>: expected ...") on a kind mismatch.
  const Value& at(const std::string& key, const std::string& where) const;  // object member (required)
  const Value* find(const std::string& key) const;                          // object member or null
  const std::string& as_string(const std::string& where) const;
  int64_t as_int(const std::string& where, int64_t lo, int64_t hi) const;  // integral, in [lo, hi]
  double as_number(const std::string& where) const;
  const std::vector<Value>& as_array(const std::string& where) const;
};

// Parses exactly one JSON value spanning [data, data + n) (surrounding whitespace allowed).
Value parse(const char* data, size_t n);

}  // namespace json
}  // namespace chord
