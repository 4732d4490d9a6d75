"""boneage_fast: pediatric bone age from a hand radiograph and the child's sex.

Implements Ren et al., "Regression Convolutional Neural Network for Automated
Pediatric Bone Age Assessment from Hand Radiograph" (IEEE JBHI):

    import boneage_fast
    p = boneage_fast.predict("hand.png", "F")       # the model that ships with the package
    p.boneage_months, p.box, p.flags, p.timings_ms

:class:`Predictor` keeps a model loaded for many images; :mod:`boneage_fast.ops` holds
the attention kernels (histogram matching, multiscale Hessian) on the CPU and CUDA.
The shipped model was trained on synthetic phantoms: not for clinical use.
"""

from __future__ import annotations

import os as _os
import sys as _sys

# PyTorch's CPU threads (GNU OpenMP) spin for a while before they sleep. When the CPUs
# are shared with other busy processes -- a workstation, a scoring job beside training --
# spinning threads starve each other. The detector alone, 2 threads, median of 20 on the
# 2-core machine: idle 31 ms with OpenMP's default spin, loaded (a training run on both
# cores) 2,293 ms; with GOMP_SPINCOUNT=5000, 32 ms idle and 97 ms loaded; fully passive
# waiting, 72 ms idle and 50 ms loaded. OpenMP reads this once, when torch is imported,
# so it is set here (before any torch import of ours) unless the user chose a policy or
# a spin count, or imported torch first. See the README ("Threads").
if "torch" not in _sys.modules and "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ.setdefault("GOMP_SPINCOUNT", "5000")

from boneage_fast._runtime import (
    CudaError,
    build_info,
    cuda_is_available,
    get_num_threads,
    memory_stats,
    release_memory,
    set_num_threads,
)
from boneage_fast import ops
from boneage_fast.pipeline import (  # no torch import until a Predictor is built
    ImageQualityError,
    NoHandFound,
    Prediction,
    Predictor,
    parse_sex,
    predict,
)

__version__ = "0.2.0"

__all__ = [
    "predict",
    "Predictor",
    "Prediction",
    "NoHandFound",
    "ImageQualityError",
    "parse_sex",
    "CudaError",
    "build_info",
    "cuda_is_available",
    "get_num_threads",
    "memory_stats",
    "release_memory",
    "set_num_threads",
    "ops",
    "__version__",
]
