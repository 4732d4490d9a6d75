// The ops of boneage_fast's C++ core. Each entry point validates its arguments once,
// then takes the one CPU/CUDA branch that matches where the data lives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "boneage/image_view.h"

namespace boneage {

// A caller-owned scratch buffer on the op's device (CUDA only; the CPU path allocates
// its own host memory). Size it with the op's *_workspace_bytes function.
struct Workspace {
  void* data = nullptr;
  std::size_t bytes = 0;
};

// ---------------------------------------------------------------- hessian_enhance
// Largest Gaussian radius (pixels) a scale may need: radius = ceil(5 sigma).
constexpr int kMaxRadius = 256;
constexpr double kMaxSigma = 50.0;
constexpr int kMaxScales = 16;

struct HessianParams {
  std::vector<double> sigmas;
  double beta = 0.5;        // Frangi's blobness sensitivity
  double c = 0.0;           // structureness sensitivity; <= 0 selects the automatic c
  bool bright = true;       // enhance bright ridges (bones on radiographs)
  bool check_finite = true; // refuse NaN/Inf (CUDA: costs one stream synchronisation)
};

void hessian_enhance(const ImageView& in, const ImageView& out, const HessianParams& p,
                     Workspace ws, StreamHandle stream);
// Workspace of a (batch, height, width) call; 0 on the CPU (and for nonsensical sizes,
// which the op then refuses with a ValueError).
std::size_t hessian_workspace_bytes(int64_t batch, int64_t height, int64_t width, int n_scales, bool auto_c,
                                    Device device);

// ---------------------------------------------------------------- match_histograms
// A reference histogram as a monotone quantile function: `quantiles` strictly
// increasing in (0, 1] with the last equal to 1, `values` strictly increasing.
struct ReferenceView {
  const double* values = nullptr;
  const double* quantiles = nullptr;
  int64_t size = 0;
  Device device = Device::kCPU;
  int device_id = -1;
};

// Number of uniform bins the float path uses between the image's min and max.
constexpr int kFloatBins = 65536;

void match_histograms(const ImageView& in, const ImageView& out, const ReferenceView& ref,
                      bool check_finite, Workspace ws, StreamHandle stream);
std::size_t match_workspace_bytes(int64_t batch, DType dtype, Device device);
// Counts of each grey level of a uint8 (256 bins) or uint16 (65536 bins) CPU image or
// batch, summed over the batch: how a reference histogram is built.
void integer_histogram(const ImageView& in, uint64_t* counts);

// ---------------------------------------------------------------- CUDA runtime info
bool cuda_compiled();
int cuda_device_count() noexcept;  // 0 when not compiled, no driver, or no device

}  // namespace boneage
