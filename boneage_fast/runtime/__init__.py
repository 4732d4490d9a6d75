"""Runtimes for the regressor behind one interface: a callable that takes a float32
(N, C, S, S) batch of maps and (N,) sexes and returns (N,) ages in months.

| backend | where | what |
|---|---|---|
| ``torch`` | CPU, CUDA | the PyTorch module (autocast on CUDA) |
| ``onnxruntime`` | CPU (the default there) | the model exported to ONNX, cached on disk |
| ``tensorrt`` | CUDA | an fp16 engine built from the exported ONNX, dynamic batch, cached on disk |

Exported models and engines are cached under :func:`cache_dir`, keyed by the model's
sha256 (and the TensorRT version and GPU for engines), so a new model or a new GPU
never reuses a stale file. Optional runtimes are imported lazily; a missing one
raises an ImportError that names the pip extra that brings it.
"""

from __future__ import annotations

import os
import tempfile

__all__ = ["cache_dir", "BACKENDS"]

BACKENDS = ("torch", "onnxruntime", "tensorrt")


def cache_dir() -> str:
    """``$BONEAGE_CACHE_DIR``, else ``~/.cache/boneage_fast`` (a temporary folder when
    neither is writable)."""
    for d in (os.environ.get("BONEAGE_CACHE_DIR"), os.path.join(os.path.expanduser("~"), ".cache", "boneage_fast")):
        if not d:
            continue
        try:
            os.makedirs(d, exist_ok=True)
            if os.access(d, os.W_OK):
                return d
        except OSError:
            continue
    d = os.path.join(tempfile.gettempdir(), "boneage_fast_cache")
    os.makedirs(d, exist_ok=True)
    return d
