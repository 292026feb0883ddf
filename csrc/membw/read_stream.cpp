// The streaming-read probe (read_stream.h): 64-byte loads (AVX-512) or 32-byte (AVX2) into
// four independent accumulators, 256 bytes per step, so the loop is bound by the loads, never
// by an add chain; the portable version reads 64-bit words the same way.
#include "membw/read_stream.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/isa.h"
#include "common/parallel.h"

#if CHORD_ARCH_X86
#include "common/x86_intrin.h"
#endif

namespace chord {
namespace membw {
namespace {

constexpr int64_t kStep = 256;  // bytes per loop step: four 64-byte lines

// Bytes before the first kStep boundary / after the last: summed as words (tails are tiny).
uint64_t sum_words(const uint8_t* p, int64_t n) {
  uint64_t s = 0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    s += w;
  }
  for (; i < n; ++i) s += uint64_t(p[i]) << (8 * (i % 8));
  return s;
}

inline void prefetch(const uint8_t* q, bool nta) {
#if CHORD_ARCH_X86
  if (nta)
    _mm_prefetch(reinterpret_cast<const char*>(q), _MM_HINT_NTA);
  else
    _mm_prefetch(reinterpret_cast<const char*>(q), _MM_HINT_T0);
#else
  if (nta)
    __builtin_prefetch(q, 0, 0);
  else
    __builtin_prefetch(q, 0, 3);
#endif
}

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

#if CHORD_ARCH_X86
__attribute__((target("avx512f"))) uint64_t read_avx512(const uint8_t* p, int64_t n, int64_t pfd, bool nta) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  const int64_t nfull = n / kStep * kStep;
  for (int64_t i = 0; i < nfull; i += kStep) {
    const uint8_t* q = p + i;
    if (pfd > 0 && i + pfd < n)
      for (int l = 0; l < 4; ++l) prefetch(q + pfd + 64 * l, nta);
    a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(q));
    a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(q + 64));
    a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(q + 128));
    a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(q + 192));
  }
  const __m512i s = _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3));
  return uint64_t(_mm512_reduce_add_epi64(s)) + sum_words(p + nfull, n - nfull);
}

__attribute__((target("avx2"))) uint64_t read_avx2(const uint8_t* p, int64_t n, int64_t pfd, bool nta) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  const int64_t nfull = n / kStep * kStep;
  for (int64_t i = 0; i < nfull; i += kStep) {
    const uint8_t* q = p + i;
    if (pfd > 0 && i + pfd < n)
      for (int l = 0; l < 4; ++l) prefetch(q + pfd + 64 * l, nta);
    for (int l = 0; l < 8; l += 4) {
      a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * l)));
      a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * l + 32)));
      a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * l + 64)));
      a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * l + 96)));
    }
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) uint64_t w[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(w), s);
  return w[0] + w[1] + w[2] + w[3] + sum_words(p + nfull, n - nfull);
}

// `S` streams in lockstep: part s is [s * q, (s + 1) * q) (q a whole number of lines); the
// bytes after the S parts (fewer than S lines and a tail) are read as one stream.
template <int S>
__attribute__((target("avx512f"))) uint64_t read_streams_avx512(const uint8_t* p, int64_t n, int64_t pfd, bool nta) {
  __m512i a[S];
  for (int s = 0; s < S; ++s) a[s] = _mm512_setzero_si512();
  const int64_t q = n / S / 64 * 64;
  for (int64_t i = 0; i < q; i += 64)
    for (int s = 0; s < S; ++s) {
      const uint8_t* l = p + s * q + i;
      if (pfd > 0 && i + pfd < q) prefetch(l + pfd, nta);
      a[s] = _mm512_add_epi64(a[s], _mm512_loadu_si512(l));
    }
  __m512i t = a[0];
  for (int s = 1; s < S; ++s) t = _mm512_add_epi64(t, a[s]);
  return uint64_t(_mm512_reduce_add_epi64(t)) + read_avx512(p + S * q, n - S * q, pfd, nta);
}
#endif

}  // namespace

uint64_t read_stream(const uint8_t* p, int64_t n, int nthreads, int64_t prefetch_bytes, bool nta, int streams) {
  const int nt = int(std::max<int64_t>(1, std::min<int64_t>(nthreads, n / (1 << 16) + 1)));
  const Isa isa = resolve_isa(Isa::Auto);
  auto one = [&](const uint8_t* q, int64_t m) {
#if CHORD_ARCH_X86
    if (isa_has_avx512(isa)) {
      switch (streams) {
        case 2:
          return read_streams_avx512<2>(q, m, prefetch_bytes, nta);
        case 4:
          return read_streams_avx512<4>(q, m, prefetch_bytes, nta);
        case 8:
          return read_streams_avx512<8>(q, m, prefetch_bytes, nta);
        default:
          return read_avx512(q, m, prefetch_bytes, nta);
      }
    }
    if (isa_has_avx2(isa)) return read_avx2(q, m, prefetch_bytes, nta);
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
