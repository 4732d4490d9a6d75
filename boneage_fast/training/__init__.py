"""Training: configurations S1-S5, preprocessing shared with inference, train loops,
checkpoints (safetensors + JSON model card)."""

from boneage_fast.training.config import PRESETS, TrainConfig, load_config

__all__ = ["PRESETS", "TrainConfig", "load_config"]
