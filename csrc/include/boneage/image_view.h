// Plain, framework-free description of a 2-D image in memory. The bindings fill it
// from NumPy's array interface, __cuda_array_interface__ or a torch tensor; the ops
// never see Python or libtorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace boneage {

enum class DType : int { kUInt8 = 0, kUInt16 = 1, kFloat32 = 2 };
enum class Device : int { kCPU = 0, kCUDA = 1 };

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::kUInt8: return "uint8";
    case DType::kUInt16: return "uint16";
    case DType::kFloat32: return "float32";
  }
  return "unknown";
}

inline const char* device_name(Device d) { return d == Device::kCPU ? "cpu" : "cuda"; }

// One image, or a batch of `batch` images of the same shape `stride_n` elements apart
// (an (N, H, W) array). Batched outputs are C-contiguous (stride_n = H * W).
struct ImageView {
  void* data = nullptr;
  int64_t batch = 1;
  int64_t stride_n = 0;  // elements between images, may be negative
  int64_t height = 0;
  int64_t width = 0;
  int64_t stride_y = 0;  // elements, may be negative
  int64_t stride_x = 0;  // elements, may be negative
  DType dtype = DType::kFloat32;
  Device device = Device::kCPU;
  int device_id = -1;  // CUDA ordinal, -1 on the CPU

  int64_t numel() const { return height * width; }  // pixels of one image
  bool empty() const { return batch == 0 || height == 0 || width == 0; }
  bool contiguous() const {
    return stride_x == 1 && stride_y == width && (batch == 1 || stride_n == height * width);
  }
  template <class T>
  T* ptr() const { return static_cast<T*>(data); }
  // The n-th image of a batch as a single-image view.
  ImageView image(int64_t n) const {
    ImageView v = *this;
    v.batch = 1;
    v.stride_n = 0;
    v.data = static_cast<char*>(data) + n * stride_n * static_cast<int64_t>(itemsize());
    return v;
  }
  std::size_t itemsize() const {
    return dtype == DType::kUInt8 ? 1 : dtype == DType::kUInt16 ? 2 : 4;
  }
};

// The caller's CUDA stream (cudaStream_t as an integer); 0 is the legacy default stream.
struct StreamHandle {
  std::uintptr_t value = 0;
};

}  // namespace boneage
