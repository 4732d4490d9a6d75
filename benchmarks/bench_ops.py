"""Benchmarks of the attention-module kernels against the references a user would
otherwise reach for: scikit-image on the CPU, CuPy written the obvious way on a GPU.

Method (see benchmarks/README.md): inputs are generated once per size (random, not
zeros); each function runs `warmup` times, then `repeats` timed runs; GPU runs are
synchronised before reading the clock (CUDA events give the same numbers here); the
median is reported, and the speed-up is the reference's median over ours, both
measured in the same process on the same machine.

    python benchmarks/bench_ops.py --cpu            # this machine's CPU
    python benchmarks/bench_ops.py --gpu            # ours vs CuPy on the GPU
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable, Iterator

import numpy as np

SIZES = [(512, 512), (2560, 2048)]
SIGMAS = (1, 2, 3)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "python": platform.python_version(),
            "numpy": np.__version__}
    try:
        import skimage

        info["scikit-image"] = skimage.__version__
    except ImportError:
        pass
    import boneage_fast

    info["boneage_fast"] = boneage_fast.build_info()
    return info


def bench(fn: Callable[[], Any], warmup: int, repeats: int, sync: Callable[[], None] = lambda: None) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def test_image(rng: np.random.Generator, shape: tuple[int, int], dtype: str) -> np.ndarray:
    from scipy import ndimage as ndi

    a = ndi.gaussian_filter(rng.random(shape, dtype=np.float32), 2.0)
    a = (a - a.min()) / (a.max() - a.min())
    if dtype == "uint16":
        return (a * 4095 + rng.integers(0, 64, size=shape)).astype(np.uint16)  # 12-bit, as detectors give
    return a.astype(np.float32)


def run_cpu(warmup: int, repeats: int, ref_repeats: int) -> list[dict[str, Any]]:
    from skimage.exposure import match_histograms as sk_match
    from skimage.filters import frangi

    from boneage_fast.ops import ReferenceHistogram, hessian_enhance, match_histograms

    rng = np.random.default_rng(0)
    rows = []
    for shape in SIZES:
        img = test_image(rng, shape, "float32")
        ours = bench(lambda: hessian_enhance(img, SIGMAS), warmup, repeats)
        theirs = bench(lambda: frangi(img, sigmas=SIGMAS, black_ridges=False), 1, ref_repeats)
        rows.append(dict(op="hessian_enhance sigma=1,2,3 float32", device="cpu", shape=list(shape), ours_ms=ours,
                         reference="skimage.filters.frangi", reference_ms=theirs))
    for shape in SIZES:
        img = test_image(rng, shape, "uint16")
        template = test_image(rng, (1024, 1024), "uint16")
        href = ReferenceHistogram.from_image(template)
        ours = bench(lambda: match_histograms(img, href), warmup, repeats)
        theirs = bench(lambda: sk_match(img, template), 1, ref_repeats)
        rows.append(dict(op="match_histograms uint16", device="cpu", shape=list(shape), ours_ms=ours,
                         reference="skimage.exposure.match_histograms", reference_ms=theirs))
    return rows


# ---------------------------------------------------------------- CuPy references
def cupy_frangi(img, sigmas, beta=0.5):
    """Multiscale Frangi written the obvious way with cupyx.scipy.ndimage."""
    import cupy as cp
    from cupyx.scipy import ndimage as cndi

    terms = []
    for s in sigmas:
        hxx = s * s * cndi.gaussian_filter(img, s, order=(0, 2), mode="reflect")
        hyy = s * s * cndi.gaussian_filter(img, s, order=(2, 0), mode="reflect")
        hxy = s * s * cndi.gaussian_filter(img, s, order=(1, 1), mode="reflect")
        m = (hxx + hyy) / 2
        d = cp.sqrt(((hxx - hyy) / 2) ** 2 + hxy**2)
        l1, l2 = m + d, m - d
        big = cp.where(cp.abs(l1) >= cp.abs(l2), l1, l2)
        small = cp.where(cp.abs(l1) >= cp.abs(l2), l2, l1)
        ridge = big < 0
        rb2 = cp.where(ridge, small**2 / cp.where(ridge, big, 1) ** 2, 0)
        terms.append((cp.where(ridge, cp.exp(-rb2 / (2 * beta**2)), 0), small**2 + big**2))
    c2 = max(float(t[1].max()) for t in terms) / 4
    out = cp.zeros_like(img)
    for blob, s2 in terms:
        out = cp.maximum(out, blob * (1 - cp.exp(-s2 / (2 * c2))))
    return out


def cupy_match(img, ref_values, ref_quantiles):
    """Integer CDF matching the obvious way: bincount + cumsum + interp + take."""
    import cupy as cp

    counts = cp.bincount(img.ravel())
    q = cp.cumsum(counts) / img.size
    lut = cp.interp(q, ref_quantiles, ref_values).astype(cp.float32)
    return lut[img]


@contextlib.contextmanager
def _env(name: str) -> Iterator[None]:
    """Set a switch the CUDA launchers read at each call (=1) for the block's duration."""
    before = os.environ.get(name)
    os.environ[name] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


def run_gpu(warmup: int, repeats: int) -> list[dict[str, Any]]:
    import cupy as cp
    import torch

    from boneage_fast.ops import ReferenceHistogram, hessian_enhance, match_histograms

    sync = torch.cuda.synchronize
    rng = np.random.default_rng(0)
    rows = []
    name = torch.cuda.get_device_name()
    for shape in SIZES:
        host = test_image(rng, shape, "float32")
        t = torch.from_numpy(host).cuda()
        c = cp.asarray(host)
        ours = bench(lambda: hessian_enhance(t, SIGMAS), warmup, repeats, sync)
        ours_async = bench(lambda: hessian_enhance(t, SIGMAS, check_finite=False), warmup, repeats, sync)
        fixed_c = bench(lambda: hessian_enhance(t, SIGMAS, c=0.1, check_finite=False), warmup, repeats, sync)
        with _env("BONEAGE_HESSIAN_TWO_PASS"):  # the per-scale row + column kernels (before 2026-12-04 b)
            two = bench(lambda: hessian_enhance(t, SIGMAS), warmup, repeats, sync)
            two_fixed_c = bench(lambda: hessian_enhance(t, SIGMAS, c=0.1, check_finite=False), warmup, repeats, sync)
        theirs = bench(lambda: cupy_frangi(c, SIGMAS), warmup, repeats, sync)
        rows.append(dict(op="hessian_enhance sigma=1,2,3 float32", device=name, shape=list(shape), ours_ms=ours,
                         ours_no_check_ms=ours_async, ours_fixed_c_no_check_ms=fixed_c,
                         two_kernel_path_ms=two, two_kernel_path_fixed_c_no_check_ms=two_fixed_c,
                         reference="CuPy ndimage.gaussian_filter + elementwise", reference_ms=theirs))
    for shape in SIZES:
        host = test_image(rng, shape, "uint16")
        t = torch.from_numpy(host.astype(np.int32)).to(torch.uint16).cuda() if hasattr(torch, "uint16") else None
        href = ReferenceHistogram.from_image(test_image(rng, (1024, 1024), "uint16"))
        c = cp.asarray(host)
        cv, cq = cp.asarray(href.values), cp.asarray(href.quantiles)
        ours = bench(lambda: match_histograms(c, href), warmup, repeats, sync)
        theirs = bench(lambda: cupy_match(c, cv, cq), warmup, repeats, sync)
        row = dict(op="match_histograms uint16", device=name, shape=list(shape), ours_ms=ours,
                   reference="CuPy bincount + cumsum + interp + take", reference_ms=theirs)
        if t is not None:
            row["ours_torch_ms"] = bench(lambda: match_histograms(t, href), warmup, repeats, sync)
        with _env("BONEAGE_MATCH_GLOBAL_HISTOGRAM"):  # one global atomic per pixel
            row["global_histogram_ms"] = bench(lambda: match_histograms(c, href), warmup, repeats, sync)
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| op | device | size | ours (ms) | reference | reference (ms) | speed-up |",
             "|---|---|---|---:|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['op']} | {r['device']} | {r['shape'][0]}x{r['shape'][1]} | {r['ours_ms']:.3f} | "
                     f"{r['reference']} | {r['reference_ms']:.3f} | {r['reference_ms'] / r['ours_ms']:.1f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cpu", action="store_true")
    p.add_argument("--gpu", action="store_true")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--ref-repeats", type=int, default=3, help="timed runs of the (slow) CPU references")
    p.add_argument("--out", default=None, help="JSON file for the results")
    args = p.parse_args(argv)
    if not (args.cpu or args.gpu):
        args.cpu = True
    rows: list[dict[str, Any]] = []
    if args.cpu:
        rows += run_cpu(args.warmup, args.repeats, args.ref_repeats)
    if args.gpu:
        rows += run_gpu(args.warmup, args.repeats)
    result = {"machine": machine(), "method": {"warmup": args.warmup, "repeats": args.repeats,
                                               "ref_repeats": args.ref_repeats, "statistic": "median"},
              "results": rows}
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    print(f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
