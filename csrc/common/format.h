// The packed mixed-precision format's arithmetic, once for every C++ kernel family: the
// mirror of python/chord/format.py (tests/test_format_header.py checks the two agree).
//
// A row of width b (1, 2, 4, 8; 0 = pruned, no bytes) is padded along K to whole 16-byte planar
// blocks of block_elems(b) = 16 * (8 / b) elements: byte j of a block holds elements j, j + 16,
// j + 32, ... of the block in bits [0, b), [b, 2b), ... Buckets of equal width are stored widest
// first, pruned last (BUCKET_ORDER), their rows concatenated.
#pragma once
#include <cstdint>

namespace chord {
namespace fmt {

constexpr int kFormatVersion = 1;  // format.FORMAT_VERSION
constexpr int kBlockBytes = 16;    // format.BLOCK_BYTES
constexpr int kBucketOrder[5] = {8, 4, 2, 1, 0};  // format.BUCKET_ORDER

inline bool valid_bits(int64_t b) { return b == 0 || b == 1 || b == 2 || b == 4 || b == 8; }
// format.elems_per_byte / block_elems / padded_k / row_bytes (bits in {0, 1, 2, 4, 8}).
inline int elems_per_byte(int bits) { return 8 / bits; }
inline int64_t block_elems(int bits) { return bits == 0 ? 0 : int64_t(kBlockBytes) * (8 / bits); }
inline int64_t padded_k(int64_t K, int bits) {
  if (bits == 0) return 0;
  const int64_t be = block_elems(bits);
  return (K + be - 1) / be * be;
}
inline int64_t row_bytes(int64_t K, int bits) { return bits == 0 ? 0 : padded_k(K, bits) / (8 / bits); }

}  // namespace fmt
}  // namespace chord
