#include "embedding/embedding.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "common/format.h"
#include "mp_linear/mp_linear_kernels.h"

namespace chord {
namespace embedding {

namespace {

constexpr const char* kOp = "chord::embedding_lookup";

[[noreturn]] void bad(const std::string& msg) {
  throw std::invalid_argument(std::string(kOp) + ": " + msg);
}

}  // namespace

Table make_table(const uint8_t* qweight, int64_t qbytes, const int64_t* row_bits, const int64_t* row_slot,
                 const float* row_scale, const float* row_zero, int64_t N, const int64_t* buckets, int64_t nb,
                 int64_t K) {
  if (K < 1) bad("K: expected >= 1, got " + std::to_string(K));
  Table t{qweight, qbytes, row_bits, row_slot, row_scale, row_zero, N, K};
  for (int64_t i = 0; i < nb; ++i) {
    const int64_t* bk = buckets + 3 * i;
    const int64_t b = bk[0];
    if (b != 1 && b != 2 && b != 4 && b != 8) bad("buckets: bits " + std::to_string(b) + " not in {1, 2, 4, 8}");
    const int64_t rb = fmt::row_bytes(K, int(b));
    // off + rows * rb <= qbytes, without overflow
    if (bk[1] < 0 || bk[2] < 0 || bk[1] > qbytes || bk[2] > (qbytes - bk[1]) / rb)
      bad("buckets: the " + std::to_string(b) + "-bit bucket overruns qweight (" + std::to_string(qbytes) + " bytes)");
    t.off[b] = bk[1];
    t.rows[b] = bk[2];
  }
  return t;
}

void lookup(const Table& t, const int64_t* ids, int64_t n, float* out, Isa isa) {
  const Isa run = resolve_isa(isa);
  const bool avx2 = isa_has_avx2(run), neon = isa_has_neon(run);
  const int64_t K = t.K;
  for (int64_t i = 0; i < n; ++i) {  // all checks first: a failing call writes nothing
    const int64_t r = ids[i];
    if (r < 0 || r >= t.N)
      throw std::out_of_range(std::string(kOp) + ": ids: index " + std::to_string(r) + " out of range [0, " +
                              std::to_string(t.N) + ")");
    const int64_t b = t.row_bits[r];
    if (b != 0 && ((b != 1 && b != 2 && b != 4 && b != 8) || t.row_slot[r] < 0 || t.row_slot[r] >= t.rows[b]))
      bad("row " + std::to_string(r) + ": width " + std::to_string(b) + " / slot " + std::to_string(t.row_slot[r]) +
          " does not match the buckets");
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = ids[i];
    const int b = int(t.row_bits[r]);
    const uint8_t* p = b ? t.qweight + t.off[b] + t.row_slot[r] * fmt::row_bytes(K, b) : nullptr;
    if (b && avx2)
      mpl::dequant_row_avx2(p, b, K, t.row_scale[r], t.row_zero[r], out + i * K);
    else if (b && neon)
      mpl::dequant_row_neon(p, b, K, t.row_scale[r], t.row_zero[r], out + i * K);
    else
      dequantize_row(p, b, K, t.row_scale[r], t.row_zero[r], out + i * K);
  }
}

void dequantize_row(const uint8_t* p, int bits, int64_t K, float scale, float zero, float* y) {
  if (bits == 0) {
    std::memset(y, 0, size_t(K) * sizeof(float));
    return;
  }
  const int epb = fmt::elems_per_byte(bits);
  const int64_t be = fmt::block_elems(bits);
  for (int64_t blk = 0; blk * be < K; ++blk, p += fmt::kBlockBytes)
    for (int i = 0; i < epb; ++i) {  // plane i of the block: elements plane_elem(blk, i, 0..15)
      const int64_t e0 = fmt::plane_elem(blk, i, 0, bits);
      const int64_t ne = K - e0 < 16 ? K - e0 : 16;
      for (int64_t j = 0; j < ne; ++j) y[e0 + j] = (static_cast<float>(fmt::field(p[j], i, bits)) - zero) * scale;
    }
}

}  // namespace embedding
}  // namespace chord
