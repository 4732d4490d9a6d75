"""Property-based fuzzing (Hypothesis) of the two ops and the readers.

Every generated case must end in the right result or a documented exception
(``TypeError``/``ValueError`` from the ops, ``ImageReadError`` from the readers) --
never another exception, a crash or a hang.

The default suite runs a short deterministic slice (``derandomize=True``, a few dozen
examples per test). The long runs are the same checks with many random examples, marked
``fuzz`` and skipped unless ``BONEAGE_FUZZ_EXAMPLES`` is set::

    BONEAGE_FUZZ_EXAMPLES=2000 pytest python_tests/test_fuzz.py -m fuzz
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from boneage_fast.io import ImageReadError, Radiograph, read_image  # noqa: E402
from boneage_fast.ops import ReferenceHistogram, hessian_enhance, match_histograms  # noqa: E402

import _reference as ref  # noqa: E402

LONG = int(os.environ.get("BONEAGE_FUZZ_EXAMPLES", "0") or 0)
_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SHORT = settings(max_examples=40, derandomize=True, **_common)
LONG_SETTINGS = settings(max_examples=max(LONG, 1), derandomize=False, **_common)
long_run = [pytest.mark.fuzz, pytest.mark.skipif(not LONG, reason="long fuzz run: set BONEAGE_FUZZ_EXAMPLES=N")]


def _both(check, strategy_args):
    """A short deterministic test and a long marked one from one check."""
    short = SHORT(given(**strategy_args)(check))
    long = LONG_SETTINGS(given(**strategy_args)(check))
    for mark in long_run:
        long = mark(long)
    return short, long


# ------------------------------------------------------------------ op inputs
_shapes = st.tuples(st.integers(1, 48), st.integers(1, 48))
_dtypes = st.sampled_from(["uint8", "uint16", "float32", "float64", "int16", "int32", "bool", "float16"])
_specials = st.sampled_from(["none", "nan", "inf", "-inf", "constant", "huge"])


@st.composite
def op_images(draw):
    """Arrays of many dtypes and shapes, some non-contiguous (step / transpose / negative
    stride), some with NaN/Inf, constant or extreme values."""
    dtype = np.dtype(draw(_dtypes))
    h, w = draw(_shapes)
    view = draw(st.sampled_from(["c", "step", "transpose", "flip"]))
    big = (2 * h, 2 * w) if view == "step" else (w, h) if view == "transpose" else (h, w)
    a = draw(hnp.arrays(dtype, big, elements=_elements(dtype)))
    special = draw(_specials)
    if special == "constant":
        a[...] = a.flat[0] if a.size else 0
    elif special in ("nan", "inf", "-inf", "huge") and dtype.kind == "f":
        i = draw(st.integers(0, a.size - 1))
        a.flat[i] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "huge": np.finfo(dtype).max}[special]
    if view == "step":
        a = a[::2, ::2]
    elif view == "transpose":
        a = a.T
    elif view == "flip":
        a = a[::-1, ::-1]
    return a


def _elements(dtype):
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return st.integers(int(info.min), int(info.max))
    return st.floats(-1e4, 1e4, allow_nan=False, width=dtype.itemsize * 8)


_sigma = st.one_of(st.floats(-1, 60), st.sampled_from([float("nan"), float("inf"), 0.0, 50.0, 1e-3]))
_sigmas = st.one_of(
    _sigma,
    st.lists(_sigma, min_size=0, max_size=18),
    st.just([1, 1, 2]),
    st.just("2"),
)

_OP_DTYPES = ("uint8", "uint16", "float32")


def _is_valid_image(a) -> bool:
    if a.dtype.name not in _OP_DTYPES:
        return False
    return a.dtype.kind != "f" or bool(np.isfinite(a).all())


def _valid_sigmas(s) -> list[float] | None:
    if isinstance(s, str):
        return None
    vals = [s] if isinstance(s, float) else list(s)
    if not 1 <= len(vals) <= 16 or not all(np.isfinite(v) and 0 < v <= 50 for v in vals):
        return None
    return vals


def check_hessian(image, sigmas):
    sig = _valid_sigmas(sigmas)
    try:
        got = hessian_enhance(image, sigmas if sig is None else [s for s in sig])
    except (TypeError, ValueError) as exc:
        assert not (_is_valid_image(image) and sig is not None), f"valid input refused: {exc}"
        return
    assert _is_valid_image(image) and sig is not None, "invalid input accepted"
    assert got.shape == image.shape and got.dtype == np.float32 and got.flags.c_contiguous
    assert np.isfinite(got).all() and got.min() >= 0 and got.max() <= 1
    # A view gives what its contiguous copy gives; a flat image gives exactly 0.
    np.testing.assert_array_equal(got, hessian_enhance(np.ascontiguousarray(image), sig))
    if image.size and (image == image.flat[0]).all():
        assert not got.any()
    # The result does not depend on the order or repetition of the scales.
    np.testing.assert_array_equal(got, hessian_enhance(np.ascontiguousarray(image), sorted(set(sig))[::-1]))


test_hessian_fuzz, test_hessian_fuzz_long = _both(check_hessian, {"image": op_images(), "sigmas": _sigmas})


_reference_images = st.tuples(st.integers(1, 32), st.integers(1, 32)).flatmap(
    lambda s: hnp.arrays(np.uint16, s, elements=st.integers(0, 65535)))


def check_match(image, reference):
    h = ReferenceHistogram.from_image(reference)
    try:
        got = match_histograms(image, h)
    except (TypeError, ValueError) as exc:
        assert not _is_valid_image(image), f"valid input refused: {exc}"
        return
    assert _is_valid_image(image), "invalid input accepted"
    assert got.shape == image.shape and got.dtype == np.float32 and got.flags.c_contiguous
    lo, hi = h.value_range
    assert np.isfinite(got).all() and got.min() >= lo and got.max() <= hi
    c = np.ascontiguousarray(image)
    np.testing.assert_array_equal(got, match_histograms(c, h))
    x = c.reshape(-1).astype(np.float64)
    order = np.argsort(x, kind="stable")
    assert (np.diff(got.reshape(-1)[order].astype(np.float64)) >= -1e-3 * max(abs(lo), abs(hi), 1)).all()  # monotone
    scale = max(abs(lo), abs(hi), 1.0)
    if image.dtype.kind == "u":  # exact CDF matching, against the float64 reference
        np.testing.assert_allclose(got, ref.match_integer(c, h.values, h.quantiles), rtol=0, atol=1e-6 * scale)
    else:
        np.testing.assert_allclose(got, ref.match_float(c, h.values, h.quantiles), rtol=0, atol=1e-4 * scale)


test_match_fuzz, test_match_fuzz_long = _both(check_match, {"image": op_images(), "reference": _reference_images})


# ------------------------------------------------------------------ readers
def _encode(kind: str, rng: np.random.Generator) -> bytes:
    from PIL import Image

    h, w = int(rng.integers(32, 80)), int(rng.integers(32, 80))
    a8 = rng.integers(0, 256, (h, w)).astype(np.uint8)
    a16 = (rng.integers(0, 4096, (h, w)) * 16).astype(np.uint16)
    buf = io.BytesIO()
    if kind == "png8":
        Image.fromarray(a8).save(buf, format="PNG")
    elif kind == "png16":
        Image.fromarray(a16).save(buf, format="PNG")
    elif kind == "jpeg":
        Image.fromarray(a8).save(buf, format="JPEG", quality=85)
    elif kind == "tiff":
        Image.fromarray(a16).save(buf, format="TIFF", compression="tiff_deflate")
    elif kind == "bmp":
        Image.fromarray(a8).save(buf, format="BMP")
    else:
        return _dicom_bytes(kind, a16 >> 4)
    return buf.getvalue()


def _dicom_bytes(kind: str, a12: np.ndarray) -> bytes:
    from _dicom import dicom_dataset
    from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

    ds = dicom_dataset(a12.shape, PixelSpacing=[0.1, 0.1])
    syntax = {"dicom": None, "dicom-rle": RLELossless, "dicom-jls": JPEGLSLossless, "dicom-j2k": JPEG2000Lossless}[kind]
    if syntax is None:
        ds.PixelData = a12.astype("<u2").tobytes()
    else:
        ds.compress(syntax, a12.astype(np.uint16))
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


_ALL_KINDS = ["png8", "png16", "jpeg", "tiff", "bmp", "dicom", "dicom-rle", "dicom-jls", "dicom-j2k"]


def _seeds() -> tuple[dict[str, bytes], dict[str, str]]:
    """One valid file of each kind whose encoder is installed. The JPEG-LS and JPEG 2000
    encoders come with the test extras (pyjpegls, pylibjpeg-openjpeg); a machine
    without them (the lent GPU machine, 2026-12-04) got a RuntimeError from pydicom at
    collection, which stopped the whole run. A missing one is skipped by name in
    test_every_truncation_prefix_of_every_format and left out of the random draws."""
    seeds, missing = {}, {}
    for i, k in enumerate(_ALL_KINDS):
        try:
            seeds[k] = _encode(k, np.random.default_rng(i))
        except (ImportError, RuntimeError, NotImplementedError) as e:
            missing[k] = f"{type(e).__name__}: {e}"[:200]
    return seeds, missing


_SEEDS, _MISSING = _seeds()
_KINDS = list(_SEEDS)



@st.composite
def damaged_files(draw):
    kind = draw(st.sampled_from(_KINDS))
    data = bytearray(_SEEDS[kind])
    how = draw(st.sampled_from(["truncate", "flip", "splice", "both"]))
    if how in ("flip", "both"):
        for _ in range(draw(st.integers(1, 12))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
    if how == "splice":
        i = draw(st.integers(0, len(data) - 1))
        data[i:i + draw(st.integers(1, 64))] = draw(st.binary(min_size=0, max_size=64))
    if how in ("truncate", "both"):
        data = data[: draw(st.integers(0, len(data)))]
    suffix = ".dcm" if kind.startswith("dicom") else "." + kind.rstrip("0123456789")
    return kind, bytes(data), suffix


def check_reader(case, tmp_path_factory):
    kind, data, suffix = case
    path = tmp_path_factory.mktemp("fz") / f"x{suffix}"
    path.write_bytes(data)
    try:
        r = read_image(path)
    except ImageReadError as exc:
        assert str(path) in str(exc) or path.name in str(exc)
        return
    assert isinstance(r, Radiograph)
    assert r.pixels.dtype == np.uint16 and r.pixels.ndim == 2 and min(r.pixels.shape) >= 32


_reader_short = SHORT(given(case=damaged_files())(check_reader))
_reader_long = LONG_SETTINGS(given(case=damaged_files())(check_reader))


def test_reader_fuzz(tmp_path_factory):
    _reader_short(tmp_path_factory=tmp_path_factory)


@pytest.mark.fuzz
@pytest.mark.skipif(not LONG, reason="long fuzz run: set BONEAGE_FUZZ_EXAMPLES=N")
def test_reader_fuzz_long(tmp_path_factory):
    _reader_long(tmp_path_factory=tmp_path_factory)


@pytest.mark.parametrize("kind", _ALL_KINDS)
def test_every_truncation_prefix_of_every_format(tmp_path, kind):
    """Deterministic: the file cut at 24 evenly spaced points (every header region)."""
    if kind in _MISSING:
        pytest.skip(f"no {kind} encoder here: {_MISSING[kind]}")
    data = _SEEDS[kind]
    factory = _Factory(tmp_path)
    for n in np.unique(np.linspace(0, len(data) - 1, 24).astype(int)):
        check_reader((kind, data[:n], ".dcm" if kind.startswith("dicom") else ".img"), factory)


class _Factory:
    def __init__(self, root):
        self.root, self.n = root, 0

    def mktemp(self, name):
        self.n += 1
        d = self.root / f"{name}{self.n}"
        d.mkdir()
        return d
