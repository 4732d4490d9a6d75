"""Histogram matching (the paper's first preprocessing step, after Shapira et al. 2013)."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from boneage_fast import _C
from boneage_fast._arrays import DTYPE_CODES, ArrayRef, data_ptr, wrap

__all__ = ["ReferenceHistogram", "match_histograms"]

_FORMAT = "boneage_fast.ReferenceHistogram/1"


class ReferenceHistogram:
    """A reference intensity distribution, stored as its quantile function.

    ``values[i]`` is the i-th distinct reference intensity and ``quantiles[i]`` the
    fraction of reference pixels ``<= values[i]``; both strictly increasing, the last
    quantile exactly 1. A model carries one of these so that every image it sees is
    matched to the distribution it was trained on; it round-trips through JSON
    (:meth:`to_json`) and NumPy ``.npz`` (:meth:`save` / :meth:`load`).

    Raises:
        ValueError: empty, non-finite, unsorted or massless input.
    """

    __slots__ = ("_values", "_quantiles", "_device_cache")

    def __init__(self, values: Any, quantiles: Any) -> None:
        v = np.array(values, dtype=np.float64, copy=True).reshape(-1)
        q = np.array(quantiles, dtype=np.float64, copy=True).reshape(-1)
        if v.size == 0:
            raise ValueError("reference histogram has no mass: values is empty")
        if v.shape != q.shape:
            raise ValueError(f"values and quantiles must have the same length, got {v.size} and {q.size}")
        if not (np.isfinite(v).all() and np.isfinite(q).all()):
            raise ValueError("reference histogram values and quantiles must be finite")
        if v.size > 1 and not (np.all(np.diff(v) > 0) and np.all(np.diff(q) > 0)):
            raise ValueError("reference histogram values and quantiles must be strictly increasing")
        if not (q[0] > 0 and q[-1] == 1.0):
            raise ValueError(f"reference quantiles must lie in (0, 1] and end at 1, got [{q[0]}, {q[-1]}]")
        v.setflags(write=False)
        q.setflags(write=False)
        self._values = v
        self._quantiles = q
        self._device_cache: dict[tuple[str, int], tuple[Any, Any]] = {}

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_counts(cls, values: Any, counts: Any) -> ReferenceHistogram:
        """From intensities and their pixel counts (zero counts are dropped).

        Raises:
            ValueError: negative or non-finite counts, unsorted values, or no mass.
        """
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        c = np.asarray(counts, dtype=np.float64).reshape(-1)
        if v.shape != c.shape:
            raise ValueError(f"values and counts must have the same length, got {v.size} and {c.size}")
        if not (np.isfinite(c).all() and (c >= 0).all()):
            raise ValueError("counts must be finite and non-negative")
        keep = c > 0
        v, c = v[keep], c[keep]
        total = c.sum()
        if v.size == 0 or not total > 0:
            raise ValueError("reference histogram has no mass: all counts are zero")
        order = np.argsort(v, kind="stable")
        v, c = v[order], c[order]
        if v.size > 1 and not np.all(np.diff(v) > 0):
            raise ValueError("values must be distinct")
        q = np.cumsum(c) / total
        q[-1] = 1.0
        return cls(v, q)

    @classmethod
    def from_image(cls, image: Any) -> ReferenceHistogram:
        """The exact distribution of an image's pixels (uint8, uint16 or float32, any
        array kind; a CUDA image is summarised on its device and only the summary is
        copied to the host).

        Raises:
            TypeError / ValueError: as for :func:`match_histograms`'s ``image``.
        """
        ref = wrap(image, "reference", ndim=(2, 3))
        if ref.kind == "numpy":
            arr = ref.obj
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise ValueError("reference contains NaN or Inf values")
            if arr.dtype.kind == "u":
                counts = _C.integer_histogram(ref.desc())  # C++, multi-threaded; no copy of the image
                return cls.from_counts(np.arange(counts.size), counts)
            vals, counts = np.unique(arr, return_counts=True)
            return cls.from_counts(vals, counts)
        if ref.kind == "torch":
            import torch

            t = ref.obj
            if t.dtype.is_floating_point and not bool(torch.isfinite(t).all()):
                raise ValueError("reference contains NaN or Inf values")
            vals, counts = torch.unique(t.reshape(-1).to(torch.float64), return_counts=True)
            return cls.from_counts(vals.cpu().numpy(), counts.cpu().numpy())
        import cupy

        a = ref.obj
        if a.dtype.kind == "f" and not bool(cupy.isfinite(a).all()):
            raise ValueError("reference contains NaN or Inf values")
        vals, counts = cupy.unique(a.reshape(-1), return_counts=True)
        return cls.from_counts(cupy.asnumpy(vals), cupy.asnumpy(counts))

    # ------------------------------------------------------------------ accessors
    @property
    def values(self) -> np.ndarray:
        """Distinct reference intensities, float64, strictly increasing (read-only)."""
        return self._values

    @property
    def quantiles(self) -> np.ndarray:
        """Cumulative fraction of reference pixels ``<= values[i]`` (read-only)."""
        return self._quantiles

    @property
    def value_range(self) -> tuple[float, float]:
        """(min, max) of the reference: the range every matched image lands in."""
        return float(self._values[0]), float(self._values[-1])

    def __len__(self) -> int:
        return int(self._values.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReferenceHistogram):
            return NotImplemented
        return np.array_equal(self._values, other._values) and np.array_equal(self._quantiles, other._quantiles)

    def __hash__(self) -> int:
        return hash((self._values.tobytes(), self._quantiles.tobytes()))

    def __repr__(self) -> str:
        lo, hi = self.value_range
        return f"ReferenceHistogram({len(self)} levels, range [{lo:g}, {hi:g}])"

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (floats are written with full double precision)."""
        return {"format": _FORMAT, "values": self._values.tolist(), "quantiles": self._quantiles.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReferenceHistogram:
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise ValueError(f"not a serialised ReferenceHistogram (expected format {_FORMAT!r})")
        return cls(d["values"], d["quantiles"])

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> ReferenceHistogram:
        return cls.from_dict(json.loads(text))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write to ``.json`` or ``.npz`` (chosen by the suffix)."""
        path = os.fspath(path)
        if path.endswith(".json"):
            with open(path, "w", encoding="utf-8") as f:
                f.write(self.to_json())
        elif path.endswith(".npz"):
            np.savez(path, values=self._values, quantiles=self._quantiles, format=np.array(_FORMAT))
        else:
            raise ValueError(f"path must end in .json or .npz, got {path!r}")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ReferenceHistogram:
        path = os.fspath(path)
        if path.endswith(".json"):
            with open(path, encoding="utf-8") as f:
                return cls.from_json(f.read())
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                if "format" not in z or str(z["format"]) != _FORMAT:
                    raise ValueError(f"{path}: not a saved ReferenceHistogram")
                return cls(z["values"], z["quantiles"])
        raise ValueError(f"path must end in .json or .npz, got {path!r}")

    # ------------------------------------------------------------------ device copies
    def _arrays_for(self, like: ArrayRef) -> tuple[Any, Any]:
        """values/quantiles on ``like``'s device, copied there once and cached."""
        if like.device == "cpu":
            return self._values, self._quantiles
        key = (like.kind, like.device_id)
        if key not in self._device_cache:
            self._device_cache[key] = (like.like(self._values), like.like(self._quantiles))
        return self._device_cache[key]


def match_histograms(image: Any, reference: Any, *, check_finite: bool = True) -> Any:
    """Match an image's intensity distribution to a reference distribution.

    Integer images (uint8, uint16) get exact CDF matching through a lookup table:
    grey level ``v`` at source quantile ``q(v) = #(pixels <= v) / N`` maps to the
    reference quantile function at ``q(v)``, linear between reference levels (the
    definition of ``skimage.exposure.match_histograms``).

    Float32 images get a quantile method: the pixel range ``[min, max]`` is cut into
    65536 uniform bins; the mapping is evaluated at each bin edge ``b`` (quantile =
    fraction of pixels in bins below ``b``) and linearly interpolated within a bin.
    It differs from exact ranks by at most one bin's share of pixels. A constant image
    maps to the reference maximum (quantile 1), as in the integer path.

    Args:
        image: 2-D uint8/uint16/float32 NumPy array, torch tensor (CPU/CUDA) or CuPy array,
            or an (N, H, W) batch (each image matched on its own histogram; on CUDA one
            set of launches with per-image statistics, no host synchronisation unless
            ``check_finite`` on a float batch).
        reference: an image (any of the above kinds, on any device) or a
            :class:`ReferenceHistogram`.
        check_finite: refuse NaN/Inf in float images. The CPU always checks; on CUDA,
            ``False`` saves one stream synchronisation and leaves the output undefined
            for non-finite input.

    Returns:
        float32 array of ``image``'s shape, kind and device, C-contiguous, with values
        in ``reference.value_range`` (the reference's own intensity units).

    Raises:
        TypeError: unsupported array type or dtype.
        ValueError: not 2-D, empty, NaN/Inf, or a reference with no mass.
        CudaError: a CUDA failure.
    """
    img = wrap(image, "image", ndim=(2, 3))
    if not isinstance(reference, ReferenceHistogram):
        reference = ReferenceHistogram.from_image(reference)
    values, quantiles = reference._arrays_for(img)
    return _match_with_arrays(img, values, quantiles, len(reference), check_finite)


def _match_with_arrays(img: ArrayRef, values: Any, quantiles: Any, size: int, check_finite: bool) -> Any:
    """The kernel call, with the reference already as float64 arrays on the image's
    device (validated when the ReferenceHistogram was built)."""
    out = img.empty(img.shape)
    dst = wrap(out, "out", ndim=(2, 3))
    ws_owner, ws = img.workspace(_C.match_workspace_bytes(img.batch, DTYPE_CODES[img.dtype], img.device_code))
    _C.match_histograms(
        img.desc(),
        dst.desc(),
        data_ptr(values),
        data_ptr(quantiles),
        int(size),
        img.device_code,
        img.device_id,
        bool(check_finite),
        ws,
        img.stream(),
    )
    del ws_owner  # the stream keeps the order; the caching allocators keep it alive
    return out

