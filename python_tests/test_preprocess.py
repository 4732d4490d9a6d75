"""The shared preprocessing module (boneage_fast.preprocess): crop, reference histogram
from training crops, fixed Frangi c, augmentation order, detector input; each against
a direct formula or an independent computation, and each decision that fixes an old
behaviour pinned by a test that the old behaviour fails."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from boneage_fast.ops import ReferenceHistogram, hessian_enhance
from boneage_fast.preprocess import (
    AugmentParams,
    Preprocessor,
    augment_maps,
    build_reference,
    calibrate_fine_c,
    crop_resize,
    detector_input,
    square_crop,
)
from _reference import frangi, hessian, smooth_random, well_conditioned


def _stretch(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    return np.round((a - a.min()) * 65535.0 / (a.max() - a.min())).astype(np.uint16)


def _uniform_reference(n: int = 256) -> ReferenceHistogram:
    return ReferenceHistogram.from_counts(np.linspace(0, 1, n), np.ones(n))


def test_preprocess_imports_without_torch(tmp_path):
    code = ("import sys; import boneage_fast.preprocess, boneage_fast.pipeline; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout  # outside the checkout, whose source tree has no _C
    assert out.strip() == "False"


# ---------------------------------------------------------------- crop
def test_square_crop_is_centred_and_enlarged():
    assert square_crop((10, 20, 30, 60), 0.0) == (0.0, 20.0, 40.0, 60.0)
    x0, y0, x1, y1 = square_crop((10, 20, 30, 60), 0.1)
    assert (x1 - x0) == pytest.approx(48.0) and (y1 - y0) == pytest.approx(48.0)
    assert (x0 + x1) / 2 == pytest.approx(20.0) and (y0 + y1) / 2 == pytest.approx(40.0)
    for bad in [(5, 5, 5, 9), (0, 9, 4, 3), (0, 0, float("nan"), 4)]:
        with pytest.raises(ValueError, match="box"):
            square_crop(bad, 0.0)


def test_crop_at_its_own_size_is_the_stretched_window(rng):
    img = rng.integers(0, 4096, size=(60, 50)).astype(np.uint16)
    out = crop_resize(img, (10, 5, 30, 25), size=20, margin=0.0)
    assert out.dtype == np.uint16 and out.shape == (20, 20)
    np.testing.assert_array_equal(out, _stretch(img[5:25, 10:30]))


def test_crop_pads_outside_the_image_with_its_minimum(rng):
    img = (rng.integers(100, 4096, size=(40, 40))).astype(np.uint16)
    out = crop_resize(img, (-10, -10, 10, 10), size=20, margin=0.0)
    # the padded quadrant sits at the image minimum -> 0 after the stretch
    assert (out[:10, :10] == 0).all()
    np.testing.assert_array_equal(out[10:, 10:] > 0, img[:10, :10] > img.min())


def test_crop_downsamples_with_antialiasing():
    # A 1-pixel checkerboard averages to grey when shrunk 4x (no aliasing).
    img = ((np.indices((64, 64)).sum(0) % 2) * 1000 + 500).astype(np.uint16)
    img[0, 0] = 0  # give the stretch a range
    out = crop_resize(img, (0, 0, 64, 64), size=16, margin=0.0).astype(np.float64)
    inner = out[2:-2, 2:-2]
    assert inner.std() < 0.02 * inner.mean()


def test_flat_crop_is_zero_and_bad_pixels_are_refused():
    assert not crop_resize(np.full((30, 30), 7, np.uint16), (0, 0, 30, 30), 8).any()
    with pytest.raises(ValueError, match="2-D"):
        crop_resize(np.zeros((3, 30, 30), np.uint16), (0, 0, 30, 30), 8)


# ---------------------------------------------------------------- reference from training crops
def test_reference_is_the_mean_quantile_function(rng):
    # two crops, uniform on [0, 0.5] and on [0.5, 1]: their barycentre is uniform on [0.25, 0.75]
    a = np.round(rng.uniform(0, 0.5, (64, 64)) * 65535).astype(np.uint16)
    b = np.round(rng.uniform(0.5, 1.0, (64, 64)) * 65535).astype(np.uint16)
    ref = build_reference([a, b], levels=128)
    probs = (np.arange(128) + 0.5) / 128
    want = (np.quantile(a / 65535.0, probs) + np.quantile(b / 65535.0, probs)) / 2
    np.testing.assert_allclose(ref.values, want, atol=1e-9)
    np.testing.assert_allclose(ref.quantiles, (np.arange(128) + 1) / 128)
    assert 0.24 < ref.value_range[0] < 0.26 and 0.74 < ref.value_range[1] < 0.76
    with pytest.raises(ValueError, match="at least one"):
        build_reference([])


def test_coarse_map_has_the_reference_distribution(rng):
    pre = Preprocessor(_uniform_reference(1024), input_size=64)
    crop = _stretch(smooth_random(rng, (64, 64)) ** 3)  # a skewed histogram
    coarse = pre.coarse_from_crop(crop)
    assert coarse.dtype == np.float32 and 0.0 <= coarse.min() and coarse.max() <= 1.0
    # matched to uniform: the deciles are (nearly) uniform
    np.testing.assert_allclose(np.quantile(coarse, np.linspace(0.1, 0.9, 9)), np.linspace(0.1, 0.9, 9), atol=0.01)


def test_matching_on_the_crop_ignores_what_lies_outside_it(rng):
    # The old pipeline matched the whole radiograph: more background around the same
    # hand changed the hand's intensities. Now the crop alone is matched.
    hand = np.round(smooth_random(rng, (80, 80)) * 40000 + 10000).astype(np.uint16)
    small = np.full((120, 120), 2000, np.uint16)
    large = np.full((400, 400), 2000, np.uint16)
    small[20:100, 20:100] = hand
    large[160:240, 160:240] = hand
    pre = Preprocessor(_uniform_reference(), input_size=64, margin=0.0)
    a = pre.maps(small, (20, 20, 100, 100))
    b = pre.maps(large, (160, 160, 240, 240))
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- fixed c for the fine map
def test_calibrated_c_is_frangis_automatic_c(rng):
    sigmas = (1.0, 2.0)
    maps = [smooth_random(rng, (48, 56)).astype(np.float32) for _ in range(3)]
    autos = []
    for m in maps:  # automatic c: half the largest sigma^2-normalised Hessian norm, float64
        s2 = max(float(np.max(hxx**2 + 2 * hxy**2 + hyy**2)) for hxx, hxy, hyy in (hessian(m, s) for s in sigmas))
        autos.append(0.5 * np.sqrt(s2))
    c = calibrate_fine_c(maps, sigmas)
    assert c == pytest.approx(float(np.median(autos)), rel=2e-3)
    with pytest.raises(ValueError, match="flat"):
        calibrate_fine_c([np.zeros((20, 20), np.float32)], sigmas)


def test_fixed_c_fine_map_is_local_a_bright_speck_changes_nothing_far_away(rng):
    # With Frangi's automatic c (the old behaviour) one bright speck rescales the whole
    # map; with the model's fixed c the map away from the speck is unchanged.
    coarse = smooth_random(rng, (96, 96)).astype(np.float32)
    speck = coarse.copy()
    speck[1:3, 1:3] = 40.0
    pre = Preprocessor(_uniform_reference(), input_size=96, sigmas=(1.0, 2.0, 3.0))
    pre.fine_c = calibrate_fine_c([coarse], pre.sigmas)
    far = np.s_[40:, 40:]  # beyond the largest kernel radius (15 px) from the speck
    np.testing.assert_array_equal(pre.fine(coarse)[far], pre.fine(speck)[far])
    auto = Preprocessor(_uniform_reference(), input_size=96, sigmas=(1.0, 2.0, 3.0))  # fine_c None: automatic
    drop = auto.fine(speck)[far].mean() / auto.fine(coarse)[far].mean()
    assert drop < 0.8  # the old behaviour: the speck dimmed the hand's fine map


def test_fine_map_equals_frangi_with_the_fixed_c(rng):
    coarse = smooth_random(rng, (64, 72)).astype(np.float32)
    pre = Preprocessor(_uniform_reference(), input_size=64, sigmas=(1.0, 2.0), fine_c=0.05)
    ok = well_conditioned(coarse, pre.sigmas)
    np.testing.assert_allclose(pre.fine(coarse)[ok], frangi(coarse, pre.sigmas, c=0.05)[ok], atol=2e-4)


# ---------------------------------------------------------------- augmentation order
def test_augmentation_is_geometric_then_fine_then_brightness(rng):
    # Old behaviour: brightness was applied (and clipped) before the fine map, a
    # training-only distortion. Now the fine channel is the fine map of the geometric
    # transform alone, exactly what inference computes, and brightness scales the
    # coarse channel only, without clipping.
    pre = Preprocessor(_uniform_reference(), input_size=64, fine_c=0.08)
    coarse = smooth_random(rng, (64, 64)).astype(np.float32)
    p = AugmentParams(angle=12.0, scale=1.1, tx=3.0, ty=-2.0, flip=True, brightness=1.2)
    same_geo_dim = AugmentParams(12.0, 1.1, 3.0, -2.0, True, brightness=0.8)
    a = augment_maps(pre, coarse, p)
    b = augment_maps(pre, coarse, same_geo_dim)
    geo = augment_maps(pre, coarse, AugmentParams(12.0, 1.1, 3.0, -2.0, True, 1.0))[0]
    assert a.shape == (2, 64, 64) and a.dtype == np.float32
    np.testing.assert_array_equal(a[1], b[1])  # brightness does not reach the fine map
    np.testing.assert_array_equal(a[1], pre.fine(geo))  # the inference operator on the geometric map
    np.testing.assert_allclose(a[0], geo * np.float32(1.2), rtol=1e-6)
    assert a[0].max() > 1.0  # not clipped
    assert not np.array_equal(geo, coarse)


def test_augmentation_geometry_matches_a_direct_formula():
    # A small blob moves where the forward map says: out = c + t + s * R(angle) (in - c),
    # pixel coordinates (x right, y down), c the image centre; then the flip.
    S, c = 97, 48.0
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float64)
    px, py = 62.0, 40.0
    coarse = np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * 1.5**2)).astype(np.float32)
    pre = Preprocessor(None, input_size=S, attention=False)
    for angle, scale, tx, ty, flip in [(30.0, 1.1, 3.0, 5.0, False), (-15.0, 0.85, -6.0, 2.0, True)]:
        out = augment_maps(pre, coarse, AugmentParams(angle, scale, tx, ty, flip, 1.0))[0].astype(np.float64)
        t = np.deg2rad(angle)
        ex = c + tx + scale * (np.cos(t) * (px - c) - np.sin(t) * (py - c))
        ey = c + ty + scale * (np.sin(t) * (px - c) + np.cos(t) * (py - c))
        if flip:
            ex = S - 1 - ex
        w = out / out.sum()
        assert (w * xx).sum() == pytest.approx(ex, abs=0.1) and (w * yy).sum() == pytest.approx(ey, abs=0.1)


def test_draw_covers_the_papers_ranges():
    rng = np.random.default_rng(0)
    ps = [AugmentParams.draw(rng, 100) for _ in range(2000)]
    ang = np.array([p.angle for p in ps])
    assert -20 <= ang.min() < -19 and 19 < ang.max() <= 20
    assert 0.8 <= min(p.scale for p in ps) and max(p.scale for p in ps) <= 1.2
    assert max(abs(p.tx) for p in ps) <= 20 and max(abs(p.ty) for p in ps) <= 20
    assert 0.8 <= min(p.brightness for p in ps) and max(p.brightness for p in ps) <= 1.2
    assert 0.45 < np.mean([p.flip for p in ps]) < 0.55


# ---------------------------------------------------------------- detector input, identity
def test_detector_input_is_an_area_average(rng):
    img = rng.integers(0, 65535, size=(64, 48)).astype(np.uint16)
    out, s = detector_input(img, 16)  # 4x: each output pixel is a 4x4 block mean
    assert s == 0.25 and out.shape == (16, 12)
    blocks = img.astype(np.float64).reshape(16, 4, 12, 4).mean(axis=(1, 3))
    want = (blocks - blocks.min()) / (blocks.max() - blocks.min())
    np.testing.assert_allclose(out, want, atol=1e-5)


def test_preprocessor_roundtrip_and_digest():
    pre = Preprocessor(_uniform_reference(), input_size=96, fine_c=0.07)
    back = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert back == pre and back.digest() == pre.digest()
    assert Preprocessor.from_dict({**pre.to_dict(), "fine_c": 0.08}).digest() != pre.digest()
    with pytest.raises(ValueError, match="hand box"):
        pre.crop(np.zeros((40, 40), np.uint16), None)
    with pytest.raises(ValueError, match="reference"):
        Preprocessor(None, input_size=32).coarse_from_crop(np.zeros((32, 32), np.uint16))


def test_s1_maps_are_the_whole_image_scaled(rng):
    img = rng.integers(0, 60000, size=(40, 30)).astype(np.uint16)
    pre = Preprocessor(None, input_size=40, attention=False)
    maps = pre.maps(img, None)
    assert maps.shape == (1, 40, 40)
    # the 30 px wide image sits in the middle of a 40 px square padded with its minimum
    np.testing.assert_allclose(maps[0][:, 5:35], _stretch(img) / 65535.0, atol=2e-5)  # one uint16 step
    assert (maps[0][:, :5] == 0).all()
