// Thin bindings of the ops: convert descriptors under the GIL, release it, call C++.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <vector>

#include "bindings/adapters.h"
#include "boneage/ops.h"

namespace py = pybind11;

namespace boneage {
namespace bindings {

void register_ops(py::module_& m) {
  m.def(
      "hessian_enhance",
      [](const ImageDesc& src, const ImageDesc& dst, const BufferDesc& workspace,
         std::vector<double> sigmas, double beta, double c, bool bright, bool check_finite,
         std::uintptr_t stream) {
        const ImageView in = to_view(src, "image");
        const ImageView out = to_view(dst, "out");
        HessianParams p;
        p.sigmas = std::move(sigmas);
        p.beta = beta;
        p.c = c;
        p.bright = bright;
        p.check_finite = check_finite;
        const Workspace ws = to_workspace(workspace);
        py::gil_scoped_release release;
        hessian_enhance(in, out, p, ws, StreamHandle{stream});
      },
      py::arg("src"), py::arg("dst"), py::arg("workspace"), py::arg("sigmas"), py::arg("beta"),
      py::arg("c"), py::arg("bright"), py::arg("check_finite"), py::arg("stream"));

  m.def(
      "hessian_workspace_bytes",
      [](int64_t n, int64_t h, int64_t w, int n_scales, bool auto_c, int device) {
        return hessian_workspace_bytes(n, h, w, n_scales, auto_c, static_cast<Device>(device));
      },
      py::arg("batch"), py::arg("height"), py::arg("width"), py::arg("n_scales"), py::arg("auto_c"),
      py::arg("device"));

  m.def(
      "match_histograms",
      [](const ImageDesc& src, const ImageDesc& dst, std::uintptr_t ref_values,
         std::uintptr_t ref_quantiles, int64_t ref_size, int ref_device, int ref_device_id,
         bool check_finite, const BufferDesc& workspace, std::uintptr_t stream) {
        const ImageView in = to_view(src, "image");
        const ImageView out = to_view(dst, "out");
        ReferenceView ref;
        ref.values = reinterpret_cast<const double*>(ref_values);
        ref.quantiles = reinterpret_cast<const double*>(ref_quantiles);
        ref.size = ref_size;
        ref.device = static_cast<Device>(ref_device);
        ref.device_id = ref_device_id;
        const Workspace ws = to_workspace(workspace);
        py::gil_scoped_release release;
        match_histograms(in, out, ref, check_finite, ws, StreamHandle{stream});
      },
      py::arg("src"), py::arg("dst"), py::arg("ref_values"), py::arg("ref_quantiles"),
      py::arg("ref_size"), py::arg("ref_device"), py::arg("ref_device_id"), py::arg("check_finite"),
      py::arg("workspace"), py::arg("stream"));

  m.def(
      "integer_histogram",
      [](const ImageDesc& src) {
        const ImageView in = to_view(src, "reference");
        const py::ssize_t bins = in.dtype == DType::kUInt8 ? 256 : 65536;
        py::array_t<uint64_t> counts(bins);
        uint64_t* out = counts.mutable_data();
        {
          py::gil_scoped_release release;
          integer_histogram(in, out);
        }
        return counts;
      },
      py::arg("src"));

  m.def(
      "match_workspace_bytes",
      [](int64_t batch, int dtype, int device) {
        return match_workspace_bytes(batch, static_cast<DType>(dtype), static_cast<Device>(device));
      },
      py::arg("batch"), py::arg("dtype"), py::arg("device"));
}

}  // namespace bindings
}  // namespace boneage
