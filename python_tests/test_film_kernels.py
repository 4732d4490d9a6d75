"""The phantom film kernels in C++ (csrc/phantom/film.cpp) against float64 NumPy/Pillow
references written here, and their statistics and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import stats

from boneage_fast import _C


def _enlarge(a: np.ndarray, shape) -> np.ndarray:
    """Pillow's bilinear enlargement (the reference the kernel must equal)."""
    H, W = shape
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize((W, H), Image.BILINEAR), dtype=np.float64)


def _blur121(a: np.ndarray) -> np.ndarray:
    """[1, 2, 1] / 4 along y then x, edge rows and columns kept, in float64."""
    a = a.astype(np.float64).copy()
    a[1:-1] = 0.25 * (a[:-2] + a[2:]) + 0.5 * a[1:-1]
    a[:, 1:-1] = 0.25 * (a[:, :-2] + a[:, 2:]) + 0.5 * a[:, 1:-1]
    return a


@pytest.mark.parametrize("axis", [0, 1])
def test_expose_matches_a_float64_reference(axis):
    rng = np.random.default_rng(axis)
    H, W = 203, 157
    bone = (rng.random((H, W)) * 30).astype(np.float32)
    bone[:, :20] = 0.0
    soft = (rng.random((51, 39)) * 30).astype(np.float32)
    tex = rng.standard_normal((101, 78)).astype(np.float32)
    mu_s, mu_b, amp, gain, bg, heel = 0.014, 0.085, 0.08, 0.9, 0.07, 0.13
    got = bone.copy()
    _C.film_expose(got, soft, tex, mu_s, mu_b, amp, gain, bg, heel, axis)
    path = _enlarge(soft, (H, W)) * mu_s + bone.astype(np.float64) * (1 + amp * _enlarge(tex, (H, W))) * mu_b
    t = (np.arange(H)[:, None] / H if axis == 0 else np.arange(W)[None, :] / W) - 0.5
    ref = ((1 - np.exp(-path)) * gain + bg) * (1 + heel * t)
    np.testing.assert_allclose(got, ref, atol=2e-6, rtol=0)


def test_expose_exponential_is_accurate_over_the_whole_range():
    # path lengths from 0 to ~85 mm of bone: exp(-path) from 1 down to ~1e-3
    bone = np.linspace(0.0, 85.0, 4096, dtype=np.float32).reshape(64, 64)
    zero = np.zeros((4, 4), np.float32)
    got = bone.copy()
    _C.film_expose(got, zero, zero, 0.0, 0.085, 0.0, -1.0, 1.0, 0.0, 0)  # = exp(-path)
    ref = np.exp(-bone.astype(np.float64) * np.float32(0.085))
    # the kernel computes 1 - (1 - exp) in float32 (6e-8 of rounding near 1) with a
    # polynomial exp (~2e-7 relative): far below one 16-bit grey level (1.5e-5)
    assert np.max(np.abs(got - ref)) < 2.5e-7


def test_read_out_without_noise_is_blur_then_look_up():
    rng = np.random.default_rng(3)
    img = rng.uniform(-0.1, 1.1, (97, 131)).astype(np.float32)
    for bits, dtype in ((16, np.uint16), (8, np.uint8)):
        lut = np.round(np.linspace(0, 1, 16384) ** 1.2 * (2**bits - 1)).astype(dtype)
        got = _C.film_read_out(img.copy(), 7, 0.0, lut)
        idx = (np.clip(_blur121(img), 0, 1) * 16383).astype(np.int64)
        ref = lut[idx]
        assert got.dtype == dtype and got.shape == img.shape
        # float32 rounding can move a value across a look-up boundary: one level at most
        diff = np.abs(got.astype(np.int64) - ref.astype(np.int64))
        assert diff.max() <= np.abs(np.diff(lut.astype(np.int64))).max()
        assert (diff == 0).mean() > 0.99


@pytest.mark.parametrize("level", [0.05, 0.6])
def test_read_out_noise_is_quantum_noise_seen_through_the_blur(level):
    sd = 0.02
    img = np.full((400, 400), level, np.float32)
    lut = np.arange(65536, dtype=np.uint16)  # 65536 levels: identity up to quantisation
    got = _C.film_read_out(img, 11, sd, lut)[2:-2, 2:-2].astype(np.float64) / 65535
    # white noise of variance sd^2 * signal through [1,2,1]/4 twice: x (6/16)^2
    expected = sd * np.sqrt(level) * 6 / 16
    assert abs(got.std() / expected - 1) < 0.03
    assert abs(got.mean() - level) < 1e-3
    # the blur correlates neighbours: rho = (2*1 + 1*2)/6 = 2/3 along each axis
    r = np.corrcoef(got[:, 1:].ravel(), got[:, :-1].ravel())[0, 1]
    assert abs(r - 2 / 3) < 0.02


def test_read_out_is_deterministic_per_seed():
    img = np.full((50, 60), 0.5, np.float32)
    lut = np.arange(65536, dtype=np.uint16)
    a = _C.film_read_out(img.copy(), 5, 0.02, lut)
    b = _C.film_read_out(img.copy(), 5, 0.02, lut)
    c = _C.film_read_out(img.copy(), 6, 0.02, lut)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_normal_deviates_are_standard_normal():
    x = _C.film_normal_deviates(123, 200_000).astype(np.float64)
    assert abs(x.mean()) < 0.01 and abs(x.std() - 1) < 0.01
    assert stats.kstest(x, "norm").pvalue > 1e-3
    assert 3.2 < np.abs(x).max() < 4.0  # 4096 equiprobable values: tails stop near 3.5
    assert np.array_equal(x, _C.film_normal_deviates(123, 200_000))
    y = _C.film_normal_deviates(124, 200_000)
    assert abs(np.corrcoef(x, y)[0, 1]) < 0.01


@pytest.mark.parametrize("bad, exc, match", [
    (np.zeros((8, 8), np.float64), TypeError, "bone: must be float32"),
    (np.zeros((8, 8, 2), np.float32), ValueError, "bone: must be 2-D"),
    (np.zeros((8, 16), np.float32)[:, ::2], ValueError, "bone: must be C-contiguous"),
])
def test_expose_rejects_bad_bone_arrays(bad, exc, match):
    z = np.zeros((2, 2), np.float32)
    with pytest.raises(exc, match=match):
        _C.film_expose(bad, z, z, 0.01, 0.08, 0.08, 1.0, 0.0, 0.0, 0)


def test_expose_rejects_bad_grids_and_axis():
    bone = np.zeros((8, 8), np.float32)
    z = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match="soft: must be 2-D"):
        _C.film_expose(bone, np.zeros(4, np.float32), z, 0.01, 0.08, 0.08, 1.0, 0.0, 0.0, 0)
    with pytest.raises(ValueError, match="tex: empty grid"):
        _C.film_expose(bone, z, np.zeros((0, 3), np.float32), 0.01, 0.08, 0.08, 1.0, 0.0, 0.0, 0)
    with pytest.raises(ValueError, match="heel_axis"):
        _C.film_expose(bone, z, z, 0.01, 0.08, 0.08, 1.0, 0.0, 0.0, 2)


def test_read_out_rejects_bad_inputs():
    img = np.zeros((8, 8), np.float32)
    lut = np.arange(256, dtype=np.uint8)
    with pytest.raises(TypeError, match="lut: must be uint8 or uint16"):
        _C.film_read_out(img, 0, 0.01, lut.astype(np.int32))
    with pytest.raises(ValueError, match="lut must have 2..65536"):
        _C.film_read_out(img, 0, 0.01, lut[:1])
    with pytest.raises(ValueError, match="image must be at least 1 x 2"):
        _C.film_read_out(np.zeros((4, 1), np.float32), 0, 0.01, lut)
    ro = img.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="img: must be writable"):
        _C.film_read_out(ro, 0, 0.01, lut)
