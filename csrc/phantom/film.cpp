#include "phantom/film.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <type_traits>
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
  constexpr uint64_t kMask = kTableSize - 1;
  int64_t i = 0;
  for (; i + 5 <= n; i += 5) {  // whole draws, unrolled
    const uint64_t r = rng.next();
    out[i] = t[r & kMask];
    out[i + 1] = t[(r >> kTableBits) & kMask];
    out[i + 2] = t[(r >> (2 * kTableBits)) & kMask];
    out[i + 3] = t[(r >> (3 * kTableBits)) & kMask];
    out[i + 4] = t[(r >> (4 * kTableBits)) & kMask];
  }
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

// One bilinear sample of `src` at a tap.
inline float sample(const float* src, const Tap& t) { return src[t.i0] + t.w1 * (src[t.i1] - src[t.i0]); }

// Along x, by exactly R (2 or 4) from n >= 3 samples: output R j + m samples between
// j - 1 and j (m < R/2) or j and j + 1 with the weights taps() gives them (exact in
// float: 3/4, 1/4; 5/8, 7/8, 1/8, 3/8), without reading the taps; the outputs within
// R of either end, where taps() clamps, from the taps.
template <int R>
void enlarge_x_by(const float* blend, int64_t n, const std::vector<Tap>& tx, float* row) {
  for (int64_t o = 0; o < R; ++o) row[o] = sample(blend, tx[static_cast<std::size_t>(o)]);
  for (int64_t j = 1; j < n - 1; ++j) {
    float* out = row + R * j;
    for (int m = 0; m < R; ++m) {
      const float w = (m + 0.5f) / R + (2 * m < R ? 0.5f : -0.5f);
      const float* s = blend + j + (2 * m < R ? -1 : 0);
      out[m] = s[0] + w * (s[1] - s[0]);
    }
  }
  for (int64_t o = R * (n - 1); o < R * n; ++o) row[o] = sample(blend, tx[static_cast<std::size_t>(o)]);
}

// One output row of a bilinear enlargement: blend two source rows, then sample along x.
void enlarge_row(const Grid& g, const Tap& ty, const std::vector<Tap>& tx, float* blend, float* row) {
  const float* a = g.data + ty.i0 * g.width;
  const float* b = g.data + ty.i1 * g.width;
  for (int64_t x = 0; x < g.width; ++x) blend[x] = a[x] + ty.w1 * (b[x] - a[x]);
  const auto n = static_cast<int64_t>(tx.size());
  if (g.width >= 3 && n == 2 * g.width) return enlarge_x_by<2>(blend, g.width, tx, row);
  if (g.width >= 3 && n == 4 * g.width) return enlarge_x_by<4>(blend, g.width, tx, row);
  for (int64_t x = 0; x < n; ++x) row[x] = sample(blend, tx[static_cast<std::size_t>(x)]);
}

// exp(x) for x <= 0 in float (and for 0 < x < 88, where 2^n still fits the exponent
// bits: the line texture's smooth density reads it there), written so the compiler
// vectorises it (std::exp does not):
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

// cos(pi s) for s in [-0.5, 0.5] (Taylor series in x = pi s to x^12, error < 1e-8),
// written so the compiler vectorises it.
inline float cos_pi(float s) {
  const float x = 3.14159265358979324f * s;
  const float x2 = x * x;
  float c = 2.08767570e-9f;           // 1/12!
  c = c * x2 - 2.75573192e-7f;        // 1/10!
  c = c * x2 + 2.48015873e-5f;        // 1/8!
  c = c * x2 - 1.38888889e-3f;        // 1/6!
  c = c * x2 + 4.16666667e-2f;        // 1/4!
  c = c * x2 - 0.5f;
  return c * x2 + 1.0f;
}

// The x range [lo, hi] (inclusive, clipped to 0..width-1) where a * x + b lies in
// [vlo, vhi]; lo > hi when empty.
void solve_span(double a, double b, double vlo, double vhi, int64_t width, int64_t& lo, int64_t& hi) {
  double x0 = 0.0, x1 = static_cast<double>(width - 1);
  if (std::abs(a) < 1e-12) {
    if (b < vlo || b > vhi) x1 = -1.0;
  } else {
    double t0 = (vlo - b) / a, t1 = (vhi - b) / a;
    if (t0 > t1) std::swap(t0, t1);
    x0 = std::max(x0, t0);
    x1 = std::min(x1, t1);
  }
  lo = std::max(lo, static_cast<int64_t>(std::ceil(x0)));
  hi = std::min(hi, static_cast<int64_t>(std::floor(x1)));
}

// kSplit: the interior's path goes to `canc_row`, the cortex's to `row` (else both to `row`)
template <bool kEndPlate, bool kSplit>
void long_bone_row(float* row, float* canc_row, int64_t xa, int64_t xb, float ry, const LongBoneParams& p) {
  // parameters in locals: `row` could alias `p` as far as the compiler knows, and the
  // reloads would keep the loop from vectorising
  const float p0x = p.p0x, ux = p.ux, nx = -p.uy, ny = p.ux;
  const float L = p.length, hw = p.half_width, inv_l = 1.0f / p.length;
  const float f0 = p.flare0, f1 = p.flare1, medulla_gain = p.medulla_gain, marrow = p.marrow, scale = p.mm_per_pixel;
  const float base_r = std::min(p.base_round * hw + 0.5f, 0.4f * L);
  const float head_r = std::min(p.head_round * hw + 0.5f, 0.4f * L);
  const float plate = p.end_plate, base_plate = p.base_plate, inv_w = 1.0f / p.end_plate_width;
  const float k = 1.0f / p.head_span, kb = 1.0f / p.base_span;
  const float ay = ry * p.uy, vy = ry * ny;
  // an int32 counter: SSE2 has no vector int64 -> float conversion
  const int32_t n = static_cast<int32_t>(xb - xa + 1), x0 = static_cast<int32_t>(xa);
  float* out = row + xa;
  float* canc = kSplit ? canc_row + xa : nullptr;
  for (int32_t i = 0; i < n; ++i) {
    const float rx = static_cast<float>(x0 + i) - p0x;
    const float along = rx * ux + ay;
    const float v = rx * nx + vy;
    const float u = along * inv_l;
    const float uc = std::min(std::max(u, 0.0f), 1.0f);
    float mid = cos_pi(uc - 0.5f);  // sin(pi uc)
    mid *= mid;
    const float tb = uc * kb, th = (1.0f - uc) * k;
    const float fb = exp_neg(-tb * tb), fh = exp_neg(-th * th);
    float h = hw * (1.0f + f0 * fb + f1 * fh - 0.1f * mid);
    // rounded ends: a third of the rounding runs on past the end point
    const float r_end = u < 0.5f ? base_r : head_r;
    const float over = r_end * (1.0f / 3.0f);
    const float e = std::max(std::max(r_end - over - along, along - (L + over - r_end)), 0.0f);
    const float q = e / r_end;
    h *= std::sqrt(std::max(1.0f - q * q, 0.0f));
    const float cortex = std::max(h * (0.12f + 0.26f * mid), 0.6f);
    const float outer = std::sqrt(std::max(h * h - v * v, 0.0f));
    const float hi = std::max(h - cortex, 0.0f);
    const float inner = std::sqrt(std::max(hi * hi - v * v, 0.0f));
    float medulla = marrow + medulla_gain * (fb + fh);
    if (kEndPlate) {
      const float a0 = along * inv_w, a1 = (L - along) * inv_w;
      // base_plate 1 multiplies exactly: the same float result as before it existed
      medulla += plate * (base_plate * exp_neg(-a0 * a0) + exp_neg(-a1 * a1));
    }
    // flared ends are flattened: depth grows as the square root of the width
    const float flat = std::min(std::sqrt(hw * (1.0f - 0.1f * mid) / std::max(h, 1e-3f)), 1.0f);
    if (kSplit) {
      out[i] += 2.0f * (outer - inner) * flat * scale;
      canc[i] += 2.0f * medulla * inner * flat * scale;
    } else {
      out[i] += (2.0f * (outer - inner) + 2.0f * medulla * inner) * flat * scale;
    }
  }
}

// ln(x) for x in (0, 1], written so the compiler vectorises it: x = m 2^e with m in
// [1, 2), ln m = 2 atanh(s), s = (m - 1)/(m + 1) < 1/3, odd series to s^11 (error
// < 1e-7). x = 0 gives about -88 (its exponent bits), which exp_neg maps to ~0.
inline float log_unit(float x) {
  int32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const int32_t e = ((bits >> 23) & 0xff) - 127;
  bits = (bits & 0x007fffff) | 0x3f800000;
  float m;
  std::memcpy(&m, &bits, sizeof m);
  const float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
  float q = 1.0f / 11.0f;
  q = q * s2 + 1.0f / 9.0f;
  q = q * s2 + 1.0f / 7.0f;
  q = q * s2 + 1.0f / 5.0f;
  q = q * s2 + 1.0f / 3.0f;
  q = q * s2 + 1.0f;
  return static_cast<float>(e) * 0.693147180559945309f + 2.0f * s * q;
}

// kSplit: the interior's path goes to `canc`, the shell's to `out` (else both to `out`)
template <bool kPower, bool kSplit>
void ossicle_row(float* out, float* canc, int32_t i0, int32_t i1, float dx0, float dy, const OssicleParams& p) {
  const float ca = p.cos_t, sa = p.sin_t, inv_a = 1.0f / p.a, inv_b = 1.0f / p.b;
  const float cap = p.cap, lip = std::abs(p.cap) * 0.8f, taper = std::abs(p.taper);
  const float cap_dir = p.cap > 0.0f ? -1.0f : 1.0f, taper_dir = p.taper > 0.0f ? 1.0f : -1.0f;
  const float expo = p.exponent, shell = p.shell, weight = p.weight, interior = p.interior, bend = p.bend;
  const float slope = p.slope, hollow = p.hollow, lean = p.lean;
  const float shell_pow = kPower ? std::pow(shell, -expo) : 1.0f / (shell * shell);
  for (int32_t i = i0; i < i1; ++i) {
    const float dx = dx0 + static_cast<float>(i);
    float xr = (dx * ca + dy * sa) * inv_a;
    // the ossicle's own +y is the image's -y
    float yr = -(-dx * sa + dy * ca) * inv_b;
    if (cap != 0.0f) {
      // the side facing the metaphysis bends round it: its centre recedes, its edges run
      // on as lips
      const float w = std::min(std::max(cap_dir * yr, 0.0f), 1.0f);
      yr += cap_dir * lip * (0.5f - xr * xr) * w;
    }
    // a curved midline: the ends of the long axis swing towards +y (bend > 0)
    yr -= bend * xr * xr;
    if (slope != 0.0f || hollow != 0.0f) {
      // the +y half thickens along x: a wedge (slope) over a concave surface (hollow)
      const float xc = std::min(std::max(xr, -1.0f), 1.0f);
      const float grow = 1.0f + slope * xc + hollow * xc * xc;
      yr = yr > 0.0f ? yr / grow : yr;
    }
    if (taper != 0.0f) {
      const float w = taper * std::min(std::max(0.5f * (taper_dir * yr + 1.0f), 0.0f), 1.0f);
      xr = (xr - lean * w) / (1.0f - w);
    }
    float rho;
    if (kPower) {
      // |x|^p = exp(p ln |x|); beyond 1 the pixel is outside the outline whatever the power
      const float ax = std::min(std::abs(xr), 1.0f), ay = std::min(std::abs(yr), 1.0f);
      rho = exp_neg(expo * log_unit(ax)) + exp_neg(expo * log_unit(ay));
    } else {
      rho = xr * xr + yr * yr;
    }
    const float outer = std::sqrt(std::max(1.0f - rho, 0.0f));
    const float inner = std::sqrt(std::max(1.0f - rho * shell_pow, 0.0f)) * shell;
    if (kSplit) {
      out[i] += weight * 2.0f * (outer - inner);
      canc[i] += weight * 2.0f * interior * inner;
    } else {
      out[i] += weight * (2.0f * (outer - inner) + 2.0f * interior * inner);
    }
  }
}

// Calls f(std::bool_constant<a>, std::bool_constant<b>): two run-time flags to the
// compile-time ones a row kernel is specialised on.
template <class F>
void with_flags(bool a, bool b, F&& f) {
  if (a) {
    if (b)
      f(std::true_type{}, std::true_type{});
    else
      f(std::true_type{}, std::false_type{});
  } else {
    if (b)
      f(std::false_type{}, std::true_type{});
    else
      f(std::false_type{}, std::false_type{});
  }
}

bool all_finite(std::initializer_list<float> values) {
  for (float v : values)
    if (!std::isfinite(v)) return false;
  return true;
}

void check_grid(const Grid& g, const char* name) {
  BONEAGE_CHECK_VALUE(g.data != nullptr && g.height >= 1 && g.width >= 1, name, ": empty grid");
}

// The TexLines texture over one output row, in chunks of kChunk pixels: a chunk with
// no cancellous path (`c` all 0) is left 0 (the texture multiplies nothing there).
// Otherwise, per field: the taps' offsets and B-spline weights in a loop the compiler
// vectorises, the 3 x 3 weighted sum pixel by pixel (the lattice reads are gathers),
// then the lines (joined per layer, the layers averaged, the smooth density mixed in)
// in vectorised loops.
constexpr int64_t kChunk = 16;

// Uniform quadratic B-spline weights of the taps at i - 1, i, i + 1 for a position at
// t - 0.5 from tap i (t in [0, 1)).
inline void bspline2(float t, float& w0, float& w1, float& w2) {
  w0 = 0.5f * (1.0f - t) * (1.0f - t);
  w1 = 0.5f + t * (1.0f - t);
  w2 = 0.5f * t * t;
}

void line_texture_row(const TexLines& t, int64_t y, int64_t width, const float* c, float* row) {
  const int K = t.fields;
  const bool smooth = t.smooth > 0.0f;
  const int line_fields = smooth ? K - 1 : K, per_layer = line_fields / t.layers;
  const float inv_line = 1.0f / t.line, inv_mean = 1.0f / t.mean / static_cast<float>(t.layers);
  const float fy = static_cast<float>(y);
  float f[kMaxLineFields][kChunk];
  float wx[3][kChunk], wy[3][kChunk], norm[kChunk];
  int32_t at[kChunk];
  for (int64_t x0 = 0; x0 < width; x0 += kChunk) {
    const int32_t n = static_cast<int32_t>(std::min(kChunk, width - x0));
    float any = 0.0f;
    for (int32_t i = 0; i < n; ++i) any = std::max(any, std::abs(c[x0 + i]));
    float* out = row + x0;
    if (any == 0.0f) {
      std::fill(out, out + n, 0.0f);
      continue;
    }
    const float fx0 = static_cast<float>(x0);
    for (int k = 0; k < K; ++k) {
      const LineField& lf = t.field[k];
      const float scale = smooth && k == K - 1 ? 1.0f : inv_line;  // the smooth field is read as it is
      const int32_t stride = static_cast<int32_t>(lf.lattice.width);
      // nodes 1 .. size - 2 only, so that the three taps stay on the lattice
      const float umax = static_cast<float>(lf.lattice.width - 2), vmax = static_cast<float>(lf.lattice.height - 2);
      const float u0 = lf.m[1] * fy + lf.m[2], v0 = lf.m[4] * fy + lf.m[5];
      for (int32_t i = 0; i < n; ++i) {
        const float fx = fx0 + static_cast<float>(i);
        // the nearest node (round half up; positions >= 0.5 here), clamped
        const float u = std::min(std::max(lf.m[0] * fx + u0, 0.5f), umax + 0.49f);
        const float v = std::min(std::max(lf.m[3] * fx + v0, 0.5f), vmax + 0.49f);
        const int32_t iu = std::max(static_cast<int32_t>(u + 0.5f), 1), iv = std::max(static_cast<int32_t>(v + 0.5f), 1);
        const float tu = u - static_cast<float>(iu) + 0.5f, tv = v - static_cast<float>(iv) + 0.5f;
        bspline2(tu, wx[0][i], wx[1][i], wx[2][i]);
        bspline2(tv, wy[0][i], wy[1][i], wy[2][i]);
        const float sx = wx[0][i] * wx[0][i] + wx[1][i] * wx[1][i] + wx[2][i] * wx[2][i];
        const float sy = wy[0][i] * wy[0][i] + wy[1][i] * wy[1][i] + wy[2][i] * wy[2][i];
        norm[i] = scale / std::sqrt(sx * sy);
        at[i] = (iv - 1) * stride + (iu - 1);
      }
      const float* data = lf.lattice.data;
      for (int32_t i = 0; i < n; ++i) {
        const float* r0 = data + at[i];
        const float* r1 = r0 + stride;
        const float* r2 = r1 + stride;
        const float a0 = wx[0][i] * r0[0] + wx[1][i] * r0[1] + wx[2][i] * r0[2];
        const float a1 = wx[0][i] * r1[0] + wx[1][i] * r1[1] + wx[2][i] * r1[2];
        const float a2 = wx[0][i] * r2[0] + wx[1][i] * r2[1] + wx[2][i] * r2[2];
        f[k][i] = (wy[0][i] * a0 + wy[1][i] * a1 + wy[2][i] * a2) * norm[i];
      }
    }
    // loops over the chunk innermost, so that each vectorises
    float joined[kChunk], gap[kChunk];
    std::fill(joined, joined + n, 0.0f);  // the sum over layers of 1 - prod (1 - l_k)
    for (int g = 0; g < t.layers; ++g) {
      std::fill(gap, gap + n, 1.0f);  // the product of the layer's (1 - l_k)
      for (int k = g * per_layer; k < (g + 1) * per_layer; ++k) {
        const float* fk = f[k];
        for (int32_t i = 0; i < n; ++i) gap[i] *= 1.0f - exp_neg(-fk[i] * fk[i]);
      }
      for (int32_t i = 0; i < n; ++i) joined[i] += 1.0f - gap[i];
    }
    for (int32_t i = 0; i < n; ++i) out[i] = joined[i] * inv_mean - 1.0f;
    if (smooth) {  // (1 - w) (1 + tex) + w exp(s f - s^2 / 2) - 1: a log-normal share of mean 1, never negative
      const float keep = 1.0f - t.smooth, shift = -0.5f * t.spread * t.spread;
      for (int32_t i = 0; i < n; ++i)
        out[i] = keep * (out[i] + 1.0f) + t.smooth * exp_neg(std::min(t.spread * f[K - 1][i] + shift, 80.0f)) - 1.0f;
    }
  }
}

// [1, 2, 1]/4 along y over the rows `a`, `c`, `b` (above, this, below; with `a` and `b`
// null, at a film's first and last rows, `c` is kept), then along x (edge columns kept),
// into `dst` (`tmp`: a row of scratch). The read-out's blur, of its noisy rows and (with
// `pre_blur`) of the film's.
void blur_row(const float* a, const float* c, const float* b, int64_t W, float* tmp, float* dst) {
  const float* v = c;
  if (a != nullptr && b != nullptr) {
    for (int64_t x = 0; x < W; ++x) tmp[x] = 0.25f * (a[x] + b[x]) + 0.5f * c[x];
    v = tmp;
  }
  dst[0] = v[0];
  dst[W - 1] = v[W - 1];
  for (int64_t x = 1; x < W - 1; ++x) dst[x] = 0.25f * (v[x - 1] + v[x + 1]) + 0.5f * v[x];
}

}  // namespace

void expose(const float* bone, const float* cancellous, int64_t height, int64_t width, Grid soft, Grid tex,
            const ExposeParams& p, float* out, const TexLines* lines) {
  BONEAGE_CHECK_VALUE(height >= 1 && width >= 1, "expose: empty image");
  check_grid(soft, "soft");
  check_grid(tex, "tex");
  if (lines) {
    BONEAGE_CHECK_VALUE(cancellous != nullptr, "expose: line texture needs a cancellous path");
    BONEAGE_CHECK_VALUE(lines->fields >= 1 && lines->fields <= kMaxLineFields, "expose: the line texture takes 1 to ",
                        kMaxLineFields, " fields, got ", lines->fields);
    BONEAGE_CHECK_VALUE(lines->smooth >= 0.0f && lines->smooth < 1.0f && lines->spread >= 0.0f &&
                            lines->spread <= kMaxSpread,
                        "expose: the smooth field's share must be in [0, 1) and its spread in [0, ", kMaxSpread, "]");
    const int line_fields = lines->fields - (lines->smooth > 0.0f ? 1 : 0);
    BONEAGE_CHECK_VALUE(lines->layers >= 1 && line_fields >= lines->layers && line_fields % lines->layers == 0,
                        "expose: ", line_fields, " line fields do not form ", lines->layers, " equal layers");
    BONEAGE_CHECK_VALUE(std::isfinite(lines->line) && std::isfinite(lines->mean) && lines->line > 0.0f &&
                            lines->mean > 0.0f,
                        "expose: line and line mean must be finite and > 0");
    for (int k = 0; k < lines->fields; ++k) {
      const LineField& lf = lines->field[k];
      BONEAGE_CHECK_VALUE(lf.lattice.data != nullptr && lf.lattice.height >= 3 && lf.lattice.width >= 3,
                          "expose: a line field's lattice must be at least 3 x 3");
      BONEAGE_CHECK_VALUE(all_finite({lf.m[0], lf.m[1], lf.m[2], lf.m[3], lf.m[4], lf.m[5]}),
                          "expose: a line field's map must be finite");
    }
  }
  const auto sy = taps(soft.height, height), sx = taps(soft.width, width);
  const auto ty = taps(tex.height, height), tx = taps(tex.width, width);
  std::vector<float> soft_row(width), tex_row(width), blend(std::max(soft.width, tex.width)), ramp_x(width);
  if (p.heel_axis == 1)
    for (int64_t x = 0; x < width; ++x) ramp_x[x] = p.heel * (static_cast<float>(x) / width - 0.5f);
  for (int64_t y = 0; y < height; ++y) {
    enlarge_row(soft, sy[y], sx, blend.data(), soft_row.data());
    const float* b = bone + y * width;
    const float* c = cancellous ? cancellous + y * width : nullptr;
    if (lines)
      line_texture_row(*lines, y, width, c, tex_row.data());
    else
      enlarge_row(tex, ty[y], tx, blend.data(), tex_row.data());
    float* o = out + y * width;
    const float* sr = soft_row.data();
    const float* tr = tex_row.data();
    if (p.heel_axis == 0) std::fill(ramp_x.begin(), ramp_x.end(), p.heel * (static_cast<float>(y) / height - 0.5f));
    const float* rr = ramp_x.data();
    if (c) {
      for (int64_t x = 0; x < width; ++x) {
        const float path = sr[x] * p.mu_soft + (b[x] + c[x] * (1.0f + p.tex_amp * tr[x])) * p.mu_bone;
        o[x] = ((1.0f - exp_neg(-path)) * p.gain + p.bg) * (1.0f + rr[x]);
      }
    } else {
      for (int64_t x = 0; x < width; ++x) {
        const float path = sr[x] * p.mu_soft + b[x] * (1.0f + p.tex_amp * tr[x]) * p.mu_bone;
        o[x] = ((1.0f - exp_neg(-path)) * p.gain + p.bg) * (1.0f + rr[x]);
      }
    }
  }
}

template <class T>
void read_out_impl(const float* img, int64_t H, int64_t W, uint64_t seed, float sd, const T* lut,
                   int64_t lut_size, T* out, bool pre_blur, float coarse) {
  Xoshiro rng(seed);
  // the coarse grain: deviates on a grid of every second pixel, from a stream of their
  // own (the fine deviates are those drawn without it), read bilinearly; grid row 0
  // first, then grid row (y + 1) / 2 as odd row y needs it
  Xoshiro coarse_rng(seed ^ kCoarseSeed);
  const int64_t Wc = W / 2 + 1;
  std::vector<float> grid(coarse != 0.0f ? static_cast<std::size_t>(2 * Wc) : 0);
  if (coarse != 0.0f) fill_normal(coarse_rng, grid.data(), Wc);
  // One pass over the film: row y is written once the noisy row below it exists. Three
  // noisy rows (above, this, below) in a ring; the arithmetic, and the order the normal
  // deviates are drawn in (row by row), are those of noise over the whole film, then the
  // vertical blur, then the horizontal one (with `pre_blur` each film row is read blurred,
  // from the film's rows above and below it).
  std::vector<float> ring(static_cast<std::size_t>(3 * W)), vert(W), row(W);
  std::vector<float> pre(pre_blur ? static_cast<std::size_t>(2 * W) : 0);
  std::vector<int32_t> index(W);
  const float top = static_cast<float>(lut_size - 1);
  auto noisy = [&](int64_t y) -> float* {  // row y with its noise, in its ring slot
    float* r = ring.data() + (y % 3) * W;
    const float* src = img + y * W;
    if (pre_blur) {
      const bool inner = y > 0 && y < H - 1;
      blur_row(inner ? src - W : nullptr, src, inner ? src + W : nullptr, W, pre.data(), pre.data() + W);
      src = pre.data() + W;
    }
    fill_normal(rng, r, W);
    if (coarse == 0.0f) {
      for (int64_t x = 0; x < W; ++x) r[x] = src[x] + sd * std::sqrt(std::max(src[x], 0.01f)) * r[x];
      return r;
    }
    const int64_t i = y / 2;
    const float* g0 = grid.data() + (i % 2) * Wc;  // grid row i
    float* g1 = grid.data() + ((i + 1) % 2) * Wc;  // grid row i + 1
    if (y % 2 == 1) fill_normal(coarse_rng, g1, Wc);
    const float wy = (y % 2 == 1) ? 0.5f : 0.0f;
    const float sc = sd * coarse;
    for (int64_t x = 0; x < W; ++x) {
      const int64_t j = x / 2;
      const float wx = (x % 2 == 1) ? 0.5f : 0.0f;
      const float a = g0[j] + wx * (g0[j + 1] - g0[j]);
      const float b = g1[j] + wx * (g1[j + 1] - g1[j]);
      r[x] = src[x] + sd * std::sqrt(std::max(src[x], 0.01f)) * r[x] + sc * (a + wy * (b - a));
    }
    return r;
  };
  noisy(0);
  if (H > 1) noisy(1);
  for (int64_t y = 0; y < H; ++y) {
    const float* c = ring.data() + (y % 3) * W;
    // [1, 2, 1]/4 along y (rows 0 and H-1 kept; the row below drawn first), then along x
    const bool inner = y > 0 && y < H - 1;
    const float* b = inner ? noisy(y + 1) : nullptr;
    blur_row(inner ? ring.data() + ((y + 2) % 3) * W : nullptr, c, b, W, vert.data(), row.data());
    // the level's index first (a loop the compiler vectorises), then the look-up
    int32_t* ix = index.data();
    for (int64_t x = 0; x < W; ++x) ix[x] = static_cast<int32_t>(std::min(std::max(row[x], 0.0f), 1.0f) * top);
    T* o = out + y * W;
    for (int64_t x = 0; x < W; ++x) o[x] = lut[static_cast<uint16_t>(ix[x])];
  }
}

void read_out(const float* img, int64_t height, int64_t width, uint64_t seed, float sd, const void* lut,
              int64_t lut_size, int bits, void* out, bool pre_blur, float coarse) {
  BONEAGE_CHECK_VALUE(height >= 1 && width >= 2, "read_out: image must be at least 1 x 2");
  BONEAGE_CHECK_VALUE(std::isfinite(coarse) && coarse >= 0.0f, "read_out: coarse must be finite and >= 0");
  BONEAGE_CHECK_VALUE(lut_size >= 2 && lut_size <= 65536, "read_out: lut must have 2..65536 entries");
  BONEAGE_CHECK_VALUE(bits == 8 || bits == 16, "read_out: bits must be 8 or 16");
  if (bits == 16)
    read_out_impl(img, height, width, seed, sd, static_cast<const uint16_t*>(lut), lut_size,
                  static_cast<uint16_t*>(out), pre_blur, coarse);
  else
    read_out_impl(img, height, width, seed, sd, static_cast<const uint8_t*>(lut), lut_size,
                  static_cast<uint8_t*>(out), pre_blur, coarse);
}

int64_t long_bone(float* acc, float* cancellous, int64_t height, int64_t width, const LongBoneParams& p) {
  BONEAGE_CHECK_VALUE(height >= 1 && width >= 1, "long_bone: empty image");
  BONEAGE_CHECK_VALUE(all_finite({p.p0x, p.p0y, p.ux, p.uy, p.length, p.half_width, p.flare0, p.flare1, p.base_round,
                                  p.head_round, p.medulla_gain, p.marrow, p.end_plate, p.end_plate_width,
                                  p.mm_per_pixel, p.base_span, p.base_plate, p.head_span}),
                      "long_bone: parameters must be finite");
  BONEAGE_CHECK_VALUE(p.length > 0.0f && p.half_width > 0.0f && p.end_plate_width > 0.0f,
                      "long_bone: length, half_width and end_plate_width must be > 0");
  BONEAGE_CHECK_VALUE(p.base_span >= 0.05f && p.base_span <= 0.5f, "long_bone: base_span must be in [0.05, 0.5]");
  BONEAGE_CHECK_VALUE(p.base_plate >= 0.0f && p.base_plate <= 1.0f, "long_bone: base_plate must be in [0, 1]");
  BONEAGE_CHECK_VALUE(p.head_span >= 0.05f && p.head_span <= 0.5f, "long_bone: head_span must be in [0.05, 0.5]");
  BONEAGE_CHECK_VALUE(std::abs(p.ux * p.ux + p.uy * p.uy - 1.0f) < 1e-3f, "long_bone: (ux, uy) must be a unit vector");
  // The outline stays within vmax of the axis (the flares add at most their sum) and
  // within a third of the end rounding past each end; a pixel of margin on each.
  const double hw = p.half_width, L = p.length;
  const double vmax = hw * (1.0 + std::abs(p.flare0) + std::abs(p.flare1)) + 1.0;
  const double r_end = std::min(std::max(p.base_round, p.head_round) * hw + 0.5, 0.4 * L);
  const double alo = -r_end / 3.0 - 1.0, ahi = L + r_end / 3.0 + 1.0;
  const double p1y = p.p0y + p.uy * L, reach = vmax + r_end / 3.0 + 2.0;
  const int64_t y0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(std::min<double>(p.p0y, p1y) - reach)));
  const int64_t y1 = std::min<int64_t>(height - 1, static_cast<int64_t>(std::ceil(std::max<double>(p.p0y, p1y) + reach)));
  // Over the middle half of the length (u in [1/4, 3/4]) the flares have died down to
  // exp(-(0.25 / span)^2) of their size at most (0.062 at the head's span of 0.15): there
  // the outline stays within vmid of the axis, and each row skips what lies between vmid
  // and vmax (nothing is drawn there; the pixels evaluated are computed as before).
  const double span1 = static_cast<double>(p.head_span);
  const double fade_head = std::exp(-(0.25 / span1) * (0.25 / span1)) * 1.001;
  const double span0 = static_cast<double>(p.base_span);
  const double fade_base = std::exp(-(0.25 / span0) * (0.25 / span0)) * 1.001;
  const double vmid = hw * (1.0 + fade_base * std::abs(p.flare0) + fade_head * std::abs(p.flare1)) + 1.0;
  const double nx = -p.uy, ny = p.ux;
  int64_t evaluated = 0;
  for (int64_t y = y0; y <= y1; ++y) {
    const double ry = static_cast<double>(y) - p.p0y;
    int64_t xa = 0, xb = width - 1;
    solve_span(p.ux, ry * p.uy - p.p0x * p.ux, alo, ahi, width, xa, xb);
    solve_span(nx, ry * ny - p.p0x * nx, -vmax, vmax, width, xa, xb);
    if (xa > xb) continue;
    // the row's middle stretch [ma, mb] (within [xa, xb]) and, within that, [na, nb] near the axis
    int64_t ma = xa, mb = xb;
    solve_span(p.ux, ry * p.uy - p.p0x * p.ux, 0.25 * L, 0.75 * L, width, ma, mb);
    int64_t na = ma, nb = mb;
    if (ma <= mb) solve_span(nx, ry * ny - p.p0x * nx, -vmid, vmid, width, na, nb);
    // [xa, xb] with [ma, mb] replaced by [na, nb]: up to three runs, in order
    int64_t runs[3][2] = {{xa, xb}, {1, 0}, {1, 0}};
    if (ma <= mb) {
      runs[0][1] = ma - 1;
      runs[1][0] = na;
      runs[1][1] = nb;
      runs[2][0] = mb + 1;
      runs[2][1] = xb;
    }
    float* row = acc + y * width;
    float* canc = cancellous ? cancellous + y * width : nullptr;
    const float fy = static_cast<float>(ry);
    for (const auto& run : runs) {
      if (run[0] > run[1]) continue;
      with_flags(p.end_plate != 0.0f, canc != nullptr, [&](auto plate, auto split) {
        long_bone_row<decltype(plate)::value, decltype(split)::value>(row, canc, run[0], run[1], fy, p);
      });
      evaluated += run[1] - run[0] + 1;
    }
  }
  return evaluated;
}

int64_t ossicle(float* acc, float* cancellous, int64_t height, int64_t width, const OssicleParams& p) {
  BONEAGE_CHECK_VALUE(height >= 1 && width >= 1, "ossicle: empty image");
  BONEAGE_CHECK_VALUE(all_finite({p.cx, p.cy, p.a, p.b, p.cos_t, p.sin_t, p.cap, p.taper, p.exponent, p.shell,
                                  p.interior, p.weight, p.bend, p.slope, p.hollow, p.lean}),
                      "ossicle: parameters must be finite");
  BONEAGE_CHECK_VALUE(p.a > 0.0f && p.b > 0.0f, "ossicle: semi-axes must be > 0");
  BONEAGE_CHECK_VALUE(p.exponent >= 1.0f, "ossicle: exponent must be >= 1");
  BONEAGE_CHECK_VALUE(p.shell > 0.0f && p.shell <= 1.0f, "ossicle: shell must be in (0, 1]");
  BONEAGE_CHECK_VALUE(std::abs(p.taper) < 1.0f, "ossicle: |taper| must be < 1");
  BONEAGE_CHECK_VALUE(std::abs(p.bend) <= 1.0f, "ossicle: |bend| must be <= 1");
  BONEAGE_CHECK_VALUE(std::abs(p.slope) < 1.0f, "ossicle: |slope| must be < 1");
  BONEAGE_CHECK_VALUE(p.hollow >= 0.0f && p.hollow <= 1.0f, "ossicle: hollow must be in [0, 1]");
  BONEAGE_CHECK_VALUE(std::abs(p.lean) <= 1.0f, "ossicle: |lean| must be <= 1");
  // the bounding square's half-side: the outline's reach from the centre, and at least
  // the corner of its own rectangle (below), which a boxy or one-sided taper reaches
  const double reach = 1.0 + std::abs(p.cap) * 0.8 + std::abs(p.bend) + std::abs(p.slope) + p.hollow;
  const double r = std::max(std::max(p.a, p.b) * reach,
                            std::hypot(static_cast<double>(p.a), static_cast<double>(p.b) * reach)) +
                   2.0;
  const int64_t x0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(p.cx - r)));
  const int64_t x1 = std::min<int64_t>(width - 1, static_cast<int64_t>(std::ceil(p.cx + r)));
  const int64_t y0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(p.cy - r)));
  const int64_t y1 = std::min<int64_t>(height - 1, static_cast<int64_t>(std::ceil(p.cy + r)));
  if (x1 < x0 || y1 < y0) return 0;
  // Within that square, each row is evaluated only where the ossicle's own rectangle
  // crosses it: |x'| < a (the taper only narrows, to one side at most), and y' within
  // b (1 + 0.4 |cap| + |bend| + |slope| + hollow) (the cap's lip moves the outline by at
  // most 0.4 |cap|, the bend by |bend|, the wedge and hollow stretch its +y half by at most
  // 1 + |slope| + hollow); a pixel of margin on each. Pixels outside add nothing, and the
  // ones evaluated keep their offsets from the square's corner (the same float dx).
  const double ua = p.a + 1.0;
  const double vb = p.b * (1.0 + 0.4 * std::abs(p.cap) + std::abs(p.bend) + std::abs(p.slope) + p.hollow) + 1.0;
  const double ca = p.cos_t, sa = p.sin_t;
  const float dx0 = static_cast<float>(static_cast<double>(x0) - p.cx);
  int64_t evaluated = 0;
  for (int64_t y = y0; y <= y1; ++y) {
    const double ry = static_cast<double>(y) - p.cy;
    int64_t xa = x0, xb = x1;
    // own x a = dx ca + dy sa, own y b = -(-dx sa + dy ca), with dx = x - cx
    solve_span(ca, ry * sa - p.cx * ca, -ua, ua, width, xa, xb);
    solve_span(-sa, ry * ca + p.cx * sa, -vb, vb, width, xa, xb);
    if (xa > xb) continue;
    const float dy = static_cast<float>(ry);
    float* row = acc + y * width + x0;
    float* canc = cancellous ? cancellous + y * width + x0 : nullptr;
    const auto i0 = static_cast<int32_t>(xa - x0), i1 = static_cast<int32_t>(xb - x0 + 1);
    with_flags(p.exponent != 2.0f, canc != nullptr, [&](auto power, auto split) {
      ossicle_row<decltype(power)::value, decltype(split)::value>(row, canc, i0, i1, dx0, dy, p);
    });
    evaluated += i1 - i0;
  }
  return evaluated;
}

void unsharp(float* img, int64_t height, int64_t width, int64_t k, float gain) {
  BONEAGE_CHECK_VALUE(height >= 1 && width >= 1, "unsharp: empty image");
  BONEAGE_CHECK_VALUE(k >= 1, "unsharp: k must be >= 1, got ", k);
  BONEAGE_CHECK_VALUE(std::isfinite(gain), "unsharp: gain must be finite");
  const int64_t h = (height + k - 1) / k, w = (width + k - 1) / k;
  std::vector<float> grid(static_cast<std::size_t>(h * w));
  if (k == 1) {
    // 1 x 1 blocks: each mean is the pixel itself (+ 0 as the sums give it: -0 becomes +0)
    for (int64_t i = 0; i < h * w; ++i) grid[i] = img[i] + 0.0f;
  } else {
    // block means, one row of blocks at a time (double sums: a block may hold thousands
    // of pixels; within one row of a block at most k values, so float there)
    std::vector<double> sum(static_cast<std::size_t>(w));
    for (int64_t by = 0; by < h; ++by) {
      std::fill(sum.begin(), sum.end(), 0.0);
      const int64_t y1 = std::min((by + 1) * k, height);
      for (int64_t y = by * k; y < y1; ++y) {
        const float* r = img + y * width;
        for (int64_t bx = 0; bx < w; ++bx) {
          float acc = 0.0f;
          const int64_t x1 = std::min((bx + 1) * k, width);
          for (int64_t x = bx * k; x < x1; ++x) acc += r[x];
          sum[bx] += acc;
        }
      }
      const int64_t ny = y1 - by * k;
      for (int64_t bx = 0; bx < w; ++bx) {
        const int64_t nx = std::min(k, width - bx * k);
        grid[by * w + bx] = static_cast<float>(sum[bx] / static_cast<double>(ny * nx));
      }
    }
  }
  // two [1, 2, 1]/4 passes, along y then x, edges kept; in place, with the unfiltered
  // row above (along y) or the row itself (along x) kept aside
  std::vector<float> above(static_cast<std::size_t>(w)), cur(static_cast<std::size_t>(w));
  for (int pass = 0; pass < 2; ++pass) {
    if (h > 2) {
      std::copy(grid.begin(), grid.begin() + w, above.begin());
      for (int64_t y = 1; y < h - 1; ++y) {
        float* g = grid.data() + y * w;
        const float* below = g + w;
        std::copy(g, g + w, cur.begin());
        const float* a = above.data();
        const float* c = cur.data();
        for (int64_t x = 0; x < w; ++x) g[x] = 0.25f * (a[x] + below[x]) + 0.5f * c[x];
        std::swap(above, cur);
      }
    }
    if (w > 2) {
      for (int64_t y = 0; y < h; ++y) {
        float* g = grid.data() + y * w;
        std::copy(g, g + w, cur.begin());
        const float* c = cur.data();
        for (int64_t x = 1; x < w - 1; ++x) g[x] = 0.25f * (c[x - 1] + c[x + 1]) + 0.5f * c[x];
      }
    }
  }
  if (k == 1) {
    // the enlargement by 1 is the grid itself
    for (int64_t i = 0; i < h * w; ++i) img[i] += gain * (img[i] - grid[i]);
    return;
  }
  const Grid g{grid.data(), h, w};
  const auto ty = taps(h, h * k), tx_all = taps(w, w * k);
  const std::vector<Tap> tx(tx_all.begin(), tx_all.begin() + width);
  std::vector<float> blend(static_cast<std::size_t>(w)), lo(static_cast<std::size_t>(width));
  for (int64_t y = 0; y < height; ++y) {
    enlarge_row(g, ty[static_cast<std::size_t>(y)], tx, blend.data(), lo.data());
    float* r = img + y * width;
    const float* l = lo.data();
    for (int64_t x = 0; x < width; ++x) r[x] += gain * (r[x] - l[x]);
  }
}

void normal_deviates(uint64_t seed, int64_t n, float* out) {
  Xoshiro rng(seed);
  fill_normal(rng, out, n);
}

}  // namespace phantom
}  // namespace boneage
