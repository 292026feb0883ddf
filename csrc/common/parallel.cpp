#include "common/parallel.h"

#include <pthread.h>
#if defined(__linux__)
#include <sched.h>  // sched_getcpu, sched_getaffinity
#include <time.h>   // clock_gettime of a worker's CPU clock
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace chord {
namespace {

// The idle policy (parallel.h, detail::SpinWindow). A worker that runs out of tasks spins on the
// job counter before it sleeps on a condition variable, as long as the gaps between recent jobs
// say the next one comes soon, up to the cap. The runtimes around us spin for milliseconds by
// default: libgomp 300k spins (GOMP_SPINCOUNT; 100 when it has more threads than CPUs), the LLVM
// / Intel OpenMP runtime 200 ms (KMP_BLOCKTIME), ggml's threadpool polls 50 * 128k rounds
// (poll=50), XNNPACK's pthreadpool 1M spins. A fixed 100 us here was shorter than the gap `chord
// bench` leaves between calls (~150-230 us), so every 2-thread call there paid a futex wake-up
// (53-64 us measured; reports/2026-12-07-avx2-gemm-3.md); a fixed 1 ms would burn a core for 1 ms
// after every burst of calls. Adapting keeps the spin at 100 us where calls are far apart, and
// lets it bridge the gaps calls actually leave, up to the cap. Where the pool has more threads
// than the process has CPUs a spinning worker would take a core from one with work, so it spins
// kFloor at most (libgomp's throttle), and a straggler (a worker that could not run: a busy core)
// drops the window to kFloor. While it spins a worker yields its core every ~64 pauses (spin_until):
// a caller on the same core gets it back within microseconds.
constexpr int64_t kDefaultSpinCapNs = 1'000'000;
// A caller waiting for tasks claimed by others spins longer before it sleeps: a thread that was
// descheduled holding a task is back after the busy process's time slice (a scheduler tick), and a
// caller woken by it from a sleep may be placed on that thread's core, the busy one, where it then
// runs the following calls at half speed until the scheduler moves it back
// (reports/2026-12-07-contend.md).
constexpr std::chrono::microseconds kCallerSpin{5000};

// Straggler pause (parallel.h). After running out of tasks the caller waits only for tasks other
// threads claimed; a job *straggles* when that wait outlasts what the workers saved it: longer than
// the caller would have taken to run the workers' tasks itself at its own pace in this job (its
// wall time per task, descheduling included), plus kSlack. Such a job cost more at 2 threads than
// at 1: a worker was descheduled holding a task (beside a busy process, until the busy one's time
// slice ends: up to a scheduler tick), or joined late and ran slower than the caller.
// Only the caller's own wait counts. When the *caller* shares the busy core it is the one
// descheduled holding a task, the worker on the free core runs out of tasks first and waits for
// nobody, and the job is no straggler: the worker took the tasks the caller could not run, and
// running alone would leave the caller on the busy core at half speed. (The rule before counted
// the time from the first thread running out of tasks, so it paused exactly there: rows ran ~2x
// their 1-thread time with most jobs on the caller alone; reports/2026-12-07-contend-2.md.)
// A wait shorter than the savings is no straggler however long: a long job keeps the help of a
// thread sharing the busy core. After a straggling job the pool runs jobs on the caller alone for a
// pause that doubles with each straggler (kPauseMin .. kPauseMax) and halves after kCleanToRelax
// clean jobs in a row.
constexpr int64_t kSlack = 20'000;  // ns: a worker's wake-up and a cold task, not a descheduling
// The pause stays short: while it lasts, a caller that landed on the busy core has no worker to
// take its tasks (with a 1 s cap, rows run mostly alone were slower than at 1 thread:
// reports/2026-12-07-contend.md).
constexpr int64_t kPauseMin = 8'000'000, kPauseMax = 64'000'000;  // ns
constexpr int kCleanToRelax = 32;

inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until ready() or for `limit`; returns ready(). Every 64 spins (microseconds) it yields if
// may_yield(): a thread that shares its core with another runnable thread of the job (both landed
// on the free core while a busy process holds the other) gives it the core instead of holding it
// for a whole time slice.
inline bool always() {
  return true;
}
template <class F, class Y = bool (*)()>
bool spin_until(F&& ready, std::chrono::nanoseconds limit, Y&& may_yield = always) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 1;; ++i) {
    if (ready()) return true;
    cpu_relax();
    if (i % 64 == 0) {
      if (std::chrono::steady_clock::now() - t0 > limit) return ready();
      if (may_yield()) std::this_thread::yield();
    }
  }
}

// The bit of the CPU the calling thread runs on (CPUs 64 apart share one; all bits where unknown,
// so a waiting caller yields as it always did).
inline uint64_t cpu_bit() {
#if defined(__linux__)
  const int c = sched_getcpu();
  return c < 0 ? ~uint64_t(0) : uint64_t(1) << (c % 64);
#else
  return ~uint64_t(0);
#endif
}

// The spin cap (ns; parallel.h): -1 until CHORD_POOL_SPIN_US is read or set_pool_spin sets it. A
// global, not the Pool's, so it holds in a forked child (which builds a fresh pool).
std::atomic<int64_t> g_spin_cap_ns{-1};

int64_t spin_cap_from_env() {
  const char* env = std::getenv("CHORD_POOL_SPIN_US");
  if (!env || !*env) return kDefaultSpinCapNs;
  char* end = nullptr;
  const long long v = std::strtoll(env, &end, 10);
  if (env[0] < '0' || env[0] > '9' || *end || v > kMaxSpinUs)
    throw std::invalid_argument("CHORD_POOL_SPIN_US: expected whole microseconds in [0, " + std::to_string(kMaxSpinUs) +
                                "], got '" + env + "'");
  return int64_t(v) * 1000;
}

int64_t spin_cap_ns() {
  int64_t cap = g_spin_cap_ns.load(std::memory_order_relaxed);
  if (cap >= 0) return cap;
  int64_t unset = -1;
  g_spin_cap_ns.compare_exchange_strong(unset, spin_cap_from_env(), std::memory_order_relaxed);
  return g_spin_cap_ns.load(std::memory_order_relaxed);
}

// CPUs this process may run on (at least 1)
int usable_cpus() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(CPU_COUNT(&set), 1);
#endif
  return std::max(int(std::thread::hardware_concurrency()), 1);
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
  const int64_t* cost = nullptr;  // cum_cost, read only for claimed tasks (so while valid)
  int64_t total_cost = 0;
  std::atomic<int64_t> done{0};
  std::atomic<int> joined{0};
  std::atomic<bool> failed{false};
  // CPUs the workers ran this job's tasks on (cpu_bit; bits are never cleared: a stale one only
  // makes the caller yield where it need not)
  std::atomic<uint64_t> worker_cpus{0};
  std::exception_ptr error;  // the first exception (written once, by whoever set `failed`)
  std::mutex mu;
  std::condition_variable cv;

  Job(int64_t n, int helpers, bool blocked, const int64_t* cum_cost)
      : ntasks(n),
        max_helpers(helpers),
        nruns(blocked ? helpers + 1 : 1),
        runs(new Run[size_t(nruns)]),
        cost(cum_cost),
        total_cost(cum_cost ? cum_cost[n] - cum_cost[0] : n) {
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
  // Returns the cost of the tasks this thread ran (cum_cost's units; 1 a task without it).
  int64_t run(int slot) {
    int64_t ran = 0;
    for (int k = 0; k < nruns; ++k) {
      Run& r = runs[size_t((slot + k) % nruns)];
      for (;;) {
        const int64_t t = r.next.fetch_add(1, std::memory_order_relaxed);
        if (t >= r.end) break;
        ran += cost ? cost[t + 1] - cost[t] : 1;
        if (slot) {
          const uint64_t b = cpu_bit();
          if ((worker_cpus.load(std::memory_order_relaxed) & b) != b)
            worker_cpus.fetch_or(b, std::memory_order_relaxed);
        }
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
    return ran;
  }
};

class Pool {
 public:
  bool try_run(const std::function<void(int64_t, int)>& fn, int64_t ntasks, int helpers, bool blocked,
               const int64_t* cum_cost) {
    std::unique_lock<std::mutex> busy(busy_mu_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    const int64_t t0 = now_ns();
    if (t0 < paused_until_) {  // the caller runs the job alone
      alone_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    shared_.fetch_add(1, std::memory_order_relaxed);
    // the idle policy learns the gap this job's workers had to bridge (from the last shared job's end)
    const int64_t cap = spin_cap_ns();
    spin_.on_gap(t0 - last_end_, cap);
    auto job = std::make_shared<Job>(ntasks, helpers, blocked, cum_cost);
    job->fn = &fn;
    bool wake;
    {
      std::lock_guard<std::mutex> lk(mu_);
      while (int(workers_.size()) < helpers) {
        workers_.emplace_back([this] { loop(); });
        handles_.push_back(workers_.back().native_handle());  // valid: the thread never exits
        workers_.back().detach();                             // never joined: process exit cannot deadlock on them
      }
      // read by the workers when they next run out of tasks
      int64_t spin = spin_.spin_ns(cap);
      if (int(workers_.size()) + 1 > ncpu_) spin = std::min(spin, detail::SpinWindow::kFloor);
      spin_ns_.store(spin, std::memory_order_relaxed);
      job_ = job;
      gen_spin_.store(++gen_, std::memory_order_release);
      wake = sleepers_ > 0;  // spinning workers see gen_spin_ without a wake-up
    }
    if (wake) cv_.notify_all();
    const int64_t mine = job->run(0);
    const int64_t t_free = now_ns();
    const auto all_done = [&] { return job->done.load(std::memory_order_acquire) == ntasks; };
    // The waiting caller yields only to a worker on its own CPU. On another CPU the worker runs
    // anyway, and a caller sharing the busy core would hand that core to the busy process, which
    // keeps it for the rest of its time slice (up to a scheduler tick) after the worker is done:
    // the caller's own wait, ms on a sub-ms job (reports/2026-12-07-contend-2.md).
    const auto worker_here = [&] { return (job->worker_cpus.load(std::memory_order_relaxed) & cpu_bit()) != 0; };
    if (!spin_until(all_done, kCallerSpin, worker_here)) {
      std::unique_lock<std::mutex> lk(job->mu);
      job->cv.wait(lk, all_done);
    }
    last_end_ = now_ns();
    note_wait(t0, t_free, last_end_, job->total_cost, mine);
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_.reset();
    }
    if (job->failed.load()) std::rethrow_exception(job->error);
    return true;
  }

  PoolStats stats() const {
    PoolStats st;
    st.shared = shared_.load(std::memory_order_relaxed);
    st.alone = alone_.load(std::memory_order_relaxed);
    st.stragglers = stragglers_.load(std::memory_order_relaxed);
    st.helped = helped_.load(std::memory_order_relaxed);
    st.wait_us = wait_ns_.load(std::memory_order_relaxed) / 1000;
    st.wakeups = wakeups_.load(std::memory_order_relaxed);
    return st;
  }

  // a lower cap holds from now on, also for a worker about to start its spin
  void clamp_spin(int64_t cap) {
    int64_t cur = spin_ns_.load(std::memory_order_relaxed);
    while (cur > cap && !spin_ns_.compare_exchange_weak(cur, cap, std::memory_order_relaxed)) {
    }
  }

  PoolSpin spin() {
    PoolSpin sp;
    const int64_t cap = spin_cap_ns();
    sp.cap_us = cap / 1000;
    std::vector<pthread_t> handles;
    {
      std::lock_guard<std::mutex> lk(mu_);
      sp.window_us = spin_ns_.load(std::memory_order_relaxed) / 1000;
      sp.workers = int(workers_.size());
      sp.sleeping = sleepers_;
      handles = handles_;
    }
    sp.worker_cpu_us = 0;
    for (pthread_t h : handles) {
#if defined(__linux__)
      clockid_t clock;
      timespec ts;
      if (pthread_getcpuclockid(h, &clock) == 0 && clock_gettime(clock, &ts) == 0) {
        sp.worker_cpu_us += int64_t(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
        continue;
      }
#endif
      (void)h;
      sp.worker_cpu_us = -1;
      break;
    }
    return sp;
  }

 private:
  // The straggler pause (kSlack above), from a job that started at t0, where the caller ran tasks
  // costing `mine` of `total`, ran out of tasks at t_free and saw the last one end at t_end.
  // Under busy_mu_.
  void note_wait(int64_t t0, int64_t t_free, int64_t t_end, int64_t total, int64_t mine) {
    const int64_t wait = t_end - t_free;
    wait_ns_.fetch_add(wait, std::memory_order_relaxed);
    if (mine < total) helped_.fetch_add(1, std::memory_order_relaxed);
    // what the caller would have taken for the workers' tasks (it ran none: nothing to judge)
    const int64_t saved = mine ? int64_t(double(t_free - t0) * double(total - mine) / double(mine)) : wait;
    if (wait > saved + kSlack) {
      stragglers_.fetch_add(1, std::memory_order_relaxed);
      // a worker could not run when it had to: do not hold a shared core spinning
      spin_.on_straggler();
      spin_ns_.store(std::min(spin_ns_.load(std::memory_order_relaxed), detail::SpinWindow::kFloor),
                     std::memory_order_relaxed);
      paused_until_ = t_end + pause_ns_;
      pause_ns_ = std::min(2 * pause_ns_, kPauseMax);
      clean_ = 0;
    } else if (++clean_ >= kCleanToRelax) {
      pause_ns_ = std::max(pause_ns_ / 2, kPauseMin);
      clean_ = 0;
    }
  }

  void loop() {
    uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      const std::chrono::nanoseconds spin(spin_ns_.load(std::memory_order_relaxed));
      if (spin.count() > 0) spin_until([&] { return gen_spin_.load(std::memory_order_acquire) != seen; }, spin);
      {
        std::unique_lock<std::mutex> lk(mu_);
        if (gen_ == seen) {
          ++sleepers_;
          cv_.wait(lk, [&] { return gen_ != seen; });
          --sleepers_;
          wakeups_.fetch_add(1, std::memory_order_relaxed);
        }
        seen = gen_;
        job = job_;
      }
      if (!job) continue;
      const int slot = job->joined.fetch_add(1) + 1;
      if (slot <= job->max_helpers) job->run(slot);
    }
  }

  std::mutex busy_mu_;  // one job at a time
  // the idle policy (under busy_mu_): the window, and when the last shared job ended
  detail::SpinWindow spin_;
  int64_t last_end_ = 0;
  std::atomic<int64_t> spin_ns_{detail::SpinWindow::kFloor};  // what an idle worker spins now
  const int ncpu_ = usable_cpus();
  // the straggler pause (under busy_mu_)
  int64_t paused_until_ = 0;  // now_ns() before which jobs run on the caller alone
  int64_t pause_ns_ = kPauseMin;
  int clean_ = 0;  // jobs without a straggler since the last one or the last relaxation
  std::atomic<int64_t> shared_{0}, alone_{0}, stragglers_{0}, helped_{0}, wait_ns_{0}, wakeups_{0};  // pool_stats()
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<Job> job_;
  uint64_t gen_ = 0;                   // jobs published (under mu_)
  std::atomic<uint64_t> gen_spin_{0};  // a copy that spinning workers poll without the lock
  int sleepers_ = 0;                   // workers blocked on cv_ (under mu_)
  std::vector<std::thread> workers_;
  std::vector<pthread_t> handles_;  // the workers', for their CPU clocks (under mu_)
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
  if (!g_pool) {
    spin_cap_ns();  // a bad CHORD_POOL_SPIN_US throws here, before any job
    g_pool = new Pool();
  }
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

PoolStats pool_stats() {
  return pool().stats();
}

PoolSpin pool_spin() {
  return pool().spin();
}

void set_pool_spin(int64_t spin_us) {
  if (spin_us < 0 || spin_us > kMaxSpinUs)
    throw std::invalid_argument("spin_us: expected whole microseconds in [0, " + std::to_string(kMaxSpinUs) +
                                "], got " + std::to_string(spin_us));
  g_spin_cap_ns.store(spin_us * 1000, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lk(g_pool_mu);
  if (g_pool) g_pool->clamp_spin(spin_us * 1000);
}

void parallel_for(int64_t ntasks, int nthreads, const std::function<void(int64_t)>& fn) {
  parallel_for_slots(ntasks, nthreads, [&fn](int64_t t, int) { fn(t); });
}

}  // namespace chord
