"""The two ops registered with PyTorch's dispatcher (``torch.ops.boneage_fast.*``), with
fake (meta) kernels, so they trace under ``torch.compile`` and run inside a captured
CUDA graph: outputs and CUDA scratch come from PyTorch's caching allocator, the
kernels run on the current stream, and nothing synchronises with the host (the
NaN/Inf check is left out on CUDA; check inputs before capture if they may hold any).

    import boneage_fast.ops.torch_ops  # registers the ops
    fine = torch.ops.boneage_fast.hessian_enhance(coarse, [1.0, 2.0, 3.0], 0.5, c, False)
    coarse = torch.ops.boneage_fast.match_histograms(crops, ref_values, ref_quantiles)

Both take a 2-D image or an (N, H, W) batch (uint8, uint16 or float32) and return
float32 of the same shape on the same device. ``c <= 0`` selects the automatic c.
``ref_values`` / ``ref_quantiles`` are float64 tensors on the image's device, e.g.
from :func:`reference_tensors`. Importing this module imports PyTorch.
"""

from __future__ import annotations

import numpy as np
import torch

from boneage_fast._arrays import wrap
from boneage_fast.ops.hessian import hessian_enhance as _hessian_enhance
from boneage_fast.ops.histogram import ReferenceHistogram, _match_with_arrays

__all__ = ["hessian_enhance", "match_histograms", "reference_tensors"]


@torch.library.custom_op("boneage_fast::hessian_enhance", mutates_args=())
def hessian_enhance(image: torch.Tensor, sigmas: list[float], beta: float, c: float,
                    black_ridges: bool) -> torch.Tensor:
    """Dispatcher op of :func:`boneage_fast.ops.hessian_enhance`."""
    return _hessian_enhance(image, sigmas, beta=beta, c=c if c > 0 else None, black_ridges=black_ridges,
                            check_finite=image.device.type == "cpu")


@hessian_enhance.register_fake
def _(image, sigmas, beta, c, black_ridges):
    torch._check(image.dim() in (2, 3), lambda: f"image must be 2-D or 3-D, got {image.dim()}-D")
    return image.new_empty(image.shape, dtype=torch.float32)


@torch.library.custom_op("boneage_fast::match_histograms", mutates_args=())
def match_histograms(image: torch.Tensor, ref_values: torch.Tensor, ref_quantiles: torch.Tensor) -> torch.Tensor:
    """Dispatcher op of :func:`boneage_fast.ops.match_histograms`."""
    if ref_values.dtype != torch.float64 or ref_quantiles.dtype != torch.float64:
        raise TypeError("ref_values and ref_quantiles must be float64 tensors (see reference_tensors)")
    if ref_values.shape != ref_quantiles.shape or ref_values.dim() != 1 or ref_values.numel() == 0:
        raise ValueError(f"ref_values and ref_quantiles must be non-empty 1-D tensors of one length, got "
                         f"{tuple(ref_values.shape)} and {tuple(ref_quantiles.shape)}")
    if ref_values.device != image.device or ref_quantiles.device != image.device:
        raise ValueError(f"the reference must be on the image's device ({image.device}), got {ref_values.device}")
    img = wrap(image, "image", ndim=(2, 3))
    return _match_with_arrays(img, ref_values.contiguous(), ref_quantiles.contiguous(), ref_values.numel(),
                              check_finite=image.device.type == "cpu")


@match_histograms.register_fake
def _(image, ref_values, ref_quantiles):
    torch._check(image.dim() in (2, 3), lambda: f"image must be 2-D or 3-D, got {image.dim()}-D")
    return image.new_empty(image.shape, dtype=torch.float32)


def reference_tensors(reference: ReferenceHistogram, device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """A validated reference histogram as the (values, quantiles) float64 tensors the
    ``match_histograms`` op takes, on ``device``."""
    return (torch.tensor(np.array(reference.values), dtype=torch.float64, device=device),
            torch.tensor(np.array(reference.quantiles), dtype=torch.float64, device=device))
