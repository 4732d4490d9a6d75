"""Coarse attention: a one-class (hand) Faster R-CNN, and the crop it drives."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn

from boneage_fast.preprocess import detector_input


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
        longer side is ``size`` (:func:`boneage_fast.preprocess.detector_input`), and
        that scale factor."""
        a, s = detector_input(image, size)
        return torch.from_numpy(a)[None].expand(3, -1, -1), s

    def forward(self, images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]] | None = None):
        return self.model(images, targets)

    @torch.no_grad()
    def detect(self, image: np.ndarray) -> tuple[tuple[float, float, float, float] | None, float]:
        """Best hand box (x0, y0, x1, y1) in the image's pixels and its score; (None, 0.0)
        when nothing is found."""
        t, s = self.to_input(image, self.image_size)
        return self.detect_input(t, s)

    @torch.no_grad()
    def detect_input(self, t: torch.Tensor, scale: float) -> tuple[tuple[float, float, float, float] | None, float]:
        """:meth:`detect` on an input already made by :meth:`to_input`."""
        was = self.training
        self.eval()
        try:
            dev = next(self.parameters()).device
            out = self.model([t.to(dev)])[0]
        finally:
            self.train(was)
        if len(out["scores"]) == 0:
            return None, 0.0
        i = int(torch.argmax(out["scores"]))
        box = (out["boxes"][i] / scale).tolist()
        return (box[0], box[1], box[2], box[3]), float(out["scores"][i])
