// The act_bits = 8 mp_linear kernel for short rows (K <= 256: item tables scored by a user
// vector) on AVX-512 VNNI: exact int32 dots of 16 rows at a time on the row-vectorized core
// that chord::mp_topk's scan runs (mp_linear_rows16_vnni.h), for a few activation rows.
//
// Why: the general VNNI GEMV (mp_linear_gemv_vnni.inc) holds one row per 64-byte load, so a
// 16-byte row (K = 64 at 2 bits) fills a quarter of each vpdpbusd and pays a horizontal sum per
// row; here four such rows share a register and 16 rows share one reduction tree. The dots are
// exact integers, so results equal every other act_bits = 8 kernel's, bit for bit.
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#include "common/x86_intrin.h"

#include <algorithm>
#include <cstring>

#include "mp_linear/mp_linear_kernels.h"
#include "mp_linear/mp_linear_rows16_vnni.h"

namespace chord {
namespace mpl {
namespace {

constexpr int64_t kPrefetchBytes = 8192;  // software prefetch distance (as the mp_topk scan)

template <int B, int R, int MU>
void rows_pass(const uint8_t* w, int64_t rb, int64_t nr, const __m512i* xv, int XS, int64_t* out, int64_t ldo,
               const uint8_t* pf_end) {
  const int nch = rows16::chunks_of(R, rb / 16);
  const __mmask64 lastmask = (R == 1 && rb % 64) ? ((__mmask64{1} << (rb % 64)) - 1) : ~__mmask64{0};
  alignas(64) uint8_t tail[16 * rows16::kActBytes];
  for (int64_t r = 0; r < nr; r += 16) {
    const int64_t n = std::min<int64_t>(16, nr - r);
    const uint8_t* p = w + r * rb;
    if (n < 16) {  // the last rows: a zero-padded copy (never read past the rows given)
      std::memcpy(tail, p, size_t(n * rb));
      std::memset(tail + n * rb, 0, size_t((16 - n) * rb));
      p = tail;
    }
    if (p + kPrefetchBytes + 16 * rb <= pf_end)
      for (int64_t off = 0; off < 16 * rb; off += 64)
        _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchBytes + off), _MM_HINT_T0);
    __m512i sums[MU];
    rows16::group16<B, R, MU>(p, rb, nch, lastmask, xv, XS, sums);
    for (int u = 0; u < MU; ++u) {
      alignas(64) int64_t d[16];
      _mm512_store_si512(d, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(sums[u])));
      _mm512_store_si512(d + 8, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(sums[u], 1)));
      std::memcpy(out + u * ldo + r, d, size_t(n) * sizeof(int64_t));
    }
  }
}

template <int B, int R>
void rows_layout(const uint8_t* w, int64_t rb, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm, int64_t* out,
                 int64_t ldo, const uint8_t* pf_end) {
  constexpr int G = (R == 4 || R == 0) ? 4 : R == 2 ? 2 : 1;  // activation rows per pass (accumulators fit)
  const int64_t nb = rb / 16;
  const int XS = rows16::vectors_per_user<B, R>(nb);
  alignas(64) __m512i xv[G * 64];
  for (int64_t m0 = 0; m0 < nm; m0 += G) {
    const int gn = int(std::min<int64_t>(G, nm - m0));
    for (int u = 0; u < gn; ++u) rows16::user_vectors<B, R>(x + (m0 + u) * ldx, nb, xv + u * XS);
    int64_t* o = out + m0 * ldo;
    if constexpr (G >= 4) {
      if (gn == 4) {
        rows_pass<B, R, 4>(w, rb, nr, xv, XS, o, ldo, pf_end);
        continue;
      }
      if (gn == 3) {
        rows_pass<B, R, 3>(w, rb, nr, xv, XS, o, ldo, pf_end);
        continue;
      }
    }
    if constexpr (G >= 2) {
      if (gn == 2) {
        rows_pass<B, R, 2>(w, rb, nr, xv, XS, o, ldo, pf_end);
        continue;
      }
    }
    rows_pass<B, R, 1>(w, rb, nr, xv, XS, o, ldo, pf_end);
  }
}

template <int B>
void rows_bits(const uint8_t* w, int64_t rb, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm, int64_t* out,
               int64_t ldo, const uint8_t* pf_end) {
  switch (rows16::layout_of(rb / 16)) {
    case 4:
      return rows_layout<B, 4>(w, rb, nr, x, ldx, nm, out, ldo, pf_end);
    case 2:
      return rows_layout<B, 2>(w, rb, nr, x, ldx, nm, out, ldo, pf_end);
    case 0:
      return rows_layout<B, 0>(w, rb, nr, x, ldx, nm, out, ldo, pf_end);
    default:
      return rows_layout<B, 1>(w, rb, nr, x, ldx, nm, out, ldo, pf_end);
  }
}

}  // namespace

void dot_i8_rows16_avx512vnni(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx,
                              int64_t nm, int64_t* out, int64_t ldo, const uint8_t* pf_end) {
  fmt::with_width(bits, [&](auto B) { rows_bits<B.value>(w, rb, nr, x, ldx, nm, out, ldo, pf_end); });
}

}  // namespace mpl
}  // namespace chord
