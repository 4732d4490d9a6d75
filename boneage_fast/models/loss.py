"""The dynamic attention loss of Ren et al.: AMAE = mean(alpha_i^k |g_i|), alpha_i = |p_i/g_i - 1|."""

from __future__ import annotations

import math

import torch
from torch import nn


class DynamicAttentionLoss(nn.Module):
    """AMAE with exponent k: ``mean(alpha^k * |g|)`` where ``alpha = |p / g - 1|``.

    Since ``alpha * |g| = |p - g|``, each term equals ``|p - g|^k / |g|^(k - 1)``: k = 1 is
    the plain MAE, and k > 1 puts weight on large *relative* errors. At ``g = 0``
    (newborns) alpha is undefined; we divide by ``max(|g|, eps)`` instead (eps = 1 month
    by default), which keeps k = 1 exactly the MAE for every g and keeps the gradient
    finite.

    Args:
        k: the exponent (>= 1); change it with :meth:`set_k` or use :func:`k_schedule`.
        eps: floor of ``|g|`` in months (> 0).

    Raises:
        ValueError: k < 1 or non-finite; eps <= 0.
    """

    def __init__(self, k: float = 1.0, eps: float = 1.0) -> None:
        super().__init__()
        if not (eps > 0 and math.isfinite(eps)):
            raise ValueError(f"eps must be positive and finite, got {eps!r}")
        self.eps = float(eps)
        self.k = 1.0
        self.set_k(k)

    def set_k(self, k: float) -> None:
        if not (math.isfinite(k) and k >= 1.0):
            raise ValueError(f"k must be a finite number >= 1, got {k!r}")
        self.k = float(k)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
        pred = pred.float()
        target = target.float()
        err = (pred - target).abs()
        if self.k == 1.0:
            return err.mean()
        scale = target.abs().clamp_min(self.eps)
        return (err.pow(self.k) / scale.pow(self.k - 1.0)).mean()


def k_schedule(epoch: int, epochs: int, k_start: float, k_end: float = 1.0) -> float:
    """Exponent for an epoch: from ``k_start`` at epoch 0 down to ``k_end`` at the last
    epoch, geometrically (the paper lets k decay from a high start to 1)."""
    if epochs <= 1:
        return float(k_end)
    t = min(max(epoch / (epochs - 1), 0.0), 1.0)
    return float(k_start * (k_end / k_start) ** t)
