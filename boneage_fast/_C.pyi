"""Type stub of the private compiled module (use boneage_fast.ops instead)."""

from typing import Any

# ptr, batch, h, w, stride_n, stride_y, stride_x, dtype, device, device_id (strides in elements)
ImageDesc = tuple[int, int, int, int, int, int, int, int, int, int]
BufferDesc = tuple[int, int]  # ptr, bytes

class CudaError(RuntimeError): ...

def build_info() -> dict[str, Any]: ...
def cuda_device_count() -> int: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def pool_threads() -> int: ...
def scratch_bytes() -> int: ...
def release_scratch() -> int: ...
def png_unfilter(raw: Any, height: int, width: int, bit_depth: int, swap16: bool) -> Any: ...
def hessian_enhance(
    src: ImageDesc, dst: ImageDesc, workspace: BufferDesc, sigmas: list[float], beta: float, c: float,
    bright: bool, check_finite: bool, stream: int,
) -> None: ...
def hessian_workspace_bytes(batch: int, height: int, width: int, n_scales: int, auto_c: bool, device: int) -> int: ...
def match_histograms(
    src: ImageDesc, dst: ImageDesc, ref_values: int, ref_quantiles: int, ref_size: int, ref_device: int,
    ref_device_id: int, check_finite: bool, workspace: BufferDesc, stream: int,
) -> None: ...
def integer_histogram(src: ImageDesc) -> Any: ...  # numpy uint64 counts, 256 or 65536 bins
def match_workspace_bytes(batch: int, dtype: int, device: int) -> int: ...
def film_expose(
    bone: Any, soft: Any, tex: Any, mu_soft: float, mu_bone: float, tex_amp: float, gain: float, bg: float,
    heel: float, heel_axis: int, cancellous: Any = None, lines: Any = None, tex_line: float = 0.0,
    tex_mean: float = 1.0, tex_layers: int = 1, tex_smooth: float = 0.0,
    tex_spread: float = 0.0,
) -> None: ...  # in place over bone (float32, C-contiguous); texture only on cancellous when given
def film_long_bone(
    acc: Any, p0x: float, p0y: float, ux: float, uy: float, length: float, half_width: float, flare0: float,
    flare1: float, base_round: float, head_round: float, medulla_gain: float, end_plate: float,
    end_plate_width: float, mm_per_pixel: float, marrow: float = 0.22, cancellous: Any = None,
    base_span: float = 0.15, base_plate: float = 1.0,
) -> int: ...  # adds to acc (and the interior to cancellous when given)
def film_ossicle(
    acc: Any, cx: float, cy: float, a: float, b: float, cos_t: float, sin_t: float, cap: float, taper: float,
    exponent: float, shell: float, interior: float, weight: float, bend: float = 0.0, slope: float = 0.0,
    hollow: float = 0.0, lean: float = 0.0, cancellous: Any = None,
) -> int: ...  # adds to acc (and the interior to cancellous when given)
def film_read_out(img: Any, seed: int, sd: float, lut: Any, pre_blur: bool = ...) -> Any: ...  # img unchanged; uint8/uint16 like lut
def film_normal_deviates(seed: int, n: int) -> Any: ...  # float32
