// A minimal fork-safe parallel-for: threads are started per call and joined before it
// returns, so nothing survives into a forked data-loader worker (unlike an OpenMP pool).
#pragma once

#include <cstdint>
#include <functional>

namespace boneage {
namespace cpu {

int num_threads();
void set_num_threads(int n);  // n <= 0 restores the default

// Runs fn(task, worker) for task in [0, n_tasks) on `workers` threads (the caller's
// included); worker is in [0, workers). Callers that size per-worker buffers pass the
// count they sized them with, so a concurrent set_num_threads cannot make the two
// disagree. If a thread cannot be started, the ones that did start (at least the
// caller) do all the tasks. The first exception thrown by fn is rethrown here.
void parallel_for(int64_t n_tasks, int workers, const std::function<void(int64_t, int)>& fn);
// The same with workers_for(n_tasks) workers (for loops without per-worker state).
void parallel_for(int64_t n_tasks, const std::function<void(int64_t, int)>& fn);
int workers_for(int64_t n_tasks);

}  // namespace cpu
}  // namespace boneage
