// CUDA launcher of match_histograms (see match_histograms_cpu.cpp for the method).
#include "ops/cuda/cuda_check.cuh"
#include "ops/cuda/match_kernels.cuh"
#include "ops/match_histograms.h"

namespace boneage {
namespace detail {
namespace {

constexpr int kScanThreads = 1024;

int bins_for(DType d) {
  switch (d) {
    case DType::kUInt8: return 256;
    case DType::kUInt16: return 65536;
    case DType::kFloat32: return kFloatBins;
  }
  return 0;
}

}  // namespace

// Per image: a histogram, a table of bins + 1 entries and 4 state words (a segmented
// reduction: every image of a batch has its own statistics).
std::size_t match_workspace_bytes_cuda(int64_t batch, DType dtype) {
  const std::size_t bins = static_cast<std::size_t>(bins_for(dtype));
  const std::size_t b = static_cast<std::size_t>(batch);
  std::size_t off = 0;
  off = cuda::WorkspaceCarver::size_of(off, b * bins * sizeof(unsigned));
  off = cuda::WorkspaceCarver::size_of(off, b * (bins + 1) * sizeof(float));
  off = cuda::WorkspaceCarver::size_of(off, b * 4 * sizeof(unsigned));
  return off;
}

void match_histograms_cuda(const ImageView& in, const ImageView& out, const ReferenceView& ref,
                           bool check_finite, Workspace ws, StreamHandle stream) {
  cuda::DeviceGuard guard(in.device_id);
  cudaStream_t st = cuda::as_stream(stream);
  const int bins = bins_for(in.dtype);
  const int64_t B = in.batch;
  cuda::WorkspaceCarver carve(ws.data, ws.bytes);
  unsigned* hist = carve.take<unsigned>(static_cast<std::size_t>(B) * bins);
  float* table = carve.take<float>(static_cast<std::size_t>(B) * (bins + 1));
  unsigned* state = carve.take<unsigned>(static_cast<std::size_t>(B) * 4);
  BONEAGE_CUDA_CHECK(cudaMemsetAsync(hist, 0, static_cast<std::size_t>(B) * bins * sizeof(unsigned), st));

  const cuda::MatchSrc src{in.data, in.height, in.width, in.stride_n, in.stride_y, in.stride_x};
  const dim3 block(32, 8);
  const dim3 grid(static_cast<unsigned>((in.width + block.x - 1) / block.x),
                  static_cast<unsigned>((in.height + block.y - 1) / block.y), static_cast<unsigned>(B));
  const unsigned per_image = static_cast<unsigned>(B);
  float* dst = out.ptr<float>();
  const int64_t N = in.numel();

  if (in.dtype == DType::kUInt8 || in.dtype == DType::kUInt16) {
    if (in.dtype == DType::kUInt8)
      cuda::histogram_int_kernel<uint8_t><<<grid, block, 0, st>>>(src, hist);
    else
      cuda::histogram_int_kernel<uint16_t><<<grid, block, 0, st>>>(src, hist);
    BONEAGE_CUDA_CHECK_LAUNCH();
    cuda::lut_kernel<kScanThreads><<<per_image, kScanThreads, 0, st>>>(hist, bins, N, ref.quantiles, ref.values,
                                                                       ref.size, table);
    BONEAGE_CUDA_CHECK_LAUNCH();
    if (in.dtype == DType::kUInt8)
      cuda::apply_lut_kernel<uint8_t><<<grid, block, 0, st>>>(src, bins, table, dst);
    else
      cuda::apply_lut_kernel<uint16_t><<<grid, block, 0, st>>>(src, bins, table, dst);
    BONEAGE_CUDA_CHECK_LAUNCH();
    return;
  }

  cuda::init_minmax_kernel<<<static_cast<unsigned>((B + 255) / 256), 256, 0, st>>>(state, B);
  BONEAGE_CUDA_CHECK_LAUNCH();
  cuda::minmax_kernel<<<grid, block, 0, st>>>(src, state);
  BONEAGE_CUDA_CHECK_LAUNCH();
  cuda::histogram_float_kernel<<<grid, block, 0, st>>>(src, state, bins, hist);
  BONEAGE_CUDA_CHECK_LAUNCH();
  cuda::edge_kernel<kScanThreads><<<per_image, kScanThreads, 0, st>>>(hist, bins, N, state, ref.quantiles,
                                                                      ref.values, ref.size, table);
  BONEAGE_CUDA_CHECK_LAUNCH();
  cuda::apply_float_kernel<<<grid, block, 0, st>>>(src, state, bins, table, dst);
  BONEAGE_CUDA_CHECK_LAUNCH();
  if (check_finite) {
    unsigned host_flag = 0;
    BONEAGE_CUDA_CHECK(cudaMemcpyAsync(&host_flag, state + 2, sizeof host_flag, cudaMemcpyDeviceToHost, st));
    BONEAGE_CUDA_CHECK(cudaStreamSynchronize(st));
    if (host_flag) throw ValueError("image contains NaN or Inf values");
  }
}

}  // namespace detail
}  // namespace boneage
