"""Checkpoints: weights as safetensors, described by a JSON model card (config, data,
metrics, preprocessing, sha256 of the weights)."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import torch

FORMAT = "boneage_fast.model/1"


class CheckpointError(ValueError):
    """A model card or its weights cannot be used; the message names the file."""


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_checkpoint(model: torch.nn.Module, card_path: str, card: dict[str, Any]) -> str:
    """Write ``<name>.safetensors`` beside ``card_path`` (``<name>.json``) and the card.
    Returns the card path."""
    from safetensors.torch import save_file

    if not card_path.endswith(".json"):
        raise ValueError(f"card_path must end in .json, got {card_path!r}")
    weights = card_path[:-5] + ".safetensors"
    os.makedirs(os.path.dirname(os.path.abspath(card_path)), exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, weights)
    card = {**card, "format": FORMAT, "weights": os.path.basename(weights), "sha256": sha256_of(weights)}
    with open(card_path, "w", encoding="utf-8") as f:
        json.dump(card, f, indent=2)
    return card_path


def read_card(card_path: str) -> dict[str, Any]:
    if not os.path.isfile(card_path):
        raise CheckpointError(f"{card_path}: model card not found")
    try:
        with open(card_path, encoding="utf-8") as f:
            card = json.load(f)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{card_path}: not valid JSON ({exc})") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise CheckpointError(f"{card_path}: not a boneage_fast model card (format {FORMAT!r})")
    return card


def load_weights(card_path: str, card: dict[str, Any] | None = None) -> dict[str, torch.Tensor]:
    """The state dict of a card, after checking the weights' sha256.

    Raises:
        CheckpointError: missing/unreadable card or weights, or a sha256 mismatch.
    """
    from safetensors.torch import load_file

    card = card or read_card(card_path)
    weights = os.path.join(os.path.dirname(os.path.abspath(card_path)), card["weights"])
    if not os.path.isfile(weights):
        raise CheckpointError(f"{weights}: weights file not found (named by {card_path})")
    digest = sha256_of(weights)
    if digest != card.get("sha256"):
        raise CheckpointError(f"{weights}: sha256 {digest} does not match the model card's {card.get('sha256')}")
    return load_file(weights)


def _load_kind(card_path: str, kind: str, build):
    card = read_card(card_path)
    if card.get("kind") != kind:
        raise CheckpointError(f"{card_path}: a {card.get('kind')!r} card, expected a {kind}")
    model = build(**card["model"])
    model.load_state_dict(load_weights(card_path, card))
    model.eval()
    return model, card


def load_regressor(card_path: str):
    """(BoneAgeRegressor in eval mode, Preprocessor, card) from a model card."""
    from boneage_fast.models.regressor import BoneAgeRegressor
    from boneage_fast.training.preprocess import Preprocessor

    model, card = _load_kind(card_path, "regressor", BoneAgeRegressor)
    return model, Preprocessor.from_dict(card["preprocessing"]), card


def load_detector(card_path: str):
    """(HandDetector in eval mode, card) from a model card."""
    from boneage_fast.models.detector import HandDetector

    return _load_kind(card_path, "detector", HandDetector)
