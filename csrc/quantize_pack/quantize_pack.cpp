// chord::quantize_pack: validation, the threaded driver (common/parallel.h) and the scalar reference path.
// The arithmetic contract is spelled out in quantize_pack.h; quantize_pack_avx2.cpp holds the
// fast row kernel, which reuses row_params() and quantize_block_ref() for its tail block.
#include "quantize_pack/quantize_pack.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/parallel.h"

namespace chord {
namespace qpack {

namespace {

// torch.clamp(x, lo, hi) == std::min(std::max(x, lo), hi): keeps x when it equals a bound,
// so a -0.0 survives a clamp at 0.0 exactly as in torch (and as _mm256_max_ps(lo, x) does).
inline float clampf(float x, float lo, float hi) {
  x = (x < lo) ? lo : x;
  return (hi < x) ? hi : x;
}

inline int quantize_elem(float w, int bits, Scheme scheme, const RowParams& p) {
  if (scheme == Scheme::Sym) {
    if (bits == 1) return w >= 0.f ? 1 : 0;
    const float q = clampf(std::nearbyint(w / p.safe), p.qmin, p.qmax);
    return static_cast<int>(q + p.off);
  }
  if (bits == 1) return static_cast<int>(clampf(std::nearbyint(w / p.safe + p.zq), p.qmin, p.qmax));
  return static_cast<int>(clampf(std::nearbyint(w / p.safe) + p.zq, p.qmin, p.qmax));
}

}  // namespace

RowParams row_params(const RowStats& st, int bits, Scheme scheme, int64_t K) {
  RowParams p;
  if (scheme == Scheme::Sym) {
    if (bits == 1) {
      // s = 2 * mean|w| (w_hat = +-mean|w|), the mean summed in float64 (quantizer.py)
      p.scale = static_cast<float>(st.abs_sum * 2.0 / static_cast<double>(K));
      p.zero = 0.5f;
      return p;
    }
    const float qmax = static_cast<float>((1 << (bits - 1)) - 1);
    p.scale = st.amax / qmax;
    p.safe = p.scale > 0.f ? p.scale : 1.f;
    p.qmin = -qmax;
    p.qmax = qmax;
    p.off = static_cast<float>(1 << (bits - 1));
    p.zero = p.off;
    return p;
  }
  const float umax = static_cast<float>((1 << bits) - 1);
  float s = (st.hi - st.lo) / umax;
  if (!(s > 0.f)) s = std::fabs(st.lo);  // constant row: represent it exactly
  const float safe = s > 0.f ? s : 1.f;
  float z = -st.lo / safe;
  if (bits >= 2) z = std::nearbyint(z);  // integer zero point, deliberately unclamped (quantizer.py)
  if (!(s > 0.f)) z = 0.f;
  z = z + 0.0f;  // canonical +0.0 (quantizer.py does the same), whatever zero amin returned
  p.scale = s;
  p.safe = safe;
  p.zero = z;
  p.zq = z;
  p.qmin = 0.f;
  p.qmax = umax;
  return p;
}

RowStats row_stats_ref(const float* w, int64_t K, int bits, Scheme scheme) {
  RowStats st;
  st.lo = w[0];
  st.hi = w[0];
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t k = 0; k < K; ++k) {
    const float v = w[k];
    if (!std::isfinite(v)) {
      st.finite = false;
      return st;
    }
    const float a = std::fabs(v);
    st.amax = a > st.amax ? a : st.amax;
    st.lo = v < st.lo ? v : st.lo;
    st.hi = v > st.hi ? v : st.hi;
    lanes[k & 7] += static_cast<double>(a);
  }
  // fixed combination tree, mirrored by quantizer.py and the AVX2 path
  const double t0 = lanes[0] + lanes[4], t1 = lanes[1] + lanes[5], t2 = lanes[2] + lanes[6], t3 = lanes[3] + lanes[7];
  st.abs_sum = (t0 + t2) + (t1 + t3);
  (void)bits;
  (void)scheme;
  return st;
}

void quantize_block_ref(const float* w, int64_t k0, int64_t K, int bits, Scheme scheme, const RowParams& p,
                        uint8_t* out16) {
  const int epb = 8 / bits;
  for (int j = 0; j < kBlockBytes; ++j) {
    int byte = 0;
    for (int i = 0; i < epb; ++i) {
      const int64_t k = k0 + int64_t(i) * kBlockBytes + j;
      const int u = k < K ? quantize_elem(w[k], bits, scheme, p) : 0;  // padding holds u = 0
      byte |= u << (i * bits);
    }
    out16[j] = static_cast<uint8_t>(byte);
  }
}

bool quantize_row_ref(const float* w, int64_t K, int bits, Scheme scheme, uint8_t* out, float* scale, float* zero) {
  const RowStats st = row_stats_ref(w, K, bits, scheme);
  if (!st.finite) return false;
  const RowParams p = row_params(st, bits, scheme, K);
  const int64_t be = block_elems(bits), nblk = padded_k(K, bits) / be;
  for (int64_t b = 0; b < nblk; ++b) quantize_block_ref(w, b * be, K, bits, scheme, p, out + b * kBlockBytes);
  *scale = p.scale;
  *zero = p.zero;
  return true;
}

int64_t packed_bytes(const int64_t* buckets, int64_t nb, int64_t N, int64_t K) {
  int64_t bytes = 0;
  fmt::bucket_spans(buckets, nb, K, N, "quantize_pack", &bytes);
  return bytes;
}

void quantize_pack(const float* w, int64_t N, int64_t K, int64_t ldw, const int32_t* perm, const int64_t* buckets,
                   int64_t nb, Scheme scheme, uint8_t* qweight, int64_t qbytes, float* scales, float* zeros,
                   int nthreads, Isa isa) {
  if (N < 0 || K < 1)
    throw std::invalid_argument("quantize_pack: weight: expected shape [N >= 0, K >= 1], got [" + std::to_string(N) +
                                ", " + std::to_string(K) + "]");
  if (ldw < K)
    throw std::invalid_argument("quantize_pack: weight: row stride " + std::to_string(ldw) +
                                " < K = " + std::to_string(K));
  if (scheme != Scheme::Sym && scheme != Scheme::Asym)
    throw std::invalid_argument("quantize_pack: scheme: expected sym (0) or asym (1), got " +
                                std::to_string(int(scheme)));
  int64_t need = 0;
  const std::vector<fmt::Span> spans = fmt::bucket_spans(buckets, nb, K, N, "quantize_pack", &need);
  if (qbytes != need)
    throw std::invalid_argument("quantize_pack: qweight: the bucket table needs " + std::to_string(need) +
                                " bytes, the output holds " + std::to_string(qbytes));
  {  // perm must be a permutation of 0..N-1 (each packed row reads a distinct original row)
    std::vector<uint8_t> seen(static_cast<size_t>(N), 0);
    for (int64_t i = 0; i < N; ++i) {
      const int64_t r = perm[i];
      if (r < 0 || r >= N)
        throw std::invalid_argument("quantize_pack: perm[" + std::to_string(i) + "] = " + std::to_string(r) +
                                    " is out of range [0, " + std::to_string(N) + ")");
      if (seen[r])
        throw std::invalid_argument("quantize_pack: perm is not a permutation (row " + std::to_string(r) +
                                    " appears twice)");
      seen[r] = 1;
    }
  }
  const Isa run = resolve_isa(isa);
  const bool avx2 = isa_has_avx2(run), neon = isa_has_neon(run);

  // small layers: waking a helper costs more than it saves (and much more when the cores are
  // oversubscribed), so use one thread per ~64k weights
  nthreads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(nthreads, N * K / 65536)));
  // tasks: runs of packed rows inside one bucket, ~16k weights each
  struct Task {
    int64_t bucket, r0, r1;
  };
  std::vector<Task> tasks;
  std::vector<int64_t> cum_rows{0};  // prefix sums of the tasks' rows (each reads K weights a row)
  const int64_t rows_per_task = std::max<int64_t>(1, 16384 / K);
  for (size_t bi = 0; bi < spans.size(); ++bi)
    for (int64_t r = spans[bi].row_start; r < spans[bi].row_start + spans[bi].rows; r += rows_per_task) {
      tasks.push_back({int64_t(bi), r, std::min(spans[bi].row_start + spans[bi].rows, r + rows_per_task)});
      cum_rows.push_back(cum_rows.back() + tasks.back().r1 - r);
    }
  // smallest original row holding a non-finite value, per task
  std::vector<int64_t> task_bad(tasks.size(), N);
  // Each thread packs one contiguous range of rows (its share of the output, huge pages and the
  // scales' cache lines are written by one thread), then takes the unclaimed tasks of the others:
  // a thread on a core shared with a busy process only delays the call by the task it holds.
  // Handed out one task at a time instead, the threads wrote alternate 4-row slices of the same
  // lines and pages (reports/2026-12-07-pool.md).
  const std::function<void(int64_t, int)> task = [&](int64_t t, int) {
    const Task& tk = tasks[static_cast<size_t>(t)];
    const fmt::Span& sp = spans[static_cast<size_t>(tk.bucket)];
    const int bits = sp.bits;
    const int64_t rb = sp.row_bytes, b0 = sp.row_start;
    for (int64_t r = tk.r0; r < tk.r1; ++r) {
      const float* src = w + static_cast<int64_t>(perm[r]) * ldw;
      bool ok;
      if (bits == 0) {  // pruned: nothing stored, but a NaN/Inf is still an error
        ok = true;
        for (int64_t k = 0; k < K; ++k) ok &= std::isfinite(src[k]);
        scales[r] = 0.f;
        zeros[r] = 0.f;
      } else {
        uint8_t* dst = qweight + sp.byte_offset + (r - b0) * rb;
        ok = avx2   ? quantize_row_avx2(src, K, bits, scheme, dst, scales + r, zeros + r)
             : neon ? quantize_row_neon(src, K, bits, scheme, dst, scales + r, zeros + r)
                    : quantize_row_ref(src, K, bits, scheme, dst, scales + r, zeros + r);
      }
      if (!ok) task_bad[static_cast<size_t>(t)] = std::min<int64_t>(task_bad[static_cast<size_t>(t)], perm[r]);
    }
  };
  parallel_for_blocked(static_cast<int64_t>(tasks.size()), nthreads, task, cum_rows.data());
  const int64_t first_bad = tasks.empty() ? N : *std::min_element(task_bad.begin(), task_bad.end());
  if (first_bad < N) {
    const int64_t row = first_bad;
    int64_t col = 0;
    while (col < K && std::isfinite(w[row * ldw + col])) ++col;
    const float v = w[row * ldw + col];
    throw std::invalid_argument("quantize_pack: weight contains " + std::string(std::isnan(v) ? "NaN" : "Inf") +
                                " (at row " + std::to_string(row) + ", col " + std::to_string(col) + ")");
  }
}

}  // namespace qpack
}  // namespace chord
