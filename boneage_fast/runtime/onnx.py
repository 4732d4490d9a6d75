"""ONNX export of the regressor and its ONNX Runtime session (the CPU default)."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from boneage_fast.runtime import cache_dir

INPUTS = ("maps", "sex")
OUTPUT = "age"


def export_onnx(model: Any, path: str, input_size: int, opset: int = 17) -> str:
    """Export a BoneAgeRegressor (eval mode) to ONNX with a dynamic batch dimension.

    Inputs ``maps`` float32 (N, C, S, S) and, for models that use sex, ``sex`` float32
    (N,); output ``age`` float32 (N,) in months. Written through a temporary file and
    an atomic rename. Returns ``path``.
    """
    import torch

    model = model.eval().to("cpu", memory_format=torch.contiguous_format)
    c = model.in_channels
    x = torch.rand(2, c, input_size, input_size)
    args: tuple[Any, ...] = (x, torch.tensor([1.0, 0.0])) if model.use_sex else (x,)
    names = list(INPUTS[: len(args)])
    axes = {n: {0: "n"} for n in names}
    axes[OUTPUT] = {0: "n"}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with warnings.catch_warnings():
        # the legacy (TorchScript) exporter: a plain static graph, no onnxscript needed
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, tmp, input_names=names, output_names=[OUTPUT], dynamic_axes=axes,
                          opset_version=opset, dynamo=False)
    os.replace(tmp, path)
    return path


def cached_onnx(model: Any, card: dict[str, Any], input_size: int) -> str:
    """The exported ONNX file of a model card's regressor, exported once per model
    (keyed by the weights' sha256 and the torch version)."""
    import torch

    key = f"{card['sha256'][:16]}-torch{torch.__version__.split('+')[0]}-s{input_size}"
    path = os.path.join(cache_dir(), "onnx", f"regressor-{key}.onnx")
    if not os.path.isfile(path):
        export_onnx(model, path, input_size)
    return path


class OnnxRegressor:
    """The regressor as an ONNX Runtime session on the CPU.

    Raises:
        ImportError: onnxruntime is missing (it comes with the default install).
    """

    def __init__(self, onnx_path: str, use_sex: bool, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - a dependency of the default install
            raise ImportError("the onnxruntime backend needs onnxruntime: pip install onnxruntime") from exc
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            so.intra_op_num_threads = int(threads)
        # ONNX Runtime's idle workers spin for a while after each run: on a small CPU
        # they take the cores from the detector and the decoder of the next image.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        self.use_sex = use_sex
        self.path = onnx_path

    def __call__(self, maps: np.ndarray, sex: np.ndarray | None) -> np.ndarray:
        feed = {"maps": np.ascontiguousarray(maps, dtype=np.float32)}
        if self.use_sex:
            feed["sex"] = np.ascontiguousarray(sex, dtype=np.float32)
        return self.session.run([OUTPUT], feed)[0].astype(np.float32)
