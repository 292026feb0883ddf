// The int8 GEMM path of mp_linear (act_bits = 8): quantize every activation row once per call
// (the direct path's quantization, same functions), unpack the weight a window of packed rows at
// a time into one byte per element (once per call per thread; the window stays in L2), and run a
// register-blocked integer GEMM microkernel over it (AVX-512 VNNI: column quads, 6 rows x 16
// columns, gemm_i8_vnni_quad in mp_linear_gemm_i8_avx512.cpp; AVX-VNNI in mp_linear_avxvnni.cpp
// and AVX2 maddubs in _avx2.cpp on natural-order columns; gemm_i8_ref below).
// Up to kMFusedGemmI8 rows on AVX-512 VNNI there is no window: the microkernel unpacks the packed rows
// in registers once per tile of 6 activation rows (gemm_i8_vnni_packed), which costs less than
// storing a window and loading it back. Up to kMBlock rows on AVX2 there is no window either:
// gemm_i8_avx2_packed unpacks a few packed rows at a time into an L1 buffer and runs every
// activation row over them.
// Up to kMPackedOrder rows (and wherever the packed rows are read) the windows follow the packed
// order, so the weight is read as one forward stream, prefetched a window ahead by the
// microkernels while they compute; the epilogue scatters to the original columns. Beyond, they
// follow the original column order.
//
// Why: the direct kernels unpack every packed row once per block of activation rows and widen
// the activations into one layout per width; at larger M (or for small layers, whose rows pad
// to whole 32-byte groups) unpacking once and streaming many rows over the unpacked window keeps
// the dot-product units busy instead.
//
// Exactness: the dot products are exact integers whatever the ISA, tile or thread, and the
// epilogue (zero point, scales, bias, one rounding to float32) is the direct path's expression
// in float64, so this path returns the direct path's result bit for bit.
#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/parallel.h"
#include "mp_linear/mp_linear_kernels.h"

namespace chord {
namespace mpl {

namespace {

// A thread's weight window: within ~40% of a 1 MB L2, beside the activation rows streaming past.
constexpr int64_t kWindowBytes = 384 * 1024;
// Activation rows quantized per pass (bounds the call's memory: rows x Kp bytes).
constexpr int64_t kMPass = 1024;
// Activation rows per microkernel call (their int32 results and the epilogue in L1).
constexpr int64_t kMBlock = 24;
// Up to this many activation rows the windows follow the packed order (see packed_order).
constexpr int64_t kMPackedOrder = 24;
// Columns per microkernel call in original order (a slice of the next window's rows is
// prefetched between calls).
constexpr int64_t kJChunk = 16;
// Fewest activation rows per thread for the row split (see row_split in mp_linear_gemm_i8).
constexpr int64_t kMinRowsSplit = 8;
// Below this many multiply-adds a second thread costs more to wake than it saves.
constexpr int64_t kMinParallelMacs = int64_t(1) << 21;

enum class Kern { Ref, Avx2, AvxVnni, Vnni };

// avx512_vnni and avx_vnni run vpdpbusd (64- and 32-byte); the other SIMD ISAs (avx512 without
// VNNI, avx2) the AVX2 maddubs kernel; scalar the reference.
Kern kernel_of(Isa is) {
  if (isa_has_avx512_vnni(is)) return Kern::Vnni;
  if (isa_has_avx_vnni(is)) return Kern::AvxVnni;
  return isa_has_avx2(is) ? Kern::Avx2 : Kern::Ref;
}

struct Col {           // one live packed row (packed order = address order: buckets are consecutive)
  const uint8_t* row;  // its packed bytes
  int64_t rb;          // row bytes
  float scale, zero;
  int bits;
  int32_t n;  // its output column
};

// The live (unpruned) rows in packed order: live index i -> its Col, from the bucket spans.
struct LiveRows {
  const PackedView* w;
  std::vector<std::pair<int64_t, const BucketSpan*>> spans;  // (live index of its first row, span)
  int64_t n;
  Col operator[](int64_t i) const {
    size_t k = spans.size() - 1;
    while (spans[k].first > i) --k;
    const BucketSpan& s = *spans[k].second;
    const int64_t o = i - spans[k].first, r = s.row_start + o;
    return {w->qweight + s.byte_offset + o * s.row_bytes, s.row_bytes, w->scales[r], w->zeros[r], s.bits, w->perm[r]};
  }
};

struct Scratch {
  uint64_t call = 0;  // which call (and pass) the window below belongs to
  int64_t window = -1;
  AlignedBuf<uint8_t> p;            // the window's rows, unpacked, ldp apart
  std::vector<int> bits;            // width of each
  std::vector<const uint8_t*> row;  // packed bytes of each (rb[j] bytes)
  std::vector<int64_t> rb;
  AlignedBuf<int32_t> c;  // kMBlock x window results
  // per row, for the vectorized epilogue: zero, scale, bias (float64), output column
  std::vector<double> zero, scale, bias;
  std::vector<int32_t> col;
  bool contiguous = false;  // col[j] = col[0] + j: the epilogue stores a contiguous run
};

thread_local Scratch tls_scratch;
std::atomic<uint64_t> g_calls{0};

// Rows [r0, r0 + nw) (col(i): the Col of row i; live: the live rows when the window follows the
// packed order, else null) -> s. unpack = false: their metadata only (the microkernel reads the
// packed rows). quad: the AVX-512 VNNI column-quad layout (unpack_i8_vnni_quad), group g at
// s.p + g * 4 * ldp.
template <class ColAt>
void build_window(const ColAt& col, const LiveRows* live, int64_t r0, int64_t nw, int64_t ldp, int64_t L, Kern kern,
                  bool unpack, bool quad, const float* bias, Scratch& s) {
  if (unpack) s.p.ensure(size_t(std::max<int64_t>(1, round_up(nw, 4)) * ldp));
  s.bits.resize(size_t(nw));
  s.row.resize(size_t(nw));
  s.rb.resize(size_t(nw));
  s.zero.resize(size_t(nw));
  s.scale.resize(size_t(nw));
  s.bias.resize(size_t(nw));
  s.col.resize(size_t(nw));
  if (live) {
    // Packed order: the window is a few runs of consecutive rows of one bucket each, and each
    // array fills from its run in a simple loop (filled row by row through col(), the metadata was a
    // visible share of the call at M = 16, where the row split builds every window's on each
    // thread: reports/2026-12-07-gemm-3.md)
    const PackedView& w = *live->w;
    for (const auto& sp : live->spans) {
      const BucketSpan& b = *sp.second;
      const int64_t j0 = std::max<int64_t>(0, sp.first - r0), j1 = std::min(nw, sp.first + b.rows - r0);
      if (j0 >= j1) continue;
      const int64_t o = r0 + j0 - sp.first;  // window row j0 is row o of the bucket
      const uint8_t* row = w.qweight + b.byte_offset + o * b.row_bytes;
      for (int64_t j = j0; j < j1; ++j) {
        s.bits[size_t(j)] = b.bits;
        s.rb[size_t(j)] = b.row_bytes;
        s.row[size_t(j)] = row + (j - j0) * b.row_bytes;
      }
      const int64_t r = b.row_start + o - j0;  // packed row of window row j is r + j
      for (int64_t j = j0; j < j1; ++j) s.zero[size_t(j)] = double(w.zeros[r + j]);
      for (int64_t j = j0; j < j1; ++j) s.scale[size_t(j)] = double(w.scales[r + j]);
      for (int64_t j = j0; j < j1; ++j) s.col[size_t(j)] = w.perm[r + j];
      for (int64_t j = j0; j < j1; ++j) s.bias[size_t(j)] = bias ? double(bias[w.perm[r + j]]) : 0.0;
    }
  } else {
    for (int64_t j = 0; j < nw; ++j) {
      const Col c = col(r0 + j);
      s.bits[size_t(j)] = c.bits;
      s.row[size_t(j)] = c.row;
      s.rb[size_t(j)] = c.rb;
      s.zero[size_t(j)] = double(c.zero);
      s.scale[size_t(j)] = double(c.scale);
      s.bias[size_t(j)] = bias ? double(bias[c.n]) : 0.0;
      s.col[size_t(j)] = c.n;
    }
  }
  if (unpack && !quad)
    for (int64_t j = 0; j < nw; ++j) {
      uint8_t* d = s.p.p + j * ldp;
      const uint8_t* row = s.row[size_t(j)];
      const int64_t rb = s.rb[size_t(j)];
      const int bits = s.bits[size_t(j)];
      if (kern == Kern::AvxVnni && bits == 8)
        std::memcpy(d, row, size_t(rb));  // natural order already; vpdpbusd takes any u8
      else if (kern == Kern::Avx2 || kern == Kern::AvxVnni)
        unpack_i8_avx2(row, rb, bits, d);
      else
        unpack_i8_ref(row, rb, bits, d);
    }
  if (unpack && quad)
    for (int64_t j = 0; j < nw; j += 4)
      unpack_i8_vnni_quad(s.row.data() + j, s.rb.data() + j, s.bits.data() + j, int(std::min<int64_t>(4, nw - j)), L,
                          s.p.p + j * ldp);
  s.contiguous = nw > 0;
  for (int64_t j = 1; j < nw; ++j) s.contiguous &= s.col[size_t(j)] == s.col[0] + j;
}

}  // namespace

// ---- scalar reference kernels ------------------------------------------------------------------
void unpack_i8_ref(const uint8_t* row, int64_t rb, int bits, uint8_t* dst) {
  const int epb = 8 / bits;
  const unsigned mask = (1u << bits) - 1u;
  const int64_t be = 16 * epb;
  for (int64_t c = 0; c < rb / 16; ++c)
    for (int i = 0; i < epb; ++i)
      for (int j = 0; j < 16; ++j) dst[c * be + 16 * i + j] = uint8_t((row[c * 16 + j] >> (bits * i)) & mask);
}

void gemm_i8_ref(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* p, int64_t ldp, int64_t nc, int64_t L,
                 int /*bits*/, const int64_t* /*qsum*/, int32_t* c, int64_t ldc, const uint8_t* /*pf*/,
                 int64_t /*pfb*/) {
  for (int64_t m = 0; m < nm; ++m)
    for (int64_t j = 0; j < nc; ++j) {
      const int8_t* xm = x + m * ldx;
      const uint8_t* pj = p + j * ldp;
      int64_t acc = 0;
      for (int64_t l = 0; l < L; ++l) acc += int64_t(xm[l]) * int64_t(pj[l]);
      c[m * ldc + j] = int32_t(acc);
    }
}

// ---- the path --------------------------------------------------------------------------------
void mp_linear_gemm_i8(const PackedView& w, const void* x, DType xdtype, int64_t M, int64_t sx_row, int64_t sx_col,
                       const float* bias, void* y, DType ydtype, int64_t ldy, int nthreads, Isa isa) {
  const int64_t N = w.N, K = w.K;
  assert(K <= kMaxKGemmI8);  // mp_linear refuses a larger K before it calls this
  const Isa is = resolve_isa(isa);
  const Kern kern = kernel_of(is);
  const bool simd = isa_has_avx2(is);
  const bool vec_epi = isa_has_avx512(is);  // else (simd) epilogue_i8_avx2
  // (AVX-512 VNNI runs gemm_i8_vnni_packed or gemm_i8_vnni_quad instead)
  auto gemm = kern == Kern::AvxVnni ? gemm_i8_avxvnni : kern == Kern::Avx2 ? gemm_i8_avx2 : gemm_i8_ref;
  const int64_t Kp = pad_k(K), ldp = gemm_i8_ldp(K), L = gemm_i8_len(K);
  const int64_t ysize = ydtype == DType::F32 ? 4 : 2;

  // The live rows in packed order, which is address order: windows of consecutive rows read the
  // weight as one forward stream (the permutation is applied by the epilogue's column indices).
  // Row i's metadata is looked up from the few bucket spans by the task that needs it (no
  // serial pass over the N rows before the threads start).
  LiveRows live{&w, {}, 0};
  thread_local std::vector<int32_t> pruned_tls;  // the caller's (helpers see it through the reference)
  std::vector<int32_t>& pruned = pruned_tls;
  pruned.clear();
  for (const BucketSpan& s : w.spans) {
    if (s.bits && s.rows) {
      live.spans.push_back({live.n, &s});
      live.n += s.rows;
    } else if (!s.bits) {
      for (int64_t r = s.row_start; r < s.row_start + s.rows; ++r) pruned.push_back(w.perm[r]);
    }
  }
  const int64_t nlive = live.n;
  // Packed order pays one scattered store per output; beyond a few row blocks that traffic (a
  // cache line of y written by many windows) costs more than the stream saves, and the
  // windows take the original column order (the stream is then not one range: no prefetch),
  // except on AVX-512 VNNI up to kMFusedGemmI8 rows, where storing no window saves more.
  // Few activation rows: the VNNI microkernel unpacks the packed rows in registers for each
  // row tile instead of storing a window (writing a window and reading it back costs more
  // than unpacking a few times over: up to kMFusedGemmI8 rows, reports/2026-12-07-gemm-5.md).
  // It reads the packed rows, so its windows follow the packed order.
  const bool fused = kern == Kern::Vnni && M <= kMFusedGemmI8;
  const bool packed_order = fused || M <= kMPackedOrder;
  // AVX2 up to one row block: no window either; gemm_i8_avx2_packed unpacks a few packed rows at
  // a time into L1 and runs every activation row over them (a window of unpacked rows is stored
  // to L2 and read back once per row tile; the prefetch of the next window, burst or spread,
  // measured no faster than the hardware's own: reports/2026-12-07-avx2-gemm-2.md).
  const bool avx2_packed = kern == Kern::Avx2 && M <= kMBlock;
  // Larger M on AVX-512 VNNI: windows in column quads (gemm_i8_vnni_quad).
  const bool quad = kern == Kern::Vnni && !fused;
  thread_local std::vector<Col> cols_tls;  // original order only: the live rows by output column
  std::vector<Col>& cols = cols_tls;
  cols.clear();
  if (!packed_order) {
    thread_local std::vector<int64_t> at_tls;
    std::vector<int64_t>& at = at_tls;  // original column -> live index (-1: pruned)
    at.assign(size_t(N), -1);
    for (int64_t i = 0; i < nlive; ++i) at[size_t(live[i].n)] = i;
    for (int64_t n = 0; n < N; ++n)
      if (at[size_t(n)] >= 0) cols.push_back(live[at[size_t(n)]]);
  }
  auto col = [&](int64_t i) { return packed_order ? live[i] : cols[size_t(i)]; };

  // Window width: every row when they fit, else a multiple of the 4-column tile.
  const int64_t NW = std::min(std::max<int64_t>(4, kWindowBytes / ldp / 4 * 4), std::max<int64_t>(1, nlive));
  const int nt = M * N * K >= kMinParallelMacs ? std::max(1, nthreads) : 1;
  // How the threads share the work. Windows claimed in turn over all rows move lines between the
  // cores from call to call: of y (in packed order every line holds outputs of many windows, in
  // original order a line's window falls to either thread), and of the staged outputs: the
  // epilogue's stores then cost several times as much per output as at 1 thread
  // (reports/2026-12-07-gemm-3.md). So:
  // - row split (packed order, fused, kMinRowsSplit rows or more per thread): thread s takes the
  //   activation rows [M * s / nt, M * (s + 1) / nt) of every window, quantized by the thread
  //   too. Every thread streams the whole weight (at 8 rows or more the kernel reads it far
  //   below the read bandwidth), but no line passes between the cores and no barrier is needed.
  // - column split (original order, a full window or more per thread): thread s takes the
  //   columns [nlive * s / nt, nlive * (s + 1) / nt) (rounded to 16: whole lines of a float32 y)
  //   over all rows, so each line of y is written by the same core call after call.
  // - otherwise windows claimed in turn; in packed order their outputs are staged in packed
  //   order and gathered into y one activation row per task once every window is done, so each
  //   line of y is written by one thread.
  // A thread that runs out of its own share takes the unclaimed tasks of the others.
  const bool row_split = fused && nt > 1 && M >= kMinRowsSplit * nt;
  const bool col_split = !packed_order && nt > 1 && nlive >= nt * std::max<int64_t>(NW, 64);
  const bool staged = packed_order && nlive > 0 && nt > 1 && !row_split;
  // Window i is rows [wb[i], wb[i + 1]); the column split's share s is windows [ws[s], ws[s + 1]).
  // Claimed in turn, the last windows set how long the first thread to run out waits for the
  // others: once fewer than 2 * nt full windows are left, windows shrink to a 2 * nt-th of the
  // rest (4 rows at least), and the threads finish within a small window of each other instead
  // of up to a whole one apart. The same within each share of the column split (halves, 16 rows
  // at least), so a thread that finishes its share early takes a small piece of the other's.
  thread_local std::vector<int64_t> wb_tls, ws_tls;  // the caller's (helpers see them through the references)
  std::vector<int64_t>& wb = wb_tls;
  std::vector<int64_t>& ws = ws_tls;
  wb.clear();
  ws.clear();
  if (col_split) {
    for (int sh = 0; sh < nt; ++sh) {
      ws.push_back(int64_t(wb.size()));
      const int64_t e = sh + 1 == nt ? nlive : round_up(nlive * (sh + 1) / nt, 16);
      for (int64_t r = round_up(nlive * sh / nt, 16); r < e;) {
        wb.push_back(r);
        r += std::min(e - r, std::min(NW, round_up(std::max<int64_t>(16, (e - r) / 2), 16)));
      }
    }
    ws.push_back(int64_t(wb.size()));
  } else {
    const bool shrink = nt > 1 && !row_split;
    for (int64_t r = 0; r < nlive;) {
      wb.push_back(r);
      r += std::min(nlive - r, shrink ? std::min(NW, round_up(std::max<int64_t>(1, (nlive - r) / (2 * nt)), 4)) : NW);
    }
  }
  const int64_t nwin = int64_t(wb.size());
  wb.push_back(nlive);
  if (!packed_order && kern == Kern::Avx2)  // its rows by width in each window: one run each
    for (int64_t i = 0; i < nwin; ++i)
      std::stable_sort(cols.begin() + wb[size_t(i)], cols.begin() + wb[size_t(i + 1)],
                       [](const Col& a, const Col& b) { return a.bits < b.bits; });
  // staged: outputs [M, nlive] in packed order (live index i of span (first, s): stage column i,
  // output column perm[s.row_start + i - first])
  thread_local AlignedBuf<float> stage_tls;
  AlignedBuf<float>& stage = stage_tls;
  if (staged) stage.ensure(size_t(M * nlive));

  thread_local AlignedBuf<int8_t> xq_tls;
  AlignedBuf<int8_t>& xq = xq_tls;
  std::vector<float> sx;
  std::vector<int64_t> qsum;
  for (int64_t mp = 0; mp < M; mp += kMPass) {
    const int64_t MP = std::min(kMPass, M - mp);
    xq.ensure(size_t(MP * Kp));
    sx.assign(size_t(MP), 0.f);
    qsum.assign(size_t(MP), 0);
    // windows x row chunks; a thread keeps its unpacked window across the chunks it takes
    const int64_t cpw =
        std::min<int64_t>(std::max<int64_t>(1, (2 * nt + nwin - 1) / std::max<int64_t>(1, nwin)), (MP + 5) / 6);
    const int64_t MC = round_up((MP + cpw - 1) / cpw, 6);
    const int64_t nch = nlive ? (MP + MC - 1) / MC : 0;
    const uint64_t call = g_calls.fetch_add(1, std::memory_order_relaxed) + 1;
    // activations: quantized once per row (zero beyond K: the padding never contributes);
    // pruned columns: exactly the bias (or 0), whatever x holds (the direct path's 0.0 + bias)
    auto quantize_activation_row = [&](int64_t m) {
      for (int32_t n : pruned) store_y(y, ydtype, (mp + m) * ldy + n, bias ? 0.0 + double(bias[n]) : 0.0);
      if (!nlive) return;
      thread_local AlignedBuf<float> xf_tls;
      AlignedBuf<float>& xf = xf_tls;
      xf.ensure(size_t(Kp));
      const int64_t base = (mp + m) * sx_row;
      float* xr = xf.p;
      if (sx_col == 1 && xdtype == DType::F32)
        xr = const_cast<float*>(static_cast<const float*>(x) + base);
      else if (sx_col == 1 && xdtype == DType::F16 && simd)
        widen_f16_avx2(static_cast<const uint16_t*>(x) + base, K, xr);
      else
        for (int64_t k = 0; k < K; ++k) xr[k] = load_x(x, xdtype, base + k * sx_col);
      int8_t* q = xq.p + m * Kp;
      std::memset(q + K, 0, size_t(Kp - K));
      if (simd) {  // sum(xq) from the quantizer's int32 lanes: no second pass over the row
        sx[size_t(m)] = quantize_row_i8_avx2(xr, K, q, &qsum[size_t(m)]);
        return;
      }
      sx[size_t(m)] = quantize_row_i8_ref(xr, K, q);
      int32_t sum = 0;  // |sum| <= 127 * kMaxKGemmI8 < 2^31
      for (int64_t k = 0; k < K; ++k) sum += q[k];
      qsum[size_t(m)] = sum;
    };
    std::atomic<int64_t> quantized{0}, computed{0};
    struct Done {  // counted even if the task throws (the call then rethrows at its end)
      std::atomic<int64_t>& n;
      ~Done() { n.fetch_add(1, std::memory_order_release); }
    };
    auto wait_for = [](const std::atomic<int64_t>& n, int64_t target) {
      for (int spin = 0; n.load(std::memory_order_acquire) < target; ++spin)
        if (spin > 64) std::this_thread::yield();
    };
    // Activation rows [m0, m1) of window wi (its row chunk ci); pw: the window this thread
    // likely takes next (nwin: none).
    auto window_task = [&](int64_t wi, int64_t ci, int64_t m0, int64_t m1, int64_t pw) {
      Scratch& s = tls_scratch;
      const int64_t r0 = wb[size_t(wi)], nw = wb[size_t(wi + 1)] - r0;
      if (s.call != call || s.window != wi) {
        s.call = 0;  // a throw mid-build must not leave a half-built window marked valid
        build_window(col, packed_order ? &live : nullptr, r0, nw, ldp, L, kern, !fused && !avx2_packed, quad, bias, s);
        s.call = call;
        s.window = wi;
      }
      s.c.ensure(size_t(kMBlock * nw));
      // The next window in packed order is one contiguous byte range; the microkernels prefetch
      // it into L2 a line or two per k step, so the weight streams from memory while this
      // window's arithmetic runs instead of stalling the next unpack (during the first row block
      // only: one pass is enough).
      const uint8_t *pf0 = nullptr, *pf1 = nullptr;
      if (packed_order && pw < nwin && !avx2_packed) {
        const Col last = col(wb[size_t(pw + 1)] - 1);
        pf0 = col(wb[size_t(pw)]).row;
        pf1 = last.row + last.rb;
      }
      for (int64_t mb = m0; mb < m1; mb += kMBlock) {
        const int64_t nm = std::min(kMBlock, m1 - mb);
        // one call (the AVX2 and the packed-row kernels: one per run of one width); the
        // prefetch range is shared between the calls in proportion to their rows (original
        // order: the next window's rows are not one range; they are prefetched row by row, a
        // share per call of kJChunk columns, during the last row block: earlier, the
        // activation rows streaming through L2 evict them again)
        const bool row_pf = !packed_order && mb + kMBlock >= m1 && pw < nwin;
        const int64_t pn0 = row_pf ? wb[size_t(pw)] : 0, pnw = row_pf ? wb[size_t(pw + 1)] - pn0 : 0;
        for (int64_t j0 = 0; j0 < nw;) {
          int64_t j1 = j0 + 1;
          if (fused || avx2_packed)  // one width, consecutive in memory
            while (j1 < nw && s.bits[size_t(j1)] == s.bits[size_t(j0)] &&
                   s.row[size_t(j1)] == s.row[size_t(j1 - 1)] + s.rb[size_t(j1 - 1)])
              ++j1;
          else if (kern == Kern::Avx2)  // one width per call (how long it sums in int16)
            while (j1 < nw && s.bits[size_t(j1)] == s.bits[size_t(j0)]) ++j1;
          else
            j1 = nw;  // the other kernels take any widths together
          if (!packed_order) j1 = std::min(j1, j0 + kJChunk);
          for (int64_t i = pn0 + j0 * pnw / nw; i < pn0 + j1 * pnw / nw; ++i)
            for (int64_t b = 0; b < cols[size_t(i)].rb; b += 64) __builtin_prefetch(cols[size_t(i)].row + b, 0, 2);
          // the output lines this call's columns end in (written by the epilogue after the
          // calls): their reads for ownership overlap the arithmetic instead of stalling the stores
          if (!packed_order && s.contiguous)
            for (int64_t m = 0; m < nm; ++m) {
              const char* yr = static_cast<const char*>(y) + ((mp + mb + m) * ldy + s.col[0]) * ysize;
              __builtin_prefetch(yr + j0 * ysize, 1, 3);
              __builtin_prefetch(yr + (j1 - 1) * ysize, 1, 3);
            }
          const uint8_t* a = mb == m0 && pf0 ? pf0 + (pf1 - pf0) * j0 / nw : nullptr;
          const uint8_t* b = mb == m0 && pf0 ? pf0 + (pf1 - pf0) * j1 / nw : nullptr;
          if (quad)
            gemm_i8_vnni_quad(xq.p + mb * Kp, Kp, nm, s.p.p + j0 * ldp, ldp, j1 - j0, L, s.c.p + j0, nw);
          else if (avx2_packed)
            gemm_i8_avx2_packed(xq.p + mb * Kp, Kp, nm, s.row[size_t(j0)], s.rb[size_t(j0)], s.bits[size_t(j0)],
                                j1 - j0, L, qsum.data() + mb, s.c.p + j0, nw);
          else if (fused)
            gemm_i8_vnni_packed(xq.p + mb * Kp, Kp, nm, s.row[size_t(j0)], s.rb[size_t(j0)], s.bits[size_t(j0)],
                                j1 - j0, L, s.c.p + j0, nw, a, b - a);
          else
            gemm(xq.p + mb * Kp, Kp, nm, s.p.p + j0 * ldp, ldp, j1 - j0, L, s.bits[size_t(j0)], qsum.data() + mb,
                 s.c.p + j0, nw, a, b - a);
          j0 = j1;
        }
        // epilogue: the direct path's (mp_linear.cpp) expression, in the same order; staged:
        // rounded to float32 as store_y does, in packed order
        if (simd && (staged || ydtype == DType::F32)) {
          float* const out = staged ? stage.p + mb * nlive + r0
                                    : static_cast<float*>(y) + (mp + mb) * ldy + (s.contiguous ? s.col[0] : 0);
          (vec_epi ? epilogue_i8_avx512 : epilogue_i8_avx2)(
              s.c.p, nw, nm, nw, s.zero.data(), s.scale.data(), bias ? s.bias.data() : nullptr,
              staged || s.contiguous ? nullptr : s.col.data(), qsum.data() + mb, sx.data() + mb, out,
              staged ? nlive : ldy);
          continue;
        }
        for (int64_t m = 0; m < nm; ++m) {
          const double q = double(qsum[size_t(mb + m)]), xs = double(sx[size_t(mb + m)]);
          const int32_t* cr = s.c.p + m * nw;
          const int64_t yrow = (mp + mb + m) * ldy;
          float* const sr = staged ? stage.p + (mb + m) * nlive + r0 : nullptr;
          if (staged) {
            for (int64_t j = 0; j < nw; ++j) {
              const double v = (double(cr[j]) - s.zero[size_t(j)] * q) * (xs * s.scale[size_t(j)]);
              sr[j] = float(bias ? v + s.bias[size_t(j)] : v);
            }
            continue;
          }
          for (int64_t j = 0; j < nw; ++j) {
            const double v = (double(cr[j]) - s.zero[size_t(j)] * q) * (xs * s.scale[size_t(j)]);
            store_y(y, ydtype, yrow + s.col[size_t(j)], bias ? v + s.bias[size_t(j)] : v);
          }
        }
      }
    };

    if (row_split) {
      // Blocked runs: run s (thread s's) is row group s over windows 0 .. nwin - 1. The first
      // task of a group to run quantizes the group's rows; another waits only for a group a
      // thread has started (never for one nobody has taken: its thread might not run for a while).
      std::unique_ptr<std::atomic<int>[]> qstate(new std::atomic<int>[size_t(nt)]);
      for (int g = 0; g < nt; ++g) qstate[size_t(g)].store(0, std::memory_order_relaxed);
      parallel_for_blocked(nt * nwin, nt, [&](int64_t t, int) {
        const int64_t g = t / nwin, wi = t % nwin, m0 = MP * g / nt, m1 = MP * (g + 1) / nt;
        std::atomic<int>& qs = qstate[size_t(g)];
        int st = 0;
        if (qs.compare_exchange_strong(st, 1, std::memory_order_acq_rel)) {
          struct Mark {  // set even if a row throws (the call then rethrows at its end)
            std::atomic<int>& s;
            ~Mark() { s.store(2, std::memory_order_release); }
          } mark{qs};
          for (int64_t m = m0; m < m1; ++m) quantize_activation_row(m);
        } else {
          for (int spin = 0; qs.load(std::memory_order_acquire) < 2; ++spin)
            if (spin > 64) std::this_thread::yield();
        }
        window_task(wi, 0, m0, m1, wi + 1);
      });
      continue;
    }
    if (col_split) {
      // Blocked runs: run s is windows [ws[s], ws[s + 1]) (each run weighs kRunCost in cum, so the
      // runs are exactly these). A window task first quantizes activation rows while any is
      // unclaimed (next_row), then waits for the rows other threads claimed: never for a row
      // nobody has taken.
      constexpr int64_t kRunCost = int64_t(1) << 40;
      thread_local std::vector<int64_t> cum_tls;  // the caller's (helpers see it through the reference)
      std::vector<int64_t>& cum = cum_tls;
      cum.assign(1, 0);
      for (int sh = 0; sh < nt; ++sh) {
        const int64_t n = ws[size_t(sh + 1)] - ws[size_t(sh)], base = cum.back();
        for (int64_t i = 1; i <= n; ++i) cum.push_back(base + kRunCost * i / n);
      }
      std::atomic<int64_t> next_row{0};
      parallel_for_blocked(
          nwin, nt,
          [&](int64_t wi, int) {
            for (int64_t m; (m = next_row.fetch_add(1, std::memory_order_relaxed)) < MP;) {
              Done done{quantized};
              quantize_activation_row(m);
            }
            wait_for(quantized, MP);
            int sh = 0;
            while (ws[size_t(sh + 1)] <= wi) ++sh;
            window_task(wi, 0, 0, MP, wi + 1 < ws[size_t(sh + 1)] ? wi + 1 : nwin);
          },
          cum.data());
      continue;
    }
    // One parallel region (one wake-up of the helpers per pass): tasks [0, MP) quantize one
    // activation row each, the window tasks follow, then (staged) one gather task per row. Tasks
    // are claimed in order, so when a thread claims a window (gather) task every quantization
    // (window) task is claimed already; it waits only for those still running on another thread
    // (never for one nobody has taken).
    const int64_t nwt = nwin * nch;
    parallel_for(MP + nwt + (staged ? MP : 0), nt, [&](int64_t t) {
      if (t < MP) {
        Done done{quantized};
        quantize_activation_row(t);
        return;
      }
      if (t >= MP + nwt) {  // staged: row t - MP - nwt into its original columns
        wait_for(computed, nwt);
        const int64_t m = t - MP - nwt, yrow = (mp + m) * ldy;
        // Read in packed order, stored through perm: the column map is the weight's own (an
        // inverse map filled by the window tasks had both threads writing its lines).
        for (const auto& sp : live.spans) {
          const float* sr = stage.p + m * nlive + sp.first;
          const int32_t* pc = w.perm + sp.second->row_start;
          const int64_t n = sp.second->rows;
          if (ydtype == DType::F32) {
            float* yr = static_cast<float*>(y) + yrow;
            for (int64_t i = 0; i < n; ++i) yr[pc[i]] = sr[i];
          } else {
            for (int64_t i = 0; i < n; ++i) store_y(y, ydtype, yrow + pc[i], double(sr[i]));
          }
        }
        return;
      }
      Done done{computed};
      wait_for(quantized, MP);
      t -= MP;
      const int64_t wi = t / nch, ci = t % nch;
      window_task(wi, ci, ci * MC, std::min(MP, ci * MC + MC), nch == 1 ? wi + nt : nwin);
    });
  }
}

}  // namespace mpl
}  // namespace chord
