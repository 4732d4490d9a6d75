// Argument validation shared by every op: runs once, before the CPU/CUDA branch.
#pragma once

#include "boneage/errors.h"
#include "boneage/image_view.h"

namespace boneage {

inline std::string shape_str(const ImageView& v) {
  return v.batch == 1 ? cat("(", v.height, ", ", v.width, ")") : cat("(", v.batch, ", ", v.height, ", ", v.width, ")");
}

// Largest batch a CUDA launch can index (gridDim.z).
constexpr int64_t kMaxBatch = 65535;

// Images above this many pixels per side are refused: no radiograph is that large and
// the request is far likelier to be a corrupt header than a real image.
constexpr int64_t kMaxSide = 32768;

inline void check_image(const ImageView& v, const char* arg) {
  BONEAGE_CHECK_VALUE(v.batch > 0 && v.height > 0 && v.width > 0, arg,
                      " must be a non-empty 2-D image or (N, H, W) batch, got shape ", shape_str(v));
  BONEAGE_CHECK_VALUE(v.batch <= kMaxBatch, arg, " holds too many images: ", v.batch, ", at most ", kMaxBatch,
                      " per call");
  BONEAGE_CHECK_VALUE(v.height <= kMaxSide && v.width <= kMaxSide, arg, " is too large: shape ",
                      shape_str(v), ", at most ", kMaxSide, " pixels per side");
  BONEAGE_CHECK_VALUE(v.data != nullptr, arg, " has a null data pointer");
  BONEAGE_CHECK_VALUE(v.device == Device::kCPU || v.device_id >= 0, arg,
                      " is on CUDA but has no device ordinal");
}

inline void check_output(const ImageView& out, const ImageView& in, const char* arg) {
  BONEAGE_CHECK_VALUE(out.batch == in.batch && out.height == in.height && out.width == in.width, arg,
                      " must have shape ", shape_str(in), ", got ", shape_str(out));
  BONEAGE_CHECK_TYPE(out.dtype == DType::kFloat32, arg, " must be float32, got ", dtype_name(out.dtype));
  BONEAGE_CHECK_VALUE(out.contiguous(), arg, " must be C-contiguous");
  BONEAGE_CHECK_VALUE(out.device == in.device && out.device_id == in.device_id, arg,
                      " must be on the same device as the input (", device_name(in.device), ":",
                      in.device_id, "), got ", device_name(out.device), ":", out.device_id);
}

}  // namespace boneage
