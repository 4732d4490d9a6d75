// Bindings of the phantom film kernels (boneage_fast.data.film calls them).
#include <cmath>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "boneage/errors.h"
#include "phantom/film.h"

namespace py = pybind11;

namespace boneage {
namespace bindings {
namespace {

using F32 = py::array_t<float, py::array::c_style>;

phantom::Grid grid(const F32& a, const char* name) {
  BONEAGE_CHECK_VALUE(a.ndim() == 2, name, ": must be 2-D float32, got ", a.ndim(), "-D");
  return phantom::Grid{a.data(), a.shape(0), a.shape(1)};
}

// A 2-D float32 C-contiguous array that the kernel reads (no silent copy).
const float* readable(const py::array& a, const char* name) {
  BONEAGE_CHECK_TYPE(a.dtype().is(py::dtype::of<float>()), name, ": must be float32");
  BONEAGE_CHECK_VALUE(a.ndim() == 2, name, ": must be 2-D, got ", a.ndim(), "-D");
  BONEAGE_CHECK_VALUE(a.flags() & py::array::c_style, name, ": must be C-contiguous");
  return static_cast<const float*>(a.data());
}

// ... that the kernel may write.
float* writable(py::array& a, const char* name) {
  readable(a, name);
  BONEAGE_CHECK_VALUE(a.writeable(), name, ": must be writable");
  return static_cast<float*>(a.mutable_data());
}

// An optional array of the same shape as `like` that the kernel writes (None: nullptr).
float* optional_like(const py::object& o, const py::array& like, const char* name) {
  if (o.is_none()) return nullptr;
  BONEAGE_CHECK_TYPE(py::isinstance<py::array>(o), name, ": must be a float32 array or None");
  py::array a = py::reinterpret_borrow<py::array>(o);
  float* p = writable(a, name);
  BONEAGE_CHECK_VALUE(a.shape(0) == like.shape(0) && a.shape(1) == like.shape(1), name, ": must have the shape ",
                      like.shape(0), "x", like.shape(1), ", got ", a.shape(0), "x", a.shape(1));
  return p;
}

}  // namespace

void register_phantom(py::module_& m) {
  m.def(
      "film_expose",
      [](py::array bone, const F32& soft, const F32& tex, float mu_soft, float mu_bone, float tex_amp,
         float gain, float bg, float heel, int heel_axis, const py::object& cancellous, const py::object& lines,
         float tex_line, float tex_mean, int tex_layers, float tex_smooth, float tex_spread) {
        float* b = writable(bone, "bone");
        const float* c = optional_like(cancellous, bone, "cancellous");
        const phantom::Grid s = grid(soft, "soft"), t = grid(tex, "tex");
        BONEAGE_CHECK_VALUE(heel_axis == 0 || heel_axis == 1, "heel_axis must be 0 or 1, got ", heel_axis);
        const phantom::ExposeParams p{mu_soft, mu_bone, tex_amp, gain, bg, heel, heel_axis};
        phantom::TexLines tl{};
        std::vector<py::array> keep;  // the lattices, alive until the kernel returns
        if (!lines.is_none()) {
          BONEAGE_CHECK_TYPE(py::isinstance<py::sequence>(lines) && !py::isinstance<py::str>(lines),
                             "lines: must be a sequence of (lattice, map) pairs or None");
          const auto seq = lines.cast<py::sequence>();
          BONEAGE_CHECK_VALUE(seq.size() >= 1 && seq.size() <= static_cast<std::size_t>(phantom::kMaxLineFields),
                              "lines: must hold 1 to ", phantom::kMaxLineFields, " fields, got ", seq.size());
          BONEAGE_CHECK_VALUE(tex_smooth >= 0.0f && tex_smooth < 1.0f, "tex_smooth: must be in [0, 1), got ",
                              tex_smooth);
          BONEAGE_CHECK_VALUE(tex_spread >= 0.0f && tex_spread <= phantom::kMaxSpread, "tex_spread: must be in [0, ",
                              phantom::kMaxSpread, "], got ", tex_spread);
          const std::size_t line_fields = seq.size() - (tex_smooth > 0.0f ? 1 : 0);
          BONEAGE_CHECK_VALUE(tex_layers >= 1 && line_fields >= static_cast<std::size_t>(tex_layers) &&
                                  line_fields % static_cast<std::size_t>(tex_layers) == 0,
                              "tex_layers: ", line_fields, " line fields (", seq.size(), " in lines",
                              tex_smooth > 0.0f ? ", the last one smooth" : "", ") do not form ", tex_layers,
                              " equal layers");
          BONEAGE_CHECK_VALUE(c != nullptr, "lines: the line texture needs a cancellous array");
          tl.fields = static_cast<int>(seq.size());
          for (std::size_t k = 0; k < seq.size(); ++k) {
            const py::object item = seq[k];
            BONEAGE_CHECK_TYPE(py::isinstance<py::sequence>(item) && !py::isinstance<py::str>(item) &&
                                   py::len(item) == 2,
                               "lines[", k, "]: must be a (lattice, map) pair");
            const auto pair = item.cast<py::sequence>();
            BONEAGE_CHECK_TYPE(py::isinstance<py::array>(pair[0]), "lines[", k, "]: the lattice must be a float32 array");
            py::array lattice = pair[0].cast<py::array>();
            const float* data = readable(lattice, "lines lattice");
            BONEAGE_CHECK_VALUE(lattice.shape(0) >= 3 && lattice.shape(1) >= 3, "lines[", k,
                                "]: the lattice must be at least 3 x 3, got ", lattice.shape(0), "x", lattice.shape(1));
            tl.field[k].lattice = phantom::Grid{data, lattice.shape(0), lattice.shape(1)};
            keep.push_back(lattice);
            const py::object map = pair[1];
            BONEAGE_CHECK_TYPE(py::isinstance<py::sequence>(map) && !py::isinstance<py::str>(map),
                               "lines[", k, "]: the map must be a sequence of 6 numbers");
            const auto m = map.cast<py::sequence>();
            BONEAGE_CHECK_VALUE(m.size() == 6, "lines[", k, "]: the map must hold 6 numbers, got ", m.size());
            for (std::size_t i = 0; i < 6; ++i) {
              bool number = true;
              try {
                tl.field[k].m[i] = m[i].cast<float>();
              } catch (const py::cast_error&) {
                number = false;
              }
              BONEAGE_CHECK_TYPE(number, "lines[", k, "]: map item ", i, " is not a number");
            }
          }
          tl.line = tex_line;
          tl.mean = tex_mean;
          tl.layers = tex_layers;
          tl.smooth = tex_smooth;
          tl.spread = tex_spread;
        }
        py::gil_scoped_release release;
        phantom::expose(b, c, bone.shape(0), bone.shape(1), s, t, p, b, lines.is_none() ? nullptr : &tl);
      },
      py::arg("bone"), py::arg("soft"), py::arg("tex"), py::arg("mu_soft"), py::arg("mu_bone"),
      py::arg("tex_amp"), py::arg("gain"), py::arg("bg"), py::arg("heel"), py::arg("heel_axis"),
      py::arg("cancellous") = py::none(), py::arg("lines") = py::none(), py::arg("tex_line") = 0.0f,
      py::arg("tex_mean") = 1.0f, py::arg("tex_layers") = 1, py::arg("tex_smooth") = 0.0f,
      py::arg("tex_spread") = 0.0f,
      "Exposes a film in place over `bone`; with `cancellous` the texture modulates only that path; with "
      "`lines` (1 to 5 (lattice, map) pairs: a lattice of normal deviates and the affine map from output pixel "
      "to it) the texture is trabecular lines of those fields, joined in `tex_layers` equal groups and the "
      "groups averaged, with `tex_smooth` > 0 the last field that share of the texture as a log-normal density "
      "of spread `tex_spread`, and `tex` is not read "
      "(see csrc/phantom/film.h).");

  m.def(
      "film_read_out",
      [](const py::array& img, uint64_t seed, float sd, py::array lut, bool pre_blur, float coarse) {
        const float* im = readable(img, "img");
        const bool u16 = lut.dtype().is(py::dtype::of<uint16_t>());
        BONEAGE_CHECK_TYPE(u16 || lut.dtype().is(py::dtype::of<uint8_t>()), "lut: must be uint8 or uint16");
        BONEAGE_CHECK_VALUE(lut.ndim() == 1 && (lut.flags() & py::array::c_style), "lut: must be 1-D contiguous");
        const int64_t H = img.shape(0), W = img.shape(1);
        py::array out = u16 ? py::array(py::dtype::of<uint16_t>(), {H, W}) : py::array(py::dtype::of<uint8_t>(), {H, W});
        void* o = out.mutable_data();
        const void* l = lut.data();
        const int64_t n = lut.shape(0);
        {
          py::gil_scoped_release release;
          phantom::read_out(im, H, W, seed, sd, l, n, u16 ? 16 : 8, o, pre_blur, coarse);
        }
        return out;
      },
      py::arg("img"), py::arg("seed"), py::arg("sd"), py::arg("lut"), py::arg("pre_blur") = false,
      py::arg("coarse") = 0.0f,
      "Detector noise, blur and display look-up, into a new array (with `pre_blur` the film blurred once "
      "more first; with `coarse` a coarser grain, sd * coarse times deviates read bilinearly off a grid of every "
      "second pixel, drawn from `seed ^ FILM_COARSE_SEED`); `img` is left as it was (see csrc/phantom/film.h).");
  m.attr("FILM_COARSE_SEED") = py::int_(phantom::kCoarseSeed);

  m.def(
      "film_long_bone",
      [](py::array acc, float p0x, float p0y, float ux, float uy, float length, float half_width, float flare0,
         float flare1, float base_round, float head_round, float medulla_gain, float end_plate,
         float end_plate_width, float mm_per_pixel, float marrow, const py::object& cancellous, float base_span,
         float base_plate, float head_span) {
        float* a = writable(acc, "acc");
        float* c = optional_like(cancellous, acc, "cancellous");
        const phantom::LongBoneParams p{p0x,        p0y,        ux,           uy,        length,
                                        half_width, flare0,     flare1,       base_round, head_round,
                                        medulla_gain, marrow,  end_plate,    end_plate_width, mm_per_pixel,
                                        base_span,  base_plate, head_span};
        const int64_t H = acc.shape(0), W = acc.shape(1);
        py::gil_scoped_release release;
        return phantom::long_bone(a, c, H, W, p);
      },
      py::arg("acc"), py::arg("p0x"), py::arg("p0y"), py::arg("ux"), py::arg("uy"), py::arg("length"),
      py::arg("half_width"), py::arg("flare0"), py::arg("flare1"), py::arg("base_round"), py::arg("head_round"),
      py::arg("medulla_gain"), py::arg("end_plate"), py::arg("end_plate_width"), py::arg("mm_per_pixel"),
      py::arg("marrow") = 0.22f, py::arg("cancellous") = py::none(), py::arg("base_span") = 0.15f,
      py::arg("base_plate") = 1.0f, py::arg("head_span") = 0.15f,
      "Adds a shaped long bone's path length (mm) to `acc` in place (with `cancellous`, the interior's "
      "there); returns the pixels evaluated (see csrc/phantom/film.h).");

  m.def(
      "film_ossicle",
      [](py::array acc, float cx, float cy, float a, float b, float cos_t, float sin_t, float cap, float taper,
         float exponent, float shell, float interior, float weight, float bend, float slope, float hollow,
         float lean, const py::object& cancellous) {
        float* out = writable(acc, "acc");
        float* c = optional_like(cancellous, acc, "cancellous");
        const phantom::OssicleParams p{cx,    cy,       a,     b,        cos_t,  sin_t, cap,   taper,
                                       exponent, shell, interior, weight, bend, slope, hollow, lean};
        const int64_t H = acc.shape(0), W = acc.shape(1);
        py::gil_scoped_release release;
        return phantom::ossicle(out, c, H, W, p);
      },
      py::arg("acc"), py::arg("cx"), py::arg("cy"), py::arg("a"), py::arg("b"), py::arg("cos_t"), py::arg("sin_t"),
      py::arg("cap"), py::arg("taper"), py::arg("exponent"), py::arg("shell"), py::arg("interior"), py::arg("weight"),
      py::arg("bend") = 0.0f, py::arg("slope") = 0.0f, py::arg("hollow") = 0.0f, py::arg("lean") = 0.0f,
      py::arg("cancellous") = py::none(),
      "Adds a superellipse ossicle's path length to `acc` in place (with `cancellous`, the interior's "
      "there); returns the pixels evaluated (see csrc/phantom/film.h).");

  m.def(
      "film_unsharp",
      [](py::array img, int64_t k, float gain) {
        float* im = writable(img, "img");
        const int64_t H = img.shape(0), W = img.shape(1);
        py::gil_scoped_release release;
        phantom::unsharp(im, H, W, k, gain);
      },
      py::arg("img"), py::arg("k"), py::arg("gain"),
      "Edge enhancement in place over `img`: img += gain * (img - a k-block local mean) (see csrc/phantom/film.h).");

  m.def(
      "film_normal_deviates",
      [](uint64_t seed, int64_t n) {
        BONEAGE_CHECK_VALUE(n >= 0, "n must be >= 0");
        py::array_t<float> out(n);
        float* o = out.mutable_data();
        py::gil_scoped_release release;
        phantom::normal_deviates(seed, n, o);
        return out;
      },
      py::arg("seed"), py::arg("n"), "The normal deviates film_read_out draws from `seed`.");
}

}  // namespace bindings
}  // namespace boneage
