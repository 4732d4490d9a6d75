"""The shipped model on a CUDA device, from uint16 arrays in host memory to ages: the
latency per stage (one image at a time) and the batch throughput, beside the CPU path
in the same run, and the ages of both (issue 11's end-to-end rows).

Phantom films of clinical size (1800-2600 px tall) are rendered, written as 16-bit PNGs
and read back with the package's reader, so the arrays are what a caller who decoded
the files would hold. Prints a table and writes JSON (``--out``).

    python scripts/gpu_e2e.py --images 16 --repeats 5 --out e2e_gpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np


def _pct(v: list[float]) -> dict[str, float]:
    a = np.asarray(v, dtype=np.float64)
    return {q: float(np.percentile(a, p)) for q, p in (("p50", 50), ("p95", 95), ("p99", 99))}


def time_predictor(pr: Any, arrays: list[np.ndarray], sexes: list[str], repeats: int) -> dict[str, Any]:
    import torch

    cuda = str(pr.device).startswith("cuda")
    for a, s in zip(arrays[:3], sexes[:3]):
        pr.predict(a, s)
    stages: dict[str, list[float]] = {}
    wall: list[float] = []
    ages: list[float] = []
    for r in range(repeats):
        for a, s in zip(arrays, sexes):
            t = time.perf_counter()
            p = pr.predict(a, s)
            wall.append(1e3 * (time.perf_counter() - t))
            for k, v in p.timings_ms.items():
                stages.setdefault(k, []).append(v)
            if r == 0:
                ages.append(p.boneage_months)
    if cuda:
        torch.cuda.synchronize()
    t = time.perf_counter()
    n = 0
    for _ in range(repeats):
        pr.predict_batch(arrays, sexes)
        n += len(arrays)
    if cuda:
        torch.cuda.synchronize()
    thr = n / (time.perf_counter() - t)
    return {"device": str(pr.device), "backend": pr.backend, "precision": pr.precision,
            "stages_ms": {k: _pct(v) for k, v in stages.items()}, "wall_ms": _pct(wall),
            "throughput_img_s": thr, "max_batch": pr.max_batch, "ages": ages}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    import torch

    from boneage_fast.bench import phantom_files
    from boneage_fast.io import read_image
    from boneage_fast.pipeline import Predictor

    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        files = phantom_files(args.images, tmp)
        arrays = [read_image(p).pixels for p, _ in files]
    sexes = [s for _, s in files]
    runs = [time_predictor(Predictor(device="cpu", backend="torch"), arrays, sexes, 1)]
    for precision in ("bf16", "fp32"):
        runs.append(time_predictor(Predictor(device="cuda", backend="torch", precision=precision), arrays, sexes,
                                   args.repeats))
    cpu_ages = np.asarray(runs[0]["ages"])
    for run in runs[1:]:
        run["max_abs_age_diff_vs_cpu_months"] = float(np.abs(np.asarray(run["ages"]) - cpu_ages).max())
    result = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "cpu_threads": torch.get_num_threads(),
              "images": args.images, "repeats": args.repeats, "sizes": [list(a.shape) for a in arrays], "runs": runs}
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    print(f"{result['gpu']}, torch {result['torch']}, {args.images} phantom arrays (uint16, host memory)")
    print("| device | precision | read | detect | preprocess | regress | end to end p50 / p95 ms | batch img/s "
          "| max |age - CPU age| |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        st = run["stages_ms"]
        cell = [f"{st[k]['p50']:.1f}" if k in st else "-" for k in ("read", "detect", "preprocess", "regress")]
        diff = run.get("max_abs_age_diff_vs_cpu_months")
        print(f"| {run['device']} | {run['precision']} | {' | '.join(cell)} | {run['wall_ms']['p50']:.1f} / "
              f"{run['wall_ms']['p95']:.1f} | {run['throughput_img_s']:.1f} | "
              f"{'-' if diff is None else f'{diff:.3f}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
