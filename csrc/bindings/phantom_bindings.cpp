// Bindings of the phantom film kernels (boneage_fast.data.film calls them).
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
         float gain, float bg, float heel, int heel_axis, const py::object& cancellous, const py::object& tex_map,
         float tex_line, float tex_mean) {
        float* b = writable(bone, "bone");
        const float* c = optional_like(cancellous, bone, "cancellous");
        const bool with_lines = !tex_map.is_none();
        const phantom::Grid s = grid(soft, "soft");
        phantom::Grid t{};
        int fields = 1;
        if (with_lines) {
          // the line texture's fields, (h, w) or (h, w, 1 or 2) interleaved
          BONEAGE_CHECK_VALUE(tex.ndim() == 2 || (tex.ndim() == 3 && (tex.shape(2) == 1 || tex.shape(2) == 2)),
                              "tex: with tex_map must be (h, w) or (h, w, 1 or 2) float32, got ", tex.ndim(), "-D");
          BONEAGE_CHECK_VALUE(tex.size() > 0, "tex: empty grid");
          fields = tex.ndim() == 3 ? static_cast<int>(tex.shape(2)) : 1;
          t = phantom::Grid{tex.data(), tex.shape(0), tex.shape(1) * fields};
        } else {
          t = grid(tex, "tex");
        }
        BONEAGE_CHECK_VALUE(heel_axis == 0 || heel_axis == 1, "heel_axis must be 0 or 1, got ", heel_axis);
        const phantom::ExposeParams p{mu_soft, mu_bone, tex_amp, gain, bg, heel, heel_axis};
        phantom::TexLines lines{};
        if (with_lines) {
          lines.fields = fields;
          BONEAGE_CHECK_TYPE(py::isinstance<py::sequence>(tex_map) && !py::isinstance<py::str>(tex_map) &&
                                 !py::isinstance<py::bytes>(tex_map),
                             "tex_map: must be a sequence of 6 numbers or None");
          const auto m = tex_map.cast<py::sequence>();
          BONEAGE_CHECK_VALUE(m.size() == 6, "tex_map: must hold 6 numbers, got ", m.size());
          BONEAGE_CHECK_VALUE(c != nullptr, "tex_map: the line texture needs a cancellous array");
          for (std::size_t i = 0; i < 6; ++i) {
            bool number = true;
            try {
              lines.m[i] = m[i].cast<float>();
            } catch (const py::cast_error&) {
              number = false;
            }
            BONEAGE_CHECK_TYPE(number, "tex_map: item ", i, " is not a number");
          }
          lines.line = tex_line;
          lines.mean = tex_mean;
        }
        py::gil_scoped_release release;
        phantom::expose(b, c, bone.shape(0), bone.shape(1), s, t, p, b, with_lines ? &lines : nullptr);
      },
      py::arg("bone"), py::arg("soft"), py::arg("tex"), py::arg("mu_soft"), py::arg("mu_bone"),
      py::arg("tex_amp"), py::arg("gain"), py::arg("bg"), py::arg("heel"), py::arg("heel_axis"),
      py::arg("cancellous") = py::none(), py::arg("tex_map") = py::none(), py::arg("tex_line") = 0.0f,
      py::arg("tex_mean") = 1.0f,
      "Exposes a film in place over `bone`; with `cancellous` the texture modulates only that path; with "
      "`tex_map` (6 numbers: the affine map from output pixel to texture grid) the texture is trabecular "
      "lines of the field(s) `tex` ((h, w) or (h, w, 2)) sampled there (see csrc/phantom/film.h).");

  m.def(
      "film_read_out",
      [](const py::array& img, uint64_t seed, float sd, py::array lut) {
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
          phantom::read_out(im, H, W, seed, sd, l, n, u16 ? 16 : 8, o);
        }
        return out;
      },
      py::arg("img"), py::arg("seed"), py::arg("sd"), py::arg("lut"),
      "Detector noise, blur and display look-up, into a new array; `img` is left as it was (see "
      "csrc/phantom/film.h).");

  m.def(
      "film_long_bone",
      [](py::array acc, float p0x, float p0y, float ux, float uy, float length, float half_width, float flare0,
         float flare1, float base_round, float head_round, float medulla_gain, float end_plate,
         float end_plate_width, float mm_per_pixel, float marrow, const py::object& cancellous) {
        float* a = writable(acc, "acc");
        float* c = optional_like(cancellous, acc, "cancellous");
        const phantom::LongBoneParams p{p0x,        p0y,        ux,           uy,        length,
                                        half_width, flare0,     flare1,       base_round, head_round,
                                        medulla_gain, marrow,  end_plate,    end_plate_width, mm_per_pixel};
        const int64_t H = acc.shape(0), W = acc.shape(1);
        py::gil_scoped_release release;
        return phantom::long_bone(a, c, H, W, p);
      },
      py::arg("acc"), py::arg("p0x"), py::arg("p0y"), py::arg("ux"), py::arg("uy"), py::arg("length"),
      py::arg("half_width"), py::arg("flare0"), py::arg("flare1"), py::arg("base_round"), py::arg("head_round"),
      py::arg("medulla_gain"), py::arg("end_plate"), py::arg("end_plate_width"), py::arg("mm_per_pixel"),
      py::arg("marrow") = 0.22f, py::arg("cancellous") = py::none(),
      "Adds a shaped long bone's path length (mm) to `acc` in place (with `cancellous`, the interior's "
      "there); returns the pixels evaluated (see csrc/phantom/film.h).");

  m.def(
      "film_ossicle",
      [](py::array acc, float cx, float cy, float a, float b, float cos_t, float sin_t, float cap, float taper,
         float exponent, float shell, float interior, float weight, float bend, float slope, float hollow,
         const py::object& cancellous) {
        float* out = writable(acc, "acc");
        float* c = optional_like(cancellous, acc, "cancellous");
        const phantom::OssicleParams p{cx,    cy,       a,     b,        cos_t,  sin_t, cap,   taper,
                                       exponent, shell, interior, weight, bend, slope, hollow};
        const int64_t H = acc.shape(0), W = acc.shape(1);
        py::gil_scoped_release release;
        return phantom::ossicle(out, c, H, W, p);
      },
      py::arg("acc"), py::arg("cx"), py::arg("cy"), py::arg("a"), py::arg("b"), py::arg("cos_t"), py::arg("sin_t"),
      py::arg("cap"), py::arg("taper"), py::arg("exponent"), py::arg("shell"), py::arg("interior"), py::arg("weight"),
      py::arg("bend") = 0.0f, py::arg("slope") = 0.0f, py::arg("hollow") = 0.0f, py::arg("cancellous") = py::none(),
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
