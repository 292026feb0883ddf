// Instruction counts of one kernel call, for comparing the AArch64 kernels with the x86 ones
// (emulated timings mean nothing). The shapes and data are those of the x86 callgrind gate
// (tests/bench/gate/callgrind_driver.cpp: same LCG, same row-width mixes), plus an embedding
// lookup. Run it twice -- REPS = 1 and 2 -- under an instruction counter (qemu-aarch64 exec
// logging, or valgrind on x86); the difference is one warm call (tools/arm/insn_count.sh).
//   chord_insn_count OP MIX ISA REPS
//     OP = mp_linear   MIX u4 | u8 | mix3: act8 GEMV, M = 1, K = N = 512
//        | quantize_pack  MIX u8 | mix3: 256 x 520 fp32 rows, symmetric
//        | mp_topk     MIX mix3: top-10 of 1 x 64 against 4096 item rows (act_bits 0)
//        | embedding   MIX mix3: 50 rows of a 4096 x 64 table
//     ISA = scalar | avx2 | neon | neon_dotprod | ...
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/isa.h"
#include "embedding/embedding.h"
#include "mp_linear/mp_linear.h"
#include "quantize_pack/quantize_pack.h"
#include "topk/topk.h"

using namespace chord;

namespace {

struct Lcg {  // callgrind_driver.cpp's stream
  uint64_t s;
  explicit Lcg(uint64_t seed) : s(seed * 6364136223846793005ULL + 1442695040888963407ULL) {}
  uint32_t next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return uint32_t(s >> 33);
  }
  float uniform() { return (next() & 0xFFFFFF) / float(0x1000000) * 2.f - 1.f; }
};

struct Packed {
  int64_t N, K;
  std::vector<int32_t> perm;
  std::vector<int64_t> buckets;
  std::vector<uint8_t> qweight;
  std::vector<float> scales, zeros, w;
};

// callgrind_driver.cpp's make_packed: f8 / f4 of the rows at 8 / 4 bits, the rest at 2
Packed make_packed(int64_t N, int64_t K, double f8, double f4, uint64_t seed) {
  Packed p{N, K, {}, {}, {}, {}, {}, {}};
  Lcg g(seed);
  p.w.resize(size_t(N * K));
  for (auto& v : p.w) v = g.uniform();
  std::vector<int> bits(size_t(N), 2);
  const int64_t n8 = int64_t(std::lround(f8 * N)), n4 = int64_t(std::lround(f4 * N));
  for (int64_t i = 0; i < N; ++i) bits[size_t(i)] = i < n8 ? 8 : i < n8 + n4 ? 4 : 2;
  for (int64_t i = N - 1; i > 0; --i) std::swap(bits[size_t(i)], bits[size_t(g.next() % uint32_t(i + 1))]);
  for (int b : {8, 4, 2, 1, 0}) {
    int64_t n = 0;
    for (int64_t i = 0; i < N; ++i)
      if (bits[size_t(i)] == b) {
        p.perm.push_back(int32_t(i));
        ++n;
      }
    if (n) {
      p.buckets.push_back(b);
      p.buckets.push_back(n);
    }
  }
  p.qweight.resize(size_t(qpack::packed_bytes(p.buckets.data(), int64_t(p.buckets.size()), N, K)));
  p.scales.resize(size_t(N));
  p.zeros.resize(size_t(N));
  qpack::quantize_pack(
      p.w.data(), N, K, K, p.perm.data(), p.buckets.data(), int64_t(p.buckets.size()), qpack::Scheme::Sym,
      p.qweight.data(), int64_t(p.qweight.size()), p.scales.data(), p.zeros.data(),
      1);  // setup, not counted: this CPU's packer (the same bytes on every ISA), fewer logged instructions
  return p;
}

mpl::PackedView view(const Packed& p) {
  return mpl::make_packed_view(p.qweight.data(), int64_t(p.qweight.size()), p.scales.data(), p.N, p.zeros.data(), p.N,
                               p.perm.data(), p.N, p.buckets.data(), int64_t(p.buckets.size()), p.K);
}

std::pair<double, double> mix_fracs(const std::string& mix) {
  return mix == "u8" ? std::make_pair(1.0, 0.0) : mix == "u4" ? std::make_pair(0.0, 1.0) : std::make_pair(0.125, 0.125);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s mp_linear|quantize_pack|mp_topk|embedding MIX ISA REPS\n", argv[0]);
    return 2;
  }
  const std::string op = argv[1], mix = argv[2];
  const Isa isa = parse_isa(argv[3]);
  const int reps = std::atoi(argv[4]);
  const auto f = mix_fracs(mix);
  double check = 0;
  if (op == "mp_linear") {
    Packed p = make_packed(512, 512, f.first, f.second, 1);
    const mpl::PackedView v = view(p);
    Lcg g(2);
    std::vector<float> x(512), y(512);
    for (auto& e : x) e = g.uniform();
    for (int r = 0; r < reps; ++r)
      mpl::mp_linear(v, x.data(), mpl::DType::F32, 1, 512, 1, nullptr, 8, y.data(), mpl::DType::F32, 512, 1, isa);
    check = y[0];
  } else if (op == "quantize_pack") {
    Packed p = make_packed(256, 520, f.first, f.second, 1);
    std::vector<float> sc(256), ze(256);
    for (int r = 0; r < reps; ++r)
      qpack::quantize_pack(p.w.data(), p.N, p.K, p.K, p.perm.data(), p.buckets.data(), int64_t(p.buckets.size()),
                           qpack::Scheme::Sym, p.qweight.data(), int64_t(p.qweight.size()), sc.data(), ze.data(), 1,
                           isa);
    check = sc[0] + p.qweight[7];
  } else if (op == "mp_topk") {
    Packed p = make_packed(4096, 64, 0.125, 0.125, 4);
    const mpl::PackedView w = view(p);
    Lcg g(5);
    std::vector<float> x(64), vals(10);
    std::vector<int64_t> ids(10);
    for (auto& e : x) e = g.uniform();
    for (int r = 0; r < reps; ++r)
      topk::mp_topk(w, x.data(), 1, 64, 10, nullptr, 0, 0, 0, vals.data(), ids.data(), 1, isa);
    check = vals[0] + double(ids[0]);
  } else if (op == "embedding") {
    Packed p = make_packed(4096, 64, 0.125, 0.125, 4);
    // QuantizedEmbedding's per-original-row view of the packing
    std::vector<int64_t> rbits(4096), rslot(4096), bk;
    std::vector<float> rsc(4096), rze(4096);
    int64_t row = 0, off = 0;
    for (size_t b = 0; b < p.buckets.size(); b += 2) {
      const int bits = int(p.buckets[b]);
      for (int64_t i = 0; i < p.buckets[b + 1]; ++i) {
        const int32_t o = p.perm[size_t(row + i)];
        rbits[size_t(o)] = bits;
        rslot[size_t(o)] = i;
        rsc[size_t(o)] = p.scales[size_t(row + i)];
        rze[size_t(o)] = p.zeros[size_t(row + i)];
      }
      bk.insert(bk.end(), {bits, off, p.buckets[b + 1]});
      off += p.buckets[b + 1] * fmt::row_bytes(64, bits);
      row += p.buckets[b + 1];
    }
    const auto t = embedding::make_table(p.qweight.data(), int64_t(p.qweight.size()), rbits.data(), rslot.data(),
                                         rsc.data(), rze.data(), 4096, bk.data(), int64_t(bk.size() / 3), 64);
    Lcg g(6);
    std::vector<int64_t> ids(50);
    for (auto& id : ids) id = int64_t(g.next() % 4096);
    std::vector<float> out(50 * 64);
    for (int r = 0; r < reps; ++r) embedding::lookup(t, ids.data(), 50, out.data(), isa);
    check = out[3];
  } else {
    std::fprintf(stderr, "unknown op %s\n", op.c_str());
    return 2;
  }
  std::printf("%s %s %s check %.6e\n", op.c_str(), mix.c_str(), argv[3], check);
  return 0;
}
