"""The fast path for grey PNGs (ISA-L inflate + C++ unfiltering) gives exactly what
Pillow gives, for every filter type at 8 and 16 bits, and hands everything else
(colour, palette, transparency, interlacing, bad CRCs, short data) to Pillow.

Files are written by a small encoder here that picks each row's filter type (Pillow's
encoder chooses its own), filtering with NumPy from the PNG specification."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from boneage_fast import _C
from boneage_fast.io import ImageReadError, _read_pillow, _read_png_grey, read_image


def _paeth(a, b, c):
    a, b, c = (x.astype(np.int64) for x in (a, b, c))
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_png(path, a: np.ndarray, filters, *, interlace=0, extra=b"", level=6):
    """A grey PNG of ``a`` (uint8 or uint16) with row y filtered by ``filters[y % len]``."""
    depth = 16 if a.dtype == np.uint16 else 8
    bpp = depth // 8
    rows = a.astype(">u2").view(np.uint8).reshape(a.shape[0], -1) if depth == 16 else a.reshape(a.shape[0], -1)
    rows = rows.astype(np.int64)
    out = bytearray()
    for y in range(rows.shape[0]):
        x = rows[y]
        up = rows[y - 1] if y else np.zeros_like(x)
        left = np.concatenate([np.zeros(bpp, np.int64), x[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int64), up[:-bpp]])
        f = filters[y % len(filters)]
        pred = {0: 0, 1: left, 2: up, 3: (left + up) // 2, 4: _paeth(left, up, upleft)}[f]
        out.append(f)
        out += ((x - pred) % 256).astype(np.uint8).tobytes()
    ihdr = struct.pack(">IIBBBBB", a.shape[1], a.shape[0], depth, 0, 0, 0, interlace)
    data = zlib.compress(bytes(out), level)
    half = len(data) // 2  # two IDAT chunks, as large files have
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + extra + _chunk(b"IDAT", data[:half])
                     + _chunk(b"IDAT", data[half:]) + _chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("filters", [[0], [1], [2], [3], [4], [4, 3, 2, 1, 0], [1, 4]])
def test_every_filter_type_decodes_to_the_stored_values(tmp_path, rng, dtype, filters):
    hi = np.iinfo(dtype).max
    a = rng.integers(0, hi + 1, size=(37, 53)).astype(dtype)
    a[5:9, 10:30] = hi  # flat runs and extremes next to noise
    a[20, :] = 0
    p = write_png(tmp_path / "f.png", a, filters)
    assert np.array_equal(np.asarray(Image.open(p)).astype(dtype), a)  # the encoder is right
    fast = _read_png_grey(str(p))
    assert fast is not None
    want = _read_pillow(str(p))
    np.testing.assert_array_equal(fast.pixels, want.pixels)
    assert fast.bits == want.bits and fast.metadata == want.metadata
    np.testing.assert_array_equal(read_image(p).pixels, want.pixels)


def test_pillow_written_files_take_the_fast_path(tmp_path, rng):
    for a in (rng.integers(0, 65536, (300, 220)).astype(np.uint16), rng.integers(0, 256, (64, 96)).astype(np.uint8)):
        Image.fromarray(a).save(tmp_path / "p.png")
        fast = _read_png_grey(str(tmp_path / "p.png"))
        assert fast is not None
        np.testing.assert_array_equal(fast.pixels, _read_pillow(str(tmp_path / "p.png")).pixels)


def test_other_pngs_are_left_to_pillow(tmp_path, rng):
    grey = rng.integers(0, 256, (40, 50)).astype(np.uint8)
    Image.fromarray(np.stack([grey] * 3, -1)).save(tmp_path / "rgb.png")
    Image.fromarray(grey).convert("P").save(tmp_path / "pal.png")
    Image.fromarray(grey).save(tmp_path / "trns.png", transparency=7)
    write_png(tmp_path / "lace.png", grey, [0], interlace=1)
    for name in ("rgb.png", "pal.png", "trns.png", "lace.png"):
        assert _read_png_grey(str(tmp_path / name)) is None, name
    for name in ("rgb.png", "pal.png", "trns.png"):  # and read as before
        np.testing.assert_array_equal(read_image(tmp_path / name).pixels, _read_pillow(str(tmp_path / name)).pixels)


def test_damaged_files_are_not_decoded_by_the_fast_path(tmp_path, rng):
    a = rng.integers(0, 65536, (40, 50)).astype(np.uint16)
    data = write_png(tmp_path / "ok.png", a, [4, 1]).read_bytes()
    i = data.index(b"IDAT") + 20
    bad_crc = data[:i] + bytes([data[i] ^ 0x55]) + data[i + 1:]  # payload changed, CRC not
    (tmp_path / "crc.png").write_bytes(bad_crc)
    (tmp_path / "short.png").write_bytes(data[: len(data) - 30])
    (tmp_path / "noend.png").write_bytes(data[: data.index(b"IEND") - 4])
    for name in ("crc.png", "short.png", "noend.png"):
        assert _read_png_grey(str(tmp_path / name)) is None, name
    for name in ("crc.png", "short.png"):
        with pytest.raises(ImageReadError) as e:  # Pillow reports it
            read_image(tmp_path / name)
        assert name in str(e.value)
    np.testing.assert_array_equal(read_image(tmp_path / "noend.png").pixels, a)  # Pillow tolerates a lost IEND
    # A complete stream with fewer rows than the header says: refused (Pillow pads with black).
    short_rows = zlib.compress(b"\x00" + b"\x01" * 100)
    (tmp_path / "len.png").write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 50, 40, 16, 0, 0, 0, 0))
                                       + _chunk(b"IDAT", short_rows) + _chunk(b"IEND", b""))
    assert np.asarray(Image.open(tmp_path / "len.png")).shape == (40, 50)  # Pillow's silent padding
    with pytest.raises(ImageReadError, match="needs 4040") as e:
        read_image(tmp_path / "len.png")
    assert "len.png" in str(e.value)


@pytest.mark.parametrize("kwargs, match", [
    (dict(raw=b"\x00" * 10, height=3, width=3, bit_depth=8), "expected 12"),
    (dict(raw=b"\x07" + b"\x00" * 3, height=1, width=3, bit_depth=8), "unknown filter type 7"),
    (dict(raw=b"\x00" * 4, height=1, width=3, bit_depth=12), "bit depth"),
    (dict(raw=b"", height=0, width=3, bit_depth=8), "bad size"),
])
def test_unfilter_checks_its_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _C.png_unfilter(swap16=True, **kwargs)
