// The mp_linear driver: validation, ISA selection, activation preparation, the split over
// packed rows (parallel.h), and the fused epilogue (zero point, scale, bias, dtype, original row position).
// Kernels live in mp_linear_ref.cpp (scalar), mp_linear_avx2.cpp and mp_linear_neon*.cpp. Small weights and large
// batches take the panel path instead (mp_linear_panel.cpp for fp32 activations,
// mp_linear_gemm_i8.cpp for act_bits = 8; choose_path).
#include "mp_linear/mp_linear.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "common/half.h"
#include "common/parallel.h"
#include "mp_linear/mp_linear_kernels.h"
#include "mp_linear/mp_linear_small_i8.h"

namespace chord {
namespace mpl {

namespace {

[[noreturn]] void bad(const std::string& msg) {
  throw std::invalid_argument(msg);
}

// Rows per OpenMP task: small enough to balance 2..N threads, large enough that a task's rows
// stay in L1 while every activation block passes over them, and a multiple of every kernel
// tile height (6, 4, 3, 2) so that only a bucket's last task has tail rows.
constexpr int64_t kRowsPerTask = 24;
// act_bits = 8 tasks are longer: the int8 kernels stream each weight byte once per activation
// block and prefetch a task's next rows while they run, and every task boundary restarts that
// stream cold (reports/2026-12-06-gemv-vnni.md: longer tasks measured faster at M = 1). A task
// holds about kTaskBytesI8 of weights (it stays in L2 for every activation block), at most
// kMaxRowsPerTaskI8 rows, and a bucket still gets >= 4 tasks per thread when it can.
constexpr int64_t kTaskBytesI8 = 256 << 10;
constexpr int64_t kMaxRowsPerTaskI8 = 240;
// One activation row on the AVX2 stream tiles (dot_i8_avx2 without the dot-product units, rows
// longer than kMaxKRows16): a task's rows are read as 4 long streams, restarted by every task,
// and no activation block needs them in L2, so tasks grow to about kTaskBytesI8M1 (at most
// kMaxRowsPerTaskI8M1 rows; a bucket still gets >= 4 tasks per thread when it can): ~3 % faster
// at 4096^2 and 8192^2 on a Zen 3 at one thread (reports/2026-12-07-avx2-gemv-2.md).
constexpr int64_t kTaskBytesI8M1 = 1 << 20;
constexpr int64_t kMaxRowsPerTaskI8M1 = 1024;
// The same on one thread: no task balances anything there, so a bucket is not cut into >= 4
// tasks and tasks grow to about kTaskBytesI8M1Alone (still at most kMaxRowsPerTaskI8M1 rows,
// rounded down to a multiple of kRowsPerTask): fewer stream restarts, 1-3 % faster at 4096^2
// and 8192^2 mix3 on a Zen 3 (reports/2026-12-07-avx2-gemv-3.md). Two or more threads keep the
// rule above (small tasks are what a thread that finished first can take over).
constexpr int64_t kTaskBytesI8M1Alone = 4 << 20;
// act_bits = 0 on short rows (item tables: 16 bytes for K = 64 at 2 bits): 24 rows are a few
// hundred bytes, and the per-task cost (dispatch, epilogue set-up) outweighed the rows' own
// work; tasks grow to about kTaskBytesF32 of weights (at most kMaxRowsPerTaskI8 rows).
constexpr int64_t kTaskBytesF32 = 4096;
// Activation rows per kernel call (their prepared layout stays in L2).
constexpr int64_t kMBlockF32 = 16;
// Activation rows prepared at once by mp_linear (larger batches run in chunks).
constexpr int64_t kMChunk = 256;

// f(b) for every width b whose bit is set in width_mask (PackedView::width_mask).
template <class F>
void for_widths(unsigned width_mask, F&& f) {
  for (int b : {1, 2, 4, 8})
    if (width_mask & (1u << b)) f(b);
}

// Asks for the cache lines of [p, p + bytes) (a hint: never faults).
void prefetch_bytes(const void* p, int64_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (int64_t i = 0; i < bytes; i += 64) __builtin_prefetch(c + i);
}

int clamp_threads(int nthreads) {
  return std::max(1, nthreads);
}

// Rows per task for a bucket (a multiple of kRowsPerTask; results never depend on it). long_m1:
// one activation row on the AVX2 stream tiles (kTaskBytesI8M1).
int64_t task_rows(const BucketSpan& s, int act_bits, int nt, bool long_m1) {
  if (!s.bits) return 1024;  // pruned rows: bias only, cheap
  auto down = [](int64_t r) { return r / kRowsPerTask * kRowsPerTask; };
  if (long_m1 && nt == 1)
    return std::max(kRowsPerTask, std::min(down(kTaskBytesI8M1Alone / s.row_bytes), down(kMaxRowsPerTaskI8M1)));
  const int64_t bytes = long_m1 ? kTaskBytesI8M1 : act_bits ? kTaskBytesI8 : kTaskBytesF32;
  const int64_t by_bytes = down(bytes / s.row_bytes);
  const int64_t fair = down((s.rows + 4 * nt - 1) / (4 * nt));
  return std::max(kRowsPerTask, std::min({by_bytes, fair, long_m1 ? kMaxRowsPerTaskI8M1 : kMaxRowsPerTaskI8}));
}

}  // namespace

int64_t perm_out_of_range(const int32_t* perm, int64_t N) {
  bool ok = true;
  for (int64_t i = 0; i < N; ++i) ok &= uint32_t(perm[i]) < uint64_t(N);
  for (int64_t i = 0; !ok && i < N; ++i)
    if (uint32_t(perm[i]) >= uint64_t(N)) return i;
  return -1;
}

PackedView make_packed_view(const uint8_t* qweight, int64_t qbytes, const float* scales, int64_t nscales,
                            const float* zeros, int64_t nzeros, const int32_t* perm, int64_t nperm,
                            const int64_t* buckets, int64_t nb, int64_t K, PermCheck perm_check) {
  PackedView w;
  if (K < 1) bad("K: expected >= 1, got " + std::to_string(K));
  const int64_t N = nscales;
  if (N < 1) bad("scales: expected N >= 1 entries, got " + std::to_string(N));
  if (nzeros != N) bad("zeros: expected " + std::to_string(N) + " entries (as scales), got " + std::to_string(nzeros));
  if (perm && nperm != N)
    bad("perm: expected " + std::to_string(N) + " entries (as scales), got " + std::to_string(nperm));
  int64_t off = 0;
  w.spans = fmt::bucket_spans(buckets, nb, K, N, "", &off);
  for (const BucketSpan& s : w.spans)
    if (s.rows && s.bits) w.width_mask |= 1u << s.bits;
  if (qbytes != off)
    bad("qweight: expected " + std::to_string(off) + " bytes for these buckets and K = " + std::to_string(K) +
        ", got " + std::to_string(qbytes));
  if ((off && !qweight) || !scales || !zeros) bad("qweight/scales/zeros: null data");
  if (perm && perm_check == PermCheck::Range) {
    const int64_t i = perm_out_of_range(perm, N);
    if (i >= 0)
      bad("perm[" + std::to_string(i) + "]: expected a row in 0.." + std::to_string(N - 1) + ", got " +
          std::to_string(perm[i]));
  } else if (perm) {
    std::vector<char> seen(size_t(N), 0);
    for (int64_t i = 0; i < N; ++i) {
      const int64_t p = perm[i];
      if (p < 0 || p >= N)
        bad("perm[" + std::to_string(i) + "]: expected a row in 0.." + std::to_string(N - 1) + ", got " +
            std::to_string(p));
      if (seen[size_t(p)]) bad("perm: not a permutation (row " + std::to_string(p) + " appears twice)");
      seen[size_t(p)] = 1;
    }
  }
  w.qweight = qweight;
  w.qbytes = off;
  w.scales = scales;
  w.zeros = zeros;
  w.perm = perm;
  w.N = N;
  w.K = K;
  return w;
}

// ---- activations --------------------------------------------------------------------------
namespace {
// act_bits = 8: row m of the activations (xr: K fp32 values) quantized into a.xq_nat, its scale
// and sum, and the per-width layouts.
void quantize_i8(PreparedActs::Impl& a, const float* xr, int64_t m, unsigned width_mask) {
  const int64_t K = a.K, Kp = a.Kp;
  const bool avx2 = isa_has_avx2(a.isa);
  int8_t* q = a.xq_nat.p + m * Kp;
  std::memset(q + K, 0, size_t(Kp - K));  // the kernels read whole padded rows
  if (avx2) {
    a.sx[size_t(m)] = quantize_row_i8_avx2(xr, K, q, &a.qsum[size_t(m)]);
  } else {
    a.sx[size_t(m)] = isa_has_neon(a.isa) ? quantize_row_i8_neon(xr, K, q) : quantize_row_i8_ref(xr, K, q);
    int64_t s = 0;
    for (int64_t k = 0; k < K; ++k) s += q[k];
    a.qsum[size_t(m)] = s;
  }
  if (avx2)  // (the 8-bit layout is the natural order: xq[8] is xq_nat)
    for_widths(width_mask & ~(1u << 8),
               [&](int b) { layout_i8_planar(q, Kp, b, a.i8_group, a.xq_w[width_index(b)].p + m * Kp); });
}
}  // namespace

PreparedActs::PreparedActs(const void* x, DType dtype, int64_t M, int64_t K, int64_t sx_row, int64_t sx_col,
                           unsigned width_mask, int act_bits, Isa isa, int nthreads)
    : impl_(new Impl) {
  Impl& a = *impl_;
  if (M < 0 || K < 1) bad("x: expected M >= 0 and K >= 1, got M = " + std::to_string(M) + ", K = " + std::to_string(K));
  if (act_bits != 0 && act_bits != 8) bad("act_bits: expected 0 or 8, got " + std::to_string(act_bits));
  if (act_bits == 8 && K > kMaxKInt8)
    bad("act_bits=8: K must be <= " + std::to_string(kMaxKInt8) + ", got " + std::to_string(K));
  // every buffer below holds M rows of pad_k(K) elements of at most 4 bytes: checked sizes
  // (an absurd K or M is an OverflowError here, never a wrapped allocation)
  fmt::checked_bytes(fmt::checked_mul(M, fmt::checked_add(K, kPadElems, "x: padded K"), "x: M x padded K"),
                     sizeof(float), "x: activation buffer bytes");
  a.M = M;
  a.K = K;
  a.Kp = pad_k(K);
  a.act_bits = act_bits;
  a.isa = resolve_isa(isa);
  const int64_t Kp = a.Kp;
  const bool avx2 = isa_has_avx2(a.isa);  // every SIMD ISA includes the AVX2 kernels
  a.f32_avx512 = isa_has_avx512(a.isa) && act_bits == 0 && M >= kMinMAvx512;
  a.i8_group = isa_has_avx512_vnni(a.isa) ? 64 : 32;
  const bool f512 = a.f32_avx512;
  const int nt = clamp_threads(nthreads);
  // act_bits = 8 quantizes a contiguous fp32 row where it is (no widened copy: at M = 1 the
  // preparation runs on one thread before the others start)
  const bool quantize_in_place = act_bits == 8 && dtype == DType::F32 && sx_col == 1;
  if (!quantize_in_place) a.xf_nat.resize(size_t(M * Kp));
  if (act_bits == 0) {
    a.xsum.assign(size_t(M), 0.0);
    for_widths(width_mask, [&](int b) {
      if (avx2) a.xf_w[width_index(b)].resize(size_t(M * Kp));
      a.xf[width_index(b)] = avx2 ? a.xf_w[width_index(b)].p : a.xf_nat.p;
    });
  } else {
    a.sx.assign(size_t(M), 0.f);
    a.qsum.assign(size_t(M), 0);
    a.xq_nat.resize(size_t(M * Kp), false);  // quantize_i8 writes every byte
    for_widths(width_mask, [&](int b) {
      // layout_i8_planar writes every byte; for 8 bits it is the identity (one field per byte:
      // chunk (b, 0) lands where it was), so the kernels read the natural order directly
      const bool own = avx2 && b != 8;
      if (own) a.xq_w[width_index(b)].resize(size_t(M * Kp), false);
      a.xq[width_index(b)] = own ? a.xq_w[width_index(b)].p : a.xq_nat.p;
    });
  }
  parallel_for(M, M > 1 ? nt : 1, [&](int64_t m) {
    if (quantize_in_place) return quantize_i8(a, static_cast<const float*>(x) + m * sx_row, m, width_mask);
    float* xr = a.xf_nat.p + m * Kp;
    if (sx_col == 1 && dtype == DType::F32) {
      std::memcpy(xr, static_cast<const float*>(x) + m * sx_row, size_t(K) * sizeof(float));
    } else if (sx_col == 1 && dtype == DType::F16 && avx2) {
      widen_f16_avx2(static_cast<const uint16_t*>(x) + m * sx_row, K, xr);
    } else {
      for (int64_t k = 0; k < K; ++k) xr[k] = load_x(x, dtype, m * sx_row + k * sx_col);
    }
    if (act_bits == 0) {
      double s = 0.0;
      for (int64_t k = 0; k < K; ++k) s += xr[k];
      a.xsum[size_t(m)] = s;
      if (avx2)
        for_widths(width_mask, [&](int b) {
          float* d = a.xf_w[width_index(b)].p + m * Kp;
          if (f512)
            layout_f32_avx512(xr, Kp, b, d);
          else
            layout_f32_avx2(xr, Kp, b, d);
        });
    } else {
      quantize_i8(a, xr, m, width_mask);
    }
  });
}

PreparedActs::~PreparedActs() = default;
int64_t PreparedActs::M() const {
  return impl_->M;
}
int64_t PreparedActs::K() const {
  return impl_->K;
}
int PreparedActs::act_bits() const {
  return impl_->act_bits;
}
Isa PreparedActs::isa() const {
  return impl_->isa;
}
const float* PreparedActs::act_scales() const {
  return impl_->sx.data();
}
const int8_t* PreparedActs::act_int8() const {
  return impl_->xq_nat.p;
}
int64_t PreparedActs::row_stride() const {
  return impl_->Kp;
}

// ---- kernels over one bucket's rows, with the epilogue --------------------------------------
namespace {

// Raw scores of rows [r0, r0 + nr) of span s for activation rows [m0, m0 + nm), handed to
// sink(m, packed_row, score): scale * (dot - zero * sum(x)) in double, with act_bits = 8
// (dot - zero * sum(xq)) * (sx * scale). fbuf / ibuf: scratch of nm * nr float / int64.
// The dot products of run_span_rows alone, into fbuf (act_bits = 0) or ibuf (act_bits = 8),
// row m of them at m * nr; s must not be pruned (s.bits != 0).
void span_dots(const PackedView& w, const PreparedActs::Impl& a, const BucketSpan& s, int64_t r0, int64_t nr,
               int64_t m0, int64_t nm, float* fbuf, int64_t* ibuf) {
  const uint8_t* rows = w.qweight + s.byte_offset + (r0 - s.row_start) * s.row_bytes;
  const int wi = width_index(s.bits);
  const bool avx2 = isa_has_avx2(a.isa);
  if (a.act_bits == 0) {
    const float* x = a.xf[wi] + m0 * a.Kp;
    if (a.f32_avx512)
      dot_f32_avx512(rows, s.row_bytes, s.bits, nr, x, a.Kp, nm, fbuf, nr);
    else if (avx2)
      dot_f32_avx2(rows, s.row_bytes, s.bits, nr, x, a.Kp, nm, fbuf, nr);
    else if (isa_has_neon(a.isa))
      dot_f32_neon(rows, s.row_bytes, s.bits, nr, x, a.Kp, nm, fbuf, nr);
    else
      dot_f32_ref(rows, s.row_bytes, s.bits, nr, x, a.Kp, nm, fbuf, nr);
  } else {
    const int8_t* x = a.xq[wi] + m0 * a.Kp;
    const int64_t* qs = a.qsum.data() + m0;
    // the VNNI and AVX2 kernels prefetch on past these rows (the next task's, the next bucket's)
    const uint8_t* pf_end = w.qweight + w.qbytes;
    if (isa_has_avx512_vnni(a.isa) && w.K <= kMaxKRows16 && nm <= kMaxMRows16)
      dot_i8_rows16_avx512vnni(rows, s.row_bytes, s.bits, nr, a.xq_nat.p + m0 * a.Kp, a.Kp, nm, ibuf, nr, pf_end);
    else if (isa_has_avx512_vnni(a.isa))
      dot_i8_avx512vnni(rows, s.row_bytes, s.bits, nr, x, a.Kp, nm, ibuf, nr, pf_end);
    else if (isa_has_avx_vnni(a.isa))
      dot_i8_avxvnni(rows, s.row_bytes, s.bits, nr, x, a.Kp, nm, ibuf, nr, pf_end);
    // short rows on AVX2: the 8-row kernel for one activation row, and for up to kMaxMRows16 on
    // one-block rows (two to a register); longer rows at M >= 2 keep tile_i8, whose tiles share
    // each weight load among 4 activation rows (K = 256, M = 4: the 8-row kernel measured 0.87x)
    else if (avx2 && w.K <= kMaxKRows16 && (nm == 1 || (s.row_bytes == 16 && nm <= kMaxMRows16)))
      dot_i8_rows8_avx2(rows, s.row_bytes, s.bits, nr, a.xq_nat.p + m0 * a.Kp, a.Kp, nm, qs, ibuf, nr);
    else if (avx2)
      dot_i8_avx2(rows, s.row_bytes, s.bits, nr, x, a.Kp, nm, qs, ibuf, nr, pf_end);
    else if (isa_has_neon_dotprod(a.isa))
      dot_i8_neon_dotprod(rows, s.row_bytes, s.bits, nr, x, a.Kp, nm, qs, ibuf, nr);
    else if (isa_has_neon(a.isa))
      dot_i8_neon(rows, s.row_bytes, s.bits, nr, x, a.Kp, nm, qs, ibuf, nr);
    else
      dot_i8_ref(rows, s.row_bytes, s.bits, nr, x, a.Kp, nm, qs, ibuf, nr);
  }
}

template <class Sink>
void run_span_rows(const PackedView& w, const PreparedActs::Impl& a, const BucketSpan& s, int64_t r0, int64_t nr,
                   int64_t m0, int64_t nm, float* fbuf, int64_t* ibuf, Sink&& sink) {
  // sink(m, packed_row, raw_score)
  if (s.bits == 0) {
    for (int64_t m = m0; m < m0 + nm; ++m)
      for (int64_t r = r0; r < r0 + nr; ++r) sink(m, r, 0.0);
    return;
  }
  span_dots(w, a, s, r0, nr, m0, nm, fbuf, ibuf);
  // one loop per path, the per-row constants hoisted (a loop over every row of the weight)
  const float* scales = w.scales + r0;
  const float* zeros = w.zeros + r0;
  for (int64_t m = 0; m < nm; ++m) {
    if (a.act_bits) {
      const double qs = double(a.qsum[size_t(m0 + m)]), sx = double(a.sx[size_t(m0 + m)]);
      const int64_t* d = ibuf + m * nr;
      for (int64_t r = 0; r < nr; ++r)
        sink(m0 + m, r0 + r, (double(d[r]) - double(zeros[r]) * qs) * (sx * double(scales[r])));
    } else {
      const double xs = a.xsum[size_t(m0 + m)];
      const float* d = fbuf + m * nr;
      for (int64_t r = 0; r < nr; ++r) sink(m0 + m, r0 + r, (double(d[r]) - double(zeros[r]) * xs) * double(scales[r]));
    }
  }
}

}  // namespace

void score_rows(const PackedView& w, const PreparedActs& acts, int64_t r0, int64_t r1, float* out, int64_t ldo) {
  const PreparedActs::Impl& a = acts.impl();
  if (a.K != w.K)
    bad("score_rows: activations have K = " + std::to_string(a.K) + ", weight has K = " + std::to_string(w.K));
  if (r0 < 0 || r1 > w.N || r0 > r1)
    bad("score_rows: bad row range [" + std::to_string(r0) + ", " + std::to_string(r1) + ")");
  const int64_t mb = a.act_bits ? kMBlockI8 : kMBlockF32;
  std::vector<float> fbuf(size_t(mb * kRowsPerTask));
  std::vector<int64_t> ibuf(size_t(mb * kRowsPerTask));
  for (const BucketSpan& s : w.spans) {
    const int64_t lo = std::max(r0, s.row_start), hi = std::min(r1, s.row_start + s.rows);
    for (int64_t r = lo; r < hi; r += kRowsPerTask) {
      const int64_t nr = std::min(kRowsPerTask, hi - r);
      for (int64_t m0 = 0; m0 < a.M; m0 += mb)
        run_span_rows(w, a, s, r, nr, m0, std::min(mb, a.M - m0), fbuf.data(), ibuf.data(),
                      [&](int64_t m, int64_t pr, double v) { out[m * ldo + (pr - r0)] = float(v); });
    }
  }
}

void mp_linear(const PackedView& w, const void* x, DType xdtype, int64_t M, int64_t sx_row, int64_t sx_col,
               const float* bias, int act_bits, void* y, DType ydtype, int64_t ldy, int nthreads, Isa isa, Path path,
               WeightCache* cache) {
  if (!w.perm) bad("mp_linear: perm is required");
  if (ldy < w.N) bad("y: row stride " + std::to_string(ldy) + " < N = " + std::to_string(w.N));
  if (act_bits != 0 && act_bits != 8) bad("act_bits: expected 0 or 8, got " + std::to_string(act_bits));
  // Resolved once per call: Auto reads CHORD_CPU_ISA from the environment (a scan of every
  // variable), and the path choice and the activation preparation each resolved it again.
  isa = resolve_isa(isa);
  // A requested path is checked before the empty batch returns: a call that fails at M = 1 must
  // not pass at M = 0.
  const Path chosen = choose_path(w, M, act_bits, isa, path);
  if (chosen == Path::Small) {
    if (act_bits != 8) bad("path: 'small' is the act_bits=8 small-layer path, got act_bits = 0");
    if (!small_i8_fits(w, isa))
      bad("path: 'small' takes act_bits=8 on AVX2 without VNNI, K <= " + std::to_string(kMaxKSmallI8) +
          " and a k-quad layout of <= " + std::to_string(kMaxSmallI8Bytes) + " bytes (use path='auto')");
  }
  if (chosen == Path::Panel && act_bits == 8 && w.K > kMaxKGemmI8)
    bad("path: the int8 panel path takes K <= " + std::to_string(kMaxKGemmI8) + ", got K = " + std::to_string(w.K) +
        " (use path='direct' or 'auto')");
  if (M == 0) return;
  if (chosen == Path::Small) {
    return mp_linear_small_i8(w, cache ? &cache->small_i8(w) : nullptr, x, xdtype, M, sx_row, sx_col, bias, y, ydtype,
                              ldy, nthreads);
  }
  if (chosen == Path::Panel) {
    if (act_bits == 8) return mp_linear_gemm_i8(w, x, xdtype, M, sx_row, sx_col, bias, y, ydtype, ldy, nthreads, isa);
    return mp_linear_panel(w, x, xdtype, M, sx_row, sx_col, bias, y, ydtype, ldy, nthreads, isa);
  }
  if (M > kMChunk) {
    // Bound the prepared activations (M x Kp per width): balanced chunks of <= kMChunk rows,
    // each at least kMinMAvx512 rows so a large batch never drops to the narrower kernel.
    const int64_t nch = (M + kMChunk - 1) / kMChunk, step = (M + nch - 1) / nch;
    for (int64_t m0 = 0; m0 < M; m0 += step) {
      const int64_t mc = std::min(step, M - m0);
      const size_t xoff = size_t(m0 * sx_row) * (xdtype == DType::F32 ? 4 : 2);
      const size_t yoff = size_t(m0 * ldy) * (ydtype == DType::F32 ? 4 : 2);
      mp_linear(w, static_cast<const char*>(x) + xoff, xdtype, mc, sx_row, sx_col, bias, act_bits,
                static_cast<char*>(y) + yoff, ydtype, ldy, nthreads, isa, Path::Direct);
    }
    return;
  }
  const int nt = clamp_threads(nthreads);
  PreparedActs acts(x, xdtype, M, w.K, sx_row, sx_col, w.width_mask, act_bits, isa, nt);
  const PreparedActs::Impl& a = acts.impl();

  struct Task {
    int span;
    int64_t r0, nr;
  };
  std::vector<Task> tasks;
  std::vector<int64_t> cum_bytes{0};  // prefix sums of the tasks' weight bytes
  // the condition under which span_dots takes dot_i8_avx2 at M = 1
  const bool long_m1 = act_bits && M == 1 && isa_has_avx2(a.isa) && !isa_has_avx512_vnni(a.isa) &&
                       !isa_has_avx_vnni(a.isa) && w.K > kMaxKRows16;
  const int64_t max_task_rows = long_m1 ? kMaxRowsPerTaskI8M1 : kMaxRowsPerTaskI8;
  for (size_t si = 0; si < w.spans.size(); ++si) {
    const BucketSpan& s = w.spans[si];
    const int64_t step = task_rows(s, act_bits, nt, long_m1);
    for (int64_t r = 0; r < s.rows; r += step) {
      tasks.push_back({int(si), s.row_start + r, std::min(step, s.rows - r)});
      cum_bytes.push_back(cum_bytes.back() + tasks.back().nr * s.row_bytes + 1);
    }
  }
  const int64_t mb = act_bits ? kMBlockI8 : kMBlockF32;
  const bool epi512 = act_bits && isa_has_avx512_vnni(a.isa);
  const bool epi512_f32 = !act_bits && isa_has_avx512(a.isa);
  // A GEMV on the AVX-512 int8 epilogue writes its rows' values in packed order (contiguous) while
  // it streams the weight and scatters them to y's permuted columns once at the end: stores to
  // scattered columns during the stream pull a cache line of y into L1 per row and evict the
  // stream's lines (M = 1 8192^2 mix3 act8 ran ~4 % slower; reports/2026-12-07-gemv-7.md). The
  // caller's buffer: the workers write into it before parallel_for_blocked returns.
  const bool defer_scatter = epi512 && M == 1 && ydtype == DType::F32;
  thread_local std::vector<double> rows_v;
  if (defer_scatter) rows_v.resize(size_t(w.N));
  double* const vrows = rows_v.data();
  // A row's result never depends on which thread computes it. act_bits = 8 streams the weight
  // once per call: each thread takes one contiguous range of equal bytes (parallel_for_blocked).
  // the output dtype as a template argument: no switch per element in the epilogue
  auto run_task = [&](int64_t t, auto dtype) {
    constexpr DType DT = decltype(dtype)::value;
    thread_local std::vector<float> fbuf;
    thread_local std::vector<int64_t> ibuf;
    thread_local std::vector<double> vbuf;
    fbuf.resize(size_t(mb * max_task_rows));
    ibuf.resize(size_t(mb * max_task_rows));
    const Task& tk = tasks[size_t(t)];
    const BucketSpan& s = w.spans[size_t(tk.span)];
    if constexpr (DT == DType::F32) {
      if (epi512_f32 && s.bits) {  // the scalar epilogue's expression on 8 rows at once, bit for bit
        for (int64_t m0 = 0; m0 < M; m0 += mb) {
          const int64_t nm = std::min(mb, M - m0);
          span_dots(w, a, s, tk.r0, tk.nr, m0, nm, fbuf.data(), ibuf.data());
          for (int64_t m = m0; m < m0 + nm; ++m)
            epilogue_gemv_f32_avx512(fbuf.data() + (m - m0) * tk.nr, tk.nr, w.zeros + tk.r0, w.scales + tk.r0,
                                     w.perm + tk.r0, bias, a.xsum[size_t(m)], static_cast<float*>(y) + m * ldy);
        }
        return;
      }
    }
    if (act_bits && s.bits) {
      // the epilogue's per-row constants come from DRAM (every weight has its own): ask for
      // them now, so they arrive while the kernel streams the rows
      prefetch_bytes(w.scales + tk.r0, tk.nr * 4);
      prefetch_bytes(w.zeros + tk.r0, tk.nr * 4);
      prefetch_bytes(w.perm + tk.r0, tk.nr * 4);
      if constexpr (DT == DType::F32) {
        if (epi512) {  // the same expression on 8 rows at once (AVX-512), bit for bit
          if (!defer_scatter) vbuf.resize(size_t(kMaxRowsPerTaskI8));
          for (int64_t m0 = 0; m0 < M; m0 += mb) {
            const int64_t nm = std::min(mb, M - m0);
            span_dots(w, a, s, tk.r0, tk.nr, m0, nm, fbuf.data(), ibuf.data());
            for (int64_t m = m0; m < m0 + nm; ++m) {
              double* v = defer_scatter ? vrows + tk.r0 : vbuf.data();
              epilogue_gemv_i8_avx512(ibuf.data() + (m - m0) * tk.nr, tk.nr, w.zeros + tk.r0, w.scales + tk.r0,
                                      double(a.qsum[size_t(m)]), double(a.sx[size_t(m)]), v);
              if (!defer_scatter) scatter_rows_avx512(v, tk.nr, w.perm + tk.r0, bias, static_cast<float*>(y) + m * ldy);
            }
          }
          return;
        }
      }
    }
    for (int64_t m0 = 0; m0 < M; m0 += mb)
      run_span_rows(w, a, s, tk.r0, tk.nr, m0, std::min(mb, M - m0), fbuf.data(), ibuf.data(),
                    [&](int64_t m, int64_t pr, double v) {
                      const int64_t n = w.perm[pr];
                      store_y_as<DT>(y, m * ldy + n, bias ? v + double(bias[n]) : v);
                    });
  };
  const std::function<void(int64_t, int)> task = [&](int64_t t, int) {
    switch (ydtype) {
      case DType::F32:
        return run_task(t, std::integral_constant<DType, DType::F32>());
      case DType::F16:
        return run_task(t, std::integral_constant<DType, DType::F16>());
      case DType::BF16:
        return run_task(t, std::integral_constant<DType, DType::BF16>());
    }
  };
  if (act_bits)
    parallel_for_blocked(int64_t(tasks.size()), nt, task, cum_bytes.data());
  else
    parallel_for_slots(int64_t(tasks.size()), nt, task);
  if (defer_scatter)  // the rows of every unpruned span (pruned rows were stored by their tasks)
    for (const BucketSpan& s : w.spans)
      if (s.bits && s.rows)
        scatter_rows_avx512(vrows + s.row_start, s.rows, w.perm + s.row_start, bias, static_cast<float*>(y));
}

void dequantize_rows(const PackedView& w, int64_t n0, int64_t n1, float* out, int64_t ldo, int nthreads) {
  if (!w.perm) bad("dequantize_rows: perm is required");
  if (n0 < 0 || n1 > w.N || n0 > n1)
    bad("dequantize_rows: bad row range [" + std::to_string(n0) + ", " + std::to_string(n1) + ")");
  if (ldo < w.K) bad("dequantize_rows: out row stride " + std::to_string(ldo) + " < K = " + std::to_string(w.K));
  std::vector<int64_t> inv(size_t(w.N));
  std::vector<int> span_of(size_t(w.N));
  for (size_t si = 0; si < w.spans.size(); ++si)
    for (int64_t r = w.spans[si].row_start; r < w.spans[si].row_start + w.spans[si].rows; ++r) {
      inv[size_t(w.perm[r])] = r;
      span_of[size_t(r)] = int(si);
    }
  const Isa isa = resolve_isa(Isa::Auto);
  const bool avx2 = isa_has_avx2(isa), neon = isa_has_neon(isa);
  const int nt = clamp_threads(nthreads);
  parallel_for(n1 - n0, nt, [&](int64_t i) {
    const int64_t n = n0 + i;
    const int64_t r = inv[size_t(n)];
    const BucketSpan& s = w.spans[size_t(span_of[size_t(r)])];
    float* o = out + (n - n0) * ldo;
    if (s.bits == 0) {
      std::memset(o, 0, size_t(w.K) * sizeof(float));
      return;
    }
    const uint8_t* row = w.qweight + s.byte_offset + (r - s.row_start) * s.row_bytes;
    if (avx2)
      dequant_row_avx2(row, s.bits, w.K, w.scales[r], w.zeros[r], o);
    else if (neon)
      dequant_row_neon(row, s.bits, w.K, w.scales[r], w.zeros[r], o);
    else
      dequant_row_ref(row, s.bits, w.K, w.scales[r], w.zeros[r], o);
  });
}

}  // namespace mpl
}  // namespace chord
