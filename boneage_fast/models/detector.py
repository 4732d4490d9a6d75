"""Coarse attention: a one-class (hand) Faster R-CNN, and the crop it drives."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn


class HandDetector(nn.Module):
    """torchvision's Faster R-CNN (MobileNetV3-Large FPN, built with ``weights=None`` and
    ``weights_backbone=None``: nothing is downloaded), one class: the hand.

    Args:
        image_size: the detector's working size (shorter side); images are resized to it.
    """

    def __init__(self, image_size: int = 320) -> None:
        super().__init__()
        if not 128 <= image_size <= 1024:
            raise ValueError(f"image_size must be in [128, 1024], got {image_size}")
        self.image_size = int(image_size)
        self.model = fasterrcnn_mobilenet_v3_large_320_fpn(
            weights=None, weights_backbone=None, num_classes=2, min_size=image_size, max_size=image_size,
            box_detections_per_img=5,
        )

    def config(self) -> dict[str, Any]:
        return {"image_size": self.image_size}

    @staticmethod
    def to_input(image: np.ndarray, size: int) -> tuple[torch.Tensor, float]:
        """uint16/uint8/float 2-D image -> (3, h, w) float tensor in [0, 1] scaled so the
        longer side is ``size``, and that scale factor."""
        a = np.asarray(image, dtype=np.float32)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / max(hi - lo, 1e-6)
        h, w = a.shape
        s = size / max(h, w)
        t = torch.from_numpy(a)[None, None]
        t = torch.nn.functional.interpolate(t, size=(max(int(round(h * s)), 1), max(int(round(w * s)), 1)),
                                            mode="area")
        return t[0].expand(3, -1, -1).contiguous(), s

    def forward(self, images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]] | None = None):
        return self.model(images, targets)

    @torch.no_grad()
    def detect(self, image: np.ndarray) -> tuple[tuple[float, float, float, float] | None, float]:
        """Best hand box (x0, y0, x1, y1) in the image's pixels and its score; (None, 0.0)
        when nothing is found."""
        was = self.training
        self.eval()
        try:
            t, s = self.to_input(image, self.image_size)
            dev = next(self.parameters()).device
            out = self.model([t.to(dev)])[0]
        finally:
            self.train(was)
        if len(out["scores"]) == 0:
            return None, 0.0
        i = int(torch.argmax(out["scores"]))
        box = (out["boxes"][i] / s).tolist()
        return (box[0], box[1], box[2], box[3]), float(out["scores"][i])


def crop_box(image: np.ndarray, box: tuple[float, float, float, float], margin: float = 0.08) -> np.ndarray:
    """The square crop around ``box`` enlarged by ``margin`` on each side, padded with the
    image's minimum where it leaves the image (coarse attention before resizing)."""
    h, w = image.shape
    x0, y0, x1, y1 = box
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"box must have x1 > x0 and y1 > y0, got {box}")
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    X0, Y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    S = max(int(round(side)), 2)
    out = np.full((S, S), image.min(), dtype=image.dtype)
    sx0, sy0 = max(X0, 0), max(Y0, 0)
    sx1, sy1 = min(X0 + S, w), min(Y0 + S, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - Y0:sy1 - Y0, sx0 - X0:sx1 - X0] = image[sy0:sy1, sx0:sx1]
    return out
