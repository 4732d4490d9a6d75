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
  int64_t height, width, stride_n, stride_y, stride_x;  // image blockIdx.z starts stride_n elements on
};

// Row pass: the three x-filtered planes of one scale (smoothing, first and second
// derivative), in float, contiguous: image z's planes start at a + 3 z H W.
template <class T>
__global__ void hessian_row_kernel(SrcView src, const __grid_constant__ ScaleTaps taps, float* __restrict__ a,
                                   unsigned* __restrict__ nonfinite, bool check_finite) {
  const int64_t x = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t y = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
  const int64_t z = blockIdx.z;
  if (x >= src.width || y >= src.height) return;
  const int64_t N = src.height * src.width;
  float* __restrict__ a0 = a + 3 * z * N;
  float* __restrict__ a1 = a0 + N;
  float* __restrict__ a2 = a1 + N;
  const T* row = static_cast<const T*>(src.data) + z * src.stride_n + y * src.stride_y;
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
  const float* a;     // row-pass planes, 3 per image
  int64_t height, width;
  float inv_two_beta2;
  float inv_two_c2;   // fixed-c mode
  bool bright;
  bool store_terms;   // automatic c: write blob/s2 planes instead of the response
  bool first;         // first scale of the fixed-c mode: overwrite instead of max
  int scale, n_scales;
  float* out;         // image z at out + z H W
  float* planes;      // automatic c: blob/S^2 planes, 2 per scale per image
  unsigned* s2max_bits;  // per image: max S^2 as float bits (S^2 >= 0, so uint order = float order)
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
  const int64_t z = blockIdx.z;
  const bool valid = x < args.width && y < args.height;
  const int64_t N = args.height * args.width;
  const float* __restrict__ a0 = args.a + 3 * z * N;
  const float* __restrict__ a1 = a0 + N;
  const float* __restrict__ a2 = a1 + N;
  float s2_here = 0.0f;
  if (valid) {
    const int64_t W = args.width, H = args.height;
    const int64_t c = y * W + x;
    float hxx = taps.k0[0] * a2[c];
    const float c0 = a0[c];
    const float c02 = c0 + c0;
    float hyy = 0.0f;
    float hxy = 0.0f;
    for (int k = 1; k <= taps.radius; ++k) {
      const int64_t u = math::reflect_index(y - k, H) * W + x;
      const int64_t d = math::reflect_index(y + k, H) * W + x;
      hxx += taps.k0[k] * (a2[u] + a2[d]);
      hyy += taps.k2[k] * (a0[u] + a0[d] - c02);
      hxy += taps.k1[k] * (a1[u] - a1[d]);
    }
    const math::FrangiTerms t = math::frangi_terms(hxx, hxy, hyy, args.inv_two_beta2, args.bright ? -1.0f : 1.0f);
    if (args.store_terms) {
      float* blob = args.planes + (2 * (z * args.n_scales + args.scale)) * N;
      blob[c] = t.blob;
      blob[N + c] = t.s2;
      s2_here = t.s2;
    } else {
      float* out = args.out + z * N;
      const float v = t.blob * math::frangi_structure(t.s2, args.inv_two_c2);
      out[c] = args.first ? v : fmaxf(out[c], v);
    }
  }
  if (args.store_terms) {
    // Every thread of the block reaches this point, so the warp shuffle is complete.
    const float m = warp_max(s2_here);
    if ((threadIdx.x + threadIdx.y * blockDim.x) % 32 == 0 && m > 0.0f)
      atomicMax(args.s2max_bits + z, __float_as_uint(m));
  }
}

// Automatic c = half the largest Hessian norm of each image: response = max over
// scales. Image blockIdx.y; its planes follow the column kernel's layout.
__global__ void hessian_combine_kernel(const float* __restrict__ all_planes, int n_scales, int64_t n,
                                       const unsigned* __restrict__ s2max_bits,
                                       float* __restrict__ all_out) {
  const int64_t z = blockIdx.y;
  const float* __restrict__ planes = all_planes + 2 * z * n_scales * n;
  float* __restrict__ out = all_out + z * n;
  const float s2max = __uint_as_float(s2max_bits[z]);
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
