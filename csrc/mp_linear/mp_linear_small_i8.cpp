// The small-layer int8 path's driver (mp_linear_small_i8.h): activation quantization (the direct
// path's function), the k-quad weight layout, the split over activation rows, and the epilogue.
#include "mp_linear/mp_linear_small_i8.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/parallel.h"
#include "mp_linear/mp_linear_kernels.h"

namespace chord {
namespace mpl {

namespace {

// Below this many multiply-adds a second thread costs more to wake than it saves (as the GEMM's).
constexpr int64_t kMinParallelMacs = int64_t(1) << 21;
// Activation rows a task quantizes and sums at once (a multiple of the 4-row tile): the tasks
// when the rows are split between threads, and the blocks one thread runs in turn, so a
// thread's scratch holds this many rows whatever M is.
constexpr int64_t kRowsPerTask = 32;

// Quads summed in int16 before widening: 2 * umax * 127 per quad's pair-sum lane must not pass
// 32767 (8-bit rows run as two 4-bit nibble planes).
int int16_steps(int bits) {
  const int umax = (1 << std::min(bits, 4)) - 1;
  return 32767 / (2 * umax * 127);
}

int64_t layout_bytes_of(const BucketSpan& s, int64_t kq) {
  const int64_t groups = (s.rows + 7) / 8;
  return groups * kq * 32 * (s.bits == 8 ? 2 : 1);
}

// Row stride of the unpacked natural rows: whole 16-byte blocks of fields (up to 8 * 16 elements
// past K), a multiple of 32 (the layout reads 8 quads of each row at once).
int64_t nat_stride(int64_t K) {
  const int64_t ldx = (K + 3) / 4 * 4;
  return std::max<int64_t>((ldx + 31) / 32 * 32, (K + 127) / 128 * 128);
}

// One thread's buffers for a block of <= kRowsPerTask activation rows.
struct RowScratch {
  AlignedBuf<int8_t> xq;
  AlignedBuf<float> xf;
  AlignedBuf<int32_t> c, c2;
};
thread_local RowScratch tls_rows;
// A caller without a WeightCache: the layout built for its call, and the bias per result column.
thread_local SmallI8Layout tls_layout;
thread_local std::vector<double> tls_bias;

// Rows [r0, r0 + n) of span s (n <= 8) into group layout(s) dst (8-bit: dst2 too; dst gets the
// high nibbles, dst2 the low ones), through natural-order rows in nat (8 x ldn; 8-bit: 24 rows).
void layout_group(const BucketSpan& s, const uint8_t* qweight, int64_t r0, int64_t n, int64_t K, int64_t kq,
                  uint8_t* nat, int64_t ldn, uint8_t* dst, uint8_t* dst2) {
  for (int64_t j = 0; j < 8; ++j) {
    uint8_t* d = nat + j * ldn;
    if (j >= n) {
      std::memset(d, 0, size_t(ldn));
      continue;
    }
    const uint8_t* row = qweight + s.byte_offset + (r0 + j - s.row_start) * s.row_bytes;
    if (s.bits == 8)
      std::memcpy(d, row, size_t(K));  // one field per byte: natural order already
    else
      unpack_i8_avx2(row, s.row_bytes, s.bits, d);  // natural order, whole blocks
    std::memset(d + K, 0, size_t(ldn - K));         // padding fields never contribute
  }
  if (s.bits != 8) return layout_quads_avx2(nat, ldn, kq, dst);
  uint8_t* hi = nat + 8 * ldn;
  uint8_t* lo = hi + 8 * ldn;
  split_nibbles_avx2(nat, 8 * ldn, hi, lo);
  layout_quads_avx2(hi, ldn, kq, dst);
  layout_quads_avx2(lo, ldn, kq, dst2);
}

}  // namespace

bool small_i8_fits(const PackedView& w, Isa isa) {
  if (!isa_has_avx2(isa) || isa_has_avx512_vnni(isa) || isa_has_avx_vnni(isa)) return false;
  if (w.K > kMaxKSmallI8) return false;
  const int64_t kq = (w.K + 3) / 4;
  int64_t bytes = 0;  // (no overflow: K <= 128 and rows < 2^31)
  for (const BucketSpan& s : w.spans)
    if (s.bits && s.rows) bytes += layout_bytes_of(s, kq);
  return bytes <= kMaxSmallI8Bytes;
}

void build_small_i8_layout(const PackedView& w, SmallI8Layout& L) {
  if (w.K > kMaxKSmallI8) throw std::invalid_argument("small-layer layout: K > " + std::to_string(kMaxKSmallI8));
  const int64_t K = w.K, kq = (K + 3) / 4, ldn = nat_stride(K);
  L.parts.clear();
  int64_t bytes = 0, col = 0;
  bool has8 = false;
  for (size_t i = 0; i < w.spans.size(); ++i) {
    const BucketSpan& b = w.spans[i];
    if (!b.bits || !b.rows) continue;
    const int64_t g = (b.rows + 7) / 8;
    L.parts.push_back({int64_t(i), col, g, {bytes, b.bits == 8 ? bytes + g * kq * 32 : bytes}});
    bytes += layout_bytes_of(b, kq);
    col += g * 8;
    has8 |= b.bits == 8;
  }
  if (bytes > kMaxSmallI8Bytes)
    throw std::invalid_argument("small-layer layout: " + std::to_string(bytes) + " bytes > " +
                                std::to_string(kMaxSmallI8Bytes));
  L.of = nullptr;  // (not w's until it is whole)
  L.wq.ensure(size_t(std::max<int64_t>(bytes, 32)));
  thread_local AlignedBuf<uint8_t> nat;
  nat.ensure(size_t(24 * ldn));
  for (const SmallI8Layout::Part& p : L.parts) {
    const BucketSpan& b = w.spans[size_t(p.span)];
    for (int64_t g = 0; g < p.ngroups; ++g)
      layout_group(b, w.qweight, b.row_start + 8 * g, std::min<int64_t>(8, b.rows - 8 * g), K, kq, nat.p, ldn,
                   L.wq.p + p.off[0] + g * kq * 32, L.wq.p + p.off[1] + g * kq * 32);
  }
  L.bytes = bytes;
  L.kq = kq;
  L.ldc = col;
  L.has8 = has8;
  L.N = w.N;
  L.K = K;
  L.of = w.qweight;
}

void mp_linear_small_i8(const PackedView& w, const SmallI8Layout* layout, const void* x, DType xdtype, int64_t M,
                        int64_t sx_row, int64_t sx_col, const float* bias, void* y, DType ydtype, int64_t ldy,
                        int nthreads) {
  const int64_t K = w.K;
  if (!layout) {
    build_small_i8_layout(w, tls_layout);
    layout = &tls_layout;
  } else if (layout->of != w.qweight || layout->N != w.N || layout->K != K) {
    throw std::logic_error("mp_linear_small_i8: a layout built for another weight");
  }
  const SmallI8Layout& L = *layout;
  const int64_t kq = L.kq, ldx = kq * 4, ldc = L.ldc;

  // pruned rows: exactly the bias (or 0), whatever x holds (the direct path's 0.0 + bias)
  for (const BucketSpan& b : w.spans)
    if (!b.bits)
      for (int64_t r = b.row_start; r < b.row_start + b.rows; ++r) {
        const int64_t n = w.perm[r];
        for (int64_t m = 0; m < M; ++m) store_y(y, ydtype, m * ldy + n, bias ? 0.0 + double(bias[n]) : 0.0);
      }
  if (L.parts.empty()) return;
  // the bias per result column, widened (a call's: the tensor may change between calls)
  const double* bcol = nullptr;
  if (bias) {
    tls_bias.resize(size_t(ldc));
    for (const SmallI8Layout::Part& p : L.parts) {
      const BucketSpan& b = w.spans[size_t(p.span)];
      for (int64_t i = 0; i < b.rows; ++i) tls_bias[size_t(p.col0 + i)] = double(bias[w.perm[b.row_start + i]]);
    }
    bcol = tls_bias.data();
  }
  const bool f32_rows = xdtype == DType::F32 && sx_col == 1;

  // rows [m0, m1) (at most kRowsPerTask): quantize, dot, epilogue, in this thread's scratch
  auto rows_task = [&](int64_t m0, int64_t m1) {
    const int64_t nm = m1 - m0;
    RowScratch& rs = tls_rows;
    rs.xq.ensure(size_t(kRowsPerTask * ldx));
    rs.c.ensure(size_t(kRowsPerTask * ldc));
    if (L.has8) rs.c2.ensure(size_t(kRowsPerTask * ldc));
    float sxv[kRowsPerTask];
    int64_t qsv[kRowsPerTask];
    for (int64_t i = 0; i < nm; ++i) {
      const int64_t m = m0 + i;
      const float* xr;
      if (f32_rows) {
        xr = static_cast<const float*>(x) + m * sx_row;
      } else {
        rs.xf.ensure(size_t(K));
        float* d = rs.xf.p;
        const int64_t base = m * sx_row;
        if (sx_col == 1 && xdtype == DType::F16)
          widen_f16_avx2(static_cast<const uint16_t*>(x) + base, K, d);
        else
          for (int64_t k = 0; k < K; ++k) d[k] = load_x(x, xdtype, base + k * sx_col);
        xr = d;
      }
      int8_t* q = rs.xq.p + i * ldx;
      std::memset(q + K, 0, size_t(ldx - K));
      sxv[i] = quantize_row_i8_avx2(xr, K, q, &qsv[i]);
    }
    int32_t* const c = rs.c.p;
    int32_t* const c2 = rs.c2.p;
    for (const SmallI8Layout::Part& p : L.parts) {
      const int bits = w.spans[size_t(p.span)].bits;
      gemm_i8_quads_avx2(rs.xq.p, ldx, nm, L.wq.p + p.off[0], p.ngroups, kq, int16_steps(bits), c + p.col0, ldc);
      if (bits == 8) {  // high nibbles above, the low ones here: u = 16 h + l, exact in int32
        gemm_i8_quads_avx2(rs.xq.p, ldx, nm, L.wq.p + p.off[1], p.ngroups, kq, int16_steps(bits), c2 + p.col0, ldc);
        const int64_t rows = w.spans[size_t(p.span)].rows;
        for (int64_t i = 0; i < nm; ++i) {
          int32_t* hi = c + i * ldc + p.col0;
          const int32_t* lo = c2 + i * ldc + p.col0;
          for (int64_t j = 0; j < rows; ++j) hi[j] = 16 * hi[j] + lo[j];
        }
      }
    }
    for (int64_t i = 0; i < nm; ++i) {
      const int64_t m = m0 + i;
      const double qs = double(qsv[i]), sx = double(sxv[i]);
      for (const SmallI8Layout::Part& p : L.parts) {
        const BucketSpan& b = w.spans[size_t(p.span)];
        const int32_t* cr = c + i * ldc + p.col0;
        const float* zero = w.zeros + b.row_start;
        const float* scale = w.scales + b.row_start;
        const int32_t* col = w.perm + b.row_start;
        const double* bc = bcol ? bcol + p.col0 : nullptr;
        if (ydtype == DType::F32) {
          epilogue_small_i8_avx2(cr, b.rows, zero, scale, bc, col, qs, sx, static_cast<float*>(y) + m * ldy);
        } else {  // the direct path's expression and store
          for (int64_t j = 0; j < b.rows; ++j) {
            const double v = (double(cr[j]) - double(zero[j]) * qs) * (sx * double(scale[j]));
            store_y(y, ydtype, m * ldy + col[j], bc ? v + bc[j] : v);
          }
        }
      }
    }
  };

  // (in double: M x N x K may pass int64 for a caller's absurd M; only the comparison matters)
  const int nt = double(M) * double(w.N) * double(K) >= double(kMinParallelMacs) ? std::max(1, nthreads) : 1;
  const int64_t ntasks = (M + kRowsPerTask - 1) / kRowsPerTask;
  auto task = [&](int64_t t) { rows_task(t * kRowsPerTask, std::min(M, (t + 1) * kRowsPerTask)); };
  if (nt <= 1 || ntasks <= 1) {
    for (int64_t t = 0; t < ntasks; ++t) task(t);
    return;
  }
  parallel_for(ntasks, nt, task);
}

// ---- WeightCache (mp_linear.h) ------------------------------------------------------------------
WeightCache::WeightCache() = default;
WeightCache::~WeightCache() = default;

const SmallI8Layout& WeightCache::small_i8(const PackedView& w) {
  if (const SmallI8Layout* l = small_.load(std::memory_order_acquire)) return *l;
  std::lock_guard<std::mutex> lock(mu_);
  if (!own_) {
    auto l = std::make_unique<SmallI8Layout>();
    build_small_i8_layout(w, *l);  // (throws: nothing kept)
    own_ = std::move(l);
    small_.store(own_.get(), std::memory_order_release);
  }
  return *own_;
}

int64_t WeightCache::bytes() const {
  const SmallI8Layout* l = small_.load(std::memory_order_acquire);
  return l ? int64_t(l->wq.n) + int64_t(l->parts.capacity() * sizeof(SmallI8Layout::Part)) : 0;
}

}  // namespace mpl
}  // namespace chord
