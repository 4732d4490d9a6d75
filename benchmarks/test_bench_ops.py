"""pytest-benchmark versions of the kernel benchmarks: ours and the reference a user
would reach for (scikit-image on the CPU; CuPy written the obvious way on a GPU) in
one group per op and size, so the report shows them side by side.

    pytest benchmarks --benchmark-only --benchmark-autosave          # run, save JSON (.benchmarks/)
    pytest benchmarks --benchmark-only --benchmark-compare            # compare with the last saved run
    pytest benchmarks --benchmark-only --benchmark-compare-fail=median:10%   # fail on a 10 % regression

Not collected by the default test run (pyproject's testpaths is python_tests). The
method is in benchmarks/README.md; bench_ops.py prints the same comparison as a table.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytest_benchmark")
from bench_ops import SIGMAS, test_image as make_image  # noqa: E402

from boneage_fast.ops import ReferenceHistogram, hessian_enhance, match_histograms  # noqa: E402

SIZES = [(512, 512), (2560, 2048)]


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["boneage_fast", "skimage"])
def test_hessian_enhance(benchmark, rng, size, impl):
    img = make_image(rng, size, "float32")
    benchmark.group = f"hessian sigma=1,2,3 {size[0]}x{size[1]}"
    if impl == "boneage_fast":
        out = benchmark(hessian_enhance, img, SIGMAS)
    else:
        from skimage.filters import frangi

        benchmark.extra_info["note"] = "skimage.filters.frangi, black_ridges=False"
        out = benchmark.pedantic(frangi, args=(img,), kwargs={"sigmas": SIGMAS, "black_ridges": False},
                                 rounds=3, warmup_rounds=1)
    assert out.shape == img.shape


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["boneage_fast", "boneage_fast_reference_image", "skimage"])
def test_match_histograms(benchmark, rng, size, impl):
    img = make_image(rng, size, "uint16")
    ref_img = make_image(np.random.default_rng(1), size, "uint16")
    benchmark.group = f"match uint16 {size[0]}x{size[1]}"
    if impl == "boneage_fast":
        ref = ReferenceHistogram.from_image(ref_img)
        out = benchmark(match_histograms, img, ref)
    elif impl == "boneage_fast_reference_image":
        out = benchmark(match_histograms, img, ref_img)  # the reference summarised on every call
    else:
        from skimage.exposure import match_histograms as sk_match

        out = benchmark(sk_match, img, ref_img)
    assert out.shape == img.shape
