"""hessian_enhance: float64 reference, CUDA vs CPU, scikit-image, properties, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import cuda_only, to_device, to_numpy

import _reference as ref
from boneage_fast.ops import hessian_enhance

SHAPES = [(64, 80), (129, 257), (1, 37), (37, 1), (5, 5), (300, 70)]


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_float64_reference(device, dtype, shape, rng):
    img = ref.as_dtype(ref.smooth_random(rng, shape), dtype)
    sigmas = (1, 2, 3)
    got = to_numpy(hessian_enhance(to_device(img, device), sigmas))
    want = ref.frangi(img, sigmas)
    assert got.dtype == np.float32 and got.shape == shape
    assert got.min() >= 0 and got.max() <= 1
    ok = ref.well_conditioned(img, sigmas)
    np.testing.assert_allclose(got[ok], want[ok], rtol=0, atol=2e-4)
    # Pixels on a knife edge (Rb ~ 1 or lambda ~ 0) may flip; they must still be sane.
    assert np.abs(got - want).max() < 0.3


@pytest.mark.parametrize("c", [None, 0.05])
@pytest.mark.parametrize("black_ridges", [False, True])
def test_parameters_match_reference(c, black_ridges, rng):
    img = ref.smooth_random(rng, (96, 96)).astype(np.float32)
    got = hessian_enhance(img, (1.5, 2.5), beta=0.7, c=c, black_ridges=black_ridges)
    want = ref.frangi(img, (1.5, 2.5), beta=0.7, c=c, bright=not black_ridges)
    ok = ref.well_conditioned(img, (1.5, 2.5))
    np.testing.assert_allclose(got[ok], want[ok], atol=2e-4)


@pytest.mark.cuda
@cuda_only
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
@pytest.mark.parametrize("c", [None, 0.1])
def test_cuda_matches_cpu(dtype, c, rng):
    import torch

    img = ref.as_dtype(ref.smooth_random(rng, (515, 333)), dtype)
    cpu = hessian_enhance(img, (1, 2, 3), c=c)
    t = torch.from_numpy(img).cuda()
    gpu = hessian_enhance(t, (1, 2, 3), c=c)
    assert isinstance(gpu, torch.Tensor) and gpu.device == t.device and gpu.dtype == torch.float32
    ok = ref.well_conditioned(img, (1, 2, 3))
    np.testing.assert_allclose(gpu.cpu().numpy()[ok], cpu[ok], atol=1e-5)


@pytest.mark.parametrize("sigma", [1, 2, 3])
def test_agrees_with_skimage_single_scale(sigma, rng):
    # A single scale with a given c is where scikit-image's frangi is right; its
    # borders reflect twice (we reflect the image once), so compare the interior.
    skf = pytest.importorskip("skimage.filters")
    img = ref.smooth_random(rng, (160, 160)).astype(np.float32)
    gamma = 0.004
    sk = skf.frangi(img, sigmas=[sigma], black_ridges=False, gamma=gamma)
    ours = hessian_enhance(img, [sigma], c=gamma * sigma**2)  # ours is sigma^2-normalised
    inner = (slice(8 * sigma, -8 * sigma),) * 2
    ok = ref.well_conditioned(img, [sigma], rel=1e-2)[inner]
    np.testing.assert_allclose(ours[inner][ok], sk[inner][ok], atol=2e-3)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_flat_image_gives_zero(device, dtype, rng):
    value = rng.integers(1, 200)
    img = np.full((40, 50), value, dtype=dtype)
    out = to_numpy(hessian_enhance(to_device(img, device)))
    assert np.array_equal(out, np.zeros((40, 50), np.float32))


@pytest.mark.parametrize("width", [2, 4, 6])
def test_bright_bar_answers_at_centre_and_matching_scale(width):
    img = np.zeros((64, 96), np.float32)
    x0 = 48 - width // 2
    img[:, x0 : x0 + width] = 1.0
    sigmas = np.arange(0.5, 5.01, 0.25)
    # c far above the response keeps V monotone in the Hessian norm (no saturation).
    centre = [hessian_enhance(img, [s], c=100.0)[32, :] for s in sigmas]
    best_sigma = sigmas[int(np.argmax([row[x0 : x0 + width].max() for row in centre]))]
    # For a bar of width w the sigma^2-normalised second derivative peaks at sigma = w / 2.
    assert abs(best_sigma - width / 2) <= 0.25
    profile = hessian_enhance(img, [width / 2])[32, :]
    assert abs(int(np.argmax(profile)) - (x0 + (width - 1) / 2)) <= 0.5
    assert profile[x0 - 3 * width] < 0.05 * profile.max()


def test_sigma_order_and_repeats_change_nothing(rng):
    img = ref.smooth_random(rng, (90, 110)).astype(np.float32)
    a = hessian_enhance(img, (1, 2, 3))
    for sig in [(3, 1, 2), (2, 3, 1), (1, 1, 2, 3, 3)]:
        assert np.array_equal(hessian_enhance(img, sig), a)
    assert np.array_equal(hessian_enhance(img, np.array([3.0, 2.0, 1.0])), a)


def test_skimage_order_dependence_is_not_ours(rng):
    # scikit-image takes gamma from the first sigma only (and does not normalise),
    # so its result depends on the order of sigmas. Document that ours does not.
    skf = pytest.importorskip("skimage.filters")
    img = ref.smooth_random(rng, (80, 80)).astype(np.float32)
    sk_a = skf.frangi(img, sigmas=[1, 3], black_ridges=False)
    sk_b = skf.frangi(img, sigmas=[3, 1], black_ridges=False)
    assert not np.allclose(sk_a, sk_b, atol=1e-3)
    assert np.array_equal(hessian_enhance(img, [1, 3]), hessian_enhance(img, [3, 1]))


def test_dark_ridges_of_negated_image_equal_bright_ridges(rng):
    img = ref.smooth_random(rng, (70, 90)).astype(np.float32)
    assert np.array_equal(hessian_enhance(-img, black_ridges=True), hessian_enhance(img))


def test_gain_and_offset_do_not_change_automatic_c_result(rng):
    img = ref.smooth_random(rng, (80, 100)).astype(np.float32)
    base = hessian_enhance(img)
    scaled = hessian_enhance(img * np.float32(37.0) + np.float32(1000.0))
    ok = ref.well_conditioned(img, (1, 2, 3))
    np.testing.assert_allclose(scaled[ok], base[ok], atol=1e-4)


def test_integer_input_equals_its_float_copy(rng):
    img = ref.as_dtype(ref.smooth_random(rng, (60, 61)), "uint16")
    assert np.array_equal(hessian_enhance(img), hessian_enhance(img.astype(np.float32)))


@pytest.mark.parametrize(
    "view",
    [
        lambda a: a[::2, ::3],
        lambda a: a.T,
        lambda a: a[::-1, 5:-7],
        lambda a: a[3:40, ::-2],
    ],
    ids=["step", "transpose", "flipped", "neg-step"],
)
def test_strided_inputs_equal_contiguous_copy(view, rng):
    base = ref.as_dtype(ref.smooth_random(rng, (101, 87)), "float32")
    v = view(base)
    assert not v.flags["C_CONTIGUOUS"]
    assert np.array_equal(hessian_enhance(v), hessian_enhance(np.ascontiguousarray(v)))


def test_big_endian_input(rng):
    img = ref.as_dtype(ref.smooth_random(rng, (40, 41)), "uint16")
    assert np.array_equal(hessian_enhance(img.astype(">u2")), hessian_enhance(img))


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "image, exc, match",
    [
        (np.zeros((2, 3, 8, 8), np.float32), ValueError, r"image must be 2-D or 3-D .*got shape \(2, 3, 8, 8\)"),
        (np.zeros((0, 8, 8), np.float32), ValueError, r"non-empty, got shape \(0, 8, 8\)"),
        (np.zeros((8,), np.float32), ValueError, "2-D"),
        (np.zeros((0, 5), np.float32), ValueError, r"non-empty, got shape \(0, 5\)"),
        (np.zeros((5, 5), np.float64), TypeError, "got float64"),
        (np.zeros((5, 5), np.int32), TypeError, "got int32"),
        (np.zeros((5, 5), bool), TypeError, "got bool"),
        (np.zeros((5, 5), np.complex64), TypeError, "got complex64"),
        ("not an image", TypeError, "image must be"),
        ([[1.0, 2.0], [3.0, 4.0]], TypeError, "float64"),
        (np.broadcast_to(np.uint8(0), (40000, 40000)), ValueError, "too large"),
    ],
)
def test_bad_images_raise(image, exc, match):
    with pytest.raises(exc, match=match):
        hessian_enhance(image)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_pixels_raise(device, bad, rng):
    img = rng.random((30, 40)).astype(np.float32)
    img[rng.integers(30), rng.integers(40)] = bad
    with pytest.raises(ValueError, match="NaN or Inf"):
        hessian_enhance(to_device(img, device))


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(sigmas=0), ValueError, "positive"),
        (dict(sigmas=-1.0), ValueError, "positive"),
        (dict(sigmas=[1, float("nan")]), ValueError, "finite"),
        (dict(sigmas=1000.0), ValueError, "at most 50"),
        (dict(sigmas=[]), ValueError, "at least one"),
        (dict(sigmas=list(range(1, 30))), ValueError, "at most 16"),
        (dict(sigmas="123"), TypeError, "sigmas"),
        (dict(sigmas=[1, "2"]), TypeError, "sigmas"),
        (dict(beta=0.0), ValueError, "beta"),
        (dict(beta=float("inf")), ValueError, "beta"),
        (dict(beta="x"), TypeError, "beta"),
        (dict(c=0.0), ValueError, "c must be positive"),
        (dict(c=-1.0), ValueError, "c must be positive"),
        (dict(c=float("nan")), ValueError, "c must be"),
    ],
)
def test_bad_parameters_raise(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        hessian_enhance(np.ones((10, 10), np.float32), **kwargs)


def test_tensor_on_unsupported_device_is_a_type_error():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="CPU or a CUDA device, got device meta"):
        hessian_enhance(torch.ones((4, 4), device="meta"))


# ---------------------------------------------------------------- batches
def test_batch_equals_each_image_alone(device, rng):
    # (N, H, W): every image filtered on its own, with its own automatic c -- images of
    # very different contrast must not share one c.
    imgs = np.stack([ref.smooth_random(rng, (37, 53)) * scale for scale in (1.0, 30.0, 0.01, 5.0)]).astype(np.float32)
    for c in (None, 0.05):
        out = to_numpy(hessian_enhance(to_device(imgs, device), (1.0, 2.0), c=c))
        assert out.shape == imgs.shape and out.dtype == np.float32
        for i in range(len(imgs)):
            np.testing.assert_array_equal(out[i], to_numpy(hessian_enhance(to_device(imgs[i], device), (1.0, 2.0), c=c)))


def test_strided_batches(device, rng):
    base = (ref.smooth_random(rng, (6, 40, 48)) * 1000).astype(np.float32)
    views = [base[::2], base[:, ::-1], base.transpose(0, 2, 1), base[1:4, 3:30, 5:40]]
    for v in views:
        got = to_numpy(hessian_enhance(to_device(np.ascontiguousarray(v), device) if device != "cpu" else v))
        want = np.stack([hessian_enhance(np.ascontiguousarray(x)) for x in v])
        np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- the two CUDA paths
@pytest.mark.cuda
@cuda_only
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
@pytest.mark.parametrize("c", [None, 0.1])
def test_cuda_fused_kernel_equals_the_two_kernel_path(dtype, c, rng, monkeypatch):
    # Radii up to 20 take the fused kernel (one launch, the tile in shared memory);
    # BONEAGE_HESSIAN_TWO_PASS=1 forces the per-scale row and column kernels. The
    # arithmetic per pixel is the same, term for term, on a strided batch whose sizes
    # are not multiples of the 32-pixel tile.
    import torch

    base = ref.as_dtype(ref.smooth_random(rng, (3, 161, 203)), dtype)
    t = torch.from_numpy(base).cuda().transpose(1, 2)[:, 1:, ::2]  # transposed, non-unit strides
    fused = hessian_enhance(t, (1, 2, 3), c=c).cpu().numpy()
    monkeypatch.setenv("BONEAGE_HESSIAN_TWO_PASS", "1")
    two = hessian_enhance(t, (1, 2, 3), c=c).cpu().numpy()
    assert fused.shape == two.shape == (3, 202, 81)
    np.testing.assert_allclose(fused, two, rtol=0, atol=1e-6)
    views = [np.ascontiguousarray(base[i].T[1:, ::2]) for i in range(3)]
    want = np.stack([hessian_enhance(v, (1, 2, 3), c=c) for v in views])
    ok = np.stack([ref.well_conditioned(v, (1, 2, 3)) for v in views])
    np.testing.assert_allclose(fused[ok], want[ok], atol=1e-5)


@pytest.mark.cuda
@cuda_only
def test_cuda_radius_past_the_fused_tile_matches_cpu(rng):
    # sigma 4.5 -> radius 23 > 20: the two-kernel path, chosen without being asked for.
    import torch

    img = ref.smooth_random(rng, (140, 150)).astype(np.float32)
    cpu = hessian_enhance(img, (1, 4.5), c=0.05)
    gpu = hessian_enhance(torch.from_numpy(img).cuda(), (1, 4.5), c=0.05).cpu().numpy()
    ok = ref.well_conditioned(img, (1, 4.5))
    np.testing.assert_allclose(gpu[ok], cpu[ok], atol=1e-5)
