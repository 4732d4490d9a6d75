// The CPU kernels' parallel-for over a persistent, fork-safe thread pool.
//
// Helper threads are started lazily (never more than the largest worker count asked
// for) and then wait for work; the calling thread always takes part in its own loop.
// After fork() the child gets a fresh, empty pool (the parent's threads do not exist
// there), so data-loader workers can call the kernels. Concurrent callers share the
// helpers: each caller queues "tickets" for its loop, runs the loop itself, withdraws
// the tickets nobody took and waits only for the helpers that did take one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace boneage {
namespace cpu {

int num_threads();
void set_num_threads(int n);  // n <= 0 restores the default

// Runs fn(task, worker) for task in [0, n_tasks) on up to `workers` threads (the caller's
// included); worker is in [0, workers). Callers that size per-worker buffers pass the
// count they sized them with, so a concurrent set_num_threads cannot make the two
// disagree. If helper threads cannot be started, fewer threads (at least the caller) do
// all the tasks. The first exception thrown by fn is rethrown here.
void parallel_for(int64_t n_tasks, int workers, const std::function<void(int64_t, int)>& fn);
// The same with workers_for(n_tasks) workers (for loops without per-worker state).
void parallel_for(int64_t n_tasks, const std::function<void(int64_t, int)>& fn);
int workers_for(int64_t n_tasks);
// Helper threads the pool has started so far in this process (for tests and reports).
int pool_threads();

// Large float scratch buffers reused between calls (page faults on fresh ~100 MB planes
// cost more than the filtering). A lease hands its buffer back when destroyed; at most
// kScratchKept idle buffers are kept, and release_scratch() frees all idle ones.
class ScratchLease {
 public:
  explicit ScratchLease(std::size_t count);
  ~ScratchLease();
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  float* get() const { return data_.get(); }

 private:
  std::unique_ptr<float[]> data_;
  std::size_t capacity_ = 0;
};
constexpr int kScratchKept = 2;
std::size_t scratch_bytes();    // bytes held by idle scratch buffers
std::size_t release_scratch();  // frees the idle buffers; returns the bytes freed

}  // namespace cpu
}  // namespace boneage
