"""The ops registered with PyTorch's dispatcher: same results as the Python API, fake
kernels that pass torch.library.opcheck, traced by torch.compile (fullgraph), and,
on a GPU, replayed inside a captured CUDA graph."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import cuda_only

import _reference as ref

torch = pytest.importorskip("torch")

import boneage_fast.ops.torch_ops as tops  # noqa: E402
from boneage_fast.ops import ReferenceHistogram, hessian_enhance, match_histograms  # noqa: E402


def _batch(rng, n=3, shape=(40, 52)):
    return torch.from_numpy(np.stack([ref.smooth_random(rng, shape) for _ in range(n)]).astype(np.float32))


def test_ops_equal_the_python_api(device, rng):
    x = _batch(rng).to(device)
    for c in (0.0, 0.07):
        got = torch.ops.boneage_fast.hessian_enhance(x, [1.0, 2.0], 0.5, c, False)
        want = hessian_enhance(x, (1.0, 2.0), c=c if c > 0 else None)
        assert torch.equal(got, want)
    rh = ReferenceHistogram.from_counts(np.linspace(0, 1, 64), np.arange(1, 65))
    u = (_batch(rng) * 4000).to(torch.uint16).to(device)
    v, q = tops.reference_tensors(rh, u.device)
    assert torch.equal(torch.ops.boneage_fast.match_histograms(u, v, q), match_histograms(u, rh))


def test_opcheck_schema_fake_and_dispatch(rng):
    x = _batch(rng)
    torch.library.opcheck(tops.hessian_enhance, (x, [1.0, 2.0], 0.5, 0.0, False),
                          test_utils=("test_schema", "test_faketensor"))
    rh = ReferenceHistogram.from_counts(np.linspace(0, 1, 64), np.ones(64))
    torch.library.opcheck(tops.match_histograms, ((x * 1000).to(torch.uint16), *tops.reference_tensors(rh)),
                          test_utils=("test_schema", "test_faketensor"))


def test_torch_compile_traces_both_ops_in_one_graph(rng):
    rh = ReferenceHistogram.from_counts(np.linspace(0, 1, 128), np.ones(128))
    v, q = tops.reference_tensors(rh)

    def maps(crops):
        coarse = torch.ops.boneage_fast.match_histograms(crops, v, q)
        fine = torch.ops.boneage_fast.hessian_enhance(coarse, [1.0, 2.0, 3.0], 0.5, 0.1, False)
        return torch.stack([coarse, fine], dim=1)

    crops = (_batch(rng, 4) * 65535).to(torch.uint16)
    compiled = torch.compile(maps, fullgraph=True, backend="aot_eager")
    assert torch.equal(compiled(crops), maps(crops))


def test_bad_reference_tensors(rng):
    x = _batch(rng)
    v = torch.linspace(0, 1, 8, dtype=torch.float64)
    with pytest.raises(TypeError, match="float64"):
        torch.ops.boneage_fast.match_histograms(x, v.float(), v.float())
    with pytest.raises(ValueError, match="1-D"):
        torch.ops.boneage_fast.match_histograms(x, v, v[:4])


@pytest.mark.cuda
@cuda_only
def test_ops_replay_inside_a_captured_cuda_graph(rng):
    rh = ReferenceHistogram.from_counts(np.linspace(0, 1, 128), np.ones(128))
    v, q = tops.reference_tensors(rh, "cuda")
    static_in = (_batch(rng, 4) * 65535).to(torch.uint16).cuda()

    def maps(crops):
        coarse = torch.ops.boneage_fast.match_histograms(crops, v, q)
        return torch.ops.boneage_fast.hessian_enhance(coarse, [1.0, 2.0, 3.0], 0.5, 0.1, False)

    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        maps(static_in)  # warm-up outside capture
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        static_out = maps(static_in)
    fresh = (_batch(rng, 4) * 65535).to(torch.uint16).cuda()
    static_in.copy_(fresh)
    g.replay()
    torch.cuda.synchronize()
    assert torch.equal(static_out, maps(fresh))
