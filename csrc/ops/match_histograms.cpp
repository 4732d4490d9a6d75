// match_histograms: validation, then the one CPU/CUDA branch.
#include "ops/match_histograms.h"

#include <cmath>

#include "boneage/checks.h"
#include "boneage/errors.h"

namespace boneage {

void integer_histogram(const ImageView& in, uint64_t* counts) {
  check_image(in, "reference");
  BONEAGE_CHECK_TYPE(in.dtype == DType::kUInt8 || in.dtype == DType::kUInt16,
                     "reference must be uint8 or uint16 for an integer histogram, got ", dtype_name(in.dtype));
  BONEAGE_CHECK_VALUE(in.device == Device::kCPU, "integer_histogram runs on the CPU, got a ",
                      device_name(in.device), " image");
  detail::integer_histogram_cpu(in, counts);
}

std::size_t match_workspace_bytes(int64_t batch, DType dtype, Device device) {
  if (device == Device::kCPU || batch < 1) return 0;
  return detail::match_workspace_bytes_cuda(batch, dtype);
}

void match_histograms(const ImageView& in, const ImageView& out, const ReferenceView& ref,
                      bool check_finite, Workspace ws, StreamHandle stream) {
  check_image(in, "image");
  check_output(out, in, "out");
  BONEAGE_CHECK_VALUE(ref.size > 0 && ref.values != nullptr && ref.quantiles != nullptr,
                      "reference histogram is empty (it has no mass)");
  BONEAGE_CHECK_VALUE(ref.device == in.device && ref.device_id == in.device_id,
                      "reference histogram must be on the image's device (", device_name(in.device),
                      ":", in.device_id, "), got ", device_name(ref.device), ":", ref.device_id);
  if (ref.device == Device::kCPU) {
    // Host references are cheap to re-check; device ones were checked when built.
    for (int64_t i = 0; i < ref.size; ++i) {
      BONEAGE_CHECK_VALUE(std::isfinite(ref.values[i]) && std::isfinite(ref.quantiles[i]),
                          "reference histogram holds a non-finite entry at ", i);
      if (i > 0) {
        BONEAGE_CHECK_VALUE(ref.values[i] > ref.values[i - 1] && ref.quantiles[i] > ref.quantiles[i - 1],
                            "reference histogram must be strictly increasing, broken at entry ", i);
      }
    }
    BONEAGE_CHECK_VALUE(ref.quantiles[0] > 0.0 && ref.quantiles[ref.size - 1] == 1.0,
                        "reference quantiles must lie in (0, 1] and end at 1");
  }
  if (in.device == Device::kCPU) {
    // Each image of a batch is matched on its own histogram.
    for (int64_t n = 0; n < in.batch; ++n) detail::match_histograms_cpu(in.image(n), out.image(n), ref, check_finite);
  } else {
    const std::size_t need = detail::match_workspace_bytes_cuda(in.batch, in.dtype);
    BONEAGE_CHECK_VALUE(ws.data != nullptr && ws.bytes >= need, "workspace must hold ", need,
                        " bytes on the image's device, got ", ws.bytes);
    detail::match_histograms_cuda(in, out, ref, check_finite, ws, stream);
  }
}

}  // namespace boneage
