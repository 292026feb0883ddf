// Pieces of the streaming-read probe shared by read_stream.cpp (portable reader, dispatch) and
// read_stream_avx512.cpp (the x86 readers, built for x86 only).
#pragma once
#include <cstdint>
#include <cstring>

namespace chord {
namespace membw {

constexpr int64_t kStep = 256;  // bytes per loop step: four 64-byte lines

// Bytes before the first kStep boundary / after the last: summed as words (tails are tiny).
inline uint64_t sum_words(const uint8_t* p, int64_t n) {
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

// locality 3: prefetcht0 on x86; 0: prefetchnta (the non-temporal hint)
inline void prefetch(const uint8_t* q, bool nta) {
  if (nta)
    __builtin_prefetch(q, 0, 0);
  else
    __builtin_prefetch(q, 0, 3);
}

// Read [p, p + n) with 64-byte (AVX-512) or 32-byte (AVX2) loads, `streams` parts in lockstep
// (1, 2, 4 or 8), optional software prefetch pfd bytes ahead; the sum of the 64-bit words.
uint64_t read_avx512(const uint8_t* p, int64_t n, int64_t pfd, bool nta, int streams);
uint64_t read_avx2(const uint8_t* p, int64_t n, int64_t pfd, bool nta, int streams);

}  // namespace membw
}  // namespace chord
