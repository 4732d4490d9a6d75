"""boneage_fast: pediatric bone age from a hand radiograph and the child's sex.

Implements Ren et al., "Regression Convolutional Neural Network for Automated
Pediatric Bone Age Assessment from Hand Radiograph" (IEEE JBHI). This release holds
the foundation: the two attention-module kernels in :mod:`boneage_fast.ops`
(histogram matching and multiscale Hessian enhancement), on the CPU and on CUDA.
"""

from __future__ import annotations

from boneage_fast._runtime import (
    CudaError,
    build_info,
    cuda_is_available,
    get_num_threads,
    set_num_threads,
)
from boneage_fast import ops

__version__ = "0.1.0"

__all__ = [
    "Predictor",
    "CudaError",
    "build_info",
    "cuda_is_available",
    "get_num_threads",
    "set_num_threads",
    "ops",
    "__version__",
]


def __getattr__(name: str):
    # Predictor pulls in PyTorch: import it only when asked for.
    if name == "Predictor":
        from boneage_fast.pipeline import Predictor

        return Predictor
    raise AttributeError(f"module 'boneage_fast' has no attribute {name!r}")
