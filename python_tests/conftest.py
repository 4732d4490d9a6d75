"""Shared fixtures: the device parameter (CUDA cases are collected everywhere and
skipped without a GPU, so the summary shows what did not run)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import boneage_fast


def _cuda_ready() -> bool:
    if not boneage_fast.cuda_is_available():
        return False
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


CUDA_READY = _cuda_ready()
cuda_only = pytest.mark.skipif(not CUDA_READY, reason="needs a CUDA GPU and a CUDA build of torch")

DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, cuda_only])]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    return request.param


def to_device(a: np.ndarray, device: str):
    """NumPy on the CPU, a torch CUDA tensor on the GPU."""
    if device == "cpu":
        return a
    import torch

    return torch.from_numpy(np.ascontiguousarray(a)).to("cuda")


def to_numpy(x) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    import cupy

    return cupy.asnumpy(x)


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    # Fresh inputs per test, reproducible per test id.
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)
