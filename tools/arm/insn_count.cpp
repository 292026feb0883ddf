// Instruction counts of one kernel call, for comparing the AArch64 kernels with the x86 ones
// (emulated timings mean nothing). The shapes and data are those of the x86 callgrind gate
// (tests/bench/gate/gate_inputs.h: same LCG, same row-width mixes), plus an embedding
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
#include <exception>
#include <string>
#include <vector>

#include "common/isa.h"
#include "embedding/embedding.h"
#include "gate_inputs.h"  // tests/bench/gate: the LCG, the mixes and the packed weights
#include "mp_linear/mp_linear.h"
#include "quantize_pack/quantize_pack.h"
#include "topk/topk.h"

using namespace chord;
using gate::make_packed;
using gate::view;

namespace {

int run(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s mp_linear|quantize_pack|mp_topk|embedding MIX ISA REPS\n", argv[0]);
    return 2;
  }
  const std::string op = argv[1], mix = argv[2];
  const Isa isa = parse_isa(argv[3]);
  const int reps = std::atoi(argv[4]);
  const gate::Mix m = gate::mix(mix);
  double check = 0;
  if (op == "mp_linear") {
    const gate::Packed p = make_packed(512, 512, m, 1);
    const mpl::PackedView v = view(p);
    const std::vector<float> x = gate::uniform(512, 2);
    std::vector<float> y(512);
    for (int r = 0; r < reps; ++r)
      mpl::mp_linear(v, x.data(), mpl::DType::F32, 1, 512, 1, nullptr, 8, y.data(), mpl::DType::F32, 512, 1, isa);
    check = y[0];
  } else if (op == "quantize_pack") {
    gate::Packed p = make_packed(256, 520, m, 1);
    std::vector<float> sc(256), ze(256);
    for (int r = 0; r < reps; ++r)
      qpack::quantize_pack(p.w.data(), p.N, p.K, p.K, p.perm.data(), p.buckets.data(), int64_t(p.buckets.size()),
                           qpack::Scheme::Sym, p.qweight.data(), int64_t(p.qweight.size()), sc.data(), ze.data(), 1,
                           isa);
    check = sc[0] + p.qweight[7];
  } else if (op == "mp_topk") {
    const gate::Packed p = make_packed(4096, 64, gate::mix("mix3"), 4);
    const mpl::PackedView w = view(p);
    const std::vector<float> x = gate::uniform(64, 5);
    std::vector<float> vals(10);
    std::vector<int64_t> ids(10);
    for (int r = 0; r < reps; ++r)
      topk::mp_topk(w, x.data(), 1, 64, 10, nullptr, 0, 0, 0, vals.data(), ids.data(), 1, isa);
    check = vals[0] + double(ids[0]);
  } else if (op == "embedding") {
    const gate::Packed p = make_packed(4096, 64, gate::mix("mix3"), 4);
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
    gate::Lcg g(6);
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

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // a bad ISA or mix name
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 2;
  }
}
