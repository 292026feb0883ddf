// Native test driver of the AArch64 kernels (no Python): cross-built by tools/arm/ci.sh and run
// under qemu-aarch64 with -cpu max (dot-product extension) and a CPU without it (cortex-a53).
//
//   chord_kernel_test SEED CASES [--require-dotprod | --forbid-dotprod]
//
// Against the scalar reference kernels on random planar rows (random padding bytes too: the
// kernels must ignore them), random activations, odd K (1 included), every width, 1..9
// activation rows:
//   dot_i8 (act8): NEON and, where the CPU has it, NEON dot-product -- bit-identical to scalar;
//   dot_f32:       NEON within the float32 accumulation bound of the float64 reference;
//   dequant_row:   NEON bit-identical to scalar.
// And through the public mp_linear (every ISA this CPU supports, pinned) on random bucket
// mixes, all-pruned weights and K = 1: act8 outputs bit-identical to the scalar ISA, fp32
// within the bound. Exit 0 = all passed; prints what ran.
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/isa.h"
#include "embedding/embedding.h"
#include "mp_linear/mp_linear.h"
#include "mp_linear/mp_linear_kernels.h"
#include "quantize_pack/quantize_pack.h"
#include "topk/topk.h"
#include "topk/topk_vnni.h"

#if defined(__aarch64__) && !defined(HWCAP_ASIMDDP)
#define HWCAP_ASIMDDP (1 << 20)
#endif

using namespace chord;
using namespace chord::mpl;

namespace {

int failures = 0;
long checks = 0;

void fail(const std::string& what) {
  if (failures < 20) std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  ++failures;
}

int64_t row_bytes_of(int64_t K, int bits) {
  const int64_t be = 16 * (8 / bits);
  return (K + be - 1) / be * be * bits / 8;
}

// float64 reference of sum_k x_k u_k and the float32 accumulation bound
void ref_dot(const uint8_t* row, int bits, int64_t K, const float* x, double* val, double* absum) {
  const int epb = 8 / bits;
  const unsigned mask = (1u << bits) - 1u;
  double s = 0, a = 0;
  for (int64_t k = 0; k < K; ++k) {
    const int64_t c = k / (16 * epb), e = k % (16 * epb);
    const unsigned u = (row[c * 16 + e % 16] >> (bits * (e / 16))) & mask;
    s += double(x[k]) * u;
    a += std::fabs(double(x[k]) * u);
  }
  *val = s;
  *absum = a;
}

#if defined(__aarch64__)
void kernel_level(std::mt19937_64& rng, int cases, bool dotprod) {
  const int widths[4] = {1, 2, 4, 8};
  std::uniform_real_distribution<float> ux(-2.f, 2.f);
  for (int t = 0; t < cases; ++t) {
    const int bits = widths[rng() % 4];
    int64_t K = 1 + int64_t(rng() % 700);
    if (t % 7 == 0) K = 1;
    if (t % 5 == 0) K |= 1;  // odd
    const int64_t nr = 1 + int64_t(rng() % 9), nm = 1 + int64_t(rng() % 9);
    const int64_t rb = row_bytes_of(K, bits), Kp = pad_k(K);
    std::vector<uint8_t> w(static_cast<size_t>(nr * rb));
    for (auto& b : w) b = uint8_t(rng());  // padding bytes random: must not contribute
    std::vector<float> xf(static_cast<size_t>(nm * Kp), 0.f);
    std::vector<int8_t> xq(static_cast<size_t>(nm * Kp), 0);
    std::vector<int64_t> qsum(static_cast<size_t>(nm), 0);
    for (int64_t m = 0; m < nm; ++m)
      for (int64_t k = 0; k < K; ++k) {
        xf[static_cast<size_t>(m * Kp + k)] = ux(rng);
        const int8_t q = int8_t(int(rng() % 255) - 127);
        xq[static_cast<size_t>(m * Kp + k)] = q;
        qsum[static_cast<size_t>(m)] += q;
      }
    // act8: exact
    std::vector<int64_t> iref(static_cast<size_t>(nm * nr)), ineon(static_cast<size_t>(nm * nr), -1),
        idp(static_cast<size_t>(nm * nr), -1);
    dot_i8_ref(w.data(), rb, bits, nr, xq.data(), Kp, nm, qsum.data(), iref.data(), nr);
    dot_i8_neon(w.data(), rb, bits, nr, xq.data(), Kp, nm, qsum.data(), ineon.data(), nr);
    ++checks;
    if (ineon != iref) fail("dot_i8_neon != scalar (bits " + std::to_string(bits) + ", K " + std::to_string(K) + ")");
    if (dotprod) {
      dot_i8_neon_dotprod(w.data(), rb, bits, nr, xq.data(), Kp, nm, qsum.data(), idp.data(), nr);
      ++checks;
      if (idp != iref)
        fail("dot_i8_neon_dotprod != scalar (bits " + std::to_string(bits) + ", K " + std::to_string(K) + ")");
    }
    // fp32: within the float32 accumulation bound of the float64 value
    std::vector<float> fneon(static_cast<size_t>(nm * nr), NAN);
    dot_f32_neon(w.data(), rb, bits, nr, xf.data(), Kp, nm, fneon.data(), nr);
    for (int64_t m = 0; m < nm; ++m)
      for (int64_t r = 0; r < nr; ++r) {
        double v, a;
        ref_dot(w.data() + r * rb, bits, K, xf.data() + m * Kp, &v, &a);
        const double bound = double(K + 16) * 1.2e-7 * a + 1e-30;
        ++checks;
        if (!(std::fabs(double(fneon[static_cast<size_t>(m * nr + r)]) - v) <= bound))
          fail("dot_f32_neon off the float64 reference (bits " + std::to_string(bits) + ", K " + std::to_string(K) +
               ")");
      }
    // activation quantization: bit-identical (scales and int8 values), NaN / inf rows included
    {
      std::vector<float> xr(static_cast<size_t>(K));
      for (auto& v : xr) v = ux(rng) * (t % 3 == 0 ? 1e-30f : 1.f);
      if (t % 11 == 0) xr[static_cast<size_t>(rng() % K)] = (t % 2) ? NAN : INFINITY;
      if (t % 13 == 0) std::fill(xr.begin(), xr.end(), 0.f);
      std::vector<int8_t> qa(static_cast<size_t>(K)), qb(static_cast<size_t>(K), 99);
      const float sa = quantize_row_i8_ref(xr.data(), K, qa.data());
      const float sb = quantize_row_i8_neon(xr.data(), K, qb.data());
      ++checks;
      if (qa != qb || std::memcmp(&sa, &sb, sizeof sa) != 0)
        fail("quantize_row_i8_neon != scalar (K " + std::to_string(K) + ")");
    }
    // dequant: bit-identical
    std::vector<float> dref(static_cast<size_t>(K)), dneon(static_cast<size_t>(K), NAN);
    const float scale = ux(rng), zero = float(rng() % 256) * 0.5f;
    dequant_row_ref(w.data(), bits, K, scale, zero, dref.data());
    dequant_row_neon(w.data(), bits, K, scale, zero, dneon.data());
    ++checks;
    if (std::memcmp(dref.data(), dneon.data(), static_cast<size_t>(K) * sizeof(float)) != 0)
      fail("dequant_row_neon != scalar (bits " + std::to_string(bits) + ", K " + std::to_string(K) + ")");
  }
}

#endif  // __aarch64__

// The public op with every supported ISA pinned, against the scalar ISA.
void op_level(std::mt19937_64& rng, int cases) {
  const int widths[5] = {8, 4, 2, 1, 0};
  std::uniform_real_distribution<float> ux(-1.f, 1.f);
  const std::vector<Isa> isas = supported_isas();
  for (int t = 0; t < cases; ++t) {
    int64_t K = 1 + int64_t(rng() % 300);
    if (t % 6 == 0) K = 1;
    const int64_t M = 1 + int64_t(rng() % 6);
    // a random bucket mix in BUCKET_ORDER; case 3 mod 8: all pruned
    std::vector<int64_t> buckets;
    int64_t N = 0, qbytes = 0;
    for (int bits : widths) {
      const int64_t rows = (t % 8 == 3) ? (bits == 0 ? 1 + int64_t(rng() % 5) : 0) : int64_t(rng() % 4);
      if (!rows) continue;
      buckets.push_back(bits);
      buckets.push_back(rows);
      N += rows;
      qbytes += bits ? rows * row_bytes_of(K, bits) : 0;
    }
    if (N == 0) {
      buckets = {4, 1};
      N = 1;
      qbytes = row_bytes_of(K, 4);
    }
    std::vector<uint8_t> qw(static_cast<size_t>(qbytes));
    for (auto& b : qw) b = uint8_t(rng());
    std::vector<float> sc(static_cast<size_t>(N)), ze(static_cast<size_t>(N)), bias(static_cast<size_t>(N)),
        x(static_cast<size_t>(M * K));
    std::vector<int32_t> perm(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) {
      perm[static_cast<size_t>(i)] = int32_t(i);
      sc[static_cast<size_t>(i)] = 0.01f + std::fabs(ux(rng));
      ze[static_cast<size_t>(i)] = float(rng() % 16);
      bias[static_cast<size_t>(i)] = ux(rng);
    }
    std::shuffle(perm.begin(), perm.end(), rng);
    // pruned rows: scale = zero = 0 (the format)
    int64_t row = 0;
    for (size_t b = 0; b < buckets.size(); b += 2) {
      if (buckets[b] == 0)
        for (int64_t i = 0; i < buckets[b + 1]; ++i)
          sc[static_cast<size_t>(row + i)] = ze[static_cast<size_t>(row + i)] = 0.f;
      row += buckets[b + 1];
    }
    for (auto& v : x) v = ux(rng);
    const PackedView w = make_packed_view(qw.data(), qbytes, sc.data(), N, ze.data(), N, perm.data(), N, buckets.data(),
                                          int64_t(buckets.size()), K);
    for (int act : {0, 8}) {
      std::vector<float> yref(static_cast<size_t>(M * N));
      mp_linear(w, x.data(), DType::F32, M, K, 1, bias.data(), act, yref.data(), DType::F32, N, 1, Isa::Scalar,
                Path::Direct);
      for (Isa isa : isas) {
        std::vector<float> y(static_cast<size_t>(M * N), NAN);
        mp_linear(w, x.data(), DType::F32, M, K, 1, bias.data(), act, y.data(), DType::F32, N, 2, isa, Path::Direct);
        ++checks;
        if (act == 8) {
          if (std::memcmp(y.data(), yref.data(), y.size() * sizeof(float)) != 0)
            fail(std::string("mp_linear act8 ") + isa_name(isa) + " != scalar (K " + std::to_string(K) + ")");
        } else {
          for (size_t i = 0; i < y.size(); ++i)
            if (!(std::fabs(y[i] - yref[i]) <= 1e-5f * (1.f + std::fabs(yref[i])) * float(K + 16) / 16.f)) {
              fail(std::string("mp_linear fp32 ") + isa_name(isa) + " off scalar (K " + std::to_string(K) + ")");
              break;
            }
        }
      }
    }
  }
}

// ---- quantize_pack, embedding lookup, mp_topk (the adaptation and item-table kernels) ----

// Deterministic weights from integer hashing only (no <random> distributions, whose output may
// differ between standard libraries): the packer digest below must be reproducible on x86.
uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
float hfloat(uint64_t& s) {  // uniform in [-1, 1), a multiple of 2^-23
  return float(int64_t(splitmix(s) >> 40) - (int64_t(1) << 23)) * (1.f / 8388608.f);
}

// A row of one of several kinds: plain, constant, all zero, signed zeros, subnormal-tiny,
// huge range, one outlier, positive, exact rounding ties (kind 8: every w / scale is m + 1/2
// for a row quantized at `bits` with `asym`, so half-to-even is tested, not just reached);
// `poison` puts a NaN or Inf in it.
void fill_row(uint64_t& s, float* w, int64_t K, int kind, int poison, int bits = 4, bool asym = false) {
  for (int64_t k = 0; k < K; ++k) w[k] = hfloat(s);
  switch (kind) {
    case 1:
      for (int64_t k = 0; k < K; ++k) w[k] = 0.37f;
      break;
    case 2:
      for (int64_t k = 0; k < K; ++k) w[k] = 0.f;
      break;
    case 3:
      for (int64_t k = 0; k < K; ++k) w[k] = (k % 3 == 0) ? -0.f : (k % 3 == 1 ? 0.f : w[k]);
      break;
    case 4:
      for (int64_t k = 0; k < K; ++k) w[k] *= 1e-39f;
      break;
    case 5:
      for (int64_t k = 0; k < K; ++k) w[k] *= 3e37f;
      break;
    case 6:
      w[splitmix(s) % uint64_t(K)] = 900.f;
      break;
    case 7:
      for (int64_t k = 0; k < K; ++k) w[k] = std::fabs(w[k]) + 2.f;  // positive row (asym zero point < 0)
      break;
    case 8: {
      const float sc = 0.0625f;  // a power of two: the row's scale comes out exactly sc
      if (bits == 1) {
        for (int64_t k = 0; k < K; ++k) w[k] = float(splitmix(s) % 3) * 0.5f;  // 0, 1/2, 1: ties at 1/2
        w[0] = 0.f;
        if (K > 1) w[1] = 1.f;
      } else if (!asym) {
        const int64_t qmax = (int64_t(1) << (bits - 1)) - 1;
        for (int64_t k = 0; k < K; ++k) w[k] = (float(int64_t(splitmix(s) % uint64_t(2 * qmax)) - qmax) + 0.5f) * sc;
        w[0] = float(qmax) * sc;  // amax = qmax * sc
      } else {
        const int64_t umax = (int64_t(1) << bits) - 1;
        for (int64_t k = 0; k < K; ++k) w[k] = (float(int64_t(splitmix(s) % uint64_t(umax))) + 0.5f) * sc;
        w[0] = 0.f;  // lo = 0, hi = umax * sc
        if (K > 1) w[1] = float(umax) * sc;
      }
      break;
    }
    default:
      break;
  }
  if (poison) w[splitmix(s) % uint64_t(K)] = poison == 1 ? NAN : (poison == 2 ? INFINITY : -INFINITY);
}

#if defined(__aarch64__)
// quantize_row_neon against quantize_row_ref: the same bytes, scale and zero (bit patterns),
// and the same verdict on non-finite rows.
void pack_rows(uint64_t seed, int cases) {
  using namespace chord::qpack;
  uint64_t s = seed;
  const int widths[4] = {1, 2, 4, 8};
  for (int t = 0; t < cases; ++t) {
    const int bits = widths[t % 4];
    const Scheme scheme = (t / 4) % 2 ? Scheme::Asym : Scheme::Sym;
    int64_t K = 1 + int64_t(splitmix(s) % 600);
    if (t % 9 == 0) K = 1;
    if (t % 5 == 0) K |= 1;
    const int kind = int(splitmix(s) % 10), poison = (t % 17 == 0) ? 1 + t % 3 : 0;
    std::vector<float> w(static_cast<size_t>(K));
    fill_row(s, w.data(), K, kind, poison, bits, scheme == Scheme::Asym);
    const int64_t rb = row_bytes(K, bits);
    std::vector<uint8_t> a(static_cast<size_t>(rb), 0xAB), b(static_cast<size_t>(rb), 0xCD);
    float sa = 1, za = 1, sb = 2, zb = 2;
    const bool oka = quantize_row_ref(w.data(), K, bits, scheme, a.data(), &sa, &za);
    const bool okb = quantize_row_neon(w.data(), K, bits, scheme, b.data(), &sb, &zb);
    ++checks;
    const std::string what = "quantize_row_neon != scalar (bits " + std::to_string(bits) + ", " +
                             (scheme == Scheme::Sym ? "sym" : "asym") + ", K " + std::to_string(K) + ", kind " +
                             std::to_string(kind) + ", poison " + std::to_string(poison) + ")";
    if (oka != okb)
      fail(what + ": finite verdict");
    else if (oka && (a != b || std::memcmp(&sa, &sb, 4) != 0 || std::memcmp(&za, &zb, 4) != 0))
      fail(what);
  }
}

// The int8 scan's dot kernels against plain integer sums: exact.
void topk_dots(std::mt19937_64& rng, int cases, bool dotprod) {
  const int widths[4] = {1, 2, 4, 8};
  for (int t = 0; t < cases; ++t) {
    const int bits = widths[t % 4];
    int64_t K = 1 + int64_t(rng() % 256);
    if (t % 7 == 0) K = 1;
    const int64_t rb = row_bytes_of(K, bits), n = 1 + int64_t(rng() % 70);
    std::vector<uint8_t> rows(static_cast<size_t>(n * rb));
    for (auto& v : rows) v = uint8_t(rng());
    std::vector<int8_t> xq(256, 0);
    int32_t sq = 0;
    for (int64_t k = 0; k < K; ++k) {
      xq[size_t(k)] = int8_t(int(rng() % 255) - 127);
      sq += xq[size_t(k)];
    }
    const int32_t bias = bits == 8 ? 128 * sq : 0;
    std::vector<int32_t> ref(static_cast<size_t>(n)), a(static_cast<size_t>(n), -1), b(static_cast<size_t>(n), -1);
    const int epb = 8 / bits;
    for (int64_t i = 0; i < n; ++i) {
      int64_t acc = 0;  // padding elements meet xq = 0
      for (int64_t e = 0; e < rb * epb; ++e) {
        const int64_t c = e / (16 * epb), f = e % (16 * epb);
        acc += int64_t(xq[size_t(e < 256 ? e : 0)] * (e < 256)) *
               ((rows[size_t(i * rb + c * 16 + f % 16)] >> (bits * (f / 16))) & ((1 << bits) - 1));
      }
      ref[size_t(i)] = int32_t(acc);
    }
    chord::topk::dots_i8_neon(rows.data(), rb, bits, n, xq.data(), bias, a.data());
    ++checks;
    if (a != ref) fail("topk dots_i8_neon != exact (bits " + std::to_string(bits) + ", K " + std::to_string(K) + ")");
    if (dotprod) {
      chord::topk::dots_i8_neon_dotprod(rows.data(), rb, bits, n, xq.data(), bias, b.data());
      ++checks;
      if (b != ref)
        fail("topk dots_i8_neon_dotprod != exact (bits " + std::to_string(bits) + ", K " + std::to_string(K) + ")");
    }
  }
}
#endif  // __aarch64__

// A random bucket table in BUCKET_ORDER (8, 4, 2, 1, 0) over N rows; all pruned when asked.
std::vector<int64_t> random_buckets(uint64_t& s, int64_t N, bool all_pruned) {
  std::vector<int64_t> b;
  if (all_pruned) return {0, N};
  const int widths[5] = {8, 4, 2, 1, 0};
  int64_t left = N;
  for (int i = 0; i < 5 && left > 0; ++i) {
    const int64_t rows = i == 4 ? left : int64_t(splitmix(s) % uint64_t(left + 1));
    if (!rows) continue;
    b.push_back(widths[i]);
    b.push_back(rows);
    left -= rows;
  }
  if (left) b.insert(b.end(), {1, left});  // unreachable: the last width takes the rest
  return b;
}

// width of packed row r under the bucket table (1 for pruned rows: any width will do)
int bits_of_packed_row(const std::vector<int64_t>& buckets, int64_t r) {
  for (size_t b = 0; b < buckets.size(); r -= buckets[b + 1], b += 2)
    if (r < buckets[b + 1]) return buckets[b] ? int(buckets[b]) : 1;
  return 1;
}

struct Packed {
  std::vector<int64_t> buckets;
  std::vector<int32_t> perm;
  std::vector<uint8_t> qw;
  std::vector<float> sc, ze;
};

// quantize_pack of w [N, K] with every supported ISA pinned: bytes, scales and zeros identical
// to the scalar ISA's (returns the scalar packing).
Packed pack_all_isas(const std::vector<float>& w, int64_t N, int64_t K, std::vector<int64_t> buckets,
                     std::vector<int32_t> perm, chord::qpack::Scheme scheme, const std::string& label) {
  using namespace chord::qpack;
  Packed p{std::move(buckets), std::move(perm), {}, {}, {}};
  const int64_t qb = packed_bytes(p.buckets.data(), int64_t(p.buckets.size()), N, K);
  p.qw.assign(size_t(qb), 0);
  p.sc.assign(size_t(N), 0.f);
  p.ze.assign(size_t(N), 0.f);
  quantize_pack(w.data(), N, K, K, p.perm.data(), p.buckets.data(), int64_t(p.buckets.size()), scheme, p.qw.data(), qb,
                p.sc.data(), p.ze.data(), 1, Isa::Scalar);
  for (Isa isa : supported_isas()) {
    std::vector<uint8_t> qw(size_t(qb), 0x5A);
    std::vector<float> sc(size_t(N), NAN), ze(size_t(N), NAN);
    quantize_pack(w.data(), N, K, K, p.perm.data(), p.buckets.data(), int64_t(p.buckets.size()), scheme, qw.data(), qb,
                  sc.data(), ze.data(), 2, isa);
    ++checks;
    if (qw != p.qw || std::memcmp(sc.data(), p.sc.data(), sc.size() * 4) != 0 ||
        std::memcmp(ze.data(), p.ze.data(), ze.size() * 4) != 0)
      fail(std::string("quantize_pack ") + isa_name(isa) + " != scalar (" + label + ")");
  }
  return p;
}

// quantize_pack, the embedding lookup and mp_topk through their public entry points, every
// supported ISA pinned against the scalar ISA: packer bytes, looked-up rows and top-k ids and
// scores all bit-identical.
void ops_pack_embed_topk(uint64_t seed, int cases) {
  uint64_t s = seed;
  const std::vector<Isa> isas = supported_isas();
  for (int t = 0; t < cases; ++t) {
    int64_t K = 1 + int64_t(splitmix(s) % 300);  // <= 256 mostly: the int8 scan; above: the other scanners
    if (t % 6 == 0) K = 1;
    if (t % 4 == 1) K |= 1;
    const int64_t N = 1 + int64_t(splitmix(s) % 150);
    const bool all_pruned = t % 8 == 3;
    const auto scheme = t % 2 ? chord::qpack::Scheme::Asym : chord::qpack::Scheme::Sym;
    std::vector<float> w(size_t(N * K));
    // perm: each bucket's original rows ascending (chord.format), from a random assignment
    std::vector<int64_t> buckets = random_buckets(s, N, all_pruned);
    std::vector<int32_t> order(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) order[size_t(i)] = int32_t(i);
    for (int64_t i = N - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(splitmix(s) % uint64_t(i + 1))]);
    std::vector<int32_t> perm;
    for (size_t b = 0, r = 0; b < buckets.size(); b += 2) {
      std::vector<int32_t> slice(order.begin() + long(r), order.begin() + long(r + size_t(buckets[b + 1])));
      std::sort(slice.begin(), slice.end());
      perm.insert(perm.end(), slice.begin(), slice.end());
      r += size_t(buckets[b + 1]);
    }
    for (int64_t r = 0; r < N; ++r) {  // packed row r reads original row perm[r]
      const int kind = int(splitmix(s) % 10);
      fill_row(s, w.data() + int64_t(perm[size_t(r)]) * K, K,
               kind == 9   ? 1
               : kind == 8 ? 8
                           : 0,
               0, bits_of_packed_row(buckets, r), scheme == chord::qpack::Scheme::Asym);
    }
    const std::string label = "K " + std::to_string(K) + ", N " + std::to_string(N) + ", case " + std::to_string(t);
    const Packed p = pack_all_isas(w, N, K, buckets, perm, scheme, label);

    // embedding lookup (QuantizedEmbedding's per-original-row view of the same packing)
    std::vector<int64_t> rbits(static_cast<size_t>(N)), rslot(static_cast<size_t>(N)), ebk;
    std::vector<float> rsc(static_cast<size_t>(N)), rze(static_cast<size_t>(N));
    int64_t off = 0, row = 0;
    for (size_t b = 0; b < p.buckets.size(); b += 2) {
      const int bits = int(p.buckets[b]);
      const int64_t rows = p.buckets[b + 1];
      for (int64_t i = 0; i < rows; ++i) {
        const int32_t orig = p.perm[size_t(row + i)];
        rbits[size_t(orig)] = bits;
        rslot[size_t(orig)] = i;
        rsc[size_t(orig)] = p.sc[size_t(row + i)];
        rze[size_t(orig)] = p.ze[size_t(row + i)];
      }
      if (bits) ebk.insert(ebk.end(), {bits, off, rows});
      off += bits ? rows * row_bytes_of(K, bits) : 0;
      row += rows;
    }
    const auto table = chord::embedding::make_table(p.qw.data(), int64_t(p.qw.size()), rbits.data(), rslot.data(),
                                                    rsc.data(), rze.data(), N, ebk.data(), int64_t(ebk.size() / 3), K);
    const int64_t nid = 1 + int64_t(splitmix(s) % 40);
    std::vector<int64_t> ids(static_cast<size_t>(nid));
    for (auto& id : ids) id = int64_t(splitmix(s) % uint64_t(N));
    std::vector<float> eref(size_t(nid * K));
    chord::embedding::lookup(table, ids.data(), nid, eref.data(), Isa::Scalar);
    for (Isa isa : isas) {
      std::vector<float> e(size_t(nid * K), NAN);
      chord::embedding::lookup(table, ids.data(), nid, e.data(), isa);
      ++checks;
      if (std::memcmp(e.data(), eref.data(), e.size() * 4) != 0)
        fail(std::string("embedding lookup ") + isa_name(isa) + " != scalar (" + label + ")");
    }

    // mp_topk over the whole table (few users: the int8 scans) and over candidate lists
    const PackedView v = make_packed_view(p.qw.data(), int64_t(p.qw.size()), p.sc.data(), N, p.ze.data(), N,
                                          p.perm.data(), N, p.buckets.data(), int64_t(p.buckets.size()), K);
    const int64_t M = 1 + int64_t(splitmix(s) % 5), k = 1 + int64_t(splitmix(s) % uint64_t(N));
    std::vector<float> x(size_t(M * K));
    for (auto& xv : x) xv = hfloat(s);
    const int64_t C = 1 + int64_t(splitmix(s) % uint64_t(2 * N)), kc = 1 + int64_t(splitmix(s) % uint64_t(C));
    std::vector<int64_t> cand(static_cast<size_t>(C));
    for (auto& c : cand) c = int64_t(splitmix(s) % uint64_t(N));
    for (int act : {0, 8})
      for (int use_cand : {0, 1}) {
        const int64_t kk = use_cand ? kc : k;
        std::vector<float> vref(size_t(M * kk));
        std::vector<int64_t> iref(size_t(M * kk));
        chord::topk::mp_topk(v, x.data(), M, K, kk, use_cand ? cand.data() : nullptr, C, 0, act, vref.data(),
                             iref.data(), 1, Isa::Scalar);
        for (Isa isa : isas) {
          std::vector<float> vv(size_t(M * kk), NAN);
          std::vector<int64_t> ii(size_t(M * kk), -7);
          chord::topk::mp_topk(v, x.data(), M, K, kk, use_cand ? cand.data() : nullptr, C, 0, act, vv.data(), ii.data(),
                               2, isa);
          ++checks;
          if (ii != iref || std::memcmp(vv.data(), vref.data(), vv.size() * 4) != 0)
            fail(std::string("mp_topk ") + isa_name(isa) + " != scalar (act " + std::to_string(act) +
                 (use_cand ? ", candidates" : "") + ", k " + std::to_string(kk) + ", " + label + ")");
        }
      }
  }
}

// FNV-1a digest of quantize_pack's output (best ISA) on fixed hash-generated layers: equal on
// every machine when the packer is bit-identical across architectures (tests/capi compares the
// x86 build's digest with the aarch64 one's under qemu).
uint64_t pack_digest() {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(p)[i]) * 1099511628211ull;
  };
  uint64_t s = 12345;
  const int64_t Ks[6] = {1, 7, 64, 129, 300, 512};
  for (int t = 0; t < 24; ++t) {
    const int64_t K = Ks[t % 6], N = 1 + int64_t(splitmix(s) % 90);
    std::vector<float> w(size_t(N * K));
    const std::vector<int64_t> buckets = random_buckets(s, N, t % 12 == 11);
    std::vector<int32_t> perm(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) perm[size_t(i)] = int32_t((i * 7 + t) % N);
    // perm must be a permutation: i -> (7 i + t) mod N is one when gcd(7, N) = 1
    if (N % 7 == 0)
      for (int64_t i = 0; i < N; ++i) perm[size_t(i)] = int32_t(N - 1 - i);
    for (int64_t r = 0; r < N; ++r)  // packed row r reads row perm[r]: ties at its own width
      fill_row(s, w.data() + int64_t(perm[size_t(r)]) * K, K, int(splitmix(s) % 10), 0, bits_of_packed_row(buckets, r),
               t % 2 == 1);
    const int64_t qb = chord::qpack::packed_bytes(buckets.data(), int64_t(buckets.size()), N, K);
    std::vector<uint8_t> qw(static_cast<size_t>(qb));
    std::vector<float> sc(static_cast<size_t>(N)), ze(static_cast<size_t>(N));
    chord::qpack::quantize_pack(w.data(), N, K, K, perm.data(), buckets.data(), int64_t(buckets.size()),
                                t % 2 ? chord::qpack::Scheme::Asym : chord::qpack::Scheme::Sym, qw.data(), qb,
                                sc.data(), ze.data(), 2);
    mix(qw.data(), qw.size());
    mix(sc.data(), sc.size() * 4);
    mix(ze.data(), ze.size() * 4);
  }
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--pack-digest") {
    std::printf("pack digest %016llx (isa %s)\n", static_cast<unsigned long long>(pack_digest()),
                isa_name(resolve_isa(Isa::Auto)));
    return 0;
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SEED CASES [--require-dotprod | --forbid-dotprod] | --pack-digest\n", argv[0]);
    return 2;
  }
  const uint64_t seed = std::strtoull(argv[1], nullptr, 10);
  std::mt19937_64 rng(seed);
  const int cases = std::atoi(argv[2]);
  const std::string mode = argc > 3 ? argv[3] : "";
#if defined(__aarch64__)
  const bool dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
  std::printf("cpu: dotprod %s; best isa %s\n", dotprod ? "yes" : "no", isa_name(best_isa()));
  if (mode == "--require-dotprod" && !dotprod) fail("expected a CPU with the dot-product extension");
  if (mode == "--forbid-dotprod" && dotprod) fail("expected a CPU without the dot-product extension");
  if (isa_has_neon_dotprod(best_isa()) != dotprod) fail("best_isa disagrees with HWCAP_ASIMDDP");
  kernel_level(rng, cases, dotprod);
  pack_rows(seed, 4 * cases);
  topk_dots(rng, cases, dotprod);
#else
  std::printf("cpu: best isa %s (AArch64 kernel checks not built on this architecture)\n", isa_name(best_isa()));
#endif
  op_level(rng, cases / 2);
  ops_pack_embed_topk(seed, cases / 4);
  std::printf("checks %ld, failures %d\n", checks, failures);
  return failures ? 1 : 0;
}
