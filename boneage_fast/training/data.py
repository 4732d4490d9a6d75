"""Training data: an RSNA-layout folder (labels.csv + images/ [+ boxes.csv]) turned into
cached coarse maps; the fine map is computed per sample after augmentation with the
same CPU kernel inference uses."""

from __future__ import annotations

import csv
import os
from typing import Any

import numpy as np
import torch

from boneage_fast.data.datasets import Record, RSNADataset
from boneage_fast.training.preprocess import Preprocessor, augment


def load_hand_boxes(folder: str) -> dict[str, tuple[float, float, float, float]]:
    path = os.path.join(folder, "boxes.csv")
    boxes: dict[str, tuple[float, float, float, float]] = {}
    if not os.path.isfile(path):
        return boxes
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("class") == "hand":
                boxes[row["id"]] = (float(row["x0"]), float(row["y0"]), float(row["x1"]), float(row["y1"]))
    return boxes


def load_records(folder: str) -> tuple[list[Record], list[tuple[str, str, str]]]:
    """Records of an RSNA-layout folder, skipping (and returning) unreadable images.

    Raises:
        FileNotFoundError: no labels.csv or images/ in the folder.
    """
    labels = os.path.join(folder, "labels.csv")
    images = os.path.join(folder, "images")
    if not os.path.isfile(labels):
        raise FileNotFoundError(f"{folder}: no labels.csv (expected the RSNA layout: labels.csv + images/)")
    ds = RSNADataset(labels, images, on_error="skip")
    return list(ds), ds.skipped


def split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng([seed, 99]).permutation(n)
    n_val = max(1, int(round(n * val_fraction)))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


class MapDataset(torch.utils.data.Dataset):
    """(maps, sex, age) samples; coarse maps cached once (float16), fine maps computed
    after augmentation."""

    def __init__(self, coarse: np.ndarray, ages: np.ndarray, males: np.ndarray, pre: Preprocessor,
                 train: bool, seed: int = 0, coarse_only: bool = False) -> None:
        self.coarse, self.ages, self.males, self.pre, self.train, self.seed = coarse, ages, males, pre, train, seed
        self.coarse_only = coarse_only  # the fine map is added on the batch's device
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.ages)

    def __getitem__(self, i: int):
        c = self.coarse[i].astype(np.float32)
        if self.train:
            c = augment(c, np.random.default_rng([self.seed, self.epoch, i]))
        maps = c[None] if self.coarse_only else self.pre.maps(c)
        return torch.from_numpy(np.ascontiguousarray(maps)), torch.tensor(float(self.males[i])), torch.tensor(float(self.ages[i]))


def build_coarse(records: list[Record], pre: Preprocessor, boxes: dict[str, Any], detector=None,
                 progress: bool = True) -> np.ndarray:
    from tqdm import tqdm

    out = np.empty((len(records), pre.input_size, pre.input_size), np.float16)
    for j, r in enumerate(tqdm(records, desc="preprocess", unit="img", disable=not progress)):
        box = None
        if pre.attention:
            if detector is not None:
                box, _ = detector.detect(r.image.pixels)
                if box is None:
                    h, w = r.image.shape
                    box = (0.0, 0.0, float(w), float(h))
            else:
                box = boxes.get(r.id)
                if box is None:
                    raise ValueError(f"image {r.id}: no hand box in boxes.csv and no detector in the config")
        out[j] = pre.coarse(r.image.pixels, box)
    return out
