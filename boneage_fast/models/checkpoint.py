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


def _replace_atomically(path: str, write) -> None:
    """``write(tmp_path)`` then rename over ``path``: a crash leaves the old file or the
    new one, never half of one."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_torch_save(obj: Any, path: str) -> None:
    """``torch.save`` through a temporary file and an atomic rename."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    _replace_atomically(path, lambda tmp: torch.save(obj, tmp))


def save_checkpoint(model: torch.nn.Module, card_path: str, card: dict[str, Any], half: bool = False) -> str:
    """Write ``<name>.safetensors`` beside ``card_path`` (``<name>.json``) and the card,
    each through a temporary file and an atomic rename, the card last: a crash leaves
    either the previous pair or the new one loadable.

    Args:
        half: store floating-point parameters in float16 (buffers -- BatchNorm
            statistics, scales -- stay float32); loading converts back to float32.

    Returns the card path."""
    from safetensors.torch import save_file

    if not card_path.endswith(".json"):
        raise ValueError(f"card_path must end in .json, got {card_path!r}")
    folder = os.path.dirname(os.path.abspath(card_path))
    stem = os.path.basename(card_path)[:-5]
    os.makedirs(folder, exist_ok=True)
    params = {name for name, _ in model.named_parameters()}
    state = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu().contiguous()
        if half and k in params and v.is_floating_point():
            v = v.to(torch.float16)
        state[k] = v
    # The weights get a name of their own (stem + digest), so the card in place keeps
    # naming complete weights until the new card replaces it; older weights go last.
    tmp = os.path.join(folder, f".{stem}.{os.getpid()}.safetensors.tmp")
    try:
        save_file(state, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        digest = sha256_of(tmp)
        weights = os.path.join(folder, f"{stem}-{digest[:12]}.safetensors")
        os.replace(tmp, weights)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    card = {**card, "format": FORMAT, "weights": os.path.basename(weights), "sha256": digest,
            "weights_dtype": "float16" if half else "float32"}
    _replace_atomically(card_path, lambda t: _write_json(t, card))
    for name in os.listdir(folder):
        if name.startswith(stem + "-") and name.endswith(".safetensors") and name != os.path.basename(weights):
            if len(name) == len(stem) + 1 + 12 + len(".safetensors"):
                os.remove(os.path.join(folder, name))
    return card_path


def _write_json(path: str, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)


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
    try:
        state = load_file(weights)
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise CheckpointError(f"{weights}: not a readable safetensors file ({exc})") from None
    return {k: (v.float() if v.dtype == torch.float16 else v) for k, v in state.items()}


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
    from boneage_fast.preprocess import Preprocessor

    model, card = _load_kind(card_path, "regressor", BoneAgeRegressor)
    return model, Preprocessor.from_dict(card["preprocessing"]), card


def load_detector(card_path: str):
    """(HandDetector in eval mode, card) from a model card."""
    from boneage_fast.models.detector import HandDetector

    return _load_kind(card_path, "detector", HandDetector)
