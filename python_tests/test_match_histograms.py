"""match_histograms and ReferenceHistogram: references, scikit-image, properties, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import cuda_only, to_device, to_numpy

import _reference as ref
from boneage_fast.ops import ReferenceHistogram, match_histograms


def _image(rng, shape, dtype):
    a = ref.smooth_random(rng, shape, 3.0) ** 1.7  # skewed, like a radiograph's histogram
    return ref.as_dtype(a, dtype)


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
@pytest.mark.parametrize("ref_dtype", ["uint8", "uint16", "float32"])
@pytest.mark.parametrize("shape", [(120, 90), (1, 257), (33, 1)])
def test_integer_matches_reference_and_skimage(device, dtype, ref_dtype, shape, rng):
    ske = pytest.importorskip("skimage.exposure")
    img = _image(rng, shape, dtype)
    template = _image(rng, (64, 70), ref_dtype)
    got = to_numpy(match_histograms(to_device(img, device), template))
    h = ReferenceHistogram.from_image(template)
    want = ref.match_integer(img, h.values, h.quantiles)
    assert got.dtype == np.float32 and got.shape == shape
    scale = max(abs(h.values[0]), abs(h.values[-1]), 1.0)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * scale)
    if ref_dtype != "float32":  # scikit-image's exact integer path needs an integer template
        np.testing.assert_allclose(got, ske.match_histograms(img, template), rtol=0, atol=1e-6 * scale)


@pytest.mark.parametrize("shape", [(150, 111), (1, 500), (7, 3)])
def test_float_matches_documented_method(device, shape, rng):
    img = _image(rng, shape, "float32")
    template = rng.normal(50.0, 10.0, size=(40, 40)).astype(np.float32)
    h = ReferenceHistogram.from_image(template)
    got = to_numpy(match_histograms(to_device(img, device), h))
    want = ref.match_float(img, h.values, h.quantiles)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def test_float_is_close_to_exact_ranks(rng):
    # Against scikit-image's exact ranks, measured in the reference's quantiles: the
    # binning moves a pixel's quantile by at most its bin's pixels plus one pixel.
    ske = pytest.importorskip("skimage.exposure")
    img = rng.random((200, 150)).astype(np.float32)
    template = rng.gamma(2.0, 3.0, size=(100, 100)).astype(np.float32)
    h = ReferenceHistogram.from_image(template)
    ours = match_histograms(img, h)
    sk = ske.match_histograms(img, template)
    q_ours = np.interp(ours, h.values, h.quantiles)
    q_sk = np.interp(sk, h.values, h.quantiles)
    fullest_bin = np.histogram(img, bins=65536)[0].max()
    assert np.abs(q_ours - q_sk).max() <= (fullest_bin + 1.0) / img.size + 1e-6


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_integer_matching_to_itself_is_identity(device, dtype, rng):
    img = _image(rng, (80, 96), dtype)
    out = to_numpy(match_histograms(to_device(img, device), img))
    assert np.array_equal(out, img.astype(np.float32))


def test_float_matching_to_itself_is_identity_in_quantiles(rng):
    # Exact for integers; for floats the binned ranks may differ from exact ranks by a
    # bin's pixels plus one, so the identity holds in the image's own quantiles.
    img = _image(rng, (80, 96), "float32")
    h = ReferenceHistogram.from_image(img)
    out = match_histograms(img, h)
    q_in = np.interp(img, h.values, h.quantiles)
    q_out = np.interp(out, h.values, h.quantiles)
    fullest_bin = np.histogram(img, bins=65536)[0].max()
    assert np.abs(q_out - q_in).max() <= (fullest_bin + 1.0) / img.size + 1e-6
    assert np.median(np.abs(out - img)) <= np.ptp(img) / 1000


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_output_is_monotone_and_in_reference_range(device, dtype, rng):
    img = _image(rng, (64, 64), dtype)
    template = rng.normal(0.0, 1.0, size=(30, 30)).astype(np.float32)
    h = ReferenceHistogram.from_image(template)
    out = to_numpy(match_histograms(to_device(img, device), h))
    lo, hi = h.value_range
    assert out.min() >= lo and out.max() <= hi
    order = np.argsort(img.reshape(-1), kind="stable")
    assert np.all(np.diff(out.reshape(-1)[order]) >= -1e-6 * (hi - lo))


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_constant_image_maps_to_reference_maximum(device, dtype):
    img = np.full((9, 13), 7, dtype=dtype)
    h = ReferenceHistogram.from_counts([1.0, 2.0, 5.0], [1, 1, 2])
    out = to_numpy(match_histograms(to_device(img, device), h))
    assert np.array_equal(out, np.full((9, 13), 5.0, np.float32))


@pytest.mark.parametrize("view", [lambda a: a[::3, 1::2], lambda a: a.T, lambda a: a[::-1, ::-1]])
@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_strided_inputs_equal_contiguous_copy(view, dtype, rng):
    img = view(_image(rng, (91, 77), dtype))
    template = _image(rng, (20, 20), "uint8")
    assert np.array_equal(match_histograms(img, template), match_histograms(np.ascontiguousarray(img), template))


@pytest.mark.cuda
@cuda_only
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_cuda_matches_cpu(dtype, rng):
    import torch

    img = _image(rng, (1030, 777), dtype)
    h = ReferenceHistogram.from_image(_image(rng, (100, 100), "uint16"))
    cpu = match_histograms(img, h)
    gpu = match_histograms(torch.from_numpy(img).cuda(), h)
    assert gpu.is_cuda and gpu.dtype == torch.float32
    # float32 input: the two interpolations round apart by up to an ulp of outputs up to
    # 65535 (0.004 at 2**15; on an H200, 2026-12-04, 912 of 800310 pixels, at most 1.2e-7
    # relative), so the bound is relative there; integer inputs agree to float rounding
    tol = dict(rtol=2.5e-7, atol=1e-3) if dtype == "float32" else dict(rtol=0, atol=1e-6)
    np.testing.assert_allclose(gpu.cpu().numpy(), cpu, **tol)


def test_torch_cpu_tensor_in_torch_tensor_out(rng):
    torch = pytest.importorskip("torch")
    img = _image(rng, (30, 40), "uint8")
    out = match_histograms(torch.from_numpy(img), img)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.device.type == "cpu"
    assert np.array_equal(out.numpy(), match_histograms(img, img))


# ---------------------------------------------------------------- ReferenceHistogram
def test_reference_roundtrips_json_and_npz(tmp_path, rng):
    h = ReferenceHistogram.from_image(rng.normal(size=(50, 50)).astype(np.float32))
    assert ReferenceHistogram.from_json(h.to_json()) == h
    for name in ("r.json", "r.npz"):
        h.save(tmp_path / name)
        assert ReferenceHistogram.load(tmp_path / name) == h


def test_reference_from_image_of_each_kind_agrees(rng):
    torch = pytest.importorskip("torch")
    img = _image(rng, (40, 40), "uint16")
    a = ReferenceHistogram.from_image(img)
    b = ReferenceHistogram.from_image(torch.from_numpy(img.astype(np.int32)).to(torch.float32))
    assert a == b
    assert a.quantiles[-1] == 1.0 and len(a) == len(np.unique(img))


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: ReferenceHistogram.from_counts([1, 2, 3], [0, 0, 0]), "no mass"),
        (lambda: ReferenceHistogram.from_counts([], []), "no mass"),
        (lambda: ReferenceHistogram.from_counts([1, 2], [1, -1]), "non-negative"),
        (lambda: ReferenceHistogram.from_counts([1, 2], [1, np.nan]), "finite"),
        (lambda: ReferenceHistogram.from_counts([1, 1], [1, 1]), "distinct"),
        (lambda: ReferenceHistogram([1, 2], [0.5, 0.9]), "end at 1"),
        (lambda: ReferenceHistogram([2, 1], [0.5, 1.0]), "strictly increasing"),
        (lambda: ReferenceHistogram([1, np.inf], [0.5, 1.0]), "finite"),
        (lambda: ReferenceHistogram([], []), "no mass"),
        (lambda: ReferenceHistogram.from_dict({"values": [1]}), "not a serialised"),
        (lambda: ReferenceHistogram.from_image(np.array([[1.0, np.nan]], np.float32)), "NaN or Inf"),
        (lambda: ReferenceHistogram.from_image(np.zeros((0, 4), np.uint8)), "non-empty"),
    ],
)
def test_bad_references_raise(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_reference_file_raises(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, values=np.arange(3))
    with pytest.raises(ValueError, match="not a saved ReferenceHistogram"):
        ReferenceHistogram.load(p)
    with pytest.raises(ValueError, match=".json or .npz"):
        ReferenceHistogram.load(tmp_path / "x.txt")


@pytest.mark.parametrize(
    "image, exc, match",
    [
        (np.zeros((1, 2, 8, 8), np.uint8), ValueError, r"image must be 2-D or 3-D .*got shape \(1, 2, 8, 8\)"),
        (np.zeros((0, 8, 8), np.uint8), ValueError, "non-empty"),
        (np.zeros((4, 0), np.uint8), ValueError, "non-empty"),
        (np.zeros((4, 4), np.float64), TypeError, "got float64"),
        (np.zeros((4, 4), np.int16), TypeError, "got int16"),
        (None, TypeError, "image must be"),
    ],
)
def test_bad_images_raise(image, exc, match):
    with pytest.raises(exc, match=match):
        match_histograms(image, np.arange(10, dtype=np.uint8).reshape(2, 5))


def test_bad_reference_image_raises():
    with pytest.raises(ValueError, match=r"reference must be 2-D"):
        match_histograms(np.zeros((4, 4), np.uint8), np.zeros((2, 2, 2, 2), np.uint8))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_pixels_raise(device, bad, rng):
    img = rng.random((20, 30)).astype(np.float32)
    img[3, 4] = bad
    with pytest.raises(ValueError, match="NaN or Inf"):
        match_histograms(to_device(img, device), np.arange(4, dtype=np.uint8).reshape(2, 2))


# ---------------------------------------------------------------- batches
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_batch_equals_each_image_alone(device, dtype, rng):
    # Each image of an (N, H, W) batch is matched on its own histogram.
    rh = ReferenceHistogram.from_image(rng.integers(0, 4000, size=(30, 30)).astype(np.uint16))
    imgs = np.stack([ref.as_dtype(rng.random((23, 31)) ** p, dtype) for p in (0.5, 1.0, 3.0)])
    out = to_numpy(match_histograms(to_device(imgs, device), rh))
    assert out.shape == imgs.shape and out.dtype == np.float32
    for i in range(len(imgs)):
        np.testing.assert_array_equal(out[i], to_numpy(match_histograms(to_device(imgs[i], device), rh)))


def test_strided_batches_and_reference_from_a_batch(rng):
    base = rng.integers(0, 65535, size=(5, 20, 24)).astype(np.uint16)
    rh = ReferenceHistogram.from_image(base)  # a batch pools into one reference
    assert rh == ReferenceHistogram.from_image(base.reshape(-1, 24))
    for v in (base[::2], base[:, :, ::-1], base.transpose(0, 2, 1)):
        np.testing.assert_array_equal(match_histograms(v, rh), np.stack([match_histograms(np.ascontiguousarray(x), rh)
                                                                        for x in v]))


@pytest.mark.cuda
@cuda_only
def test_cuda_shared_and_global_histograms_agree(rng, monkeypatch):
    # uint16 histograms are counted in shared memory, two 16-bit counters a word, at most
    # 64512 pixels a block; BONEAGE_MATCH_GLOBAL_HISTOGRAM=1 forces one global atomic per
    # pixel. One odd grey level fills 70 % of the first image, so one block's counter
    # of it nears 45,000 in the high half of its word (a carry or a lost count would
    # show); the last bin is used; the batch is transposed and strided, and its 81,690
    # pixels an image are not a multiple of a block's share.
    import torch

    a = _image(rng, (2, 420, 390), "uint16")
    a[0][rng.random((420, 390)) < 0.7] = 4097  # odd level: the high half of its word
    a[1, :, :7] = 65535                          # the last bin
    h = ReferenceHistogram.from_image(_image(rng, (100, 100), "uint16"))
    t = torch.from_numpy(a).cuda().transpose(1, 2)[:, 1:, ::2]
    shared = match_histograms(t, h).cpu().numpy()
    monkeypatch.setenv("BONEAGE_MATCH_GLOBAL_HISTOGRAM", "1")
    glob = match_histograms(t, h).cpu().numpy()
    assert np.array_equal(shared, glob)
    want = np.stack([match_histograms(np.ascontiguousarray(a[i].T[1:, ::2]), h) for i in range(2)])
    np.testing.assert_allclose(shared, want, rtol=0, atol=1e-6)
