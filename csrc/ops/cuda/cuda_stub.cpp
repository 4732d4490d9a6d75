// Built instead of the .cu files when CMake finds no nvcc: CUDA inputs get a clear error.
#include "boneage/errors.h"
#include "ops/hessian_enhance.h"
#include "ops/match_histograms.h"

namespace boneage {

bool cuda_compiled() { return false; }
int cuda_device_count() noexcept { return 0; }

namespace detail {
namespace {
[[noreturn]] void no_cuda() {
  throw CudaError("boneage_fast was built without CUDA kernels (no nvcc at build time); "
                  "reinstall with the CUDA toolkit on PATH to process CUDA arrays");
}
}  // namespace

void hessian_enhance_cuda(const ImageView&, const ImageView&, const HessianPlan&, Workspace, StreamHandle) { no_cuda(); }
std::size_t hessian_workspace_bytes_cuda(int64_t, int64_t, int64_t, int, bool) { no_cuda(); }
void match_histograms_cuda(const ImageView&, const ImageView&, const ReferenceView&, bool, Workspace, StreamHandle) { no_cuda(); }
std::size_t match_workspace_bytes_cuda(int64_t, DType) { no_cuda(); }

}  // namespace detail
}  // namespace boneage
