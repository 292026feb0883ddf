// The strategy wire codec of python/chord/strategy.py (the bytes the cloud sends), decoded
// natively: header (magic "CHST", version 1, flags, codebook widths, scheme, 8-byte model
// fingerprint, layer count), the layer table (names unless compact, channel counts), the
// 2-bit codes (4 per byte, low bits first; unused high bits zero) and a CRC32 (zlib) of all
// preceding bytes. Every check of Strategy.from_bytes is repeated here with the same meaning;
// failures throw std::invalid_argument with a message naming what was wrong.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace chord {
namespace wire {

struct Layer {
  std::string name;
  int64_t channels = 0;
};

struct Strategy {
  uint8_t widths[4] = {0, 0, 0, 0};  // code -> bits
  int scheme = 0;                    // 0 = sym, 1 = asym
  uint8_t fingerprint[8] = {};
  std::vector<std::string> names;
  std::vector<int64_t> channels;
  std::vector<uint8_t> codes;  // all layers concatenated, one code (0..3) per channel
};

uint32_t crc32(const uint8_t* p, size_t n);

// known: the receiving model's layers (names + channel counts), in order; required for
// compact bytes (they supply the names), and every named layer must be one of them with the
// same channel count. fingerprint: the model's; bytes made for another model are refused.
Strategy decode(const uint8_t* data, size_t n, const std::vector<Layer>& known, const uint8_t fingerprint[8]);

}  // namespace wire
}  // namespace chord
