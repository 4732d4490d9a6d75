// CUDA launcher of hessian_enhance on the caller's stream: one fused kernel for all
// scales when the radii allow (the usual case), else per scale a row pass and a column
// pass; with automatic c a final combine pass. Scratch comes from the
// caller's workspace, so the op never allocates device memory itself.
#include <algorithm>
#include <cstdlib>
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

// Per image: 3 row-pass planes, and with automatic c 2 planes per scale; then one
// non-finite flag and one max-S^2 word per image (the segmented reduction).
Layout layout_for(int64_t B, int64_t H, int64_t W, int n_scales, bool auto_c) {
  const std::size_t N = static_cast<std::size_t>(H) * static_cast<std::size_t>(W);
  const std::size_t b = static_cast<std::size_t>(B);
  Layout l{};
  std::size_t off = 0;
  l.a = 3 * b * N;
  off = cuda::WorkspaceCarver::size_of(off, l.a * sizeof(float));
  l.planes = auto_c ? 2 * static_cast<std::size_t>(n_scales) * b * N : 0;
  if (auto_c) off = cuda::WorkspaceCarver::size_of(off, l.planes * sizeof(float));
  l.flags = 1 + b;
  off = cuda::WorkspaceCarver::size_of(off, l.flags * sizeof(unsigned));
  l.total = off;
  return l;
}


// Two kernels per scale (row pass to global planes, column pass): any radius, any
// number of scales.
void launch_two_pass(DType dtype, int64_t B, const cuda::SrcView& src, const HessianPlan& plan, float* a, float* planes,
                     unsigned* flags, float* out_ptr, cudaStream_t st) {
  const int64_t H = src.height, W = src.width;
  const int n_scales = static_cast<int>(plan.scales.size());
  const dim3 block(32, 8);
  const dim3 grid(static_cast<unsigned>((W + block.x - 1) / block.x),
                  static_cast<unsigned>((H + block.y - 1) / block.y), static_cast<unsigned>(B));

  for (int s = 0; s < n_scales; ++s) {
    const math::ScaleKernels& K = plan.scales[s];
    cuda::ScaleTaps taps;
    std::memset(&taps, 0, sizeof taps);
    taps.radius = K.radius;
    std::memcpy(taps.k0, K.k0.data(), (K.radius + 1) * sizeof(float));
    std::memcpy(taps.k1, K.k1.data(), (K.radius + 1) * sizeof(float));
    std::memcpy(taps.k2, K.k2.data(), (K.radius + 1) * sizeof(float));
    const bool check = plan.check_finite && s == 0;
    switch (dtype) {
      case DType::kUInt8:
        cuda::hessian_row_kernel<uint8_t><<<grid, block, 0, st>>>(src, taps, a, flags, check);
        break;
      case DType::kUInt16:
        cuda::hessian_row_kernel<uint16_t><<<grid, block, 0, st>>>(src, taps, a, flags, check);
        break;
      case DType::kFloat32:
        cuda::hessian_row_kernel<float><<<grid, block, 0, st>>>(src, taps, a, flags, check);
        break;
    }
    BONEAGE_CUDA_CHECK_LAUNCH();

    cuda::ColumnArgs args{};
    args.a = a;
    args.height = H;
    args.width = W;
    args.inv_two_beta2 = plan.inv_two_beta2;
    args.inv_two_c2 = plan.inv_two_c2;
    args.bright = plan.bright;
    args.store_terms = plan.auto_c;
    args.first = s == 0;
    args.scale = s;
    args.n_scales = n_scales;
    args.out = out_ptr;
    args.planes = planes;
    args.s2max_bits = flags + 1;
    cuda::hessian_column_kernel<<<grid, block, 0, st>>>(taps, args);
    BONEAGE_CUDA_CHECK_LAUNCH();
  }
}

// One kernel for every scale (radius <= kFusedMaxRadius, <= kFusedMaxScales scales).
void launch_fused(DType dtype, int64_t B, const cuda::SrcView& src, const HessianPlan& plan, int max_radius,
                  float* planes, unsigned* flags, float* out_ptr, cudaStream_t st) {
  cuda::FusedTaps taps;
  std::memset(&taps, 0, sizeof taps);
  taps.n_scales = static_cast<int>(plan.scales.size());
  for (int s = 0; s < taps.n_scales; ++s) {
    const math::ScaleKernels& K = plan.scales[s];
    taps.radius[s] = K.radius;
    std::memcpy(taps.k0[s], K.k0.data(), (K.radius + 1) * sizeof(float));
    std::memcpy(taps.k1[s], K.k1.data(), (K.radius + 1) * sizeof(float));
    std::memcpy(taps.k2[s], K.k2.data(), (K.radius + 1) * sizeof(float));
  }
  cuda::FusedArgs args{};
  args.src = src;
  args.halo = max_radius;
  args.inv_two_beta2 = plan.inv_two_beta2;
  args.inv_two_c2 = plan.inv_two_c2;
  args.bright = plan.bright;
  args.store_terms = plan.auto_c;
  args.check_finite = plan.check_finite;
  args.out = out_ptr;
  args.planes = planes;
  args.nonfinite = flags;
  args.s2max_bits = flags + 1;
  const int T = cuda::kFusedTile;
  const dim3 block(T, 8);
  const dim3 grid(static_cast<unsigned>((src.width + T - 1) / T), static_cast<unsigned>((src.height + T - 1) / T),
                  static_cast<unsigned>(B));
  const std::size_t shared = cuda::fused_shared_bytes(max_radius);
  switch (dtype) {
    case DType::kUInt8:
      cuda::hessian_fused_kernel<uint8_t><<<grid, block, shared, st>>>(taps, args);
      break;
    case DType::kUInt16:
      cuda::hessian_fused_kernel<uint16_t><<<grid, block, shared, st>>>(taps, args);
      break;
    case DType::kFloat32:
      cuda::hessian_fused_kernel<float><<<grid, block, shared, st>>>(taps, args);
      break;
  }
  BONEAGE_CUDA_CHECK_LAUNCH();
}

}  // namespace

std::size_t hessian_workspace_bytes_cuda(int64_t batch, int64_t height, int64_t width, int n_scales, bool auto_c) {
  return layout_for(batch, height, width, n_scales, auto_c).total;
}

void hessian_enhance_cuda(const ImageView& in, const ImageView& out, const HessianPlan& plan,
                          Workspace ws, StreamHandle stream) {
  cuda::DeviceGuard guard(in.device_id);
  cudaStream_t st = cuda::as_stream(stream);
  const int64_t B = in.batch, H = in.height, W = in.width;
  const int64_t N = H * W;
  const int n_scales = static_cast<int>(plan.scales.size());
  const Layout l = layout_for(B, H, W, n_scales, plan.auto_c);

  cuda::WorkspaceCarver carve(ws.data, ws.bytes);
  float* a = carve.take<float>(l.a);
  float* planes = plan.auto_c ? carve.take<float>(l.planes) : nullptr;
  unsigned* flags = carve.take<unsigned>(l.flags);  // [non-finite, max S^2 of image 0, 1, ...]
  BONEAGE_CUDA_CHECK(cudaMemsetAsync(flags, 0, l.flags * sizeof(unsigned), st));

  cuda::SrcView src{in.data, H, W, in.stride_n, in.stride_y, in.stride_x};
  int max_radius = 0;
  for (const math::ScaleKernels& K : plan.scales) max_radius = std::max(max_radius, K.radius);
  // BONEAGE_HESSIAN_TWO_PASS=1 forces the two-kernel path (benchmarks compare the two).
  const char* force = std::getenv("BONEAGE_HESSIAN_TWO_PASS");
  const bool two_pass = force != nullptr && force[0] == '1';
  if (!two_pass && n_scales >= 1 && n_scales <= cuda::kFusedMaxScales && max_radius <= cuda::kFusedMaxRadius) {
    launch_fused(in.dtype, B, src, plan, max_radius, planes, flags, out.ptr<float>(), st);
  } else {
    launch_two_pass(in.dtype, B, src, plan, a, planes, flags, out.ptr<float>(), st);
  }
  if (plan.auto_c) {
    const int threads = 256;
    const int64_t blocks = std::min<int64_t>((N + threads - 1) / threads, 65536);
    const dim3 cgrid(static_cast<unsigned>(blocks), static_cast<unsigned>(B));
    cuda::hessian_combine_kernel<<<cgrid, threads, 0, st>>>(
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
