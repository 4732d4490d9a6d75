"""The attention-module kernels (C++ on the CPU, CUDA on the GPU).

Both ops take a 2-D NumPy array, PyTorch tensor (CPU or CUDA) or CuPy array and
return a float32 array of the same kind on the same device; CUDA work runs on the
caller's current stream.
"""

from boneage_fast.ops.hessian import hessian_enhance
from boneage_fast.ops.histogram import ReferenceHistogram, match_histograms

__all__ = ["ReferenceHistogram", "hessian_enhance", "match_histograms"]
