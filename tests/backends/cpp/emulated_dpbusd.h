// vpdpbusd (256-bit, VEX) emulated in scalar code, for the AVX-VNNI kernel checks on CPUs without
// AVX-VNNI (avxvnni_emulated.cpp, avxvnni_gemm_emulated.cpp): u8 x s8, four products per int32
// lane, wrapping add. Include it after <immintrin.h> and before the kernel file, so that the
// kernel's one VNNI instruction becomes this function.
#pragma once
#include <immintrin.h>

#include <cstdint>

__attribute__((target("avx2"))) static inline __m256i emulated_dpbusd(__m256i acc, __m256i u, __m256i x) {
  alignas(32) uint8_t ub[32];
  alignas(32) int8_t xb[32];
  alignas(32) int32_t a[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(ub), u);
  _mm256_store_si256(reinterpret_cast<__m256i*>(xb), x);
  _mm256_store_si256(reinterpret_cast<__m256i*>(a), acc);
  for (int l = 0; l < 8; ++l) {
    int64_t s = a[l];
    for (int j = 0; j < 4; ++j) s += int64_t(ub[4 * l + j]) * int64_t(xb[4 * l + j]);
    a[l] = int32_t(uint32_t(s));  // vpdpbusd wraps (the kernels' K bounds keep it exact)
  }
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(a));
}
#define _mm256_dpbusd_avx_epi32 emulated_dpbusd
