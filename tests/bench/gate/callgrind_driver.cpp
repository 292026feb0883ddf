// Deterministic instruction-count driver for chord's C++ CPU kernels (run under
// `valgrind --tool=callgrind --collect-atstart=no`; see python/chord/bench/callgrind.py).
//
// Links the kernel sources of csrc/ directly (no Python, no torch, no pybind11, no OpenMP) and
// runs each fixed small case once with collection toggled on around the kernel call only, then
// dumps the counters under the case's name. Inputs come from a fixed LCG, so the instruction
// count of a case depends only on the kernel code, the compiler and the ISA, which is pinned
// per run (argv[1] = scalar | avx2): never the CPU's dispatch or the thread count.
//
// Without valgrind the client requests are no-ops: `driver avx2` just runs every case and
// prints a checksum per case (a smoke test that the kernels link and run).
#include <valgrind/callgrind.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "mp_linear/mp_linear.h"
#include "quantize_pack/quantize_pack.h"
#if __has_include("topk/topk.h")
#include "topk/topk.h"
#define CHORD_HAVE_TOPK 1
#endif

using namespace chord;

namespace {

struct Lcg {  // fixed, platform-independent pseudo-random stream
  uint64_t s;
  explicit Lcg(uint64_t seed) : s(seed * 6364136223846793005ULL + 1442695040888963407ULL) {}
  uint32_t next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return uint32_t(s >> 33);
  }
  float uniform() { return (next() & 0xFFFFFF) / float(0x1000000) * 2.f - 1.f; }  // [-1, 1)
};

// A packed weight built by quantize_pack (setup: not counted).
struct Packed {
  int64_t N, K;
  std::vector<int32_t> perm;
  std::vector<int64_t> buckets;
  std::vector<uint8_t> qweight;
  std::vector<float> scales, zeros, w;
};

// Row widths of a mix: frac8/frac4 of rows at 8/4 bits, the rest at 2, scattered by the LCG;
// perm/buckets as chord.mixed_weight.plan_buckets builds them (widest first, stable).
Packed make_packed(int64_t N, int64_t K, double f8, double f4, uint64_t seed, qpack::Isa isa) {
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
  qpack::quantize_pack(p.w.data(), N, K, K, p.perm.data(), p.buckets.data(), int64_t(p.buckets.size()),
                       qpack::Scheme::Sym, p.qweight.data(), int64_t(p.qweight.size()), p.scales.data(), p.zeros.data(),
                       1, isa);
  return p;
}

mpl::PackedView view(const Packed& p) {
  return mpl::make_packed_view(p.qweight.data(), int64_t(p.qweight.size()), p.scales.data(), p.N, p.zeros.data(), p.N,
                               p.perm.data(), p.N, p.buckets.data(), int64_t(p.buckets.size()), p.K);
}

double checksum(const float* v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += double(v[i]) * double((i % 7) + 1);
  return s;
}

template <class F>
void counted(const std::string& name, F&& body) {
  body();  // warm: first-touch, lazy statics; not counted
  CALLGRIND_TOGGLE_COLLECT;
  body();
  CALLGRIND_TOGGLE_COLLECT;
  CALLGRIND_DUMP_STATS_AT(name.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || (std::strcmp(argv[1], "scalar") && std::strcmp(argv[1], "avx2"))) {
    std::fprintf(stderr, "usage: %s scalar|avx2\n", argv[0]);
    return 2;
  }
  const bool avx2 = !std::strcmp(argv[1], "avx2");
  const mpl::Isa isa = avx2 ? mpl::Isa::Avx2 : mpl::Isa::Scalar;
  const qpack::Isa qisa = avx2 ? qpack::Isa::Avx2 : qpack::Isa::Scalar;
  try {
    // --- adaptation: quantize + pack 256 x 520 fp32 rows (K not a block multiple) -----------
    for (const auto& m : {std::make_tuple("mix3", 0.125, 0.125), std::make_tuple("u8", 1.0, 0.0)}) {
      Packed p = make_packed(256, 520, std::get<1>(m), std::get<2>(m), 1, qisa);
      std::vector<uint8_t> qw(p.qweight.size());
      std::vector<float> sc(size_t(p.N)), ze(size_t(p.N));
      counted(std::string("quantize_pack/") + std::get<0>(m) + "/256x520", [&] {
        qpack::quantize_pack(p.w.data(), p.N, p.K, p.K, p.perm.data(), p.buckets.data(), int64_t(p.buckets.size()),
                             qpack::Scheme::Sym, qw.data(), int64_t(qw.size()), sc.data(), ze.data(), 1, qisa);
      });
      std::printf("quantize_pack/%s %.6e\n", std::get<0>(m), checksum(sc.data(), sc.size()));
    }
    // --- mp_linear: M x K=512 x N=512 at each mix and activation path ---------------------
    for (const auto& m :
         {std::make_tuple("mix3", 0.125, 0.125), std::make_tuple("u4", 0.0, 1.0), std::make_tuple("u8", 1.0, 0.0)}) {
      Packed p = make_packed(512, 512, std::get<1>(m), std::get<2>(m), 2, qisa);
      const mpl::PackedView w = view(p);
      for (int64_t M : {1, 16}) {
        Lcg g(3);
        std::vector<float> x(size_t(M * p.K)), y(size_t(M * p.N));
        for (auto& v : x) v = g.uniform();
        for (int act : {0, 8}) {
          const std::string name = std::string("mp_linear/") + std::get<0>(m) + "/M" + std::to_string(M) +
                                   "xK512xN512/" + (act ? "act8" : "exact");
          counted(name, [&] {
            mpl::mp_linear(w, x.data(), mpl::DType::F32, M, p.K, 1, nullptr, act, y.data(), mpl::DType::F32, p.N, 1,
                           isa);
          });
          std::printf("%s %.6e\n", name.c_str(), checksum(y.data(), y.size()));
        }
      }
    }
    // --- mp_linear on a small layer at sequence-batch M (SASRec's d = 64): the panel path ----
    {
      Packed p = make_packed(64, 64, 0.125, 0.125, 6, qisa);
      const mpl::PackedView w = view(p);
      const int64_t M = 64;
      Lcg g(7);
      std::vector<float> x(size_t(M * p.K)), y(size_t(M * p.N));
      for (auto& v : x) v = g.uniform();
      if (mpl::choose_path(w, M, 0, isa) != mpl::Path::Panel)
        throw std::runtime_error("64x64x64 not on the panel path");
      counted("mp_linear/mix3/M64xK64xN64/exact", [&] {
        mpl::mp_linear(w, x.data(), mpl::DType::F32, M, p.K, 1, nullptr, 0, y.data(), mpl::DType::F32, p.N, 1, isa);
      });
      std::printf("mp_linear/mix3/M64xK64xN64 %.6e\n", checksum(y.data(), y.size()));
    }
#ifdef CHORD_HAVE_TOPK
    // --- scoring: top-10 of 1 x 64 against 4096 item rows -----------------------------------
    {
      Packed p = make_packed(4096, 64, 0.125, 0.125, 4, qisa);
      const mpl::PackedView w = view(p);
      Lcg g(5);
      std::vector<float> x(64), vals(10);
      std::vector<int64_t> ids(10);
      for (auto& v : x) v = g.uniform();
      counted("mp_topk/mix3/1x64x4096/k10",
              [&] { topk::mp_topk(w, x.data(), 1, 64, 10, nullptr, 0, 0, 0, vals.data(), ids.data(), 1, isa); });
      std::printf("mp_topk/mix3 %.6e %lld\n", checksum(vals.data(), vals.size()), (long long)ids[0]);
    }
#endif
  } catch (const std::exception& e) {
    std::fprintf(stderr, "driver: %s\n", e.what());
    return 1;
  }
  return 0;
}
