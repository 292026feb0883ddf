// Checks the AVX-VNNI int8 GEMM microkernel (csrc/mp_linear/mp_linear_avxvnni.cpp) on a
// CPU without AVX-VNNI: the kernel file is compiled as it is, except that its one VNNI
// instruction, _mm256_dpbusd_avx_epi32, is replaced by a scalar emulation of vpdpbusd (u8 x s8,
// four products per int32 lane, wrapping add). Columns are unpacked as the int8 GEMM path does
// for avx_vnni (unpack_i8_avx2; 8-bit rows copied as they are), then every tile shape, tail,
// stride and prefetch share runs for real and must equal the exact integer dot products of the
// packed format (common/format.h's field layout, computed here in int64) bit for bit. Built and
// run by tests/backends/test_cpu_mp_linear_gemm_i8.py. Prints "ok <cases>" and exits 0, or
// prints the first mismatch and exits 1.
#include <immintrin.h>  // first: the kernel file's own include is then a no-op

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "common/format.h"
#include "emulated_dpbusd.h"
#include "mp_linear/mp_linear_avxvnni.cpp"

using namespace chord::mpl;

int main() {
  std::mt19937 rng(2026);
  int cases = 0;
  for (int bits : {1, 2, 4, 8})
    for (int64_t K : {1, 16, 31, 64, 100, 129, 511, 700, 2049})
      for (int64_t nc : {1, 2, 3, 4, 5, 9})
        for (int64_t nm : {1, 2, 3, 5}) {
          const int64_t be = 16 * (8 / bits), rb = (K + be - 1) / be * be * bits / 8;
          const int64_t ldp = gemm_i8_ldp(K), L = gemm_i8_len(K), ldx = pad_k(K);
          std::vector<uint8_t> w(size_t(nc * rb));
          for (auto& b : w) b = uint8_t(rng());  // padding fields too: the activations are 0 there
          AlignedBuf<uint8_t> p;
          AlignedBuf<int8_t> x;
          p.resize(size_t(nc * ldp));
          x.resize(size_t(nm * ldx));
          for (size_t i = 0; i < p.n; ++i) p.p[i] = uint8_t(rng());  // never read past L with x = 0
          for (int64_t j = 0; j < nc; ++j) {
            if (bits == 8)
              std::memcpy(p.p + j * ldp, w.data() + j * rb, size_t(rb));
            else
              unpack_i8_avx2(w.data() + j * rb, rb, bits, p.p + j * ldp);
          }
          for (int64_t m = 0; m < nm; ++m)
            for (int64_t k = 0; k < K; ++k) x.p[m * ldx + k] = int8_t(int(rng() % 255) - 127);
          std::vector<int32_t> got(size_t(nm * nc), -1);
          std::vector<uint8_t> pf(4096, 1);  // a prefetch range: any readable bytes
          gemm_i8_avxvnni(x.p, ldx, nm, p.p, ldp, nc, L, bits, nullptr, got.data(), nc, pf.data(),
                          int64_t(pf.size()) * (cases % 2));
          for (int64_t m = 0; m < nm; ++m)
            for (int64_t j = 0; j < nc; ++j) {
              int64_t ref = 0;
              for (int64_t blk = 0; blk < rb / 16; ++blk)
                for (int i = 0; i < 8 / bits; ++i)
                  for (int q = 0; q < 16; ++q) {
                    const int64_t k = chord::fmt::plane_elem(blk, i, q, bits);
                    if (k < K)
                      ref += int64_t(chord::fmt::field(w[size_t(j * rb + blk * 16 + q)], i, bits)) *
                             int64_t(x.p[m * ldx + k]);
                  }
              if (ref != got[size_t(m * nc + j)]) {
                std::printf("mismatch bits=%d K=%lld nc=%lld nm=%lld at m=%lld j=%lld: ref %lld, avx_vnni %d\n", bits,
                            (long long)K, (long long)nc, (long long)nm, (long long)m, (long long)j, (long long)ref,
                            got[size_t(m * nc + j)]);
                return 1;
              }
            }
          ++cases;
        }
  std::printf("ok %d\n", cases);
  return 0;
}
