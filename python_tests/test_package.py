"""The package, its build report, threads and the array adapters."""

from __future__ import annotations

import numpy as np
import pytest

import boneage_fast
from boneage_fast import _C
from boneage_fast.ops import hessian_enhance, match_histograms


def test_build_info_reports_what_was_compiled():
    info = boneage_fast.build_info()
    for key in ("version", "cuda", "cuda_version", "cuda_architectures", "threads", "cuda_devices"):
        assert key in info
    assert info["version"] == boneage_fast.__version__
    if info["cuda"]:
        archs = info["cuda_architectures"].split(",")
        assert any(a.startswith("80") for a in archs) and any(a.startswith("90") for a in archs)


def test_cuda_is_available_never_raises(monkeypatch):
    assert isinstance(boneage_fast.cuda_is_available(), bool)

    def broken():
        raise RuntimeError("driver exploded")

    monkeypatch.setattr(_C, "cuda_device_count", broken)
    assert boneage_fast.cuda_is_available() is False


def test_thread_count_changes_nothing_but_speed(rng):
    img = rng.random((200, 300)).astype(np.float32)
    default = boneage_fast.get_num_threads()
    try:
        boneage_fast.set_num_threads(1)
        assert boneage_fast.get_num_threads() == 1
        one = hessian_enhance(img)
        boneage_fast.set_num_threads(3)
        three = hessian_enhance(img)
    finally:
        boneage_fast.set_num_threads(0)
    assert boneage_fast.get_num_threads() == default
    assert np.array_equal(one, three)
    with pytest.raises(TypeError):
        boneage_fast.set_num_threads(1.5)


def test_torch_tensors_keep_their_kind(rng):
    torch = pytest.importorskip("torch")
    a = rng.random((40, 50)).astype(np.float32)
    t = torch.from_numpy(a).requires_grad_(True)
    out = hessian_enhance(t)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and not out.requires_grad
    assert np.array_equal(out.numpy(), hessian_enhance(a))
    tt = torch.from_numpy(a).t()  # non-contiguous
    assert np.array_equal(hessian_enhance(tt).numpy(), hessian_enhance(np.ascontiguousarray(a.T)))


def test_torch_uint16_and_bad_dtypes(rng):
    torch = pytest.importorskip("torch")
    a = rng.integers(0, 60000, size=(20, 30)).astype(np.uint16)
    out = match_histograms(torch.from_numpy(a), a)
    assert np.array_equal(out.numpy(), a.astype(np.float32))
    with pytest.raises(TypeError, match="got float64"):
        hessian_enhance(torch.zeros((4, 4), dtype=torch.float64))
    with pytest.raises(TypeError, match="got int64"):
        match_histograms(torch.zeros((4, 4), dtype=torch.int64), a)
    with pytest.raises(ValueError, match=r"2-D or 3-D .*got shape \(1, 1, 4, 4\)"):
        hessian_enhance(torch.zeros((1, 1, 4, 4)))
    assert hessian_enhance(torch.zeros((1, 4, 4))).shape == (1, 4, 4)  # a batch of one


def test_foreign_cuda_array_type_is_refused():
    class FakeCuda:
        __cuda_array_interface__ = {"shape": (2, 2), "typestr": "<f4", "data": (0, False), "version": 3}

    with pytest.raises(TypeError, match="unsupported CUDA array type"):
        hessian_enhance(FakeCuda())


@pytest.mark.parametrize("preset, first, want", [
    ({}, "", "5000"),  # our default: OpenMP threads spin briefly, then sleep
    ({"GOMP_SPINCOUNT": "100"}, "", "100"),  # the user's choice wins
    ({"OMP_WAIT_POLICY": "ACTIVE"}, "", "unset"),  # a chosen policy is left alone
    ({}, "import torch; ", "unset"),  # torch came first: too late to matter, left alone
])
def test_openmp_spin_default(tmp_path, preset, first, want):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(preset)
    code = (f"{first}import sys, os, boneage_fast; "
            "print(os.environ.get('GOMP_SPINCOUNT', 'unset'), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    spin, torch_loaded = out.stdout.split()
    assert spin == want
    assert torch_loaded == ("True" if first else "False")  # importing the package does not import torch
