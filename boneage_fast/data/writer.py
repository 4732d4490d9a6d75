"""Write a phantom dataset in the RSNA layout: ``labels.csv`` (id, boneage, male, then
rater_boneage, chronological_age, hard_case, pixel_spacing_mm, height, width, seed),
``boxes.csv`` (id, class, x0, y0, x1, y1; class ``hand`` or an ossification ROI) and
``images/<id>.png`` (or ``.dcm``)."""

from __future__ import annotations

import csv
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from boneage_fast.data.datasets import sample_rsna_ages

FORMATS = ("png16", "png8", "dicom")
LABEL_COLUMNS = ("id", "boneage", "male", "rater_boneage", "chronological_age", "hard_case",
                 "pixel_spacing_mm", "height", "width", "seed")


def _write_dicom(path: str, image: np.ndarray, spacing: float, pid: str) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID, ds.BodyPartExamined = "CR", pid, "HAND"
    ds.Rows, ds.Columns = image.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelSpacing = [round(spacing, 6), round(spacing, 6)]
    ds.PixelData = image.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)


def _render_one(args: tuple[int, float, bool, int, tuple[int, int] | None, str, str, bool, float, str]
                ) -> dict[str, Any]:
    from PIL import Image

    from boneage_fast.data.phantom import render

    i, age, male, seed, size, fmt, out_dir, clean, size_scale, style = args
    s = render(age, male, seed=seed, size=size, size_scale=size_scale, bits=8 if fmt == "png8" else 16,
               nuisance=not clean, style=style)
    rid = f"{i:06d}"
    if fmt == "dicom":
        _write_dicom(os.path.join(out_dir, "images", rid + ".dcm"), s.image, s.pixel_spacing_mm, rid)
    else:
        Image.fromarray(s.image).save(os.path.join(out_dir, "images", rid + ".png"), compress_level=1)
    return {"id": rid, **s.labels(), "boxes": [("hand", *s.hand_box)] + [tuple(b) for b in s.roi_boxes]}


def write_phantom_dataset(out_dir: str, n: int, seed: int = 0, size: tuple[int, int] | None = None,
                          fmt: str = "png16", workers: int = 1, progress: bool = True, clean: bool = False,
                          ages: Any = None, males: Any = None, size_scale: float = 1.0, style: str = "v3") -> str:
    """Render ``n`` phantoms whose ages and sexes follow the RSNA training distribution
    (``clean=True``: upright, centred, no acquisition nuisance); ``ages``/``males``
    give the labels explicitly instead; ``size_scale`` scales the random clinical sizes
    (``size=None``); ``style`` picks the phantom generation (``v1``, ``v2``, ``v3``: see
    :func:`boneage_fast.data.phantom.render`).

    Returns:
        The path of ``labels.csv``.

    Raises:
        ValueError: bad n, format, workers or style.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    from boneage_fast.data.phantom import STYLES

    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    if ages is None or males is None:
        ages, males = sample_rsna_ages(n, np.random.default_rng([seed, 7]))
    ages, males = np.asarray(ages, dtype=float), np.asarray(males, dtype=bool)
    if ages.shape != (n,) or males.shape != (n,):
        raise ValueError(f"ages and males must hold n = {n} values each")
    if not 0.1 <= size_scale <= 1.5:
        raise ValueError(f"size_scale must be in [0.1, 1.5], got {size_scale}")
    jobs = [(i, float(ages[i]), bool(males[i]), seed * 1_000_003 + i, size, fmt, out_dir, clean, size_scale, style)
            for i in range(n)]
    from tqdm import tqdm

    bar = tqdm(total=n, desc="phantoms", unit="img", disable=not progress)
    results = []
    if workers == 1:
        for j in jobs:
            results.append(_render_one(j))
            bar.update()
    else:
        with ProcessPoolExecutor(workers) as pool:
            for r in pool.map(_render_one, jobs, chunksize=8):
                results.append(r)
                bar.update()
    bar.close()
    labels = os.path.join(out_dir, "labels.csv")
    with open(labels, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(LABEL_COLUMNS)
        for r in results:
            w.writerow([r[c] for c in LABEL_COLUMNS])
    with open(os.path.join(out_dir, "boxes.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("id", "class", "x0", "y0", "x1", "y1"))
        for r in results:
            for cls, x0, y0, x1, y1 in r["boxes"]:
                w.writerow((r["id"], cls, f"{x0:.1f}", f"{y0:.1f}", f"{x1:.1f}", f"{y1:.1f}"))
    return labels


def link_dataset(out_dir: str, entries: list[dict[str, Any]], boxes: dict[str, list[dict[str, Any]]] | None = None
                 ) -> str:
    """An RSNA-layout folder whose images are symbolic links to existing files, for
    subsets, cross-validation folds or many entries over few files without copying.

    Args:
        out_dir: the folder to write (``labels.csv``, ``images/<id><suffix>``, and
            ``boxes.csv`` when ``boxes`` is given); existing links are kept.
        entries: one dict per row: ``id``, ``image`` (the source file) and the label
            columns (``boneage``, ``male``, ...), written in the first entry's order.
        boxes: optional rows of ``boxes.csv`` per *new* id (``class, x0, y0, x1, y1``).

    Returns:
        ``out_dir``.
    """
    if not entries:
        raise ValueError("entries is empty: a dataset needs at least one image")
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    columns = ["id"] + [k for k in entries[0] if k not in ("id", "image")]
    with open(os.path.join(out_dir, "labels.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for e in entries:
            src = os.path.realpath(e["image"])
            link = os.path.join(out_dir, "images", str(e["id"]) + os.path.splitext(src)[1])
            if not os.path.lexists(link):
                os.symlink(src, link)
            w.writerow(e)
    if boxes is not None:
        with open(os.path.join(out_dir, "boxes.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["id", "class", "x0", "y0", "x1", "y1"], extrasaction="ignore")
            w.writeheader()
            for e in entries:
                for b in boxes.get(str(e["id"]), []):
                    w.writerow({**b, "id": e["id"]})
    return out_dir
