"""DICOM as archives hold it: the compressed transfer syntaxes (decoded through pydicom's
pixel-data plugins: pylibjpeg-libjpeg, -openjpeg, -rle, pyjpegls), signed pixels,
BitsStored 10-16 with junk in the unused high bits, MONOCHROME1 with a VOI LUT sequence,
multi-frame files refused, and missing or odd PixelSpacing.

Each file is built here: lossless syntaxes are encoded with pydicom's own encoders (the
same plugins), JPEG baseline with Pillow, and JPEG lossless (process 14) with the small
encoder below, written from ITU-T T.81 Annex H. Lossless files must give back exactly
the stored values."""

from __future__ import annotations

import io

import numpy as np
import pytest

from boneage_fast.io import ImageReadError, read_image

pydicom = pytest.importorskip("pydicom")
from _dicom import dicom_dataset  # noqa: E402
from pydicom.dataset import Dataset  # noqa: E402
from pydicom.encaps import encapsulate  # noqa: E402
from pydicom.uid import (  # noqa: E402
    JPEG2000,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)


def _dataset(shape, **kwargs):
    return dicom_dataset(shape, ImagerPixelSpacing=[0.1, 0.1], **kwargs)


def _save(ds, path):
    ds.save_as(path, enforce_file_format=True)
    return path


def _linear_u16(v):
    """The reader's documented mapping of any grey range onto uint16 (min -> 0, max -> 65535)."""
    v = np.asarray(v, dtype=np.float64)
    return np.round((v - v.min()) / (v.max() - v.min()) * 65535).astype(np.uint16)


def _hand_like(rng, shape, lo, hi):
    """Smooth structure plus noise (compressible, like a radiograph), in [lo, hi]."""
    y, x = np.mgrid[: shape[0], : shape[1]]
    v = np.sin(x / 7.0) * np.cos(y / 11.0) + 0.2 * rng.standard_normal(shape)
    v = (v - v.min()) / (v.max() - v.min())
    return np.round(lo + v * (hi - lo)).astype(np.int64)


# ------------------------------------------------------------ JPEG lossless encoder
def _jpeg_lossless(a: np.ndarray, precision: int) -> bytes:
    """A process-14 JPEG (SOF3, predictor 1, one component) of ``a`` (ITU-T T.81 H.1).

    One Huffman table gives each difference category SSSS = 0..16 a 5-bit code."""
    h, w = a.shape
    x = a.astype(np.int64)
    pred = np.empty_like(x)
    pred[0, 0] = 1 << (precision - 1)
    pred[0, 1:] = x[0, :-1]  # first line: the left neighbour
    pred[1:, 0] = x[:-1, 0]  # first column: the one above
    pred[1:, 1:] = x[1:, :-1]  # predictor 1: the left neighbour
    diff = (x - pred) % 65536
    diff[diff > 32768] -= 65536

    out = bytearray()
    acc, n = 0, 0

    def put(value, bits):
        nonlocal acc, n
        acc = (acc << bits) | (value & ((1 << bits) - 1))
        n += bits
        while n >= 8:
            byte = (acc >> (n - 8)) & 0xFF
            out.append(byte)
            if byte == 0xFF:
                out.append(0)  # byte stuffing
            n -= 8
        acc &= (1 << n) - 1

    for d in diff.ravel().tolist():
        ssss = abs(d).bit_length() if d != 32768 else 16
        put(ssss, 5)  # canonical code of symbol k with 17 codes of length 5 is k
        if 0 < ssss < 16:
            put(d if d > 0 else d - 1, ssss)
    if n:
        put((1 << (8 - n)) - 1, 8 - n)  # pad with ones

    def seg(marker, body):
        return bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, "big") + body

    sof = bytes([precision]) + h.to_bytes(2, "big") + w.to_bytes(2, "big") + bytes([1, 1, 0x11, 0])
    bits = bytes([0, 0, 0, 0, 17] + [0] * 11)
    dht = bytes([0x00]) + bits + bytes(range(17))
    sos = bytes([1, 1, 0x00, 1, 0, 0])  # Ns=1, Cs=1, Td/Ta=0, Ss=predictor 1, Se=0, Ah/Al=0
    return b"\xff\xd8" + seg(0xC3, sof) + seg(0xC4, dht) + seg(0xDA, sos) + bytes(out) + b"\xff\xd9"


# ------------------------------------------------------------ compressed syntaxes
@pytest.mark.parametrize("syntax", [RLELossless, JPEGLSLossless, JPEG2000Lossless], ids=lambda u: u.name)
@pytest.mark.parametrize("bits_stored", [10, 12, 16])
def test_lossless_syntaxes_decode_exactly(tmp_path, rng, syntax, bits_stored):
    raw = _hand_like(rng, (96, 80), 0, 2**bits_stored - 1).astype(np.uint16)
    ds = _dataset(raw.shape, bits_stored=bits_stored)
    ds.compress(syntax, raw)
    assert ds.file_meta.TransferSyntaxUID == syntax
    r = read_image(_save(ds, tmp_path / "c.dcm"))
    assert r.metadata["transfer_syntax"] == str(syntax)
    assert r.bits == bits_stored and r.pixel_spacing_mm == (0.1, 0.1)
    np.testing.assert_array_equal(r.pixels, _linear_u16(raw))


@pytest.mark.parametrize("precision", [12, 16])
def test_jpeg_lossless_process_14_decodes_exactly(tmp_path, rng, precision):
    raw = _hand_like(rng, (70, 90), 3, 2**precision - 1).astype(np.uint16)
    raw[5, 7], raw[5, 8] = 0, 2**precision - 1  # a full-range jump (the largest category)
    ds = _dataset(raw.shape, bits_stored=precision)
    ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    ds.PixelData = encapsulate([_jpeg_lossless(raw, precision)])
    r = read_image(_save(ds, tmp_path / "ljpeg.dcm"))
    np.testing.assert_array_equal(r.pixels, _linear_u16(raw))


def test_jpeg_baseline_matches_an_independent_decoder(tmp_path, rng):
    from PIL import Image

    raw = _hand_like(rng, (64, 96), 10, 240).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(raw).save(buf, format="JPEG", quality=90)
    want = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float64)  # libjpeg-turbo via Pillow
    ds = _dataset(raw.shape, bits_stored=8, bits_allocated=8)
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PixelData = encapsulate([buf.getvalue()])
    r = read_image(_save(ds, tmp_path / "jpeg.dcm"))
    got = r.pixels.astype(np.float64) / 65535 * (want.max() - want.min()) + want.min()
    assert np.abs(got - want).max() <= 2.5  # two IDCT implementations, 8-bit levels
    assert np.abs(want - raw).mean() < 4  # and it is the image we stored


def test_jpeg_2000_lossy_is_close(tmp_path, rng):
    raw = _hand_like(rng, (96, 96), 0, 4095).astype(np.uint16)
    ds = _dataset(raw.shape, bits_stored=12)
    ds.compress(JPEG2000, raw, j2k_psnr=[60])
    r = read_image(_save(ds, tmp_path / "j2k.dcm"))
    assert r.metadata["transfer_syntax"] == str(JPEG2000)
    err = np.abs(r.pixels.astype(np.float64) - _linear_u16(raw))
    assert err.mean() < 0.01 * 65535


# ------------------------------------------------------------ pixel representation
def test_signed_pixels_keep_their_order(tmp_path, rng):
    raw = _hand_like(rng, (64, 64), -2048, 2047).astype(np.int16)
    ds = _dataset(raw.shape, bits_stored=12, signed=True)
    ds.PixelData = raw.astype("<i2").tobytes()
    r = read_image(_save(ds, tmp_path / "s.dcm"))
    np.testing.assert_array_equal(r.pixels, _linear_u16(raw))


def test_signed_pixels_compressed(tmp_path, rng):
    raw = _hand_like(rng, (64, 64), -500, 1500).astype(np.int16)
    ds = _dataset(raw.shape, bits_stored=12, signed=True)
    ds.compress(RLELossless, raw)
    np.testing.assert_array_equal(read_image(_save(ds, tmp_path / "s.dcm")).pixels, _linear_u16(raw))


@pytest.mark.parametrize("bits_stored", [10, 12, 14, 15, 16])
def test_bits_above_bits_stored_are_ignored(tmp_path, rng, bits_stored):
    raw = _hand_like(rng, (48, 64), 0, 2**bits_stored - 1).astype(np.uint16)
    stored = raw.copy()
    if bits_stored < 16:  # overlay-style junk in the unused high bits
        stored |= (rng.integers(0, 2, raw.shape).astype(np.uint16) << np.uint16(15))
    ds = _dataset(raw.shape, bits_stored=bits_stored)
    ds.PixelData = stored.astype("<u2").tobytes()
    r = read_image(_save(ds, tmp_path / "b.dcm"))
    assert r.bits == bits_stored
    np.testing.assert_array_equal(r.pixels, _linear_u16(raw))


# ------------------------------------------------------------ presentation
def test_monochrome1_with_a_voi_lut_sequence(tmp_path, rng):
    raw = _hand_like(rng, (64, 64), 0, 4095).astype(np.uint16)
    lut = np.round(65535 * np.sqrt(np.arange(4096) / 4095)).astype(np.uint16)  # a non-linear LUT
    ds = _dataset(raw.shape, bits_stored=12, photometric="MONOCHROME1")
    ds.PixelData = raw.astype("<u2").tobytes()
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.add_new(0x00283006, "US", lut.tolist())  # LUTData
    ds.VOILUTSequence = [item]
    r = read_image(_save(ds, tmp_path / "voi.dcm"))
    shown = lut[raw].astype(np.float64)
    want = _linear_u16(shown.max() + shown.min() - shown)  # LUT first, then bright = dense
    assert np.abs(r.pixels.astype(np.int64) - want.astype(np.int64)).max() <= 1


def test_multi_frame_is_refused(tmp_path, rng):
    frames = rng.integers(0, 4096, (3, 40, 48)).astype(np.uint16)
    ds = _dataset((40, 48))
    ds.NumberOfFrames = 3
    ds.PixelData = frames.astype("<u2").tobytes()
    path = _save(ds, tmp_path / "multi.dcm")
    with pytest.raises(ImageReadError, match="multi-frame") as e:
        read_image(path)
    assert "multi.dcm" in str(e.value)


@pytest.mark.parametrize(
    "spacing, imager, want, note",
    [
        (None, None, None, None),  # neither present: no spacing, no note
        (None, [0.15, 0.15], (0.15, 0.15), None),  # falls back to ImagerPixelSpacing
        ([0.2, 0.25], [0.15, 0.15], (0.2, 0.25), None),  # PixelSpacing wins
        ([0, 0], None, None, "not two spacings"),
        ([-0.1, 0.1], None, None, "not two spacings"),
        ([0.1], None, None, "not two spacings"),
        ([0.1, 0.1, 0.1], None, None, "not two spacings"),
        ([1e6, 1e6], None, None, "not two spacings"),
    ],
)
def test_missing_or_odd_pixel_spacing(tmp_path, rng, spacing, imager, want, note):
    raw = rng.integers(0, 4096, (40, 40)).astype(np.uint16)
    ds = _dataset(raw.shape)
    del ds.ImagerPixelSpacing
    if spacing is not None:
        ds.PixelSpacing = spacing
    if imager is not None:
        ds.ImagerPixelSpacing = imager
    ds.PixelData = raw.astype("<u2").tobytes()
    r = read_image(_save(ds, tmp_path / "sp.dcm"))
    assert r.pixel_spacing_mm == want
    if note is None:
        assert "pixel_spacing_note" not in r.metadata
    else:
        assert note in r.metadata["pixel_spacing_note"]
    np.testing.assert_array_equal(r.pixels, _linear_u16(raw))  # the image is read all the same


def test_non_numeric_pixel_spacing_does_not_stop_the_read(tmp_path, rng):
    raw = rng.integers(0, 4096, (40, 40)).astype(np.uint16)
    ds = _dataset(raw.shape)
    ds.PixelData = raw.astype("<u2").tobytes()
    path = _save(ds, tmp_path / "sp.dcm")
    data = path.read_bytes()
    good = b"0.1\\0.1 "  # the ImagerPixelSpacing value as written
    assert data.count(good) == 1
    path.write_bytes(data.replace(good, b"abc\\x.y "))
    r = read_image(path)
    assert r.pixel_spacing_mm is None and "ImagerPixelSpacing" in r.metadata["pixel_spacing_note"]
    np.testing.assert_array_equal(r.pixels, _linear_u16(raw))
