"""Training configurations, including the paper's S1-S5 as named presets.

| preset | input | loss |
|---|---|---|
| S1 | the raw image (whole, no matching), Inception-V3, no sex | MAE |
| S2 | + histogram matching, detector crop (coarse) and Hessian map (fine) | MAE |
| S3 | + attention loss, fixed k | AMAE, k = k_start |
| S4 | + dynamic attention loss | AMAE, k from k_start down to 1 |
| S5 | full method: S4 + sex concatenated to the pooled features | dynamic AMAE |
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainConfig:
    name: str = "S5"
    attention: bool = True  # histogram matching + crop (coarse) + Hessian (fine) maps
    use_sex: bool = True
    loss: str = "dynamic"  # "mae" | "fixed" | "dynamic"
    k_start: float = 2.0
    input_size: int = 512
    margin: float = 0.08
    sigmas: list[float] = field(default_factory=lambda: [1.0, 2.0, 3.0])
    epochs: int = 30
    batch_size: int = 16
    # The recipe that learns (docs/results.md): AdamW, one-cycle schedule (warm-up then
    # cosine decay), inputs standardised inside the model. The paper's optimiser is
    # {"optimizer": "adam", "lr": 0.01, "schedule": "constant", "weight_decay": 0}.
    optimizer: str = "adamw"  # "adamw" | "adam"
    lr: float = 1e-3  # peak learning rate of the schedule
    schedule: str = "onecycle"  # "onecycle" | "constant"
    warmup: float = 0.25  # fraction of the steps spent warming up (onecycle)
    weight_decay: float = 1e-4
    dropout: float = 0.5
    init: str = "pytorch"  # "pytorch" | "torchvision" | "paper" (see BoneAgeRegressor)
    augment_strength: float = 1.0  # scales the paper's augmentation ranges (1 = +-20 deg, 0.2, 0.2, 0.8-1.2)
    augment: bool = True
    val_fraction: float = 0.15
    seed: int = 0
    workers: int = 0  # data-loader worker processes
    cache_workers: int | None = None  # processes building the crop cache (None: as many as workers)
    detector: str | None = None  # model card of a HandDetector; None: use boxes.csv hand boxes
    fine_on_device: bool = False  # compute fine maps per batch on the training device (CUDA kernel)
    cache_dir: str | None = None  # crop cache; None: DATA/.boneage_cache
    bn_batches: int = 20  # training batches for the precise-BN re-estimate before validation

    def validate(self) -> TrainConfig:
        errors = []
        if self.loss not in ("mae", "fixed", "dynamic"):
            errors.append(f"loss must be 'mae', 'fixed' or 'dynamic', got {self.loss!r}")
        if not self.k_start >= 1:
            errors.append(f"k_start must be >= 1, got {self.k_start}")
        if not 75 <= self.input_size <= 1024:
            errors.append(f"input_size must be in [75, 1024], got {self.input_size}")
        if not 0 <= self.margin <= 0.5:
            errors.append(f"margin must be in [0, 0.5], got {self.margin}")
        if not self.sigmas or any(not (0 < s <= 50) for s in self.sigmas):
            errors.append(f"sigmas must be non-empty values in (0, 50], got {self.sigmas}")
        if self.epochs < 1:
            errors.append(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 2:
            errors.append(f"batch_size must be >= 2 (batch norm), got {self.batch_size}")
        if not self.lr > 0:
            errors.append(f"lr must be positive, got {self.lr}")
        if self.optimizer not in ("adamw", "adam"):
            errors.append(f"optimizer must be 'adamw' or 'adam', got {self.optimizer!r}")
        if self.schedule not in ("onecycle", "constant"):
            errors.append(f"schedule must be 'onecycle' or 'constant', got {self.schedule!r}")
        if not 0 < self.warmup < 1:
            errors.append(f"warmup must be in (0, 1), got {self.warmup}")
        if not self.weight_decay >= 0:
            errors.append(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.init not in ("pytorch", "torchvision", "paper"):
            errors.append(f"init must be 'pytorch', 'torchvision' or 'paper', got {self.init!r}")
        if not 0 <= self.augment_strength <= 1:
            errors.append(f"augment_strength must be in [0, 1], got {self.augment_strength}")
        if self.bn_batches < 1:
            errors.append(f"bn_batches must be >= 1, got {self.bn_batches}")
        if not 0 <= self.dropout < 1:
            errors.append(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 < self.val_fraction < 1:
            errors.append(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.workers < 0:
            errors.append(f"workers must be >= 0, got {self.workers}")
        if self.cache_workers is not None and self.cache_workers < 0:
            errors.append(f"cache_workers must be >= 0, got {self.cache_workers}")
        if errors:
            raise ValueError(f"invalid training config {self.name!r}: " + "; ".join(errors))
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    "S1": dict(name="S1", attention=False, use_sex=False, loss="mae"),
    "S2": dict(name="S2", attention=True, use_sex=False, loss="mae"),
    "S3": dict(name="S3", attention=True, use_sex=False, loss="fixed"),
    "S4": dict(name="S4", attention=True, use_sex=False, loss="dynamic"),
    "S5": dict(name="S5", attention=True, use_sex=True, loss="dynamic"),
}


def load_config(spec: str | None = None, **overrides: Any) -> TrainConfig:
    """A preset name (S1-S5), a JSON file (optionally ``{"preset": "S5", ...}``), or None
    (S5); then ``overrides``.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: unknown preset or keys, invalid values, malformed JSON.
    """
    base: dict[str, Any] = dict(PRESETS["S5"])
    if spec:
        if spec.upper() in PRESETS:
            base = dict(PRESETS[spec.upper()])
        elif os.path.exists(spec):
            try:
                with open(spec, encoding="utf-8") as f:
                    data = json.load(f)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{spec}: not valid JSON ({exc})") from None
            if not isinstance(data, dict):
                raise ValueError(f"{spec}: a config must be a JSON object")
            preset = data.pop("preset", None)
            if preset is not None:
                if str(preset).upper() not in PRESETS:
                    raise ValueError(f"{spec}: unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
                base = dict(PRESETS[str(preset).upper()])
            base.update(data)
        elif spec.endswith(".json"):
            raise FileNotFoundError(f"{spec}: config file not found")
        else:
            raise ValueError(f"unknown config {spec!r}: a preset ({', '.join(PRESETS)}) or a JSON file")
    base.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(base) - known)
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; known: {sorted(known)}")
    return TrainConfig(**base).validate()
