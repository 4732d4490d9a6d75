"""A small end-to-end demo of the two attention-module kernels on a generated image."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from boneage_fast.ops import ReferenceHistogram, hessian_enhance, match_histograms


def synthetic_radiograph(height: int = 1024, width: int = 832, seed: int = 0) -> np.ndarray:
    """A crude 12-bit 'hand-like' test image (uint16): bright elongated bones with a
    darker medulla on a soft-tissue blob, an exposure gradient and noise. It only
    exercises the kernels; the realistic phantom lives in boneage_fast.data (later)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y /= height
    x /= width
    img = 600 + 300 * x  # background with an exposure gradient
    palm = np.exp(-(((x - 0.5) / 0.28) ** 2 + ((y - 0.68) / 0.22) ** 2) ** 2)
    img += 700 * palm
    for i, ang in enumerate(np.linspace(-0.45, 0.45, 5)):
        cx = 0.5 + 0.28 * np.sin(ang)
        for j, (r0, r1, w) in enumerate([(0.55, 0.38, 0.022), (0.36, 0.24, 0.018), (0.22, 0.14, 0.015), (0.12, 0.06, 0.013)]):
            if i == 0 and j == 3:
                continue  # the thumb has one phalanx fewer
            y0, y1 = r0 + 0.1 * abs(ang), r1 + 0.1 * abs(ang)
            t = np.clip((y - y1) / (y0 - y1), 0, 1)
            px = cx + (0.5 - cx) * (1 - t) * 0.1
            d = np.abs(x - px) / w
            inside = ((y > y1) & (y < y0)).astype(np.float32)
            cortex = np.exp(-((d - 0.8) ** 2) / 0.04) + 0.6 * np.exp(-(d**2) / 0.3)
            img += 1400 * inside * cortex * (d < 1.2)
    img += rng.normal(0, 25, size=img.shape)
    return np.clip(img, 0, 4095).astype(np.uint16)


def _png(path: str, a: np.ndarray) -> None:
    from PIL import Image

    a = np.asarray(a, dtype=np.float64)
    lo, hi = np.percentile(a, [0.5, 99.5])
    u8 = np.clip((a - lo) / max(hi - lo, 1e-12) * 255, 0, 255).astype(np.uint8)
    Image.fromarray(u8).save(path)


def run_demo(out_dir: str | None = None, height: int = 1024, width: int = 832, repeats: int = 5) -> dict[str, Any]:
    """Generate an image, histogram-match it to a reference, enhance it, time both ops.

    Returns:
        A dict with the timings (median milliseconds) and output statistics; with
        ``out_dir`` also writes input/matched/enhanced PNGs there.
    """
    image = synthetic_radiograph(height, width, seed=0)
    # The reference a model would carry: here another generated image, 8-bit.
    reference = ReferenceHistogram.from_image((synthetic_radiograph(512, 416, seed=1) // 16).astype(np.uint8))

    def timed(fn):
        fn()
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            r = fn()
            ts.append(time.perf_counter() - t0)
        return r, 1e3 * float(np.median(ts))

    matched, t_match = timed(lambda: match_histograms(image, reference))
    fine, t_hess = timed(lambda: hessian_enhance(matched, sigmas=(1, 2, 3)))
    result = {
        "shape": list(image.shape),
        "match_histograms_ms": round(t_match, 3),
        "hessian_enhance_ms": round(t_hess, 3),
        "matched_range": [float(matched.min()), float(matched.max())],
        "reference_range": list(reference.value_range),
        "fine_map_mean": float(fine.mean()),
        "fine_map_max": float(fine.max()),
    }
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        _png(os.path.join(out_dir, "input.png"), image)
        _png(os.path.join(out_dir, "matched.png"), matched)
        _png(os.path.join(out_dir, "fine_attention.png"), fine)
        result["written"] = [os.path.join(out_dir, f) for f in ("input.png", "matched.png", "fine_attention.png")]
    return result
