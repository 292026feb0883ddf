// Checks the AVX-VNNI int8 kernel (csrc/mp_linear/mp_linear_avxvnni.cpp) on a CPU without
// AVX-VNNI: the kernel file is compiled as it is, except that its one VNNI instruction,
// _mm256_dpbusd_avx_epi32, is replaced by a scalar emulation of vpdpbusd (u8 x s8, four
// products per int32 lane, wrapping add). Everything else (tile shapes, field masks, shifts,
// tails, prefetch clipping, the 32-byte activation layout) runs for real and must equal the
// scalar reference dot_i8_ref bit for bit. Built and run by tests/backends/test_cpu_mp_linear.py.
// Prints "ok <cases>" and exits 0, or prints the first mismatch and exits 1.
#include <immintrin.h>  // first: the kernel file's own include is then a no-op

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "emulated_dpbusd.h"
#include "mp_linear/mp_linear_avxvnni.cpp"

using namespace chord::mpl;

int main() {
  std::mt19937 rng(12345);
  int cases = 0;
  for (int bits : {1, 2, 4, 8})
    for (int64_t K : {1, 16, 31, 100, 129, 511, 512, 513, 1000, 2049}) {
      const int64_t be = 16 * (8 / bits), rb = (K + be - 1) / be * be * bits / 8, Kp = pad_k(K);
      for (int64_t nr : {1, 2, 3, 5, 8, 24, 29})
        for (int64_t nm : {1, 2, 3, 4, 5, 7, 9}) {
          std::vector<uint8_t> w(size_t(nr * rb));
          for (auto& b : w) b = uint8_t(rng());  // padding fields too: the activations are 0 there
          AlignedBuf<int8_t> xnat, xlay;
          xnat.resize(size_t(nm * Kp));
          xlay.resize(size_t(nm * Kp));
          for (int64_t m = 0; m < nm; ++m) {
            for (int64_t k = 0; k < K; ++k) xnat.p[m * Kp + k] = int8_t(int(rng() % 255) - 127);
            layout_i8_planar(xnat.p + m * Kp, Kp, bits, 32, xlay.p + m * Kp);
          }
          std::vector<int64_t> ref(size_t(nm * nr)), got(size_t(nm * nr), -1);
          dot_i8_ref(w.data(), rb, bits, nr, xnat.p, Kp, nm, nullptr, ref.data(), nr);
          dot_i8_avxvnni(w.data(), rb, bits, nr, xlay.p, Kp, nm, got.data(), nr, w.data() + w.size());
          for (size_t i = 0; i < ref.size(); ++i)
            if (ref[i] != got[i]) {
              std::printf("mismatch bits=%d K=%lld nr=%lld nm=%lld at %zu: ref %lld, avx_vnni %lld\n", bits,
                          (long long)K, (long long)nr, (long long)nm, i, (long long)ref[i], (long long)got[i]);
              return 1;
            }
          ++cases;
        }
    }
  std::printf("ok %d\n", cases);
  return 0;
}
