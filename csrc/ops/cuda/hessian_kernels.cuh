// CUDA kernels of hessian_enhance. One thread per pixel; the per-pixel math is the
// shared __host__ __device__ code in ops/math/fast_math.h.
#pragma once

#include <cstddef>
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


// ---------------------------------------------------------------------------------
// Fused path: one kernel for every scale. A block of 32 x 8 threads owns a 32 x 32
// output tile. It loads the tile and a halo of the plan's largest radius into shared
// memory once (reflected at the image border, converted to float), then per scale
// runs the row pass into three shared planes and the column pass from them, keeping
// the running maximum in registers. The arithmetic per pixel is the two-kernel path's,
// term for term, so both give the same floats; the fused one reads the image once
// and never writes the row-pass planes to global memory.
constexpr int kFusedTile = 32;
constexpr int kFusedMaxRadius = 20;   // (32 + 2R)^2 + 3 * 32 (32 + 2R) floats <= 48 KiB
constexpr int kFusedMaxScales = 8;

struct FusedTaps {
  int n_scales;
  int radius[kFusedMaxScales];
  float k0[kFusedMaxScales][kFusedMaxRadius + 1];
  float k1[kFusedMaxScales][kFusedMaxRadius + 1];
  float k2[kFusedMaxScales][kFusedMaxRadius + 1];
};

struct FusedArgs {
  SrcView src;
  int halo;             // largest radius of the plan
  float inv_two_beta2;
  float inv_two_c2;     // fixed-c mode
  bool bright;
  bool store_terms;     // automatic c: write blob/S^2 planes (the column kernel's layout)
  bool check_finite;
  float* out;
  float* planes;
  unsigned* nonfinite;
  unsigned* s2max_bits;
};

inline std::size_t fused_shared_bytes(int halo) {
  const std::size_t e = kFusedTile + 2 * static_cast<std::size_t>(halo);
  return (e * e + 3 * e * kFusedTile) * sizeof(float);
}

template <class T>
__global__ void __launch_bounds__(256) hessian_fused_kernel(const __grid_constant__ FusedTaps taps,
                                                            const FusedArgs args) {
  extern __shared__ float smem[];
  constexpr int kT = kFusedTile;
  const int R = args.halo;
  const int E = kT + 2 * R;
  float* __restrict__ tile = smem;   // E x E input
  float* __restrict__ p0 = tile + E * E;  // E rows x kT: the row pass' three planes
  float* __restrict__ p1 = p0 + E * kT;
  float* __restrict__ p2 = p1 + E * kT;
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int tid = ty * kT + tx;
  const int64_t z = blockIdx.z;
  const int64_t x0 = static_cast<int64_t>(blockIdx.x) * kT, y0 = static_cast<int64_t>(blockIdx.y) * kT;
  const int64_t H = args.src.height, W = args.src.width;
  const T* img = static_cast<const T*>(args.src.data) + z * args.src.stride_n;

  bool bad = false;
  for (int i = tid; i < E * E; i += 256) {
    const int iy = i / E;
    const int ix = i - iy * E;
    const int64_t gy = math::reflect_index(y0 - R + iy, H);
    const int64_t gx = math::reflect_index(x0 - R + ix, W);
    const float v = static_cast<float>(img[gy * args.src.stride_y + gx * args.src.stride_x]);
    bad |= !isfinite(v);
    tile[i] = v;
  }
  if (args.check_finite && bad) atomicOr(args.nonfinite, 1u);
  __syncthreads();

  const int64_t N = H * W;
  const int64_t x = x0 + tx;
  float best[kT / 8];
  float s2_here = 0.0f;
  for (int s = 0; s < taps.n_scales; ++s) {
    const int r = taps.radius[s];
    const float* k0 = taps.k0[s];
    const float* k1 = taps.k1[s];
    const float* k2 = taps.k2[s];
    // Row pass on the tile rows the column pass of this scale reads.
    for (int j = R - r + ty; j < R + kT + r; j += 8) {
      const float* row = tile + j * E + R + tx;
      const float c = row[0];
      const float c2 = c + c;
      float s0 = k0[0] * c, s1 = 0.0f, s2 = 0.0f;
      for (int k = 1; k <= r; ++k) {
        const float lo = row[-k];
        const float hi = row[k];
        const float sm = lo + hi;
        const float d = lo - hi;
        s0 += k0[k] * sm;
        s1 += k1[k] * d;
        s2 += k2[k] * (sm - c2);
      }
      p0[j * kT + tx] = s0;
      p1[j * kT + tx] = s1;
      p2[j * kT + tx] = s2;
    }
    __syncthreads();
    // Column pass, Frangi terms: rows ty, ty + 8, ty + 16, ty + 24 of the tile.
#pragma unroll
    for (int q = 0; q < kT / 8; ++q) {
      const int oy = ty + 8 * q;
      const int c = (R + oy) * kT + tx;
      float hxx = k0[0] * p2[c];
      const float c0 = p0[c];
      const float c02 = c0 + c0;
      float hyy = 0.0f;
      float hxy = 0.0f;
      for (int k = 1; k <= r; ++k) {
        const int u = c - k * kT;
        const int d = c + k * kT;
        hxx += k0[k] * (p2[u] + p2[d]);
        hyy += k2[k] * (p0[u] + p0[d] - c02);
        hxy += k1[k] * (p1[u] - p1[d]);
      }
      const math::FrangiTerms t = math::frangi_terms(hxx, hxy, hyy, args.inv_two_beta2, args.bright ? -1.0f : 1.0f);
      const int64_t y = y0 + oy;
      if (args.store_terms) {
        if (x < W && y < H) {
          float* blob = args.planes + (2 * (z * taps.n_scales + s)) * N;
          blob[y * W + x] = t.blob;
          blob[N + y * W + x] = t.s2;
          s2_here = fmaxf(s2_here, t.s2);
        }
      } else {
        const float v = t.blob * math::frangi_structure(t.s2, args.inv_two_c2);
        best[q] = s == 0 ? v : fmaxf(best[q], v);
      }
    }
    __syncthreads();  // the next scale overwrites the planes
  }
  if (args.store_terms) {
    const float m = warp_max(s2_here);  // every thread gets here
    if (tx == 0 && m > 0.0f) atomicMax(args.s2max_bits + z, __float_as_uint(m));
  } else if (x < W) {
    float* out = args.out + z * N;
#pragma unroll
    for (int q = 0; q < kT / 8; ++q) {
      const int64_t y = y0 + ty + 8 * q;
      if (y < H) out[y * W + x] = best[q];
    }
  }
}

}  // namespace cuda
}  // namespace boneage
