// The packed mixed-precision format's arithmetic, once for every C++ kernel family: the
// mirror of python/chord/format.py (tests/test_format_header.py checks the two agree through
// the chord_kernels._cpu.format_* bindings).
//
// A row of width b (1, 2, 4, 8; 0 = pruned, no bytes) is padded along K to whole 16-byte planar
// blocks of block_elems(b) = 16 * (8 / b) elements: byte j of a block holds elements j, j + 16,
// j + 32, ... of the block in bits [0, b), [b, 2b), ... (plane i = bits [i*b, (i+1)*b)). Buckets
// of equal width hold consecutive packed rows, their rows' bytes concatenated in table order.
//
// Size arithmetic on untrusted sizes goes through the checked helpers below: they throw
// std::overflow_error (Python OverflowError) naming what overflowed instead of wrapping. `what`
// is a C string so that a call that does not fail builds no message.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace chord {
namespace fmt {

constexpr int kFormatVersion = 1;                 // format.FORMAT_VERSION
constexpr int kBlockBytes = 16;                   // format.BLOCK_BYTES
constexpr int kBucketOrder[5] = {8, 4, 2, 1, 0};  // format.BUCKET_ORDER
constexpr int kWidths[5] = {0, 1, 2, 4, 8};       // every width a bucket may have

inline bool valid_bits(int64_t b) {
  return b == 0 || b == 1 || b == 2 || b == 4 || b == 8;
}

// Returns f(std::integral_constant<int, B>{}) for the stored width B = bits (1, 2, 4; anything
// else as 8: callers leave pruned rows, width 0, out first): the switch that turns a
// bucket's run-time width into a kernel's template argument (`f` reads it as `B.value`). Not
// inside a `#pragma GCC target` region (topk_i8_neon_dots.inc): this function is outside it, so
// the region's lambda would not inline into it and each call would pay a call.
template <class F>
inline decltype(auto) with_width(int bits, F&& f) {
  switch (bits) {
    case 1:
      return f(std::integral_constant<int, 1>{});
    case 2:
      return f(std::integral_constant<int, 2>{});
    case 4:
      return f(std::integral_constant<int, 4>{});
    default:
      return f(std::integral_constant<int, 8>{});
  }
}

// ---- checked size arithmetic ----------------------------------------------------------------
[[noreturn]] inline void overflow(const std::string& what) {
  throw std::overflow_error(what + ": size arithmetic overflows int64");
}
inline int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) overflow(what);
  return r;
}
inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) overflow(what);
  return r;
}
// count elements of elem_size bytes, as a byte count that fits size_t and int64 (for allocations)
inline size_t checked_bytes(int64_t count, size_t elem_size, const char* what) {
  if (count < 0) throw std::invalid_argument(std::string(what) + ": negative element count " + std::to_string(count));
  return static_cast<size_t>(checked_mul(count, static_cast<int64_t>(elem_size), what));
}

// ---- per row (format.elems_per_byte / block_elems / padded_k / row_bytes) -------------------
// bits in {1, 2, 4, 8} for elems_per_byte; {0, 1, 2, 4, 8} for the rest (0: pruned, no bytes).
inline int elems_per_byte(int bits) {
  return 8 / bits;
}
inline int64_t block_elems(int bits) {
  return bits == 0 ? 0 : int64_t(kBlockBytes) * (8 / bits);
}
// Unchecked: for K already validated (padded_k_checked / row_bytes_checked once per weight).
inline int64_t padded_k(int64_t K, int bits) {
  if (bits == 0) return 0;
  const int64_t be = block_elems(bits);
  return (K + be - 1) / be * be;
}
inline int64_t row_bytes(int64_t K, int bits) {
  return bits == 0 ? 0 : padded_k(K, bits) / (8 / bits);
}
inline int64_t blocks_per_row(int64_t K, int bits) {
  return bits == 0 ? 0 : padded_k(K, bits) / block_elems(bits);
}
// Checked: K >= 0 of any size (no wrap when K is near INT64_MAX).
inline int64_t padded_k_checked(int64_t K, int bits, const char* what) {
  if (bits == 0) return 0;
  const int64_t be = block_elems(bits);
  return checked_add(K, be - 1, what) / be * be;
}
inline int64_t row_bytes_checked(int64_t K, int bits, const char* what) {
  return bits == 0 ? 0 : padded_k_checked(K, bits, what) / (8 / bits);
}
// Element of a row held by plane i (bits [i*b, (i+1)*b)) of byte j of block blk.
inline int64_t plane_elem(int64_t blk, int i, int j, int bits) {
  return blk * block_elems(bits) + 16 * i + j;
}
// The b-bit field of plane i of a byte.
inline unsigned field(uint8_t byte, int i, int bits) {
  return (unsigned(byte) >> (i * bits)) & ((1u << bits) - 1u);
}

// ---- the bucket table (format.bucket_spans / total_bytes) -----------------------------------
struct Span {
  int bits;             // 0 (pruned), 1, 2, 4 or 8
  int64_t row_start;    // first packed row
  int64_t rows;         // rows in the bucket
  int64_t byte_offset;  // offset of its first row in qweight
  int64_t row_bytes;    // bytes per row (row_bytes(K, bits))
};

// Validates and expands a flat bucket table [bits0, rows0, bits1, rows1, ...] (nb entries) for
// rows of K elements and a weight of N rows: widths in {0, 1, 2, 4, 8}, row counts >= 0 summing
// to exactly N (checked bucket by bucket, so no sum can wrap), byte offsets checked. Throws
// std::invalid_argument ("<op>: buckets...: ...", no prefix for an empty op) or std::overflow_error.
// *total gets the bytes.
inline std::vector<Span> bucket_spans(const int64_t* buckets, int64_t nb, int64_t K, int64_t N, const char* op,
                                      int64_t* total = nullptr) {
  auto pre = [&]() { return *op ? std::string(op) + ": " : std::string(); };  // built on failure only
  auto bad = [&](const std::string& m) { throw std::invalid_argument(pre() + m); };
  if (nb < 0 || nb % 2) bad("buckets: expected a flat [bits, rows, ...] list, got odd length " + std::to_string(nb));
  if (K < 0) bad("K: expected >= 0, got " + std::to_string(K));
  if (N < 0) bad("N: expected >= 0, got " + std::to_string(N));
  std::vector<Span> out;
  out.reserve(size_t(nb / 2));
  int64_t row = 0, off = 0;
  for (int64_t i = 0; i < nb; i += 2) {
    const int64_t b = buckets[i], n = buckets[i + 1];
    if (!valid_bits(b))
      bad("buckets[" + std::to_string(i) + "]: expected a width in {8, 4, 2, 1, 0}, got " + std::to_string(b));
    if (n < 0) bad("buckets[" + std::to_string(i + 1) + "]: expected a row count >= 0, got " + std::to_string(n));
    if (n > N - row)  // (never forms the sum: no wrap)
      bad("buckets: rows sum to more than N = " + std::to_string(N) + " (buckets[" + std::to_string(i + 1) +
          "] = " + std::to_string(n) + " after " + std::to_string(row) + " rows in earlier buckets)");
    int64_t rb = 0, bytes = 0;
    if (b) {  // checked without building a message unless it fails (this runs per call)
      int64_t kp;
      if (__builtin_add_overflow(K, block_elems(int(b)) - 1, &kp))
        overflow(pre() + "row bytes of K = " + std::to_string(K));
      rb = kp / block_elems(int(b)) * block_elems(int(b)) / (8 / b);
    }
    if (__builtin_mul_overflow(n, rb, &bytes))
      overflow(pre() + "buckets: bytes of the " + std::to_string(b) + "-bit bucket (" + std::to_string(n) +
               " rows of " + std::to_string(rb) + ")");
    out.push_back({int(b), row, n, off, rb});
    row += n;
    if (__builtin_add_overflow(off, bytes, &off)) overflow(pre() + "buckets: total bytes");
  }
  if (row != N) bad("buckets: rows sum to " + std::to_string(row) + ", expected N = " + std::to_string(N));
  if (total) *total = off;
  return out;
}

}  // namespace fmt
}  // namespace chord
