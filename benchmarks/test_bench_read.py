"""pytest-benchmark: reading a radiograph file, ours (``read_image``: for grey PNGs,
ISA-L inflate + C++ unfiltering) against Pillow (``np.asarray(Image.open(path))``, what
a user would write, and what ``read_image`` did before), side by side per file kind.

    pytest benchmarks/test_bench_read.py --benchmark-only

The files are phantoms of clinical size (about 1900 x 1550 px) saved by Pillow the way
``boneage phantom`` and ``boneage bench`` save them (16-bit, compress_level 1) and at
Pillow's default compression; 8-bit at the default compression.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytest_benchmark")
from PIL import Image  # noqa: E402

from boneage_fast.io import read_image  # noqa: E402

KINDS = ["png16-level1", "png16-level6", "png8-level6"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from boneage_fast.data.phantom import render

    s = render(110.0, False, seed=3, size=(1900, 1550))
    d = tmp_path_factory.mktemp("read")
    out = {}
    for kind in KINDS:
        depth, level = kind.split("-")
        a = s.image if depth == "png16" else (s.image >> 8).astype(np.uint8)
        path = d / f"{kind}.png"
        Image.fromarray(a).save(path, compress_level=int(level[-1]))
        out[kind] = (str(path), a)
    return out


def _pillow(path):
    with Image.open(path) as im:
        return np.asarray(im)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("impl", ["boneage_fast", "pillow"])
def test_read(benchmark, files, kind, impl):
    path, want = files[kind]
    benchmark.group = f"read {kind} {want.shape[0]}x{want.shape[1]}"
    if impl == "boneage_fast":
        got = benchmark(read_image, path).pixels
        if want.dtype == np.uint8:
            got = (got // 257).astype(np.uint8)
    else:
        got = benchmark(_pillow, path)
    np.testing.assert_array_equal(got, want)
