// Builds ImageView/Workspace from the plain descriptors boneage_fast._arrays passes:
// (data_ptr, batch, height, width, stride_n, stride_y, stride_x, dtype_code, device_code,
// device_id), strides in elements; a 2-D image has batch 1 and stride_n 0. Conversion happens under the GIL; the op runs without it.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <tuple>

#include "boneage/errors.h"
#include "boneage/image_view.h"
#include "boneage/ops.h"

namespace boneage {
namespace bindings {

using ImageDesc =
    std::tuple<std::uintptr_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int, int, int>;
using BufferDesc = std::tuple<std::uintptr_t, std::size_t>;

inline ImageView to_view(const ImageDesc& d, const char* arg) {
  ImageView v;
  v.data = reinterpret_cast<void*>(std::get<0>(d));
  v.batch = std::get<1>(d);
  v.height = std::get<2>(d);
  v.width = std::get<3>(d);
  v.stride_n = std::get<4>(d);
  v.stride_y = std::get<5>(d);
  v.stride_x = std::get<6>(d);
  const int dt = std::get<7>(d);
  BONEAGE_CHECK_TYPE(dt >= 0 && dt <= 2, arg, ": unknown dtype code ", dt);
  v.dtype = static_cast<DType>(dt);
  const int dev = std::get<8>(d);
  BONEAGE_CHECK_VALUE(dev == 0 || dev == 1, arg, ": unknown device code ", dev);
  v.device = static_cast<Device>(dev);
  v.device_id = std::get<9>(d);
  return v;
}

inline Workspace to_workspace(const BufferDesc& d) {
  return Workspace{reinterpret_cast<void*>(std::get<0>(d)), std::get<1>(d)};
}

}  // namespace bindings
}  // namespace boneage
