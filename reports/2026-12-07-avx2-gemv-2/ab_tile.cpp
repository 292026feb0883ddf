// A/B in one process (compile: g++ -O3 -DNDEBUG -fwrapv -std=c++17 -I csrc -DFILE_A=... -DFILE_B=... ab_tile.cpp
// csrc/common/isa.cpp): two versions of mp_linear_avx2.cpp (FILE_A, FILE_B) under renamed namespaces, dot_i8_avx2 at M
// = 1 on one width, interleaved, min over rounds. args: bits K nr total_mb rounds
#include <sys/mman.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#define mpl mpl_a
#include FILE_A
#undef mpl
#define mpl mpl_b
#include FILE_B
#undef mpl
using namespace chord;
int main(int argc, char** argv) {
  int bits = atoi(argv[1]);
  int64_t K = atoll(argv[2]), nr = atoll(argv[3]);
  int64_t total_mb = atoll(argv[4]);
  int rounds = atoi(argv[5]);
  const int epb = 8 / bits;
  int64_t rb = (K + 16 * epb - 1) / (16 * epb) * 16, bytes = rb * nr;
  int64_t nc = total_mb ? (total_mb << 20) / bytes : 1;
  if (nc < 1) nc = 1;
  size_t al = (bytes * nc + (2 << 20)) / (2 << 20) * (2 << 20);
  uint8_t* w = (uint8_t*)aligned_alloc(2 << 20, al);
  madvise(w, al, MADV_HUGEPAGE);
  for (int64_t i = 0; i < bytes * nc; ++i) w[i] = (i * 2654435761u) >> 11;
  int64_t Kp = (K + 511) / 512 * 512;
  int8_t* x = (int8_t*)aligned_alloc(64, Kp);
  for (int64_t i = 0; i < Kp; ++i) x[i] = i < K ? (i * 37 % 255) - 127 : 0;
  int64_t qsum = 0;
  for (int64_t i = 0; i < K; ++i) qsum += x[i];
  std::vector<int64_t> oa(nr), ob(nr);
  double ba = 1e30, bb = 1e30;
  bool same = true;
  for (int r = 0; r < rounds; ++r) {
    for (int which = 0; which < 2; ++which) {
      auto t0 = std::chrono::steady_clock::now();
      for (int64_t c = 0; c < nc; ++c) {
        if (which == 0)
          mpl_a::dot_i8_avx2(w + c * bytes, rb, bits, nr, x, Kp, 1, &qsum, oa.data(), nr, w + bytes * nc);
        else
          mpl_b::dot_i8_avx2(w + c * bytes, rb, bits, nr, x, Kp, 1, &qsum, ob.data(), nr, w + bytes * nc);
      }
      double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / nc;
      (which ? bb : ba) = std::min(which ? bb : ba, dt);
    }
    same = same && oa == ob;
  }
  printf("bits=%d K=%ld nr=%ld copies=%ld  A %.2f us %.1f GB/s   B %.2f us %.1f GB/s  B/A %.3f same=%d\n", bits, K, nr,
         nc, ba * 1e6, bytes / ba / 1e9, bb * 1e6, bytes / bb / 1e9, bb / ba, same);
}
