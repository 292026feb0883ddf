// The small-layer int8 path's driver (mp_linear_small_i8.h): activation quantization (the direct
// path's function), the k-quad weight layout, the split over activation rows, and the epilogue.
#include "mp_linear/mp_linear_small_i8.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/parallel.h"
#include "mp_linear/mp_linear_kernels.h"

namespace chord {
namespace mpl {

namespace {

// Below this many multiply-adds a second thread costs more to wake than it saves (as the GEMM's).
constexpr int64_t kMinParallelMacs = int64_t(1) << 21;
// Activation rows per task when the rows are split between threads (a multiple of the 4-row tile).
constexpr int64_t kRowsPerTask = 32;

// Quads summed in int16 before widening: 2 * umax * 127 per quad's pair-sum lane must not pass
// 32767 (8-bit rows run as two 4-bit nibble planes).
int int16_steps(int bits) {
  const int umax = (1 << std::min(bits, 4)) - 1;
  return 32767 / (2 * umax * 127);
}

// One live bucket laid out in k-quads (8-bit: the high and low nibble planes, one layout each).
struct Part {
  const BucketSpan* s;
  int64_t live0;  // index of its first row among the live rows (the result columns)
  int64_t ngroups;
  int64_t off[2];  // byte offsets of its layouts in the call's buffer (off[1]: 8-bit low nibbles)
};

struct Scratch {
  AlignedBuf<uint8_t> wq, nat;
  AlignedBuf<int8_t> xq;
  AlignedBuf<float> xf;
  AlignedBuf<int32_t> c, c2;
  std::vector<float> sx;
  std::vector<int64_t> qsum;
  std::vector<int32_t> col;
  std::vector<double> zero, scale, bias;  // per live row, packed order (bias: bias[col])
  std::vector<Part> parts;
};
thread_local Scratch tls_scratch;

int64_t layout_bytes_of(const BucketSpan& s, int64_t kq) {
  const int64_t groups = (s.rows + 7) / 8;
  return groups * kq * 32 * (s.bits == 8 ? 2 : 1);
}

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
  int64_t bytes = 0;
  for (const BucketSpan& s : w.spans)
    if (s.bits && s.rows) bytes += layout_bytes_of(s, kq);
  return bytes <= kMaxSmallI8Bytes;
}

void mp_linear_small_i8(const PackedView& w, const void* x, DType xdtype, int64_t M, int64_t sx_row, int64_t sx_col,
                        const float* bias, void* y, DType ydtype, int64_t ldy, int nthreads, Isa isa) {
  (void)isa;
  const int64_t K = w.K, N = w.N, kq = (K + 3) / 4, ldx = kq * 4;
  // the unpacked natural rows: whole 16-byte blocks of fields (up to 8 * 16 elements past K)
  // (a multiple of 32: the layout reads 8 quads of each row at once)
  const int64_t ldn = std::max<int64_t>((ldx + 31) / 32 * 32, (K + 127) / 128 * 128);
  Scratch& s = tls_scratch;

  // The layout: every live bucket, 8 rows a group; and the epilogue's per-column tables.
  s.parts.clear();
  int64_t bytes = 0, nlive = 0;
  for (const BucketSpan& b : w.spans) {
    if (!b.bits || !b.rows) continue;
    const int64_t g = (b.rows + 7) / 8;
    s.parts.push_back({&b, nlive, g, {bytes, b.bits == 8 ? bytes + g * kq * 32 : bytes}});
    bytes += layout_bytes_of(b, kq);
    nlive += b.rows;
  }
  s.wq.ensure(size_t(std::max<int64_t>(bytes, 32)));
  s.nat.ensure(size_t(24 * ldn));
  s.col.resize(size_t(nlive));
  s.zero.resize(size_t(nlive));
  s.scale.resize(size_t(nlive));
  s.bias.resize(bias ? size_t(nlive) : 0);
  for (const Part& p : s.parts) {
    const BucketSpan& b = *p.s;
    for (int64_t g = 0; g < p.ngroups; ++g) {
      uint8_t* d = s.wq.p + p.off[0] + g * kq * 32;
      uint8_t* d2 = s.wq.p + p.off[1] + g * kq * 32;
      layout_group(b, w.qweight, b.row_start + 8 * g, std::min<int64_t>(8, b.rows - 8 * g), K, kq, s.nat.p, ldn, d, d2);
    }
    for (int64_t i = 0; i < b.rows; ++i) {
      const int64_t r = b.row_start + i;
      s.col[size_t(p.live0 + i)] = w.perm[r];
      s.zero[size_t(p.live0 + i)] = double(w.zeros[r]);
      s.scale[size_t(p.live0 + i)] = double(w.scales[r]);
      if (bias) s.bias[size_t(p.live0 + i)] = double(bias[w.perm[r]]);
    }
  }
  // pruned rows: exactly the bias (or 0), whatever x holds (the direct path's 0.0 + bias)
  for (const BucketSpan& b : w.spans)
    if (!b.bits)
      for (int64_t r = b.row_start; r < b.row_start + b.rows; ++r) {
        const int64_t n = w.perm[r];
        for (int64_t m = 0; m < M; ++m) store_y(y, ydtype, m * ldy + n, bias ? 0.0 + double(bias[n]) : 0.0);
      }
  if (!nlive) return;

  // Result columns: the live rows in packed order, each bucket's padded to whole groups.
  int64_t ldc = 0;
  for (const Part& p : s.parts) ldc += p.ngroups * 8;
  s.xq.ensure(size_t(M * ldx));
  s.sx.resize(size_t(M));
  s.qsum.resize(size_t(M));
  s.c.ensure(size_t(M * ldc));
  bool has8 = false;
  for (const Part& p : s.parts) has8 |= p.s->bits == 8;
  if (has8) s.c2.ensure(size_t(M * ldc));

  const bool f32_rows = xdtype == DType::F32 && sx_col == 1;
  int8_t* const xq = s.xq.p;
  int32_t* const c = s.c.p;
  int32_t* const c2 = s.c2.p;
  float* const sxv = s.sx.data();
  int64_t* const qsv = s.qsum.data();
  const Scratch& sh = s;  // (the helpers read the caller's tables through this reference)

  // rows [m0, m1): quantize, dot, epilogue (a task; rows of other tasks are never touched)
  auto rows_task = [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const float* xr;
      if (f32_rows) {
        xr = static_cast<const float*>(x) + m * sx_row;
      } else {
        thread_local AlignedBuf<float> xf_tls;
        xf_tls.ensure(size_t(K));
        float* d = xf_tls.p;
        const int64_t base = m * sx_row;
        if (sx_col == 1 && xdtype == DType::F16)
          widen_f16_avx2(static_cast<const uint16_t*>(x) + base, K, d);
        else
          for (int64_t k = 0; k < K; ++k) d[k] = load_x(x, xdtype, base + k * sx_col);
        xr = d;
      }
      int8_t* q = xq + m * ldx;
      std::memset(q + K, 0, size_t(ldx - K));
      sxv[m] = quantize_row_i8_avx2(xr, K, q, &qsv[m]);
    }
    int64_t cb = 0;  // the part's first result column
    for (const Part& p : sh.parts) {
      const int bits = p.s->bits;
      gemm_i8_quads_avx2(xq + m0 * ldx, ldx, m1 - m0, sh.wq.p + p.off[0], p.ngroups, kq, int16_steps(bits),
                         c + m0 * ldc + cb, ldc);
      if (bits == 8) {  // high nibbles above, the low ones here: u = 16 h + l, exact in int32
        gemm_i8_quads_avx2(xq + m0 * ldx, ldx, m1 - m0, sh.wq.p + p.off[1], p.ngroups, kq, int16_steps(bits),
                           c2 + m0 * ldc + cb, ldc);
        for (int64_t m = m0; m < m1; ++m) {
          int32_t* hi = c + m * ldc + cb;
          const int32_t* lo = c2 + m * ldc + cb;
          for (int64_t j = 0; j < p.s->rows; ++j) hi[j] = 16 * hi[j] + lo[j];
        }
      }
      cb += p.ngroups * 8;
    }
    for (int64_t m = m0; m < m1; ++m) {
      const double qs = double(qsv[m]), sx = double(sxv[m]);
      int64_t cb2 = 0;
      for (const Part& p : sh.parts) {
        const int64_t n = p.s->rows, l0 = p.live0;
        const int32_t* cr = c + m * ldc + cb2;
        if (ydtype == DType::F32) {
          epilogue_small_i8_avx2(cr, n, sh.zero.data() + l0, sh.scale.data() + l0, bias ? sh.bias.data() + l0 : nullptr,
                                 sh.col.data() + l0, qs, sx, static_cast<float*>(y) + m * ldy);
        } else {  // the direct path's expression and store
          for (int64_t j = 0; j < n; ++j) {
            const double v = (double(cr[j]) - sh.zero[size_t(l0 + j)] * qs) * (sx * sh.scale[size_t(l0 + j)]);
            const int64_t col = sh.col[size_t(l0 + j)];
            store_y(y, ydtype, m * ldy + col, bias ? v + double(bias[col]) : v);
          }
        }
        cb2 += p.ngroups * 8;
      }
    }
  };

  const int nt = M * N * K >= kMinParallelMacs ? std::max(1, nthreads) : 1;
  const int64_t ntasks = nt > 1 ? (M + kRowsPerTask - 1) / kRowsPerTask : 1;
  if (ntasks <= 1) return rows_task(0, M);
  parallel_for(ntasks, nt, [&](int64_t t) { rows_task(t * kRowsPerTask, std::min(M, (t + 1) * kRowsPerTask)); });
}

}  // namespace mpl
}  // namespace chord
