// CPU hessian_enhance: cache-blocked separable Gaussian-derivative filtering.
//
// The image is cut into tiles of kTileH x kTileW output pixels; a worker copies one
// tile plus the largest kernel radius of halo into a float buffer (reflect
// extension, dtype conversion and the NaN/Inf check happen in that copy), then for
// each scale runs the row pass into three small planes and the column pass straight
// into Frangi terms. All intermediates stay in the worker's L2; the inner loops run
// over contiguous x and are compiled for AVX-512, AVX2+FMA and baseline x86-64, picked
// at load time.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <vector>

#include "boneage/errors.h"
#include "ops/cpu/parallel.h"
#include "ops/hessian_enhance.h"
#include "ops/math/fast_math.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BONEAGE_MULTIVERSION \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BONEAGE_MULTIVERSION
#endif

namespace boneage {
namespace detail {
namespace {

constexpr int kTileH = 64;
constexpr int kTileW = 256;

// Sixteen floats: one AVX-512 register, two AVX2 ones; GCC lowers it per clone.
typedef float vf16 __attribute__((vector_size(64)));
constexpr int kLanes = 16;

inline vf16 loadu(const float* p) {
  vf16 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void storeu(float* p, vf16 v) { __builtin_memcpy(p, &v, sizeof v); }

// out[x] = sum_k w[k] p[x - k] for the three kernels, p pointing at x = 0 of a row with
// `radius` valid samples on each side. Works in chunks of 16 columns whose three
// accumulators stay in registers across all taps; it may compute (and store) up to 15
// columns past n, so the row buffers are padded for that.
BONEAGE_MULTIVERSION
void row_pass(const float* __restrict p, int n, int radius, const float* __restrict k0,
              const float* __restrict k1, const float* __restrict k2, float* __restrict a0,
              float* __restrict a1, float* __restrict a2) {
  for (int x = 0; x < n; x += kLanes) {
    const vf16 c = loadu(p + x);
    const vf16 c2 = c + c;
    vf16 s0 = k0[0] * c;
    vf16 s1 = {};
    vf16 s2 = {};
    for (int k = 1; k <= radius; ++k) {
      const vf16 lo = loadu(p + x - k);
      const vf16 hi = loadu(p + x + k);
      const vf16 sum = lo + hi;
      s0 += k0[k] * sum;
      s1 += k1[k] * (lo - hi);
      s2 += k2[k] * (sum - c2);  // zero-sum second derivative: exact 0 on flat input
    }
    storeu(a0 + x, s0);
    storeu(a1 + x, s1);
    storeu(a2 + x, s2);
  }
}

// Column pass for one output row: rows are `stride` floats apart and a0/a1/a2 point at
// the centre row. Same chunking (and the same padding requirement) as row_pass.
BONEAGE_MULTIVERSION
void column_pass(const float* __restrict a0, const float* __restrict a1,
                 const float* __restrict a2, int64_t stride, int n, int radius,
                 const float* __restrict k0, const float* __restrict k1,
                 const float* __restrict k2, float* __restrict hxx, float* __restrict hxy,
                 float* __restrict hyy) {
  for (int x = 0; x < n; x += kLanes) {
    vf16 xx = k0[0] * loadu(a2 + x);
    const vf16 c0 = loadu(a0 + x);
    const vf16 c02 = c0 + c0;
    vf16 yy = {};
    vf16 xy = {};
    for (int k = 1; k <= radius; ++k) {
      const int64_t o = k * stride;
      xx += k0[k] * (loadu(a2 + x - o) + loadu(a2 + x + o));
      yy += k2[k] * (loadu(a0 + x - o) + loadu(a0 + x + o) - c02);
      xy += k1[k] * (loadu(a1 + x - o) - loadu(a1 + x + o));
    }
    storeu(hxx + x, xx);
    storeu(hyy + x, yy);
    storeu(hxy + x, xy);
  }
}

// Fixed c: fold this scale's response into the running maximum.
BONEAGE_MULTIVERSION
void respond_fixed(const float* __restrict hxx, const float* __restrict hxy,
                   const float* __restrict hyy, int n, float inv_two_beta2, float inv_two_c2,
                   float polarity, bool first, float* __restrict out) {
  for (int x = 0; x < n; ++x) {
    const math::FrangiTerms t = math::frangi_terms(hxx[x], hxy[x], hyy[x], inv_two_beta2, polarity);
    const float v = t.blob * math::frangi_structure(t.s2, inv_two_c2);
    out[x] = first ? v : math::max_f(out[x], v);
  }
}

// Automatic c: keep this scale's terms until the global max of S^2 is known.
BONEAGE_MULTIVERSION
void respond_store(const float* __restrict hxx, const float* __restrict hxy,
                   const float* __restrict hyy, int n, float inv_two_beta2, float polarity,
                   float* __restrict blob, float* __restrict s2, float* __restrict s2max) {
  for (int x = 0; x < n; ++x) {
    const math::FrangiTerms t = math::frangi_terms(hxx[x], hxy[x], hyy[x], inv_two_beta2, polarity);
    blob[x] = t.blob;
    s2[x] = t.s2;
    s2max[x] = math::max_f(s2max[x], t.s2);
  }
}

BONEAGE_MULTIVERSION
void combine_row(const float* const* blob, const float* const* s2, int n_scales, int64_t n,
                 float inv_two_c2, float* __restrict out) {
  for (int64_t x = 0; x < n; ++x) out[x] = 0.0f;
  for (int s = 0; s < n_scales; ++s) {
    const float* __restrict b = blob[s];
    const float* __restrict q = s2[s];
    for (int64_t x = 0; x < n; ++x)
      out[x] = math::max_f(out[x], b[x] * math::frangi_structure(q[x], inv_two_c2));
  }
}

template <class T>
bool load_tile(const ImageView& in, int64_t y0, int64_t x0, int th, int tw, int R, float* buf,
               int64_t ld, bool check_finite) {
  const T* base = in.ptr<const T>();
  bool bad = false;
  for (int r = 0; r < th + 2 * R; ++r) {
    const int64_t y = math::reflect_index(y0 - R + r, in.height);
    const T* row = base + y * in.stride_y;
    float* dst = buf + r * ld;
    for (int j = 0; j < tw + 2 * R; ++j) {
      const int64_t x = math::reflect_index(x0 - R + j, in.width);
      const float v = static_cast<float>(row[x * in.stride_x]);
      dst[j] = v;
      if (check_finite) bad |= !std::isfinite(v);
    }
  }
  return bad;
}

struct WorkerBuffers {
  std::vector<float> tile, a0, a1, a2, hxx, hxy, hyy, s2max;
};

}  // namespace

void hessian_enhance_cpu(const ImageView& in, const ImageView& out, const HessianPlan& plan) {
  const int64_t H = in.height, W = in.width;
  const int n_scales = static_cast<int>(plan.scales.size());
  const int Rmax = plan.max_radius;
  const int64_t tiles_y = (H + kTileH - 1) / kTileH;
  const int64_t tiles_x = (W + kTileW - 1) / kTileW;
  const int64_t n_tiles = tiles_y * tiles_x;
  const int workers = cpu::workers_for(n_tiles);

  // Rows are padded by kLanes so the 16-wide chunks may run past the tile's width.
  const int64_t tile_ld = kTileW + 2 * Rmax + kLanes;
  const int64_t plane_rows = kTileH + 2 * Rmax;
  std::vector<WorkerBuffers> buffers(workers);
  for (auto& b : buffers) {
    b.tile.resize(static_cast<std::size_t>(plane_rows * tile_ld));
    b.a0.resize(static_cast<std::size_t>(plane_rows * kTileW));
    b.a1.resize(b.a0.size());
    b.a2.resize(b.a0.size());
    b.hxx.resize(kTileW);
    b.hxy.resize(kTileW);
    b.hyy.resize(kTileW);
    b.s2max.assign(kTileW, 0.0f);
  }

  // Automatic c needs every scale's terms before any response: keep them in planes.
  // The planes are leased from a small cache between calls: fresh pages for ~100 MB of
  // planes (2560 x 2048, 3 scales) cost more in page faults than the filtering itself.
  const int64_t N = H * W;
  std::unique_ptr<cpu::ScratchLease> lease;
  if (plan.auto_c) lease.reset(new cpu::ScratchLease(static_cast<std::size_t>(2 * n_scales * N)));
  float* planes = lease ? lease->get() : nullptr;
  auto blob_plane = [&](int s) { return planes + (2 * s) * N; };
  auto s2_plane = [&](int s) { return planes + (2 * s + 1) * N; };

  std::atomic<bool> nonfinite{false};
  float* dst = out.ptr<float>();

  cpu::parallel_for(n_tiles, workers, [&](int64_t tile, int worker) {
    WorkerBuffers& b = buffers[worker];
    const int64_t y0 = (tile / tiles_x) * kTileH;
    const int64_t x0 = (tile % tiles_x) * kTileW;
    const int th = static_cast<int>(std::min<int64_t>(kTileH, H - y0));
    const int tw = static_cast<int>(std::min<int64_t>(kTileW, W - x0));
    bool bad = false;
    switch (in.dtype) {
      case DType::kUInt8: bad = load_tile<uint8_t>(in, y0, x0, th, tw, Rmax, b.tile.data(), tile_ld, false); break;
      case DType::kUInt16: bad = load_tile<uint16_t>(in, y0, x0, th, tw, Rmax, b.tile.data(), tile_ld, false); break;
      case DType::kFloat32: bad = load_tile<float>(in, y0, x0, th, tw, Rmax, b.tile.data(), tile_ld, plan.check_finite); break;
    }
    if (bad) {
      nonfinite.store(true);
      return;
    }
    for (int s = 0; s < n_scales; ++s) {
      const math::ScaleKernels& K = plan.scales[s];
      const int R = K.radius;
      const int off = Rmax - R;  // this scale's halo starts `off` into the tile buffer
      const int rows = th + 2 * R;
      for (int r = 0; r < rows; ++r) {
        const float* p = b.tile.data() + (off + r) * tile_ld + Rmax;
        row_pass(p, tw, R, K.k0.data(), K.k1.data(), K.k2.data(), b.a0.data() + r * kTileW,
                 b.a1.data() + r * kTileW, b.a2.data() + r * kTileW);
      }
      for (int i = 0; i < th; ++i) {
        const int64_t c = static_cast<int64_t>(i + R) * kTileW;
        column_pass(b.a0.data() + c, b.a1.data() + c, b.a2.data() + c, kTileW, tw, R,
                    K.k0.data(), K.k1.data(), K.k2.data(), b.hxx.data(), b.hxy.data(),
                    b.hyy.data());
        const int64_t o = (y0 + i) * W + x0;
        if (plan.auto_c) {
          respond_store(b.hxx.data(), b.hxy.data(), b.hyy.data(), tw, plan.inv_two_beta2,
                        plan.bright ? -1.0f : 1.0f, blob_plane(s) + o, s2_plane(s) + o, b.s2max.data());
        } else {
          respond_fixed(b.hxx.data(), b.hxy.data(), b.hyy.data(), tw, plan.inv_two_beta2,
                        plan.inv_two_c2, plan.bright ? -1.0f : 1.0f, s == 0, dst + o);
        }
      }
    }
  });

  if (nonfinite.load()) throw ValueError("image contains NaN or Inf values");
  if (!plan.auto_c) return;

  float s2max = 0.0f;
  for (const auto& b : buffers)
    for (float v : b.s2max) s2max = std::max(s2max, v);
  // Frangi's automatic c: half the largest Hessian norm over all scales and pixels.
  // A flat image has no structure: its response is 0 everywhere.
  const float inv_two_c2 = s2max > 0.0f ? 2.0f / s2max : 0.0f;
  std::vector<const float*> blobs(n_scales), s2s(n_scales);
  const int64_t rows_per_task = std::max<int64_t>(1, (1 << 16) / W);
  const int64_t n_tasks = (H + rows_per_task - 1) / rows_per_task;
  cpu::parallel_for(n_tasks, [&](int64_t task, int) {
    const int64_t y0 = task * rows_per_task;
    const int64_t y1 = std::min(H, y0 + rows_per_task);
    const int64_t o = y0 * W;
    std::vector<const float*> bl(n_scales), sq(n_scales);
    for (int s = 0; s < n_scales; ++s) {
      bl[s] = blob_plane(s) + o;
      sq[s] = s2_plane(s) + o;
    }
    if (s2max > 0.0f) {
      combine_row(bl.data(), sq.data(), n_scales, (y1 - y0) * W, inv_two_c2, dst + o);
    } else {
      std::fill(dst + o, dst + y1 * W, 0.0f);
    }
  });
}

}  // namespace detail
}  // namespace boneage
