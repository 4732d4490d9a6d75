// boneage_fast._C: the private compiled module. The public API lives in Python.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "boneage/errors.h"
#include "boneage/ops.h"
#include "io/png_unfilter.h"
#include "ops/cpu/parallel.h"

namespace py = pybind11;

namespace boneage {
namespace bindings {
void register_ops(py::module_& m);
void register_phantom(py::module_& m);
}
}  // namespace boneage

#ifndef BONEAGE_VERSION
#define BONEAGE_VERSION "unknown"
#endif

PYBIND11_MODULE(_C, m) {
  m.doc() = "boneage_fast compiled kernels (private; use boneage_fast.ops)";

  py::register_exception<boneage::CudaError>(m, "CudaError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const boneage::TypeError& e) {
      py::set_error(PyExc_TypeError, e.what());
    }
  });

  m.def("build_info", []() {
    py::dict d;
    d["version"] = BONEAGE_VERSION;
    d["cuda"] = boneage::cuda_compiled();
#ifdef BONEAGE_WITH_CUDA
    d["cuda_version"] = BONEAGE_CUDA_VERSION;
    d["cuda_architectures"] = BONEAGE_CUDA_ARCHS;
#else
    d["cuda_version"] = py::none();
    d["cuda_architectures"] = py::none();
#endif
#if defined(__VERSION__)
    d["compiler"] = __VERSION__;
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    d["cpu_kernels"] = "x86-64-v4 (AVX-512), x86-64-v3 (AVX2+FMA), x86-64 baseline; chosen at load time";
#else
    d["cpu_kernels"] = "generic";
#endif
    d["threads"] = boneage::cpu::num_threads();
    return d;
  });
  m.def("cuda_device_count", &boneage::cuda_device_count,
        "Number of visible CUDA devices; 0 when not compiled or none usable. Never raises.");
  m.def("get_num_threads", &boneage::cpu::num_threads);
  m.def("set_num_threads", &boneage::cpu::set_num_threads, py::arg("n"));
  m.def("pool_threads", &boneage::cpu::pool_threads,
        "Helper threads the CPU kernels' pool has started in this process.");
  m.def("scratch_bytes", &boneage::cpu::scratch_bytes, "Bytes held by idle CPU scratch buffers.");
  m.def("release_scratch", &boneage::cpu::release_scratch, py::call_guard<py::gil_scoped_release>(),
        "Frees the idle CPU scratch buffers; returns the bytes freed.");

  m.def(
      "png_unfilter",
      [](py::buffer raw, int64_t height, int64_t width, int bit_depth, bool swap16) {
        const py::buffer_info info = raw.request();
        if (info.itemsize != 1 || info.ndim != 1 || (info.ndim == 1 && info.strides[0] != 1))
          throw boneage::ValueError("png_unfilter: raw must be contiguous bytes");
        if (bit_depth != 8 && bit_depth != 16) throw boneage::ValueError("png_unfilter: bit depth must be 8 or 16");
        if (height <= 0 || width <= 0) throw boneage::ValueError("png_unfilter: bad size");
        const int bpp = bit_depth / 8;
        py::array out = bpp == 2 ? py::array(py::dtype::of<uint16_t>(), {height, width})
                                 : py::array(py::dtype::of<uint8_t>(), {height, width});
        auto* dst = static_cast<uint8_t*>(out.mutable_data());
        const auto* src = static_cast<const uint8_t*>(info.ptr);
        const auto size = static_cast<std::size_t>(info.size);
        {
          py::gil_scoped_release release;
          boneage::io::png_unfilter(src, size, height, width * bpp, bpp, swap16 && bpp == 2, dst);
        }
        return out;
      },
      py::arg("raw"), py::arg("height"), py::arg("width"), py::arg("bit_depth"), py::arg("swap16"),
      "Reverses the row filters of a non-interlaced greyscale PNG's inflated data.");

  boneage::bindings::register_ops(m);
  boneage::bindings::register_phantom(m);
}
