// Every CUDA call and every launch is checked; a failure throws boneage::CudaError.
#pragma once

#include <cuda_runtime.h>

#include "boneage/errors.h"
#include "boneage/image_view.h"

#define BONEAGE_CUDA_CHECK(expr)                                                          \
  do {                                                                                   \
    const cudaError_t _err = (expr);                                                     \
    if (_err != cudaSuccess) {                                                           \
      throw ::boneage::CudaError(::boneage::cat(#expr, " failed: ", cudaGetErrorName(_err), \
                                                " (", cudaGetErrorString(_err), ") at ",  \
                                                __FILE__, ":", __LINE__));                \
    }                                                                                    \
  } while (0)

#define BONEAGE_CUDA_CHECK_LAUNCH() BONEAGE_CUDA_CHECK(cudaGetLastError())

namespace boneage {
namespace cuda {

// Makes `device` current for the scope and restores the caller's device afterwards.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    BONEAGE_CUDA_CHECK(cudaGetDevice(&previous_));
    if (device != previous_) BONEAGE_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

inline cudaStream_t as_stream(StreamHandle s) { return reinterpret_cast<cudaStream_t>(s.value); }

// Carves aligned sub-buffers out of the caller's workspace.
class WorkspaceCarver {
 public:
  WorkspaceCarver(void* base, std::size_t bytes) : base_(static_cast<char*>(base)), bytes_(bytes) {}
  template <class T>
  T* take(std::size_t count) {
    offset_ = (offset_ + 255) / 256 * 256;
    T* p = reinterpret_cast<T*>(base_ + offset_);
    offset_ += count * sizeof(T);
    if (offset_ > bytes_) throw ValueError(cat("workspace too small: need ", offset_, " bytes, got ", bytes_));
    return p;
  }
  static std::size_t size_of(std::size_t offset, std::size_t add) { return (offset + 255) / 256 * 256 + add; }

 private:
  char* base_;
  std::size_t bytes_;
  std::size_t offset_ = 0;
};

}  // namespace cuda
}  // namespace boneage
