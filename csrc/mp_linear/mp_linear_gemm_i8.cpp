// The int8 GEMM path of mp_linear (act_bits = 8): quantize every activation row once per call
// (the direct path's quantization, same functions), unpack the weight a window of output columns
// at a time into one byte per element in natural k order (once per call per thread; the window
// stays in L2), and run a register-blocked integer GEMM microkernel over it (VNNI vpdpbusd in
// mp_linear_gemm_i8_avx512.cpp, AVX2 maddubs in _avx2.cpp, gemm_i8_ref below).
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
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/half.h"
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
// Columns per microkernel call (a slice of the next window's rows is prefetched between calls).
constexpr int64_t kJChunk = 16;
// Below this many multiply-adds a second thread costs more to wake than it saves.
constexpr int64_t kMinParallelMacs = int64_t(1) << 21;

inline int64_t round_up(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
}

inline float load_x(const void* x, DType dt, int64_t idx) {
  switch (dt) {
    case DType::F16:
      return f16_to_f32(static_cast<const uint16_t*>(x)[idx]);
    case DType::BF16:
      return bf16_to_f32(static_cast<const uint16_t*>(x)[idx]);
    default:
      return static_cast<const float*>(x)[idx];
  }
}

inline void store_y(void* y, DType dt, int64_t idx, double v) {
  const float f = float(v);
  switch (dt) {
    case DType::F32:
      static_cast<float*>(y)[idx] = f;
      break;
    case DType::F16:
      static_cast<uint16_t*>(y)[idx] = f32_to_f16(f);
      break;
    case DType::BF16:
      static_cast<uint16_t*>(y)[idx] = f32_to_bf16(f);
      break;
  }
}

enum class Kern { Ref, Avx2, Vnni };

// avx512_vnni runs vpdpbusd; every other SIMD ISA (avx512 without VNNI, avx_vnni, avx2) the
// AVX2 kernel; scalar the reference.
Kern kernel_of(Isa is) {
  if (isa_has_avx512_vnni(is)) return Kern::Vnni;
  return isa_has_avx2(is) ? Kern::Avx2 : Kern::Ref;
}

struct Col {           // one original output column
  const uint8_t* row;  // its packed row (null: pruned)
  int64_t rb;          // row bytes
  float scale, zero;
  int bits;
};

struct Scratch {
  uint64_t call = 0;  // which call (and pass) the window below belongs to
  int64_t window = -1;
  AlignedBuf<uint8_t> p;        // live columns, unpacked, ldp apart
  std::vector<int64_t> live;    // their indices in the window (0-based)
  std::vector<int64_t> pruned;  // the window's pruned columns
  std::vector<int> bits;        // width of each live column
  AlignedBuf<int32_t> c;        // kMBlock x live results
  // per live column, for the vectorized epilogue: zero, scale, bias (float64), window index
  std::vector<double> zero, scale, bias;
  std::vector<int32_t> col;
  bool contiguous = false;  // live columns are the whole window, in order
};

thread_local Scratch tls_scratch;
std::atomic<uint64_t> g_calls{0};

// The AVX2 kernel runs 8-bit columns apart: put them after the others (one run each).
void partition_8bit(const std::vector<Col>& cols, int64_t n0, std::vector<int64_t>& live) {
  std::stable_partition(live.begin(), live.end(), [&](int64_t i) { return cols[size_t(n0 + i)].bits != 8; });
}

void build_window(const std::vector<Col>& cols, int64_t n0, int64_t nw, int64_t ldp, Kern kern, const float* bias,
                  Scratch& s) {
  s.live.clear();
  s.pruned.clear();
  s.bits.clear();
  for (int64_t i = 0; i < nw; ++i) {
    if (cols[size_t(n0 + i)].bits)
      s.live.push_back(i);
    else
      s.pruned.push_back(i);
  }
  if (kern == Kern::Avx2) partition_8bit(cols, n0, s.live);
  s.p.ensure(size_t(std::max<int64_t>(1, int64_t(s.live.size())) * ldp));
  for (size_t j = 0; j < s.live.size(); ++j) {
    const Col& c = cols[size_t(n0 + s.live[j])];
    uint8_t* d = s.p.p + int64_t(j) * ldp;
    if (kern == Kern::Vnni)
      unpack_i8_vnni(c.row, c.rb, c.bits, d);
    else if (kern == Kern::Avx2)
      unpack_i8_avx2(c.row, c.rb, c.bits, d);
    else
      unpack_i8_ref(c.row, c.rb, c.bits, d);
    s.bits.push_back(c.bits);
  }
  const size_t nl = s.live.size();
  s.zero.resize(nl);
  s.scale.resize(nl);
  s.bias.resize(nl);
  s.col.resize(nl);
  s.contiguous = int64_t(nl) == nw;
  for (size_t j = 0; j < nl; ++j) {
    const int64_t n = n0 + s.live[j];
    s.zero[j] = double(cols[size_t(n)].zero);
    s.scale[j] = double(cols[size_t(n)].scale);
    s.bias[j] = bias ? double(bias[n]) : 0.0;
    s.col[j] = int32_t(s.live[j]);
    s.contiguous &= s.live[j] == int64_t(j);
  }
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
                 int /*bits*/, const int64_t* /*qsum*/, int32_t* c, int64_t ldc) {
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
  if (K > kMaxKGemmI8)
    throw std::invalid_argument("path: the int8 panel path takes K <= " + std::to_string(kMaxKGemmI8) +
                                ", got K = " + std::to_string(K) + " (use path='direct' or 'auto')");
  const Isa is = resolve_isa(isa);
  const Kern kern = kernel_of(is);
  const bool simd = isa_has_avx2(is);
  const bool vec_epi = isa_has_avx512(is);
  auto gemm = kern == Kern::Vnni ? gemm_i8_vnni : kern == Kern::Avx2 ? gemm_i8_avx2 : gemm_i8_ref;
  const int64_t Kp = pad_k(K), ldp = gemm_i8_ldp(K), L = gemm_i8_len(K);

  // Original column -> packed row (the caller's thread-local: no allocation per call; helper
  // threads see it through this reference).
  thread_local std::vector<Col> cols_tls;
  std::vector<Col>& cols = cols_tls;
  cols.resize(size_t(N));
  for (const BucketSpan& s : w.spans)
    for (int64_t r = s.row_start; r < s.row_start + s.rows; ++r)
      cols[size_t(w.perm[r])] = {s.bits ? w.qweight + s.byte_offset + (r - s.row_start) * s.row_bytes : nullptr,
                                 s.row_bytes, w.scales[r], w.zeros[r], s.bits};

  // Window width: every column when they fit, else a multiple of the 4-column tile.
  int64_t NW = std::max<int64_t>(4, kWindowBytes / ldp / 4 * 4);
  NW = std::min(NW, N);
  const int64_t nwin = (N + NW - 1) / NW;
  const int nt = M * N * K >= kMinParallelMacs ? std::max(1, nthreads) : 1;

  thread_local AlignedBuf<int8_t> xq_tls;
  AlignedBuf<int8_t>& xq = xq_tls;
  std::vector<float> sx;
  std::vector<int64_t> qsum;
  for (int64_t mp = 0; mp < M; mp += kMPass) {
    const int64_t MP = std::min(kMPass, M - mp);
    // 1. activations: quantized once per row (zero beyond K: the padding never contributes)
    xq.ensure(size_t(MP * Kp));
    sx.assign(size_t(MP), 0.f);
    qsum.assign(size_t(MP), 0);
    parallel_for(MP, MP > 1 ? nt : 1, [&](int64_t m) {
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
      sx[size_t(m)] = simd ? quantize_row_i8_avx2(xr, K, q) : quantize_row_i8_ref(xr, K, q);
      std::memset(q + K, 0, size_t(Kp - K));
      int64_t s = 0;
      for (int64_t k = 0; k < K; ++k) s += q[k];
      qsum[size_t(m)] = s;
    });

    // 2. windows x row chunks; a thread keeps its unpacked window across the chunks it takes
    const int64_t cpw = std::min<int64_t>(std::max<int64_t>(1, (2 * nt + nwin - 1) / nwin), (MP + 5) / 6);
    const int64_t MC = round_up((MP + cpw - 1) / cpw, 6);
    const int64_t nch = (MP + MC - 1) / MC;
    const uint64_t call = g_calls.fetch_add(1, std::memory_order_relaxed) + 1;
    parallel_for(nwin * nch, nt, [&](int64_t t) {
      Scratch& s = tls_scratch;
      const int64_t wi = t / nch, ci = t % nch;
      const int64_t n0 = wi * NW, nw = std::min(NW, N - n0);
      if (s.call != call || s.window != wi) {
        s.call = 0;  // a throw mid-build must not leave a half-built window marked valid
        build_window(cols, n0, nw, ldp, kern, bias, s);
        s.call = call;
        s.window = wi;
      }
      const int64_t nl = int64_t(s.live.size());
      const int64_t m0 = ci * MC, m1 = std::min(MP, m0 + MC);
      s.c.ensure(size_t(kMBlock * std::max<int64_t>(1, nl)));
      for (int64_t mb = m0; mb < m1; mb += kMBlock) {
        const int64_t nm = std::min(kMBlock, m1 - mb);
        // pruned columns: exactly the bias (or 0), whatever x holds (the direct path's 0.0 + bias)
        for (int64_t m = 0; m < nm; ++m)
          for (int64_t i : s.pruned) {
            const int64_t n = n0 + i;
            store_y(y, ydtype, (mp + mb + m) * ldy + n, bias ? 0.0 + double(bias[n]) : 0.0);
          }
        if (!nl) continue;
        // The window this thread likely takes next (tasks are claimed in order): its packed rows
        // are prefetched into L2 a slice per column chunk, so reading them from memory overlaps
        // this window's arithmetic instead of stalling the next unpack (one row pass only).
        const int64_t pw = wi + nt, pn0 = pw * NW, pnw = nch == 1 && mb == m0 && pw < nwin ? std::min(NW, N - pn0) : 0;
        const int64_t nchunks = (nl + kJChunk - 1) / kJChunk;
        // live columns in chunks; within a chunk one call per width run (the AVX2 kernel runs
        // 8-bit columns apart)
        for (int64_t q = 0; q < nchunks; ++q) {
          for (int64_t i = pn0 + q * pnw / nchunks; i < pn0 + (q + 1) * pnw / nchunks; ++i)
            for (int64_t b = 0; cols[size_t(i)].bits && b < cols[size_t(i)].rb; b += 64)
              __builtin_prefetch(cols[size_t(i)].row + b, 0, 2);
          const int64_t je = std::min(nl, (q + 1) * kJChunk);
          for (int64_t j0 = q * kJChunk; j0 < je;) {
            int64_t j1 = j0 + 1;
            if (kern == Kern::Avx2)
              while (j1 < je && (s.bits[size_t(j1)] == 8) == (s.bits[size_t(j0)] == 8)) ++j1;
            else
              j1 = je;
            gemm(xq.p + mb * Kp, Kp, nm, s.p.p + j0 * ldp, ldp, j1 - j0, L, s.bits[size_t(j0)], qsum.data() + mb,
                 s.c.p + j0, nl);
            j0 = j1;
          }
        }
        // epilogue: the direct path's (mp_linear.cpp) expression, in the same order
        for (int64_t m = 0; m < nm; ++m) {
          const double q = double(qsum[size_t(mb + m)]), xs = double(sx[size_t(mb + m)]);
          const int32_t* cr = s.c.p + m * nl;
          if (vec_epi && ydtype == DType::F32) {
            epilogue_i8_avx512(cr, nl, s.zero.data(), s.scale.data(), bias ? s.bias.data() : nullptr,
                               s.contiguous ? nullptr : s.col.data(), q, xs,
                               static_cast<float*>(y) + (mp + mb + m) * ldy + n0);
            continue;
          }
          for (int64_t j = 0; j < nl; ++j) {
            const int64_t n = n0 + s.live[size_t(j)];
            const Col& c = cols[size_t(n)];
            const double v = (double(cr[j]) - double(c.zero) * q) * (xs * double(c.scale));
            store_y(y, ydtype, (mp + mb + m) * ldy + n, bias ? v + double(bias[n]) : v);
          }
        }
      }
    });
  }
}

}  // namespace mpl
}  // namespace chord
