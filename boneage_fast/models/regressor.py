"""Inception-V3 regressor with sex: [coarse, fine] maps -> 2048 pooled features ->
concatenate sex -> FC 1024 -> FC 1024 -> bone age (months)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.models import inception_v3
from torchvision.models.inception import BasicConv2d

_TRUNK = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
          "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
          "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")


class BoneAgeRegressor(nn.Module):
    """The paper's regression CNN.

    Args:
        in_channels: input maps (2 = [coarse, fine]; 1 for the plain-image baseline S1).
        use_sex: concatenate sex (1 = male, 0 = female) to the pooled features.
        dropout: dropout probability on the pooled features ("conv") and after each FC.
        paper_init: shorthand for ``init="paper"``.
        init: the initialisation of the conv and linear weights. "pytorch" (default):
            PyTorch's layer defaults (Kaiming-uniform), with the last layer zeroed so
            training starts at the mean age; "torchvision": torchvision's Inception-V3
            init (truncated normal, std 0.1); "paper": Gaussian, mean 0, std 0.001, as
            in the paper. Under Adam a BatchNorm network's effective step is the
            learning rate over the weights' scale: torchvision's large weights made
            training ~10x slower (docs/results.md).
        age_offset, age_scale: the last layer predicts ``(age - offset) / scale``; the
            default centres it on the RSNA mean so training starts near the right range.
        input_mean, input_std: per-channel standardisation applied to ``x`` first (the
            training maps' statistics; kept in the weights, so every runtime applies it).

    Inputs: ``x`` float (N, in_channels, H, W) with H, W >= 75 (512 in the paper),
    ``sex`` float (N,) or (N, 1). Output: bone age in months, float32, shape (N,).
    Under autocast the head's last layer and the output affine run in float32, so
    predictions are not quantised to the half-precision step (0.5-1 month near 128).
    """

    def __init__(self, in_channels: int = 2, use_sex: bool = True, dropout: float = 0.5, paper_init: bool = False,
                 age_offset: float = 127.0, age_scale: float = 40.0, input_mean: list[float] | None = None,
                 input_std: list[float] | None = None, init: str = "pytorch") -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if paper_init:
            init = "paper"
        if init not in ("pytorch", "torchvision", "paper"):
            raise ValueError(f"init must be 'pytorch', 'torchvision' or 'paper', got {init!r}")
        trunk = inception_v3(weights=None, aux_logits=False, init_weights=init == "torchvision", transform_input=False)
        trunk.Conv2d_1a_3x3 = BasicConv2d(in_channels, 32, kernel_size=3, stride=2)
        self.features = nn.Sequential(*[getattr(trunk, name) for name in _TRUNK])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv_dropout = nn.Dropout(dropout)
        self.use_sex = bool(use_sex)
        self.in_channels = int(in_channels)
        n_in = 2048 + (1 if use_sex else 0)
        self.head = nn.Sequential(
            nn.Linear(n_in, 1024), nn.BatchNorm1d(1024), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(1024, 1024), nn.BatchNorm1d(1024), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(1024, 1),
        )
        self.register_buffer("age_offset", torch.tensor(float(age_offset)))
        self.register_buffer("age_scale", torch.tensor(float(age_scale)))
        mean = [0.0] * in_channels if input_mean is None else [float(v) for v in input_mean]
        std = [1.0] * in_channels if input_std is None else [float(v) for v in input_std]
        if len(mean) != in_channels or len(std) != in_channels or not all(v > 0 for v in std):
            raise ValueError(f"input_mean/input_std must hold {in_channels} values (std > 0), got {mean} / {std}")
        self.register_buffer("input_mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("input_std", torch.tensor(std).view(1, -1, 1, 1))
        if init == "paper":
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.normal_(m.weight, mean=0.0, std=0.001)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
        elif init == "pytorch":
            nn.init.zeros_(self.head[-1].weight)
            nn.init.zeros_(self.head[-1].bias)

    def config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "use_sex": self.use_sex,
                "dropout": float(self.conv_dropout.p), "age_offset": float(self.age_offset),
                "age_scale": float(self.age_scale), "input_mean": self.input_mean.flatten().tolist(),
                "input_std": self.input_std.flatten().tolist()}

    def set_input_stats(self, mean: list[float], std: list[float]) -> None:
        """Set the per-channel standardisation (from the training maps)."""
        if len(mean) != self.in_channels or len(std) != self.in_channels or not all(v > 0 for v in std):
            raise ValueError(f"need {self.in_channels} means and positive stds, got {mean} / {std}")
        self.input_mean.copy_(torch.tensor([float(v) for v in mean]).view(1, -1, 1, 1))
        self.input_std.copy_(torch.tensor([float(v) for v in std]).view(1, -1, 1, 1))

    def _check(self, x: torch.Tensor, sex: torch.Tensor | None) -> torch.Tensor | None:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must be (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        if min(x.shape[2], x.shape[3]) < 75:
            raise ValueError(f"x must be at least 75x75 pixels for Inception-V3, got {tuple(x.shape[2:])}")
        if not self.use_sex:
            return None
        if sex is None:
            raise ValueError("this model uses sex: pass sex (1 = male, 0 = female) for each image")
        sex = sex.reshape(-1, 1).to(x.dtype)
        if sex.shape[0] != x.shape[0]:
            raise ValueError(f"sex must have one value per image ({x.shape[0]}), got {sex.shape[0]}")
        return sex

    def pooled(self, feats: torch.Tensor) -> torch.Tensor:
        return self.pool(feats).flatten(1)

    def head_from_pooled(self, pooled: torch.Tensor, sex: torch.Tensor | None) -> torch.Tensor:
        z = self.conv_dropout(pooled)
        if sex is not None:
            z = torch.cat([z, sex.to(z.dtype)], dim=1)
        h = self.head[:-1](z)
        # The last layer and the affine in float32 even under autocast: in bf16 the
        # output near 128 months would step by 0.5-1 month.
        with torch.autocast(device_type=h.device.type, enabled=False):
            out = self.head[-1](h.float()).squeeze(1)
            return out * self.age_scale.float() + self.age_offset.float()

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.input_mean.to(x.dtype)) / self.input_std.to(x.dtype)

    def forward(self, x: torch.Tensor, sex: torch.Tensor | None = None) -> torch.Tensor:
        sex = self._check(x, sex)
        return self.head_from_pooled(self.pooled(self.features(self.standardize(x))), sex)
