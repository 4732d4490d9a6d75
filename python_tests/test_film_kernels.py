"""The phantom film kernels in C++ (csrc/phantom/film.cpp) against float64 NumPy/Pillow
references written here, and their statistics and bad inputs."""

from __future__ import annotations

import math

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
@pytest.mark.parametrize("H, W, soft_shape, tex_shape", [
    (203, 157, (51, 39), (101, 78)),  # no whole ratio: every sample from its taps
    (204, 156, (51, 39), (102, 78)),  # the film's grids: a quarter and a half, exactly
    (204, 12, (51, 3), (102, 6)),  # the fewest columns the exact ratios take
    (20, 8, (5, 2), (10, 4)),  # ... and too few for them
])
def test_expose_matches_a_float64_reference(axis, H, W, soft_shape, tex_shape):
    rng = np.random.default_rng(axis)
    bone = (rng.random((H, W)) * 30).astype(np.float32)
    bone[:, :W // 8] = 0.0
    soft = (rng.random(soft_shape) * 30).astype(np.float32)
    tex = rng.standard_normal(tex_shape).astype(np.float32)
    mu_s, mu_b, amp, gain, bg, heel = 0.014, 0.085, 0.08, 0.9, 0.07, 0.13
    got = bone.copy()
    _C.film_expose(got, soft, tex, mu_s, mu_b, amp, gain, bg, heel, axis)
    path = _enlarge(soft, (H, W)) * mu_s + bone.astype(np.float64) * (1 + amp * _enlarge(tex, (H, W))) * mu_b
    t = (np.arange(H)[:, None] / H if axis == 0 else np.arange(W)[None, :] / W) - 0.5
    ref = ((1 - np.exp(-path)) * gain + bg) * (1 + heel * t)
    np.testing.assert_allclose(got, ref, atol=2e-6, rtol=0)


def test_expose_with_cancellous_textures_only_that_path():
    """path = soft mu_soft + (bone + cancellous (1 + amp tex)) mu_bone: the compact bone
    in ``bone`` unmodulated."""
    rng = np.random.default_rng(7)
    H, W = 203, 157
    bone = (rng.random((H, W)) * 20).astype(np.float32)
    canc = (rng.random((H, W)) * 10).astype(np.float32)
    soft = (rng.random((51, 39)) * 30).astype(np.float32)
    tex = rng.standard_normal((101, 78)).astype(np.float32)
    mu_s, mu_b, amp, gain, bg, heel = 0.014, 0.16, 0.4, 1.2, 0.05, -0.08
    got = bone.copy()
    _C.film_expose(got, soft, tex, mu_s, mu_b, amp, gain, bg, heel, 1, canc)
    path = _enlarge(soft, (H, W)) * mu_s + (bone.astype(np.float64) + canc * (1 + amp * _enlarge(tex, (H, W)))) * mu_b
    ref = ((1 - np.exp(-path)) * gain + bg) * (1 + heel * (np.arange(W)[None, :] / W - 0.5))
    np.testing.assert_allclose(got, ref, atol=2e-6, rtol=0)
    # all bone compact: the texture changes nothing
    flat = bone.copy()
    _C.film_expose(flat, soft, tex, mu_s, mu_b, amp, gain, bg, heel, 1, np.zeros_like(bone))
    notex = bone.copy()
    _C.film_expose(notex, soft, tex, mu_s, mu_b, 0.0, gain, bg, heel, 1)
    np.testing.assert_allclose(flat, notex, atol=1e-6, rtol=0)


@pytest.mark.parametrize("fn", ["film_expose", "film_long_bone", "film_ossicle"])
@pytest.mark.parametrize("bad, exc, match", [
    (np.zeros((8, 9), np.float32), ValueError, "cancellous: must have the shape 8x8, got 8x9"),
    (np.zeros((8, 8), np.float64), TypeError, "cancellous: must be float32"),
    (np.zeros((8, 16), np.float32)[:, ::2], ValueError, "cancellous: must be C-contiguous"),
    ([[0.0] * 8] * 8, TypeError, "cancellous: must be a float32 array or None"),
])
def test_cancellous_arrays_are_checked(fn, bad, exc, match):
    acc = np.zeros((8, 8), np.float32)
    grid = np.zeros((4, 4), np.float32)
    with pytest.raises(exc, match=match):
        if fn == "film_expose":
            _C.film_expose(acc, grid, grid, 0.014, 0.16, 0.4, 1.0, 0.05, 0.0, 0, bad)
        elif fn == "film_long_bone":
            _C.film_long_bone(acc, 1.0, 1.0, 0.0, 1.0, 5.0, 2.0, 0.3, 0.3, 0.3, 0.5, 0.4, 0.0, 1.0, 0.2, 0.0, bad)
        else:
            _C.film_ossicle(acc, 4.0, 4.0, 2.0, 2.0, 1.0, 0.0, 0.0, 0.0, 2.0, 0.8, 0.5, 1.0, cancellous=bad)
    assert not acc.any()


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
    with pytest.raises(ValueError, match="img: must be C-contiguous"):
        _C.film_read_out(np.zeros((8, 16), np.float32)[:, ::2], 0, 0.01, lut)
    with pytest.raises(TypeError, match="img: must be float32"):
        _C.film_read_out(img.astype(np.float64), 0, 0.01, lut)
    for coarse in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="coarse must be finite and >= 0"):
            _C.film_read_out(img, 0, 0.01, lut, coarse=coarse)


def _deviates_drawn(shape) -> int:
    """How many of the seed's deviates a read-out of ``shape`` passes over: each row
    takes whole 64-bit draws of five deviates."""
    return shape[0] * 5 * -(-shape[1] // 5)


@pytest.mark.parametrize("shape", [(1, 5), (2, 7), (3, 4), (64, 33)])
def test_read_out_leaves_its_input_and_matches_noise_then_blur(shape):
    """One pass over three noisy rows at a time gives what noise over the whole film,
    then the blur along y, then along x give (same deviates, drawn row by row); the
    input, read-only here, is left as it was."""
    rng = np.random.default_rng(9)
    img = rng.uniform(0.0, 1.0, shape).astype(np.float32)
    img.flags.writeable = False
    before = img.copy()
    lut = np.arange(65536, dtype=np.uint16)
    sd = 0.05
    got = _C.film_read_out(img, 21, sd, lut)
    assert np.array_equal(img, before)
    noise = _C.film_normal_deviates(21, _deviates_drawn(shape)).astype(np.float64)
    H, W = shape
    per_row = _deviates_drawn((1, W))
    noisy = np.stack([img[y].astype(np.float64) + sd * np.sqrt(np.maximum(img[y], 0.01)) *
                      noise[y * per_row:y * per_row + W] for y in range(H)])
    ref = np.clip(_blur121(noisy), 0.0, 1.0) * 65535
    # float32 rounding against this float64 reference: one level at most
    assert np.abs(got.astype(np.float64) - np.floor(ref)).max() <= 1


def _coarse_field(seed: int, shape) -> np.ndarray:
    """The coarse grain's field before the blur, in float64: the deviates of the stream
    ``seed ^ FILM_COARSE_SEED`` as grid rows of W // 2 + 1 (each row whole draws of five),
    row 0 first and then one per odd film row, read bilinearly (pixel (2 i, 2 j) on grid
    node (i, j), odd rows and columns halfway)."""
    H, W = shape
    Wc = W // 2 + 1
    per_row = 5 * -(-Wc // 5)
    rows = 1 + H // 2
    d = _C.film_normal_deviates(seed ^ _C.FILM_COARSE_SEED, rows * per_row).astype(np.float64)
    grid = np.stack([d[i * per_row:i * per_row + Wc] for i in range(rows)])
    ys, xs = np.arange(H) / 2.0, np.arange(W) / 2.0
    i0, j0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    wy, wx = (ys - i0)[:, None], (xs - j0)[None, :]
    i1, j1 = np.minimum(i0 + 1, rows - 1), np.minimum(j0 + 1, Wc - 1)
    along = lambda i: grid[i][:, j0] * (1 - wx) + grid[i][:, j1] * wx  # noqa: E731
    return along(i0) * (1 - wy) + along(i1) * wy


@pytest.mark.parametrize("shape", [(1, 5), (2, 7), (3, 4), (5, 2), (64, 33), (33, 64)])
def test_read_out_coarse_grain_matches_noise_then_blur(shape):
    """With ``coarse`` the fine deviates are those drawn without it, and each pixel gains
    sd * coarse times the coarse field (:func:`_coarse_field`), whatever its level; then
    the same blur and look-up. The input, read-only, left as it was."""
    rng = np.random.default_rng(19)
    img = rng.uniform(0.0, 1.0, shape).astype(np.float32)
    img.flags.writeable = False
    before = img.copy()
    lut = np.arange(65536, dtype=np.uint16)
    sd, coarse, seed = 0.05, 1.7, 23
    got = _C.film_read_out(img, seed, sd, lut, coarse=coarse)
    assert np.array_equal(img, before)
    H, W = shape
    per_row = _deviates_drawn((1, W))
    fine = _C.film_normal_deviates(seed, _deviates_drawn(shape)).astype(np.float64)
    noisy = np.stack([img[y].astype(np.float64) + sd * np.sqrt(np.maximum(img[y], 0.01)) *
                      fine[y * per_row:y * per_row + W] for y in range(H)])
    noisy += sd * coarse * _coarse_field(seed, shape)
    ref = np.clip(_blur121(noisy), 0.0, 1.0) * 65535
    assert np.abs(got.astype(np.float64) - np.floor(ref)).max() <= 1
    # without the coarse grain: the read-out of before, to the bit
    assert np.array_equal(_C.film_read_out(img, seed, sd, lut, coarse=0.0), _C.film_read_out(img, seed, sd, lut))


@pytest.mark.parametrize("level", [0.2, 0.8])
def test_read_out_coarse_grain_variance_and_scale(level):
    """On a flat film the noise's variance is the quantum noise's, sd^2 level (6/16)^2,
    plus the coarse grain's, which does not follow the level: (sd coarse)^2 (8.75/16)^2
    (bilinear reading then [1, 2, 1]/4: even pixels (0.5, 3, 0.5)/4 of three nodes, odd
    ones (2, 2)/4 of two, squared weights 9.5/16 and 8/16, their mean per axis squared);
    and the coarse grain is coarser: neighbours two pixels apart stay correlated."""
    sd = 0.02
    img = np.full((400, 400), level, np.float32)
    lut = np.arange(65536, dtype=np.uint16)

    def read(coarse):
        return _C.film_read_out(img, 11, sd, lut, coarse=coarse)[2:-2, 2:-2].astype(np.float64) / 65535

    for coarse in (0.0, 1.0, 2.5):
        expected = sd * math.sqrt(level * 36 + coarse ** 2 * 8.75 ** 2) / 16
        assert abs(read(coarse).std() / expected - 1) < 0.03, coarse

    def lag2(a):
        a = a - a.mean()
        return float((a[:, :-2] * a[:, 2:]).mean() / a.var())

    # the quantum noise through [1, 2, 1]: 1/6 two pixels apart; the coarse grain, read
    # off nodes two pixels apart, well above it
    assert abs(lag2(read(0.0)) - 1 / 6) < 0.03
    assert lag2(read(2.5)) > 1 / 6 + 0.15


@pytest.mark.parametrize("shape", [(1, 5), (2, 7), (3, 4), (64, 33)])
def test_read_out_pre_blur_is_the_blur_then_the_read_out(shape):
    """``pre_blur``: the film blurred by [1, 2, 1] along y then x (edges kept; float64
    here), then the same noise (the same deviates), blur and look-up as without it; the
    input, read-only, left as it was."""
    rng = np.random.default_rng(12)
    img = rng.uniform(0.0, 1.0, shape).astype(np.float32)
    img.flags.writeable = False
    before = img.copy()
    lut = np.arange(65536, dtype=np.uint16)
    got = _C.film_read_out(img, 33, 0.05, lut, pre_blur=True)
    assert np.array_equal(img, before)
    ref = _C.film_read_out(_blur121(img).astype(np.float32), 33, 0.05, lut)
    assert np.abs(got.astype(np.int64) - ref.astype(np.int64)).max() <= 1
    assert not np.array_equal(got, _C.film_read_out(img, 33, 0.05, lut)) or min(shape) < 3


def test_read_out_with_a_detector_blur_blurs_the_film_first_and_leaves_it():
    """A look's ``detector_blur``: a [1, 2, 1] pass over the film before the read-out
    (float64 reference written here), the film itself left as it was; the look's noise
    sd on a clean film (``noise_clean``) and its range on a film with nuisance (a range
    of one value) set the grain: flat films read sd sqrt(level) (6/16)^2 through the
    read-out's own blur (and the extra pass's (6/16)^2 does not touch noise added
    after it)."""
    from dataclasses import replace

    from boneage_fast.data import film

    rng = np.random.default_rng(4)
    img = rng.uniform(0.0, 1.0, (61, 47)).astype(np.float32)
    before = img.copy()
    # an identity display (a steep look-up turns float32 rounding into several levels)
    look = replace(film.LOOKS["v3"], log_display=None, clean_gamma=1.0, detector_blur=True, noise_clean=0.0)
    got = film.read_out(img, np.random.default_rng(8), False, 16, look)
    assert np.array_equal(img, before)
    ref = film.read_out(_blur121(img).astype(np.float32), np.random.default_rng(8), False, 16,
                        replace(look, detector_blur=False))
    # float32 rounding against the float64 blur: one step of the look-up at most
    step = np.abs(np.diff(film.display_lut(1.0, None, 16).astype(np.int64))).max()
    assert np.abs(got.astype(np.int64) - ref.astype(np.int64)).max() <= step
    plain = film.read_out(img, np.random.default_rng(8), False, 16, replace(look, detector_blur=False))
    assert np.abs(got.astype(np.int64) - plain.astype(np.int64)).max() > 1000
    flat = np.full((300, 300), 0.5, np.float32)
    ident = replace(look, gamma=(1.0, 1.0))
    for nuisance, kw in ((False, {"noise_clean": 0.03}), (True, {"noise_sd": (0.045, 0.045)})):
        out = film.read_out(flat, np.random.default_rng(1), nuisance, 16, replace(ident, **kw))
        sd = next(iter(kw.values()))
        want = (sd if isinstance(sd, float) else sd[0]) * math.sqrt(0.5) * 6 / 16
        assert abs(out[2:-2, 2:-2].astype(np.float64).std() / 65535 / want - 1) < 0.04, kw


# ------------------------------------------------------------------ edge enhancement
def _unsharp_f64(img: np.ndarray, k: int, gain: float) -> np.ndarray:
    """img + gain (img - lo), lo: k x k block means (partial last blocks), two [1, 2, 1]
    passes, Pillow's bilinear enlargement to whole blocks, cropped; float64."""
    H, W = img.shape
    h, w = -(-H // k), -(-W // k)
    a = img.astype(np.float64)
    means = np.array([[a[by * k:(by + 1) * k, bx * k:(bx + 1) * k].mean() for bx in range(w)] for by in range(h)])
    lo = _enlarge(_blur121(_blur121(means)), (h * k, w * k))[:H, :W]
    return a + gain * (a - lo)


@pytest.mark.parametrize("shape, k, gain", [((97, 131), 8, 1.0), ((64, 48), 4, 0.6), ((53, 40), 1, 0.5),
                                            ((9, 300), 7, 2.0), ((1, 17), 3, 1.0), ((2, 50), 1, 1.0),
                                            ((40, 2), 1, 0.7), ((300, 257), 1, -1.0)])
def test_unsharp_matches_a_float64_reference(shape, k, gain):
    rng = np.random.default_rng(k)
    img = rng.random(shape).astype(np.float32)
    img[:, : shape[1] // 3] += 2.0  # an edge
    got = img.copy()
    _C.film_unsharp(got, k, gain)
    # Pillow's float32 enlargement in the reference: ~1e-6 of rounding
    np.testing.assert_allclose(got, _unsharp_f64(img, k, gain), atol=2e-5, rtol=0)


def test_unsharp_keeps_flat_areas_and_sharpens_an_edge():
    flat = np.full((40, 50), 0.3, np.float32)
    _C.film_unsharp(flat, 5, 1.5)
    np.testing.assert_allclose(flat, 0.3, atol=1e-6)
    img = np.zeros((60, 80), np.float32)
    img[:, 40:] = 1.0
    _C.film_unsharp(img, 4, 1.0)
    # an overshoot on the bright side, an undershoot on the dark, the plateaus far away kept
    assert img[:, 40:48].max() > 1.2 and img[:, 32:40].min() < -0.2
    np.testing.assert_allclose(img[:, :8], 0.0, atol=1e-6)
    np.testing.assert_allclose(img[:, -8:], 1.0, atol=1e-6)


def test_unsharp_rejects_bad_inputs():
    img = np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError, match="k must be >= 1"):
        _C.film_unsharp(img, 0, 1.0)
    with pytest.raises(ValueError, match="gain must be finite"):
        _C.film_unsharp(img, 2, float("nan"))
    with pytest.raises(TypeError, match="img: must be float32"):
        _C.film_unsharp(img.astype(np.float64), 2, 1.0)
    with pytest.raises(ValueError, match="img: must be C-contiguous"):
        _C.film_unsharp(np.zeros((8, 8), np.float32)[:, ::2], 2, 1.0)
    with pytest.raises(ValueError, match="img: must be 2-D"):
        _C.film_unsharp(np.zeros(8, np.float32), 2, 1.0)


# ------------------------------------------------------------------ long bones and ossicles
_ROUNDING = {"metacarpal": (0.3, 1.3), "phalanx": (0.15, 0.6), "distal": (0.15, 0.9), "radius": (0.3, 0.22),
             "ulna": (0.3, 0.5)}


def _long_bone_f64(shape, p0, p1, hw, flare0, flare1, kind, end_plate, mm_per_px, marrow=0.22, parts=False,
                   base_span=0.15, base_round=None, base_plate=1.0, head_span=0.15):
    """A shaped long bone's path length (mm) over the whole image, in float64, from the
    outline's formulas (film.draw_long_bone's docstring); with ``parts`` the cortex's and
    the interior's paths apart."""
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    d = np.subtract(p1, p0, dtype=np.float64)
    L = float(np.hypot(*d))
    ax, nrm = d / L, np.array([-d[1], d[0]]) / L
    along = (x - p0[0]) * ax[0] + (y - p0[1]) * ax[1]
    v = (x - p0[0]) * nrm[0] + (y - p0[1]) * nrm[1]
    uc = np.clip(along / L, 0, 1)
    mid = np.sin(np.pi * uc) ** 2
    fb, fh = np.exp(-(uc / base_span) ** 2), np.exp(-((1 - uc) / head_span) ** 2)
    h = hw * (1 + flare0 * fb + flare1 * fh - 0.1 * mid)
    base_r, head_r = _ROUNDING[kind]
    if base_round is not None:
        base_r = base_round
    r_end = np.minimum(np.where(along / L < 0.5, base_r, head_r) * hw + 0.5, 0.4 * L)
    e = np.maximum(np.maximum(r_end - r_end / 3 - along, along - (L + r_end / 3 - r_end)), 0)
    h = h * np.sqrt(np.clip(1 - (e / r_end) ** 2, 0, None))
    cortex = np.maximum(h * (0.12 + 0.26 * mid), 0.6)
    outer = np.sqrt(np.clip(h * h - v * v, 0, None))
    hi = np.maximum(h - cortex, 0)
    inner = np.sqrt(np.clip(hi * hi - v * v, 0, None))
    medulla = marrow + (0.12 if kind in ("radius", "ulna") else 0.4) * (fb + fh)
    w = max(0.5 / mm_per_px, 0.8)
    medulla = medulla + end_plate * (base_plate * np.exp(-(along / w) ** 2) + np.exp(-((L - along) / w) ** 2))
    flat = np.minimum(np.sqrt(hw * (1 - 0.1 * mid) / np.maximum(h, 1e-3)), 1)
    if parts:
        return 2 * (outer - inner) * flat * mm_per_px, 2 * medulla * inner * flat * mm_per_px
    return (2 * (outer - inner) + 2 * medulla * inner) * flat * mm_per_px


class _Scale:
    """A frame that only scales: hand millimetres to pixels, y kept."""

    m = np.eye(2)

    def __init__(self, scale):
        self.scale = scale

    def __call__(self, p):
        return np.asarray(p, np.float64) * self.scale


@pytest.mark.parametrize("kind", sorted(_ROUNDING))
@pytest.mark.parametrize("angle", [0.0, 0.35, 0.62, 1.3, 2.8])
@pytest.mark.parametrize("end_plate", [0.0, 0.6])
@pytest.mark.parametrize("flares", [(0.45, 0.25), (1.0, 0.9)])  # (1.0, 0.9): v4's ulna and wider
def test_long_bone_matches_a_float64_reference(kind, angle, end_plate, flares):
    from boneage_fast.data import film
    from boneage_fast.data.anatomy import LongBone

    scale = 4.0
    p0 = np.array([35.0, 30.0])
    p1 = p0 + 38.0 * np.array([np.sin(angle), np.cos(angle)])
    bone = LongBone("b", p0, p1, 3.7, *flares, kind)
    shape = (360, 300)
    got = np.zeros(shape, np.float32)
    film.draw_long_bone(got, bone, _Scale(scale), end_plate)
    ref = _long_bone_f64(shape, p0 * scale, p1 * scale, 3.7 * scale, *flares, kind, end_plate, 1 / scale)
    assert ref.max() > 5.0  # a bone was drawn
    # float32 rounding is amplified by the square roots at the outline (~1e-3 mm there),
    # far below one grey level of the film
    np.testing.assert_allclose(got, ref, atol=2e-3, rtol=0)
    # nothing drawn where the reference has no bone: the kernel's row spans cover it
    assert np.abs(got[ref == 0]).max() == 0.0


@pytest.mark.parametrize("angle", [0.0, 0.62, 2.8])
@pytest.mark.parametrize("base_span, base_round", [(0.22, 0.8), (0.35, None), (0.05, 0.3), (0.5, 1.2)])
def test_long_bone_base_span_and_rounding_match_the_reference(angle, base_span, base_round):
    """v4's metacarpal bases (section 7.14): the base's flare reaching ``base_span`` of the
    length and its own rounding, against the float64 formula; the row spans still cover
    every drawn pixel (the kernel skips the middle half's margin by the flares' reach)."""
    from boneage_fast.data import film
    from boneage_fast.data.anatomy import LongBone

    scale = 4.0
    p0 = np.array([35.0, 30.0])
    p1 = p0 + 38.0 * np.array([np.sin(angle), np.cos(angle)])
    bone = LongBone("b", p0, p1, 3.7, 0.65, 0.6, "metacarpal", base_span, base_round)
    shape = (360, 300)
    got = np.zeros(shape, np.float32)
    film.draw_long_bone(got, bone, _Scale(scale), 0.0)
    ref = _long_bone_f64(shape, p0 * scale, p1 * scale, 3.7 * scale, 0.65, 0.6, "metacarpal", 0.0, 1 / scale,
                         base_span=base_span, base_round=base_round)
    assert ref.max() > 5.0
    np.testing.assert_allclose(got, ref, atol=2e-3, rtol=0)
    assert np.abs(got[ref == 0]).max() == 0.0
    # the default span is v3's: the same pixels as a bone without one
    if base_span == 0.22:
        plain = np.zeros(shape, np.float32)
        film.draw_long_bone(plain, LongBone("b", p0, p1, 3.7, 0.65, 0.6, "metacarpal"), _Scale(scale), 0.0)
        wide = np.zeros(shape, np.float32)
        film.draw_long_bone(wide, LongBone("b", p0, p1, 3.7, 0.65, 0.6, "metacarpal", 0.15), _Scale(scale), 0.0)
        assert np.array_equal(plain, wide) and not np.array_equal(plain, got)


@pytest.mark.parametrize("angle", [0.0, 0.62, 2.8])
@pytest.mark.parametrize("base_plate", [0.0, 0.35, 1.0])
def test_long_bone_base_plate_matches_the_reference(angle, base_plate):
    """v4's metacarpal bases (section 7.23): the end plate at the base ``base_plate`` times
    the head's, against the float64 formula; 1 draws exactly the pixels of a bone without
    the field, and a fainter base plate leaves the head's end and the shaft untouched."""
    from boneage_fast.data import film
    from boneage_fast.data.anatomy import LongBone

    scale = 4.0
    p0 = np.array([35.0, 30.0])
    p1 = p0 + 38.0 * np.array([np.sin(angle), np.cos(angle)])
    shape = (360, 300)
    got = np.zeros(shape, np.float32)
    bone = LongBone("b", p0, p1, 3.7, 0.75, 0.45, "metacarpal", 0.22, 0.8, base_plate)
    film.draw_long_bone(got, bone, _Scale(scale), 0.8)
    ref = _long_bone_f64(shape, p0 * scale, p1 * scale, 3.7 * scale, 0.75, 0.45, "metacarpal", 0.8, 1 / scale,
                         base_span=0.22, base_round=0.8, base_plate=base_plate)
    assert ref.max() > 5.0
    np.testing.assert_allclose(got, ref, atol=2e-3, rtol=0)
    assert np.abs(got[ref == 0]).max() == 0.0
    full = np.zeros(shape, np.float32)
    film.draw_long_bone(full, LongBone("b", p0, p1, 3.7, 0.75, 0.45, "metacarpal", 0.22, 0.8), _Scale(scale), 0.8)
    if base_plate == 1.0:
        assert np.array_equal(got, full)
        return
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    along = ((x - p0[0] * scale) * np.sin(angle) + (y - p0[1] * scale) * np.cos(angle)) / (38.0 * scale)
    base_end = (along < 0.03) & (full > 0)
    assert np.all(got <= full + 1e-6) and (full - got)[base_end].max() > 0.1  # fainter at the base ...
    assert np.array_equal(got[along > 0.25], full[along > 0.25])  # ... only there


@pytest.mark.parametrize("angle", [0.0, 0.62, 2.8])
@pytest.mark.parametrize("head_span", [0.05, 0.1, 0.22, 0.5])
def test_long_bone_head_span_matches_the_reference(angle, head_span):
    """v4's young radius and ulna (section 7.29): the head's flare reaching ``head_span``
    of the length, against the float64 formula; the row spans still cover every drawn
    pixel; 0.15 draws exactly the pixels of a bone without the field; a shorter span
    leaves the end's width and the base's half as they were and narrows the bone 0.15 of
    its length from the head, a longer one widens it there."""
    from boneage_fast.data import film
    from boneage_fast.data.anatomy import LongBone

    scale = 4.0
    p0 = np.array([35.0, 30.0])
    p1 = p0 + 38.0 * np.array([np.sin(angle), np.cos(angle)])
    shape = (360, 300)
    got = np.zeros(shape, np.float32)
    film.draw_long_bone(got, LongBone("b", p0, p1, 3.7, 0.2, 0.9, "radius", head_span=head_span), _Scale(scale), 0.3)
    ref = _long_bone_f64(shape, p0 * scale, p1 * scale, 3.7 * scale, 0.2, 0.9, "radius", 0.3, 1 / scale,
                         head_span=head_span)
    assert ref.max() > 5.0
    np.testing.assert_allclose(got, ref, atol=2e-3, rtol=0)
    assert np.abs(got[ref == 0]).max() == 0.0
    plain = np.zeros(shape, np.float32)
    film.draw_long_bone(plain, LongBone("b", p0, p1, 3.7, 0.2, 0.9, "radius"), _Scale(scale), 0.3)
    same = np.zeros(shape, np.float32)
    film.draw_long_bone(same, LongBone("b", p0, p1, 3.7, 0.2, 0.9, "radius", head_span=0.15), _Scale(scale), 0.3)
    assert np.array_equal(plain, same) and not np.array_equal(plain, got)
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    along = ((x - p0[0] * scale) * np.sin(angle) + (y - p0[1] * scale) * np.cos(angle)) / (38.0 * scale)
    if head_span < 0.15:  # the head's flare has died away long before the base's half
        np.testing.assert_allclose(got[along < 0.5], plain[along < 0.5], atol=2e-3, rtol=0)
    # across the head's end the same width; further down narrower for a shorter span
    drawn, drawn0 = got > 0.05, plain > 0.05
    end, down = np.abs(along - 0.985) < 0.01, np.abs(along - 0.85) < 0.01
    assert abs(int(drawn[end].sum()) - int(drawn0[end].sum())) <= 0.07 * drawn0[end].sum()
    if head_span < 0.15:
        assert drawn[down].sum() < drawn0[down].sum()
    else:
        assert drawn[down].sum() > drawn0[down].sum()


@pytest.mark.parametrize("kind", ["metacarpal", "radius"])
@pytest.mark.parametrize("marrow", [0.22, 0.0, 0.1])
@pytest.mark.parametrize("end_plate", [0.0, 0.8])
def test_long_bone_splits_cortex_and_interior_as_the_reference(kind, marrow, end_plate):
    """With a ``cancellous`` array the cortex's path goes to ``acc`` and the interior's
    (marrow canal mid-shaft, cancellous ends) to it, each equal to its float64 term; their
    sum is the unsplit bone."""
    from boneage_fast.data import film
    from boneage_fast.data.anatomy import LongBone

    scale = 4.0
    p0 = np.array([35.0, 30.0])
    p1 = p0 + 38.0 * np.array([np.sin(0.35), np.cos(0.35)])
    bone = LongBone("b", p0, p1, 3.7, 0.45, 0.25, kind)
    shape = (360, 300)
    base = np.full(shape, 0.5, np.float32)
    got, canc = base.copy(), np.full(shape, 0.25, np.float32)
    film.draw_long_bone(got, bone, _Scale(scale), end_plate, marrow, canc)
    ref_cortex, ref_interior = _long_bone_f64(shape, p0 * scale, p1 * scale, 3.7 * scale, 0.45, 0.25, kind, end_plate,
                                              1 / scale, marrow, parts=True)
    assert ref_cortex.max() > 3.0 and ref_interior.max() > 0.5
    np.testing.assert_allclose(got - base, ref_cortex, atol=2e-3, rtol=0)
    np.testing.assert_allclose(canc - 0.25, ref_interior, atol=2e-3, rtol=0)
    whole = np.zeros(shape, np.float32)
    film.draw_long_bone(whole, bone, _Scale(scale), end_plate, marrow)
    np.testing.assert_allclose((got - base) + (canc - 0.25), whole, atol=1e-4, rtol=0)
    if marrow == 0.0:
        # an empty canal: mid-shaft, on the axis, no interior path at all
        mid = (p0 + p1) / 2 * scale
        assert canc[int(round(mid[1])), int(round(mid[0]))] - 0.25 < 1e-3


def test_long_bone_adds_and_clips_at_the_image_edge():
    from boneage_fast.data import film
    from boneage_fast.data.anatomy import LongBone

    # a bone running off the top-left corner: only its visible part, added to what is there
    bone = LongBone("b", np.array([-20.0, -30.0]), np.array([40.0, 50.0]), 4.0, 0.3, 0.3, "phalanx")
    base = np.full((200, 150), 0.5, np.float32)
    got = base.copy()
    film.draw_long_bone(got, bone, _Scale(2.0))
    ref = _long_bone_f64(base.shape, (-40.0, -60.0), (80.0, 100.0), 8.0, 0.3, 0.3, "phalanx", 0.0, 0.5)
    np.testing.assert_allclose(got - base, ref, atol=2e-3, rtol=0)


def _ossicle_f64(shape, c, a, b, ang, cap, taper, p, shell, interior, weight, bend=0.0, slope=0.0, hollow=0.0,
                 parts=False, lean=0.0):
    """A superellipse ossicle's path length, float64, from film.draw_ossicle's formulas
    (with ``parts``: the shell's and the interior's apart)."""
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    dx, dy = x - c[0], y - c[1]
    xr = (dx * np.cos(ang) + dy * np.sin(ang)) / a
    yr = -(-dx * np.sin(ang) + dy * np.cos(ang)) / b
    if cap:
        side = -yr if cap > 0 else yr
        shift = 0.8 * abs(cap) * (0.5 - xr ** 2) * np.clip(side, 0, 1)
        yr = yr - shift if cap > 0 else yr + shift
    yr = yr - bend * xr ** 2
    xc = np.clip(xr, -1, 1)
    yr = np.where(yr > 0, yr / (1 + slope * xc + hollow * xc ** 2), yr)
    if taper:
        # the width at this height: 1 - w, shifted by lean w (one side kept straight)
        along = yr if taper > 0 else -yr
        w = abs(taper) * np.clip(0.5 * (along + 1), 0, 1)
        xr = (xr - lean * w) / (1 - w)
    rho = np.abs(xr) ** p + np.abs(yr) ** p
    outer = np.sqrt(np.clip(1 - rho, 0, None))
    inner = np.sqrt(np.clip(1 - rho * shell ** -p, 0, None)) * shell
    if parts:
        return weight * 2 * (outer - inner), weight * 2 * interior * inner
    return weight * (2 * (outer - inner) + 2 * interior * inner)


@pytest.mark.parametrize("cap, taper, p, interior, bend", [
    (0.0, 0.0, 2.0, 0.5, 0.0), (0.0, 0.0, 2.8, 0.5, 0.0), (0.7, 0.0, 2.2, 0.4, 0.0), (-0.9, 0.0, 2.8, 0.4, 0.0),
    (0.0, 0.55, 3.1, 0.35, 0.0), (0.0, -0.3, 2.0, 0.35, 0.0), (0.0, 0.0, 2.0, 0.0, 0.0),
    (0.0, 0.0, 2.8, 0.35, 0.35), (0.0, -0.3, 2.0, 0.35, -0.5), (0.7, 0.0, 2.8, 0.4, 0.25),
])
@pytest.mark.parametrize("slope, hollow", [(0.0, 0.0), (0.6, 0.3), (-0.8, 0.0), (0.0, 1.0)])
@pytest.mark.parametrize("ang", [0.0, 0.6, -1.1])
def test_ossicle_matches_a_float64_reference(cap, taper, p, interior, bend, slope, hollow, ang):
    shape, c, a, b, shell, weight = (150, 150), (75.3, 82.6), 30.0, 19.0, 0.8, 5.0
    got = np.zeros(shape, np.float32)
    n = _C.film_ossicle(got, c[0], c[1], a, b, np.cos(ang), np.sin(ang), cap, taper, p, shell, interior, weight, bend,
                        slope, hollow)
    ref = _ossicle_f64(shape, c, a, b, ang, cap, taper, p, shell, interior, weight, bend, slope, hollow)
    assert n > 0 and ref.max() > 2.0
    # the whole outline inside the image: the kernel's bounding square must not clip it
    assert not (ref[0].any() or ref[-1].any() or ref[:, 0].any() or ref[:, -1].any())
    # the power runs through a polynomial log and exp (~3e-7 relative), amplified by the
    # square root at the outline
    np.testing.assert_allclose(got, ref, atol=3e-3, rtol=0)
    assert np.abs(got[ref == 0]).max() == 0.0


@pytest.mark.parametrize("taper, lean, p", [(-0.55, 1.0, 2.9), (-0.3, -1.0, 2.8), (0.4, 0.5, 2.0), (0.3, -0.3, 2.0)])
@pytest.mark.parametrize("ang", [0.0, -0.25, 2.2])
def test_ossicle_taper_from_one_side_matches_the_reference(taper, lean, p, ang):
    """``lean`` takes the taper from one side: the kernel matches the float64 reference,
    the kept side runs straight (its extent along the own x the same at both ends), and
    with lean 0 the kernel draws exactly what it drew without the argument."""
    shape, c, a, b, shell, weight = (150, 150), (75.3, 72.6), 28.0, 36.0, 0.8, 5.0
    got = np.zeros(shape, np.float32)
    _C.film_ossicle(got, c[0], c[1], a, b, np.cos(ang), np.sin(ang), 0.0, taper, p, shell, 0.4, weight, 0.0,
                    0.0, 0.0, lean)
    ref = _ossicle_f64(shape, c, a, b, ang, 0.0, taper, p, shell, 0.4, weight, lean=lean)
    assert not (ref[0].any() or ref[-1].any() or ref[:, 0].any() or ref[:, -1].any())
    np.testing.assert_allclose(got, ref, atol=3e-3, rtol=0)
    assert np.abs(got[ref == 0]).max() == 0.0
    # the own frame's extent in x at the narrowed end (3/4 of b towards it) and at the
    # other: the kept side (sign of lean) the same at both, the other side pulled in
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    dx, dy = x - c[0], y - c[1]
    own_x = dx * np.cos(ang) + dy * np.sin(ang)
    own_y = -(-dx * np.sin(ang) + dy * np.cos(ang))
    narrow = np.sign(taper)
    ext = {}
    for end in (narrow, -narrow):
        band = (got > 0.05) & (np.abs(own_y - end * 0.6 * b) < 1.5)
        ext[end] = (own_x[band].min(), own_x[band].max())
    kept, other = (1, 0) if lean > 0 else (0, 1)
    pulled = abs(ext[narrow][other] - ext[-narrow][other])
    assert pulled > 2.0 * abs(ext[narrow][kept] - ext[-narrow][kept]) or abs(lean) < 0.6
    zero = np.zeros(shape, np.float32)
    _C.film_ossicle(zero, c[0], c[1], a, b, np.cos(ang), np.sin(ang), 0.0, taper, p, shell, 0.4, weight, 0.0,
                    0.0, 0.0, 0.0)
    old = np.zeros(shape, np.float32)
    _C.film_ossicle(old, c[0], c[1], a, b, np.cos(ang), np.sin(ang), 0.0, taper, p, shell, 0.4, weight)
    assert np.array_equal(zero, old)


@pytest.mark.parametrize("cap, bend, slope, hollow", [(0.0, 0.0, 0.0, 0.0), (0.9, 0.0, 0.0, 0.0),
                                                    (-0.8, 0.4, 0.0, 0.0), (0.0, -0.6, 0.7, 0.4)])
@pytest.mark.parametrize("ang", [0.0, 0.35, 1.2, -2.0])
def test_ossicle_rows_skip_only_pixels_outside_a_long_thin_outline(cap, bend, slope, hollow, ang):
    """An epiphysis-like outline, 7 times longer than thick, at angles: each row is
    evaluated only where the ossicle's own rectangle crosses it, far fewer pixels than
    its bounding square, and nothing of the outline is lost."""
    shape, c, a, b = (160, 170), (83.4, 77.7), 56.0, 8.0
    got = np.zeros(shape, np.float32)
    n = _C.film_ossicle(got, c[0], c[1], a, b, np.cos(ang), np.sin(ang), cap, 0.2, 2.6, 0.8, 0.4, 3.0, bend,
                        slope, hollow)
    ref = _ossicle_f64(shape, c, a, b, ang, cap, 0.2, 2.6, 0.8, 0.4, 3.0, bend, slope, hollow)
    assert ref.max() > 1.0 and not (ref[0].any() or ref[-1].any() or ref[:, 0].any() or ref[:, -1].any())
    np.testing.assert_allclose(got, ref, atol=3e-3, rtol=0)
    assert np.abs(got[ref == 0]).max() == 0.0
    r = a * (1 + abs(cap) * 0.8 + abs(bend) + abs(slope) + hollow) + 2  # the square's half-side
    assert 0 < n < 0.6 * (2 * r) ** 2


@pytest.mark.parametrize("p, cap", [(2.0, 0.0), (2.8, 0.7)])
def test_ossicle_splits_shell_and_interior_as_the_reference(p, cap):
    shape, c, a, b, shell, weight, interior = (150, 150), (75.3, 82.6), 30.0, 19.0, 0.8, 5.0, 0.35
    got, canc = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    _C.film_ossicle(got, c[0], c[1], a, b, np.cos(0.6), np.sin(0.6), cap, 0.3, p, shell, interior, weight, 0.2,
                    0.3, 0.2, cancellous=canc)
    ref_shell, ref_interior = _ossicle_f64(shape, c, a, b, 0.6, cap, 0.3, p, shell, interior, weight, 0.2, 0.3, 0.2,
                                           parts=True)
    assert ref_shell.max() > 1.0 and ref_interior.max() > 1.0
    np.testing.assert_allclose(got, ref_shell, atol=3e-3, rtol=0)
    np.testing.assert_allclose(canc, ref_interior, atol=3e-3, rtol=0)


def test_draw_ossicle_splits_a_faceted_ossicle_too():
    """A faceted ossicle drawn with ``interior_acc``: shell plus interior equal the
    unsplit faceted drawing (the facets' factor applies to both), the interior inside it."""
    from boneage_fast.data import film
    from boneage_fast.data.anatomy import Ellipse

    e = Ellipse("capitate", np.array([20.0, 15.0]), np.array([7.0, 10.0]), 0.3, 1.1, 2.9, taper=-0.3, bend=0.3,
                facets=((1.0, 0.0, 22.5), (-0.6, 0.8, 5.0)))
    whole = np.zeros((160, 170), np.float32)
    film.draw_ossicle(whole, e, _Scale(4.0), 0.06, 0.5)
    shell, inner = np.zeros_like(whole), np.zeros_like(whole)
    film.draw_ossicle(shell, e, _Scale(4.0), 0.06, 0.5, inner)
    assert inner.max() > 0.2 * whole.max() and shell.max() > 0.0
    np.testing.assert_allclose(shell + inner, whole, atol=1e-5, rtol=1e-5)
    assert np.all(inner[whole == 0] == 0)


def test_draw_ossicle_matches_the_reference_through_a_frame():
    from boneage_fast.data import film
    from boneage_fast.data.anatomy import Ellipse

    e = Ellipse("capitate", np.array([20.0, 15.0]), np.array([7.0, 10.0]), 0.3, 1.1, 2.9, taper=-0.3, bend=0.3)
    got = np.zeros((160, 170), np.float32)
    film.draw_ossicle(got, e, _Scale(4.0), 0.06, 0.5)
    # _Scale keeps y, so the frame's rotation is 0 and the ossicle turns by -angle
    a, b = 28.0, 40.0
    shell = 1 - 0.7 / a - 0.06
    ref = _ossicle_f64(got.shape, (80.0, 60.0), a, b, -0.3, 0.0, -0.3, 2.9, shell, 0.5, 1.1 * a / 4.0, 0.3)
    np.testing.assert_allclose(got, ref, atol=3e-3, rtol=0)


def test_draw_ossicle_cuts_along_its_facets(monkeypatch):
    """A faceted ossicle is the whole one times the facets' factor: 0 beyond a facet, an
    anti-aliased pixel-wide step at it, the subchondral plate brightening the bone there
    (film.FACET_PLATE, fading over film.FACET_PLATE_MM), float64 here; sharp corners
    (film.FACET_ROUND 0; the rounded ones below)."""
    from boneage_fast.data import film
    from boneage_fast.data.anatomy import Ellipse

    monkeypatch.setattr(film, "FACET_ROUND", 0.0)
    monkeypatch.setattr(film, "FACET_EDGE_MM", 0.0)  # square cuts (the rounded edges below)

    facets = ((1.0, 0.0, 22.5), (-0.6, 0.8, 5.0))  # x <= 22.5 mm; -0.6 x + 0.8 y <= 5 mm
    e = Ellipse("capitate", np.array([20.0, 15.0]), np.array([7.0, 10.0]), 0.3, 1.1, 2.9, taper=-0.3, bend=0.3,
                facets=facets)
    base = np.full((160, 170), 0.25, np.float32)
    got = base.copy()
    film.draw_ossicle(got, e, _Scale(4.0), 0.06, 0.5)
    whole = np.zeros_like(base)
    film.draw_ossicle(whole, Ellipse("capitate", e.centre, e.axes, 0.3, 1.1, 2.9, taper=-0.3, bend=0.3),
                      _Scale(4.0), 0.06, 0.5)
    y, x = np.mgrid[0:160, 0:170].astype(np.float64)
    w, plate = np.ones_like(x), np.zeros_like(x)
    for nx, ny, t in facets:
        inside = (t - (nx * x + ny * y) / 4.0) * 4.0  # pixels on the kept side
        w *= np.clip(inside + 0.5, 0.0, 1.0)
        plate = np.maximum(plate, np.exp(-np.maximum(inside, 0.0) / (film.FACET_PLATE_MM * 4.0)))
    ref = whole * w * (1.0 + film.FACET_PLATE * plate)
    assert (ref > 0).sum() < 0.85 * (whole > 0).sum()  # both facets cut
    np.testing.assert_allclose(got - base, ref, atol=1e-5, rtol=1e-5)
    assert np.all(got[(x / 4.0 > 22.5 + 0.25)] == 0.25)  # nothing beyond the facet
    # the plate: just inside a facet the bone is brighter than the uncut bone there
    row = 60
    col = int(22.5 * 4.0) - 1
    assert got[row, col] - 0.25 > whole[row, col] > 0.0


@pytest.mark.parametrize("edge, reach", [(1.5, 0.35), (0.8, 0.0), (2.0, 0.6)])
def test_facet_weight_rounds_the_articular_edge(edge, reach):
    """With an edge of e mm reaching r mm beyond the facet: the factor (before the plate)
    is sqrt(q (2 - q)) of q = (depth + r) / e clipped to [0, 1], the depth in mm plus
    half a pixel: zero from r mm beyond the facet outwards, one from e - r mm inside, a
    circle's chord between, rising monotonically; float64 here."""
    from boneage_fast.data import film

    facets = ((0.6, 0.8, 20.0),)  # 0.6 x + 0.8 y <= 20 mm
    T = _Scale(5.0)
    got = film.facet_weight(facets, T, (0, 80), (0, 90), edge_mm=edge, reach_mm=reach).astype(np.float64)
    y, x = np.mgrid[0:80, 0:90].astype(np.float64) / 5.0
    inside = 20.0 - (0.6 * x + 0.8 * y)  # mm
    q = np.clip((inside + 0.5 / 5.0 + reach) / edge, 0.0, 1.0)
    plate = np.exp(-np.maximum(inside, 0.0) / film.FACET_PLATE_MM)
    np.testing.assert_allclose(got, np.sqrt(q * (2.0 - q)) * (1.0 + film.FACET_PLATE * plate), atol=1e-5)
    assert np.all(got[inside < -reach - 0.1 - 1e-9] == 0.0)
    beyond = (inside > -reach + 0.05) & (inside < 0.0)  # past the facet, within the reach
    assert (reach == 0.0) or np.all(got[beyond] > 0.0)
    bare = got / (1.0 + film.FACET_PLATE * plate)
    np.testing.assert_allclose(bare[inside >= edge - reach], 1.0, atol=1e-6)
    order = np.argsort(inside.ravel())
    assert np.all(np.diff(bare.ravel()[order]) >= -1e-6)
    # with no edge: the pixel-wide step, as before
    square = film.facet_weight(facets, T, (0, 80), (0, 90)).astype(np.float64)
    np.testing.assert_allclose(square, np.clip(inside * 5.0 + 0.5, 0.0, 1.0) * (1.0 + film.FACET_PLATE * plate),
                               atol=1e-5)


def test_draw_ossicle_rounds_its_facets_edges():
    """A faceted ossicle as drawn (film.FACET_EDGE_MM, FACET_REACH_MM, FACET_ROUND) is the
    whole one times facet_weight with those: it reaches FACET_REACH_MM past its facet,
    and is thinner than the square cut just inside it."""
    from boneage_fast.data import film
    from boneage_fast.data.anatomy import Ellipse

    facets = ((1.0, 0.0, 22.5), (-0.6, 0.8, 5.0))
    kw = dict(centre=np.array([20.0, 15.0]), axes=np.array([7.0, 10.0]), angle=0.3, density=1.1, exponent=2.9)
    e = Ellipse("capitate", facets=facets, **kw)
    got = np.zeros((160, 170), np.float32)
    film.draw_ossicle(got, e, _Scale(4.0), 0.06, 0.5)
    whole = np.zeros_like(got)
    film.draw_ossicle(whole, Ellipse("capitate", **kw), _Scale(4.0), 0.06, 0.5)
    w = film.facet_weight(facets, _Scale(4.0), (0, 160), (0, 170), film.FACET_ROUND * 7.0, film.FACET_EDGE_MM,
                          film.FACET_REACH_MM)
    np.testing.assert_allclose(got, whole * w, atol=1e-5, rtol=1e-5)
    x = np.arange(170) / 4.0
    row = 60
    assert film.FACET_EDGE_MM > 0.0 and film.FACET_REACH_MM > 0.0
    past = (x > 22.5 + 0.05) & (x < 22.5 + film.FACET_REACH_MM - 0.05)
    assert np.all(got[row, past] > 0.0) and np.all(got[row, x > 22.5 + film.FACET_REACH_MM + 0.15] == 0.0)


def test_facet_weight_rounds_a_right_angled_corner_to_a_quarter_circle():
    """Two facets at a right angle, rounded with radius r: the kept region is the square
    corner shrunk by r and grown back by r, its corner a quarter circle of radius r about
    (x0 - r, y0 - r); float64 distances here."""
    from boneage_fast.data import film

    facets = ((1.0, 0.0, 20.0), (0.0, 1.0, 15.0))  # x <= 20 mm, y <= 15 mm
    T, r = _Scale(4.0), 2.5  # 4 px per mm; r in mm
    got = film.facet_weight(facets, T, (0, 100), (0, 120), round_mm=r).astype(np.float64)
    y, x = np.mgrid[0:100, 0:120].astype(np.float64) / 4.0  # mm
    cx, cy = 20.0 - r, 15.0 - r  # the shrunk corner
    dist = np.hypot(np.maximum(x - cx, 0.0), np.maximum(y - cy, 0.0))  # to the shrunk region
    inside = np.where(dist > 0.0, r - dist, np.minimum(20.0 - x, 15.0 - y)) * 4.0  # pixels
    ref = np.clip(inside + 0.5, 0.0, 1.0) * (1.0 + film.FACET_PLATE * np.exp(-np.maximum(inside, 0.0) / (
        film.FACET_PLATE_MM * 4.0)))
    np.testing.assert_allclose(got, ref, atol=1e-5)
    sharp = film.facet_weight(facets, T, (0, 100), (0, 120)).astype(np.float64)
    # along the faces, away from the corner, as without rounding; the corner's tip cut
    far = (x < cx - 1.0) | (y < cy - 1.0)
    np.testing.assert_allclose(got[far], sharp[far], atol=1e-5)
    assert sharp[59, 79] > 0.5 and got[59, 79] == 0.0  # (19.75, 14.75) mm: 1.8 mm outside the arc


@pytest.mark.parametrize("angle", [0.6, 1.2, 2.2])
def test_facet_weight_rounds_any_corner_inside_the_sharp_one(angle):
    """At any angle between two facets the rounded region lies inside the sharp one, keeps
    each face where the other is r or more away, and cuts the corner's tip; at a right or
    acute corner it keeps the disc of radius r tangent to both faces (the rounding no
    deeper than an inscribed circle's; at an obtuse corner it is somewhat deeper)."""
    from boneage_fast.data import film

    n1 = np.array([1.0, 0.0])
    n2 = np.array([math.cos(math.pi - angle), math.sin(math.pi - angle)])  # faces meet at `angle`
    v = np.array([25.0, 20.0])  # the corner, mm
    facets = ((*n1, float(n1 @ v)), (*n2, float(n2 @ v)))
    T, r = _Scale(4.0), 3.0
    got = film.facet_weight(facets, T, (0, 200), (0, 200), round_mm=r)
    sharp = film.facet_weight(facets, T, (0, 200), (0, 200))
    assert np.all(got[sharp == 0.0] == 0.0) and (got > 0).sum() < (sharp > 0).sum()  # inside the sharp cut
    y, x = np.mgrid[0:200, 0:200].astype(np.float64) / 4.0
    p = np.stack([x, y], -1)
    d1, d2 = facets[0][2] - p @ n1, facets[1][2] - p @ n2  # mm inside each face
    # the centre of the inscribed circle: r inside both faces
    c = np.linalg.solve(np.stack([n1, n2]), np.array([facets[0][2] - r, facets[1][2] - r]))
    if angle <= math.pi / 2:
        in_disc = np.hypot(x - c[0], y - c[1]) < r - 0.5
        assert in_disc.sum() > 100 and np.all(got[in_disc] >= 1.0 - 1e-6)
    one_face = ((d1 > r + 0.5) | (d2 > r + 0.5)) & (d1 > -1.0) & (d2 > -1.0)  # untouched
    assert np.allclose(got[one_face], sharp[one_face], atol=1e-6)
    tip = (np.hypot(x - v[0], y - v[1]) < 0.2 * r) & (d1 > 0.0) & (d2 > 0.0)
    assert tip.sum() > 0 and np.all(sharp[tip] > 0.5) and np.all(got[tip] == 0.0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(length=0.0), "length, half_width and end_plate_width must be > 0"),
    (dict(half_width=-1.0), "length, half_width and end_plate_width must be > 0"),
    (dict(ux=0.5, uy=0.5), "unit vector"),
    (dict(p0x=float("nan")), "parameters must be finite"),
    (dict(flare1=float("inf")), "parameters must be finite"),
    (dict(marrow=float("nan")), "parameters must be finite"),
    (dict(base_span=0.0), r"base_span must be in \[0.05, 0.5\]"),
    (dict(base_span=0.6), r"base_span must be in \[0.05, 0.5\]"),
    (dict(base_span=float("nan")), "parameters must be finite"),
    (dict(base_plate=-0.1), r"base_plate must be in \[0, 1\]"),
    (dict(base_plate=1.5), r"base_plate must be in \[0, 1\]"),
    (dict(base_plate=float("nan")), "parameters must be finite"),
    (dict(head_span=0.04), r"head_span must be in \[0.05, 0.5\]"),
    (dict(head_span=0.51), r"head_span must be in \[0.05, 0.5\]"),
    (dict(head_span=float("inf")), "parameters must be finite"),
])
def test_long_bone_rejects_bad_parameters(kwargs, match):
    args = dict(p0x=5.0, p0y=5.0, ux=0.0, uy=1.0, length=20.0, half_width=3.0, flare0=0.4, flare1=0.2,
                base_round=0.3, head_round=0.5, medulla_gain=0.4, end_plate=0.0, end_plate_width=1.0,
                mm_per_pixel=0.2)
    args.update(kwargs)
    acc = np.zeros((32, 32), np.float32)
    with pytest.raises(ValueError, match=match):
        _C.film_long_bone(acc, **args)
    assert not acc.any()


@pytest.mark.parametrize("kwargs, match", [
    (dict(a=0.0), "semi-axes must be > 0"),
    (dict(exponent=0.5), "exponent must be >= 1"),
    (dict(shell=0.0), "shell must be in"),
    (dict(taper=1.0), r"\|taper\| must be < 1"),
    (dict(bend=1.5), r"\|bend\| must be <= 1"),
    (dict(bend=float("nan")), "parameters must be finite"),
    (dict(slope=1.0), r"\|slope\| must be < 1"),
    (dict(slope=float("inf")), "parameters must be finite"),
    (dict(hollow=-0.1), r"hollow must be in \[0, 1\]"),
    (dict(hollow=1.5), r"hollow must be in \[0, 1\]"),
    (dict(lean=1.2), r"\|lean\| must be <= 1"),
    (dict(lean=float("nan")), "parameters must be finite"),
    (dict(cx=float("nan")), "parameters must be finite"),
])
def test_ossicle_rejects_bad_parameters(kwargs, match):
    args = dict(cx=10.0, cy=10.0, a=5.0, b=4.0, cos_t=1.0, sin_t=0.0, cap=0.0, taper=0.0, exponent=2.0, shell=0.8,
                interior=0.5, weight=1.0)
    args.update(kwargs)
    acc = np.zeros((32, 32), np.float32)
    with pytest.raises(ValueError, match=match):
        _C.film_ossicle(acc, **args)
    assert not acc.any()


@pytest.mark.parametrize("fn", ["film_long_bone", "film_ossicle"])
@pytest.mark.parametrize("bad, exc, match", [
    (np.zeros((8, 8), np.float64), TypeError, "acc: must be float32"),
    (np.zeros((8, 16), np.float32)[:, ::2], ValueError, "acc: must be C-contiguous"),
    (np.zeros(8, np.float32), ValueError, "acc: must be 2-D"),
])
def test_long_bone_and_ossicle_reject_bad_arrays(fn, bad, exc, match):
    args = (1.0, 1.0, 0.0, 1.0, 5.0, 2.0, 0.3, 0.3, 0.3, 0.5, 0.4, 0.0, 1.0, 0.2) if fn == "film_long_bone" else \
        (4.0, 4.0, 2.0, 2.0, 1.0, 0.0, 0.0, 0.0, 2.0, 0.8, 0.5, 1.0)
    with pytest.raises(exc, match=match):
        getattr(_C, fn)(bad, *args)


def test_off_image_bone_and_ossicle_touch_nothing():
    acc = np.zeros((40, 40), np.float32)
    assert _C.film_long_bone(acc, 500.0, 500.0, 0.0, 1.0, 30.0, 3.0, 0.4, 0.2, 0.3, 0.5, 0.4, 0.0, 1.0, 0.2) == 0
    assert _C.film_ossicle(acc, -300.0, 10.0, 5.0, 4.0, 1.0, 0.0, 0.0, 0.0, 2.0, 0.8, 0.5, 1.0) == 0
    assert not acc.any()


# --------------------------------------------------------------- the line texture (v4)
def _bspline_field(lattice: np.ndarray, m, shape) -> np.ndarray:
    """A lattice of deviates read at the affine map of each output pixel through the
    uniform quadratic B-spline (nodes at integer lattice coordinates, the position
    clamped so that the three taps stay on the lattice), over the square root of the
    sum of the squared weights; in float64 from the positions as the kernel rounds
    them (float32, in its order)."""
    H, W = shape
    nv, nu = lattice.shape
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    m32 = np.asarray(m, np.float32)
    u = np.clip(m32[0] * x + (m32[1] * y + m32[2]), np.float32(0.5), np.float32(nu - 2 + 0.49)).astype(np.float64)
    v = np.clip(m32[3] * x + (m32[4] * y + m32[5]), np.float32(0.5), np.float32(nv - 2 + 0.49)).astype(np.float64)

    def taps(p):  # nearest node and the three weights (B-spline of degree 2)
        i = np.floor(p + 0.5).astype(int)
        t = p - i + 0.5
        return i, (0.5 * (1 - t) ** 2, 0.5 + t * (1 - t), 0.5 * t ** 2)

    iu, wu = taps(u)
    iv, wv = taps(v)
    g = lattice.astype(np.float64)
    f = np.zeros((H, W))
    for b in range(3):
        for a in range(3):
            f += wv[b] * wu[a] * g[iv + b - 1, iu + a - 1]
    return f / np.sqrt(sum(w ** 2 for w in wu) * sum(w ** 2 for w in wv))


def _lines_reference(fields, line: float, mean: float, shape, layers: int = 1, smooth: float = 0.0,
                     spread: float = 0.0) -> np.ndarray:
    """The line texture in float64: l_k = exp(-(f_k / line)^2) of each line field,
    joined per layer (``layers`` equal groups in order) as 1 - prod(1 - l_k), the layers
    averaged, over ``mean``, less 1; with ``smooth`` > 0 the last field is no line field
    that share of the texture as a log-normal density of mean 1,
    exp(spread f - spread^2 / 2), the lines the rest."""
    line_fields = fields[:-1] if smooth > 0 else fields
    per = len(line_fields) // layers
    joined = np.zeros(shape)
    for g in range(layers):
        gap = np.ones(shape)
        for lattice, m in line_fields[g * per:(g + 1) * per]:
            gap *= 1.0 - np.exp(-(_bspline_field(lattice, m, shape) / line) ** 2)
        joined += 1.0 - gap
    tex = joined / layers / mean - 1.0
    if smooth > 0:
        density = np.exp(spread * _bspline_field(*fields[-1], shape) - spread ** 2 / 2)
        tex = (1.0 - smooth) * (tex + 1.0) + smooth * density - 1.0
    return tex


def _rotated_map(angle: float, step: float, du: float, dv: float):
    c, s = math.cos(angle), math.sin(angle)
    return (c / step, s / step, du, -s / step, c / step, dv)


@pytest.mark.parametrize("n_fields, layers, smooth, spread", [
    (1, 1, 0.0, 0.0), (2, 1, 0.0, 0.0), (4, 2, 0.0, 0.0), (2, 2, 0.0, 0.0), (3, 1, 0.3, 0.8), (5, 2, 0.3, 1.0),
    (5, 2, 0.9, 2.5), (3, 2, 0.7, 0.0)])
@pytest.mark.parametrize("angle", [0.0, 0.37, -2.1])
def test_expose_line_texture_matches_a_float64_reference(n_fields, layers, smooth, spread, angle):
    """The cancellous path times 1 + amp (lines / mean - 1), the fields read at rotated,
    scaled maps that run off their lattices on some sides (clamped); the cancellous
    path zero over whole chunks of rows (skipped) and at scattered pixels; the line
    fields joined per layer and the layers averaged, a smooth field added last (at
    weight 2.5 often under -1: held there)."""
    rng = np.random.default_rng(n_fields * 10 + layers * 100 + int(smooth * 10) * 1000 + int(spread * 10) * 10_000
                                + int(abs(angle) * 7))
    H, W = 83, 150  # 150: whole chunks of 16 and a part
    bone = (rng.random((H, W)) * 20).astype(np.float32)
    canc = (rng.random((H, W)) * 10).astype(np.float32)
    canc[:, 32:80] = 0.0  # whole chunks without cancellous bone in every row
    canc[rng.random((H, W)) < 0.3] = 0.0
    soft = (rng.random((21, 38)) * 30).astype(np.float32)
    shapes = [(37, 29), (12, 41), (25, 25), (40, 18), (9, 14)]
    maps = [_rotated_map(angle, 4.3, 3.1, 17.9), _rotated_map(angle + 1.0, 2.9, 20.2, -1.5),
            _rotated_map(angle - 0.4, 3.7, 9.0, 6.0), _rotated_map(angle + 2.0, 2.2, 14.0, 30.0),
            _rotated_map(angle, 11.0, 4.0, 5.0)]
    fields = [(rng.standard_normal(shp).astype(np.float32), m) for shp, m in zip(shapes, maps)][:n_fields]
    line, mean, amp = 0.3, 0.37, 0.9
    mu_s, mu_b, gain, bg, heel = 0.014, 0.16, 1.2, 0.05, 0.11
    got = bone.copy()
    _C.film_expose(got, soft, np.zeros((1, 1), np.float32), mu_s, mu_b, amp, gain, bg, heel, 0, canc, lines=fields,
                   tex_line=line, tex_mean=mean, tex_layers=layers, tex_smooth=smooth, tex_spread=spread)
    tex = _lines_reference(fields, line, mean, (H, W), layers, smooth, spread)
    path = _enlarge(soft, (H, W)) * mu_s + (bone.astype(np.float64) + canc * (1 + amp * tex)) * mu_b
    ref = ((1 - np.exp(-path)) * gain + bg) * (1 + heel * (np.arange(H)[:, None] / H - 0.5))
    # float32 sums, steep lines (f / line up to ~10) and a cancellous path up to 10 mm at
    # 2.4x: a few 1e-6, under one 16-bit grey level (1.5e-5)
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
    assert np.mean(np.abs(got - ref)) < 1e-6
    # the reference itself: the lines never take the cancellous path under 1 - amp
    assert tex.min() >= -1.0 - 1e-12
    if smooth == 0.0:
        assert tex.max() <= 1.0 / mean - 1.0 + 1e-12


def test_line_fields_have_unit_variance_everywhere_and_vary_smoothly():
    """The B-spline reading of unit normal deviates, normalised by its weights: unit
    variance at nodes, between them and at half-way points alike; continuous across
    the nodes' cells (no steps where the taps change)."""
    rng = np.random.default_rng(5)
    lattice = rng.standard_normal((403, 403)).astype(np.float32)
    for offset in (0.0, 0.25, 0.5):  # at nodes, a quarter and half-way between
        m = (1.0, 0.0, 1.0 + offset, 0.0, 1.0, 1.0 + offset)  # one pixel per node
        f = _bspline_field(lattice, m, (400, 400))
        assert abs(f.std() - 1.0) < 0.02 and abs(f.mean()) < 0.02
    fine = _bspline_field(lattice[:40, :40], (0.01, 0.0, 1.0, 0.0, 0.01, 1.0), (3600, 60))  # 100 px per node
    # no steps: the differences between neighbours change smoothly (a step of d where the
    # taps change would put a spike of about d into the second difference)
    assert np.abs(np.diff(fine, n=2, axis=1)).max() < 0.005 < np.abs(np.diff(fine, axis=1)).max()
    assert np.abs(np.diff(fine, n=2, axis=0)).max() < 0.005


def test_expose_line_texture_at_full_amplitude_empties_the_pores():
    """Amplitude 1: where the fields are far from zero (no line) the cancellous path
    counts for nothing; on a line (fields at zero) it counts 1 / mean times."""
    H, W = 8, 70
    canc = np.full((H, W), 5.0, np.float32)
    soft = np.zeros((2, 2), np.float32)
    m = (0.0, 0.0, 1.0, 0.0, 0.0, 1.0)  # every pixel reads node (1, 1)
    for value, factor in ((50.0, 0.0), (0.0, 1.0 / 0.4)):
        fields = [(np.full((3, 3), value, np.float32), m)] * 2
        got = np.zeros((H, W), np.float32)
        _C.film_expose(got, soft, soft, 0.0, 0.1, 1.0, -1.0, 1.0, 0.0, 0, canc, lines=fields, tex_line=0.2,
                       tex_mean=0.4)  # gain -1, bg 1: exp(-path)
        np.testing.assert_allclose(got, np.exp(-5.0 * 0.1 * factor), rtol=1e-5)


def test_expose_smooth_density_saturates_on_extreme_lattices():
    """A smooth field's lattice of huge deviates (far past what normal deviates reach):
    the log-normal's exponent is held at 80 instead of wrapping the float's exponent
    bits, so 1 + tex = (1 - share) (lines / mean) + share e^80 exactly as the float64
    formula at that exponent; a huge negative one leaves the lines' share alone."""
    H, W = 6, 40
    canc = np.full((H, W), 2.0, np.float32)
    z = np.zeros((2, 2), np.float32)
    m = (0.0, 0.0, 1.0, 0.0, 0.0, 1.0)  # every pixel reads node (1, 1)
    share, mean, mu = 0.5, 0.4, 1e-36
    lines = (1.0 - share) / mean  # a zero line field: l = 1 everywhere
    for value, one_plus_tex in ((1e6, lines + share * math.exp(80.0)), (50.0, lines + share * math.exp(80.0)),
                                (-1e6, lines)):
        fields = [(np.zeros((3, 3), np.float32), m), (np.full((3, 3), value, np.float32), m)]
        out = np.zeros((H, W), np.float32)
        # gain -1, background 1: out = exp(-path), path = 2 mu (1 + tex)
        _C.film_expose(out, z, z, 0.0, mu, 1.0, -1.0, 1.0, 0.0, 0, canc, lines=fields, tex_line=0.3,
                       tex_mean=mean, tex_smooth=share, tex_spread=4.0)
        np.testing.assert_allclose(out, math.exp(-2.0 * mu * one_plus_tex), rtol=1e-5, err_msg=str(value))


_M = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
_L = np.zeros((4, 4), np.float32)


@pytest.mark.parametrize("kw, exc, match", [
    (dict(lines="ab"), TypeError, "lines: must be a sequence of"),
    (dict(lines=5.0), TypeError, "lines: must be a sequence of"),
    (dict(lines=[]), ValueError, "lines: must hold 1 to 5 fields, got 0"),
    (dict(lines=[(_L, _M)] * 6), ValueError, "lines: must hold 1 to 5 fields, got 6"),
    (dict(lines=[(_L, _M)] * 3, tex_layers=2), ValueError, r"tex_layers: 3 line fields \(3 in lines\) do not form 2"),
    (dict(lines=[(_L, _M)] * 3, tex_layers=2, tex_smooth=0.5), None, None),
    (dict(lines=[(_L, _M)] * 2, tex_layers=0), ValueError, "tex_layers: 2 line fields .* do not form 0 equal"),
    (dict(lines=[(_L, _M)] * 2, tex_layers=-1), ValueError, "do not form -1 equal layers"),
    (dict(lines=[(_L, _M)] * 2, tex_layers=3), ValueError, "2 line fields .* do not form 3 equal layers"),
    (dict(lines=[(_L, _M)], tex_smooth=0.5), ValueError, r"0 line fields \(1 in lines, the last one smooth\)"),
    (dict(lines=[(_L, _M)] * 2, tex_smooth=-0.1), ValueError, r"tex_smooth: must be in \[0, 1\), got -0.1"),
    (dict(lines=[(_L, _M)] * 2, tex_smooth=1.0), ValueError, r"tex_smooth: must be in \[0, 1\), got 1"),
    (dict(lines=[(_L, _M)] * 2, tex_smooth=math.nan), ValueError, r"tex_smooth: must be in \[0, 1\), got nan"),
    (dict(lines=[(_L, _M)] * 2, tex_smooth=0.5, tex_spread=4.5), ValueError, r"tex_spread: must be in \[0, 4\], got 4.5"),
    (dict(lines=[(_L, _M)] * 2, tex_smooth=0.5, tex_spread=-1.0), ValueError, r"tex_spread: must be in \[0, 4\], got -1"),
    (dict(lines=[(_L, _M)] * 2, tex_smooth=0.5, tex_spread=math.inf), ValueError, "tex_spread: must be in"),
    (dict(lines=[(_L, _M)] * 2, tex_smooth=0.99, tex_spread=4.0), None, None),
    (dict(lines=[(_L, _M)] * 2, tex_layers="2"), TypeError, "incompatible function arguments"),
    (dict(lines=[(_L,)]), TypeError, r"lines\[0\]: must be a \(lattice, map\) pair"),
    (dict(lines=[(_L, _M), 7]), TypeError, r"lines\[1\]: must be a \(lattice, map\) pair"),
    (dict(lines=[([[0.0] * 4] * 4, _M)]), TypeError, r"lines\[0\]: the lattice must be a float32 array"),
    (dict(lines=[(_L.astype(np.float64), _M)]), TypeError, "lines lattice: must be float32"),
    (dict(lines=[(np.zeros((4, 8), np.float32)[:, ::2], _M)]), ValueError, "lines lattice: must be C-contiguous"),
    (dict(lines=[(np.zeros(9, np.float32), _M)]), ValueError, "lines lattice: must be 2-D"),
    (dict(lines=[(np.zeros((2, 5), np.float32), _M)]), ValueError, "the lattice must be at least 3 x 3, got 2x5"),
    (dict(lines=[(_L, (1.0, 0.0, 0.0))]), ValueError, r"lines\[0\]: the map must hold 6 numbers, got 3"),
    (dict(lines=[(_L, "abcdef")]), TypeError, r"lines\[0\]: the map must be a sequence of 6 numbers"),
    (dict(lines=[(_L, (1.0, 0.0, "x", 0.0, 1.0, 0.0))]), TypeError, r"lines\[0\]: map item 2 is not a number"),
    (dict(lines=[(_L, (1.0, 0.0, math.nan, 0.0, 1.0, 0.0))]), ValueError, "a line field's map must be finite"),
    (dict(lines=[(_L, _M)], tex_line=0.0), ValueError, "line and line mean must be finite and > 0"),
    (dict(lines=[(_L, _M)], tex_mean=-1.0), ValueError, "line and line mean must be finite and > 0"),
    (dict(lines=[(_L, _M)], tex_line=math.inf), ValueError, "line and line mean must be finite and > 0"),
    (dict(lines=[(_L, _M)], cancellous=None), ValueError, "lines: the line texture needs a cancellous array"),
])
def test_expose_line_texture_rejects_bad_arguments(kw, exc, match):
    bone = np.zeros((8, 8), np.float32)
    args = dict(cancellous=np.ones((8, 8), np.float32), tex_line=0.3, tex_mean=0.4)
    args.update(kw)
    z = np.zeros((2, 2), np.float32)
    before = bone.copy()
    if exc is None:  # the valid neighbour of a rejected call: it runs and writes the film
        _C.film_expose(bone, z, z, 0.01, 0.08, 0.5, 1.0, 0.0, 0.0, 0, args.pop("cancellous"), **args)
        assert not np.array_equal(bone, before) and np.all(np.isfinite(bone))
        return
    with pytest.raises(exc, match=match):
        _C.film_expose(bone, z, z, 0.01, 0.08, 0.5, 1.0, 0.0, 0.0, 0, args.pop("cancellous"), **args)
    assert np.array_equal(bone, before)  # nothing written


@pytest.mark.parametrize("p, ang", [(3.5, 0.785), (4.0, 0.7), (6.0, -2.35)])
def test_ossicle_bounding_square_holds_a_boxy_outline_turned_45_degrees(p, ang):
    """A boxy superellipse turned about 45 degrees reaches past max(a, b) from its centre
    (towards its corners, up to sqrt(a^2 + b^2)): nothing of it is clipped (v4's grown
    trapezium lost up to a pixel at its corners to a square of half-side max(a, b) + 2)."""
    shape, c, a, b = (130, 130), (64.6, 65.2), 30.0, 36.0
    got = np.zeros(shape, np.float32)
    _C.film_ossicle(got, c[0], c[1], a, b, np.cos(ang), np.sin(ang), 0.0, 0.0, p, 0.8, 0.4, 5.0)
    ref = _ossicle_f64(shape, c, a, b, ang, 0.0, 0.0, p, 0.8, 0.4, 5.0)
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    assert (ref[np.maximum(np.abs(x - c[0]), np.abs(y - c[1])) > max(a, b) + 2] > 0).any()
    np.testing.assert_allclose(got, ref, atol=3e-3, rtol=0)
