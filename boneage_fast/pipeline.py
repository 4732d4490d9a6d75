"""End-to-end prediction: image file/array + sex -> bone age, with the box, scores,
quality flags and per-stage timings."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from boneage_fast.io import Radiograph, from_array, read_image

LOW_SCORE = 0.5


def parse_sex(sex: Any) -> bool:
    """True for male. Accepts bool, 1/0, 'M'/'F', 'male'/'female' (any case).

    Raises:
        ValueError: anything else (naming what was received).
    """
    if isinstance(sex, (bool, np.bool_)):
        return bool(sex)
    if isinstance(sex, (int, np.integer)) and int(sex) in (0, 1):
        return bool(sex)
    if isinstance(sex, str) and sex.strip().lower() in ("m", "male", "f", "female"):
        return sex.strip().lower() in ("m", "male")
    raise ValueError(f"sex must be 'M'/'F', 'male'/'female', 1/0 or a bool, got {sex!r}")


@dataclass
class Prediction:
    boneage_months: float
    box: tuple[float, float, float, float] | None
    box_score: float | None
    flags: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)


class Predictor:
    """Loads a regressor (and, for the attention configurations, a hand detector) once
    and predicts many images.

    Args:
        regressor: path of a regressor model card (``best.json``).
        detector: path of a detector model card; needed unless boxes are passed.
        device: 'cpu', 'cuda' or 'auto'.
    """

    def __init__(self, regressor: str, detector: str | None = None, device: str = "cpu") -> None:
        import torch

        from boneage_fast.models.checkpoint import load_detector, load_regressor
        from boneage_fast.training.train import resolve_device

        self.device = resolve_device(device)
        self.model, self.pre, self.card = load_regressor(regressor)
        self.model.to(self.device)
        self.detector = None
        if detector is not None:
            self.detector, _ = load_detector(detector)
            self.detector.to(self.device)
        self._torch = torch

    def predict(self, image: Any, sex: Any = None, box: tuple[float, float, float, float] | None = None) -> Prediction:
        """Bone age of one image.

        Raises:
            ImageReadError: unreadable file. ValueError: bad sex, missing box/detector.
        """
        torch = self._torch
        t0 = time.perf_counter()
        rad = image if isinstance(image, Radiograph) else read_image(image) if isinstance(image, (str, bytes)) or \
            hasattr(image, "__fspath__") else from_array(image)
        male = parse_sex(sex) if (sex is not None or self.model.use_sex) else None
        timings = {"read": 1e3 * (time.perf_counter() - t0)}
        flags: list[str] = []
        score = None
        if self.pre.attention and box is None:
            if self.detector is None:
                raise ValueError("this regressor crops the hand: pass a detector model card or a box")
            t = time.perf_counter()
            box, score = self.detector.detect(rad.pixels)
            timings["detect"] = 1e3 * (time.perf_counter() - t)
            if box is None:
                flags.append("no_hand_found")
                h, w = rad.shape
                box = (0.0, 0.0, float(w), float(h))
            elif score < LOW_SCORE:
                flags.append("low_detector_score")
        t = time.perf_counter()
        maps = self.pre.maps(self.pre.coarse(rad.pixels, box))
        timings["preprocess"] = 1e3 * (time.perf_counter() - t)
        t = time.perf_counter()
        with torch.no_grad():
            x = torch.from_numpy(maps)[None].to(self.device)
            s = torch.tensor([1.0 if male else 0.0], device=self.device) if self.model.use_sex else None
            age = float(self.model(x, s)[0])
        timings["regress"] = 1e3 * (time.perf_counter() - t)
        timings["total"] = 1e3 * (time.perf_counter() - t0)
        if not 0.0 <= age <= 240.0:
            flags.append("age_out_of_range")
        return Prediction(age, box, score, flags, timings)
