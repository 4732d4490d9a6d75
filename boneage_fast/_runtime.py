"""Build and runtime facts of the compiled module."""

from __future__ import annotations

import os
from typing import Any

try:
    from boneage_fast import _C
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    _here = os.path.dirname(os.path.abspath(__file__))
    raise ImportError(
        f"boneage_fast's compiled module (_C) was not found next to {_here}. "
        + ("You are importing the source tree (the current directory holds the repository's boneage_fast/ "
           "folder, which shadows the installed package): run Python from another directory, or install "
           "in place with `pip install --no-build-isolation -e .`."
           if os.path.isfile(os.path.join(os.path.dirname(_here), "pyproject.toml"))
           else "Reinstall the package: `pip install --force-reinstall boneage_fast`.")
    ) from exc

#: Raised when a CUDA call fails (or CUDA input reaches a build without CUDA kernels).
CudaError = _C.CudaError


def build_info() -> dict[str, Any]:
    """What was compiled into ``boneage_fast._C``.

    Returns:
        A dict with ``version``, ``cuda`` (bool: CUDA kernels compiled in),
        ``cuda_version`` and ``cuda_architectures`` (``None`` without CUDA),
        ``compiler``, ``cpu_kernels`` and ``threads`` (CPU worker threads).
    """
    info = dict(_C.build_info())
    info["cuda_devices"] = _C.cuda_device_count()
    return info


def cuda_is_available() -> bool:
    """True when CUDA kernels were compiled in and a CUDA device is usable. Never raises."""
    try:
        return bool(_C.build_info()["cuda"]) and _C.cuda_device_count() > 0
    except Exception:  # noqa: BLE001 - the contract is "never raises"
        return False


def get_num_threads() -> int:
    """Worker threads of the CPU kernels (default: the CPUs this process may use,
    or ``BONEAGE_NUM_THREADS``)."""
    return int(_C.get_num_threads())


def set_num_threads(n: int) -> None:
    """Set the CPU kernels' worker threads; ``n <= 0`` restores the default."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    _C.set_num_threads(n)


def release_memory() -> int:
    """Free the CPU kernels' idle scratch memory; returns the bytes freed.

    ``hessian_enhance`` with automatic ``c`` keeps every scale's planes for the whole
    image (about 126 MB at 2560 x 2048 with 3 scales). The buffers are reused between
    calls (fresh pages cost more than the filtering); at most two idle ones are kept, the
    largest. Call this in a long-lived process after a batch of large images.
    """
    return int(_C.release_scratch())


def memory_stats() -> dict[str, int]:
    """``scratch_bytes`` (idle CPU scratch held) and ``pool_threads`` (helper threads
    the CPU kernels' persistent pool has started in this process)."""
    return {"scratch_bytes": int(_C.scratch_bytes()), "pool_threads": int(_C.pool_threads())}


def cpu_name() -> str:
    """The CPU's model name and the number of CPUs this process may use (for reports)."""
    import platform

    name = ""
    try:
        with open("/proc/cpuinfo") as f:
            name = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return f"{name or platform.processor() or platform.machine()}, {n} CPUs"
