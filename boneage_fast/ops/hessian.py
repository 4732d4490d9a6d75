"""Multiscale Hessian (Frangi 1998) enhancement: the paper's fine attention map."""

from __future__ import annotations

import numbers
from typing import Any, Iterable

from boneage_fast import _C
from boneage_fast._arrays import wrap

__all__ = ["hessian_enhance"]


def _sigmas_list(sigmas: float | Iterable[float]) -> list[float]:
    if isinstance(sigmas, numbers.Real) and not isinstance(sigmas, bool):
        return [float(sigmas)]
    if isinstance(sigmas, (str, bytes)):
        raise TypeError(f"sigmas must be a number or a sequence of numbers, got {type(sigmas).__name__}")
    try:
        items = list(sigmas)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"sigmas must be a number or a sequence of numbers, got {type(sigmas).__name__}") from None
    out = []
    for s in items:
        if isinstance(s, bool) or not isinstance(s, numbers.Real):
            raise TypeError(f"sigmas must hold numbers, got {s!r}")
        out.append(float(s))
    return out


def _real(x: Any, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(x).__name__}")
    return float(x)


def hessian_enhance(
    image: Any,
    sigmas: float | Iterable[float] = (1, 2, 3),
    *,
    beta: float = 0.5,
    c: float | None = None,
    black_ridges: bool = False,
    check_finite: bool = True,
) -> Any:
    """Multiscale Hessian vesselness (Frangi et al. 1998) that enhances bone borders.

    For each scale sigma the Hessian is computed with separable Gaussian derivatives
    and **sigma^2-normalised**; its eigenvalues ``|l1| <= |l2|`` give
    ``Rb = |l1| / |l2|`` and ``S^2 = l1^2 + l2^2``, and the response is::

        V = exp(-Rb^2 / (2 beta^2)) * (1 - exp(-S^2 / (2 c^2)))   if l2 < 0 (bright ridges)
        V = 0                                                     otherwise

    The result is the pixel-wise maximum of V over the scales. It does not depend on
    the order (or repetition) of ``sigmas``.

    The derivative filters are the discrete composition of two sampled Gaussian
    (derivative) kernels of ``sigma / sqrt(2)`` each, truncated at ``ceil(5 sigma)``
    pixels, with half-sample symmetric ("reflect") borders -- the operator of
    ``skimage.feature.hessian_matrix(..., use_gaussian_derivatives=True)``. The
    second-derivative taps are adjusted to sum to exactly zero, so a flat image gives
    exactly 0 in float32.

    Args:
        image: 2-D uint8/uint16/float32 NumPy array, torch tensor (CPU/CUDA) or CuPy
            array, or an (N, H, W) batch of them (each image filtered on its own, with
            its own automatic c; on CUDA in one set of launches). Integer images are
            filtered in float32 in their own grey units.
        sigmas: one scale or a sequence of scales in pixels, each in (0, 50], at most 16.
        beta: Frangi's blobness sensitivity (> 0).
        c: Frangi's structureness sensitivity (> 0), in units of the normalised
            Hessian. ``None`` (default) selects Frangi's automatic choice: half the
            largest Hessian norm over all pixels **and all scales**, which keeps the
            scales comparable and the result independent of their order.
        black_ridges: enhance dark ridges (``l2 > 0``) instead of bright ones.
        check_finite: refuse NaN/Inf in float images. On CUDA this costs one stream
            synchronisation; ``False`` keeps the call fully asynchronous and leaves the
            output undefined for non-finite input.

    Returns:
        float32 array of ``image``'s shape, kind and device, C-contiguous, values in
        [0, 1]. A flat image gives exactly 0.

    Raises:
        TypeError: unsupported array type or dtype, or non-numeric parameters.
        ValueError: not 2-D, empty, over 32768 px per side, NaN/Inf, no sigmas, a sigma <= 0, > 50 or
            non-finite, or a non-positive/non-finite beta or c.
        CudaError: a CUDA failure.

    Memory: with the automatic c, the CPU path keeps two float32 planes per scale
    (8 bytes x pixels x scales); on CUDA the workspace also holds three row-pass planes.
    """
    img = wrap(image, "image", ndim=(2, 3))
    sig = _sigmas_list(sigmas)
    beta_f = _real(beta, "beta")
    if c is None:
        c_f = 0.0
    else:
        c_f = _real(c, "c")
        if not c_f > 0:
            raise ValueError(f"c must be positive (or None for automatic), got {c!r}")
    out = img.empty(img.shape)
    dst = wrap(out, "out", ndim=(2, 3))
    nbytes = 0
    if img.device == "cuda" and 0 < len(sig) <= 16:  # invalid sigmas are refused by the core below
        h, w = img.image_shape
        nbytes = _C.hessian_workspace_bytes(img.batch, h, w, len(sig), c is None, img.device_code)
    ws_owner, ws = img.workspace(nbytes)
    _C.hessian_enhance(
        img.desc(), dst.desc(), ws, sig, beta_f, c_f, not bool(black_ridges), bool(check_finite), img.stream()
    )
    del ws_owner  # stream-ordered allocators keep it valid for the queued kernels
    return out
