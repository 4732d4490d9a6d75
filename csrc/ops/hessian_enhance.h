// Internal interface between the hessian_enhance dispatcher and its backends.
#pragma once

#include <vector>

#include "boneage/ops.h"
#include "ops/math/gaussian_kernels.h"

namespace boneage {
namespace detail {

struct HessianPlan {
  std::vector<math::ScaleKernels> scales;  // sorted by sigma: the result does not depend on order
  float inv_two_beta2 = 2.0f;
  bool auto_c = true;
  float inv_two_c2 = 0.0f;  // used when !auto_c
  bool bright = true;
  bool check_finite = true;
  int max_radius = 0;
};

void hessian_enhance_cpu(const ImageView& in, const ImageView& out, const HessianPlan& plan);
void hessian_enhance_cuda(const ImageView& in, const ImageView& out, const HessianPlan& plan,
                          Workspace ws, StreamHandle stream);
std::size_t hessian_workspace_bytes_cuda(int64_t batch, int64_t height, int64_t width, int n_scales, bool auto_c);

}  // namespace detail
}  // namespace boneage
