// Stress test of the CPU kernels' thread pool and scratch cache under ThreadSanitizer
// (and ASan/UBSan): 8 threads run parallel loops of random sizes while another flips
// the thread count; each loop checks that every task ran exactly once and that the
// per-worker sums add up; some loops throw and must rethrow in the caller; then a
// fork()ed child must get a working pool of its own.
//
//   g++ -std=c++17 -O1 -g -fsanitize=thread -Icsrc scripts/pool_stress.cpp csrc/ops/cpu/parallel.cpp \
//       -o /tmp/pool_tsan -pthread && TSAN_OPTIONS="halt_on_error=1 die_after_fork=0" /tmp/pool_tsan
//   g++ -std=c++17 -O1 -g -fsanitize=address,undefined -Icsrc scripts/pool_stress.cpp \
//       csrc/ops/cpu/parallel.cpp -o /tmp/pool_asan -pthread && ASAN_OPTIONS=detect_leaks=0 /tmp/pool_asan
//
// (die_after_fork=0: TSan does not support starting threads in a child of a threaded
// process; the child's pool is what is being tested. detect_leaks=0: the pool is
// deliberately never freed.) Exit status 0 and "bad=0 child=0" is a pass.
#include "ops/cpu/parallel.h"
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>
using namespace boneage::cpu;
int main() {
  std::atomic<bool> stop{false};
  std::thread flip([&] { int k = 0; while (!stop) set_num_threads(1 + (k++ % 16)); });
  std::vector<std::thread> callers;
  std::atomic<long> bad{0}; std::atomic<int> maxw{0};
  for (int c = 0; c < 8; ++c) callers.emplace_back([&, c] {
    for (int it = 0; it < 300; ++it) {
      const int64_t n = 1 + (it * 7 + c) % 97;
      const int workers = workers_for(n); { int m = maxw.load(); while (workers > m && !maxw.compare_exchange_weak(m, workers)) {} }
      std::vector<long> per(workers, 0);
      std::vector<int> hit(n, 0);
      parallel_for(n, workers, [&](int64_t t, int w) { per[w] += t; hit[t] += 1; });
      long sum = 0; for (long v : per) sum += v;
      if (sum != n * (n - 1) / 2) ++bad;
      for (int h : hit) if (h != 1) ++bad;
      ScratchLease lease(1000 + it * 10 + c);
      lease.get()[0] = 1.0f;
      if (it % 50 == 0) {
        try { parallel_for(50, 4, [&](int64_t t, int) { if (t == 17) throw std::runtime_error("x"); }); ++bad; }
        catch (const std::runtime_error&) {}
      }
    }
  });
  for (auto& t : callers) t.join();
  stop = true; flip.join();
  std::printf("pool before fork=%d\n", pool_threads()); pid_t pid = fork();
  if (pid == 0) {
    set_num_threads(4);
    std::atomic<long> s{0};
    parallel_for(1000, 4, [&](int64_t t, int) { s += t; });
    ScratchLease lease(100);
    _exit(s == 999L * 1000 / 2 && pool_threads() == 3 ? 0 : 1);
  }
  int status = 0; waitpid(pid, &status, 0);
  std::printf("maxw=%d bad=%ld child=%d pool=%d scratch=%zu released=%zu\n", maxw.load(), bad.load(), WEXITSTATUS(status), pool_threads(), scratch_bytes(), release_scratch());
  return bad.load() != 0 || WEXITSTATUS(status) != 0;
}
