// The fixed (size-independent) costs of one M = 1 act8 mp_linear call, without Python:
// activation preparation alone (PreparedActs), an empty pool round trip at 2 threads, and
// mp_linear (direct path, as a large weight takes) on a weight of 24 rows (K = 4096: the streaming part is ~25 KB,
// hot). Min and p10 of single calls (steady_clock), many calls, hot caches. Build (repository root, after python
// setup.py build_ext --inplace):
//   g++ -O3 -std=c++17 -Icsrc reports/2026-12-07-gemv-4/fixed_costs.cpp \
//     $(ls build/temp.*/csrc/{common,mp_linear,quantize_pack}/*.o | grep -v 'mp_linear/mp_linear.o') \
//     csrc/mp_linear/mp_linear.cpp -o /tmp/fc -lpthread
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <vector>

#include "common/parallel.h"
#include "mp_linear/mp_linear.h"

using namespace chord::mpl;

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <class F>
void timeit(const char* what, F&& f, int n = 20000) {
  std::vector<double> t;
  for (int i = 0; i < 200; ++i) f();
  for (int i = 0; i < n; ++i) {
    const double a = now();
    f();
    t.push_back(now() - a);
  }
  std::sort(t.begin(), t.end());
  std::printf("%-44s min %6.2f  p10 %6.2f  med %6.2f us\n", what, t[0] * 1e6, t[t.size() / 10] * 1e6,
              t[t.size() / 2] * 1e6);
}

int main(int argc, char** argv) {
  const int64_t K = argc > 1 ? atoll(argv[1]) : 4096;
  std::mt19937 rng(0);
  std::normal_distribution<float> g;
  std::vector<float> x(static_cast<size_t>(K));
  for (auto& v : x) v = g(rng);
  const unsigned mask = (1u << 8) | (1u << 4) | (1u << 2);
  timeit("PreparedActs act8 M=1 (3 widths)",
         [&] { PreparedActs a(x.data(), DType::F32, 1, K, K, 1, mask, 8, chord::Isa::Auto, 1); });
  const std::function<void(int64_t, int)> nop = [](int64_t, int) {};
  for (int nt : {1, 2}) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "parallel_for_blocked 2 empty tasks, t=%d", nt);
    timeit(buf, [&] { chord::parallel_for_blocked(2, nt, nop); });
  }
  // a 24-row mix3 weight: 8 rows of each width
  const int64_t N = 24, buckets[6] = {8, 8, 4, 8, 2, 8};
  int64_t qbytes = 0;
  chord::fmt::bucket_spans(buckets, 6, K, N, "", &qbytes);
  std::vector<uint8_t> q(static_cast<size_t>(qbytes));
  for (size_t i = 0; i < q.size(); ++i) q[i] = uint8_t(i * 2654435761u >> 13);
  std::vector<float> sc(static_cast<size_t>(N), 0.01f), ze(static_cast<size_t>(N), 1.f), y(static_cast<size_t>(N));
  std::vector<int32_t> perm(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) perm[size_t(i)] = int32_t(i);
  const PackedView w = make_packed_view(q.data(), qbytes, sc.data(), N, ze.data(), N, perm.data(), N, buckets, 6, K);
  for (int nt : {1, 2}) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "mp_linear act8 M=1, 24 rows, t=%d", nt);
    timeit(buf, [&] {
      mp_linear(w, x.data(), DType::F32, 1, K, 1, nullptr, 8, y.data(), DType::F32, N, nt, chord::Isa::Auto,
                Path::Direct);
    });
  }
}
