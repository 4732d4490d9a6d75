"""boneage_fast.io readers: round trips (PNG 8/16, TIFF, JPEG, colour, DICOM with rescale,
window and MONOCHROME1), every bad input, and the real images in ../shared/realdata."""

from __future__ import annotations

import glob
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from boneage_fast.io import ImageReadError, from_array, read_image

pydicom = pytest.importorskip("pydicom")
from _dicom import dicom_dataset  # noqa: E402
from pydicom.uid import JPEG2000Lossless, ExplicitVRLittleEndian  # noqa: E402


def _grey(rng, shape=(64, 80), hi=255, dtype=np.uint8):
    return rng.integers(0, hi + 1, size=shape).astype(dtype)


def write_dicom(path, pixels, photometric="MONOCHROME2", slope=None, intercept=None, window=None,
                with_pixels=True, transfer_syntax=ExplicitVRLittleEndian):
    ds = dicom_dataset(pixels.shape, photometric=photometric, Modality="CR", PixelSpacing=[0.143, 0.15])
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    if slope is not None:
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if with_pixels and transfer_syntax.is_compressed:
        from pydicom.encaps import encapsulate

        ds.PixelData = encapsulate([pixels.astype("<u2").tobytes()])  # not a valid codestream
    elif with_pixels:
        ds.PixelData = pixels.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _linear_u16(v):
    v = v.astype(np.float64)
    return np.round((v - v.min()) / (v.max() - v.min()) * 65535).astype(np.uint16)


def test_png8_round_trip(tmp_path, rng):
    a = _grey(rng)
    Image.fromarray(a).save(tmp_path / "a.png")
    r = read_image(tmp_path / "a.png")
    assert r.pixels.dtype == np.uint16 and r.bits == 8
    assert np.array_equal(r.pixels, a.astype(np.uint16) * 257)


@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_16bit_round_trip(tmp_path, rng, suffix):
    a = _grey(rng, hi=65535, dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / f"a.{suffix}")
    r = read_image(tmp_path / f"a.{suffix}")
    assert r.bits == 16 and np.array_equal(r.pixels, a)


def test_jpeg_is_read_close_to_original(tmp_path, rng):
    a = np.tile(np.linspace(0, 255, 80), (64, 1)).astype(np.uint8)
    Image.fromarray(a).save(tmp_path / "a.jpg", quality=95)
    r = read_image(tmp_path / "a.jpg")
    assert np.abs(r.pixels.astype(float) / 257 - a).max() < 8


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P"])
def test_colour_and_palette_become_grey(tmp_path, rng, mode):
    g = _grey(rng)
    im = Image.fromarray(g).convert(mode)
    im.save(tmp_path / "c.png")
    r = read_image(tmp_path / "c.png")
    assert r.pixels.shape == g.shape
    assert np.abs(r.pixels.astype(float) / 257 - g).max() <= 1


def test_dicom_rescale_and_spacing(tmp_path, rng):
    raw = _grey(rng, hi=4095, dtype=np.uint16)
    p = write_dicom(tmp_path / "a.dcm", raw, slope=2.0, intercept=-1024.0)
    r = read_image(p)
    assert r.pixel_spacing_mm == (0.143, 0.15) and r.bits == 12 and r.metadata["photometric"] == "MONOCHROME2"
    assert np.array_equal(r.pixels, _linear_u16(raw * 2.0 - 1024.0))


def test_dicom_monochrome1_is_inverted(tmp_path, rng):
    raw = _grey(rng, hi=4095, dtype=np.uint16)
    m2 = read_image(write_dicom(tmp_path / "m2.dcm", raw))
    m1 = read_image(write_dicom(tmp_path / "m1.dcm", raw, photometric="MONOCHROME1"))
    assert np.abs(m1.pixels.astype(int) - (65535 - m2.pixels.astype(int))).max() <= 1
    # the brightest stored value (dense in MONOCHROME2) is the darkest in MONOCHROME1
    assert m1.pixels[raw == raw.max()].max() == 0


def test_dicom_window_is_applied_before_inversion(tmp_path, rng):
    raw = _grey(rng, hi=4095, dtype=np.uint16)
    r = read_image(write_dicom(tmp_path / "w.dcm", raw, window=(2000, 1000), photometric="MONOCHROME1"))
    below, above = raw < 1400, raw > 2600
    # MONOCHROME1: below the window is white after inversion, above it black.
    assert (r.pixels[below] == 65535).all() and (r.pixels[above] == 0).all()


def test_from_array_variants(rng):
    assert from_array(_grey(rng)).bits == 8
    rgb = np.stack([_grey(rng)] * 3, axis=-1)
    assert from_array(rgb).pixels.shape == (64, 80)
    f = rng.random((40, 50)) * 7 - 3
    assert np.array_equal(from_array(f).pixels, _linear_u16(f))


# ---------------------------------------------------------------- bad input
def _png_header_only(path, width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_bad_files_raise_naming_file_and_reason(tmp_path, rng):
    cases = []
    Image.fromarray(_grey(rng, (300, 300))).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    cases.append(("truncated.png", "corrupt or truncated"))
    (tmp_path / "empty.png").write_bytes(b"")
    cases.append(("empty.png", "file is empty"))
    (tmp_path / "notes.txt").write_text("hello, not an image\n" * 20)
    cases.append(("notes.txt", "not a recognised image"))
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(tmp_path / "one.png")
    cases.append(("one.png", "at least 32x32"))
    _png_header_only(tmp_path / "huge.png", 40000, 40000)
    cases.append(("huge.png", "too large"))
    write_dicom(tmp_path / "nopix.dcm", np.zeros((64, 64), np.uint16), with_pixels=False)
    cases.append(("nopix.dcm", "no pixel data"))
    write_dicom(tmp_path / "j2k.dcm", _grey(rng, hi=4095, dtype=np.uint16), transfer_syntax=JPEG2000Lossless)
    cases.append(("j2k.dcm", "cannot decode pixel data"))
    (tmp_path / "fake.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\x01\x02\x03")
    cases.append(("fake.dcm", "DICOM"))
    for name, reason in cases:
        with pytest.raises(ImageReadError, match=reason) as e:
            read_image(tmp_path / name)
        assert name in str(e.value)
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match="directory"):
        read_image(tmp_path)


@pytest.mark.parametrize(
    "array, reason",
    [
        (np.zeros((2, 3, 4, 5)), "2-D grey"),
        (np.zeros((10, 10)), "at least 32x32"),
        (np.full((40, 40), np.nan), "NaN or Inf"),
        (np.zeros((40, 40), bool), "unsupported pixel type"),
        (np.zeros((16385, 40), np.uint8), "too large"),
    ],
)
def test_bad_arrays_raise(array, reason):
    with pytest.raises(ImageReadError, match=reason):
        from_array(array)


REAL = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "realdata", "*", "images", "*")))


@pytest.mark.skipif(not REAL, reason="../shared/realdata is not beside this checkout")
def test_real_radiographs_read():
    for path in REAL:
        r = read_image(path)
        assert r.pixels.dtype == np.uint16 and r.pixels.ndim == 2
        assert 500 <= max(r.shape) <= 4000 and r.pixels.std() > 0, path


def test_bytes_and_bad_path_types(tmp_path):
    from PIL import Image

    a = (np.arange(64 * 48, dtype=np.uint32).reshape(64, 48) % 65536).astype(np.uint16)
    Image.fromarray(a).save(tmp_path / "x.png")
    np.testing.assert_array_equal(read_image(str(tmp_path / "x.png").encode()).pixels, a)
    with pytest.raises(TypeError, match="path must be"):
        read_image(12)
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(b"/nonexistent/file.png")
