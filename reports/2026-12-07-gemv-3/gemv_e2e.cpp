// chord::mpl::mp_linear at M = 1, act_bits = 8, end to end without Python: a mix3 K x K packed
// weight (buckets [8, K/8, 4, K/8, 2, 3K/4] as chord.pack orders them, perm ascending within a
// bucket as chord.pack makes it), rotated over >= 256 MiB of copies (packed bytes on 2 MiB pages,
// scales / zeros / perm per copy), timed like chord bench: rounds of back-to-back calls, min of
// the round means. Build (from the repository root, after `python setup.py build_ext --inplace`):
//   g++ -O3 -std=c++17 -Icsrc reports/2026-12-07-gemv-3/gemv_e2e.cpp \
//     $(ls build/temp.*/csrc/{common,mp_linear,quantize_pack}/*.o | grep -v 'mp_linear/mp_linear.o') \
//     csrc/mp_linear/mp_linear.cpp -o /tmp/ge -lpthread
//   /tmp/ge K THREADS_LIST SECONDS     e.g. /tmp/ge 4096 1,2,1,2 2
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "mp_linear/mp_linear.h"

using namespace chord::mpl;

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char** argv) {
  const int64_t K = argc > 1 ? atoll(argv[1]) : 4096, N = K;
  std::vector<int> threads;
  {
    std::stringstream ss(argc > 2 ? argv[2] : "1,2");
    for (std::string t; std::getline(ss, t, ',');) threads.push_back(std::stoi(t));
  }
  const double seconds = argc > 3 ? atof(argv[3]) : 1.0;
  const int64_t buckets[6] = {8, N / 8, 4, N / 8, 2, N - N / 4};
  int64_t qbytes = 0;
  chord::fmt::bucket_spans(buckets, 6, K, N, "", &qbytes);
  const int64_t per = qbytes + N * 12;
  const int64_t ncopies = std::max<int64_t>(2, ((256ll << 20) + per - 1) / per);
  const size_t stride = size_t(qbytes + (2 << 20) - 1) / (2 << 20) * (2 << 20);
  const size_t total = stride * size_t(ncopies), huge = 2 << 20;
  uint8_t* raw =
      static_cast<uint8_t*>(mmap(nullptr, total + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  uint8_t* buf = reinterpret_cast<uint8_t*>((uintptr_t(raw) + huge - 1) & ~uintptr_t(huge - 1));
  madvise(buf, total, MADV_HUGEPAGE);
  std::mt19937 rng(0);
  for (size_t i = 0; i < size_t(qbytes); ++i) buf[i] = uint8_t(i * 2654435761u >> 13);
  for (int64_t c = 1; c < ncopies; ++c) std::memcpy(buf + size_t(c) * stride, buf, size_t(qbytes));
  // perm: each bucket's output rows, ascending (chord.pack's order)
  std::vector<int32_t> perm0(static_cast<size_t>(N));
  {
    std::vector<int> code(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) code[size_t(i)] = i < N / 8 ? 0 : i < N / 4 ? 1 : 2;
    std::shuffle(code.begin(), code.end(), rng);
    int64_t p = 0;
    for (int c = 0; c < 3; ++c)
      for (int64_t i = 0; i < N; ++i)
        if (code[size_t(i)] == c) perm0[size_t(p++)] = int32_t(i);
  }
  std::vector<std::vector<float>> sc(static_cast<size_t>(ncopies)), ze(static_cast<size_t>(ncopies));
  std::vector<std::vector<int32_t>> pe(static_cast<size_t>(ncopies));
  std::vector<PackedView> views;
  std::uniform_real_distribution<float> u(0.001f, 0.01f), z(0.f, 3.f);
  std::vector<float> sc0(static_cast<size_t>(N)), ze0(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) sc0[size_t(i)] = u(rng), ze0[size_t(i)] = z(rng);
  for (int64_t c = 0; c < ncopies; ++c) {  // the same values in distinct memory (as clone_packed)
    sc[size_t(c)] = sc0;
    ze[size_t(c)] = ze0;
    pe[size_t(c)] = perm0;
    views.push_back(make_packed_view(buf + size_t(c) * stride, qbytes, sc[size_t(c)].data(), N, ze[size_t(c)].data(), N,
                                     pe[size_t(c)].data(), N, buckets, 6, K));
  }
  std::vector<float> x(static_cast<size_t>(K)), y(static_cast<size_t>(N)), y1(static_cast<size_t>(N));
  std::normal_distribution<float> g;
  for (auto& v : x) v = g(rng);
  int64_t call = 0;
  auto one = [&](int nt) {
    mp_linear(views[size_t(call++ % ncopies)], x.data(), DType::F32, 1, K, 1, nullptr, 8, y.data(), DType::F32, N, nt);
  };
  one(1);
  std::memcpy(y1.data(), y.data(), y.size() * 4);
  for (int nt : threads) {
    for (int i = 0; i < 20; ++i) one(nt);
    std::vector<double> rounds, singles;
    const double t_end = now() + seconds;
    while (now() < t_end) {
      const int it = 20;
      const double t0 = now();
      for (int i = 0; i < it; ++i) {
        const double s0 = now();
        one(nt);
        singles.push_back(now() - s0);
      }
      rounds.push_back((now() - t0) / it);
    }
    std::sort(rounds.begin(), rounds.end());
    std::sort(singles.begin(), singles.end());
    const bool same = std::memcmp(y.data(), y1.data(), y.size() * 4) == 0;
    std::printf(
        "K=%lld t=%d copies=%lld: round-mean min %.4f ms | single min %.4f p10 %.4f med %.4f ms (%.1f GB/s)%s\n",
        (long long)K, nt, (long long)ncopies, rounds[0] * 1e3, singles[0] * 1e3, singles[singles.size() / 10] * 1e3,
        singles[singles.size() / 2] * 1e3, qbytes / rounds[0] / 1e9, same ? "" : " MISMATCH");
  }
}
