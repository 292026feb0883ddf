// The act_bits = 8 mp_linear kernel for short rows (K <= kMaxKRows16: item tables scored by a
// user vector) on AVX2: exact int32 dots of 8 rows at a time, for CPUs without the dot-product
// units (the AVX-512 VNNI ones take mp_linear_rows16_avx512vnni.cpp).
//
// Why: the general AVX2 kernel (mp_linear_avx2.cpp, tile_i8) holds one row per 32-byte load and
// reduces every row horizontally on its own, so a 16-byte row (K = 64 at 2 bits) fills half of
// each maddubs and pays a horizontal sum per row. Here two such rows share a register (R = 2) and
// 8 rows share one hadd reduction; longer rows run one per register, 32 bytes a step (R = 1).
// The planar format puts field i of byte p of 16-byte block j at element j * 16 * epb + 16 i + p,
// so the activations for a plane are 16 consecutive natural-order values: no per-call layout.
// maddubs as in tile_i8: b <= 4 fields summed over the byte's planes in int16 (<= 8 * 2 * 127 * 15),
// 8-bit fields on q = u - 128 with the sign trick and 128 * sum(x) added back. The dots are exact
// integers, so results equal every other act_bits = 8 kernel's, bit for bit.
#include "common/x86_intrin.h"

#include <cstdint>
#include <cstring>

#include "mp_linear/mp_linear_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace chord {
namespace mpl {
namespace {

// 16 natural-order activations of block j, plane i (epb fields per byte).
inline const int8_t* plane_x(const int8_t* x, int epb, int64_t j, int i) {
  return x + j * 16 * epb + 16 * i;
}

// The int32 partial sums of one 32-byte step: v (weight bytes) against the step's activation
// vectors xv[0..epb) (lane p of plane i matching byte p's field i).
template <int B>
inline __m256i step(__m256i v, const __m256i* xv) {
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (B == 8) {
    const __m256i q = _mm256_xor_si256(v, _mm256_set1_epi8(char(0x80)));  // u - 128, as int8
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(q), _mm256_sign_epi8(xv[0], q)), ones);
  } else {
    constexpr int EPB = 8 / B;
    const __m256i mask = _mm256_set1_epi8(char((1 << B) - 1));
    __m256i p = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int i = 0; i < EPB; ++i)
      p = _mm256_add_epi16(p, _mm256_maddubs_epi16(_mm256_and_si256(i ? _mm256_srli_epi16(v, B * i) : v, mask), xv[i]));
    return _mm256_madd_epi16(p, ones);
  }
}

// 8 accumulators, a[i] = row i's int32 lanes -> one vector, lane i = row i's dot.
inline __m256i reduce8(const __m256i* a) {
  const __m256i g0 = _mm256_hadd_epi32(_mm256_hadd_epi32(a[0], a[1]), _mm256_hadd_epi32(a[2], a[3]));
  const __m256i g1 = _mm256_hadd_epi32(_mm256_hadd_epi32(a[4], a[5]), _mm256_hadd_epi32(a[6], a[7]));
  // g0: 128-bit lane h holds rows 0..3's sums over their lane h; g1 rows 4..7
  return _mm256_add_epi32(_mm256_permute2x128_si256(g0, g1, 0x20), _mm256_permute2x128_si256(g0, g1, 0x31));
}

// 4 accumulators of row pairs, a[j] = rows 2j (low lane) and 2j + 1 (high lane) -> lane i = row i.
inline __m256i reduce8_pairs(const __m256i* a) {
  const __m256i g = _mm256_hadd_epi32(_mm256_hadd_epi32(a[0], a[1]), _mm256_hadd_epi32(a[2], a[3]));
  // g: low lane rows 0, 2, 4, 6; high lane rows 1, 3, 5, 7
  return _mm256_permutevar8x32_epi32(g, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// Rows of one 16-byte block (R = 2: two rows per register) or of nb >= 2 blocks (R = 1: one row
// per register, 32 bytes a step, the last step a lone block when nb is odd), one activation row.
template <int B, int R>
void rows_one_user(const uint8_t* w, int64_t rb, int64_t nr, const int8_t* x, int64_t qsum, int64_t* out) {
  constexpr int EPB = 8 / B;
  const int64_t nb = rb / 16, nsteps = (nb + 1) / 2;
  // activation vectors per step and plane: [block 2s | block 2s + 1] (R = 1), or block 0 in both
  // lanes (R = 2); a missing second block (odd nb) meets zero weight bytes and zero activations
  __m256i xv[16];  // nsteps * epb <= 8: a row holds <= 256 elements (K <= 256 padded to a block)
  for (int64_t s = 0; s < (R == 2 ? 1 : nsteps); ++s)
    for (int i = 0; i < EPB; ++i) {
      const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(plane_x(x, EPB, 2 * s, i)));
      const __m128i hi = R == 2 ? lo
                         : 2 * s + 1 < nb
                             ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(plane_x(x, EPB, 2 * s + 1, i)))
                             : _mm_setzero_si128();
      xv[s * EPB + i] = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
    }
  const __m256i corr = _mm256_set1_epi32(B == 8 ? int32_t(128 * qsum) : 0);  // |.| <= 128 * 127 * 256
  alignas(32) uint8_t tail[8 * kMaxKRows16];
  for (int64_t r = 0; r < nr; r += 8) {
    const int64_t n = nr - r < 8 ? nr - r : 8;  // (no STL template under the target pragma)
    const uint8_t* p = w + r * rb;
    if (n < 8) {  // the last rows: a zero-padded copy (never read past the rows given)
      std::memcpy(tail, p, size_t(n * rb));
      std::memset(tail + n * rb, 0, size_t((8 - n) * rb));
      p = tail;
    }
    __m256i dots;
    if constexpr (R == 2) {
      __m256i acc[4];
      for (int j = 0; j < 4; ++j)
        acc[j] = step<B>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * j)), xv);
      dots = reduce8_pairs(acc);
    } else {
      __m256i acc[8];
      for (int i = 0; i < 8; ++i) {
        const uint8_t* row = p + i * rb;
        acc[i] = _mm256_setzero_si256();
        for (int64_t s = 0; s < nb / 2; ++s)
          acc[i] = _mm256_add_epi32(
              acc[i], step<B>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 32 * s)), xv + s * EPB));
        if (nb & 1)
          acc[i] = _mm256_add_epi32(
              acc[i], step<B>(_mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + rb - 16))),
                              xv + (nsteps - 1) * EPB));
      }
      dots = reduce8(acc);
    }
    // the 8-bit kernel ran on u - 128: add 128 * sum(x) back, in int32 (|dot| <= 255 * 127 * 256)
    dots = _mm256_add_epi32(dots, corr);
    alignas(32) int64_t d[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(d), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(dots)));
    _mm256_store_si256(reinterpret_cast<__m256i*>(d + 4), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(dots, 1)));
    std::memcpy(out + r, d, size_t(n) * sizeof(int64_t));
  }
}

template <int B>
void rows_bits(const uint8_t* w, int64_t rb, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm, const int64_t* qsum,
               int64_t* out, int64_t ldo) {
  for (int64_t m = 0; m < nm; ++m) {
    if (rb == 16)
      rows_one_user<B, 2>(w, rb, nr, x + m * ldx, qsum[m], out + m * ldo);
    else
      rows_one_user<B, 1>(w, rb, nr, x + m * ldx, qsum[m], out + m * ldo);
  }
}

}  // namespace

void dot_i8_rows8_avx2(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                       const int64_t* qsum, int64_t* out, int64_t ldo) {
  fmt::with_width(bits, [&](auto B) { rows_bits<B.value>(w, rb, nr, x, ldx, nm, qsum, out, ldo); });
}

}  // namespace mpl
}  // namespace chord

#pragma GCC pop_options
