#include "common/parallel.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

namespace chord {
namespace {

// How long an idle worker, or a caller waiting for tasks claimed by others, spins before it
// sleeps (parallel.h): long enough to bridge back-to-back calls, short enough to cost little.
constexpr std::chrono::microseconds kSpin{100};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until ready() or for kSpin; returns ready(). Yields every 64 spins (~1-2 us): a thread
// that shares its core with another runnable thread (the caller, when a busy process holds the
// other core) gives it the core instead of holding it for a whole time slice.
template <class F>
bool spin_until(F&& ready) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 1;; ++i) {
    if (ready()) return true;
    cpu_relax();
    if (i % 64 == 0) {
      if (std::chrono::steady_clock::now() - t0 > kSpin) return ready();
      std::this_thread::yield();
    }
  }
}

// One contiguous block of tasks, claimed front to back (own cache line: threads hit it with atomics).
struct alignas(64) Run {
  std::atomic<int64_t> next{0};
  int64_t end = 0;
};

struct Job {
  const std::function<void(int64_t, int)>* fn = nullptr;  // valid while done < ntasks
  int64_t ntasks = 0;
  int max_helpers = 0;
  int nruns = 1;  // 1: tasks handed out one at a time; max_helpers + 1: blocked (a run per slot)
  std::unique_ptr<Run[]> runs;
  std::atomic<int64_t> done{0};
  std::atomic<int> joined{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;  // the first exception (written once, by whoever set `failed`)
  std::mutex mu;
  std::condition_variable cv;

  Job(int64_t n, int helpers, bool blocked, const int64_t* cum_cost)
      : ntasks(n), max_helpers(helpers), nruns(blocked ? helpers + 1 : 1), runs(new Run[size_t(nruns)]) {
    // run i: tasks from the first whose prefix cost reaches i / nruns of the total
    for (int i = 0; i < nruns; ++i) {
      int64_t b = n * (i + 1) / nruns;
      if (cum_cost && i + 1 < nruns) {
        const int64_t target = int64_t(double(cum_cost[n]) * (i + 1) / nruns);
        b = int64_t(std::lower_bound(cum_cost, cum_cost + n + 1, target) - cum_cost);
      }
      runs[size_t(i)].end = std::max(b, i ? runs[size_t(i - 1)].end : int64_t(0));
      if (i) runs[size_t(i)].next.store(runs[size_t(i - 1)].end, std::memory_order_relaxed);
    }
    runs[size_t(nruns - 1)].end = n;
  }

  // Claim and run tasks until none is left: this slot's run first, then the others'. A claim
  // past a run's end never touches fn, so a worker still holding the Job after the caller
  // returned is harmless (shared_ptr keeps it).
  void run(int slot) {
    for (int k = 0; k < nruns; ++k) {
      Run& r = runs[size_t((slot + k) % nruns)];
      for (;;) {
        const int64_t t = r.next.fetch_add(1, std::memory_order_relaxed);
        if (t >= r.end) break;
        if (!failed.load(std::memory_order_relaxed)) {
          try {
            (*fn)(t, slot);
          } catch (...) {
            if (!failed.exchange(true)) error = std::current_exception();
          }
        }
        if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == ntasks) {
          std::lock_guard<std::mutex> lk(mu);
          cv.notify_all();
        }
      }
    }
  }
};

class Pool {
 public:
  bool try_run(const std::function<void(int64_t, int)>& fn, int64_t ntasks, int helpers, bool blocked,
               const int64_t* cum_cost) {
    std::unique_lock<std::mutex> busy(busy_mu_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    auto job = std::make_shared<Job>(ntasks, helpers, blocked, cum_cost);
    job->fn = &fn;
    bool wake;
    {
      std::lock_guard<std::mutex> lk(mu_);
      while (int(workers_.size()) < helpers) {
        workers_.emplace_back([this] { loop(); });
        workers_.back().detach();  // never joined: process exit cannot deadlock on them
      }
      job_ = job;
      gen_spin_.store(++gen_, std::memory_order_release);
      wake = sleepers_ > 0;  // spinning workers see gen_spin_ without a wake-up
    }
    if (wake) cv_.notify_all();
    job->run(0);
    const auto all_done = [&] { return job->done.load(std::memory_order_acquire) == ntasks; };
    if (!spin_until(all_done)) {
      std::unique_lock<std::mutex> lk(job->mu);
      job->cv.wait(lk, all_done);
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_.reset();
    }
    if (job->failed.load()) std::rethrow_exception(job->error);
    return true;
  }

 private:
  void loop() {
    uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      spin_until([&] { return gen_spin_.load(std::memory_order_acquire) != seen; });
      {
        std::unique_lock<std::mutex> lk(mu_);
        ++sleepers_;
        cv_.wait(lk, [&] { return gen_ != seen; });
        --sleepers_;
        seen = gen_;
        job = job_;
      }
      if (!job) continue;
      const int slot = job->joined.fetch_add(1) + 1;
      if (slot <= job->max_helpers) job->run(slot);
    }
  }

  std::mutex busy_mu_;  // one job at a time
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<Job> job_;
  uint64_t gen_ = 0;                   // jobs published (under mu_)
  std::atomic<uint64_t> gen_spin_{0};  // a copy that spinning workers poll without the lock
  int sleepers_ = 0;                   // workers blocked on cv_ (under mu_)
  std::vector<std::thread> workers_;
};

// The process's pool: created on first use, and again in a forked child (whose copy of the
// parent's pool has no worker threads and may hold locked mutexes). Leaked on purpose.
std::mutex g_pool_mu;
Pool* g_pool = nullptr;
thread_local bool t_in_task = false;  // a task that calls parallel_for runs it inline

void reset_after_fork() {
  // the child has one thread: nothing else can hold or wait on these
  new (&g_pool_mu) std::mutex();
  g_pool = nullptr;
}

Pool& pool() {
  static const int registered = pthread_atfork(nullptr, nullptr, reset_after_fork);
  (void)registered;
  std::lock_guard<std::mutex> lk(g_pool_mu);
  if (!g_pool) g_pool = new Pool();
  return *g_pool;
}

}  // namespace

namespace {
void run_tasks(int64_t ntasks, int nthreads, const std::function<void(int64_t, int)>& fn, bool blocked,
               const int64_t* cum_cost) {
  if (ntasks <= 0) return;
  const int helpers = int(std::min<int64_t>(std::max(nthreads, 1), ntasks)) - 1;
  if (helpers > 0 && !t_in_task) {
    // tasks run with t_in_task set (on the caller and on the workers), so a task that calls
    // parallel_for runs it inline instead of waiting on the pool it is part of (and the caller
    // never try-locks the pool mutex it already holds)
    const std::function<void(int64_t, int)> wrapped = [&fn](int64_t t, int slot) {
      struct Flag {
        Flag() { t_in_task = true; }
        ~Flag() { t_in_task = false; }
      } flag;
      fn(t, slot);
    };
    if (pool().try_run(wrapped, ntasks, helpers, blocked, cum_cost)) return;
  }
  for (int64_t t = 0; t < ntasks; ++t) fn(t, 0);
}
}  // namespace

void parallel_for_slots(int64_t ntasks, int nthreads, const std::function<void(int64_t, int)>& fn) {
  run_tasks(ntasks, nthreads, fn, false, nullptr);
}

void parallel_for_blocked(int64_t ntasks, int nthreads, const std::function<void(int64_t, int)>& fn,
                          const int64_t* cum_cost) {
  run_tasks(ntasks, nthreads, fn, true, cum_cost);
}

void parallel_for(int64_t ntasks, int nthreads, const std::function<void(int64_t)>& fn) {
  parallel_for_slots(ntasks, nthreads, [&fn](int64_t t, int) { fn(t); });
}

}  // namespace chord
