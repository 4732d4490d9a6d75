// hessian_enhance: validation, then the one CPU/CUDA branch.
#include "ops/hessian_enhance.h"

#include <algorithm>
#include <cmath>

#include "boneage/checks.h"
#include "boneage/errors.h"

namespace boneage {

std::size_t hessian_workspace_bytes(int64_t batch, int64_t height, int64_t width, int n_scales, bool auto_c,
                                    Device device) {
  if (device == Device::kCPU) return 0;
  // Sized from untrusted numbers before any validation: clamp instead of overflowing.
  if (batch < 1 || height < 1 || width < 1 || n_scales < 1) return 0;
  return detail::hessian_workspace_bytes_cuda(batch, height, width, std::min(n_scales, kMaxScales), auto_c);
}

void hessian_enhance(const ImageView& in, const ImageView& out, const HessianParams& p,
                     Workspace ws, StreamHandle stream) {
  check_image(in, "image");
  check_output(out, in, "out");
  BONEAGE_CHECK_VALUE(!p.sigmas.empty(), "sigmas must hold at least one scale, got none");
  BONEAGE_CHECK_VALUE(p.sigmas.size() <= static_cast<std::size_t>(kMaxScales),
                      "sigmas may hold at most ", kMaxScales, " scales, got ", p.sigmas.size());
  for (double s : p.sigmas) {
    BONEAGE_CHECK_VALUE(std::isfinite(s) && s > 0.0, "sigmas must be positive and finite, got ", s);
    BONEAGE_CHECK_VALUE(s <= kMaxSigma, "sigmas must be at most ", kMaxSigma, " pixels, got ", s);
  }
  BONEAGE_CHECK_VALUE(std::isfinite(p.beta) && p.beta > 0.0, "beta must be positive and finite, got ",
                      p.beta);
  BONEAGE_CHECK_VALUE(std::isfinite(p.c), "c must be finite (or None for automatic), got ", p.c);
  BONEAGE_CHECK_VALUE(p.c >= 0.0, "c must be positive (or None for automatic), got ", p.c);

  detail::HessianPlan plan;
  std::vector<double> sigmas = p.sigmas;
  std::sort(sigmas.begin(), sigmas.end());
  sigmas.erase(std::unique(sigmas.begin(), sigmas.end()), sigmas.end());
  for (double s : sigmas) {
    plan.scales.push_back(math::make_scale_kernels(s));
    plan.max_radius = std::max(plan.max_radius, plan.scales.back().radius);
  }
  plan.inv_two_beta2 = static_cast<float>(1.0 / (2.0 * p.beta * p.beta));
  plan.auto_c = !(p.c > 0.0);
  plan.inv_two_c2 = plan.auto_c ? 0.0f : static_cast<float>(1.0 / (2.0 * p.c * p.c));
  plan.bright = p.bright;
  plan.check_finite = p.check_finite && in.dtype == DType::kFloat32;

  if (in.device == Device::kCPU) {
    // Per-image statistics (the automatic c) for each image of a batch.
    for (int64_t n = 0; n < in.batch; ++n) detail::hessian_enhance_cpu(in.image(n), out.image(n), plan);
  } else {
    const std::size_t need = detail::hessian_workspace_bytes_cuda(
        in.batch, in.height, in.width, static_cast<int>(plan.scales.size()), plan.auto_c);
    BONEAGE_CHECK_VALUE(ws.data != nullptr && ws.bytes >= need, "workspace must hold ", need,
                        " bytes on the image's device, got ", ws.bytes);
    detail::hessian_enhance_cuda(in, out, plan, ws, stream);
  }
}

}  // namespace boneage
