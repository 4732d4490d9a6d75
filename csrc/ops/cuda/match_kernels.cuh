// CUDA kernels of match_histograms.
#pragma once

#include <cstdint>

#include "boneage/ops.h"
#include "ops/math/fast_math.h"

namespace boneage {
namespace cuda {

// A batch of images; image z (blockIdx.z in the per-pixel kernels, blockIdx.x in the
// one-block-per-image table kernels) starts z * stride_n elements on. Its histogram,
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

// One block of kThreads threads: thread t owns the bins [b0, b1) of an even split and
// gets the number of pixels in all bins before b0 (Hillis-Steele scan of chunk sums).
template <int kThreads>
__device__ unsigned long long chunk_prefix(const unsigned* __restrict__ hist, int bins, int& b0, int& b1) {
  __shared__ unsigned long long partial[kThreads];
  const int t = threadIdx.x;
  const int per = (bins + kThreads - 1) / kThreads;
  b0 = t * per;
  b1 = min(bins, b0 + per);
  unsigned long long sum = 0;
  for (int b = b0; b < b1; ++b) sum += hist[b];
  partial[t] = sum;
  __syncthreads();
  for (int o = 1; o < kThreads; o <<= 1) {
    const unsigned long long v = t >= o ? partial[t - o] : 0ull;
    __syncthreads();
    partial[t] += v;
    __syncthreads();
  }
  return t > 0 ? partial[t - 1] : 0ull;
}

// One block: the inclusive cumulative histogram and the lookup table
// lut[v] = reference quantile function at (#pixels <= v) / N.
template <int kThreads>
__global__ void lut_kernel(const unsigned* __restrict__ all_hist, int bins, int64_t n_pixels,
                           const double* __restrict__ ref_q, const double* __restrict__ ref_v,
                           int64_t ref_n, float* __restrict__ all_lut) {
  const int64_t z = blockIdx.x;
  const unsigned* __restrict__ hist = all_hist + z * bins;
  float* __restrict__ lut = all_lut + z * (bins + 1);
  int b0, b1;
  unsigned long long run = chunk_prefix<kThreads>(hist, bins, b0, b1);
  const double invN = 1.0 / static_cast<double>(n_pixels);
  for (int b = b0; b < b1; ++b) {
    run += hist[b];
    lut[b] = static_cast<float>(math::interp_sorted(static_cast<double>(run) * invN, ref_q, ref_v, ref_n));
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

// One block: mapping at each of the bins + 1 edges, edge[b] = reference quantile
// function at (#pixels in bins < b) / N. A constant image maps to quantile 1.
template <int kThreads>
__global__ void edge_kernel(const unsigned* __restrict__ all_hist, int bins, int64_t n_pixels,
                            const unsigned* __restrict__ all_state, const double* __restrict__ ref_q,
                            const double* __restrict__ ref_v, int64_t ref_n, float* __restrict__ all_edge) {
  const int64_t z = blockIdx.x;
  const unsigned* __restrict__ hist = all_hist + z * bins;
  const unsigned* __restrict__ state = all_state + 4 * z;
  float* __restrict__ edge = all_edge + z * (bins + 1);
  const int t = threadIdx.x;
  const bool constant = !(key_float(state[1]) > key_float(state[0]));
  int b0, b1;
  unsigned long long before = chunk_prefix<kThreads>(hist, bins, b0, b1);
  const double invN = 1.0 / static_cast<double>(n_pixels);
  for (int b = b0; b < b1; ++b) {
    const double q = constant ? 1.0 : static_cast<double>(before) * invN;
    edge[b] = static_cast<float>(math::interp_sorted(q, ref_q, ref_v, ref_n));
    before += hist[b];
  }
  if (t == kThreads - 1) edge[bins] = static_cast<float>(math::interp_sorted(1.0, ref_q, ref_v, ref_n));
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
