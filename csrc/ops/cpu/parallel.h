// A minimal fork-safe parallel-for: threads are started per call and joined before it
// returns, so nothing survives into a forked data-loader worker (unlike an OpenMP pool).
#pragma once

#include <cstdint>
#include <functional>

namespace boneage {
namespace cpu {

int num_threads();
void set_num_threads(int n);  // n <= 0 restores the default

// Runs fn(task, worker) for task in [0, n_tasks) on up to num_threads() workers.
// worker is in [0, workers_for(n_tasks)). The first exception thrown is rethrown here.
void parallel_for(int64_t n_tasks, const std::function<void(int64_t, int)>& fn);
int workers_for(int64_t n_tasks);

}  // namespace cpu
}  // namespace boneage
