"""Regression Activation Mapping (RAM): which regions drive the predicted bone age."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from boneage_fast.models.regressor import BoneAgeRegressor


def ram(model: BoneAgeRegressor, x: torch.Tensor, sex: torch.Tensor | None = None) -> torch.Tensor:
    """RAM heatmaps at input resolution.

    The last feature maps F_c (2048 x h x w) are weighted by the regression coefficients
    of their pooled features, w_c = d age / d pooled_c (exactly the coefficients when
    the head is linear; the local ones through its ReLUs), and averaged over channels:
    ``RAM = mean_c(w_c F_c)``, upsampled bilinearly to the input size. Units: months per
    feature unit; positive regions push the estimate up. The model is used in eval mode.

    Args:
        model: a BoneAgeRegressor.
        x: (N, C, H, W) input maps; sex: (N,) when the model uses sex.

    Returns:
        float32 tensor (N, H, W).
    """
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            sex_t = model._check(x, sex)
            feats = model.features(model.standardize(x)).detach()
            pooled = model.pooled(feats).detach().requires_grad_(True)
            age = model.head_from_pooled(pooled, sex_t)
            (w,) = torch.autograd.grad(age.sum(), pooled)
        cam = (w[:, :, None, None] * feats).mean(dim=1, keepdim=True)
        return F.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)[:, 0].float().detach()
    finally:
        model.train(was_training)


def ram_overlay(image: np.ndarray, heatmap: np.ndarray, path: str, alpha: float = 0.45) -> None:
    """Write a PNG of ``image`` (2-D) with ``heatmap`` (same shape) over it in colour."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("drawing a heatmap needs matplotlib: pip install 'boneage_fast[eval]'") from exc

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image = np.asarray(image, dtype=np.float64)
    heatmap = np.asarray(heatmap, dtype=np.float64)
    if image.shape != heatmap.shape:
        raise ValueError(f"image and heatmap must have the same shape, got {image.shape} and {heatmap.shape}")
    fig, ax = plt.subplots(figsize=(5, 5 * image.shape[0] / image.shape[1]))
    ax.imshow(image, cmap="gray")
    lim = max(abs(heatmap.min()), abs(heatmap.max()), 1e-12)
    ax.imshow(heatmap, cmap="jet", alpha=alpha, vmin=-lim, vmax=lim)
    ax.set_axis_off()
    fig.tight_layout(pad=0)
    fig.savefig(path, dpi=100)
    plt.close(fig)
