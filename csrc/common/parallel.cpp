#include "common/parallel.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

namespace chord {
namespace {

struct Job {
  const std::function<void(int64_t, int)>* fn = nullptr;  // valid while done < ntasks
  int64_t ntasks = 0;
  int max_helpers = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::atomic<int> joined{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;  // the first exception (written once, by whoever set `failed`)
  std::mutex mu;
  std::condition_variable cv;

  // Claim and run tasks until none is left. A claim past the end never touches fn, so a
  // worker still holding the Job after the caller returned is harmless (shared_ptr keeps it).
  void run(int slot) {
    for (;;) {
      const int64_t t = next.fetch_add(1, std::memory_order_relaxed);
      if (t >= ntasks) return;
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
};

class Pool {
 public:
  bool try_run(const std::function<void(int64_t, int)>& fn, int64_t ntasks, int helpers) {
    std::unique_lock<std::mutex> busy(busy_mu_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->ntasks = ntasks;
    job->max_helpers = helpers;
    {
      std::lock_guard<std::mutex> lk(mu_);
      while (int(workers_.size()) < helpers) {
        workers_.emplace_back([this] { loop(); });
        workers_.back().detach();  // never joined: process exit cannot deadlock on them
      }
      job_ = job;
      ++gen_;
    }
    cv_.notify_all();
    job->run(0);
    {
      std::unique_lock<std::mutex> lk(job->mu);
      job->cv.wait(lk, [&] { return job->done.load(std::memory_order_acquire) == ntasks; });
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
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return gen_ != seen; });
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
  uint64_t gen_ = 0;
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

void parallel_for_slots(int64_t ntasks, int nthreads, const std::function<void(int64_t, int)>& fn) {
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
    if (pool().try_run(wrapped, ntasks, helpers)) return;
  }
  for (int64_t t = 0; t < ntasks; ++t) fn(t, 0);
}

void parallel_for(int64_t ntasks, int nthreads, const std::function<void(int64_t)>& fn) {
  parallel_for_slots(ntasks, nthreads, [&fn](int64_t t, int) { fn(t); });
}

}  // namespace chord
