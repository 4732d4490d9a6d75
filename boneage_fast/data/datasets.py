"""Datasets that all yield the same :class:`Record`: the RSNA layout (CSV + image
folder), a plain folder of images, and the phantom generated on the fly.

Long jobs must not stop on one bad file: with ``on_error="skip"`` a dataset records
``(id, path, reason)`` in :attr:`skipped` and goes on; ``on_error="raise"`` (default)
raises the :class:`~boneage_fast.io.ImageReadError`.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Iterator

import numpy as np

from boneage_fast.io import ImageReadError, Radiograph, read_image

__all__ = ["Record", "RSNADataset", "FolderDataset", "PhantomDataset", "sample_rsna_ages", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".dicom")


@dataclass
class Record:
    """One labelled (or unlabelled) radiograph."""

    id: str
    image: Radiograph
    boneage: float | None  # months; None when unlabelled
    male: bool | None
    extra: dict[str, Any] = field(default_factory=dict)


class _Skipping:
    def __init__(self, on_error: str) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.on_error = on_error
        self.skipped: list[tuple[str, str, str]] = []

    def _read(self, rid: str, path: str) -> Radiograph | None:
        try:
            return read_image(path)
        except ImageReadError as exc:
            if self.on_error == "raise":
                raise
            self.skipped.append((rid, path, exc.reason))
            return None


def _parse_bool(v: str, where: str) -> bool:
    t = str(v).strip().lower()
    if t in ("1", "true", "t", "m", "male", "yes"):
        return True
    if t in ("0", "false", "f", "female", "no"):
        return False
    raise ValueError(f"{where}: male must be true/false/1/0/M/F, got {v!r}")


class RSNADataset(_Skipping):
    """The RSNA layout: a CSV with columns ``id,boneage,male`` (extra columns kept in
    ``Record.extra``) and a folder with ``<id>.png`` (or any suffix in IMAGE_SUFFIXES).

    Raises:
        FileNotFoundError: missing CSV or folder.
        ValueError: CSV without the required columns or with unparsable values (the
            row is named).
    """

    def __init__(self, csv_path: str | os.PathLike[str], image_dir: str | os.PathLike[str], on_error: str = "raise") -> None:
        super().__init__(on_error)
        self.csv_path, self.image_dir = os.fspath(csv_path), os.fspath(image_dir)
        if not os.path.isfile(self.csv_path):
            raise FileNotFoundError(f"{self.csv_path}: label CSV not found")
        if not os.path.isdir(self.image_dir):
            raise FileNotFoundError(f"{self.image_dir}: image folder not found")
        with open(self.csv_path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(line for line in f if not line.startswith("#"))
            cols = set(reader.fieldnames or [])
            missing = {"id", "boneage", "male"} - cols
            if missing:
                raise ValueError(f"{self.csv_path}: missing column(s) {sorted(missing)}; has {sorted(cols)}")
            self.rows = []
            for i, row in enumerate(reader, start=2):
                where = f"{self.csv_path} line {i}"
                try:
                    age = float(row["boneage"])
                except ValueError:
                    raise ValueError(f"{where}: boneage must be a number, got {row['boneage']!r}") from None
                if not (0 <= age <= 240):
                    raise ValueError(f"{where}: boneage {age} is outside 0-240 months")
                self.rows.append((str(row["id"]).strip(), age, _parse_bool(row["male"], where),
                                  {k: v for k, v in row.items() if k not in ("id", "boneage", "male")}))

    def __len__(self) -> int:
        return len(self.rows)

    def _path(self, rid: str) -> str:
        for suf in IMAGE_SUFFIXES:
            p = os.path.join(self.image_dir, rid + suf)
            if os.path.exists(p):
                return p
        return os.path.join(self.image_dir, rid + ".png")

    def __iter__(self) -> Iterator[Record]:
        for rid, age, male, extra in self.rows:
            img = self._read(rid, self._path(rid))
            if img is not None:
                yield Record(rid, img, age, male, extra)


class FolderDataset(_Skipping):
    """Every image file in a folder (sorted), unlabelled."""

    def __init__(self, folder: str | os.PathLike[str], on_error: str = "raise") -> None:
        super().__init__(on_error)
        self.folder = os.fspath(folder)
        if not os.path.isdir(self.folder):
            raise FileNotFoundError(f"{self.folder}: image folder not found")
        self.paths = sorted(
            os.path.join(self.folder, n) for n in os.listdir(self.folder) if n.lower().endswith(IMAGE_SUFFIXES)
        )

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[Record]:
        for p in self.paths:
            rid = os.path.splitext(os.path.basename(p))[0]
            img = self._read(rid, p)
            if img is not None:
                yield Record(rid, img, None, None, {})


def _age_table() -> np.ndarray:
    text = resources.files("boneage_fast.data").joinpath("rsna_age_distribution.csv").read_text()
    rows = [r for r in csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))]
    return np.array([[float(r["age_from_months"]), float(r["age_to_months"]), float(r["male"]), float(r["count"])] for r in rows])


def sample_rsna_ages(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Bone ages (months) and sexes drawn from the RSNA training distribution (by sex and
    12-month bin, uniform inside a bin)."""
    t = _age_table()
    p = t[:, 3] / t[:, 3].sum()
    idx = rng.choice(len(t), size=n, p=p)
    ages = rng.uniform(t[idx, 0], t[idx, 1])
    return ages, t[idx, 2].astype(bool)


class PhantomDataset:
    """Phantoms rendered on the fly: item ``i`` is always the same image for a seed."""

    def __init__(self, n: int, seed: int = 0, size: tuple[int, int] | None = None, bits: int = 16,
                 style: str = "v3") -> None:
        from boneage_fast.data.phantom import STYLES

        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
        self.n, self.seed, self.size, self.bits, self.style = n, seed, size, bits, style
        self.ages, self.males = sample_rsna_ages(n, np.random.default_rng([seed, 1]))
        self.skipped: list[tuple[str, str, str]] = []

    def __len__(self) -> int:
        return self.n

    def sample(self, i: int):
        from boneage_fast.data.phantom import render

        if not 0 <= i < self.n:
            raise IndexError(f"phantom index {i} out of range 0..{self.n - 1}")
        return render(float(self.ages[i]), bool(self.males[i]), seed=self.seed * 1_000_003 + i, size=self.size, bits=self.bits,
                      style=self.style)

    def __iter__(self) -> Iterator[Record]:
        for i in range(self.n):
            s = self.sample(i)
            pix = s.image.astype(np.uint16) * np.uint16(257) if s.image.dtype == np.uint8 else s.image
            rad = Radiograph(pix, f"<phantom {i}>", self.bits, (s.pixel_spacing_mm,) * 2, {"format": "phantom"})
            yield Record(f"phantom{i:06d}", rad, s.boneage, s.male,
                         {**s.labels(), "hand_box": s.hand_box, "roi_boxes": s.roi_boxes})
