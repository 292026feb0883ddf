// chord::mp_topk: an exact top-k in two stages.
//
// 1. Scan: every non-pruned item row gets an approximate score and a rigorous error bound, and
//    is offered to a per-(thread, activation row) Selector (topk_select.h), which keeps only
//    rows whose upper bound reaches the running k-th best lower bound. Scanners, best first:
//    the row-vectorized int8 scans (K <= 256, topk_vnni.h: AVX-512 VNNI for any M, else AVX2
//    vpmaddubsw or AArch64 SDOT / SMULL for M < 16); byte LUTs / direct float32 dots (scalar ISA, K > 256); the
//    mp_linear block kernels (mpl::score_rows, M >= 16 without VNNI); direct float32 dots per
//    candidate (candidate lists).
// 2. Merge: the global threshold is the k-th largest lower bound over all threads; surviving
//    candidates (typically k plus a few dozen) are rescored in float64 from the packed bytes,
//    ranked (descending score, equal scores -> smaller item id first) and the k best written.
//
// So the result is the top-k of the float64 scores x_ref . W_hat (x_ref = x, or its int8
// quantization with act_bits = 8) whatever scanner, ISA or thread count ran: the approximate
// scores only decide what to rescore. Pruned rows (exact score 0) are never read; they join
// the candidates only when 0 can still reach the top-k.
#include "topk/topk.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/parallel.h"
#include "topk/topk_score.h"
#include "topk/topk_select.h"
#include "topk/topk_vnni.h"

namespace chord {
namespace topk {

namespace {

constexpr int64_t kGemmRows = 16;           // M at which the mp_linear block kernels take over (no VNNI)
constexpr int64_t kChunkRows = 4096;        // packed rows per task (a chunk's bytes stay in L2)
constexpr double kUnit = 1.0 / 16777216.0;  // float32 unit roundoff 2^-24

struct Entry {
  double s;
  int64_t id;
};

inline bool better(const Entry& a, const Entry& b) {
  return ranks_before(a.s, a.id, b.s, b.id);
}

inline float round_up(double v) {
  const float f = static_cast<float>(v);
  return static_cast<double>(f) >= v ? f : std::nextafter(f, std::numeric_limits<float>::infinity());
}

// One activation row, prepared for every scanner and for the float64 rescoring.
struct Act {
  float post = 1.f, xsum = 0.f;  // float32 scanners: score = post * scale * (xa . (u - c) - (z - c) xsum)
  float E = 0.f;                 // their error coefficient: |err| <= |scale| (2^b-1 + |z| + 2|c|) E
  std::vector<double> xr;        // x_ref [K]: what the exact scores use
  std::vector<int8_t> xq;        // int8 scan activations [kVnniActBytes]
  float sx = 0.f, sq = 0.f, D = 0.f, cS = 0.f;
};

// float32-scanner offer: the score s of a row with |scale| asc and bound factor mc.
inline void offer_f32(Selector& h, int64_t key, float s, float asc, float mc, float E) {
  const float bnd = asc * mc * E;
  const float up = s + bnd;
  if (up < h.tau()) return;
  h.offer(key, s - bnd, up);
}

// Packed row of item `id`: a binary search in each bucket's perm slice (chord.format keeps a
// bucket's rows in ascending original order); -1 when the slice is not sorted that way.
inline int64_t find_packed_row(const mpl::PackedView& w, int64_t id) {
  for (const auto& sp : w.spans) {
    const int32_t* b = w.perm + sp.row_start;
    const int32_t* e = b + sp.rows;
    const int32_t* it = std::lower_bound(b, e, static_cast<int32_t>(id));
    if (it != e && *it == id) return sp.row_start + (it - w.perm - sp.row_start);
  }
  return -1;
}

// perm[r], range-checked (the binding does not validate perm as a whole)
[[noreturn]] inline void bad_perm(const mpl::PackedView& w, int64_t r) {
  throw std::invalid_argument("chord::mp_topk: perm[" + std::to_string(r) + "]: expected an item id in 0.." +
                              std::to_string(w.N - 1) + ", got " + std::to_string(w.perm[r]));
}
inline bool perm_ok(const mpl::PackedView& w, int64_t r) {
  return w.perm[r] >= 0 && w.perm[r] < w.N;
}
inline int64_t item_id(const mpl::PackedView& w, int64_t r) {
  if (!perm_ok(w, r)) bad_perm(w, r);
  return w.perm[r];
}

// Item ids -> packed rows: validates the range; falls back to an inverse permutation for perms
// that are not sorted inside buckets.
std::vector<int64_t> packed_rows(const mpl::PackedView& w, const int64_t* ids, int64_t n, int nthreads) {
  std::vector<int64_t> pos(static_cast<size_t>(n));
  if (n >= w.N / 8) {
    // Many lookups (e.g. 256 users x 100 candidates): one O(N) inverse permutation is cheaper
    // than a binary search per bucket per candidate (a chain of dependent cache misses each).
    std::vector<int64_t> inv(static_cast<size_t>(w.N), -1);
    for (int64_t r = 0; r < w.N; ++r) inv[item_id(w, r)] = r;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t id = ids[i];
      if (id < 0 || id >= w.N)
        throw std::invalid_argument("chord::mp_topk: candidates: item id " + std::to_string(id) + " (flat position " +
                                    std::to_string(i) + ") is out of range [0, " + std::to_string(w.N) + ")");
      pos[i] = inv[id];
    }
    return pos;
  }
  constexpr int64_t kIdsPerTask = 2048;
  const int64_t ntask = (n + kIdsPerTask - 1) / kIdsPerTask;
  std::vector<int64_t> task_bad(static_cast<size_t>(ntask), n), task_misses(static_cast<size_t>(ntask), 0);
  parallel_for(ntask, nthreads, [&](int64_t t) {
    for (int64_t i = t * kIdsPerTask; i < std::min(n, (t + 1) * kIdsPerTask); ++i) {
      const int64_t id = ids[i];
      if (id < 0 || id >= w.N) {
        task_bad[t] = std::min(task_bad[t], i);
        pos[i] = -1;
        continue;
      }
      pos[i] = find_packed_row(w, id);
      task_misses[t] += pos[i] < 0;
    }
  });
  int64_t first_bad = n, misses = 0;
  for (int64_t t = 0; t < ntask; ++t) {
    first_bad = std::min(first_bad, task_bad[t]);
    misses += task_misses[t];
  }
  if (first_bad < n)
    throw std::invalid_argument("chord::mp_topk: candidates: item id " + std::to_string(ids[first_bad]) +
                                " (flat position " + std::to_string(first_bad) + ") is out of range [0, " +
                                std::to_string(w.N) + ")");
  if (misses) {
    std::vector<int64_t> inv(static_cast<size_t>(w.N), -1);
    for (int64_t r = 0; r < w.N; ++r) inv[item_id(w, r)] = r;
    for (int64_t i = 0; i < n; ++i)
      if (pos[i] < 0) pos[i] = inv[ids[i]];
  }
  return pos;
}

inline int64_t span_of_row(const mpl::PackedView& w, int64_t r) {
  int64_t si = 0;
  while (r >= w.spans[si].row_start + w.spans[si].rows) ++si;
  return si;
}

// float64 score of packed row r: scale_r * sum_k xr_k (u_rk - zero_r), from the packed bytes.
// xr is zero padded to act_pad(K) (padding elements contribute nothing).
double exact_score(const mpl::PackedView& w, int64_t r, const double* xr) {
  const mpl::BucketSpan& sp = w.spans[span_of_row(w, r)];
  if (sp.bits == 0) return 0.0;
  const int b = sp.bits, P = 8 / b;
  const unsigned mask = (1u << b) - 1;
  const uint8_t* row = w.qweight + sp.byte_offset + (r - sp.row_start) * sp.row_bytes;
  const double z = w.zeros[r];
  double acc[16] = {0};
  for (int64_t blk = 0; blk < sp.row_bytes / 16; ++blk, row += 16, xr += 16 * P)
    for (int i = 0; i < P; ++i)
      for (int j = 0; j < 16; ++j) acc[j] += xr[16 * i + j] * (static_cast<double>((row[j] >> (i * b)) & mask) - z);
  double s = 0.0;
  for (int j = 0; j < 16; ++j) s += acc[j];
  return static_cast<double>(w.scales[r]) * s;
}

}  // namespace

void mp_topk(const mpl::PackedView& w, const float* x, int64_t M, int64_t ldx, int64_t k, const int64_t* cand,
             int64_t C, int64_t ldc, int act_bits, float* values, int64_t* ids, int nthreads, mpl::Isa isa) {
  if (!w.perm) throw std::invalid_argument("chord::mp_topk: perm: required (packed row -> item id)");
  if (M < 0) throw std::invalid_argument("chord::mp_topk: x: negative row count " + std::to_string(M));
  if (ldx < w.K) throw std::invalid_argument("chord::mp_topk: x: row stride " + std::to_string(ldx) + " < K");
  if (act_bits != 0 && act_bits != 8)
    throw std::invalid_argument("chord::mp_topk: act_bits: expected 0 or 8, got " + std::to_string(act_bits));
  if (cand && (C < 0 || ldc < 0)) throw std::invalid_argument("chord::mp_topk: candidates: bad shape");
  const int64_t n_items = cand ? C : w.N;
  if (k < 1 || k > n_items)
    throw std::invalid_argument("chord::mp_topk: k: expected 1 <= k <= " + std::to_string(n_items) + " (" +
                                (cand ? "candidates per row" : "item rows") + "), got " + std::to_string(k));
  if (M == 0) return;
  isa = mpl::resolve_isa(isa);
  const bool avx2 = isa_has_avx2(isa);  // AVX-512 CPUs run the AVX2 scorers
  const int64_t K = w.K;
  const bool vnni = isa_has_avx512_vnni(isa) && K <= kVnniMaxK;
  // the AVX2 int8 scan: CPUs without VNNI, few activation rows (many: the block kernels)
  const bool i8avx2 = !vnni && avx2 && K <= kVnniMaxK && M < kGemmRows;
  // AArch64: the same role, SDOT (neon_dotprod) or SMULL/SADALP (neon); nothing saturates
  const bool i8neon = isa_has_neon(isa) && K <= kVnniMaxK && M < kGemmRows;
  const bool i8 = vnni || i8avx2 || i8neon;
  const float qmax = vnni || i8neon ? 127.f : static_cast<float>(kI8Avx2Qmax);
  // One thread per 256k multiply-adds, or per 16M for the int8 scans (their multiply-adds are far
  // cheaper, and a short scan ran faster alone: reports/2026-12-07-comment-figures.md): waking a
  // helper costs microseconds, and on a loaded machine a helper that claimed a task and was
  // descheduled holds the call for a scheduler slice.
  const int64_t work = M * (cand ? C : w.N) * K;
  const int T = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(nthreads, work / (!cand && i8 ? (int64_t{1} << 24) : 262144))));
  const int64_t nspan = static_cast<int64_t>(w.spans.size());

  // Activation rows: xa = x (act_bits = 0) or its per-row int8 quantization as floats
  // (reference.quantize_activations_int8: sx = amax/127, xq = clamp(round(x / sx))), zero
  // padded to act_pad(K); x_ref = x or sx * xq in float64; the int8 scan quantizes the same way
  // (identical to x_ref when act_bits = 8, D = its quantization error otherwise).
  const int64_t Kpad = act_pad(K);
  std::vector<float> xa(static_cast<size_t>(M * Kpad), 0.f);
  std::vector<Act> acts(static_cast<size_t>(M));
  for (int64_t m = 0; m < M; ++m) {
    const float* xm = x + m * ldx;
    float* d = xa.data() + m * Kpad;
    Act& a = acts[m];
    float amax = 0.f;
    for (int64_t i = 0; i < K; ++i) {
      if (!std::isfinite(xm[i]))
        throw std::invalid_argument("chord::mp_topk: x: contains NaN or Inf (row " + std::to_string(m) + ")");
      amax = std::max(amax, std::fabs(xm[i]));
    }
    const float sx = amax / 127.f, safe = sx > 0.f ? sx : 1.f;
    std::vector<float> q(static_cast<size_t>(K));
    for (int64_t i = 0; i < K; ++i) q[i] = std::min(127.f, std::max(-127.f, std::nearbyint(xm[i] / safe)));
    if (act_bits == 8) {
      std::copy(q.begin(), q.end(), d);
      a.post = sx;
    } else {
      std::copy(xm, xm + K, d);
    }
    double s = 0, A = 0;
    a.xr.assign(static_cast<size_t>(Kpad), 0.0);
    for (int64_t i = 0; i < K; ++i) {
      s += d[i];
      a.xr[i] = act_bits == 8 ? static_cast<double>(sx) * q[i] : static_cast<double>(xm[i]);
      A += std::fabs(a.xr[i]);
    }
    a.xsum = static_cast<float>(s);
    a.E = round_up(static_cast<double>(4 * K + 64) * kUnit * A * (1.0 + 1e-6));
    if (i8) {
      // the scan's own quantization (|xq| <= qmax): the one above when qmax = 127
      if (qmax != 127.f) {
        const float s8 = amax / qmax, safe8 = s8 > 0.f ? s8 : 1.f;
        for (int64_t i = 0; i < K; ++i) q[i] = std::min(qmax, std::max(-qmax, std::nearbyint(xm[i] / safe8)));
        a.sx = s8;
      } else {
        a.sx = sx;
      }
      a.xq.assign(static_cast<size_t>(kVnniActBytes), 0);
      double D = 0, sq = 0, Q = 0;
      for (int64_t i = 0; i < K; ++i) {
        a.xq[i] = static_cast<int8_t>(q[i]);
        sq += q[i];
        Q += std::fabs(q[i]);
        D += std::fabs(a.xr[i] - static_cast<double>(a.sx) * q[i]);
      }
      a.sq = static_cast<float>(sq);
      a.D = D > 0 ? round_up(D * (1.0 + 1e-6)) : 0.f;
      a.cS = round_up(16.0 * kUnit * static_cast<double>(a.sx) * Q * (1.0 + 1e-6));
    }
  }
  // per bucket: the constant the float32 dot products are centered on (its first row's zero
  // point) and the pruned bucket (if any)
  std::vector<float> center(static_cast<size_t>(nspan), 0.f);
  int64_t pruned_span = -1;
  for (int64_t si = 0; si < nspan; ++si) {
    if (w.spans[si].rows) center[si] = w.zeros[w.spans[si].row_start];
    if (w.spans[si].bits == 0 && w.spans[si].rows) pruned_span = si;
  }
  // bound factor of the float32 scanners for row r of span si: 2^b - 1 + |z_r| + 2|c|
  auto mc_of = [&](int64_t si, int64_t r) {
    return static_cast<float>((1 << w.spans[si].bits) - 1) + std::fabs(w.zeros[r]) + 2.f * std::fabs(center[si]);
  };

  // float32 score of activation row m against packed row r (in span si), optionally via a LUT
  auto score = [&](int64_t m, int64_t si, int64_t r, const ByteLut* lut) -> float {
    const mpl::BucketSpan& sp = w.spans[si];
    if (sp.bits == 0) return 0.f;
    const uint8_t* row = w.qweight + sp.byte_offset + (r - sp.row_start) * sp.row_bytes;
    const float* xm = xa.data() + m * Kpad;
    const float c = center[si];
    float d = lut            ? lut->dot(row)
              : !avx2        ? dot_direct_ref(row, sp.bits, K, xm, c)
              : sp.bits == 8 ? dot8_avx2(row, K, xm, c)
                             : dotq_avx2(row, sp.bits, K, xm, c);
    const float dz = w.zeros[r] - c;
    if (dz != 0.f) d -= dz * acts[m].xsum;
    return acts[m].post * (w.scales[r] * d);
  };

  // sels[s][m]: thread slot s's Selector for activation row m (threads never share one)
  std::vector<std::vector<Selector>> sels(static_cast<size_t>(T));
  auto thread_sels = [&](int slot) -> std::vector<Selector>& {
    std::vector<Selector>& hs = sels[static_cast<size_t>(slot)];
    if (hs.empty()) {
      hs.resize(static_cast<size_t>(M));
      for (auto& h : hs) h.init(k);
    }
    return hs;
  };
  // whole-catalog tasks: chunks of the non-pruned buckets
  struct Task {
    int64_t si, r0, r1;
  };
  std::vector<Task> tasks;
  for (int64_t si = 0; si < nspan; ++si)
    if (w.spans[si].bits)
      for (int64_t r = 0; r < w.spans[si].rows; r += kChunkRows)
        tasks.push_back(
            {si, w.spans[si].row_start + r, w.spans[si].row_start + std::min(w.spans[si].rows, r + kChunkRows)});
  const int64_t ntask = static_cast<int64_t>(tasks.size());

  if (!cand && i8) {
    std::vector<std::vector<VnniUser>> slot_users(static_cast<size_t>(T));
    parallel_for_slots(ntask, T, [&](int64_t t, int slot) {
      std::vector<VnniUser>& users = slot_users[static_cast<size_t>(slot)];
      if (users.empty()) {
        std::vector<Selector>& hs = thread_sels(slot);
        users.resize(static_cast<size_t>(M));
        for (int64_t m = 0; m < M; ++m)
          users[m] = {acts[m].xq.data(), acts[m].sx, acts[m].sq, acts[m].D, acts[m].cS, &hs[m]};
      }
      if (i8neon)
        scan_i8_neon(w, w.spans[tasks[t].si], tasks[t].r0, tasks[t].r1, users.data(), static_cast<int>(M),
                     isa_has_neon_dotprod(isa));
      else
        (vnni ? scan_vnni : scan_i8_avx2)(w, w.spans[tasks[t].si], tasks[t].r0, tasks[t].r1, users.data(),
                                          static_cast<int>(M));
    });
  } else if (!cand && M >= kGemmRows) {
    // Many activation rows: the mp_linear kernels score a block of rows for all M at once
    // (weights unpacked once per block), then the Selectors take the [M, BR] tile.
    const mpl::PreparedActs pacts(x, mpl::DType::F32, M, K, ldx, 1, w.width_mask, act_bits, isa, T);
    const int64_t BR = std::max<int64_t>(64, std::min<int64_t>(2048, (16384 / M) / 16 * 16));
    std::vector<std::vector<float>> bufs(static_cast<size_t>(T));
    parallel_for_slots(ntask, T, [&](int64_t t, int slot) {
      std::vector<Selector>& hs = thread_sels(slot);
      std::vector<float>& buf = bufs[static_cast<size_t>(slot)];
      buf.resize(static_cast<size_t>(M * BR));
      {
        const Task tk = tasks[t];
        for (int64_t j0 = tk.r0; j0 < tk.r1; j0 += BR) {
          const int64_t n = std::min(BR, tk.r1 - j0);
          mpl::score_rows(w, pacts, j0, j0 + n, buf.data(), BR);
          for (int64_t j = 0; j < n; ++j) {
            const int64_t r = j0 + j;
            const float asc = std::fabs(w.scales[r]), mc = mc_of(tk.si, r);
            for (int64_t m = 0; m < M; ++m) offer_f32(hs[m], r, buf[m * BR + j], asc, mc, acts[m].E);
          }
        }
      }
    });
  } else if (!cand) {
    // Few activation rows, whole catalog: byte LUTs per (row, bucket) where they pay off.
    std::vector<ByteLut> luts(static_cast<size_t>(M * nspan));
    std::vector<uint8_t> has_lut(static_cast<size_t>(M * nspan), 0);
    parallel_for(M * nspan, T, [&](int64_t t) {
      const mpl::BucketSpan& sp = w.spans[t % nspan];
      if (ByteLut::worth_it(sp.bits, sp.rows, K)) {
        luts[t].build(sp.bits, K, xa.data() + (t / nspan) * Kpad, center[t % nspan]);
        has_lut[t] = 1;
      }
    });
    parallel_for_slots(ntask, T, [&](int64_t t, int slot) {
      std::vector<Selector>& hs = thread_sels(slot);
      {
        const Task tk = tasks[t];
        const mpl::BucketSpan& sp = w.spans[tk.si];
        for (int64_t m = 0; m < M; ++m) {
          Selector& h = hs[m];
          const float E = acts[m].E;
          const uint8_t* row = w.qweight + sp.byte_offset + (tk.r0 - sp.row_start) * sp.row_bytes;
          const float* xm = xa.data() + m * Kpad;
          const float c = center[tk.si], xsum = acts[m].xsum, post = acts[m].post;
          auto run = [&](auto dot) {
            const uint8_t* q = row;
            for (int64_t r = tk.r0; r < tk.r1; ++r, q += sp.row_bytes) {
              float d = dot(q);
              const float dz = w.zeros[r] - c;
              if (dz != 0.f) d -= dz * xsum;
              offer_f32(h, r, post * (w.scales[r] * d), std::fabs(w.scales[r]), mc_of(tk.si, r), E);
            }
          };
          if (has_lut[m * nspan + tk.si]) {
            const ByteLut& lut = luts[m * nspan + tk.si];
            switch (sp.row_bytes) {  // K = 64 rows at 2 and 4 bits, 128 at 2 bits: unrolled
              case 16:
                run([&](const uint8_t* q) { return lut.dot_fixed<16>(q); });
                break;
              case 32:
                run([&](const uint8_t* q) { return lut.dot_fixed<32>(q); });
                break;
              default:
                run([&](const uint8_t* q) { return lut.dot(q); });
            }
          } else if (sp.bits == 8 && avx2) {
            run([&](const uint8_t* q) { return dot8_avx2(q, K, xm, c); });
          } else {
            const int bits = sp.bits;
            run([&](const uint8_t* q) { return dot_direct_ref(q, bits, K, xm, c); });
          }
        }
      }
    });
  }

  // Candidate lists (shared: ldc == 0, or one per row): direct dots per candidate; keys are
  // positions in the row's list (duplicates stay separate entries, as in the reference).
  const bool shared = ldc == 0;
  std::vector<int64_t> pos, span_of;
  if (cand) {
    if (shared || ldc == C) {
      pos = packed_rows(w, cand, shared ? C : M * C, T);
    } else {
      std::vector<int64_t> flat(static_cast<size_t>(M * C));
      for (int64_t m = 0; m < M; ++m) std::copy(cand + m * ldc, cand + m * ldc + C, flat.begin() + m * C);
      pos = packed_rows(w, flat.data(), M * C, T);
    }
    span_of.resize(pos.size());
    for (size_t i = 0; i < pos.size(); ++i) span_of[i] = span_of_row(w, pos[i]);
    const int64_t CB = 1024, nchunk = (C + CB - 1) / CB, ntk = M * nchunk;
    parallel_for_slots(ntk, T, [&](int64_t t, int slot) {
      std::vector<Selector>& hs = thread_sels(slot);
      {
        const int64_t m = t / nchunk, c0 = (t % nchunk) * CB, c1 = std::min(C, c0 + CB);
        Selector& h = hs[m];
        for (int64_t c = c0; c < c1; ++c) {
          const int64_t i = shared ? c : m * C + c, si = span_of[i], r = pos[i];
          if (w.spans[si].bits == 0) {
            h.offer(c, 0.f, 0.f);  // pruned: exactly 0, no bound
            continue;
          }
          offer_f32(h, c, score(m, si, r, nullptr), std::fabs(w.scales[r]), mc_of(si, r), acts[m].E);
        }
      }
    });
  }

  // Merge: global threshold, float64 rescoring of the survivors, the k best in ranking order.
  const float ninf = -std::numeric_limits<float>::infinity();
  // a perm entry out of range, per activation row (reported after the parallel loop)
  std::vector<int64_t> bad_rows(static_cast<size_t>(M), -1);
  parallel_for(M, T, [&](int64_t m) {
    int64_t& bad_row = bad_rows[static_cast<size_t>(m)];
    std::vector<float> lows;
    for (auto& hs : sels)
      if (!hs.empty()) lows.insert(lows.end(), hs[m].lows().begin(), hs[m].lows().end());
    float tau = ninf;
    if (static_cast<int64_t>(lows.size()) >= k) {
      std::nth_element(lows.begin(), lows.begin() + (k - 1), lows.end(), std::greater<float>());
      tau = lows[k - 1];
    }
    const double* xr = acts[m].xr.data();
    std::vector<Entry> all;
    for (auto& hs : sels) {
      if (hs.empty()) continue;
      for (const Cand& c : hs[m].cands()) {
        if (c.up < tau) continue;
        if (cand) {
          const int64_t i = shared ? c.key : m * C + c.key;
          all.push_back({exact_score(w, pos[i], xr), cand[shared ? c.key : m * ldc + c.key]});
        } else {
          if (!perm_ok(w, c.key)) bad_row = c.key;
          all.push_back({exact_score(w, c.key, xr), w.perm[c.key]});
        }
      }
    }
    // pruned items score exactly 0: they matter only when 0 can still reach the top-k, and
    // then only the k smallest ids among them (a bucket's perm slice is ascending by format)
    if (!cand && pruned_span >= 0 && !(static_cast<int64_t>(lows.size()) >= k && tau > 0.f)) {
      const mpl::BucketSpan& sp = w.spans[pruned_span];
      const int32_t* p = w.perm + sp.row_start;
      const bool sorted = std::is_sorted(p, p + sp.rows);
      const int64_t n = sorted ? std::min(k, sp.rows) : sp.rows;
      for (int64_t i = 0; i < n; ++i) {
        if (!perm_ok(w, sp.row_start + i)) bad_row = sp.row_start + i;
        all.push_back({0.0, p[i]});
      }
    }
    std::partial_sort(all.begin(), all.begin() + k, all.end(), better);
    for (int64_t i = 0; i < k; ++i) {
      values[m * k + i] = static_cast<float>(all[i].s);
      ids[m * k + i] = all[i].id;
    }
  });
  for (int64_t r : bad_rows)
    if (r >= 0) bad_perm(w, r);
}

}  // namespace topk
}  // namespace chord
