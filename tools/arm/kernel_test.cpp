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
#include <sys/auxv.h>

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
#include "mp_linear/mp_linear.h"
#include "mp_linear/mp_linear_kernels.h"

#ifndef HWCAP_ASIMDDP
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SEED CASES [--require-dotprod | --forbid-dotprod]\n", argv[0]);
    return 2;
  }
  std::mt19937_64 rng(std::strtoull(argv[1], nullptr, 10));
  const int cases = std::atoi(argv[2]);
  const std::string mode = argc > 3 ? argv[3] : "";
  const bool dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
  std::printf("cpu: dotprod %s; best isa %s\n", dotprod ? "yes" : "no", isa_name(best_isa()));
  if (mode == "--require-dotprod" && !dotprod) fail("expected a CPU with the dot-product extension");
  if (mode == "--forbid-dotprod" && dotprod) fail("expected a CPU without the dot-product extension");
  if (isa_has_neon_dotprod(best_isa()) != dotprod) fail("best_isa disagrees with HWCAP_ASIMDDP");
  kernel_level(rng, cases, dotprod);
  op_level(rng, cases / 2);
  std::printf("checks %ld, failures %d\n", checks, failures);
  return failures ? 1 : 0;
}
