// AVX-512 VNNI row-vectorized int8 scan of chord::mp_topk (see topk_vnni.h for the design; the
// exact 16-row dot core is mp_linear/mp_linear_rows16_vnni.h).
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#include "common/x86_intrin.h"

#include <algorithm>
#include <cstring>

#include "mp_linear/mp_linear_rows16_vnni.h"
#include "topk/topk_vnni.h"

namespace chord {
namespace topk {

namespace {

constexpr int64_t kPrefetchBytes = 8192;  // software prefetch distance (8 groups of 8-bit rows)

template <int B, int R, int MU>
void scan_run(const mpl::PackedView& w, const mpl::BucketSpan& sp, int64_t r0, int64_t r1, const VnniUser* users,
              const __m512i* xv, int XS) {
  const int64_t rb = sp.row_bytes;
  const int nch = rows16::chunks_of(R, rb / 16);
  const __mmask64 lastmask = (R == 1 && rb % 64) ? ((__mmask64{1} << (rb % 64)) - 1) : ~__mmask64{0};
  const uint8_t* q = w.qweight + sp.byte_offset + (r0 - sp.row_start) * rb;
  const __m512 Uv = _mm512_set1_ps(static_cast<float>((1 << B) - 1));
  __m512 sqv[MU], sxv[MU], Dv[MU], cSv[MU];
  for (int u = 0; u < MU; ++u) {
    sqv[u] = _mm512_set1_ps(users[u].sq);
    sxv[u] = _mm512_set1_ps(users[u].sx);
    Dv[u] = _mm512_set1_ps(users[u].D);
    cSv[u] = _mm512_set1_ps(users[u].cS);
  }
  alignas(64) uint8_t tail[16 * kVnniActBytes];
  alignas(64) float tsc[16], tz[16], lo[16], up[16];
  for (int64_t r = r0; r < r1; r += 16, q += 16 * rb) {
    const int64_t n = std::min<int64_t>(16, r1 - r);
    const uint8_t* p = q;
    const float* sc = w.scales + r;
    const float* ze = w.zeros + r;
    __mmask16 valid = 0xFFFF;
    if (n < 16) {  // the last rows: a zero-padded copy (never read past the table)
      std::memcpy(tail, q, static_cast<size_t>(n * rb));
      std::memset(tail + n * rb, 0, static_cast<size_t>((16 - n) * rb));
      std::fill(tsc, tsc + 16, 0.f);
      std::fill(tz, tz + 16, 0.f);
      std::copy(sc, sc + n, tsc);
      std::copy(ze, ze + n, tz);
      p = tail;
      sc = tsc;
      ze = tz;
      valid = static_cast<__mmask16>((1u << n) - 1);
    }
    // software prefetch kPrefetchBytes ahead: the hardware prefetcher alone leaves
    // DRAM streams of the wide (8-bit) rows well below copy bandwidth
    if ((r1 - r) * rb >= kPrefetchBytes + 16 * rb)
      for (int64_t off = 0; off < 16 * rb; off += 64)
        _mm_prefetch(reinterpret_cast<const char*>(q + kPrefetchBytes + off), _MM_HINT_T0);
    __m512i sums[MU];
    rows16::group16<B, R, MU>(p, rb, nch, lastmask, xv, XS, sums);
    const __m512 scv = _mm512_loadu_ps(sc), zv = _mm512_loadu_ps(ze);
    const __m512 az = _mm512_abs_ps(zv), asc = _mm512_abs_ps(scv);
    const __m512 mr = _mm512_max_ps(az, _mm512_abs_ps(_mm512_sub_ps(Uv, zv)));
    const __m512 ua = _mm512_add_ps(Uv, az);
    for (int u = 0; u < MU; ++u) {
      const __m512 d = _mm512_fnmadd_ps(zv, sqv[u], _mm512_cvtepi32_ps(sums[u]));
      const __m512 a = _mm512_mul_ps(_mm512_mul_ps(d, sxv[u]), scv);
      const __m512 bnd = _mm512_mul_ps(asc, _mm512_fmadd_ps(mr, Dv[u], _mm512_mul_ps(ua, cSv[u])));
      const __m512 upv = _mm512_add_ps(a, bnd);
      Selector& sel = *users[u].sel;
      __mmask16 m = _mm512_cmp_ps_mask(upv, _mm512_set1_ps(sel.tau()), _CMP_NLT_UQ) & valid;
      if (m) {  // rare once tau has settled
        _mm512_store_ps(lo, _mm512_sub_ps(a, bnd));
        _mm512_store_ps(up, upv);
        while (m) {
          const int i = __builtin_ctz(m);
          m &= m - 1;
          sel.offer(r + i, lo[i], up[i]);
        }
      }
    }
  }
}

template <int B, int R>
void scan_users(const mpl::PackedView& w, const mpl::BucketSpan& sp, int64_t r0, int64_t r1, const VnniUser* users,
                int nu) {
  constexpr int G = (R == 4 || R == 0) ? 4 : R == 2 ? 2 : 1;  // users per pass (accumulators fit)
  const int64_t nb = sp.row_bytes / 16;
  const int XS = rows16::vectors_per_user<B, R>(nb);
  alignas(64) __m512i xv[G * 64];
  for (int u0 = 0; u0 < nu; u0 += G) {
    const int gn = std::min(G, nu - u0);
    for (int u = 0; u < gn; ++u) rows16::user_vectors<B, R>(users[u0 + u].xq, nb, xv + u * XS);
    if constexpr (G >= 4) {
      if (gn == 4) {
        scan_run<B, R, 4>(w, sp, r0, r1, users + u0, xv, XS);
        continue;
      }
      if (gn == 3) {
        scan_run<B, R, 2>(w, sp, r0, r1, users + u0, xv, XS);
        scan_run<B, R, 1>(w, sp, r0, r1, users + u0 + 2, xv + 2 * XS, XS);
        continue;
      }
    }
    if constexpr (G >= 2) {
      if (gn == 2) {
        scan_run<B, R, 2>(w, sp, r0, r1, users + u0, xv, XS);
        continue;
      }
    }
    scan_run<B, R, 1>(w, sp, r0, r1, users + u0, xv, XS);
  }
}

template <int B>
void scan_bits(const mpl::PackedView& w, const mpl::BucketSpan& sp, int64_t r0, int64_t r1, const VnniUser* users,
               int nu) {
  switch (rows16::layout_of(sp.row_bytes / 16)) {
    case 4:
      return scan_users<B, 4>(w, sp, r0, r1, users, nu);
    case 2:
      return scan_users<B, 2>(w, sp, r0, r1, users, nu);
    case 0:
      return scan_users<B, 0>(w, sp, r0, r1, users, nu);
    default:
      return scan_users<B, 1>(w, sp, r0, r1, users, nu);
  }
}

}  // namespace

void scan_vnni(const mpl::PackedView& w, const mpl::BucketSpan& sp, int64_t r0, int64_t r1, const VnniUser* users,
               int nu) {
  if (r0 >= r1 || nu <= 0 || sp.bits == 0) return;  // (pruned rows are never scanned)
  fmt::with_width(sp.bits, [&](auto B) { scan_bits<B.value>(w, sp, r0, r1, users, nu); });
}

}  // namespace topk
}  // namespace chord
