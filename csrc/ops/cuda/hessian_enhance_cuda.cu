// CUDA launcher of hessian_enhance: per scale a row pass and a column pass on the
// caller's stream; with automatic c a final combine pass. Scratch comes from the
// caller's workspace, so the op never allocates device memory itself.
#include <cstring>

#include "ops/cuda/cuda_check.cuh"
#include "ops/cuda/hessian_kernels.cuh"
#include "ops/hessian_enhance.h"

namespace boneage {
namespace detail {
namespace {

struct Layout {
  std::size_t a, planes, flags, total;
};

Layout layout_for(int64_t H, int64_t W, int n_scales, bool auto_c) {
  const std::size_t N = static_cast<std::size_t>(H) * static_cast<std::size_t>(W);
  Layout l{};
  std::size_t off = 0;
  off = cuda::WorkspaceCarver::size_of(off, 3 * N * sizeof(float));
  l.a = 3 * N;
  if (auto_c) off = cuda::WorkspaceCarver::size_of(off, 2 * n_scales * N * sizeof(float));
  l.planes = auto_c ? 2 * n_scales * N : 0;
  off = cuda::WorkspaceCarver::size_of(off, 2 * sizeof(unsigned));
  l.flags = 2;
  l.total = off;
  return l;
}

}  // namespace

std::size_t hessian_workspace_bytes_cuda(int64_t height, int64_t width, int n_scales, bool auto_c) {
  return layout_for(height, width, n_scales, auto_c).total;
}

void hessian_enhance_cuda(const ImageView& in, const ImageView& out, const HessianPlan& plan,
                          Workspace ws, StreamHandle stream) {
  cuda::DeviceGuard guard(in.device_id);
  cudaStream_t st = cuda::as_stream(stream);
  const int64_t H = in.height, W = in.width;
  const int64_t N = H * W;
  const int n_scales = static_cast<int>(plan.scales.size());
  const Layout l = layout_for(H, W, n_scales, plan.auto_c);

  cuda::WorkspaceCarver carve(ws.data, ws.bytes);
  float* a = carve.take<float>(l.a);
  float* planes = plan.auto_c ? carve.take<float>(l.planes) : nullptr;
  unsigned* flags = carve.take<unsigned>(l.flags);
  BONEAGE_CUDA_CHECK(cudaMemsetAsync(flags, 0, 2 * sizeof(unsigned), st));

  const dim3 block(32, 8);
  const dim3 grid(static_cast<unsigned>((W + block.x - 1) / block.x),
                  static_cast<unsigned>((H + block.y - 1) / block.y));
  cuda::SrcView src{in.data, H, W, in.stride_y, in.stride_x};

  for (int s = 0; s < n_scales; ++s) {
    const math::ScaleKernels& K = plan.scales[s];
    cuda::ScaleTaps taps;
    std::memset(&taps, 0, sizeof taps);
    taps.radius = K.radius;
    std::memcpy(taps.k0, K.k0.data(), (K.radius + 1) * sizeof(float));
    std::memcpy(taps.k1, K.k1.data(), (K.radius + 1) * sizeof(float));
    std::memcpy(taps.k2, K.k2.data(), (K.radius + 1) * sizeof(float));
    const bool check = plan.check_finite && s == 0;
    switch (in.dtype) {
      case DType::kUInt8:
        cuda::hessian_row_kernel<uint8_t><<<grid, block, 0, st>>>(src, taps, a, a + N, a + 2 * N, flags, check);
        break;
      case DType::kUInt16:
        cuda::hessian_row_kernel<uint16_t><<<grid, block, 0, st>>>(src, taps, a, a + N, a + 2 * N, flags, check);
        break;
      case DType::kFloat32:
        cuda::hessian_row_kernel<float><<<grid, block, 0, st>>>(src, taps, a, a + N, a + 2 * N, flags, check);
        break;
    }
    BONEAGE_CUDA_CHECK_LAUNCH();

    cuda::ColumnArgs args{};
    args.a0 = a;
    args.a1 = a + N;
    args.a2 = a + 2 * N;
    args.height = H;
    args.width = W;
    args.inv_two_beta2 = plan.inv_two_beta2;
    args.inv_two_c2 = plan.inv_two_c2;
    args.bright = plan.bright;
    args.store_terms = plan.auto_c;
    args.first = s == 0;
    args.out = out.ptr<float>();
    args.blob = plan.auto_c ? planes + (2 * s) * N : nullptr;
    args.s2 = plan.auto_c ? planes + (2 * s + 1) * N : nullptr;
    args.s2max_bits = flags + 1;
    cuda::hessian_column_kernel<<<grid, block, 0, st>>>(taps, args);
    BONEAGE_CUDA_CHECK_LAUNCH();
  }
  if (plan.auto_c) {
    const int threads = 256;
    const int64_t blocks = std::min<int64_t>((N + threads - 1) / threads, 65536);
    cuda::hessian_combine_kernel<<<static_cast<unsigned>(blocks), threads, 0, st>>>(
        planes, n_scales, N, flags + 1, out.ptr<float>());
    BONEAGE_CUDA_CHECK_LAUNCH();
  }
  if (plan.check_finite) {
    unsigned host_flag = 0;
    BONEAGE_CUDA_CHECK(cudaMemcpyAsync(&host_flag, flags, sizeof host_flag, cudaMemcpyDeviceToHost, st));
    BONEAGE_CUDA_CHECK(cudaStreamSynchronize(st));
    if (host_flag) throw ValueError("image contains NaN or Inf values");
  }
}

}  // namespace detail
}  // namespace boneage
