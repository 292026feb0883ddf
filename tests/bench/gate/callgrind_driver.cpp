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

#include "gate_inputs.h"
#include "mp_linear/mp_linear.h"
#include "quantize_pack/quantize_pack.h"
#if __has_include("topk/topk.h")
#include "topk/topk.h"
#define CHORD_HAVE_TOPK 1
#endif

using namespace chord;
using gate::make_packed;
using gate::mix;
using gate::view;

namespace {

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
    for (const char* name : {"mix3", "u8"}) {
      gate::Packed p = make_packed(256, 520, mix(name), 1, qisa);
      std::vector<uint8_t> qw(p.qweight.size());
      std::vector<float> sc(size_t(p.N)), ze(size_t(p.N));
      counted(std::string("quantize_pack/") + name + "/256x520", [&] {
        qpack::quantize_pack(p.w.data(), p.N, p.K, p.K, p.perm.data(), p.buckets.data(), int64_t(p.buckets.size()),
                             qpack::Scheme::Sym, qw.data(), int64_t(qw.size()), sc.data(), ze.data(), 1, qisa);
      });
      std::printf("quantize_pack/%s %.6e\n", name, checksum(sc.data(), sc.size()));
    }
    // --- mp_linear: M x K=512 x N=512 at each mix and activation path ---------------------
    for (const char* name : {"mix3", "u4", "u8"}) {
      gate::Packed p = make_packed(512, 512, mix(name), 2, qisa);
      const mpl::PackedView w = view(p);
      for (int64_t M : {1, 16}) {
        const std::vector<float> x = gate::uniform(size_t(M * p.K), 3);
        std::vector<float> y(size_t(M * p.N));
        for (int act : {0, 8}) {
          const std::string cs =
              std::string("mp_linear/") + name + "/M" + std::to_string(M) + "xK512xN512/" + (act ? "act8" : "exact");
          counted(cs, [&] {
            mpl::mp_linear(w, x.data(), mpl::DType::F32, M, p.K, 1, nullptr, act, y.data(), mpl::DType::F32, p.N, 1,
                           isa);
          });
          std::printf("%s %.6e\n", cs.c_str(), checksum(y.data(), y.size()));
        }
      }
    }
    // --- mp_linear on a small layer at sequence-batch M (SASRec's d = 64): the panel path ----
    {
      gate::Packed p = make_packed(64, 64, mix("mix3"), 6, qisa);
      const mpl::PackedView w = view(p);
      const int64_t M = 64;
      const std::vector<float> x = gate::uniform(size_t(M * p.K), 7);
      std::vector<float> y(size_t(M * p.N));
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
      gate::Packed p = make_packed(4096, 64, mix("mix3"), 4, qisa);
      const mpl::PackedView w = view(p);
      const std::vector<float> x = gate::uniform(64, 5);
      std::vector<float> vals(10);
      std::vector<int64_t> ids(10);
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
