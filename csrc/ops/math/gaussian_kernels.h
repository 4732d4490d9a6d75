// The 1-D Gaussian derivative kernels of one Hessian scale (host code, double
// precision, shared by the CPU and CUDA paths so both filter with identical taps).
#pragma once

#include <cmath>
#include <vector>

namespace boneage {
namespace math {

// Half kernels (index 0..radius) of the three separable filters of one scale:
//   k0: smoothing (symmetric), k1: first derivative (antisymmetric, k1[0] = 0, stored
//   for positive offsets with the convolution sign), k2: second derivative (symmetric,
//   k2[0] = -2 sum_{k>0} k2[k] so that it sums to zero).
// Each is the discrete composition of two sampled, normalised Gaussian (derivative)
// kernels of sigma / sqrt(2), i.e. the operator scikit-image's hessian_matrix applies
// with use_gaussian_derivatives=True, truncated at radius = ceil(5 sigma) (relative error of the
// truncated Hessian about 5e-5 against scikit-image's 8-sigma kernels).
// k1 is multiplied by sigma and k2 by sigma^2, so that the Hessian is
// sigma^2-normalised and responses of different scales are comparable.
struct ScaleKernels {
  double sigma = 0;
  int radius = 0;
  std::vector<float> k0, k1, k2;
};

constexpr double kTruncate = 5.0;

inline int hessian_radius(double sigma) {
  const int r = static_cast<int>(std::ceil(kTruncate * sigma));
  return r < 1 ? 1 : r;
}

inline ScaleKernels make_scale_kernels(double sigma) {
  ScaleKernels out;
  out.sigma = sigma;
  out.radius = hessian_radius(sigma);
  const int R = out.radius;
  const double sh = sigma / std::sqrt(2.0);
  // The half-scale kernels reach far past R so the composition is exact up to R.
  const int rh = 3 * R;
  std::vector<double> g(2 * rh + 1), d(2 * rh + 1);
  double sum = 0;
  for (int i = -rh; i <= rh; ++i) {
    g[i + rh] = std::exp(-0.5 * i * i / (sh * sh));
    sum += g[i + rh];
  }
  for (int i = -rh; i <= rh; ++i) {
    g[i + rh] /= sum;
    d[i + rh] = -static_cast<double>(i) / (sh * sh) * g[i + rh];  // d/dx of the Gaussian
  }
  auto compose = [&](const std::vector<double>& a, const std::vector<double>& b, int k) {
    // (a * b)[k] = sum_i a[i] b[k - i], both indexed from -rh
    double acc = 0;
    for (int i = -rh; i <= rh; ++i) {
      const int j = k - i;
      if (j < -rh || j > rh) continue;
      acc += a[i + rh] * b[j + rh];
    }
    return acc;
  };
  out.k0.resize(R + 1);
  out.k1.resize(R + 1);
  out.k2.resize(R + 1);
  for (int k = 0; k <= R; ++k) {
    out.k0[k] = static_cast<float>(compose(g, g, k));
    out.k1[k] = static_cast<float>(sigma * compose(g, d, k));
    out.k2[k] = static_cast<float>(sigma * sigma * compose(d, d, k));
  }
  out.k1[0] = 0.0f;
  // The filters use k2 as sum_k k2[k] (p[x-k] + p[x+k] - 2 p[x]): the centre tap is
  // implied, the kernel sums to exactly zero, and a flat image gives exactly 0.
  double side = 0;
  for (int k = 1; k <= R; ++k) side += out.k2[k];
  out.k2[0] = static_cast<float>(-2.0 * side);
  return out;
}

}  // namespace math
}  // namespace boneage
