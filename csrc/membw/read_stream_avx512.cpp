// The x86 readers of the streaming-read probe (read_stream.cpp dispatches; design there):
// compiled for x86 only, each function with its own target attribute.
#include "common/x86_intrin.h"
#include "membw/read_stream_kernels.h"

namespace chord {
namespace membw {
namespace {

__attribute__((target("avx512f"))) uint64_t read_one_avx512(const uint8_t* p, int64_t n, int64_t pfd, bool nta) {
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

__attribute__((target("avx2"))) uint64_t read_one_avx2(const uint8_t* p, int64_t n, int64_t pfd, bool nta) {
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

// `S` streams in lockstep (AVX2: two 32-byte loads per line, the line's two halves into two
// accumulators): part s is [s * q, (s + 1) * q) (q a whole number of lines); the bytes after the
// S parts (fewer than S lines and a tail) are read as one stream.
template <int S>
__attribute__((target("avx2"))) uint64_t read_streams_avx2(const uint8_t* p, int64_t n, int64_t pfd, bool nta) {
  __m256i a[2 * S];
  for (int s = 0; s < 2 * S; ++s) a[s] = _mm256_setzero_si256();
  const int64_t q = n / S / 64 * 64;
  for (int64_t i = 0; i < q; i += 64)
    for (int s = 0; s < S; ++s) {
      const uint8_t* l = p + s * q + i;
      if (pfd > 0 && i + pfd < q) prefetch(l + pfd, nta);
      a[2 * s] = _mm256_add_epi64(a[2 * s], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(l)));
      a[2 * s + 1] = _mm256_add_epi64(a[2 * s + 1], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(l + 32)));
    }
  __m256i t = a[0];
  for (int s = 1; s < 2 * S; ++s) t = _mm256_add_epi64(t, a[s]);
  alignas(32) uint64_t w[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(w), t);
  return w[0] + w[1] + w[2] + w[3] + read_one_avx2(p + S * q, n - S * q, pfd, nta);
}

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
  return uint64_t(_mm512_reduce_add_epi64(t)) + read_one_avx512(p + S * q, n - S * q, pfd, nta);
}

}  // namespace

uint64_t read_avx2(const uint8_t* p, int64_t n, int64_t pfd, bool nta, int streams) {
  switch (streams) {
    case 2:
      return read_streams_avx2<2>(p, n, pfd, nta);
    case 4:
      return read_streams_avx2<4>(p, n, pfd, nta);
    case 8:
      return read_streams_avx2<8>(p, n, pfd, nta);
    default:
      return read_one_avx2(p, n, pfd, nta);
  }
}

uint64_t read_avx512(const uint8_t* p, int64_t n, int64_t pfd, bool nta, int streams) {
  switch (streams) {
    case 2:
      return read_streams_avx512<2>(p, n, pfd, nta);
    case 4:
      return read_streams_avx512<4>(p, n, pfd, nta);
    case 8:
      return read_streams_avx512<8>(p, n, pfd, nta);
    default:
      return read_one_avx512(p, n, pfd, nta);
  }
}

}  // namespace membw
}  // namespace chord
