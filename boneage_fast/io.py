"""Readers for real radiographs: PNG (8/16-bit), JPEG, TIFF, DICOM and NumPy arrays.

Every reader returns a :class:`Radiograph`: 2-D ``uint16`` pixels where larger means
brighter (bone is bright, MONOCHROME2), plus metadata. 8-bit images are scaled by 257
(0..255 -> 0..65535) so that all sources share one range; DICOM pixels go through the
modality LUT (rescale slope/intercept), then the VOI LUT or window, then MONOCHROME1 is
inverted, and the result is mapped linearly onto 0..65535.

Bad files raise :class:`ImageReadError` (a ``ValueError``) naming the file and the reason.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ImageReadError", "Radiograph", "read_image", "from_array", "MIN_SIDE", "MAX_SIDE"]

#: Smallest and largest accepted side, in pixels (hand radiographs are ~800-4000 px).
MIN_SIDE = 32
MAX_SIDE = 16384

_DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")


class ImageReadError(ValueError):
    """A file that cannot be read as a radiograph; the message names file and reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass
class Radiograph:
    """A grey radiograph ready for the pipeline.

    Attributes:
        pixels: 2-D uint16, bright = dense (MONOCHROME2).
        source: the file path, or ``"<array>"``.
        bits: significant bits of the source pixels (8, 16, or DICOM BitsStored).
        pixel_spacing_mm: (row, column) spacing in millimetres when the file gives it.
        metadata: format-specific extras (format, original mode/photometric, ...).
    """

    pixels: np.ndarray
    source: str
    bits: int
    pixel_spacing_mm: tuple[float, float] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.pixels.shape)  # type: ignore[return-value]


def _check_size(path: str, height: int, width: int) -> None:
    if height < MIN_SIDE or width < MIN_SIDE:
        raise ImageReadError(path, f"image is {width}x{height} pixels; at least {MIN_SIDE}x{MIN_SIDE} is needed")
    if height > MAX_SIDE or width > MAX_SIDE:
        raise ImageReadError(path, f"image is {width}x{height} pixels, too large: at most {MAX_SIDE} per side is accepted")


def _to_uint16(path: str, a: np.ndarray) -> tuple[np.ndarray, int]:
    """Grey array of any numeric dtype -> (uint16, significant bits)."""
    if a.dtype == np.uint8:
        return a.astype(np.uint16) * np.uint16(257), 8
    if a.dtype == np.uint16:
        return a, 16
    if a.dtype.kind in "iu" and a.size and a.min() >= 0 and a.max() <= 65535:
        return a.astype(np.uint16), 16
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ImageReadError(path, "pixels contain NaN or Inf")
    lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        return np.zeros(a.shape, np.uint16), 16
    return np.round((a - lo) / (hi - lo) * 65535.0).astype(np.uint16), 16


def from_array(array: Any, source: str = "<array>") -> Radiograph:
    """Wrap a NumPy-compatible 2-D grey (or H x W x 3/4 colour) array.

    Raises:
        ImageReadError: wrong dimensions, size out of range, or non-finite values.
    """
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        a = a[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])  # ITU-R 601 luma
        if np.asarray(array).dtype == np.uint8:
            a = np.round(a).astype(np.uint8)
    if a.ndim != 2:
        raise ImageReadError(source, f"image must be 2-D grey or H x W x 3/4 colour, got shape {a.shape}")
    if a.dtype.kind not in "uif" or a.dtype == bool:
        raise ImageReadError(source, f"unsupported pixel type {a.dtype}")
    _check_size(source, a.shape[0], a.shape[1])
    pixels, bits = _to_uint16(source, a)
    return Radiograph(np.ascontiguousarray(pixels), source, bits, None, {"format": "array"})


def read_image(path: str | bytes | os.PathLike[str]) -> Radiograph:
    """Read a radiograph file (PNG, JPEG, TIFF, BMP by content; DICOM by content or suffix).

    Raises:
        ImageReadError: missing, empty, truncated, corrupt or non-image file; DICOM
            without pixel data or with an undecodable transfer syntax; size out of range.
    """
    if isinstance(path, bytes):
        path = os.fsdecode(path)  # a file name given as bytes (os.listdir(b"...") gives those)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str, bytes or os.PathLike file name, got {type(path).__name__}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageReadError(path, "no such file")
    if os.path.isdir(path):
        raise ImageReadError(path, "is a directory, not an image file")
    if os.path.getsize(path) == 0:
        raise ImageReadError(path, "file is empty")
    with open(path, "rb") as f:
        head = f.read(132)
    dicom = head[128:132] == b"DICM" or path.lower().endswith(_DICOM_SUFFIXES)
    try:
        if dicom:
            return _read_dicom(path)
        if head.startswith(_PNG_SIGNATURE):
            fast = _read_png_grey(path)
            if fast is not None:
                return fast
        return _read_pillow(path)
    except ImageReadError:
        raise
    except _DECODER_FAILURES as exc:  # any other decoder failure, incl. pydicom's lazy parsing
        if isinstance(exc, _NOT_DECODER_FAILURES):
            raise
        what = "corrupt DICOM file" if dicom else "corrupt or truncated image data"
        raise ImageReadError(path, f"{what} ({type(exc).__name__}: {str(exc)[:200]})") from None


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _inflate(data: bytes, size: int) -> bytes | None:
    """zlib data -> at most ``size + 1`` bytes (ISA-L's inflate when installed: ~2x zlib's);
    ``None`` when the stream is broken or goes on past ``size + 1`` bytes."""
    try:
        from isal import isal_zlib as z
    except ImportError:  # pragma: no cover - isal is a dependency; zlib is the fallback
        import zlib as z
    try:
        d = z.decompressobj()
        out = d.decompress(data, size + 1)
        return out if d.eof and not d.unconsumed_tail else None
    except Exception:  # noqa: BLE001 - any inflate failure: Pillow decodes and reports
        return None


def _read_png_grey(path: str) -> Radiograph | None:
    """The fast path for the common radiograph file, a non-interlaced 8- or 16-bit grey
    PNG: chunk CRCs checked, IDAT inflated with ISA-L, rows unfiltered in C++
    (``benchmarks/test_bench_read.py``: about twice Pillow's speed on clinical 16-bit files).

    Returns ``None`` for anything else or anything unexpected (other colour types,
    interlacing, a bad CRC, a broken stream ...): Pillow then decodes the file, or
    reports what is wrong with it. The pixels equal Pillow's (tested). A complete stream
    with fewer rows than the header promises is an error here (Pillow pads with black).

    Raises:
        ImageReadError: the image data does not fill the image."""
    import struct
    import zlib

    with open(path, "rb") as f:
        data = f.read()
    pos, idat, header = 8, [], None
    try:
        while pos + 12 <= len(data):
            (n,) = struct.unpack_from(">I", data, pos)
            kind = data[pos + 4:pos + 8]
            end = pos + 8 + n
            if end + 4 > len(data):
                return None
            body = data[pos + 8:end]
            if zlib.crc32(body, zlib.crc32(kind)) != struct.unpack_from(">I", data, end)[0]:
                return None
            if header is None:
                if kind != b"IHDR" or n != 13:
                    return None
                header = struct.unpack(">IIBBBBB", body)
            elif kind == b"IDAT":
                idat.append(body)
            elif kind == b"IEND":
                break
            elif kind in (b"PLTE", b"tRNS"):  # palette or transparency: Pillow's conversion
                return None
            pos = end + 4
        else:
            return None  # no IEND
    except struct.error:
        return None
    width, height, depth, colour, compression, filtering, interlace = header
    if colour != 0 or depth not in (8, 16) or compression or filtering or interlace or not idat:
        return None
    _check_size(path, height, width)
    size = height * (1 + width * depth // 8)
    raw = _inflate(b"".join(idat), size)
    if raw is None:
        return None  # a broken stream: Pillow reports it
    if len(raw) != size:  # Pillow would fill the missing rows with black, silently
        raise ImageReadError(path, f"corrupt image data: {len(raw)} bytes after decompression, the "
                                   f"{width}x{height} {depth}-bit header needs {size}")
    from boneage_fast import _C

    try:
        a = _C.png_unfilter(raw, height, width, depth, sys.byteorder == "little")
    except ValueError:
        return None
    pixels, bits = _to_uint16(path, a)
    return Radiograph(pixels, path, bits, None, {"format": "PNG", "mode": "I;16" if depth == 16 else "L"})


# Decoders fail on damaged data in many ways: Pillow and pydicom with assorted Python
# exceptions, pylibjpeg-rle (Rust, through pyo3) with a PanicException that derives from
# BaseException. Each becomes an ImageReadError naming the file; an interrupt, a
# SystemExit or running out of memory is not a property of the file and passes through.
_DECODER_FAILURES = BaseException
_NOT_DECODER_FAILURES = (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)


def _read_pillow(path: str) -> Radiograph:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            width, height = im.size
            _check_size(path, height, width)
            mode = im.mode
            fmt = im.format
            im.load()
            if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
                a = np.asarray(im, dtype=np.uint16)
            elif mode in ("I", "F"):
                a = np.asarray(im)
            elif mode == "L":
                a = np.asarray(im, dtype=np.uint8)
            else:  # RGB, RGBA, P, LA, 1, CMYK, YCbCr ...: Pillow's luma conversion
                a = np.asarray(im.convert("L"), dtype=np.uint8)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(path, "not a recognised image file (PNG, JPEG, TIFF, BMP or DICOM)") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(path, f"image is too large to decode safely ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(path, f"corrupt or truncated image data ({exc})") from None
    pixels, bits = _to_uint16(path, a)
    return Radiograph(np.ascontiguousarray(pixels), path, bits, None, {"format": fmt, "mode": mode})


def _read_dicom(path: str) -> Radiograph:
    try:
        import pydicom
        from pydicom.errors import InvalidDicomError
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError as exc:  # pragma: no cover - pydicom is a dependency
        raise ImportError("reading DICOM needs pydicom (a dependency): pip install pydicom") from exc
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError as exc:
        raise ImageReadError(path, f"not a valid DICOM file ({exc})") from None
    except _DECODER_FAILURES as exc:  # pydicom raises many types on corrupt input
        if isinstance(exc, _NOT_DECODER_FAILURES):
            raise
        raise ImageReadError(path, f"corrupt DICOM file ({type(exc).__name__}: {exc})") from None
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise ImageReadError(path, "DICOM file has no pixel data")
    rows, cols = int(ds.get("Rows", 0)), int(ds.get("Columns", 0))
    _check_size(path, rows, cols)
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        raise ImageReadError(path, f"multi-frame DICOM ({ds.NumberOfFrames} frames) is not a single radiograph")
    try:
        raw = ds.pixel_array
    except _DECODER_FAILURES as exc:
        if isinstance(exc, _NOT_DECODER_FAILURES):
            raise
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "unknown")
        raise ImageReadError(path, f"cannot decode pixel data (transfer syntax {ts}): {exc}") from None
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        if raw.ndim == 3 and raw.shape[-1] in (3, 4):
            raw = raw[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        else:
            raise ImageReadError(path, f"unsupported photometric interpretation {photometric}")
        values = raw
    else:
        values = apply_modality_lut(raw, ds)
        if "VOILUTSequence" in ds or "WindowCenter" in ds:
            if values.dtype.kind == "f" and np.array_equal(values, np.round(values)):
                values = values.astype(np.int64)  # a LUT is indexed by integers
            values = apply_voi_lut(values, ds)
        values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ImageReadError(path, f"pixel data has shape {values.shape}, expected a 2-D image")
    if photometric == "MONOCHROME1":  # after windowing: bright = dense
        values = values.max() + values.min() - values
    pixels, _ = _to_uint16(path, values.astype(np.float64))
    meta = {"format": "DICOM", "photometric": photometric,
            "transfer_syntax": str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", ""))}
    spacing_mm, note = _dicom_spacing(ds)
    if note:
        meta["pixel_spacing_note"] = note
    try:
        bits = int(ds.get("BitsStored", 16) or 16)
    except (TypeError, ValueError):
        bits = 16
    return Radiograph(np.ascontiguousarray(pixels), path, bits, spacing_mm, meta)


def _dicom_spacing(ds: Any) -> tuple[tuple[float, float] | None, str | None]:
    """(row, column) spacing in mm from PixelSpacing, else ImagerPixelSpacing; ``None``
    with a note when both are missing or unusable (one value, zero, negative, not a
    number, absurd). The image is still read: spacing is informative, not required."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        try:
            value = ds.get(keyword)
        except Exception:  # noqa: BLE001 - pydicom may fail to parse a malformed DS
            return None, f"{keyword} cannot be parsed"
        if value is None or value == "":
            continue
        try:
            items = [value] if isinstance(value, (str, bytes, float, int)) else list(value)
            mm = tuple(float(v) for v in items)
        except (TypeError, ValueError):
            return None, f"{keyword} {value!r} is not numeric"
        if len(mm) != 2 or not all(np.isfinite(v) and 0.005 <= v <= 5.0 for v in mm):
            return None, f"{keyword} {value!r} is not two spacings between 0.005 and 5 mm"
        return (mm[0], mm[1]), None
    return None, None
