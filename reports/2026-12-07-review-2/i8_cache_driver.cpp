// ASan/UBSan driver of the act_bits = 8 paths (direct, panel, small) on exact-size buffers:
// random bucket tables (any order, repeated widths, empty and pruned buckets), random bytes,
// extreme activations, every ISA and path against scalar direct, bit for bit.
// (review-1's i8_driver.cpp, plus for review-2: every small / auto call is made again through a
// WeightCache kept per weight -- the layout built by the first such call and read by the later
// ones, as the eager handle and the fused runtime call it -- and half the views are made with
// PermCheck::Range, the registered op's check.)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>
#include "mp_linear/mp_linear.h"
#include "mp_linear/mp_linear_kernels.h"
#include "mp_linear/mp_linear_small_i8.h"
using namespace chord;
using namespace chord::mpl;
static std::mt19937 rng(11);
static int64_t rb_of(int64_t K, int b) {
  if (!b) return 0;
  int64_t be = 16 * (8 / b);
  return (K + be - 1) / be * be * b / 8;
}
int main(int argc, char** argv) {
  int iters = argc > 1 ? atoi(argv[1]) : 200;
  if (argc > 2) rng.seed(unsigned(atoi(argv[2])));
  long runs = 0, fails = 0;
  const int widths[] = {0, 1, 2, 4, 8};
  const int64_t Ks[] = {1, 15, 16, 17, 64, 100, 127, 128, 129, 256, 257, 300, 513, 1000, 1025, 2049, 4100};
  const int64_t Ms[] = {1, 1, 2, 3, 5, 7, 8, 24, 25, 33};
  for (int it = 0; it < iters; ++it) {
    const int64_t K = rng() % 3 ? Ks[rng() % 17] : 1 + rng() % 3000;
    std::vector<int64_t> bk;
    int64_t N = 0;
    const int nb = 1 + rng() % 6;
    for (int i = 0; i < nb; ++i) {
      int b = widths[rng() % 5];
      int64_t n = rng() % 4 == 0 ? 0 : rng() % (it % 10 == 0 ? 600 : 20);
      bk.push_back(b);
      bk.push_back(n);
      N += n;
    }
    if (!N) {
      bk.push_back(2);
      bk.push_back(1);
      N = 1;
    }
    int64_t bytes = 0;
    for (size_t i = 0; i < bk.size(); i += 2) bytes += bk[i + 1] * rb_of(K, int(bk[i]));
    std::vector<uint8_t> q(static_cast<size_t>(bytes));
    const int fill = rng() % 4;  // 0: random, 1: all 255, 2: all 0
    for (auto& c : q) c = fill == 1 ? 255 : fill == 2 ? 0 : uint8_t(rng());
    std::vector<float> sc(N), ze(N), bias(N);
    for (auto& v : sc) v = 0.01f + (rng() % 1000) / 300.f;
    for (auto& v : ze) v = float(int(rng() % 300) - 40) / 3.f;
    for (auto& v : bias) v = float(int(rng() % 2000) - 1000) / 77.f;
    std::vector<int32_t> perm(N);
    for (int64_t i = 0; i < N; ++i) perm[i] = int32_t(i);
    std::shuffle(perm.begin(), perm.end(), rng);
    PackedView w =
        make_packed_view(bytes ? q.data() : nullptr, bytes, sc.data(), N, ze.data(), N, perm.data(), N, bk.data(),
                         int64_t(bk.size()), K, it % 2 ? PermCheck::Range : PermCheck::Permutation);
    WeightCache cache;  // this weight's, across every call below
    const int64_t M = Ms[rng() % 10];
    std::vector<float> x(size_t(M * K));
    const int xk = rng() % 5;
    for (int64_t i = 0; i < M * K; ++i) {
      float v = float(int(rng() % 20001) - 10000) / 5000.f;
      if (xk == 1) v = (i / K) % 2 ? -1.f : 1.f;
      if (xk == 2) v = (i % 2) ? -1.f : 1.f;
      if (xk == 3) v = float(int(rng() % 3) - 1);
      x[size_t(i)] = v;
    }
    if (xk == 4) {
      x[0] = INFINITY;
      if (M > 1) x[size_t(K)] = NAN;
    }
    const bool use_bias = rng() % 2;
    const int64_t ldy = N + (rng() % 3 == 0 ? 3 : 0);
    std::vector<float> y0(size_t(M * ldy), -7.f);
    mp_linear(w, x.data(), DType::F32, M, K, 1, use_bias ? bias.data() : nullptr, 8, y0.data(), DType::F32, ldy, 1,
              Isa::Scalar, Path::Direct);
    for (Isa isa : {Isa::Scalar, Isa::Avx2})
      for (Path p : {Path::Direct, Path::Panel, Path::Small, Path::Auto})
        for (int nt : {1, 2}) {
          if (p == Path::Panel && K > kMaxKGemmI8) continue;
          if (p == Path::Small && !small_i8_fits(w, resolve_isa(isa))) continue;
          std::vector<float> y(size_t(M * ldy), -7.f);
          try {
            mp_linear(w, x.data(), DType::F32, M, K, 1, use_bias ? bias.data() : nullptr, 8, y.data(), DType::F32, ldy,
                      nt, isa, p);
          } catch (const std::exception& e) {
            printf("threw K=%ld N=%ld M=%ld isa=%d path=%d: %s\n", long(K), long(N), long(M), int(isa), int(p),
                   e.what());
            ++fails;
            continue;
          }
          ++runs;
          if (p == Path::Small || p == Path::Auto) {  // the same call through the weight's cache
            std::vector<float> yc(size_t(M * ldy), -7.f);
            mp_linear(w, x.data(), DType::F32, M, K, 1, use_bias ? bias.data() : nullptr, 8, yc.data(), DType::F32, ldy,
                      nt, isa, p, &cache);
            ++runs;
            if (std::memcmp(yc.data(), y.data(), y.size() * 4) != 0) {
              printf("MISMATCH cached it=%d K=%ld N=%ld M=%ld isa=%d path=%d nt=%d\n", it, long(K), long(N), long(M),
                     int(isa), int(p), nt);
              ++fails;
            }
          }
          for (size_t i = 0; i < y.size(); ++i) {
            uint32_t a, b;
            std::memcpy(&a, &y[i], 4);
            std::memcpy(&b, &y0[i], 4);
            const bool same = a == b || (std::isnan(y[i]) && std::isnan(y0[i]));
            if (!same) {
              printf("MISMATCH it=%d K=%ld N=%ld M=%ld isa=%d path=%d nt=%d i=%zu %g vs %g\n", it, long(K), long(N),
                     long(M), int(isa), int(p), nt, i, double(y[i]), double(y0[i]));
              ++fails;
              break;
            }
          }
          // half output: staged gather and store_y on the GEMM path
          std::vector<uint16_t> yh(size_t(M * ldy)), yh0(size_t(M * ldy));
          if (nt == 2 && p != Path::Auto) {
            mp_linear(w, x.data(), DType::F32, M, K, 1, use_bias ? bias.data() : nullptr, 8, yh0.data(), DType::F16,
                      ldy, 1, Isa::Scalar, Path::Direct);
            mp_linear(w, x.data(), DType::F32, M, K, 1, use_bias ? bias.data() : nullptr, 8, yh.data(), DType::F16, ldy,
                      2, isa, p, &cache);
            if (yh != yh0) {
              printf("MISMATCH f16 it=%d K=%ld N=%ld M=%ld isa=%d path=%d\n", it, long(K), long(N), long(M), int(isa),
                     int(p));
              ++fails;
            }
          }
        }
  }
  printf("runs %ld, failures %ld\n", runs, fails);
  return fails != 0;
}
