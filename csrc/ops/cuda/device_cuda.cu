// CUDA runtime queries that must never throw.
#include <cuda_runtime.h>

#include "boneage/ops.h"

namespace boneage {

bool cuda_compiled() { return true; }

int cuda_device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return 0;
  }
  return n;
}

}  // namespace boneage
