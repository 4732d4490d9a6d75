#include "ops/cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

namespace boneage {
namespace cpu {
namespace {

int default_threads() {
  if (const char* env = std::getenv("BONEAGE_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

std::atomic<int> g_threads{0};

// One parallel loop. Lives on the caller's stack until every helper that took one of its
// tickets has finished (`active` back to 0, checked under the pool's mutex).
struct Job {
  const std::function<void(int64_t, int)>* fn = nullptr;
  int64_t n_tasks = 0;
  std::atomic<int64_t> next{0};
  int next_worker = 1;  // guarded by the pool's mutex
  int active = 0;       // guarded by the pool's mutex
  std::condition_variable done;
  std::mutex error_mutex;
  std::exception_ptr error;

  void run(int worker) {
    try {
      for (int64_t t = next.fetch_add(1); t < n_tasks; t = next.fetch_add(1)) (*fn)(t, worker);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next.store(n_tasks);
    }
  }
};

class Pool {
 public:
  void run(Job& job, int helpers) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      grow(helpers);
      const int tickets = std::min(helpers, static_cast<int>(threads_.size()));
      for (int i = 0; i < tickets; ++i) queue_.push_back(&job);
    }
    cv_.notify_all();
    job.run(0);
    std::unique_lock<std::mutex> lock(mu_);
    queue_.erase(std::remove(queue_.begin(), queue_.end(), &job), queue_.end());
    job.done.wait(lock, [&] { return job.active == 0; });
  }

  int size() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(threads_.size());
  }

 private:
  // Starts helpers up to `n` (mu_ held). A failure to start one is not an error: the
  // loop runs on the threads there are.
  void grow(int n) {
    while (static_cast<int>(threads_.size()) < n) {
      try {
        threads_.emplace_back([this] { serve(); });
      } catch (...) {
        return;
      }
    }
  }

  void serve() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return !queue_.empty(); });
      Job* job = queue_.front();
      queue_.pop_front();
      ++job->active;
      const int worker = job->next_worker++;
      lock.unlock();
      job->run(worker);
      lock.lock();
      if (--job->active == 0) job->done.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job*> queue_;
  // Never destroyed (see pool()): the helpers block in serve() for the life of the process.
  std::vector<std::thread> threads_;
};

// The pool is allocated once per process and deliberately never freed: destroying a
// std::thread that is still joinable calls std::terminate, and helpers must outlive
// static destruction at exit. In a forked child the parent's helpers do not exist and
// its mutex may be held by a thread that is gone, so the child forgets the old pool
// (leaking a few bytes) and builds a new one on first use.
std::atomic<Pool*> g_pool{nullptr};

// Idle scratch buffers, smallest first. Like the pool: never freed, forgotten by a child.
struct ScratchCache {
  std::mutex mu;
  std::vector<std::pair<std::size_t, std::unique_ptr<float[]>>> idle;
};
std::atomic<ScratchCache*> g_scratch{nullptr};

void forget_in_child() {
  g_pool.store(nullptr);
  g_scratch.store(nullptr);
}

void register_fork_handler() {
#if defined(__unix__) || defined(__APPLE__)
  static std::once_flag registered;
  std::call_once(registered, [] { pthread_atfork(nullptr, nullptr, forget_in_child); });
#endif
}

// The process's instance in `slot`, made on first use. A thread that loses the race
// deletes its own (unused) one; a forked child finds the slot empty again.
template <typename T>
T& lazily(std::atomic<T*>& slot) {
  T* p = slot.load(std::memory_order_acquire);
  if (p) return *p;
  register_fork_handler();
  T* fresh = new T();
  if (slot.compare_exchange_strong(p, fresh, std::memory_order_acq_rel)) return *fresh;
  delete fresh;  // a pool that lost the race has started no threads
  return *p;
}

Pool& pool() { return lazily(g_pool); }

ScratchCache& scratch_cache() { return lazily(g_scratch); }

}  // namespace

int num_threads() {
  int n = g_threads.load();
  if (n <= 0) {
    n = default_threads();
    g_threads.store(n);
  }
  return n;
}

void set_num_threads(int n) { g_threads.store(n > 0 ? n : default_threads()); }

int workers_for(int64_t n_tasks) {
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads(), n_tasks)));
}

int pool_threads() {
  Pool* p = g_pool.load(std::memory_order_acquire);
  return p ? p->size() : 0;
}

void parallel_for(int64_t n_tasks, const std::function<void(int64_t, int)>& fn) {
  parallel_for(n_tasks, workers_for(n_tasks), fn);
}

void parallel_for(int64_t n_tasks, int workers, const std::function<void(int64_t, int)>& fn) {
  if (n_tasks <= 0) return;
  workers = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(workers, n_tasks)));
  if (workers == 1) {
    for (int64_t t = 0; t < n_tasks; ++t) fn(t, 0);
    return;
  }
  Job job;
  job.fn = &fn;
  job.n_tasks = n_tasks;
  pool().run(job, workers - 1);
  if (job.error) std::rethrow_exception(job.error);
}

ScratchLease::ScratchLease(std::size_t count) {
  ScratchCache& cache = scratch_cache();
  {
    std::lock_guard<std::mutex> lock(cache.mu);
    // The smallest idle buffer that fits.
    for (auto it = cache.idle.begin(); it != cache.idle.end(); ++it) {
      if (it->first >= count) {
        capacity_ = it->first;
        data_ = std::move(it->second);
        cache.idle.erase(it);
        return;
      }
    }
  }
  data_.reset(new float[count]);
  capacity_ = count;
}

ScratchLease::~ScratchLease() {
  if (!data_) return;
  ScratchCache& cache = scratch_cache();
  std::unique_ptr<float[]> drop;  // freed outside the lock
  std::lock_guard<std::mutex> lock(cache.mu);
  try {
    auto pos = std::find_if(cache.idle.begin(), cache.idle.end(),
                            [&](const auto& e) { return e.first > capacity_; });
    cache.idle.emplace(pos, capacity_, std::move(data_));
  } catch (...) {
    return;  // no room to keep it: data_ (if still held) frees it
  }
  if (static_cast<int>(cache.idle.size()) > kScratchKept) {
    drop = std::move(cache.idle.front().second);  // keep the largest
    cache.idle.erase(cache.idle.begin());
  }
}

std::size_t scratch_bytes() {
  ScratchCache& cache = scratch_cache();
  std::lock_guard<std::mutex> lock(cache.mu);
  std::size_t total = 0;
  for (const auto& e : cache.idle) total += e.first * sizeof(float);
  return total;
}

std::size_t release_scratch() {
  ScratchCache& cache = scratch_cache();
  decltype(cache.idle) freed;
  {
    std::lock_guard<std::mutex> lock(cache.mu);
    freed.swap(cache.idle);
  }
  std::size_t total = 0;
  for (const auto& e : freed) total += e.first * sizeof(float);
  return total;
}

}  // namespace cpu
}  // namespace boneage
