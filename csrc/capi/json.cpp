// Small strict JSON reader; see json.h.
#include "capi/json.h"

#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace chord {
namespace json {

namespace {

constexpr int kMaxDepth = 64;

struct Parser {
  const char* p;
  size_t n, i = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument("JSON header: " + what + " at byte " + std::to_string(i));
  }
  void ws() {
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) ++i;
  }
  char peek() {
    if (i >= n) fail("unexpected end of input");
    return p[i];
  }
  void expect(const char* lit) {
    for (const char* c = lit; *c; ++c, ++i)
      if (i >= n || p[i] != *c) fail(std::string("expected '") + lit + "'");
  }
  static void put_utf8(std::string& s, uint32_t cp) {
    if (cp < 0x80) {
      s += char(cp);
    } else if (cp < 0x800) {
      s += char(0xC0 | (cp >> 6));
      s += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += char(0xE0 | (cp >> 12));
      s += char(0x80 | ((cp >> 6) & 0x3F));
      s += char(0x80 | (cp & 0x3F));
    } else {
      s += char(0xF0 | (cp >> 18));
      s += char(0x80 | ((cp >> 12) & 0x3F));
      s += char(0x80 | ((cp >> 6) & 0x3F));
      s += char(0x80 | (cp & 0x3F));
    }
  }
  uint32_t hex4() {
    if (n - i < 4) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k, ++i) {
      const char c = p[i];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= uint32_t(c - 'A' + 10);
      else
        fail("bad hex digit in \\u escape");
    }
    return v;
  }
  std::string string() {
    if (peek() != '"') fail("expected a string");
    ++i;
    std::string s;
    for (;;) {
      if (i >= n) fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(p[i++]);
      if (c == '"') return s;
      if (c < 0x20) fail("control character in string");
      if (c != '\\') {
        s += char(c);
        continue;
      }
      if (i >= n) fail("unterminated escape");
      const char e = p[i++];
      switch (e) {
        case '"':
          s += '"';
          break;
        case '\\':
          s += '\\';
          break;
        case '/':
          s += '/';
          break;
        case 'b':
          s += '\b';
          break;
        case 'f':
          s += '\f';
          break;
        case 'n':
          s += '\n';
          break;
        case 'r':
          s += '\r';
          break;
        case 't':
          s += '\t';
          break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // surrogate pair
            if (n - i < 6 || p[i] != '\\' || p[i + 1] != 'u') fail("lone high surrogate");
            i += 2;
            const uint32_t lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("lone low surrogate");
          }
          put_utf8(s, cp);
          break;
        }
        default:
          fail("bad escape");
      }
    }
  }
  double number() {
    const size_t s = i;
    if (i < n && p[i] == '-') ++i;
    auto digits = [&] {
      const size_t d = i;
      while (i < n && p[i] >= '0' && p[i] <= '9') ++i;
      if (i == d) fail("expected a digit");
    };
    digits();
    if (i < n && p[i] == '.') {
      ++i;
      digits();
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
      ++i;
      if (i < n && (p[i] == '+' || p[i] == '-')) ++i;
      digits();
    }
    const std::string tok(p + s, i - s);  // bounded copy: strtod needs a terminator
    char* end = nullptr;
    const double v = std::strtod(tok.c_str(), &end);
    if (end != tok.c_str() + tok.size() || !std::isfinite(v)) fail("bad number");
    return v;
  }
  // The elements of an object or array, from its opening bracket (at i) to `close`: each() parses
  // one element; they are separated by commas.
  template <class F>
  void elements(char close, F&& each) {
    ++i;
    ws();
    if (peek() == close) {
      ++i;
      return;
    }
    for (;;) {
      each();
      ws();
      const char d = peek();
      ++i;
      if (d == close) return;
      if (d != ',') fail(std::string("expected ',' or '") + close + "'");
    }
  }
  Value value(int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth));
    ws();
    Value v;
    const char c = peek();
    if (c == '{') {
      v.kind = Value::Object;
      elements('}', [&] {
        ws();
        std::string k = string();
        ws();
        if (peek() != ':') fail("expected ':'");
        ++i;
        Value m = value(depth + 1);
        if (!v.obj.emplace(std::move(k), std::move(m)).second) fail("duplicate object key");
      });
      return v;
    }
    if (c == '[') {
      v.kind = Value::Array;
      elements(']', [&] { v.arr.push_back(value(depth + 1)); });
      return v;
    }
    if (c == '"') {
      v.kind = Value::String;
      v.str = string();
      return v;
    }
    if (c == 't') {
      expect("true");
      v.kind = Value::Bool;
      v.b = true;
      return v;
    }
    if (c == 'f') {
      expect("false");
      v.kind = Value::Bool;
      return v;
    }
    if (c == 'n') {
      expect("null");
      return v;
    }
    v.kind = Value::Number;
    v.num = number();
    return v;
  }
};

const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Null:
      return "null";
    case Value::Bool:
      return "a boolean";
    case Value::Number:
      return "a number";
    case Value::String:
      return "a string";
    case Value::Array:
      return "an array";
    default:
      return "an object";
  }
}

[[noreturn]] void mismatch(const std::string& where, const char* want, Value::Kind got) {
  throw std::invalid_argument(where + ": expected " + want + ", got " + kind_name(got));
}

}  // namespace

Value parse(const char* data, size_t n) {
  Parser ps{data, n};
  Value v = ps.value(0);
  ps.ws();
  if (ps.i != n) ps.fail("trailing characters");
  return v;
}

const Value* Value::find(const std::string& key) const {
  if (kind != Object) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &it->second;
}

const Value& Value::at(const std::string& key, const std::string& where) const {
  if (kind != Object) mismatch(where, "an object", kind);
  auto it = obj.find(key);
  if (it == obj.end()) throw std::invalid_argument(where + ": missing '" + key + "'");
  return it->second;
}

const std::string& Value::as_string(const std::string& where) const {
  if (kind != String) mismatch(where, "a string", kind);
  return str;
}

double Value::as_number(const std::string& where) const {
  if (kind != Number) mismatch(where, "a number", kind);
  return num;
}

int64_t Value::as_int(const std::string& where, int64_t lo, int64_t hi) const {
  if (kind != Number) mismatch(where, "an integer", kind);
  if (!(num >= double(lo) && num <= double(hi)) || num != std::floor(num))
    throw std::invalid_argument(where + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                "], got " + std::to_string(num));
  return int64_t(num);
}

const std::vector<Value>& Value::as_array(const std::string& where) const {
  if (kind != Array) mismatch(where, "an array", kind);
  return arr;
}

}  // namespace json
}  // namespace chord
