"""Training data that scales: an RSNA-layout folder is indexed (nothing decoded), each
image is decoded, (detected,) cropped and resized once -- in worker processes -- into a
crop cache on disk, and samples are read back from that cache one at a time. Resident
memory does not grow with the number of images.

The cache is a flat file of uint16 (S, S) crops plus a JSON index, named by a key that
hashes the crop settings, the box source (the detector's sha256, or boxes.csv's) and
every image's path, size and modification time: change any of them and a new cache is
built; an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from boneage_fast.data.datasets import IMAGE_SUFFIXES, _parse_bool
from boneage_fast.preprocess import AugmentParams, Preprocessor, augment_maps

Box = tuple[float, float, float, float]

CACHE_FORMAT = "boneage_fast.crop_cache/1"


@dataclass(frozen=True)
class Item:
    """One labelled image of a training folder (not decoded)."""

    id: str
    path: str
    boneage: float
    male: bool


def load_hand_boxes(folder: str) -> dict[str, Box]:
    path = os.path.join(folder, "boxes.csv")
    boxes: dict[str, Box] = {}
    if not os.path.isfile(path):
        return boxes
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("class") == "hand":
                boxes[row["id"]] = (float(row["x0"]), float(row["y0"]), float(row["x1"]), float(row["y1"]))
    return boxes


def index_folder(folder: str) -> tuple[list[Item], list[tuple[str, str, str]]]:
    """The labelled images of an RSNA-layout folder (``labels.csv`` + ``images/``), in
    CSV order, without decoding any; rows whose image file is missing are returned as
    ``(id, path, reason)``.

    Raises:
        FileNotFoundError: no labels.csv or images/ in the folder.
        ValueError: a malformed CSV (the line is named).
    """
    labels = os.path.join(folder, "labels.csv")
    images = os.path.join(folder, "images")
    if not os.path.isfile(labels):
        raise FileNotFoundError(f"{folder}: no labels.csv (expected the RSNA layout: labels.csv + images/)")
    if not os.path.isdir(images):
        raise FileNotFoundError(f"{folder}: no images/ folder (expected the RSNA layout: labels.csv + images/)")
    present = {}
    for name in os.listdir(images):
        stem, suf = os.path.splitext(name)
        if suf.lower() in IMAGE_SUFFIXES:
            present.setdefault(stem, name)
    items, missing = [], []
    with open(labels, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(line for line in f if not line.startswith("#"))
        cols = set(reader.fieldnames or [])
        if {"id", "boneage", "male"} - cols:
            raise ValueError(f"{labels}: missing column(s) {sorted({'id', 'boneage', 'male'} - cols)}; has {sorted(cols)}")
        for i, row in enumerate(reader, start=2):
            where = f"{labels} line {i}"
            rid = str(row["id"]).strip()
            try:
                age = float(row["boneage"])
            except ValueError:
                raise ValueError(f"{where}: boneage must be a number, got {row['boneage']!r}") from None
            if not 0 <= age <= 240:
                raise ValueError(f"{where}: boneage {age} is outside 0-240 months")
            male = _parse_bool(row["male"], where)
            name = present.get(rid)
            if name is None:
                missing.append((rid, os.path.join(images, rid + ".png"), "no such file"))
                continue
            items.append(Item(rid, os.path.join(images, name), age, male))
    return items, missing


def split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng([seed, 99]).permutation(n)
    n_val = max(1, int(round(n * val_fraction)))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


# ------------------------------------------------------------------ the crop cache
def _file_stamp(path: str) -> list[Any]:
    st = os.stat(path)
    return [os.path.abspath(path), st.st_size, st.st_mtime_ns]


def cache_key(items: Sequence[Item], settings: dict[str, Any], box_source: str) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"format": CACHE_FORMAT, "settings": settings, "boxes": box_source},
                        sort_keys=True).encode())
    for it in items:
        h.update(json.dumps([it.id, *_file_stamp(it.path)]).encode())
    return h.hexdigest()[:24]


class CropCache:
    """uint16 (S, S) crops in one flat file, read and written by offset (no mapping, so
    reading never inflates resident memory); ``index`` records, per item, whether it is
    done, its box and score, or why it failed."""

    def __init__(self, prefix: str, n: int, size: int) -> None:
        self.prefix, self.n, self.size = prefix, int(n), int(size)
        self.path = prefix + ".u16"
        self.index_path = prefix + ".json"
        self.item_bytes = self.size * self.size * 2
        self.index: dict[str, Any] = {"format": CACHE_FORMAT, "n": self.n, "size": self.size,
                                      "done": [False] * self.n, "boxes": [None] * self.n,
                                      "failed": {}, "seconds": 0.0}
        if os.path.isfile(self.index_path) and os.path.isfile(self.path):
            with open(self.index_path, encoding="utf-8") as f:
                idx = json.load(f)
            if idx.get("format") == CACHE_FORMAT and idx.get("n") == self.n and idx.get("size") == self.size:
                self.index = idx
        if not os.path.isfile(self.path) or os.path.getsize(self.path) != self.n * self.item_bytes:
            with open(self.path, "wb") as f:
                f.truncate(self.n * self.item_bytes)
        self._fd: int | None = None

    @property
    def complete(self) -> bool:
        return all(self.index["done"][i] or str(i) in self.index["failed"] for i in range(self.n))

    def _fd_rw(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR)
        return self._fd

    def write(self, i: int, crop: np.ndarray, box: Any) -> None:
        a = np.ascontiguousarray(crop, dtype=np.uint16)
        if a.shape != (self.size, self.size):
            raise ValueError(f"crop {i} has shape {a.shape}, expected {(self.size, self.size)}")
        os.pwrite(self._fd_rw(), a.tobytes(), i * self.item_bytes)
        self.index["done"][i] = True
        self.index["boxes"][i] = box

    def fail(self, i: int, reason: str) -> None:
        self.index["failed"][str(i)] = reason

    def read(self, i: int) -> np.ndarray:
        if not self.index["done"][i]:
            raise KeyError(f"crop {i} is not in the cache")
        # A fresh descriptor per process: forked data-loader workers must not share an offset.
        fd = os.open(self.path, os.O_RDONLY)
        try:
            buf = os.pread(fd, self.item_bytes, i * self.item_bytes)
        finally:
            os.close(fd)
        return np.frombuffer(buf, np.uint16).reshape(self.size, self.size)

    def flush(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
        tmp = self.index_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.index, f)
        os.replace(tmp, self.index_path)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __getstate__(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["_fd"] = None
        return d


# Worker side: each process loads the detector once.
_WORKER: dict[str, Any] = {}


def _init_worker(pre_dict: dict[str, Any] | None, detector_card: str | None, threads: int,
                 detector_size: int = 0) -> None:
    torch.set_num_threads(max(1, threads))
    from boneage_fast import set_num_threads

    set_num_threads(max(1, threads))
    _WORKER["pre"] = Preprocessor.from_dict(pre_dict) if pre_dict is not None else None
    _WORKER["detector_size"] = detector_size
    _WORKER["detector"] = None
    if detector_card:
        from boneage_fast.models.checkpoint import load_detector

        det, _ = load_detector(detector_card)
        _WORKER["detector"] = det


def _crop_one(job: tuple[int, str, Box | None]) -> tuple[int, np.ndarray | None, Any, str | None]:
    from boneage_fast.io import ImageReadError, read_image

    i, path, box = job
    pre: Preprocessor = _WORKER["pre"]
    try:
        pixels = read_image(path).pixels
    except ImageReadError as exc:
        return i, None, None, exc.reason
    score = None
    if pre.attention and box is None:
        det = _WORKER["detector"]
        if det is None:
            return i, None, None, "no hand box in boxes.csv and no detector in the config"
        box, score = det.detect(pixels)
        if box is None:
            return i, None, None, "no hand found by the detector"
    try:
        crop = pre.crop(pixels, box)
    except ValueError as exc:
        return i, None, None, str(exc)
    return i, crop, {"box": None if box is None else [round(float(v), 2) for v in box], "score": score}, None


def _detector_one(job: tuple[int, str, Box | None]) -> tuple[int, np.ndarray | None, Any, str | None]:
    from boneage_fast.io import ImageReadError, read_image
    from boneage_fast.preprocess import detector_input

    i, path, _ = job
    size = _WORKER["detector_size"]
    try:
        pixels = read_image(path).pixels
    except ImageReadError as exc:
        return i, None, None, exc.reason
    a, scale = detector_input(pixels, size)
    slot = np.zeros((size, size), np.uint16)
    slot[: a.shape[0], : a.shape[1]] = np.round(a * 65535.0).astype(np.uint16)
    return i, slot, {"hw": list(a.shape), "scale": scale}, None


def _fill(cache: CropCache, todo: list, work, init_args: tuple, workers: int, progress: bool, desc: str) -> None:
    from tqdm import tqdm

    t0 = time.time()
    bar = tqdm(total=len(todo), desc=desc, unit="img", disable=not progress)
    last_flush = time.time()
    try:
        if workers <= 0:
            _init_worker(*init_args)
            results = map(work, todo)
            pool = None
        else:
            import multiprocessing as mp

            # fork: works from scripts, notebooks and stdin alike; the workers run single-
            # threaded (init_args), so no OpenMP team crosses the fork.
            ctx = mp.get_context("fork")
            pool = ctx.Pool(workers, _init_worker, init_args)
            results = pool.imap_unordered(work, todo, chunksize=4)
        try:
            for i, crop, meta, reason in results:
                if crop is None:
                    cache.fail(i, reason or "unknown error")
                else:
                    cache.write(i, crop, meta)
                bar.update()
                if time.time() - last_flush > 30:
                    cache.flush()
                    last_flush = time.time()
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
    finally:
        bar.close()
        cache.index["seconds"] = round(cache.index.get("seconds", 0.0) + time.time() - t0, 1)
        cache.flush()
        cache.close()


def _todo(cache: CropCache, jobs: list) -> list:
    return [j for j in jobs if not cache.index["done"][j[0]] and str(j[0]) not in cache.index["failed"]]


def build_crop_cache(items: Sequence[Item], pre: Preprocessor, cache_dir: str, boxes: dict[str, Box] | None = None,
                     detector_card: str | None = None, workers: int = 0, progress: bool = True) -> CropCache:
    """Crops of every item, computed once and kept on disk under ``cache_dir``.

    Boxes come from ``detector_card`` when given (the regressor then trains on the crops
    it will see at inference), else from ``boxes`` (boxes.csv); S1 (no attention) needs
    neither. Unreadable images and images without a hand are recorded in
    ``cache.index["failed"]`` and left out; nothing else is lost.

    Args:
        workers: decoding/cropping processes (0: in this process).
    """
    from boneage_fast.models.checkpoint import read_card

    if pre.attention and detector_card:
        box_source = "detector:" + read_card(detector_card)["sha256"]
    elif pre.attention:
        box_source = "boxes.csv:" + hashlib.sha256(json.dumps(sorted((boxes or {}).items())).encode()).hexdigest()
    else:
        box_source = "whole-image"
    os.makedirs(cache_dir, exist_ok=True)
    key = cache_key(items, pre.crop_settings(), box_source)
    cache = CropCache(os.path.join(cache_dir, f"crops_{key}"), len(items), pre.input_size)
    if not cache.complete:
        use_boxes = pre.attention and not detector_card
        jobs = [(i, it.path, (boxes or {}).get(it.id) if use_boxes else None) for i, it in enumerate(items)]
        threads = torch.get_num_threads() if workers <= 0 else 1
        _fill(cache, _todo(cache, jobs), _crop_one,
              (pre.to_dict(), detector_card if pre.attention else None, threads), workers, progress, "crop cache")
    return cache


def build_detector_cache(items: Sequence[Item], image_size: int, cache_dir: str, workers: int = 0,
                         progress: bool = True) -> CropCache:
    """The detector's inputs (:func:`boneage_fast.preprocess.detector_input`) of every
    item, padded into ``image_size`` squares on disk; ``index["boxes"][i]`` holds the
    input's height/width and scale."""
    os.makedirs(cache_dir, exist_ok=True)
    key = cache_key(items, {"detector_input": image_size, "version": 1}, "none")
    cache = CropCache(os.path.join(cache_dir, f"detector_{key}"), len(items), image_size)
    if not cache.complete:
        jobs = [(i, it.path, None) for i, it in enumerate(items)]
        threads = torch.get_num_threads() if workers <= 0 else 1
        _fill(cache, _todo(cache, jobs), _detector_one, (None, None, threads, image_size), workers, progress,
              "detector inputs")
    return cache


# ------------------------------------------------------------------ samples
class MapDataset(torch.utils.data.Dataset):
    """(maps, sex, age, brightness) samples read one at a time from a crop cache.

    Training samples get the paper's augmentation (geometric -> fine map -> brightness,
    :func:`boneage_fast.preprocess.augment_maps`), drawn from ``(seed, epoch, index)``
    so a run is reproducible whatever the number of loader workers. With
    ``coarse_only`` the fine map is left to the batch's device
    (:meth:`Preprocessor.add_fine`) and the brightness factor is returned so it can be
    applied after it (:func:`finish_batch`).
    """

    def __init__(self, cache: CropCache, rows: np.ndarray, ages: np.ndarray, males: np.ndarray, pre: Preprocessor,
                 train: bool, seed: int = 0, coarse_only: bool = False, strength: float = 1.0) -> None:
        self.cache, self.rows, self.ages, self.males, self.pre = cache, np.asarray(rows), ages, males, pre
        self.train, self.seed, self.coarse_only, self.strength = train, seed, coarse_only, strength
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, j: int):
        i = int(self.rows[j])
        crop = self.cache.read(i)
        bright = 1.0
        if self.train:
            p = AugmentParams.draw(np.random.default_rng([self.seed, self.epoch, i]), self.pre.input_size,
                                   self.strength)
            maps = augment_maps(self.pre, self.pre.coarse_from_crop(crop), p, self.coarse_only)
            if self.coarse_only:
                bright = p.brightness
        elif self.coarse_only:
            maps = self.pre.coarse_from_crop(crop)[None]
        else:
            maps = self.pre.maps_from_crop(crop)
        return (torch.from_numpy(np.ascontiguousarray(maps)), torch.tensor(float(self.males[j])),
                torch.tensor(float(self.ages[j])), torch.tensor(float(bright)))


def finish_batch(maps: torch.Tensor, brightness: torch.Tensor, pre: Preprocessor | None) -> torch.Tensor:
    """Adds the fine map on the batch's device (when ``pre`` is given: the coarse-only
    loader path), then applies each sample's brightness factor to its coarse channel."""
    if pre is not None:
        maps = pre.add_fine(maps)
        b = brightness.to(maps.device, maps.dtype).view(-1, 1, 1)
        maps = torch.cat([maps[:, :1] * b[:, None], maps[:, 1:]], dim=1)
    return maps
