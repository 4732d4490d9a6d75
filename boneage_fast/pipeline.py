"""End-to-end prediction: image (file, NumPy, torch or CuPy array) + sex -> bone age,
with the hand box, detector score, quality flags, per-stage timings and the model id.

Inference never imports the training code: the maps come from
:mod:`boneage_fast.preprocess`, the same module training uses.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from boneage_fast.io import ImageReadError, Radiograph, from_array, read_image

__all__ = ["Predictor", "Prediction", "NoHandFound", "ImageQualityError", "parse_sex", "predict",
           "default_model_dir", "LOW_SCORE", "NO_HAND_SCORE", "AGE_RANGE_MONTHS", "POLARITY_CONTRAST",
           "polarity_contrast"]

#: Detector score below which a found hand is flagged ``low_detector_score``.
LOW_SCORE = 0.5
#: Detector score below which there is no hand (``NoHandFound``), in either polarity.
NO_HAND_SCORE = 0.2
#: Ages outside this range (months) are flagged ``age_out_of_range`` (never clipped).
AGE_RANGE_MONTHS = (0.0, 228.0)
#: Below this palm-over-surroundings contrast (fraction of the 16-bit range) a detected
#: hand is taken for an inverted film. Measured: normal films 0.14-0.76 (40 phantoms of
#: both styles, the 57 real films of ../shared/realdata), inverted ones -0.75-0.03.
POLARITY_CONTRAST = 0.05


def polarity_contrast(pixels: np.ndarray, box) -> float | None:
    """Median of the hand box's centre (palm, metacarpals) minus the median of a thin
    band just outside its top, left and right sides, over the 16-bit range: positive on
    a radiograph (the hand attenuates), negative on an inverted one. None when either
    region is too small to say (a box against the image's edges)."""
    H, W = pixels.shape
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    palm = pixels[int(y0 + 0.3 * h):int(y1 - 0.3 * h):2, int(x0 + 0.3 * w):int(x1 - 0.3 * w):2]
    m = max(int(0.06 * max(w, h)), 2)
    band = [pixels[max(int(y0) - m, 0):int(y0), int(x0):int(x1)],
            pixels[int(y0):int(y1), max(int(x0) - m, 0):int(x0)],
            pixels[int(y0):int(y1), int(x1):min(int(x1) + m, W)]]
    ring = np.concatenate([b[::2, ::2].ravel() for b in band])
    if palm.size < 16 or ring.size < 16:
        return None
    return (float(np.median(palm)) - float(np.median(ring))) / 65535.0


class NoHandFound(ValueError):
    """The detector found no hand in the image (in either polarity)."""

    def __init__(self, source: str) -> None:
        super().__init__(f"{source}: no hand found in the image (detector score below threshold in both polarities)")
        self.source = source


class ImageQualityError(ValueError):
    """An image that cannot give a meaningful bone age (blank, flat, too small)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


def parse_sex(sex: Any) -> bool:
    """True for male. Accepts bool, 1/0, 'M'/'F', 'male'/'female', 'boy'/'girl' (any
    case, surrounding spaces ignored).

    Raises:
        ValueError: anything else (naming what was received).
    """
    if isinstance(sex, (bool, np.bool_)):
        return bool(sex)
    if isinstance(sex, (int, np.integer)) and not isinstance(sex, bool) and int(sex) in (0, 1):
        return bool(sex)
    if isinstance(sex, (float, np.floating)) and float(sex) in (0.0, 1.0):
        return bool(sex)
    if isinstance(sex, str):
        t = sex.strip().lower()
        if t in ("m", "male", "boy", "1"):
            return True
        if t in ("f", "female", "girl", "0"):
            return False
    raise ValueError(f"sex must be 'M'/'F', 'male'/'female', 1/0 or a bool, got {sex!r}")


@dataclass
class Prediction:
    """One image's result.

    Attributes:
        boneage_months: the estimate in months (float; never clipped).
        box: the hand box (x0, y0, x1, y1) in the image's pixels, or the box passed in.
        box_score: the detector's score (None when the box was passed in).
        flags: quality flags: ``low_detector_score``, ``inverted_polarity_corrected``,
            ``age_out_of_range``.
        timings_ms: per stage (read, detect, preprocess, regress, total).
        model_id: sha256 of the regressor's weights (the card's).
        heatmap: the RAM heatmap over the coarse map (input_size^2), when asked for.
        coarse_map: the coarse map (the hand crop the model saw), with the heatmap.
    """

    boneage_months: float
    box: tuple[float, float, float, float] | None
    box_score: float | None
    flags: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    model_id: str = ""
    sex: str = ""
    source: str = ""
    heatmap: np.ndarray | None = field(default=None, repr=False)
    coarse_map: np.ndarray | None = field(default=None, repr=False)

    @property
    def boneage_years(self) -> float:
        return self.boneage_months / 12.0

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "sex": self.sex, "boneage_months": round(self.boneage_months, 2),
                "boneage_years": round(self.boneage_years, 3),
                "box": None if self.box is None else [round(float(v), 1) for v in self.box],
                "box_score": None if self.box_score is None else round(self.box_score, 4), "flags": self.flags,
                "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()}, "model_id": self.model_id}


def default_model_dir() -> str:
    """The folder of the model that ships with the package (regressor.json +
    detector.json and their weights)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")


def resolve_device(device: str | None):
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str) or (device != "cpu" and not device.startswith("cuda")):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but torch sees no CUDA device")
    return torch.device(device)


def _to_radiograph(image: Any) -> Radiograph:
    if isinstance(image, Radiograph):
        return image
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    if isinstance(image, bytes):
        raise TypeError("image must be a path (str or os.PathLike), an array or a Radiograph, got bytes; "
                        "decode the bytes with os.fsdecode() if they are a file name")
    if hasattr(image, "detach") and hasattr(image, "cpu"):  # torch tensor
        return from_array(image.detach().cpu().numpy(), "<torch tensor>")
    if type(image).__module__.startswith("cupy"):
        import cupy

        return from_array(cupy.asnumpy(image), "<cupy array>")
    if isinstance(image, np.ndarray) or hasattr(image, "__array__"):
        return from_array(image)
    raise TypeError(f"image must be a path, a NumPy/torch/CuPy array or a Radiograph, got {type(image).__name__}")


def check_quality(rad: Radiograph) -> None:
    """Refuse images that cannot give a bone age: blank or flat ones (fewer than 0.1 %
    of the 16-bit range between the 1st and 99th percentile).

    Raises:
        ImageQualityError: naming the image and the reason.
    """
    p = rad.pixels
    step = max(1, int(np.sqrt(p.size / 65536)))
    sample = p[::step, ::step]
    lo, hi = np.percentile(sample, (1, 99))
    if hi - lo < 65.535:
        raise ImageQualityError(rad.source, f"image is blank or flat (1st-99th percentile span {hi - lo:.0f} "
                                            "of 65535): no hand to assess")


class Predictor:
    """Loads the hand detector and the regressor once and predicts many images.

    Args:
        model: the model to use: ``None`` for the model that ships with the package, a
            folder holding ``regressor.json`` and ``detector.json``, or a regressor
            card (``best.json``) -- then ``detector`` names its detector card.
        device: 'cpu', 'cuda', 'cuda:N' or 'auto' (CUDA when torch sees a GPU).
        backend: the regressor's runtime: 'torch', 'onnxruntime' (CPU), 'tensorrt'
            (CUDA, fp16 engine) or 'auto' -- ONNX Runtime on the CPU, TensorRT on CUDA
            when it is installed, PyTorch otherwise. The detector runs in PyTorch.
        precision: the regressor's arithmetic on CUDA: 'fp32', 'bf16' or 'fp16'
            (autocast; the head's last layer stays float32). Default 'fp32' everywhere:
            on one H200 (2026-12-04, shipped model, 16 phantom films, batch 1) fp32 gave
            ages within 0.095 months of the CPU's and took 8.4 ms to regress, bf16 0.451
            months and 17.9 ms. The CPU always computes in float32.
        compile: ``torch.compile`` the regressor (CUDA; the first call of each batch
            size then takes a while). Default False.
        max_batch: the most images :meth:`predict_batch` sends through the regressor at
            once (default 16 on the CPU, 64 on CUDA).
        detector: a detector card for a regressor card given as ``model``.
        allow_other_detector: accept a detector whose sha256 differs from the one the
            regressor was trained with (its card's ``detector_sha256``); by default
            that is refused, because the regressor learned on that detector's crops.

    Raises:
        CheckpointError: missing or tampered weights, wrong kinds, mismatched detector.
        ValueError: a bad device or backend.
    """

    def __init__(self, model: str | os.PathLike[str] | None = None, device: str = "auto", backend: str = "auto", *,
                 precision: str | None = None, compile: bool = False, max_batch: int | None = None,
                 detector: str | os.PathLike[str] | None = None, allow_other_detector: bool = False) -> None:
        import torch

        from boneage_fast.models.checkpoint import CheckpointError, load_regressor, read_card

        if backend not in ("auto", "torch", "onnxruntime", "tensorrt"):
            raise ValueError(f"backend must be 'auto', 'torch', 'onnxruntime' or 'tensorrt', got {backend!r}")
        self.device = resolve_device(device)
        cuda = self.device.type == "cuda"
        self.precision = precision or "fp32"
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise ValueError(f"precision must be 'fp32', 'bf16' or 'fp16', got {precision!r}")
        if self.precision != "fp32" and not cuda:
            raise ValueError(f"precision {self.precision!r} needs a CUDA device; the CPU computes in fp32")
        self.max_batch = int(max_batch) if max_batch is not None else (64 if cuda else 16)
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        model = default_model_dir() if model is None else os.fspath(model)
        if os.path.isdir(model):
            reg_card = os.path.join(model, "regressor.json")
            det_card = os.path.join(model, "detector.json") if detector is None else os.fspath(detector)
            if not os.path.isfile(reg_card):
                raise CheckpointError(f"{model}: no regressor.json in the model folder")
        else:
            reg_card, det_card = model, None if detector is None else os.fspath(detector)
        self.model, self.pre, self.card = load_regressor(reg_card)
        self.model.to(self.device).to(memory_format=torch.channels_last)
        self._forward = torch.compile(self.model) if compile else self.model
        self.model_id = str(self.card.get("sha256", ""))
        self.backend = self._choose_backend(backend, cuda)
        self._runtime = None
        if self.backend == "onnxruntime":
            from boneage_fast.runtime.onnx import OnnxRegressor, cached_onnx

            self._runtime = OnnxRegressor(cached_onnx(self.model, self.card, self.pre.input_size), self.model.use_sex,
                                          threads=torch.get_num_threads())
            self.model.to(memory_format=torch.channels_last)
        elif self.backend == "tensorrt":
            from boneage_fast.runtime.onnx import cached_onnx
            from boneage_fast.runtime.tensorrt import TensorRTRegressor, build_engine, engine_path

            path = engine_path(self.card, self.pre.input_size, self.max_batch)
            if not os.path.isfile(path):
                onnx = cached_onnx(self.model, self.card, self.pre.input_size)
                build_engine(onnx, path, self.pre.channels, self.pre.input_size, self.max_batch, self.model.use_sex)
            self._runtime = TensorRTRegressor(path, self.model.use_sex, self.max_batch)
            self.model.to(self.device)
        # The detector's card is checked now; its weights load on first use, so a
        # process that only regresses (the parent of `boneage score`'s workers) never
        # pays for them.
        self._detector = None
        self._detector_path: str | None = None
        self._detector_lock = threading.Lock()
        self.detector_card: dict[str, Any] | None = None
        if det_card is not None and os.path.isfile(det_card):
            self.detector_card = read_card(det_card)
            if self.detector_card.get("kind") != "detector":
                raise CheckpointError(f"{det_card}: a {self.detector_card.get('kind')!r} card, expected a detector")
            self._detector_path = det_card
            want = self.card.get("detector_sha256")
            got = self.detector_card.get("sha256")
            if want and got != want and not allow_other_detector:
                raise CheckpointError(
                    f"{det_card}: detector sha256 {got[:12]}... is not the one the regressor was trained with "
                    f"({want[:12]}...); pass allow_other_detector=True to use it anyway")
        elif det_card is not None:
            raise CheckpointError(f"{det_card}: detector model card not found")
        self._torch = torch

    @property
    def detector(self) -> Any:
        """The hand detector (loaded on first use), or ``None`` without a detector card."""
        if self._detector is None and self._detector_path is not None:
            with self._detector_lock:
                if self._detector is None:
                    from boneage_fast.models.checkpoint import load_detector

                    det, _ = load_detector(self._detector_path)
                    self._detector = det.to(self.device)
        return self._detector

    @staticmethod
    def _choose_backend(backend: str, cuda: bool) -> str:
        import importlib.util

        def have(mod: str) -> bool:
            return importlib.util.find_spec(mod) is not None

        if backend == "auto":
            if cuda:
                return "tensorrt" if have("tensorrt") else "torch"
            return "onnxruntime" if have("onnxruntime") else "torch"
        if backend == "onnxruntime" and cuda:
            raise ValueError("backend 'onnxruntime' runs on the CPU: use device='cpu' (or backend='tensorrt'/'torch')")
        if backend == "tensorrt" and not cuda:
            raise ValueError("backend 'tensorrt' needs a CUDA device")
        if backend == "onnxruntime" and not have("onnxruntime"):
            raise ImportError("backend 'onnxruntime' needs onnxruntime: pip install onnxruntime")
        if backend == "tensorrt" and not have("tensorrt"):
            raise ImportError("backend 'tensorrt' needs TensorRT: pip install 'boneage_fast[tensorrt]'")
        return backend

    # ------------------------------------------------------------------ stages
    def _detect(self, rad: Radiograph, flags: list[str]) -> tuple[tuple[float, float, float, float], float, np.ndarray]:
        pixels = rad.pixels
        box, score = self.detector.detect(pixels)
        # Inverted films (MONOCHROME1 read as MONOCHROME2, negatives): try the other
        # polarity when no hand is found, and also when one is found but its palm is
        # darker than its surroundings (a detector can find the hand in an inverted
        # film: the v2-trained one does, with scores of 0.8-0.99).
        found = box is not None and score >= LOW_SCORE
        contrast = polarity_contrast(pixels, box) if found else None
        if not found or (contrast is not None and contrast < POLARITY_CONTRAST):
            inv = np.uint16(65535) - pixels
            ibox, iscore = self.detector.detect(inv)
            if ibox is not None and iscore >= LOW_SCORE:
                if found:  # the other polarity must look like a radiograph
                    ic = polarity_contrast(inv, ibox)
                    better = ic is not None and ic >= POLARITY_CONTRAST
                else:
                    better = iscore > score
                if better:
                    flags.append("inverted_polarity_corrected")
                    return ibox, iscore, inv
        if box is None or score < NO_HAND_SCORE:
            raise NoHandFound(rad.source)
        if score < LOW_SCORE:
            flags.append("low_detector_score")
        return box, score, pixels

    def _regress(self, maps: np.ndarray, males: Sequence[bool | None]) -> np.ndarray:
        torch = self._torch
        out = []
        if self._runtime is not None:
            sex = np.array([1.0 if m else 0.0 for m in males], np.float32)
            for i in range(0, len(maps), self.max_batch):
                out.append(self._runtime(maps[i:i + self.max_batch], sex[i:i + self.max_batch]))
            return np.concatenate(out)
        for i in range(0, len(maps), self.max_batch):
            with torch.no_grad(), torch.autocast(self.device.type, dtype=_AMP[self.precision],
                                                 enabled=self.precision != "fp32"):
                x = torch.from_numpy(np.ascontiguousarray(maps[i:i + self.max_batch])).to(self.device)
                x = x.contiguous(memory_format=torch.channels_last)
                s = (torch.tensor([1.0 if m else 0.0 for m in males[i:i + self.max_batch]], device=self.device)
                     if self.model.use_sex else None)
                out.append(self._forward(x, s).float().cpu().numpy())
        return np.concatenate(out)

    def predict(self, image: Any, sex: Any = None, box: tuple[float, float, float, float] | None = None,
                heatmap: bool = False) -> Prediction:
        """Bone age of one image.

        Args:
            image: a file path (PNG/JPEG/TIFF/BMP/DICOM), a 2-D NumPy/torch/CuPy array
                (bright = bone) or a :class:`~boneage_fast.io.Radiograph`.
            sex: 'M'/'F', 'male'/'female', 1/0 or a bool (see :func:`parse_sex`); needed
                by models that use sex.
            box: a hand box (x0, y0, x1, y1) to use instead of the detector.
            heatmap: also return the RAM heatmap (``Prediction.heatmap``).

        Raises:
            ImageReadError: unreadable file. ImageQualityError: blank/flat image.
            NoHandFound: the detector found no hand. ValueError: a bad sex or box.
            TypeError: an unsupported image type.
        """
        maps, p = self._prepare(image, sex, box)
        t = time.perf_counter()
        age = float(self._regress(maps[None], [p.sex == "M" if p.sex else None])[0])
        p = self._finish(p, age, 1e3 * (time.perf_counter() - t))
        if heatmap:
            from boneage_fast.models.ram import ram

            torch = self._torch
            x = torch.from_numpy(maps[None]).to(self.device)
            s = torch.tensor([1.0 if p.sex == "M" else 0.0], device=self.device) if self.model.use_sex else None
            p.heatmap = ram(self.model, x, s)[0].cpu().numpy()
            p.coarse_map = maps[0]
        return p

    def predict_batch(self, images: Sequence[Any], sexes: Sequence[Any] | Any, on_error: str = "raise"
                      ) -> list[Prediction | Exception]:
        """Bone ages of many images; the regressor runs on batches of up to
        ``max_batch`` maps.

        Args:
            images: paths, arrays or Radiographs (as for :meth:`predict`).
            sexes: one per image, or one value for all.
            on_error: 'raise' (the first failure raises) or 'return' (a failed image's
                entry is its exception; the others are still predicted).

        Returns:
            One :class:`Prediction` (or exception, with ``on_error='return'``) per image,
            in order. Timings are per image; ``regress`` is its share of the batch.
        """
        if on_error not in ("raise", "return"):
            raise ValueError(f"on_error must be 'raise' or 'return', got {on_error!r}")
        images = list(images)
        if isinstance(sexes, (str, bytes, bool, int, float, np.generic)) or sexes is None:
            sexes = [sexes] * len(images)
        sexes = list(sexes)
        if len(sexes) != len(images):
            raise ValueError(f"sexes must hold one value per image ({len(images)}), got {len(sexes)}")
        results: list[Prediction | Exception | None] = [None] * len(images)
        ready: list[tuple[int, np.ndarray, Prediction]] = []
        for i, (image, sex) in enumerate(zip(images, sexes)):
            try:
                ready.append((i, *self._prepare(image, sex)))
            except (ValueError, TypeError) as exc:  # ImageReadError, NoHandFound, ImageQualityError ...
                if on_error == "raise":
                    raise
                results[i] = exc
        if ready:
            t = time.perf_counter()
            ages = self._regress(np.stack([m for _, m, _ in ready]),
                                 [p.sex == "M" if p.sex else None for _, _, p in ready])
            share = 1e3 * (time.perf_counter() - t) / len(ready)
            for (i, _, p), age in zip(ready, ages):
                results[i] = self._finish(p, float(age), share)
        return results  # type: ignore[return-value]

    def _prepare(self, image: Any, sex: Any, box: tuple[float, float, float, float] | None = None
                 ) -> tuple[np.ndarray, Prediction]:
        """Everything before the regressor: read, check, detect, maps."""
        t0 = time.perf_counter()
        male = self._sex(sex)
        rad = _to_radiograph(image)
        timings = {"read": 1e3 * (time.perf_counter() - t0)}
        check_quality(rad)
        flags: list[str] = []
        score = None
        pixels = rad.pixels
        if self.pre.attention and box is None:
            if self.detector is None:
                raise ValueError("this regressor crops the hand: load it with a detector card or pass a box")
            t = time.perf_counter()
            box, score, pixels = self._detect(rad, flags)
            timings["detect"] = 1e3 * (time.perf_counter() - t)
        t = time.perf_counter()
        maps = self.pre.maps(pixels, box)
        timings["preprocess"] = 1e3 * (time.perf_counter() - t)
        timings["total"] = 1e3 * (time.perf_counter() - t0)
        return maps, Prediction(float("nan"), box, score, flags, timings, self.model_id,
                                "" if male is None else ("M" if male else "F"), rad.source)

    def _finish(self, p: Prediction, age: float, regress_ms: float) -> Prediction:
        p.boneage_months = age
        p.timings_ms["regress"] = regress_ms
        p.timings_ms["total"] += regress_ms
        if not AGE_RANGE_MONTHS[0] <= age <= AGE_RANGE_MONTHS[1]:
            p.flags.append("age_out_of_range")
        return p

    def _sex(self, sex: Any) -> bool | None:
        if sex is None:
            if self.model.use_sex:
                raise ValueError("this model uses sex: pass sex='M' or 'F' (or 1/0, True/False)")
            return None
        return parse_sex(sex)


def predict(image: Any, sex: Any, *, model: str | os.PathLike[str] | None = None, device: str = "auto") -> Prediction:
    """Bone age of one image with the shipped model (or ``model``); see
    :meth:`Predictor.predict`. The predictor is built once per (model, device) and kept."""
    key = (None if model is None else os.path.abspath(os.fspath(model)), device)
    pr = _PREDICTORS.get(key)
    if pr is None:
        pr = _PREDICTORS[key] = Predictor(model, device)
    return pr.predict(image, sex)


_PREDICTORS: dict[tuple[str | None, str], Predictor] = {}


def _amp_dtypes() -> dict[str, Any]:
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class _LazyAmp(dict):
    def __missing__(self, key: str) -> Any:
        self.update(_amp_dtypes())
        return dict.__getitem__(self, key)


_AMP: dict[str, Any] = _LazyAmp()
_ = ImageReadError  # re-exported for callers catching read errors from predict()
