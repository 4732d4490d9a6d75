// CUDA kernels of hessian_enhance. One thread per pixel; the per-pixel math is the
// shared __host__ __device__ code in ops/math/fast_math.h.
#pragma once

#include <cstdint>

#include "boneage/ops.h"
#include "ops/math/fast_math.h"

namespace boneage {
namespace cuda {

struct ScaleTaps {
  int radius;
  float k0[kMaxRadius + 1];
  float k1[kMaxRadius + 1];
  float k2[kMaxRadius + 1];
};

struct SrcView {
  const void* data;
  int64_t height, width, stride_y, stride_x;
};

// Row pass: the three x-filtered planes of one scale (smoothing, first and second
// derivative), in float, contiguous.
template <class T>
__global__ void hessian_row_kernel(SrcView src, const __grid_constant__ ScaleTaps taps,
                                   float* __restrict__ a0, float* __restrict__ a1,
                                   float* __restrict__ a2, unsigned* __restrict__ nonfinite,
                                   bool check_finite) {
  const int64_t x = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t y = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
  if (x >= src.width || y >= src.height) return;
  const T* row = static_cast<const T*>(src.data) + y * src.stride_y;
  const int64_t W = src.width;
  const float c = static_cast<float>(row[x * src.stride_x]);
  if (check_finite && !isfinite(c)) atomicOr(nonfinite, 1u);
  const float c2 = c + c;
  float s0 = taps.k0[0] * c, s1 = 0.0f, s2 = 0.0f;
  for (int k = 1; k <= taps.radius; ++k) {
    const float lo = static_cast<float>(row[math::reflect_index(x - k, W) * src.stride_x]);
    const float hi = static_cast<float>(row[math::reflect_index(x + k, W) * src.stride_x]);
    const float s = lo + hi;
    const float d = lo - hi;
    s0 += taps.k0[k] * s;
    s1 += taps.k1[k] * d;
    s2 += taps.k2[k] * (s - c2);  // zero-sum second derivative
  }
  const int64_t i = y * W + x;
  a0[i] = s0;
  a1[i] = s1;
  a2[i] = s2;
}

struct ColumnArgs {
  const float* a0;
  const float* a1;
  const float* a2;
  int64_t height, width;
  float inv_two_beta2;
  float inv_two_c2;   // fixed-c mode
  bool bright;
  bool store_terms;   // automatic c: write blob/s2 planes instead of the response
  bool first;         // first scale of the fixed-c mode: overwrite instead of max
  float* out;
  float* blob;
  float* s2;
  unsigned* s2max_bits;  // max S^2 as float bits (S^2 >= 0, so uint order = float order)
};

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Column pass: Hessian of one scale, Frangi terms, and either the running maximum of
// the response (fixed c) or the terms plus the global max of S^2 (automatic c).
__global__ void hessian_column_kernel(const __grid_constant__ ScaleTaps taps, const ColumnArgs args) {
  const int64_t x = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t y = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
  const bool valid = x < args.width && y < args.height;
  float s2_here = 0.0f;
  if (valid) {
    const int64_t W = args.width, H = args.height;
    const int64_t c = y * W + x;
    float hxx = taps.k0[0] * args.a2[c];
    const float c0 = args.a0[c];
    const float c02 = c0 + c0;
    float hyy = 0.0f;
    float hxy = 0.0f;
    for (int k = 1; k <= taps.radius; ++k) {
      const int64_t u = math::reflect_index(y - k, H) * W + x;
      const int64_t d = math::reflect_index(y + k, H) * W + x;
      hxx += taps.k0[k] * (args.a2[u] + args.a2[d]);
      hyy += taps.k2[k] * (args.a0[u] + args.a0[d] - c02);
      hxy += taps.k1[k] * (args.a1[u] - args.a1[d]);
    }
    const math::FrangiTerms t = math::frangi_terms(hxx, hxy, hyy, args.inv_two_beta2, args.bright ? -1.0f : 1.0f);
    if (args.store_terms) {
      args.blob[c] = t.blob;
      args.s2[c] = t.s2;
      s2_here = t.s2;
    } else {
      const float v = t.blob * math::frangi_structure(t.s2, args.inv_two_c2);
      args.out[c] = args.first ? v : fmaxf(args.out[c], v);
    }
  }
  if (args.store_terms) {
    // Every thread of the block reaches this point, so the warp shuffle is complete.
    const float m = warp_max(s2_here);
    if ((threadIdx.x + threadIdx.y * blockDim.x) % 32 == 0 && m > 0.0f)
      atomicMax(args.s2max_bits, __float_as_uint(m));
  }
}

// Automatic c = half the largest Hessian norm: response = max over scales.
__global__ void hessian_combine_kernel(const float* __restrict__ planes, int n_scales, int64_t n,
                                       const unsigned* __restrict__ s2max_bits,
                                       float* __restrict__ out) {
  const float s2max = __uint_as_float(*s2max_bits);
  const float inv_two_c2 = s2max > 0.0f ? 2.0f / s2max : 0.0f;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float v = 0.0f;
    if (s2max > 0.0f) {
      for (int s = 0; s < n_scales; ++s) {
        const float b = planes[(2 * s) * n + i];
        const float q = planes[(2 * s + 1) * n + i];
        v = fmaxf(v, b * math::frangi_structure(q, inv_two_c2));
      }
    }
    out[i] = v;
  }
}

}  // namespace cuda
}  // namespace boneage
