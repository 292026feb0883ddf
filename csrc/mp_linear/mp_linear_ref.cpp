// Portable scalar kernels of mp_linear (always compiled; the reference the AVX2 path is tested
// against, and the path used on CPUs without AVX2). Activations in natural order, zero beyond K.
#include <cmath>
#include <cstring>

#include "mp_linear/mp_linear_kernels.h"

namespace chord {
namespace mpl {

namespace {

// Planar block: byte j of a 16-byte block holds elements j, j+16, j+32, ... of the block in
// bits [0,b), [b,2b), ... (python/chord/format.py). Acc: float64 for fp32 activations (the
// scalar path is also the accurate one), int64 for int8 ones (exact). noinline: compiled on its own
// it runs the instructions the two separate functions ran; inlined into them, GCC lays the loops out worse.
template <class X, class Acc, class Out>
__attribute__((noinline)) void dot_ref(const uint8_t* w, int64_t rb, int bits, int64_t nr, const X* x, int64_t ldx,
                                       int64_t nm, Out* out, int64_t ldo) {
  const int epb = 8 / bits;
  const unsigned mask = (1u << bits) - 1u;
  const int64_t nblocks = rb / 16, be = 16 * epb;
  for (int64_t r = 0; r < nr; ++r) {
    const uint8_t* row = w + r * rb;
    for (int64_t m = 0; m < nm; ++m) {
      const X* xm = x + m * ldx;
      Acc acc = 0;
      for (int64_t c = 0; c < nblocks; ++c)
        for (int j = 0; j < 16; ++j) {
          const unsigned byte = row[c * 16 + j];
          const X* xe = xm + c * be + j;
          for (int i = 0; i < epb; ++i) acc += Acc(xe[16 * i]) * Acc((byte >> (bits * i)) & mask);
        }
      out[m * ldo + r] = Out(acc);
    }
  }
}

}  // namespace

void dot_f32_ref(const uint8_t* w, int64_t rb, int bits, int64_t nr, const float* x, int64_t ldx, int64_t nm,
                 float* out, int64_t ldo) {
  dot_ref<float, double>(w, rb, bits, nr, x, ldx, nm, out, ldo);
}

void dot_i8_ref(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                const int64_t* /*qsum*/, int64_t* out, int64_t ldo) {
  dot_ref<int8_t, int64_t>(w, rb, bits, nr, x, ldx, nm, out, ldo);
}

// A permutation of 16-byte chunks: chunk (b, i) = x[g0 + b*16*epb + 16*i, +16) goes to
// dst[g0 + i*group + 16*b, +16) (per call: Kp / 16 copies of 16 bytes).
void layout_i8_planar(const int8_t* xnat, int64_t Kp, int bits, int group, int8_t* dst) {
  const int epb = 8 / bits, nb = group / 16;
  const int64_t ge = int64_t(group) * epb;
  for (int64_t g0 = 0; g0 < Kp; g0 += ge)
    for (int b = 0; b < nb; ++b)
      for (int i = 0; i < epb; ++i) std::memcpy(dst + g0 + i * group + 16 * b, xnat + g0 + b * 16 * epb + 16 * i, 16);
}

float quantize_row_i8_ref(const float* x, int64_t K, int8_t* xq) {
  float amax = 0.f;
  for (int64_t k = 0; k < K; ++k) {
    const float a = std::fabs(x[k]);
    amax = (a > amax || std::isnan(a)) ? a : amax;  // NaN propagates like torch.amax
  }
  const float sx = amax / 127.0f;
  const float safe = sx > 0.f ? sx : 1.0f;
  for (int64_t k = 0; k < K; ++k) {
    float q = std::nearbyint(x[k] / safe);  // default rounding mode: half to even
    q = q < -127.f ? -127.f : (q > 127.f ? 127.f : q);
    if (std::isnan(q)) q = 0.f;  // NaN row: sx is NaN, so the output is NaN anyway
    xq[k] = int8_t(q);
  }
  return sx;
}

void dequant_row_ref(const uint8_t* w, int bits, int64_t K, float scale, float zero, float* out) {
  const int epb = 8 / bits;
  const unsigned mask = (1u << bits) - 1u;
  const int64_t be = 16 * epb;
  for (int64_t k = 0; k < K; ++k) {
    const int64_t c = k / be, e = k % be, j = e % 16, i = e / 16;
    const unsigned u = (w[c * 16 + j] >> (bits * i)) & mask;
    out[k] = (float(u) - zero) * scale;
  }
}

}  // namespace mpl
}  // namespace chord
