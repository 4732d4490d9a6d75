// CUDA kernels of match_histograms.
#pragma once

#include <cstddef>
#include <cstdint>

#include "boneage/ops.h"
#include "ops/math/fast_math.h"

namespace boneage {
namespace cuda {

// A batch of images; image z (blockIdx.z in the per-pixel kernels, blockIdx.y in the
// table kernels) starts z * stride_n elements on. Its histogram,
// table and state live at hist + z * bins, table + z * (bins + 1), state + 4 z.
struct MatchSrc {
  const void* data;
  int64_t height, width, stride_n, stride_y, stride_x;
};

// Floats as unsigned keys whose integer order is the float order (for atomicMin/Max).
__device__ __forceinline__ unsigned float_key(float f) {
  const unsigned b = __float_as_uint(f);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
__device__ __forceinline__ float key_float(unsigned k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

template <class T>
__device__ __forceinline__ T load_px(const MatchSrc& s, int64_t z, int64_t y, int64_t x) {
  return static_cast<const T*>(s.data)[z * s.stride_n + y * s.stride_y + x * s.stride_x];
}

// Histogram of an integer image. 8-bit: privatised in shared memory; 16-bit: global
// atomics (65536 bins do not fit in shared memory).
template <class T>
__global__ void histogram_int_kernel(MatchSrc src, unsigned* __restrict__ all_hist) {
  constexpr int kBins = 1 << (8 * sizeof(T));
  const int64_t x = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t y = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
  const int64_t z = blockIdx.z;
  unsigned* __restrict__ hist = all_hist + z * kBins;
  const bool valid = x < src.width && y < src.height;
  if constexpr (kBins == 256) {
    __shared__ unsigned local[256];
    const int t = threadIdx.y * blockDim.x + threadIdx.x;
    const int nt = blockDim.x * blockDim.y;
    for (int i = t; i < 256; i += nt) local[i] = 0;
    __syncthreads();
    if (valid) atomicAdd(&local[load_px<T>(src, z, y, x)], 1u);
    __syncthreads();
    for (int i = t; i < 256; i += nt)
      if (local[i]) atomicAdd(&hist[i], local[i]);
  } else {
    if (valid) atomicAdd(&hist[load_px<T>(src, z, y, x)], 1u);
  }
}

// 16-bit histogram privatised in shared memory: 65536 16-bit counters packed two to a
// word (128 KiB). Each block counts at most kPrivatePixels pixels of image blockIdx.y
// (so no counter passes 65535 and carries into its neighbour), then adds its non-zero
// counts to the global histogram: about 1 global atomic per used grey level per block
// instead of one per pixel.
constexpr int kPrivateThreads = 1024;
constexpr int kPrivatePerThread = 63;
constexpr int64_t kPrivatePixels = static_cast<int64_t>(kPrivateThreads) * kPrivatePerThread;  // < 65536
constexpr std::size_t kPrivateShared = 65536 / 2 * sizeof(unsigned);

__global__ void __launch_bounds__(kPrivateThreads) histogram_u16_private_kernel(MatchSrc src,
                                                                               unsigned* __restrict__ all_hist) {
  extern __shared__ unsigned packed[];  // bin v: bits 16 (v & 1) .. of word v / 2
  const int t = threadIdx.x;
  const int64_t z = blockIdx.y;
  for (int i = t; i < 32768; i += kPrivateThreads) packed[i] = 0u;
  __syncthreads();
  const int64_t n = src.height * src.width;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kPrivatePixels;
  const int64_t last = min(n, first + kPrivatePixels);
  for (int64_t i = first + t; i < last; i += kPrivateThreads) {
    const int64_t y = i / src.width;
    const int64_t x = i - y * src.width;
    const unsigned v = load_px<uint16_t>(src, z, y, x);
    atomicAdd(&packed[v >> 1], (v & 1u) ? 0x10000u : 1u);
  }
  __syncthreads();
  unsigned* __restrict__ hist = all_hist + z * 65536;
  for (int i = t; i < 32768; i += kPrivateThreads) {
    const unsigned w = packed[i];
    if (w & 0xffffu) atomicAdd(&hist[2 * i], w & 0xffffu);
    if (w >> 16) atomicAdd(&hist[2 * i + 1], w >> 16);
  }
}

template <class T>
__global__ void apply_lut_kernel(MatchSrc src, int bins, const float* __restrict__ all_lut, float* __restrict__ out) {
  const int64_t x = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t y = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
  const int64_t z = blockIdx.z;
  if (x >= src.width || y >= src.height) return;
  out[(z * src.height + y) * src.width + x] = all_lut[z * (bins + 1) + load_px<T>(src, z, y, x)];
}

__device__ __forceinline__ float warp_min_f(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fminf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float warp_max_f(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Per image z: state[4z] = min key, state[4z + 1] = max key; state[2] (image 0's
// third word) = the batch's non-finite flag.
__global__ void minmax_kernel(MatchSrc src, unsigned* __restrict__ all_state) {
  const int64_t x = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t y = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
  const int64_t z = blockIdx.z;
  unsigned* __restrict__ state = all_state + 4 * z;
  const bool valid = x < src.width && y < src.height;
  float lo = INFINITY, hi = -INFINITY;
  if (valid) {
    const float v = load_px<float>(src, z, y, x);
    if (isfinite(v)) {
      lo = v;
      hi = v;
    } else {
      atomicOr(&all_state[2], 1u);
    }
  }
  lo = warp_min_f(lo);
  hi = warp_max_f(hi);
  if ((threadIdx.x + threadIdx.y * blockDim.x) % 32 == 0 && lo <= hi) {
    atomicMin(&state[0], float_key(lo));
    atomicMax(&state[1], float_key(hi));
  }
}

// Bin position in double, exactly as the CPU path computes it, so both backends put
// every pixel in the same bin.
struct FloatRange {
  double lo, scale;  // bin position t = (v - lo) * scale in [0, bins]
};

__device__ __forceinline__ FloatRange float_range(const unsigned* state, int bins) {
  const double lo = key_float(state[0]);
  const double hi = key_float(state[1]);
  FloatRange r;
  r.lo = lo;
  r.scale = hi > lo ? static_cast<double>(bins) / (hi - lo) : 0.0;
  return r;
}

__device__ __forceinline__ double bin_position(float v, FloatRange r, int bins) {
  const double t = (static_cast<double>(v) - r.lo) * r.scale;
  if (!(t > 0.0)) return 0.0;
  return t > static_cast<double>(bins) ? static_cast<double>(bins) : t;
}

__global__ void histogram_float_kernel(MatchSrc src, const unsigned* __restrict__ all_state, int bins,
                                       unsigned* __restrict__ all_hist) {
  const int64_t x = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t y = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
  const int64_t z = blockIdx.z;
  if (x >= src.width || y >= src.height) return;
  const FloatRange r = float_range(all_state + 4 * z, bins);
  const int b = min(static_cast<int>(bin_position(load_px<float>(src, z, y, x), r, bins)), bins - 1);
  atomicAdd(&all_hist[z * bins + b], 1u);
}

__global__ void apply_float_kernel(MatchSrc src, const unsigned* __restrict__ all_state, int bins,
                                   const float* __restrict__ all_edge, float* __restrict__ out) {
  const int64_t x = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t y = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
  const int64_t z = blockIdx.z;
  if (x >= src.width || y >= src.height) return;
  const float* __restrict__ edge = all_edge + z * (bins + 1);
  const FloatRange r = float_range(all_state + 4 * z, bins);
  const double t = bin_position(load_px<float>(src, z, y, x), r, bins);
  const int b = min(static_cast<int>(t), bins - 1);
  const float f = static_cast<float>(t - b);
  out[(z * src.height + y) * src.width + x] = edge[b] + f * (edge[b + 1] - edge[b]);
}

// ---------------------------------------------------------------------------------
// The table over many blocks: a one-block scan of 65536 bins took 474 us on an H200
// (85 % of the op). Block (c, z) owns bins [c kChunk, (c + 1) kChunk) of image z.
constexpr int kChunk = 256;

__device__ __forceinline__ unsigned long long warp_sum_u64(unsigned long long v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over the block of kChunk threads, returned to every thread.
__device__ __forceinline__ unsigned long long block_sum_u64(unsigned long long v) {
  __shared__ unsigned long long warp_tot[kChunk / 32];
  v = warp_sum_u64(v);
  __syncthreads();  // warp_tot may still be read by a previous call
  if (threadIdx.x % 32 == 0) warp_tot[threadIdx.x / 32] = v;
  __syncthreads();
  unsigned long long t = 0;
#pragma unroll
  for (int w = 0; w < kChunk / 32; ++w) t += warp_tot[w];
  return t;
}

// Inclusive scan over the block of kChunk threads.
__device__ __forceinline__ unsigned long long block_scan_u64(unsigned long long v) {
  __shared__ unsigned long long warp_tot[kChunk / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int o = 1; o < 32; o <<= 1) {
    const unsigned long long n = __shfl_up_sync(0xffffffffu, v, o);
    if (lane >= o) v += n;
  }
  __syncthreads();
  if (lane == 31) warp_tot[warp] = v;
  __syncthreads();
  for (int w = 0; w < warp; ++w) v += warp_tot[w];
  return v;
}

// Pixels per chunk of bins: sums[z * gridDim.x + c].
__global__ void __launch_bounds__(kChunk) chunk_sum_kernel(const unsigned* __restrict__ all_hist, int bins,
                                                           unsigned long long* __restrict__ all_sums) {
  const int c = blockIdx.x;
  const int64_t z = blockIdx.y;
  const int b = c * kChunk + threadIdx.x;
  const unsigned long long v = b < bins ? all_hist[z * bins + b] : 0ull;
  const unsigned long long t = block_sum_u64(v);
  if (threadIdx.x == 0) all_sums[z * gridDim.x + c] = t;
}

// kEdges = false: integer images, table[b] = reference quantile function at
// (#pixels <= b) / N, as the integer path needs. kEdges = true: float images, table[b] at
// (#pixels in bins < b) / N and table[bins] at 1, as edge_kernel (a constant image maps
// to quantile 1).
template <bool kEdges>
__global__ void __launch_bounds__(kChunk) table_chunk_kernel(
    const unsigned* __restrict__ all_hist, int bins, int64_t n_pixels,
    const unsigned long long* __restrict__ all_sums, const unsigned* __restrict__ all_state,
    const double* __restrict__ ref_q, const double* __restrict__ ref_v, int64_t ref_n,
    float* __restrict__ all_table) {
  const int c = blockIdx.x;
  const int chunks = gridDim.x;
  const int64_t z = blockIdx.y;
  const unsigned long long* sums = all_sums + z * chunks;
  unsigned long long before = 0;
  for (int i = threadIdx.x; i < c; i += kChunk) before += sums[i];
  before = block_sum_u64(before);
  const int b = c * kChunk + threadIdx.x;
  const unsigned long long h = b < bins ? all_hist[z * bins + b] : 0ull;
  const unsigned long long upto = before + block_scan_u64(h);  // pixels in bins <= b
  float* __restrict__ table = all_table + z * (bins + 1);
  const double invN = 1.0 / static_cast<double>(n_pixels);
  if (b >= bins) return;
  if constexpr (kEdges) {
    const unsigned* state = all_state + 4 * z;
    const bool constant = !(key_float(state[1]) > key_float(state[0]));
    const double q = constant ? 1.0 : static_cast<double>(upto - h) * invN;
    table[b] = static_cast<float>(math::interp_sorted(q, ref_q, ref_v, ref_n));
    if (b == bins - 1) table[bins] = static_cast<float>(math::interp_sorted(1.0, ref_q, ref_v, ref_n));
  } else {
    table[b] = static_cast<float>(math::interp_sorted(static_cast<double>(upto) * invN, ref_q, ref_v, ref_n));
  }
}

__global__ void init_minmax_kernel(unsigned* state, int64_t batch) {
  for (int64_t z = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; z < batch;
       z += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    state[4 * z] = 0xffffffffu;
    state[4 * z + 1] = 0u;
    state[4 * z + 2] = 0u;
    state[4 * z + 3] = 0u;
  }
}

}  // namespace cuda
}  // namespace boneage
