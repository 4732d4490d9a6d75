// Per-pixel math shared by the CPU and CUDA kernels (written once, __host__ __device__),
// so both backends evaluate the same formulas in the same order.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define BONEAGE_HD __host__ __device__ __forceinline__
#else
#define BONEAGE_HD inline
#endif

namespace boneage {
namespace math {

BONEAGE_HD float bits_to_float(uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(b);
#else
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
#endif
}

BONEAGE_HD float round_nearest(float x) {
#if defined(__CUDA_ARCH__)
  return rintf(x);
#else
  return __builtin_rintf(x);
#endif
}

// exp(x) for x <= 0, about 2 ulp, branch-free so the CPU loops vectorise (glibc's expf
// does not) and the GPU computes the same polynomial. Returns exactly 0 below -87.
BONEAGE_HD float min_f(float a, float b) { return a < b ? a : b; }
BONEAGE_HD float max_f(float a, float b) { return a > b ? a : b; }

BONEAGE_HD float exp_nonpositive(float x) {
  const float xc = min_f(max_f(x, -87.0f), 0.0f);
  const float n = round_nearest(xc * 1.44269504088896341f);
  // Cody-Waite: ln2 split into a part exact in float and a small correction.
  float r = xc - n * 0.693145751953125f;
  r = r - n * 1.42860682030941723e-06f;
  // exp(r) on |r| <= ln2/2: Taylor to degree 7 (truncation < 2e-8 relative).
  float p = 1.98412698e-4f;
  p = p * r + 1.38888889e-3f;
  p = p * r + 8.33333333e-3f;
  p = p * r + 4.16666667e-2f;
  p = p * r + 1.66666667e-1f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t e = static_cast<int32_t>(n) + 127;  // n in [-126, 0]
  const float scale = bits_to_float(static_cast<uint32_t>(e) << 23);
  const float y = p * scale;
  return x < -87.0f ? 0.0f : y;
}

// Frangi (1998) terms of one pixel's 2x2 Hessian [[hxx, hxy], [hxy, hyy]] (already
// sigma^2-normalised):
//   blob = exp(-Rb^2 / (2 beta^2)), Rb = |lambda_small| / |lambda_large|, or 0 where the
//          large eigenvalue has the wrong sign for the ridge polarity;
//   s2   = lambda_small^2 + lambda_large^2 = hxx^2 + 2 hxy^2 + hyy^2.
// The large eigenvalue is computed without cancellation; the small one as det/large,
// which stays accurate on thin ridges where it is near zero.
struct FrangiTerms {
  float blob;
  float s2;
};

BONEAGE_HD float sqrt_f(float x) {
#if defined(__CUDA_ARCH__)
  return sqrtf(x);
#else
  return __builtin_sqrtf(x);
#endif
}

// polarity: -1 for bright ridges (large eigenvalue must be negative), +1 for dark.
BONEAGE_HD FrangiTerms frangi_terms(float hxx, float hxy, float hyy, float inv_two_beta2,
                                    float polarity) {
  const float m = 0.5f * (hxx + hyy);
  const float q = 0.5f * (hxx - hyy);
  const float d = sqrt_f(q * q + hxy * hxy);
  const float large = m >= 0.0f ? m + d : m - d;
  const float det = hxx * hyy - hxy * hxy;
  const bool ridge = polarity * large > 0.0f;
  const float safe_large = ridge ? large : 1.0f;
  const float small = det / safe_large;
  const float rb2 = (small * small) / (safe_large * safe_large);
  const float blob = exp_nonpositive(-rb2 * inv_two_beta2);
  FrangiTerms t;
  t.blob = ridge ? blob : 0.0f;
  t.s2 = hxx * hxx + 2.0f * hxy * hxy + hyy * hyy;
  return t;
}

// Frangi's structureness factor 1 - exp(-S^2 / (2 c^2)).
BONEAGE_HD float frangi_structure(float s2, float inv_two_c2) {
  return 1.0f - exp_nonpositive(-s2 * inv_two_c2);
}

// Half-sample symmetric extension ("reflect": d c b a | a b c d | d c b a) of index i
// into [0, n), for any i (kernels may be wider than the image).
BONEAGE_HD int64_t reflect_index(int64_t i, int64_t n) {
  if (i >= 0 && i < n) return i;
  const int64_t period = 2 * n;
  int64_t r = i % period;
  if (r < 0) r += period;
  return r < n ? r : period - 1 - r;
}

// np.interp on a strictly increasing x grid: clamps outside [x[0], x[n-1]].
BONEAGE_HD double interp_sorted(double q, const double* x, const double* y, int64_t n) {
  if (q <= x[0]) return y[0];
  if (q >= x[n - 1]) return y[n - 1];
  int64_t lo = 0, hi = n - 1;  // x[lo] <= q < x[hi]
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (x[mid] <= q) lo = mid; else hi = mid;
  }
  return y[lo] + (q - x[lo]) * (y[hi] - y[lo]) / (x[hi] - x[lo]);
}

// interp_sorted for a non-decreasing sequence of queries: `lo` carries the bracket
// from one call to the next, so a whole table costs O(table + reference) (host only).
inline double interp_sorted_walk(double q, const double* x, const double* y, int64_t n, int64_t& lo) {
  if (q <= x[0]) return y[0];
  if (q >= x[n - 1]) return y[n - 1];
  while (lo + 1 < n - 1 && x[lo + 1] <= q) ++lo;  // now x[lo] <= q < x[lo + 1]
  return y[lo] + (q - x[lo]) * (y[lo + 1] - y[lo]) / (x[lo + 1] - x[lo]);
}

}  // namespace math
}  // namespace boneage
