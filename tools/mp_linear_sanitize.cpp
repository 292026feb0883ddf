// Standalone ASan+UBSan driver of the mp_linear kernels (no Python): every ISA, act_bits 0/8,
// fp32/fp16/bf16 in and out, transposed x, K around block edges, pruned/mixed buckets, score_rows,
// dequantize_rows, the >256-row chunking. Build and run (from the repository root):
//   g++ -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -std=c++17 -Icsrc \
//     tools/mp_linear_sanitize.cpp csrc/mp_linear/mp_linear.cpp csrc/mp_linear/mp_linear_ref.cpp
//     csrc/mp_linear/mp_linear_avx2.cpp \ csrc/mp_linear/mp_linear_avx512.cpp csrc/common/parallel.cpp -lpthread -o
//     /tmp/mpl_san && UBSAN_OPTIONS=halt_on_error=1 /tmp/mpl_san
// (runs on a CPU with AVX-512; on others drop the Avx512 / Avx2 entries of the ISA list).
#include <cstdio>
#include <random>
#include <vector>
#include "mp_linear/mp_linear.h"
using namespace chord::mpl;
int main() {
  std::mt19937 rng(7);
  int runs = 0;
  for (int64_t K : {1, 15, 16, 17, 63, 100, 129, 300, 513, 1025})
    for (int64_t N : {1, 5, 37}) {
      // buckets: random widths per bucket, incl. pruned
      std::vector<int64_t> bk;
      int64_t left = N;
      for (int b : {8, 4, 2, 1, 0}) {
        int64_t n = (b == 0) ? left : std::min<int64_t>(left, rng() % (N + 1));
        if (n) {
          bk.push_back(b);
          bk.push_back(n);
          left -= n;
        }
      }
      int64_t bytes = 0;
      for (size_t i = 0; i < bk.size(); i += 2) {
        int b = bk[i];
        if (b) {
          int64_t be = 16 * (8 / b);
          bytes += bk[i + 1] * ((K + be - 1) / be * be * b / 8);
        }
      }
      std::vector<uint8_t> q(bytes);
      for (auto& c : q) c = rng();
      std::vector<float> sc(N), ze(N);
      for (auto& v : sc) v = (rng() % 100) / 50.f;
      for (auto& v : ze) v = float(rng() % 8);
      std::vector<int32_t> perm(N);
      for (int64_t i = 0; i < N; ++i) perm[i] = int32_t(N - 1 - i);
      PackedView w = make_packed_view(bytes ? q.data() : nullptr, bytes, sc.data(), N, ze.data(), N, perm.data(), N,
                                      bk.data(), bk.size(), K);
      for (int64_t M : {1, 3, 4, 9, 17}) {
        std::vector<float> x(M * K);
        for (auto& v : x) v = (rng() % 2000) / 1000.f - 1;
        std::vector<uint16_t> xh(M * K, 0x3c00);
        std::vector<float> bias(N, 0.5f), y(M * N);
        std::vector<uint16_t> yh(M * N);
        for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
          for (int act : {0, 8}) {
            mp_linear(w, x.data(), DType::F32, M, K, 1, bias.data(), act, y.data(), DType::F32, N, 2, isa);
            mp_linear(w, x.data(), DType::F32, M, 1, M, nullptr, act, y.data(), DType::F32, N, 1, isa);  // transposed
            mp_linear(w, xh.data(), DType::F16, M, K, 1, nullptr, act, yh.data(), DType::F16, N, 2, isa);
            mp_linear(w, xh.data(), DType::BF16, M, K, 1, bias.data(), act, yh.data(), DType::BF16, N, 2, isa);
            PreparedActs a(x.data(), DType::F32, M, K, K, 1, w.width_mask, act, isa);
            std::vector<float> out(M * N);
            score_rows(w, a, 0, N, out.data(), N);
            runs += 6;
          }
        std::vector<float> dq(N * K);
        dequantize_rows(w, 0, N, dq.data(), K, 2);
      }
    }
  std::vector<float> xb(300 * 40, 0.1f), yb(300 * 5);
  std::vector<int64_t> bk = {2, 5};
  std::vector<uint8_t> q(5 * 16);
  std::vector<float> s(5, 1), z(5, 2);
  std::vector<int32_t> p = {0, 1, 2, 3, 4};
  PackedView w = make_packed_view(q.data(), 80, s.data(), 5, z.data(), 5, p.data(), 5, bk.data(), 2, 40);
  mp_linear(w, xb.data(), DType::F32, 300, 40, 1, nullptr, 0, yb.data(), DType::F32, 5, 2, Isa::Auto);  // chunked
  printf("ok %d runs\n", runs);
}
