// The panel path of mp_linear (exact fp32 activations): dequantize the weight, a panel of output
// columns at a time, into an fp32 [K, columns] panel in original column order (the permutation is
// applied here, once per call), then stream the activation rows through a register-blocked FMA
// GEMM microkernel (mp_linear_panel_avx512.cpp / _avx2.cpp / panel_gemm_ref below).
//
// Why: the direct kernels (mp_linear.cpp) unpack every weight once per block of activation rows
// and pay a horizontal sum, a float64 epilogue and a perm scatter per output, and pad each row
// to a whole 64-byte group (K = 64 at 2 bits computes 256 products per output). That is right for
// large weights at small M (memory-bound: the packed bytes are the traffic), wrong for small
// weights or large M, where unpacking once per call is cheap and the FMA pipes are the limit.
//
// Determinism: every output is one fp32 FMA chain over k = 0..K-1 (bias added last), whatever
// the tile, the M/N split, the thread count or which thread dequantized the panel.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/half.h"
#include "common/parallel.h"
#include "mp_linear/mp_linear_costs_i8.h"
#include "mp_linear/mp_linear_kernels.h"
#include "mp_linear/mp_linear_small_i8.h"

namespace chord {
namespace mpl {

namespace {

// A thread's panel: K x (columns rounded up to 16) floats, kept within half of a 1 MB L2 so the
// activation rows streaming through stay cached beside it.
constexpr int64_t kPanelBytes = 512 * 1024;
// Longer rows would make even one tile of columns spill L2 (no K blocking: one chain per output):
// the 64-column AVX-512 tile beyond 1024 (1 MB L2), the 16-column AVX2 one beyond 4096 (256 KB a
// tile, within a 512 KB Zen 3 L2: measured faster than the direct kernels from M = 64 on at
// 4096^2, reports/2026-12-07-avx2-gemm.md).
constexpr int64_t kMaxKPanel = 1024, kMaxKPanelNarrow = 4096;
// fp32 weights above this size dequantize at memory speed (the cost model's build term).
constexpr int64_t kLargeBuildBytes = 4 << 20;
// Multiply-adds per task: large enough to amortize a task claim, small enough to balance.
constexpr int64_t kTaskMacs = 1 << 18;
// Below this many multiply-adds a second thread costs more to wake than it saves.
constexpr int64_t kMinParallelMacs = 1 << 20;

struct Col {  // one original output column: its packed row
  const uint8_t* row;
  float scale, zero;
  int bits;
};

struct Scratch {
  uint64_t call = 0;  // which mp_linear call the panel below belongs to
  int64_t panel = -1;
  AlignedBuf<float> p, tmp, xs, cs, bias;
  AlignedBuf<uint32_t> keep;
};

thread_local Scratch tls_scratch;
std::atomic<uint64_t> g_calls{0};

// Columns [n0, n0 + np) -> s.p (tiles of tw columns; pruned and padding columns zero up to a
// multiple of 16), s.bias, s.keep (ldb entries).
void build_panel(const std::vector<Col>& cols, int64_t n0, int64_t np, int64_t tw, int64_t K, const float* bias,
                 bool simd, Scratch& s) {
  const int64_t ldb = round_up(np, tw), n16 = round_up(np, 16);
  s.p.ensure(size_t(K * ldb));
  s.bias.ensure(size_t(ldb));
  s.keep.ensure(size_t(ldb));
  const int64_t ldt = round_up(K, 8);
  s.tmp.ensure(size_t(8 * ldt));
  for (int64_t jb = 0; jb < n16; jb += 8) {
    for (int j = 0; j < 8; ++j) {
      const int64_t i = jb + j;
      float* t = s.tmp.p + j * ldt;
      if (i < np && cols[size_t(n0 + i)].bits) {
        const Col& c = cols[size_t(n0 + i)];
        if (simd)
          dequant_row_avx2(c.row, c.bits, K, c.scale, c.zero, t);
        else
          dequant_row_ref(c.row, c.bits, K, c.scale, c.zero, t);
      } else {
        std::memset(t, 0, size_t(K) * sizeof(float));
      }
    }
    float* dst = s.p.p + (jb / tw) * K * tw + jb % tw;
    if (simd) {
      transpose8_avx2(s.tmp.p, ldt, K, dst, tw);
    } else {
      for (int64_t k = 0; k < K; ++k)
        for (int j = 0; j < 8; ++j) dst[k * tw + j] = s.tmp.p[j * ldt + k];
    }
  }
  for (int64_t i = 0; i < ldb; ++i) {
    const bool in = i < np;
    s.bias.p[i] = in && bias ? bias[n0 + i] : 0.f;
    s.keep.p[i] = in && cols[size_t(n0 + i)].bits ? 0xffffffffu : 0u;
  }
}

}  // namespace

int64_t panel_tile_width(Isa isa) {
  return isa_has_avx512(isa) ? 64 : 16;
}

void panel_gemm_ref(const float* x, int64_t ldx, int64_t nm, const float* p, int64_t K, int64_t nc, const float* bias_p,
                    const uint32_t* keep_p, float* c, int64_t ldc) {
  for (int64_t m = 0; m < nm; ++m)
    for (int64_t j0 = 0; j0 < nc; j0 += 16) {
      float acc[16] = {0.f};
      const float* pt = p + j0 * K;  // tile j0 / 16: [K, 16]
      for (int64_t k = 0; k < K; ++k) {
        const float a = x[m * ldx + k];
        const float* pk = pt + k * 16;
        for (int j = 0; j < 16; ++j) acc[j] += a * pk[j];
      }
      const int64_t w = std::min<int64_t>(16, nc - j0);
      for (int64_t j = 0; j < w; ++j) c[m * ldc + j0 + j] = keep_p[j0 + j] ? bias_p[j0 + j] + acc[j] : bias_p[j0 + j];
    }
}

// ---- the path heuristic: a cost model -------------------------------------------------------
// Estimated single-thread time of each path (ns), per ISA: coefficients fitted (non-negative
// least squares on relative error) to both paths forced over K in {64..1024}, N in {64, 256,
// 1024}, M = 1..64 on this repository's AVX-512 AMD EPYC; how often the fit picks the faster
// path is in docs/kernels.md (the path heuristic). AVX2: refitted (the same way, then refined
// for the choice) after its panel kernel kept its accumulators in registers and took rows up to
// 4096, on an AVX2-only AMD EPYC (Zen 3), 8 shapes 256^2..4096^2 x M = 1..256
// (reports/2026-12-07-avx2-gemm/fit_fp32.py: mean regret 1.005x, worst 1.18x; the previous
// coefficients 1.144x, total time 1.45x the best). Scalar: rough (a fallback only).
//   panel  = N16 * K * build + M * N16 * K * gemm               (N16 = N rounded up to 16)
//   direct = fixed + M * (padded * dot + N * epi + Kp * widths * prep)
// padded: multiply-adds the direct kernels issue per activation row (each packed row rounded up
// to the kernel's load: 64 bytes on AVX-512 at M >= 4, 32 on AVX2, 16 scalar); epi: the float64
// epilogue + perm scatter per output; prep: the per-width activation layout (Kp = K rounded up
// to 512). Only the ratio matters, and mistakes near the crossover cost little (both paths take
// about as long there). Independent of the thread count on purpose: the two paths round differently.
namespace {
struct Costs {
  double build, gemm, fixed, dot_small_m, dot_large_m, epi, prep;
};
constexpr Costs kCostAvx512{0.126, 0.0077, 600, 0.024, 0.0107, 1.5, 0.42};
constexpr Costs kCostAvx2{0.1886, 0.02196, 4810, 0.05019, 0.03515, 2.414, 0.8253};
constexpr Costs kCostScalar{1.7, 0.75, 600, 1.0, 1.0, 1.5, 0.4};
}  // namespace

// act_bits = 8: the int8 GEMM (mp_linear_gemm_i8.cpp) against the direct int8 kernels, the
// same way (ns, one thread; coefficients in mp_linear_costs_i8.h, fitted and written by
// tools/mp_linear_i8_costfit.py on this repository's AVX-512 VNNI AMD EPYC, which prints how
// often the fitted choice is the faster path):
//   gemm   = fixed + live*K * unpack + M*K * quant + M*live*L * mac + M*N * epi
// (live: the unpruned rows; L = K rounded up to 64); up to kMFusedGemmI8 rows on AVX-512 VNNI
// the kernel unpacks in registers once per 6-row tile instead of into a window:
//   live*K * unpack  ->  ceil(M/6)*live*L * runpack
//   direct = fixed + M*K*widths * prep + M*padded * dot + M*N * epi + sum_b passes_b(M)*bytes_b * pass
// padded: multiply-adds the direct kernels issue per activation row (32-byte row groups);
// bytes_b: the packed bytes of the b-bit rows, which the direct kernels read passes_b(M) times
// (direct_passes_i8: they take a block of activation rows per pass over the weight, so the cost
// steps up where a block ends; a linear term alone put M = 5..8 on 4096^2 and 8192^2 on the wrong
// side, reports/2026-12-07-gemv-9.md). Both paths give the same result, so a wrong pick costs
// time only. avx_vnni takes the AVX2 coefficients: no CPU here runs it to fit (this AMD EPYC,
// Zen 4, has AVX-512 VNNI but not AVX-VNNI; the AVX-VNNI kernels are checked under emulation
// only) and its vpdpbusd GEMM and GEMV are both faster than AVX2's, so the ratio errs little.
namespace {
// Activation rows up to which choose_path_i8 scans the model for its first GEMM pick.
constexpr int64_t kMScanI8 = 64;

Path choose_path_i8(const PackedView& w, int64_t M, Isa isa) {
  if (M < 1 || w.K > kMaxKGemmI8) return Path::Direct;
  const Isa is = resolve_isa(isa);
  // AArch64 has NEON / SDOT direct kernels but no int8 GEMM kernel: the scalar GEMM's costs
  // never beat them (M = 1, K = N = 512, u4: 6.3 instructions per weight on the GEMM path
  // against 0.50 direct; reports/2026-12-06-arm-kernels.md)
  if (isa_has_neon(is)) return Path::Direct;
  // Small layers on AVX2 without the dot-product units: the k-quad path (mp_linear_small_i8.cpp)
  // from a few activation rows on, which grow with K (its per-call layout of the weight is
  // amortized over the rows). Measured against the direct kernels and the GEMM forced
  // (reports/2026-12-07-small-layers.md): at K = 64 it is level with the direct kernels at M = 2 and
  // faster than both from M = 4 on (1.2-1.6x the GEMM); at M = 1 the direct short-row kernel stays
  // the fastest. Not part of the fitted model below (the fit tool times the direct kernels
  // against the GEMM).
  if (M >= std::max<int64_t>(2, w.K / kSmallI8RowsPerK) && small_i8_fits(w, is)) return Path::Small;
  // Short rows (item tables) at a few activation rows: the direct path runs the 16-row VNNI
  // kernel (dot_i8_rows16_avx512vnni), which the model's features do not describe. Measured
  // (reports/2026-12-07-gemm-4.md, 240 cases K <= 256, M <= 8): faster than the GEMM from
  // N = 1024 on at M <= 2, and at K <= 64 up to its kMaxMRows16 rows; below N = 1024, or with
  // longer rows at M = 3..4, the GEMM is as fast or faster and the model decides.
  if (isa_has_avx512_vnni(is) && w.K <= kMaxKRows16 && w.N >= 1024 && M <= (w.K <= 64 ? kMaxMRows16 : 2))
    return Path::Direct;
  const bool vnni = isa_has_avx512_vnni(is);
  const CostsI8& c = vnni ? kCostI8Vnni : isa_has_avx2(is) ? kCostI8Avx2 : kCostI8Scalar;
  // the AVX2 short-row kernel (span_dots in mp_linear.cpp: dot_i8_rows8_avx2) serves a call of
  // nm activation rows on rows of rb bytes when K <= kMaxKRows16 and nm = 1, or rb = 16 and
  // nm <= kMaxMRows16: it reads its rows once and holds one-block rows two to a register
  const bool rows8_isa = isa_has_avx2(is) && !vnni && !isa_has_avx_vnni(is) && w.K <= kMaxKRows16;
  double padded = 0, live = 0, bytes[9] = {0}, rows_b[9] = {0};
  for (const BucketSpan& s : w.spans)
    if (s.bits && s.rows) {
      padded += double(s.rows) * double(round_up(s.row_bytes, 32) * 8 / s.bits);
      live += double(s.rows);
      bytes[s.bits] += double(s.rows) * double(s.row_bytes);
      rows_b[s.bits] += double(s.rows);
    }
  const int widths = __builtin_popcount(w.width_mask);
  const double N = double(w.N), K = double(w.K), L = double(round_up(w.K, 64));
  // The direct kernels' multiply-adds per b-bit row and passes over the b-bit rows (rows of
  // whole 16-byte blocks), call by call (kMBlockI8 activation rows each), for M rows.
  auto direct_work = [&](int64_t M, int b, double* macs, double* passes) {
    const int64_t rb = (w.K + 128 / b - 1) / (128 / b) * 16;
    auto call = [&](int64_t nm, double* mc, double* ps) {
      if (rows8_isa && (nm == 1 || (rb == 16 && nm <= kMaxMRows16))) {
        *mc = double(nm) * double((rb == 16 ? 16 : round_up(rb, 32)) * 8 / b);
        *ps = 1;
      } else {
        *mc = double(nm) * double(round_up(rb, 32) * 8 / b);
        *ps = double(direct_passes_i8(nm, b, is));
      }
    };
    double fm, fp, rm = 0, rp = 0;
    call(kMBlockI8, &fm, &fp);
    if (M % kMBlockI8) call(M % kMBlockI8, &rm, &rp);
    *macs = double(M / kMBlockI8) * fm + rm;
    *passes = double(M / kMBlockI8) * fp + rp;
  };
  // smooth: every call of kMBlockI8 rows, passes at their mean rate (the costs are then affine in M)
  auto gemm_minus_direct = [&](int64_t rows, bool smooth) {
    const double m = double(rows);
    const double unpack =
        vnni && rows <= kMFusedGemmI8 ? double((rows + 5) / 6) * live * L * c.g_runpack : live * K * c.g_unpack;
    const double gemm = c.g_fixed + unpack + m * K * c.g_quant + m * live * L * c.g_mac + m * N * c.g_epi;
    double read = 0, macs = smooth ? m * padded : 0;  // bytes the direct kernels read, multiply-adds they issue
    for (int b : {1, 2, 4, 8})
      if (bytes[b] > 0) {
        if (smooth) {
          read += bytes[b] * m * double(direct_passes_i8(kMBlockI8, b, is)) / double(kMBlockI8);
          continue;
        }
        double mc, ps;
        direct_work(rows, b, &mc, &ps);
        macs += rows_b[b] * mc;
        read += bytes[b] * ps;
      }
    const double direct = c.d_fixed + m * (K * widths * c.d_prep + N * c.d_epi) + macs * c.d_dot + read * c.d_pass;
    return gemm - direct;
  };
  // Monotone in M by construction: the GEMM from the first M the model gives it to. Up to
  // kMScanI8 the model's steps (GEMM tiles, direct passes) are scanned; beyond, both costs are
  // affine in M (passes at their mean rate), so checking kMScanI8 + 1 and M covers the range.
  for (int64_t m = 1; m <= std::min(M, kMScanI8); ++m)
    if (gemm_minus_direct(m, false) < 0) return Path::Panel;
  if (M <= kMScanI8) return Path::Direct;
  return gemm_minus_direct(kMScanI8 + 1, true) < 0 || gemm_minus_direct(M, true) < 0 ? Path::Panel : Path::Direct;
}
}  // namespace

Path choose_path(const PackedView& w, int64_t M, int act_bits, Isa isa, Path requested) {
  if (requested != Path::Auto) return requested;
  if (act_bits != 0) return choose_path_i8(w, M, isa);
  const Isa is = resolve_isa(isa);
  const bool narrow = isa_has_avx2(is) && !isa_has_avx512(is);  // the AVX2 tile (scalar: a fallback, kept)
  if (M < 1 || w.K > (narrow ? kMaxKPanelNarrow : kMaxKPanel)) return Path::Direct;
  const Costs& c = isa_has_avx512(is) ? kCostAvx512 : isa_has_avx2(is) ? kCostAvx2 : kCostScalar;
  const bool large_m = M >= kMinMAvx512;
  const int64_t grp = !isa_has_avx2(is) ? 16 : (isa_has_avx512(is) && large_m) ? 64 : 32;
  double padded = 0;
  int widths = 0;
  for (const BucketSpan& s : w.spans)
    if (s.bits && s.rows) padded += double(s.rows) * double(round_up(s.row_bytes, grp) * 8 / s.bits);
  for (int b : {1, 2, 4, 8}) widths += (w.width_mask >> b) & 1u;
  const double n16 = double(round_up(w.N, 16)), K = double(w.K), m = double(M);
  // SIMD builds of weights whose fp32 form is far beyond L2 are memory-bound, so they cost more per
  // element than the fit (which covers up to 4 MB, 1024 x 1024) says; the factor below was measured
  // on a 100,000 x 64 item table (reports/2026-12-07-comment-figures-2.md). The scalar build is
  // compute-bound.
  const double build = isa_has_avx2(is) && n16 * K * 4 > double(kLargeBuildBytes) ? 2.4 * c.build : c.build;
  const double panel = n16 * K * build + m * n16 * K * c.gemm;
  const double direct = c.fixed + m * (padded * (large_m ? c.dot_large_m : c.dot_small_m) + double(w.N) * c.epi +
                                       double(pad_k(w.K)) * widths * c.prep);
  return panel < direct ? Path::Panel : Path::Direct;
}

void mp_linear_panel(const PackedView& w, const void* x, DType xdtype, int64_t M, int64_t sx_row, int64_t sx_col,
                     const float* bias, void* y, DType ydtype, int64_t ldy, int nthreads, Isa isa) {
  const int64_t N = w.N, K = w.K;
  const Isa is = resolve_isa(isa);
  const bool simd = isa_has_avx2(is);
  const int64_t tw = panel_tile_width(is);
  auto gemm = isa_has_avx512(is) ? panel_gemm_avx512 : isa_has_avx2(is) ? panel_gemm_avx2 : panel_gemm_ref;

  // The caller's thread-local (no allocation per call). Helpers must see the caller's copy:
  // a lambda does not capture a thread_local, so it goes through this local reference.
  thread_local std::vector<Col> cols_tls;
  std::vector<Col>& cols = cols_tls;
  cols.resize(size_t(N));
  for (const BucketSpan& s : w.spans)
    for (int64_t r = s.row_start; r < s.row_start + s.rows; ++r)
      cols[size_t(w.perm[r])] = {s.bits ? w.qweight + s.byte_offset + (r - s.row_start) * s.row_bytes : nullptr,
                                 w.scales[r], w.zeros[r], s.bits};

  // Panel width: all N columns when they fit, else a multiple of the tile (at least one).
  int64_t NP = round_up(N, 16);
  if (NP * K * 4 > kPanelBytes) NP = std::max<int64_t>(tw, kPanelBytes / (K * 4) / tw * tw);
  NP = std::min(NP, N);
  const int64_t npanels = (N + NP - 1) / NP;
  // Rows per task: a multiple of the 6-row tile, the activation chunk (MC x K fp32) within L2.
  int64_t MC = round_up(std::max<int64_t>(1, kTaskMacs / (K * NP)), 6);
  MC = std::max<int64_t>(6, std::min(MC, round_up(std::max<int64_t>(1, (256 * 1024) / (K * 4)), 6)));
  const int64_t nch = (M + MC - 1) / MC;
  const int nt = M * N * K >= kMinParallelMacs ? std::max(1, nthreads) : 1;
  const uint64_t call = g_calls.fetch_add(1, std::memory_order_relaxed) + 1;
  const bool x_direct = xdtype == DType::F32 && sx_col == 1;

  parallel_for(npanels * nch, nt, [&](int64_t t) {
    Scratch& s = tls_scratch;
    const int64_t pi = t / nch, ci = t % nch;
    const int64_t n0 = pi * NP, np = std::min(NP, N - n0), ldc = round_up(np, 16);
    if (s.call != call || s.panel != pi) {
      s.call = 0;  // a throw mid-build must not leave a half-built panel marked valid
      build_panel(cols, n0, np, tw, K, bias, simd, s);
      s.call = call;
      s.panel = pi;
    }
    const int64_t m0 = ci * MC, nm = std::min(MC, M - m0);
    const float* xp;
    int64_t ldx;
    if (x_direct) {
      xp = static_cast<const float*>(x) + m0 * sx_row;
      ldx = sx_row;
    } else {
      s.xs.ensure(size_t(nm * K));
      for (int64_t m = 0; m < nm; ++m) {
        float* d = s.xs.p + m * K;
        const int64_t base = (m0 + m) * sx_row;
        if (sx_col == 1 && xdtype == DType::F16 && simd)
          widen_f16_avx2(static_cast<const uint16_t*>(x) + base, K, d);
        else
          for (int64_t k = 0; k < K; ++k) d[k] = load_x(x, xdtype, base + k * sx_col);
      }
      xp = s.xs.p;
      ldx = K;
    }
    if (ydtype == DType::F32) {
      gemm(xp, ldx, nm, s.p.p, K, np, s.bias.p, s.keep.p, static_cast<float*>(y) + m0 * ldy + n0, ldy);
    } else {
      s.cs.ensure(size_t(nm * ldc));
      gemm(xp, ldx, nm, s.p.p, K, np, s.bias.p, s.keep.p, s.cs.p, ldc);
      uint16_t* yo = static_cast<uint16_t*>(y);
      for (int64_t m = 0; m < nm; ++m)
        for (int64_t j = 0; j < np; ++j) {
          const float v = s.cs.p[m * ldc + j];
          yo[(m0 + m) * ldy + n0 + j] = ydtype == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
        }
    }
  });
}

}  // namespace mpl
}  // namespace chord
