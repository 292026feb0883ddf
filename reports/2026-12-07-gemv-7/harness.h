// Pieces shared by probe.cpp and e2e.cpp (reports/2026-12-07-gemv-7.md): the rotated weight
// copies on 2 MiB pages, mp_linear.cpp's task cut, and the bare streaming read.
#pragma once
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>

// Copies of a `bytes`-byte weight, enough to cover >= 256 MiB (at least 2), back to back from a
// 2 MiB boundary on 2 MiB pages (madvise), filled with arbitrary bytes; *ncopies gets their count.
inline uint8_t* huge_copies(int64_t bytes, int64_t* ncopies) {
  *ncopies = std::max<int64_t>(2, ((256ll << 20) + bytes - 1) / bytes);
  const size_t total = size_t(*ncopies * bytes), huge = 2 << 20;
  uint8_t* raw =
      static_cast<uint8_t*>(mmap(nullptr, total + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  uint8_t* buf = reinterpret_cast<uint8_t*>((uintptr_t(raw) + huge - 1) & ~uintptr_t(huge - 1));
  madvise(buf, total, MADV_HUGEPAGE);
  for (size_t i = 0; i < total; ++i) buf[i] = uint8_t(i * 2654435761u >> 13);
  return buf;
}

// Rows per task of a bucket of `rows` rows of `rb` bytes, as mp_linear.cpp's task_rows cuts an
// act8 bucket (~256 KB, multiples of 24 rows, <= 240 rows, >= 4 tasks per thread when it can).
inline int64_t task_step(int64_t rb, int64_t rows, int nt) {
  auto down = [](int64_t r) { return r / 24 * 24; };
  return std::max<int64_t>(24, std::min({down((256 << 10) / rb), down((rows + 4 * nt - 1) / (4 * nt)), int64_t(240)}));
}

// The bare read of [p, p + n) in address order (4 zmm accumulators, as read_stream), optional
// prefetcht0 pfd bytes ahead; the sum of the 64-bit words.
__attribute__((target("avx512f"))) inline uint64_t read_range(const uint8_t* p, int64_t n, int64_t pfd = 0) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i + 256 <= n; i += 256) {
    const uint8_t* q = p + i;
    if (pfd)
      for (int l = 0; l < 4; ++l) _mm_prefetch(reinterpret_cast<const char*>(q + pfd + 64 * l), _MM_HINT_T0);
    a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(q));
    a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(q + 64));
    a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(q + 128));
    a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(q + 192));
  }
  return uint64_t(_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3))));
}
