// Portable row scorers of chord::mp_topk (see topk_score.h).
#include "topk/topk_score.h"

#include <cstddef>

#include "common/format.h"

namespace chord {
namespace topk {

float dot_direct_ref(const uint8_t* row, int bits, int64_t K, const float* xa, float c) {
  const int epb = 8 / bits, mask = (1 << bits) - 1;
  const int64_t be = fmt::block_elems(bits), nblk = fmt::padded_k(K, bits) / be;
  float acc = 0.f;
  for (int64_t b = 0; b < nblk; ++b)
    for (int j = 0; j < 16; ++j) {
      const int byte = row[b * 16 + j];
      for (int i = 0; i < epb; ++i)
        acc += xa[b * be + j + 16 * i] * (static_cast<float>((byte >> (i * bits)) & mask) - c);
    }
  return acc;
}

void ByteLut::build(int bits, int64_t K, const float* xa, float c) {
  const int epb = 8 / bits, mask = (1 << bits) - 1;
  const int64_t be = fmt::block_elems(bits);
  rb_ = fmt::row_bytes(K, bits);
  table_.resize(static_cast<size_t>(rb_ * 256));
  for (int64_t p = 0; p < rb_; ++p) {
    const int64_t base = (p / 16) * be + (p % 16);
    float xs[8];
    for (int i = 0; i < epb; ++i) xs[i] = xa[base + 16 * i];
    float* t = table_.data() + p * 256;
    for (int v = 0; v < 256; ++v) {
      float s = 0.f;
      for (int i = 0; i < epb; ++i) s += xs[i] * (static_cast<float>((v >> (i * bits)) & mask) - c);
      t[v] = s;
    }
  }
}

bool ByteLut::worth_it(int bits, int64_t rows, int64_t K) {
  if (bits != 1 && bits != 2 && bits != 4) return false;
  const int64_t rb = fmt::row_bytes(K, bits);
  if (rb > 256) return false;  // table > 256 KiB: no longer cache-resident
  return rows * K >= 4 * rb * 256 * (8 / bits);
}

}  // namespace topk
}  // namespace chord
