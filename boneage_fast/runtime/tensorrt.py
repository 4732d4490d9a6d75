"""TensorRT engine of the regressor: built from the exported ONNX with fp16 enabled and
a dynamic batch (1 .. max_batch), serialised to disk and reused, keyed by the model's
sha256, the TensorRT version and the GPU (name and compute capability).

TensorRT is optional (``pip install 'boneage_fast[tensorrt]'``); nothing here is
imported unless the tensorrt backend is asked for.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from boneage_fast.runtime import cache_dir


def _trt():
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise ImportError("the tensorrt backend needs TensorRT: pip install 'boneage_fast[tensorrt]'") from exc
    return trt


def engine_path(card: dict[str, Any], input_size: int, max_batch: int) -> str:
    import torch

    trt = _trt()
    name = torch.cuda.get_device_name().replace(" ", "_").replace("/", "_")
    cc = "".join(str(v) for v in torch.cuda.get_device_capability())
    key = f"{card['sha256'][:16]}-trt{trt.__version__}-{name}-sm{cc}-s{input_size}-b{max_batch}-fp16"
    return os.path.join(cache_dir(), "tensorrt", f"regressor-{key}.engine")


def build_engine(onnx_path: str, out_path: str, channels: int, input_size: int, max_batch: int,
                 use_sex: bool) -> str:
    """Build and serialise an fp16 engine with one optimisation profile (batch 1 to
    ``max_batch``, tuned for ``max_batch``)."""
    trt = _trt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    with open(onnx_path, "rb") as f:
        if not parser.parse(f.read()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise RuntimeError(f"{onnx_path}: TensorRT could not parse the ONNX model: {errors}")
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    shape = (channels, input_size, input_size)
    profile.set_shape("maps", (1, *shape), (max_batch, *shape), (max_batch, *shape))
    if use_sex:
        profile.set_shape("sex", (1,), (max_batch,), (max_batch,))
    config.add_optimization_profile(profile)
    blob = builder.build_serialized_network(network, config)
    if blob is None:
        raise RuntimeError(f"{onnx_path}: TensorRT failed to build an engine")
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = f"{out_path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(bytes(blob))
    os.replace(tmp, out_path)
    return out_path


class TensorRTRegressor:
    """Runs a serialised engine on the current CUDA stream with torch tensors as buffers."""

    def __init__(self, path: str, use_sex: bool, max_batch: int) -> None:
        import torch

        trt = _trt()
        self._torch = torch
        self.runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        with open(path, "rb") as f:
            self.engine = self.runtime.deserialize_cuda_engine(f.read())
        if self.engine is None:
            raise RuntimeError(f"{path}: not a TensorRT engine for this TensorRT version and GPU")
        self.context = self.engine.create_execution_context()
        self.use_sex = use_sex
        self.max_batch = max_batch

    def __call__(self, maps: np.ndarray | Any, sex: np.ndarray | Any | None) -> np.ndarray:
        torch = self._torch
        x = torch.as_tensor(maps, dtype=torch.float32).cuda().contiguous()
        n = x.shape[0]
        if n > self.max_batch:
            raise ValueError(f"batch of {n} exceeds the engine's max_batch {self.max_batch}")
        out = torch.empty(n, dtype=torch.float32, device=x.device)
        self.context.set_input_shape("maps", tuple(x.shape))
        self.context.set_tensor_address("maps", x.data_ptr())
        if self.use_sex:
            s = torch.as_tensor(sex, dtype=torch.float32).cuda().contiguous()
            self.context.set_input_shape("sex", tuple(s.shape))
            self.context.set_tensor_address("sex", s.data_ptr())
        self.context.set_tensor_address("age", out.data_ptr())
        stream = torch.cuda.current_stream()
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError("TensorRT execution failed")
        return out.cpu().numpy()
