"""Array adapters: NumPy, PyTorch (CPU/CUDA) and CuPy arrays to the plain image
descriptors the C++ core takes, and outputs allocated in the caller's framework on
the caller's device. Nothing here copies data between host and device."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

DTYPE_CODES = {"uint8": 0, "uint16": 1, "float32": 2}
MAX_SIDE = 32768  # as the C++ core's kMaxSide
MAX_BATCH = 65535  # as the C++ core's kMaxBatch
_DEVICE_CODES = {"cpu": 0, "cuda": 1}


@dataclass
class ArrayRef:
    """A 2-D image as the core sees it, plus how to make more of its kind."""

    obj: Any  # the caller's array, kept alive for the duration of the call
    kind: str  # "numpy" | "torch" | "cupy"
    shape: tuple[int, ...]
    dtype: str
    device: str  # "cpu" | "cuda"
    device_id: int
    ptr: int
    strides: tuple[int, ...]  # in elements

    def desc(self) -> tuple[int, ...]:
        """(ptr, batch, height, width, stride_n, stride_y, stride_x, dtype, device, device_id)."""
        if len(self.shape) == 2:
            (h, w), (sy, sx), n, sn = self.shape, self.strides, 1, 0
        else:
            (n, h, w), (sn, sy, sx) = self.shape, self.strides
        return (self.ptr, n, h, w, sn, sy, sx, DTYPE_CODES[self.dtype], _DEVICE_CODES[self.device], self.device_id)

    @property
    def batch(self) -> int:
        return 1 if len(self.shape) == 2 else int(self.shape[0])

    @property
    def image_shape(self) -> tuple[int, int]:
        return (int(self.shape[-2]), int(self.shape[-1]))

    @property
    def device_code(self) -> int:
        return _DEVICE_CODES[self.device]

    def stream(self) -> int:
        """The caller's current CUDA stream on this array's device (0 on the CPU)."""
        if self.device != "cuda":
            return 0
        if self.kind == "torch":
            import torch

            return int(torch.cuda.current_stream(self.obj.device).cuda_stream)
        import cupy

        with cupy.cuda.Device(self.device_id):
            return int(cupy.cuda.get_current_stream().ptr)

    def empty(self, shape: tuple[int, ...], dtype: str = "float32") -> Any:
        """A new C-contiguous array of this kind on this device."""
        if self.kind == "numpy":
            return np.empty(shape, dtype=dtype)
        if self.kind == "torch":
            import torch

            return torch.empty(shape, dtype=getattr(torch, dtype), device=self.obj.device)
        import cupy

        with cupy.cuda.Device(self.device_id):
            return cupy.empty(shape, dtype=dtype)

    def workspace(self, nbytes: int) -> tuple[Any, tuple[int, int]]:
        """Scratch bytes on this device, as (owner, (pointer, size))."""
        if nbytes <= 0:
            return None, (0, 0)
        buf = self.empty((int(nbytes),), "uint8")
        return buf, (data_ptr(buf), int(nbytes))

    def like(self, host: np.ndarray) -> Any:
        """A copy of a small host array (parameters, not image data) on this device."""
        if self.kind == "numpy":
            return host
        if self.kind == "torch":
            import torch

            return torch.as_tensor(host, device=self.obj.device)
        import cupy

        with cupy.cuda.Device(self.device_id):
            return cupy.asarray(host)


def data_ptr(x: Any) -> int:
    if isinstance(x, np.ndarray):
        return int(x.__array_interface__["data"][0])
    if hasattr(x, "data_ptr"):
        return int(x.data_ptr())
    return int(x.data.ptr)  # cupy


def _module_type(name: str, attr: str) -> Any:
    mod = sys.modules.get(name)
    return getattr(mod, attr, None) if mod is not None else None


def _describe(x: Any) -> str:
    return f"{type(x).__module__}.{type(x).__name__}"


def wrap(x: Any, name: str = "image", *, ndim: int | tuple[int, ...] = 2) -> ArrayRef:
    """Describe ``x`` for the core (``ndim``: the accepted numbers of dimensions).

    Raises:
        TypeError: unsupported array type, dtype or device.
        ValueError: wrong number of dimensions or an empty array.
    """
    torch_tensor = _module_type("torch", "Tensor")
    cupy_ndarray = _module_type("cupy", "ndarray")
    if torch_tensor is not None and isinstance(x, torch_tensor):
        ref = _wrap_torch(x, name)
    elif cupy_ndarray is not None and isinstance(x, cupy_ndarray):
        ref = _wrap_cupy(x, name)
    elif isinstance(x, np.ndarray):
        ref = _wrap_numpy(x, name)
    elif hasattr(x, "__cuda_array_interface__"):
        raise TypeError(
            f"{name}: unsupported CUDA array type {_describe(x)}; pass a torch.Tensor or cupy.ndarray"
        )
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:  # noqa: BLE001 - re-raised with the argument's name
            raise TypeError(f"{name} must be an array, got {_describe(x)}") from exc
        if arr.dtype == object:
            raise TypeError(f"{name} must be a numeric array, got {_describe(x)}")
        ref = _wrap_numpy(arr, name)
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if len(ref.shape) not in allowed:
        what = " or ".join(f"{d}-D" for d in allowed)
        extra = " (an image, or an (N, H, W) batch)" if allowed == (2, 3) else ""
        raise ValueError(f"{name} must be {what}{extra}, got shape {tuple(ref.shape)}")
    if any(s == 0 for s in ref.shape):
        raise ValueError(f"{name} must be non-empty, got shape {tuple(ref.shape)}")
    if len(ref.shape) == 3 and ref.shape[0] > MAX_BATCH:
        raise ValueError(f"{name} holds too many images: {ref.shape[0]}, at most {MAX_BATCH} per call")
    if any(s > MAX_SIDE for s in ref.shape[-2:]):
        # refused before any output is allocated
        raise ValueError(f"{name} is too large: shape {tuple(ref.shape)}, at most {MAX_SIDE} pixels per side")
    return ref


def _check_dtype(dtype_name: str, name: str) -> None:
    if dtype_name not in DTYPE_CODES:
        raise TypeError(
            f"{name} must be uint8, uint16 or float32, got {dtype_name}"
            + (" (convert with .astype(np.float32))" if dtype_name.startswith("float") else "")
        )


def _wrap_numpy(x: np.ndarray, name: str) -> ArrayRef:
    if x.dtype.kind not in "uifbc" or x.dtype.fields is not None:
        raise TypeError(f"{name} must be uint8, uint16 or float32, got {x.dtype}")
    _check_dtype(x.dtype.name, name)
    if not x.dtype.isnative:
        # Big-endian pixels (seen in some DICOM/TIFF files): one conversion to native order.
        x = x.astype(x.dtype.newbyteorder("="))
    item = x.itemsize
    if any(s % item for s in x.strides):
        x = np.ascontiguousarray(x)
    strides = tuple(s // item for s in x.strides)
    return ArrayRef(x, "numpy", tuple(x.shape), x.dtype.name, "cpu", -1, data_ptr(x), strides)


def _wrap_torch(x: Any, name: str) -> ArrayRef:
    import torch

    if x.layout != torch.strided:
        raise TypeError(f"{name} must be a dense (strided) tensor, got layout {x.layout}")
    dtype_name = str(x.dtype).replace("torch.", "")
    _check_dtype(dtype_name, name)
    dev = x.device.type
    if dev not in ("cpu", "cuda"):
        raise TypeError(f"{name} must be on the CPU or a CUDA device, got device {x.device}")
    device_id = -1 if dev == "cpu" else int(x.device.index if x.device.index is not None else torch.cuda.current_device())
    ptr = int(x.data_ptr()) if x.numel() else 0
    return ArrayRef(x, "torch", tuple(x.shape), dtype_name, dev, device_id, ptr, tuple(x.stride()))


def _wrap_cupy(x: Any, name: str) -> ArrayRef:
    _check_dtype(np.dtype(x.dtype).name, name)
    item = x.itemsize
    if any(s % item for s in x.strides):
        raise ValueError(f"{name} has strides {x.strides} that are not multiples of its item size")
    strides = tuple(s // item for s in x.strides)
    return ArrayRef(x, "cupy", tuple(x.shape), np.dtype(x.dtype).name, "cuda", int(x.device.id), int(x.data.ptr), strides)
