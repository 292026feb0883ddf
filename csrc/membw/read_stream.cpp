// The streaming-read probe (read_stream.h): 64-byte loads (AVX-512) or 32-byte (AVX2), both in
// read_stream_avx512.cpp, into four independent accumulators, 256 bytes per step, so the loop
// is bound by the loads, never by an add chain; the portable reader here reads 64-bit words
// the same way. Both x86 readers also read 2, 4 or 8 parts in lockstep (`streams`): on an
// AVX2-only Zen 3 one stream stopped ~20 % below what 2-8 streams (and torch's fp32 GEMV) read
// from DRAM on one thread (reports/2026-12-07-avx2-gemv.md), so the roof takes the best of both.
#include "membw/read_stream.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/isa.h"
#include "common/parallel.h"
#include "membw/read_stream_kernels.h"

namespace chord {
namespace membw {
namespace {

uint64_t read_portable(const uint8_t* p, int64_t n, int64_t pfd, bool nta) {
  uint64_t a[4] = {0, 0, 0, 0};
  const int64_t nfull = n / kStep * kStep;
  for (int64_t i = 0; i < nfull; i += kStep) {
    if (pfd > 0 && i + pfd < n)
      for (int l = 0; l < 4; ++l) prefetch(p + i + pfd + 64 * l, nta);
    for (int l = 0; l < kStep / 8; ++l) {
      uint64_t w;
      std::memcpy(&w, p + i + 8 * l, 8);
      a[l % 4] += w;
    }
  }
  return a[0] + a[1] + a[2] + a[3] + sum_words(p + nfull, n - nfull);
}

}  // namespace

uint64_t read_stream(const uint8_t* p, int64_t n, int nthreads, int64_t prefetch_bytes, bool nta, int streams) {
  const int nt = int(std::max<int64_t>(1, std::min<int64_t>(nthreads, n / (1 << 16) + 1)));
  const Isa isa = resolve_isa(Isa::Auto);
  auto one = [&](const uint8_t* q, int64_t m) {
#if CHORD_ARCH_X86  // the x86 readers (read_stream_avx512.cpp) are built for x86 only
    if (isa_has_avx512(isa)) return read_avx512(q, m, prefetch_bytes, nta, streams);
    if (isa_has_avx2(isa)) return read_avx2(q, m, prefetch_bytes, nta, streams);
#endif
    return read_portable(q, m, prefetch_bytes, nta);
  };
  // shares start on 64-byte lines so no line is read by two threads
  const int64_t share = ((n + nt - 1) / nt + 63) / 64 * 64;
  std::vector<uint64_t> part(size_t(nt), 0);
  parallel_for(nt, nt, [&](int64_t t) {
    const int64_t a = std::min(n, t * share), b = t == nt - 1 ? n : std::min(n, a + share);
    part[size_t(t)] = one(p + a, b - a);
  });
  uint64_t s = 0;
  for (uint64_t v : part) s += v;
  return s;
}

}  // namespace membw
}  // namespace chord
