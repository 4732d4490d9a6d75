// CUDA launcher of match_histograms (see match_histograms_cpu.cpp for the method).
#include <algorithm>
#include <cstdlib>

#include "ops/cuda/cuda_check.cuh"
#include "ops/cuda/match_kernels.cuh"
#include "ops/match_histograms.h"

namespace boneage {
namespace detail {
namespace {

int bins_for(DType d) {
  switch (d) {
    case DType::kUInt8: return 256;
    case DType::kUInt16: return 65536;
    case DType::kFloat32: return kFloatBins;
  }
  return 0;
}

// The shared-memory 16-bit histogram needs 128 KiB of shared memory per block, an
// opt-in that sm_80 and sm_90 allow and smaller parts (sm_86, sm_89: 99 KiB) do not;
// those keep the global-atomic kernel, as does BONEAGE_MATCH_GLOBAL_HISTOGRAM=1 (for
// benchmarks and tests of both kernels).
bool private_u16_ok(int device) {
  const char* force = std::getenv("BONEAGE_MATCH_GLOBAL_HISTOGRAM");
  if (force != nullptr && force[0] == '1') return false;
  int optin = 0;
  if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) return false;
  if (optin < static_cast<int>(cuda::kPrivateShared)) return false;
  return cudaFuncSetAttribute(cuda::histogram_u16_private_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(cuda::kPrivateShared)) == cudaSuccess;
}

int chunks_for(int bins) { return (bins + cuda::kChunk - 1) / cuda::kChunk; }

}  // namespace

// Per image: a histogram, a table of bins + 1 entries, 4 state words and one pixel count
// per chunk of bins (a segmented reduction: every image of a batch has its own statistics).
std::size_t match_workspace_bytes_cuda(int64_t batch, DType dtype) {
  const std::size_t bins = static_cast<std::size_t>(bins_for(dtype));
  const std::size_t b = static_cast<std::size_t>(batch);
  std::size_t off = 0;
  off = cuda::WorkspaceCarver::size_of(off, b * bins * sizeof(unsigned));
  off = cuda::WorkspaceCarver::size_of(off, b * (bins + 1) * sizeof(float));
  off = cuda::WorkspaceCarver::size_of(off, b * 4 * sizeof(unsigned));
  off = cuda::WorkspaceCarver::size_of(off, b * chunks_for(static_cast<int>(bins)) * sizeof(unsigned long long));
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
  const int chunks = chunks_for(bins);
  unsigned long long* sums = carve.take<unsigned long long>(static_cast<std::size_t>(B) * chunks);
  const dim3 private_grid(static_cast<unsigned>((in.numel() + cuda::kPrivatePixels - 1) /
                                                cuda::kPrivatePixels),
                          static_cast<unsigned>(B));
  const dim3 table_grid(static_cast<unsigned>(chunks), static_cast<unsigned>(B));
  BONEAGE_CUDA_CHECK(cudaMemsetAsync(hist, 0, static_cast<std::size_t>(B) * bins * sizeof(unsigned), st));

  const cuda::MatchSrc src{in.data, in.height, in.width, in.stride_n, in.stride_y, in.stride_x};
  const dim3 block(32, 8);
  const dim3 grid(static_cast<unsigned>((in.width + block.x - 1) / block.x),
                  static_cast<unsigned>((in.height + block.y - 1) / block.y), static_cast<unsigned>(B));
  float* dst = out.ptr<float>();
  const int64_t N = in.numel();

  if (in.dtype == DType::kUInt8 || in.dtype == DType::kUInt16) {
    if (in.dtype == DType::kUInt8)
      cuda::histogram_int_kernel<uint8_t><<<grid, block, 0, st>>>(src, hist);
    else if (private_u16_ok(in.device_id))
      cuda::histogram_u16_private_kernel<<<private_grid, cuda::kPrivateThreads, cuda::kPrivateShared, st>>>(src, hist);
    else
      cuda::histogram_int_kernel<uint16_t><<<grid, block, 0, st>>>(src, hist);
    BONEAGE_CUDA_CHECK_LAUNCH();
    cuda::chunk_sum_kernel<<<table_grid, cuda::kChunk, 0, st>>>(hist, bins, sums);
    BONEAGE_CUDA_CHECK_LAUNCH();
    cuda::table_chunk_kernel<false><<<table_grid, cuda::kChunk, 0, st>>>(hist, bins, N, sums, state, ref.quantiles,
                                                                         ref.values, ref.size, table);
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
  cuda::chunk_sum_kernel<<<table_grid, cuda::kChunk, 0, st>>>(hist, bins, sums);
  BONEAGE_CUDA_CHECK_LAUNCH();
  cuda::table_chunk_kernel<true><<<table_grid, cuda::kChunk, 0, st>>>(hist, bins, N, sums, state, ref.quantiles,
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
