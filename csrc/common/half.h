// Portable IEEE fp16 / bfloat16 <-> fp32 conversions (round to nearest even), matching
// torch's Tensor.to(). The AVX2 path uses F16C instead where it converts in bulk.
#pragma once
#include <cstdint>
#include <cstring>

namespace chord {

inline float bits_to_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t f32_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float bf16_to_f32(uint16_t h) {
  return bits_to_f32(uint32_t(h) << 16);
}

inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0x1f) return bits_to_f32(sign | 0x7f800000u | (man << 13));  // inf / nan
  if (exp == 0) {
    if (man == 0) return bits_to_f32(sign);       // +-0
    float f = float(man) * (1.0f / 16777216.0f);  // subnormal: man * 2^-24
    return sign ? -f : f;
  }
  return bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
}

inline uint16_t f32_to_f16(float f) {
  uint32_t u = f32_to_bits(f);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) return uint16_t(sign | 0x7e00u);   // nan
  if (u >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // overflow -> inf (RNE boundary 65520)
  if (u < 0x38800000u) {                                  // subnormal / zero in fp16
    // value * 2^24 (units of the fp16 subnormal LSB), rounded half to even
    const float scaled = bits_to_f32(u) * 16777216.0f;  // exact (power of 2)
    // round half to even of a value < 1024 (exact integer math on the float)
    float fl = float(int32_t(scaled));
    float diff = scaled - fl;
    int32_t q = int32_t(fl);
    if (diff > 0.5f || (diff == 0.5f && (q & 1))) q += 1;
    return uint16_t(sign | uint16_t(q));
  }
  // normal: rebias exponent, round mantissa 23 -> 10 bits half to even
  uint32_t r = u - 0x38000000u;  // exponent - 112
  r += 0xfffu + ((r >> 13) & 1u);
  return uint16_t(sign | uint16_t(r >> 13));
}

}  // namespace chord
