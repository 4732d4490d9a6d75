#include "phantom/film.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "boneage/errors.h"

namespace boneage {
namespace phantom {
namespace {

// xoshiro256+ (Blackman & Vigna), seeded through splitmix64.
class Xoshiro {
 public:
  explicit Xoshiro(uint64_t seed) {
    for (auto& s : s_) {
      seed += 0x9E3779B97F4A7C15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      s = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    const uint64_t result = s_[0] + s_[3];
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = (s_[3] << 45) | (s_[3] >> 19);
    return result;
  }

 private:
  uint64_t s_[4];
};

constexpr int kTableBits = 12;
constexpr int kTableSize = 1 << kTableBits;

// Phi^-1((k + 0.5) / 4096), rescaled to unit variance (the 4096 equiprobable values
// stop at +-3.5 sd, which shrinks the variance by ~0.3 %).
const std::array<float, kTableSize>& normal_table() {
  static const std::array<float, kTableSize> table = [] {
    std::array<double, kTableSize> q{};
    for (int k = 0; k < kTableSize; ++k) {
      const double p = (k + 0.5) / kTableSize;
      // Phi(x) = erfc(-x / sqrt 2) / 2 is increasing: bisect (Newton diverges in the tails)
      double lo = -10.0, hi = 10.0;
      for (int it = 0; it < 80; ++it) {
        const double mid = 0.5 * (lo + hi);
        (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
      }
      const double x = 0.5 * (lo + hi);
      q[k] = x;
    }
    double var = 0.0;
    for (double v : q) var += v * v;
    const double scale = 1.0 / std::sqrt(var / kTableSize);
    std::array<float, kTableSize> t{};
    for (int k = 0; k < kTableSize; ++k) t[k] = static_cast<float>(q[k] * scale);
    return t;
  }();
  return table;
}

// Fills n deviates, five per 64-bit draw (12 bits each).
void fill_normal(Xoshiro& rng, float* out, int64_t n) {
  const auto& t = normal_table();
  int64_t i = 0;
  while (i < n) {
    uint64_t r = rng.next();
    for (int k = 0; k < 5 && i < n; ++k, ++i) {
      out[i] = t[r & (kTableSize - 1)];
      r >>= kTableBits;
    }
  }
}

// Source index and weight of bilinear enlargement from n_in to n_out samples.
struct Tap {
  int32_t i0, i1;
  float w1;
};

std::vector<Tap> taps(int64_t n_in, int64_t n_out) {
  std::vector<Tap> t(static_cast<std::size_t>(n_out));
  const double scale = static_cast<double>(n_in) / static_cast<double>(n_out);
  for (int64_t o = 0; o < n_out; ++o) {
    double s = (o + 0.5) * scale - 0.5;
    s = std::min(std::max(s, 0.0), static_cast<double>(n_in - 1));
    const auto i0 = static_cast<int32_t>(std::floor(s));
    const int32_t i1 = std::min<int32_t>(i0 + 1, static_cast<int32_t>(n_in - 1));
    t[static_cast<std::size_t>(o)] = Tap{i0, i1, static_cast<float>(s - i0)};
  }
  return t;
}

// One output row of a bilinear enlargement: blend two source rows, then sample along x.
void enlarge_row(const Grid& g, const Tap& ty, const std::vector<Tap>& tx, float* blend, float* row) {
  const float* a = g.data + ty.i0 * g.width;
  const float* b = g.data + ty.i1 * g.width;
  for (int64_t x = 0; x < g.width; ++x) blend[x] = a[x] + ty.w1 * (b[x] - a[x]);
  const auto n = static_cast<int64_t>(tx.size());
  for (int64_t x = 0; x < n; ++x) {
    const Tap& t = tx[static_cast<std::size_t>(x)];
    row[x] = blend[t.i0] + t.w1 * (blend[t.i1] - blend[t.i0]);
  }
}

// exp(x) for x <= 0 in float, written so the compiler vectorises it (std::exp does not):
// 2^t with t = x log2(e) split into an integer n (added to the exponent bits) and a
// fraction f in [-0.5, 0.5] (degree-6 Taylor series of 2^f, relative error < 3e-7).
// Below exp(-86) it returns ~2^-125 instead of a smaller number: the film never
// gets there (paths are tens at most).
inline float exp_neg(float x) {
  float t = x * 1.44269504088896341f;
  t = t < -125.0f ? -125.0f : t;
  // round(t) by truncation of a positive number (t >= -125): no compare, so it vectorises
  const int32_t n = static_cast<int32_t>(t + 256.5f) - 256;
  const float f = t - static_cast<float>(n);
  float p = 1.5403530e-4f;     // ln2^6 / 720
  p = p * f + 1.3333558e-3f;   // ln2^5 / 120
  p = p * f + 9.6181291e-3f;   // ln2^4 / 24
  p = p * f + 5.5504109e-2f;   // ln2^3 / 6
  p = p * f + 2.4022651e-1f;   // ln2^2 / 2
  p = p * f + 6.9314718e-1f;   // ln2
  p = p * f + 1.0f;
  int32_t bits;
  std::memcpy(&bits, &p, sizeof bits);
  bits += n * (1 << 23);
  float r;
  std::memcpy(&r, &bits, sizeof r);
  return r;
}

void check_grid(const Grid& g, const char* name) {
  BONEAGE_CHECK_VALUE(g.data != nullptr && g.height >= 1 && g.width >= 1, name, ": empty grid");
}

}  // namespace

void expose(const float* bone, int64_t height, int64_t width, Grid soft, Grid tex,
            const ExposeParams& p, float* out) {
  BONEAGE_CHECK_VALUE(height >= 1 && width >= 1, "expose: empty image");
  check_grid(soft, "soft");
  check_grid(tex, "tex");
  const auto sy = taps(soft.height, height), sx = taps(soft.width, width);
  const auto ty = taps(tex.height, height), tx = taps(tex.width, width);
  std::vector<float> soft_row(width), tex_row(width), blend(std::max(soft.width, tex.width)), ramp_x(width);
  if (p.heel_axis == 1)
    for (int64_t x = 0; x < width; ++x) ramp_x[x] = p.heel * (static_cast<float>(x) / width - 0.5f);
  for (int64_t y = 0; y < height; ++y) {
    enlarge_row(soft, sy[y], sx, blend.data(), soft_row.data());
    enlarge_row(tex, ty[y], tx, blend.data(), tex_row.data());
    const float* b = bone + y * width;
    float* o = out + y * width;
    const float* sr = soft_row.data();
    const float* tr = tex_row.data();
    if (p.heel_axis == 0) std::fill(ramp_x.begin(), ramp_x.end(), p.heel * (static_cast<float>(y) / height - 0.5f));
    const float* rr = ramp_x.data();
    for (int64_t x = 0; x < width; ++x) {
      const float path = sr[x] * p.mu_soft + b[x] * (1.0f + p.tex_amp * tr[x]) * p.mu_bone;
      o[x] = ((1.0f - exp_neg(-path)) * p.gain + p.bg) * (1.0f + rr[x]);
    }
  }
}

template <class T>
void read_out_impl(float* img, int64_t H, int64_t W, uint64_t seed, float sd, const T* lut,
                   int64_t lut_size, T* out) {
  Xoshiro rng(seed);
  std::vector<float> noise(W), prev(W), cur(W), row(W);
  const float top = static_cast<float>(lut_size - 1);
  // noise, row by row; the vertical blur needs the noisy row above before it is blurred
  for (int64_t y = 0; y < H; ++y) {
    float* r = img + y * W;
    fill_normal(rng, noise.data(), W);
    for (int64_t x = 0; x < W; ++x) r[x] += sd * std::sqrt(std::max(r[x], 0.01f)) * noise[x];
  }
  // vertical [1, 2, 1]/4, rows 0 and H-1 kept; prev holds the unblurred row above
  if (H > 2) {
    std::copy(img, img + W, prev.begin());
    for (int64_t y = 1; y < H - 1; ++y) {
      float* r = img + y * W;
      const float* below = r + W;
      std::copy(r, r + W, cur.begin());
      for (int64_t x = 0; x < W; ++x) r[x] = 0.25f * (prev[x] + below[x]) + 0.5f * cur[x];
      std::swap(prev, cur);
    }
  }
  // horizontal [1, 2, 1]/4, columns 0 and W-1 kept, then the look-up
  for (int64_t y = 0; y < H; ++y) {
    const float* r = img + y * W;
    row[0] = r[0];
    row[W - 1] = r[W - 1];
    for (int64_t x = 1; x < W - 1; ++x) row[x] = 0.25f * (r[x - 1] + r[x + 1]) + 0.5f * r[x];
    T* o = out + y * W;
    for (int64_t x = 0; x < W; ++x) {
      const float v = std::min(std::max(row[x], 0.0f), 1.0f) * top;
      o[x] = lut[static_cast<uint16_t>(v)];
    }
  }
}

void read_out(float* img, int64_t height, int64_t width, uint64_t seed, float sd, const void* lut,
              int64_t lut_size, int bits, void* out) {
  BONEAGE_CHECK_VALUE(height >= 1 && width >= 2, "read_out: image must be at least 1 x 2");
  BONEAGE_CHECK_VALUE(lut_size >= 2 && lut_size <= 65536, "read_out: lut must have 2..65536 entries");
  BONEAGE_CHECK_VALUE(bits == 8 || bits == 16, "read_out: bits must be 8 or 16");
  if (bits == 16)
    read_out_impl(img, height, width, seed, sd, static_cast<const uint16_t*>(lut), lut_size,
                  static_cast<uint16_t*>(out));
  else
    read_out_impl(img, height, width, seed, sd, static_cast<const uint8_t*>(lut), lut_size,
                  static_cast<uint8_t*>(out));
}

void normal_deviates(uint64_t seed, int64_t n, float* out) {
  Xoshiro rng(seed);
  fill_normal(rng, out, n);
}

}  // namespace phantom
}  // namespace boneage
