// Row scorers of chord::mp_topk for item tables (short rows, many of them): a centered dot
// product sum_k xa_k * (u_k - c) of one activation row against one packed row, where c is a
// per-bucket constant (the bucket's common zero point, so the usual symmetric case needs no
// epilogue correction and suffers no cancellation).
//
// Two ways: a direct dot (any width; AVX2 for 8-bit rows, whose bytes are in natural order),
// and, for 1/2/4-bit buckets with many rows, byte lookup tables: a byte at position p of a row
// holds 8/b elements, so LUT[p][v] = sum over its fields of xa_k * (field(v) - c) turns a row
// into rb table lookups and adds (16 for K = 64 at 2 bits).
//
// xa must hold zeros from K up to padded_k(K, 1) (the longest padded row): padding elements
// then contribute nothing whatever u they hold.
#pragma once
#include <cstdint>
#include <vector>

namespace chord {
namespace topk {

constexpr int64_t kActPad = 128;  // fmt::block_elems(1): every width's padded K fits
inline int64_t act_pad(int64_t K) {
  return (K + kActPad - 1) / kActPad * kActPad;
}

// Portable direct centered dot of a row of width `bits` (1, 2, 4, 8).
float dot_direct_ref(const uint8_t* row, int bits, int64_t K, const float* xa, float c);
// AVX2 direct dot for 8-bit rows (row_bytes = padded_k(K, 8) bytes).
float dot8_avx2(const uint8_t* row, int64_t K, const float* xa, float c);
float dotq_avx2(const uint8_t* row, int bits, int64_t K, const float* xa, float c);  // bits 1, 2, 4

class ByteLut {
 public:
  // bits in {1, 2, 4}; rb = row bytes.
  void build(int bits, int64_t K, const float* xa, float c);
  inline float dot(const uint8_t* row) const {
    const float* t = table_.data();
    float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
    int64_t p = 0;
    for (; p + 4 <= rb_; p += 4, t += 1024) {
      a0 += t[row[p]];
      a1 += t[256 + row[p + 1]];
      a2 += t[512 + row[p + 2]];
      a3 += t[768 + row[p + 3]];
    }
    for (; p < rb_; ++p, t += 256) a0 += t[row[p]];
    return (a0 + a1) + (a2 + a3);
  }
  // the same sum for a row of exactly RB bytes, fully unrolled (RB a multiple of 4)
  template <int RB>
  inline float dot_fixed(const uint8_t* row) const {
    const float* t = table_.data();
    float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
#pragma GCC unroll 64
    for (int p = 0; p < RB; p += 4) {
      a0 += t[(p + 0) * 256 + row[p]];
      a1 += t[(p + 1) * 256 + row[p + 1]];
      a2 += t[(p + 2) * 256 + row[p + 2]];
      a3 += t[(p + 3) * 256 + row[p + 3]];
    }
    return (a0 + a1) + (a2 + a3);
  }
  int64_t row_bytes() const { return rb_; }
  // worth building when a bucket has this many rows or more (the build costs ~rb*256*8/b)
  static bool worth_it(int bits, int64_t rows, int64_t K);

 private:
  int64_t rb_ = 0;
  std::vector<float> table_;  // [rb][256]
};

}  // namespace topk
}  // namespace chord
