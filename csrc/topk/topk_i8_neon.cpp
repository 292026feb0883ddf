// AArch64 int8 scan of chord::mp_topk (the NEON counterpart of topk_i8_avx2.cpp; contract and
// epilogue in topk_vnni.h). Rows are scored in chunks of kChunk: the exact int32 dots of the
// chunk against one user (SDOT under neon_dotprod, topk_i8_neon_dotprod.cpp; SMULL/SMLAL +
// SADALP under neon, below), then the float32 score and rigorous bound of 4 rows at a time,
// one compare against the user's tau, and the rows that can still reach the top-k go to its
// Selector. Unlike vpmaddubsw, neither instruction saturates, so activations keep |xq| <= 127
// (with act_bits = 8 they are the exact path's own: D = 0).
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstdint>

#include "topk/topk_vnni.h"

#define CHORD_DOTS_NAME dots_i8_neon
#include "topk/topk_i8_neon_dots.inc"

namespace chord {
namespace topk {

namespace {
constexpr int64_t kChunk = 64;  // rows per dot call: <= 16 KiB of 8-bit K = 256 rows stay in L1
}  // namespace

void scan_i8_neon(const mpl::PackedView& w, const mpl::BucketSpan& sp, int64_t r0, int64_t r1, const VnniUser* users,
                  int nu, bool dotprod) {
  if (r0 >= r1 || nu <= 0 || sp.bits == 0) return;
  const int B = sp.bits;
  const int64_t rb = sp.row_bytes;
  const float32x4_t Uv = vdupq_n_f32(static_cast<float>((1 << B) - 1));
  alignas(16) int32_t dots[kChunk] = {};  // lanes past a short chunk: read, then masked
  alignas(16) float lo[4], up[4], tsc[4], tz[4];
  for (int64_t c0 = r0; c0 < r1; c0 += kChunk) {
    const int64_t n = r1 - c0 < kChunk ? r1 - c0 : kChunk;
    const uint8_t* q = w.qweight + sp.byte_offset + (c0 - sp.row_start) * rb;
    for (int u = 0; u < nu; ++u) {
      const VnniUser& us = users[u];
      const int32_t bias = B == 8 ? 128 * static_cast<int32_t>(us.sq) : 0;  // sq: an exact integer
      (dotprod ? dots_i8_neon_dotprod : dots_i8_neon)(q, rb, B, n, us.xq, bias, dots);
      const float32x4_t sqv = vdupq_n_f32(us.sq), sxv = vdupq_n_f32(us.sx), Dv = vdupq_n_f32(us.D),
                        cSv = vdupq_n_f32(us.cS);
      Selector& sel = *us.sel;
      for (int64_t i = 0; i < n; i += 4) {
        const int64_t r = c0 + i, nv = n - i < 4 ? n - i : 4;
        const float* sc = w.scales + r;
        const float* ze = w.zeros + r;
        if (nv < 4) {  // never read scales / zeros past the span
          for (int j = 0; j < 4; ++j) {
            tsc[j] = j < nv ? sc[j] : 0.f;
            tz[j] = j < nv ? ze[j] : 0.f;
          }
          sc = tsc;
          ze = tz;
        }
        const float32x4_t sums = vcvtq_f32_s32(vld1q_s32(dots + i));  // exact: |dot| < 2^24
        const float32x4_t scv = vld1q_f32(sc), zv = vld1q_f32(ze);
        const float32x4_t az = vabsq_f32(zv), asc = vabsq_f32(scv);
        const float32x4_t mr = vmaxq_f32(az, vabsq_f32(vsubq_f32(Uv, zv)));
        const float32x4_t d = vfmsq_f32(sums, zv, sqv);  // sums - z * sq, one rounding (as fnmadd)
        const float32x4_t a = vmulq_f32(vmulq_f32(d, sxv), scv);
        const float32x4_t bnd = vmulq_f32(asc, vfmaq_f32(vmulq_f32(vaddq_f32(Uv, az), cSv), mr, Dv));
        const float32x4_t upv = vaddq_f32(a, bnd);
        // !(up < tau): NaN bounds pass, as the x86 scans' _CMP_NLT_UQ
        const uint32x4_t pass = vmvnq_u32(vcltq_f32(upv, vdupq_n_f32(sel.tau())));
        if (vmaxvq_u32(pass) == 0) continue;
        uint32_t pm[4];
        vst1q_u32(pm, pass);
        vst1q_f32(lo, vsubq_f32(a, bnd));
        vst1q_f32(up, upv);
        for (int j = 0; j < nv; ++j)
          if (pm[j]) sel.offer(r + j, lo[j], up[j]);
      }
    }
  }
}

}  // namespace topk
}  // namespace chord
#endif  // __aarch64__
