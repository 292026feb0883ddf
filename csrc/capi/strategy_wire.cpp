// Strategy wire decoder; see strategy_wire.h and python/chord/strategy.py.
#include "capi/strategy_wire.h"

#include <cstdio>
#include <set>
#include <stdexcept>

namespace chord {
namespace wire {

namespace {

constexpr size_t kHead = 21;  // "<4sBB4sB8sH"
constexpr size_t kCrc = 4;

[[noreturn]] void bad(const std::string& msg) {
  throw std::invalid_argument("strategy: " + msg);
}

uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

std::string hex(const uint8_t* p, int n) {
  std::string s;
  char buf[3];
  for (int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    s += buf;
  }
  return s;
}

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (extra < 0 || i + size_t(extra) >= s.size()) return false;
    for (int k = 1; k <= extra; ++k)
      if ((static_cast<unsigned char>(s[i + size_t(k)]) >> 6) != 2) return false;
    i += size_t(extra) + 1;
  }
  return true;
}

}  // namespace

uint32_t crc32(const uint8_t* p, size_t n) {
  static uint32_t table[256];
  static const bool init = [] {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    return true;
  }();
  (void)init;
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

Strategy decode(const uint8_t* data, size_t n, const std::vector<Layer>& known, const uint8_t fingerprint[8]) {
  if (!data) bad("data: expected bytes, got a null pointer");
  if (n < kHead + kCrc)
    bad("truncated: " + std::to_string(n) + " bytes, the header alone takes " + std::to_string(kHead + kCrc));
  if (data[0] != 'C' || data[1] != 'H' || data[2] != 'S' || data[3] != 'T') bad("not a chord strategy (bad magic)");
  if (data[4] != 1) bad("wire format version " + std::to_string(data[4]) + " is not supported (this build reads 1)");
  const size_t body = n - kCrc;
  if (crc32(data, body) != le32(data + body)) bad("CRC32 mismatch: the bytes are corrupt or truncated");
  const uint8_t flags = data[5];
  if (flags & ~1u) bad("unknown flags 0x" + hex(&flags, 1));
  Strategy s;
  for (int c = 0; c < 4; ++c) {
    const uint8_t b = data[6 + c];
    if (b != 0 && b != 1 && b != 2 && b != 4 && b != 8)
      bad("invalid codebook: code " + std::to_string(c) + " has width " + std::to_string(b) +
          " (expected one of 0, 1, 2, 4, 8)");
    s.widths[c] = b;
  }
  if (data[10] > 1) bad("unknown quantization scheme id " + std::to_string(data[10]));
  s.scheme = data[10];
  for (int i = 0; i < 8; ++i) s.fingerprint[i] = data[11 + i];
  const size_t L = size_t(data[19]) | size_t(data[20]) << 8;
  const bool compact = flags & 1u;
  if (compact && known.size() != L)
    bad("bytes hold " + std::to_string(L) + " layers, the model " + std::to_string(known.size()));
  size_t pos = kHead;
  int64_t C = 0;
  for (size_t i = 0; i < L; ++i) {
    std::string name;
    if (compact) {
      name = known[i].name;
    } else {
      if (body - pos < 2) bad("malformed layer table (truncated)");
      const size_t len = size_t(data[pos]) | size_t(data[pos + 1]) << 8;
      pos += 2;
      if (body - pos < len) bad("truncated layer name");
      name.assign(reinterpret_cast<const char*>(data + pos), len);
      if (!valid_utf8(name)) bad("malformed layer table (layer name is not UTF-8)");
      pos += len;
    }
    if (body - pos < 4) bad("malformed layer table (truncated)");
    const int64_t c = le32(data + pos);
    pos += 4;
    if (c == 0) bad("a layer with 0 channels");
    s.names.push_back(std::move(name));
    s.channels.push_back(c);
    C += c;
  }
  if (std::set<std::string>(s.names.begin(), s.names.end()).size() != s.names.size()) bad("duplicate layer names");
  const int64_t need = (2 * C + 7) / 8;
  if (int64_t(body - pos) != need)
    bad("expected " + std::to_string(need) + " code bytes for " + std::to_string(C) + " channels, got " +
        std::to_string(body - pos));
  s.codes.resize(size_t(C));
  for (int64_t i = 0; i < C; ++i) s.codes[size_t(i)] = (data[pos + size_t(i / 4)] >> (2 * (i % 4))) & 3;
  for (int64_t i = C; i < need * 4; ++i)
    if ((data[pos + size_t(i / 4)] >> (2 * (i % 4))) & 3) bad("non-zero padding bits after the last code");
  for (int i = 0; i < 8; ++i)
    if (s.fingerprint[i] != fingerprint[i])
      bad("made for another model (fingerprint " + hex(s.fingerprint, 8) + ", this model's is " + hex(fingerprint, 8) +
          ")");
  for (size_t i = 0; i < L; ++i) {
    size_t j = 0;
    while (j < known.size() && known[j].name != s.names[i]) ++j;
    if (j == known.size()) bad("does not fit this model: no layer named '" + s.names[i] + "'");
    if (known[j].channels != s.channels[i])
      bad("does not fit this model: layer '" + s.names[i] + "' has " + std::to_string(known[j].channels) +
          " channels, the strategy " + std::to_string(s.channels[i]));
  }
  return s;
}

}  // namespace wire
}  // namespace chord
