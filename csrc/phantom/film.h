// Phantom v2's film exposure and detector read-out (boneage_fast.data.film), fused so a
// 1024x1280 film is a few passes over memory instead of a dozen NumPy temporaries.
// Single-threaded on purpose: training sets are rendered by one worker process per core.
#pragma once

#include <cstdint>

namespace boneage {
namespace phantom {

// A row-major float32 grid.
struct Grid {
  const float* data;
  int64_t height;
  int64_t width;
};

struct ExposeParams {
  float mu_soft;   // 1/mm
  float mu_bone;   // 1/mm
  float tex_amp;   // relative modulation of the bone path by the texture
  float gain;      // exposure scale of the attenuation
  float bg;        // background level added to it
  float heel;      // heel-effect slope over the whole image (0: none)
  int heel_axis;   // 0: along the rows (y), 1: along the columns (x)
};

// Phantom v4's trabecular lines (boneage_fast.data.film.line_texture_field): up to
// kMaxLineFields smooth random fields, each a lattice of unit normal deviates (row-major
// float32, height x width >= 3 x 3) read at an affine map of the output pixel,
// u = m[0] x + m[1] y + m[2], v = m[3] x + m[4] y + m[5] (lattice coordinates: deviate
// (i, j) at u = i, v = j), through the uniform quadratic B-spline (3 x 3 taps, clamped
// to the lattice), divided by the square root of the sum of the squared weights (so
// the field has unit variance everywhere, not only at the nodes). Each line field is
// turned into lines at the output resolution, l_k = exp(-(f_k / line)^2); the line
// fields form `layers` equal groups (in order) and a group's lines are joined,
// L_g = 1 - prod_k (1 - l_k) (a network with junctions where two fields' lines cross:
// one field's zero crossings never meet); the layers are averaged (the projection of
// networks lying one over another), tex = mean_g(L_g) / mean - 1 (mean: L_g's mean, so
// tex averages ~0 and never falls under -1). With `smooth` > 0 the last field is no
// line field: the texture is that share a smooth log-normal density of mean 1 (slow
// changes of the bone's density over millimetres) and the rest the lines,
// 1 + tex = (1 - smooth) mean_g(L_g) / mean + smooth exp(spread f_last - spread^2 / 2),
// still averaging ~0 and never under -1 (the cancellous path never negative for
// tex_amp <= 1). One layer and no smooth field: tex = L / mean - 1 as before layers
// existed, the same floats.
constexpr int kMaxLineFields = 5;
constexpr float kMaxSpread = 4.0f;  // exp's argument stays far inside float's range

struct LineField {
  Grid lattice;
  float m[6];
};

struct TexLines {
  LineField field[kMaxLineFields];
  int fields;          // 1 .. kMaxLineFields: the line fields, then (with smooth > 0) the smooth one
  float line;          // the lines' half-width in units of f
  float mean;          // L_g's mean over a layer (> 0)
  int layers = 1;      // groups the line fields form (>= 1, dividing their number)
  float smooth = 0.0f; // the smooth field's share, [0, 1) (0: the last field is a line field)
  float spread = 0.0f; // its log-normal spread, [0, kMaxSpread]
};

// out[y, x] = ((1 - exp(-(soft*mu_soft + bone*(1 + tex_amp*tex)*mu_bone))) * gain + bg)
//             * (1 + heel * (t - 0.5)),  t = y/H or x/W,
// with `soft` and `tex` coarse grids scaled up to bone's size by bilinear interpolation
// (pixel centres aligned, edges clamped: the same as Pillow's BILINEAR resize when
// enlarging). `bone` and `out` are height x width; `out` may alias `bone`. With a
// `cancellous` path (height x width, or nullptr for none) the texture modulates only
// it, the compact bone in `bone` staying smooth: bone + cancellous*(1 + tex_amp*tex)
// in place of bone*(1 + tex_amp*tex). With `lines` (requires `cancellous`; nullptr:
// none) the texture is TexLines' above, evaluated only near where the cancellous path
// is non-zero, in place of `tex` enlarged (`tex` is then not read).
void expose(const float* bone, const float* cancellous, int64_t height, int64_t width, Grid soft, Grid tex,
            const ExposeParams& p, float* out, const TexLines* lines = nullptr);

// The detector: img += sd * sqrt(max(img, 0.01)) * N(0, 1) (quantum noise; the normal
// deviates come from a xoshiro256+ stream seeded with `seed`, read through a 4096-entry
// inverse-CDF table), then a [1, 2, 1]/4 blur along y and then x (edge rows and columns
// kept), then out = lut[(uint16)(clamp(img, 0, 1) * (lut_size - 1))], in one pass over
// the film (three noisy rows at a time). With `pre_blur` the film is first blurred by
// the same [1, 2, 1]/4 along y and then x (edge rows and columns kept) before the noise
// is added (a second pass of the blur over the film, one over the noise), three film
// rows at a time. With `coarse` > 0 a coarser grain that does not follow the signal is
// added with the noise: sd * coarse times N(0, 1) deviates on a grid of every second
// pixel (grid (i, j) at pixel (2 i, 2 j)) read bilinearly (an odd row or column halfway
// between two grid nodes), from the stream seeded with `seed ^ kCoarseSeed`, width / 2
// + 1 per grid row, drawn as whole rows as read_out's are (grid row 0 first, then row
// (y + 1) / 2 at odd rows y); through the blur a grain about twice as coarse as the
// quantum noise (a film read out, then processed and enlarged). `img` is left as it
// was; `out` is uint16 (bits 16) or uint8 (bits 8).
constexpr uint64_t kCoarseSeed = 0xC0A125E6A1Bull;
void read_out(const float* img, int64_t height, int64_t width, uint64_t seed, float sd, const void* lut,
              int64_t lut_size, int bits, void* out, bool pre_blur = false, float coarse = 0.0f);

// A shaped long bone of phantom v2/v3 (boneage_fast.data.film.draw_long_bone), in
// pixels: the bone runs from p0 along the unit axis (ux, uy) for `length` pixels.
struct LongBoneParams {
  float p0x, p0y;          // proximal end
  float ux, uy;            // unit axis towards the distal end
  float length;            // pixels
  float half_width;        // shaft half-width, pixels
  float flare0, flare1;    // relative widening at the base and at the head
  float base_round;        // end rounding, a fraction of the half-width
  float head_round;
  float medulla_gain;      // how much brighter the cancellous ends are than the marrow
  float marrow;            // the interior's density mid-shaft (the marrow canal; 0.22 in v2/v3)
  float end_plate;         // density of the dense end plates (0: none)
  float end_plate_width;   // their Gaussian width, pixels
  float mm_per_pixel;      // the path length is added in mm
  // how far along the bone the base's flare reaches: the widening falls off as
  // exp(-(u / base_span)^2) with u the fraction of the length from the base (the head's
  // as exp(-((1 - u) / 0.15)^2)); 0.15 in phantoms v1-v3, longer in v4's metacarpals
  float base_span = 0.15f;
  // the end plate at the base (p0) as a fraction of `end_plate` (the head's is `end_plate`
  // itself): v4 draws metacarpals 2-5, which have no growth plate at the base, with none (0)
  float base_plate = 1.0f;
  // how far along the bone the head's flare reaches (exp(-((1 - u) / head_span)^2)): 0.15
  // in phantoms v1-v3, shorter in v4's young radius and ulna, whose metaphyses flare like
  // a trumpet within a quarter of metacarpal 3's length of their ends
  float head_span = 0.15f;
};

// Adds the bone's path length (mm) through cortex and cancellous interior to `acc`
// (height x width, row-major) over the pixels its outline can reach; pixels outside the
// image are skipped. With `cancellous` (height x width; nullptr: none) the interior's
// path goes there and only the cortex's to `acc`. Returns the number of pixels evaluated.
int64_t long_bone(float* acc, float* cancellous, int64_t height, int64_t width, const LongBoneParams& p);

// A superellipse ossicle (epiphysis, carpal, sesamoid) of phantom v2/v3
// (boneage_fast.data.film.draw_ossicle), in pixels.
struct OssicleParams {
  float cx, cy;        // centre
  float a, b;          // semi-axes along the ossicle's own x and y
  float cos_t, sin_t;  // its rotation in the image
  float cap;           // 0: a disc; +-1: a cap whose -y (+) or +y (-) side wraps the metaphysis
  float taper;         // the width falls linearly to 1 - |taper| at the +y (+) or -y (-) end
  float exponent;      // superellipse exponent (2: an ellipse)
  float shell;         // inner outline over outer (1 - cortex)
  float interior;      // relative density of the cancellous interior
  float weight;        // density times depth (mm)
  float bend;          // the outline's midline curves to y' = bend x'^2 (a crescent or kidney)
  // the +y half's thickness times 1 + slope x' + hollow x'^2 (x' clamped to [-1, 1]): a
  // wedge rising to one side (a styloid) over a concave articular surface; the -y half
  // (the physis side) keeps its outline. |slope| < 1, 0 <= hollow <= 1.
  float slope;
  float hollow;
  // the taper taken from one side: the own x maps to (x' - lean w) / (1 - w), w the
  // taper's narrowing at that height; +1 keeps the +x side straight, -1 the -x side, 0
  // narrows both alike. |lean| <= 1.
  float lean;
};

// Adds the ossicle's path length to `acc` (with `cancellous`, height x width or nullptr,
// the interior's path there and the shell's to `acc`), evaluating each row of its
// bounding square only where the ossicle's own bounding rectangle crosses it (an
// epiphysis is far longer than it is thick); returns the pixels evaluated.
int64_t ossicle(float* acc, float* cancellous, int64_t height, int64_t width, const OssicleParams& p);

// A processed film's edge enhancement, in place: img += gain * (img - lo), with lo a
// smooth local mean of img: the means of k x k blocks (the last block of a row or column
// of blocks takes what is left, possibly fewer pixels), two [1, 2, 1]/4 passes along y
// then x over that grid (edge rows and columns kept), and a bilinear enlargement by k
// (pixel centres aligned, edges clamped: the grid as if its blocks were whole). About a
// Gaussian blur of sigma 1.15 k pixels. `img` is height x width, row-major; k >= 1.
void unsharp(float* img, int64_t height, int64_t width, int64_t k, float gain);

// The normal deviates read_out uses, for tests: n values from `seed`.
void normal_deviates(uint64_t seed, int64_t n, float* out);

}  // namespace phantom
}  // namespace boneage
