"""``boneage bench``: per-stage and end-to-end latency (p50/p95/p99) and throughput of
the full pipeline (file path -> age) against the paper's ~1.5 s per image, on phantom
radiographs written to disk at clinical sizes."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from typing import Any

import numpy as np

#: The paper's end-to-end time per subject (seconds).
PAPER_SECONDS = 1.5


def _machine(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name()
    from boneage_fast._runtime import cpu_name

    return cpu_name()


def phantom_files(n: int, folder: str, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` phantom radiographs as 16-bit PNGs of clinical size (random 1800-2600 px
    tall), and their sexes."""
    from PIL import Image

    from boneage_fast.data.datasets import sample_rsna_ages
    from boneage_fast.data.phantom import render

    rng = np.random.default_rng([seed, 3])
    ages, males = sample_rsna_ages(n, rng)
    out = []
    for i in range(n):
        h = int(rng.integers(1800, 2600))
        w = int(h * rng.uniform(0.75, 0.9))
        s = render(float(ages[i]), bool(males[i]), seed=seed * 1000 + i, size=(h, w))
        path = os.path.join(folder, f"bench{i:03d}.png")
        Image.fromarray(s.image).save(path, compress_level=1)
        out.append((path, "M" if males[i] else "F"))
    return out


def _pct(v: list[float]) -> dict[str, float]:
    a = np.asarray(v, dtype=np.float64)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "mean": float(a.mean())}


def run_bench(model: str | None = None, device: str = "auto", backend: str = "auto", images: int = 8,
              repeats: int = 3, warmup: int = 2, batch: int = 8, compare_torch: bool = True) -> dict[str, Any]:
    """Latency per stage and end to end (one image at a time, from its file), and batch
    throughput (``predict_batch`` on the files), for the chosen backend -- and, when
    ``compare_torch`` and the backend is not PyTorch, the PyTorch path in the same run."""
    tmp = tempfile.mkdtemp(prefix="boneage_bench_")
    try:
        return _run_bench(model, device, backend, images, repeats, warmup, batch, compare_torch, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the phantom files are for this run only


def _run_bench(model: str | None, device: str, backend: str, images: int, repeats: int, warmup: int,
               batch: int, compare_torch: bool, tmp: str) -> dict[str, Any]:
    import torch
    from PIL import Image

    from boneage_fast.pipeline import Predictor

    files = phantom_files(images, tmp)
    report: dict[str, Any] = {"images": images, "repeats": repeats, "warmup": warmup,
                              "image_sizes": [list(Image.open(p).size) for p, _ in files],
                              "torch": torch.__version__, "threads": torch.get_num_threads(), "runs": []}
    backends = [backend]
    first = Predictor(model, device=device, backend=backend, max_batch=batch)
    report["device"] = str(first.device)
    report["machine"] = _machine(str(first.device))
    report["model_id"] = first.model_id
    report["input_size"] = first.pre.input_size
    if compare_torch and first.backend != "torch":
        backends.append("torch")
    for b in backends:
        pr = first if b == backend else Predictor(model, device=device, backend=b, max_batch=batch)
        for path, sex in files[:warmup]:
            pr.predict(path, sex)
        stages: dict[str, list[float]] = {}
        for _ in range(repeats):
            for path, sex in files:
                p = pr.predict(path, sex)
                for k, v in p.timings_ms.items():
                    stages.setdefault(k, []).append(v)
        if str(pr.device).startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        n = 0
        for _ in range(repeats):
            pr.predict_batch([p for p, _ in files], [s for _, s in files])
            n += len(files)
        thr = n / (time.perf_counter() - t)
        report["runs"].append({"backend": pr.backend, "precision": pr.precision,
                               "stages_ms": {k: _pct(v) for k, v in stages.items()},
                               "throughput_img_s": thr, "batch": batch,
                               "speedup_vs_paper": PAPER_SECONDS * 1e3 / _pct(stages["total"])["p50"]})
    return report


def format_report(r: dict[str, Any]) -> str:
    lines = [f"boneage bench: {r['machine']} ({r['device']}), model {r['model_id'][:12]}, input {r['input_size']}², "
             f"{r['images']} phantom files x {r['repeats']} repeats, torch {r['torch']}, {r['threads']} threads", "",
             "| backend | stage | p50 ms | p95 ms | p99 ms |", "|---|---|---:|---:|---:|"]
    for run in r["runs"]:
        for k in ("read", "detect", "preprocess", "regress", "total"):
            if k in run["stages_ms"]:
                s = run["stages_ms"][k]
                name = "**end to end**" if k == "total" else k
                lines.append(f"| {run['backend']} | {name} | {s['p50']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} |")
    lines.append("")
    for run in r["runs"]:
        lines.append(f"- {run['backend']}: end to end p50 {run['stages_ms']['total']['p50']:.0f} ms = "
                     f"{run['speedup_vs_paper']:.1f}x faster than the paper's {PAPER_SECONDS} s; batch throughput "
                     f"{run['throughput_img_s']:.1f} images/s (batch {run['batch']}, files decoded in this process)")
    return "\n".join(lines)
