"""Preprocessing shared by training and inference, so a model sees in production the
very maps it was trained on: histogram matching -> crop (coarse attention) -> resize ->
multiscale Hessian (fine attention), all through boneage_fast.ops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from boneage_fast.models.detector import crop_box
from boneage_fast.ops import ReferenceHistogram, hessian_enhance, match_histograms


def default_reference() -> ReferenceHistogram:
    """The reference distribution shipped with new models: a clean phantom's histogram,
    in [0, 1], summarised in 1024 levels."""
    from boneage_fast.data.phantom import render

    img = render(120.0, True, seed=0, size=(640, 512), nuisance=False).image.astype(np.float64) / 65535.0
    counts, edges = np.histogram(img, bins=1024, range=(0.0, 1.0))
    return ReferenceHistogram.from_counts((edges[:-1] + edges[1:]) / 2, counts)


def _resize(a: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize((size, size), Image.BILINEAR),
                      dtype=np.float32)


@dataclass
class Preprocessor:
    """Turns a radiograph (+ hand box) into the regressor's input maps."""

    reference: ReferenceHistogram
    input_size: int = 512
    margin: float = 0.08
    attention: bool = True
    sigmas: tuple[float, ...] = (1.0, 2.0, 3.0)

    @property
    def channels(self) -> int:
        return 2 if self.attention else 1

    def coarse(self, pixels: np.ndarray, box: tuple[float, float, float, float] | None) -> np.ndarray:
        """(S, S) float32 in [0, 1]: with attention, the histogram-matched crop around the
        hand; without, the whole image scaled to [0, 1] and padded to a square."""
        if not self.attention:
            a = pixels.astype(np.float32)
            a = (a - a.min()) / max(float(a.max() - a.min()), 1e-6)
            h, w = a.shape
            return _resize(crop_box(a, (0.0, 0.0, float(w), float(h)), 0.0), self.input_size)
        if box is None:
            raise ValueError("attention preprocessing needs a hand box (from boxes.csv or the detector)")
        matched = match_histograms(pixels, self.reference)
        lo, hi = self.reference.value_range
        matched = (matched - lo) / max(hi - lo, 1e-12)
        return np.clip(_resize(crop_box(matched, box, self.margin), self.input_size), 0.0, 1.0)

    def maps(self, coarse: np.ndarray) -> np.ndarray:
        """(C, S, S) float32: [coarse, fine] with attention, [image] without."""
        if not self.attention:
            return coarse[None].astype(np.float32)
        fine = hessian_enhance(np.ascontiguousarray(coarse, dtype=np.float32), self.sigmas)
        return np.stack([coarse, fine]).astype(np.float32)

    def add_fine(self, coarse):
        """torch (N, 1, S, S) coarse batch -> (N, 2, S, S) [coarse, fine] on the batch's own
        device: the CUDA kernel for CUDA batches (no host round trip), the CPU kernel
        otherwise -- the same op as :meth:`maps`."""
        import torch

        fine = torch.stack([hessian_enhance(c[0].contiguous(), self.sigmas) for c in coarse])[:, None]
        return torch.cat([coarse, fine.to(coarse.dtype)], dim=1)

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference.to_dict(), "input_size": self.input_size, "margin": self.margin,
                "attention": self.attention, "sigmas": list(self.sigmas)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessor:
        return cls(ReferenceHistogram.from_dict(d["reference"]), int(d["input_size"]), float(d["margin"]),
                   bool(d["attention"]), tuple(float(s) for s in d["sigmas"]))


def augment(coarse: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The paper's augmentation on a coarse map: rotation +-20 deg, translation <= 0.2,
    scaling <= 0.2, horizontal flip, brightness x 0.8-1.2."""
    S = coarse.shape[0]
    angle = rng.uniform(-20, 20)
    scale = rng.uniform(0.8, 1.2)
    tx, ty = rng.uniform(-0.2, 0.2, size=2) * S
    im = Image.fromarray(coarse.astype(np.float32), mode="F")
    fill = float(np.percentile(coarse, 1))
    # PIL's affine takes the inverse map (output -> input) about the image centre.
    c = (S - 1) / 2
    a = np.deg2rad(angle)
    cos, sin = np.cos(a) / scale, np.sin(a) / scale
    inv = (cos, sin, c - cos * (c + tx) - sin * (c + ty), -sin, cos, c + sin * (c + tx) - cos * (c + ty))
    out = np.asarray(im.transform((S, S), Image.AFFINE, inv, resample=Image.BILINEAR, fillcolor=fill),
                     dtype=np.float32)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.clip(out * rng.uniform(0.8, 1.2), 0.0, 1.0).astype(np.float32)
