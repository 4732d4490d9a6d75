"""The paper's learning system: hand detector, regressor, dynamic attention loss, RAM.

PyTorch and torchvision come with the default install; importing this package
without them raises an ImportError that says how to install them.
"""

try:
    import torch  # noqa: F401
    import torchvision  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError("boneage_fast.models needs PyTorch and torchvision: pip install boneage_fast "
                      "(they are part of the default install)") from exc

from boneage_fast.models.detector import HandDetector
from boneage_fast.models.loss import DynamicAttentionLoss, k_schedule
from boneage_fast.models.ram import ram, ram_overlay
from boneage_fast.models.regressor import BoneAgeRegressor

__all__ = ["BoneAgeRegressor", "DynamicAttentionLoss", "HandDetector", "k_schedule", "ram", "ram_overlay"]
