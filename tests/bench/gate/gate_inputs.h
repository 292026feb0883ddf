// The inputs of the instruction-count gate, shared by the x86 callgrind driver
// (callgrind_driver.cpp, next to this file) and the AArch64 instruction counter
// (tools/arm/insn_count.cpp), so both count the kernels on the same data: a fixed,
// platform-independent LCG and packed weights of a given row-width mix. Setup only: nothing
// here is counted. Changing it changes tests/bench/gate/callgrind.json's counts.
#pragma once
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mp_linear/mp_linear.h"
#include "quantize_pack/quantize_pack.h"

namespace chord {
namespace gate {

struct Lcg {  // fixed, platform-independent pseudo-random stream
  uint64_t s;
  explicit Lcg(uint64_t seed) : s(seed * 6364136223846793005ULL + 1442695040888963407ULL) {}
  uint32_t next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return uint32_t(s >> 33);
  }
  float uniform() { return (next() & 0xFFFFFF) / float(0x1000000) * 2.f - 1.f; }  // [-1, 1)
};

// A row-width mix: fraction f8 / f4 of the rows at 8 / 4 bits, the rest at 2.
struct Mix {
  const char* name;
  double f8, f4;
};
inline Mix mix(const std::string& name) {
  for (const Mix& m : {Mix{"mix3", 0.125, 0.125}, Mix{"u4", 0.0, 1.0}, Mix{"u8", 1.0, 0.0}})
    if (name == m.name) return m;
  throw std::invalid_argument("unknown mix " + name + " (mix3, u4 or u8)");
}

// A packed weight built by quantize_pack.
struct Packed {
  int64_t N, K;
  std::vector<int32_t> perm;
  std::vector<int64_t> buckets;
  std::vector<uint8_t> qweight;
  std::vector<float> scales, zeros, w;
};

// N x K uniform weights whose row widths follow mix m, scattered by the LCG; perm/buckets as
// chord.mixed_weight.plan_buckets builds them (widest first, stable). isa: the packer's (the
// same bytes on every ISA).
inline Packed make_packed(int64_t N, int64_t K, const Mix& m, uint64_t seed, qpack::Isa isa = qpack::Isa::Auto) {
  Packed p{N, K, {}, {}, {}, {}, {}, {}};
  Lcg g(seed);
  p.w.resize(size_t(N * K));
  for (auto& v : p.w) v = g.uniform();
  std::vector<int> bits(size_t(N), 2);
  const int64_t n8 = int64_t(std::lround(m.f8 * N)), n4 = int64_t(std::lround(m.f4 * N));
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
  qpack::quantize_pack(p.w.data(), N, K, K, p.perm.data(), p.buckets.data(), int64_t(p.buckets.size()),
                       qpack::Scheme::Sym, p.qweight.data(), int64_t(p.qweight.size()), p.scales.data(), p.zeros.data(),
                       1, isa);
  return p;
}

inline mpl::PackedView view(const Packed& p) {
  return mpl::make_packed_view(p.qweight.data(), int64_t(p.qweight.size()), p.scales.data(), p.N, p.zeros.data(), p.N,
                               p.perm.data(), p.N, p.buckets.data(), int64_t(p.buckets.size()), p.K);
}

// n values of the LCG stream seeded with `seed`, in [-1, 1) (activations).
inline std::vector<float> uniform(size_t n, uint64_t seed) {
  Lcg g(seed);
  std::vector<float> v(n);
  for (auto& e : v) e = g.uniform();
  return v;
}

}  // namespace gate
}  // namespace chord
