"""The one preprocessing module: training, validation and inference all get their maps
here, so a model sees in production the very maps it was trained on.

    radiograph (uint16) + hand box
      -> crop         square crop around the box (+ margin), resized to S x S,
                      stretched to uint16  (this stage is what training caches on disk)
      -> coarse map   the crop histogram-matched to the model's reference  -> [0, 1]
      -> fine map     multiscale Hessian (Frangi) of the coarse map, with the model's
                      fixed c                                              -> [0, 1]

Decisions (each pinned by a test):

* The histogram is matched on the hand crop, not on the whole radiograph, so the
  amount of background, film border or collimation around the hand does not move
  the hand's intensities. Matching is monotone, so it commutes with the min-max
  stretch of the crop.
* The reference histogram is built from the training crops (:func:`build_reference`:
  the mean of their quantile functions, the 1-D Wasserstein barycentre) and travels
  in the model card.
* The fine map uses a fixed Frangi ``c`` stored in the model card
  (:func:`calibrate_fine_c`: the median over training maps of Frangi's automatic
  ``c``), so one bright marker or a sub-pixel shift cannot rescale a whole fine map.
* Augmentation (:func:`augment_maps`) is geometric -> fine map -> photometric: the
  fine map is computed from the geometrically transformed coarse map exactly as at
  inference, and brightness changes only the coarse channel.

This module imports NumPy and Pillow only (no PyTorch); the batched device path
(:meth:`Preprocessor.add_fine`) works on torch tensors when it is handed them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
from PIL import Image

from boneage_fast.ops import ReferenceHistogram, hessian_enhance, match_histograms

__all__ = ["Preprocessor", "square_crop", "crop_resize", "detector_input", "build_reference", "calibrate_fine_c",
           "augment_maps", "REFERENCE_LEVELS"]

Box = tuple[float, float, float, float]

#: Levels of a reference built from training crops.
REFERENCE_LEVELS = 1024


def square_crop(box: Box, margin: float) -> Box:
    """The square region (x0, y0, x1, y1) centred on ``box``, its side the box's longer
    side enlarged by ``margin`` on each side.

    Raises:
        ValueError: a box without positive width and height.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (x1 > x0 and y1 > y0) or not all(np.isfinite((x0, y0, x1, y1))):
        raise ValueError(f"box must be finite with x1 > x0 and y1 > y0, got {box}")
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    return cx - side / 2.0, cy - side / 2.0, cx + side / 2.0, cy + side / 2.0


def crop_resize(pixels: np.ndarray, box: Box, size: int, margin: float = 0.08) -> np.ndarray:
    """The square crop around ``box`` (see :func:`square_crop`), resized to ``size`` x
    ``size`` with an anti-aliased bilinear filter and stretched to the full uint16 range.

    Parts of the square outside the image are filled with the image's minimum. The
    stretch is per crop (min -> 0, max -> 65535); a flat crop gives zeros.

    Args:
        pixels: 2-D image (any real dtype), bright = dense.
        box: (x0, y0, x1, y1) in pixel coordinates of ``pixels``.
        size: output side in pixels.
        margin: extra fraction of the box's longer side on each side.

    Returns:
        (size, size) uint16.
    """
    a = np.asarray(pixels)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"pixels must be a non-empty 2-D image, got shape {a.shape}")
    h, w = a.shape
    X0, Y0, X1, Y1 = square_crop(box, margin)
    # Integer window that covers the square, clipped to the image; the rest is padding.
    ix0, iy0 = int(np.floor(X0)), int(np.floor(Y0))
    ix1, iy1 = int(np.ceil(X1)), int(np.ceil(Y1))
    sx0, sy0, sx1, sy1 = max(ix0, 0), max(iy0, 0), min(ix1, w), min(iy1, h)
    lo = float(a.min())
    window = np.full((iy1 - iy0, ix1 - ix0), lo, np.float32)
    if sx1 > sx0 and sy1 > sy0:
        window[sy0 - iy0:sy1 - iy0, sx0 - ix0:sx1 - ix0] = a[sy0:sy1, sx0:sx1]
    im = Image.fromarray(window, mode="F")
    out = np.asarray(im.resize((size, size), Image.BILINEAR, box=(X0 - ix0, Y0 - iy0, X1 - ix0, Y1 - iy0)),
                     dtype=np.float32)
    mn, mx = float(out.min()), float(out.max())
    if not mx > mn:
        return np.zeros((size, size), np.uint16)
    return np.round((out - mn) * (65535.0 / (mx - mn))).astype(np.uint16)


def detector_input(pixels: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """The hand detector's view of a radiograph: min-max scaled to [0, 1] and resized
    (box filter, i.e. area averaging) so that its longer side is ``size``.

    Returns:
        ((h, w) float32, scale) with ``scale = size / max(H, W)`` (image pixels times
        scale = detector pixels).
    """
    a = np.asarray(pixels)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"pixels must be a non-empty 2-D image, got shape {a.shape}")
    H, W = a.shape
    s = size / max(H, W)
    h, w = max(int(round(H * s)), 1), max(int(round(W * s)), 1)
    out = np.asarray(Image.fromarray(a.astype(np.float32, copy=False), mode="F").resize((w, h), Image.BOX),
                     dtype=np.float32)
    lo, hi = float(out.min()), float(out.max())
    out = (out - lo) / max(hi - lo, 1e-6)
    return out, s


def build_reference(crops: Iterable[np.ndarray], levels: int = REFERENCE_LEVELS) -> ReferenceHistogram:
    """The reference histogram of a set of training crops: the mean of their quantile
    functions (the 1-D Wasserstein barycentre of their intensity distributions), on
    [0, 1], with ``levels`` equally likely levels.

    Args:
        crops: uint16 crops from :func:`crop_resize` (or any arrays scaled to 0..65535).

    Raises:
        ValueError: no crops.
    """
    probs = (np.arange(levels, dtype=np.float64) + 0.5) / levels
    total = np.zeros(levels)
    n = 0
    for c in crops:
        total += np.quantile(np.asarray(c, dtype=np.float64).reshape(-1) / 65535.0, probs)
        n += 1
    if n == 0:
        raise ValueError("build_reference needs at least one crop")
    values, counts = np.unique(np.round(total / n, 12), return_counts=True)
    return ReferenceHistogram.from_counts(values, counts)


def calibrate_fine_c(coarse_maps: Iterable[np.ndarray], sigmas: Sequence[float], beta: float = 0.5) -> float:
    """A fixed Frangi ``c`` for a model: the median, over ``coarse_maps``, of the
    automatic ``c`` :func:`hessian_enhance` would pick for each map (half its largest
    Hessian norm over all scales).

    Each map's automatic ``c`` is recovered from the op itself: the fixed-``c`` response
    falls monotonically with ``c`` and equals the automatic response exactly at the
    automatic ``c``, so a bisection on ``log c`` finds it (to 1e-4 relative).

    Raises:
        ValueError: no map with any structure.
    """
    found = []
    for m in coarse_maps:
        m = np.ascontiguousarray(m, dtype=np.float32)
        target = float(hessian_enhance(m, sigmas, beta=beta).astype(np.float64).sum())
        if not target > 0:
            continue  # a flat map has no structure and no c
        lo, hi = 1e-8, 1e4
        for _ in range(60):
            mid = float(np.sqrt(lo * hi))
            s = float(hessian_enhance(m, sigmas, beta=beta, c=mid).astype(np.float64).sum())
            if s > target:
                lo = mid
            else:
                hi = mid
            if hi / lo < 1.0 + 1e-4:
                break
        found.append(float(np.sqrt(lo * hi)))
    if not found:
        raise ValueError("calibrate_fine_c: every map was flat; no c can be calibrated")
    return float(np.median(found))


def _affine(a: np.ndarray, angle_deg: float, scale: float, tx: float, ty: float, flip: bool, fill: float) -> np.ndarray:
    S = a.shape[0]
    im = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32), mode="F")
    # PIL's affine takes the inverse map (output -> input) in continuous coordinates
    # (pixel i covers [i, i + 1)), so the image centre is S / 2.
    c = S / 2
    t = np.deg2rad(angle_deg)
    cos, sin = np.cos(t) / scale, np.sin(t) / scale
    inv = (cos, sin, c - cos * (c + tx) - sin * (c + ty), -sin, cos, c + sin * (c + tx) - cos * (c + ty))
    out = np.asarray(im.transform((S, S), Image.AFFINE, inv, resample=Image.BILINEAR, fillcolor=fill), np.float32)
    return np.ascontiguousarray(out[:, ::-1]) if flip else out


@dataclass(frozen=True)
class AugmentParams:
    angle: float
    scale: float
    tx: float
    ty: float
    flip: bool
    brightness: float

    @classmethod
    def draw(cls, rng: np.random.Generator, size: int, strength: float = 1.0) -> AugmentParams:
        """The paper's ranges times ``strength``: rotation +-20 deg, translation <= 0.2,
        scaling <= 0.2, brightness x 0.8-1.2 (at strength 1); horizontal flip always
        with probability 1/2."""
        k = float(strength)
        angle = rng.uniform(-20, 20) * k
        scale = 1.0 + rng.uniform(-0.2, 0.2) * k
        tx, ty = rng.uniform(-0.2, 0.2, size=2) * size * k
        return cls(float(angle), float(scale), float(tx), float(ty), bool(rng.random() < 0.5),
                   float(1.0 + rng.uniform(-0.2, 0.2) * k))


@dataclass
class Preprocessor:
    """Turns a radiograph (+ hand box) into a regressor's input maps.

    Args:
        reference: the histogram every coarse map is matched to (values in [0, 1]);
            unused without ``attention``.
        input_size: side of the maps in pixels.
        margin: crop margin, a fraction of the box's longer side on each side.
        attention: ``True``: [coarse, fine] maps of the hand crop (S2-S5); ``False``:
            the whole image, min-max scaled and padded to a square (S1).
        sigmas: Hessian scales of the fine map, in pixels of the map.
        fine_c: fixed Frangi ``c`` of the fine map; ``None`` = automatic per map (the
            behaviour of models made before 0.2).
    """

    reference: ReferenceHistogram | None
    input_size: int = 512
    margin: float = 0.08
    attention: bool = True
    sigmas: tuple[float, ...] = (1.0, 2.0, 3.0)
    fine_c: float | None = None

    @property
    def channels(self) -> int:
        return 2 if self.attention else 1

    # ------------------------------------------------------------------ stages
    def crop(self, pixels: np.ndarray, box: Box | None) -> np.ndarray:
        """(S, S) uint16: the cached stage. With attention the square crop around the
        hand box; without, the whole image padded to a square.

        Raises:
            ValueError: attention without a box, or a malformed box.
        """
        if not self.attention:
            h, w = np.asarray(pixels).shape[:2]
            return crop_resize(pixels, (0.0, 0.0, float(w), float(h)), self.input_size, 0.0)
        if box is None:
            raise ValueError("attention preprocessing needs a hand box (from boxes.csv or the detector)")
        return crop_resize(pixels, box, self.input_size, self.margin)

    def coarse_from_crop(self, crop: np.ndarray) -> np.ndarray:
        """(S, S) float32 in [0, 1]: the crop matched to the reference (attention) or
        simply scaled (S1)."""
        crop = np.ascontiguousarray(crop)
        if not self.attention:
            return crop.astype(np.float32) / np.float32(65535.0)
        if self.reference is None:
            raise ValueError("attention preprocessing needs a reference histogram")
        lo, hi = self.reference.value_range
        m = match_histograms(crop, self.reference)
        if lo != 0.0 or hi != 1.0:  # references of older models may live in other units
            m = (m - np.float32(lo)) / np.float32(max(hi - lo, 1e-12))
        return m.astype(np.float32, copy=False)

    def fine(self, coarse: Any) -> Any:
        """The fine map of one coarse map (NumPy, or a 2-D torch/CuPy array on its device)."""
        return hessian_enhance(coarse, self.sigmas, c=self.fine_c)

    def maps_from_crop(self, crop: np.ndarray) -> np.ndarray:
        """(C, S, S) float32: [coarse, fine] with attention, [image] without."""
        coarse = self.coarse_from_crop(crop)
        if not self.attention:
            return coarse[None]
        return np.stack([coarse, self.fine(coarse)])

    def maps(self, pixels: np.ndarray, box: Box | None) -> np.ndarray:
        """(C, S, S) float32 maps of a radiograph: :meth:`crop` then :meth:`maps_from_crop`."""
        return self.maps_from_crop(self.crop(pixels, box))

    def add_fine(self, coarse):
        """torch (N, 1, S, S) coarse batch -> (N, 2, S, S) [coarse, fine] on the batch's own
        device, in one batched call: the CUDA kernel for CUDA batches (no host round
        trip), the CPU kernel otherwise -- the same op as :meth:`maps_from_crop`."""
        import torch

        fine = self.fine(coarse[:, 0].float().contiguous())[:, None]
        return torch.cat([coarse, fine.to(coarse.dtype)], dim=1)

    # ------------------------------------------------------------------ augmentation
    def augment(self, crop: np.ndarray, rng: np.random.Generator, coarse_only: bool = False) -> np.ndarray:
        """Training maps of a cached crop under the paper's augmentation (see
        :func:`augment_maps`)."""
        return augment_maps(self, self.coarse_from_crop(crop), AugmentParams.draw(rng, self.input_size), coarse_only)

    # ------------------------------------------------------------------ identity
    def crop_settings(self) -> dict[str, Any]:
        """What the cached crops depend on."""
        return {"input_size": self.input_size, "margin": self.margin if self.attention else 0.0,
                "attention": self.attention, "crop": "square/bilinear/uint16-stretch/v2"}

    def to_dict(self) -> dict[str, Any]:
        return {"version": 2, "reference": self.reference.to_dict() if self.reference is not None else None,
                "input_size": self.input_size, "margin": self.margin, "attention": self.attention,
                "sigmas": list(self.sigmas), "fine_c": self.fine_c}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessor:
        ref = d.get("reference")
        return cls(ReferenceHistogram.from_dict(ref) if ref is not None else None, int(d["input_size"]),
                   float(d["margin"]), bool(d["attention"]), tuple(float(s) for s in d["sigmas"]),
                   None if d.get("fine_c") is None else float(d["fine_c"]))

    def digest(self) -> str:
        """sha256 of the settings (a cache / parity key)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


def augment_maps(pre: Preprocessor, coarse: np.ndarray, p: AugmentParams, coarse_only: bool = False) -> np.ndarray:
    """Geometric -> fine map -> photometric: rotate/scale/translate/flip the coarse map,
    compute the fine map of that (exactly as at inference), then scale the brightness
    of the coarse channel only. Nothing is clipped.

    Returns:
        (C, S, S) float32 (C = 1 with ``coarse_only``: the fine map is added later on
        the batch's device, from the geometric coarse map, before brightness -- see
        :func:`apply_brightness`).
    """
    fill = float(np.percentile(coarse, 1))
    geo = _affine(coarse, p.angle, p.scale, p.tx, p.ty, p.flip, fill)
    if coarse_only or not pre.attention:
        out = geo[None]
        if not pre.attention:
            out = out * np.float32(p.brightness)
        return out.astype(np.float32)
    fine = pre.fine(geo)
    return np.stack([geo * np.float32(p.brightness), fine]).astype(np.float32)
