#include <pthread.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
alignas(64) std::atomic<int> flag{0};
void pin(int c) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(c, &s);
  pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}
int main() {
  const int N = 200000;
  std::thread t([&] {
    pin(1);
    for (int i = 0; i < N; ++i) {
      while (flag.load(std::memory_order_acquire) != 2 * i + 1);
      flag.store(2 * i + 2, std::memory_order_release);
    }
  });
  pin(0);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < N; ++i) {
    flag.store(2 * i + 1, std::memory_order_release);
    while (flag.load(std::memory_order_acquire) != 2 * i + 2);
  }
  auto t1 = std::chrono::steady_clock::now();
  t.join();
  printf("round trip %.1f ns\n", std::chrono::duration<double>(t1 - t0).count() / N * 1e9);
}
