#include "ops/cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
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
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto body = [&](int worker) {
    try {
      for (int64_t t = next.fetch_add(1); t < n_tasks; t = next.fetch_add(1)) fn(t, worker);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next.store(n_tasks);
    }
  };
  std::vector<std::thread> pool;
  try {
    pool.reserve(workers - 1);
    for (int w = 1; w < workers; ++w) pool.emplace_back(body, w);
  } catch (...) {
    // Out of threads (or memory): the started workers and this one share the tasks; no
    // joinable thread may be destroyed, which would call std::terminate.
  }
  body(0);
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace cpu
}  // namespace boneage
