#include "common/parallel.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace chord {
namespace {

struct Job {
  const std::function<void(int64_t)>* fn = nullptr;  // valid while done < ntasks
  int64_t ntasks = 0;
  int max_helpers = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::atomic<int> joined{0};
  std::mutex mu;
  std::condition_variable cv;

  // Claim and run tasks until none is left. A claim past the end never touches fn, so a
  // worker still holding the Job after the caller returned is harmless (shared_ptr keeps it).
  void run() {
    for (;;) {
      const int64_t t = next.fetch_add(1, std::memory_order_relaxed);
      if (t >= ntasks) return;
      (*fn)(t);
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == ntasks) {
        std::lock_guard<std::mutex> lk(mu);
        cv.notify_all();
      }
    }
  }
};

class Pool {
 public:
  // Leaked on purpose: workers are never joined, so process exit cannot deadlock on them.
  static Pool& get() {
    static std::mutex init_mu;
    static Pool* pool = nullptr;
    static pid_t owner = 0;
    std::lock_guard<std::mutex> lk(init_mu);
    if (!pool || owner != getpid()) {  // first use, or a forked child (its workers are gone)
      pool = new Pool();
      owner = getpid();
    }
    return *pool;
  }

  bool try_run(const std::function<void(int64_t)>& fn, int64_t ntasks, int helpers) {
    std::unique_lock<std::mutex> busy(busy_mu_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->ntasks = ntasks;
    job->max_helpers = helpers;
    {
      std::lock_guard<std::mutex> lk(mu_);
      while (int(workers_.size()) < helpers) workers_.emplace_back([this] { loop(); });
      job_ = job;
      ++gen_;
    }
    cv_.notify_all();
    job->run();
    {
      std::unique_lock<std::mutex> lk(job->mu);
      job->cv.wait(lk, [&] { return job->done.load(std::memory_order_acquire) == ntasks; });
    }
    std::lock_guard<std::mutex> lk(mu_);
    job_.reset();
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
      if (job && job->joined.fetch_add(1) < job->max_helpers) job->run();
    }
  }

  std::mutex busy_mu_;  // one job at a time
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<Job> job_;
  uint64_t gen_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace

void parallel_for(int64_t ntasks, int nthreads, const std::function<void(int64_t)>& fn) {
  if (ntasks <= 0) return;
  const int helpers = int(std::min<int64_t>(std::max(nthreads, 1), ntasks)) - 1;
  if (helpers > 0 && Pool::get().try_run(fn, ntasks, helpers)) return;
  for (int64_t t = 0; t < ntasks; ++t) fn(t);
}

}  // namespace chord
