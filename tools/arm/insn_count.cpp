// Instruction count of one mp_linear act8 GEMV call (M = 1, K = N = 512) on AArch64, for the
// comparison with the x86 callgrind counts (benchmarks/baselines/callgrind.json, same shapes
// and mixes as benchmarks/callgrind/driver.cpp). Run under qemu twice -- REPS = 1 and 2 --
// with one instruction per translation block and exec logging; the difference of the logged
// instruction counts is one call (tools/arm/insn_count.sh does it).
//   chord_insn_count MIX ISA REPS      MIX: u4 | u8 | mix3; ISA: neon | neon_dotprod | scalar
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/isa.h"
#include "mp_linear/mp_linear.h"
#include "quantize_pack/quantize_pack.h"

using namespace chord;

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  const std::string mix = argv[1];
  const Isa isa = parse_isa(argv[2]);
  const int reps = std::atoi(argv[3]);
  const int64_t N = 512, K = 512;
  // rows by width: mix3 = 1/8 8-bit, 1/8 4-bit, 3/4 2-bit (the callgrind driver's mix)
  int64_t n8 = mix == "u8" ? N : mix == "mix3" ? N / 8 : 0;
  int64_t n4 = mix == "u4" ? N : mix == "mix3" ? N / 8 : 0;
  int64_t n2 = N - n8 - n4;
  std::vector<int64_t> buckets;
  for (auto bn : {std::make_pair(8, n8), std::make_pair(4, n4), std::make_pair(2, n2)})
    if (bn.second) {
      buckets.push_back(bn.first);
      buckets.push_back(bn.second);
    }
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> w(static_cast<size_t>(N * K)), x(static_cast<size_t>(K)), y(static_cast<size_t>(N));
  for (auto& v : w) v = u(rng);
  for (auto& v : x) v = u(rng);
  std::vector<int32_t> perm(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) perm[static_cast<size_t>(i)] = int32_t(i);
  const int64_t qb = qpack::packed_bytes(buckets.data(), int64_t(buckets.size()), N, K);
  std::vector<uint8_t> qw(static_cast<size_t>(qb));
  std::vector<float> sc(static_cast<size_t>(N)), ze(static_cast<size_t>(N));
  qpack::quantize_pack(w.data(), N, K, K, perm.data(), buckets.data(), int64_t(buckets.size()), qpack::Scheme::Sym,
                       qw.data(), qb, sc.data(), ze.data(), 1, Isa::Scalar);
  const mpl::PackedView v = mpl::make_packed_view(qw.data(), qb, sc.data(), N, ze.data(), N, perm.data(), N,
                                                  buckets.data(), int64_t(buckets.size()), K);
  for (int r = 0; r < reps; ++r)
    mpl::mp_linear(v, x.data(), mpl::DType::F32, 1, K, 1, nullptr, 8, y.data(), mpl::DType::F32, N, 1, isa);
  std::printf("%s %s y0 %.6e\n", mix.c_str(), argv[2], double(y[0]));
  return 0;
}
