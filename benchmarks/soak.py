#!/usr/bin/env python3
"""Soak test: many predictions in one process, resident memory sampled throughout.

Part 1 runs ``--n`` predictions through ``Predictor`` (the shipped model, the default
device and runtime) on phantom radiographs of random sizes: a pool of rendered
phantoms (random drawn sizes), each use cut by a random margin on every side, random
sex, a random third given as a file path (16-bit PNG) and the rest as arrays. Part 2
calls the two ops alone (``match_histograms`` then ``hessian_enhance``, automatic c)
``--ops-n`` times on random sizes and dtypes, with the thread count changed now and
then. Resident memory (VmRSS) is sampled every ``--every`` calls.

Memory must be flat after warm-up: the first 10 % of the calls are warm-up; after it,
the RSS may not grow by more than ``--max-growth-mb`` (default 64 MB) and the fitted
slope must stay under 2 MB per 1,000 calls. For the ops the RSS judged is the RSS minus
the idle scratch cache (by design it keeps the two largest plane sets seen, so it grows
in steps up to a bound set by the largest image); at the end ``release_memory()`` must
give that memory back. The exit status is 1 when either part fails. A part run with
``--n 0`` / ``--ops-n 0`` keeps its previous result in the JSON.

    python benchmarks/soak.py --n 10000 --ops-n 10000

Writes benchmarks/results/soak.json and soak_rss.png (with matplotlib), prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def verdict(samples: list[tuple[int, float]], n: int, max_growth_mb: float) -> dict:
    calls = np.array([c for c, _ in samples], dtype=np.float64)
    rss = np.array([r for _, r in samples], dtype=np.float64)
    after = calls >= 0.1 * n
    base = rss[after][0]
    growth = float(rss[after].max() - base)
    slope = float(np.polyfit(calls[after], rss[after], 1)[0] * 1000) if after.sum() >= 3 else 0.0
    return {"rss_start_mb": float(rss[0]), "rss_after_warmup_mb": float(base), "rss_end_mb": float(rss[-1]),
            "rss_max_mb": float(rss.max()), "growth_after_warmup_mb": growth,
            "slope_mb_per_1000": slope, "pass": bool(growth <= max_growth_mb and slope < 2.0)}


def soak_predictor(n: int, every: int, pool_size: int, seed: int) -> dict:
    from PIL import Image

    import boneage_fast
    from boneage_fast.data.phantom import render

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    pool = []
    for i in range(pool_size):
        s = render(float(rng.uniform(12, 216)), bool(rng.integers(2)), seed=10_000 + i, size_scale=0.5)
        pool.append(s.image)
    render_s = time.perf_counter() - t0
    tmp = tempfile.mkdtemp(prefix="boneage_soak_")
    pr = boneage_fast.Predictor()
    samples, errors, latencies, shapes = [(0, rss_mb())], {}, [], set()
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        img = pool[int(rng.integers(pool_size))]
        h, w = img.shape
        top, bottom = (int(v) for v in rng.integers(0, h // 10 + 1, 2))
        left, right = (int(v) for v in rng.integers(0, w // 10 + 1, 2))
        cut = np.ascontiguousarray(img[top:h - bottom, left:w - right])
        shapes.add(cut.shape)
        src = cut
        if rng.random() < 1 / 3:
            src = os.path.join(tmp, f"x{i % 4}.png")
            Image.fromarray(cut).save(src, compress_level=1)
        t = time.perf_counter()
        try:
            pr.predict(src, "F" if rng.integers(2) else "M")
        except Exception as exc:  # noqa: BLE001 - counted: the soak is about memory
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        latencies.append(time.perf_counter() - t)
        if i % every == 0:
            samples.append((i, rss_mb()))
            print(f"  predictor {i:6d}/{n}  rss {samples[-1][1]:7.1f} MB  p50 {1000 * np.median(latencies[-every:]):6.1f} ms",
                  flush=True)
    return {"calls": n, "distinct_sizes": len(shapes), "pool": pool_size, "render_s": round(render_s, 1),
            "seconds": round(time.perf_counter() - t0, 1), "p50_ms": round(1000 * float(np.median(latencies)), 1),
            "errors": errors, "samples": samples}


def soak_ops(n: int, every: int, seed: int) -> dict:
    import boneage_fast
    from boneage_fast.ops import ReferenceHistogram, hessian_enhance, match_histograms

    rng = np.random.default_rng(seed)
    ref = ReferenceHistogram.from_image(rng.integers(0, 65535, (256, 256)).astype(np.uint16))
    threads = boneage_fast.get_num_threads()
    samples = [(0, rss_mb())]
    scratch = [(0, boneage_fast.memory_stats()["scratch_bytes"] / 2**20)]
    t0 = time.perf_counter()
    try:
        for i in range(1, n + 1):
            h, w = int(rng.integers(32, 1025)), int(rng.integers(32, 1025))
            if rng.random() < 0.5:
                img = rng.integers(0, 65535, (h, w)).astype(np.uint16)
            else:
                img = rng.random((h, w), dtype=np.float32)
            m = match_histograms(img, ref)
            hessian_enhance(m, (1, 2, 3))
            if i % 97 == 0:
                boneage_fast.set_num_threads(int(rng.integers(1, threads + 2)))
            if i % every == 0:
                samples.append((i, rss_mb()))
                scratch.append((i, boneage_fast.memory_stats()["scratch_bytes"] / 2**20))
                print(f"  ops {i:6d}/{n}  rss {samples[-1][1]:7.1f} MB  idle scratch {scratch[-1][1]:5.1f} MB", flush=True)
    finally:
        boneage_fast.set_num_threads(threads)
    before = rss_mb()
    freed = boneage_fast.release_memory() / 2**20
    # The scratch cache keeps the two largest plane sets seen (bounded by the largest
    # image); what must stay flat is the memory besides it.
    return {"calls": n, "seconds": round(time.perf_counter() - t0, 1), "samples": samples,
            "scratch_samples": scratch,
            "samples_minus_scratch": [(c, r - sc) for (c, r), (_, sc) in zip(samples, scratch)],
            "rss_before_release_mb": before, "released_mb": freed, "rss_after_release_mb": rss_mb()}


def plot(result: dict, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for name, key, label in (("predictor", "samples", "predictor"), ("ops", "samples", "ops"),
                             ("ops", "samples_minus_scratch", "ops minus idle scratch")):
        part = result.get(name)
        if part and key in part:
            c, r = zip(*part[key])
            ax.plot(c, r, marker=".", label=f"{label} ({part['calls']} calls)")
    ax.set_xlabel("calls")
    ax.set_ylabel("RSS (MB)")
    ax.set_title(f"Soak: resident memory ({result['machine']})", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="predictions (0: skip)")
    ap.add_argument("--ops-n", type=int, default=10_000, help="op calls (0: skip)")
    ap.add_argument("--every", type=int, default=250, help="sample RSS every this many calls")
    ap.add_argument("--pool", type=int, default=48, help="phantoms rendered for the predictor part")
    ap.add_argument("--max-growth-mb", type=float, default=64.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0,
                    help="PyTorch and kernel threads (0: the defaults); 1 when the machine is shared")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args(argv)

    import boneage_fast
    from boneage_fast._runtime import cpu_name

    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
        boneage_fast.set_num_threads(args.threads)

    result: dict = {"machine": cpu_name(), "python": platform.python_version(),
                    "boneage_fast": boneage_fast.__version__, "command": " ".join(sys.argv),
                    "threads": args.threads or "default"}
    ok = True
    if args.n > 0:
        part = soak_predictor(args.n, args.every, args.pool, args.seed)
        part.update(verdict(part["samples"], args.n, args.max_growth_mb))
        result["predictor"] = part
        ok &= part["pass"]
    if args.ops_n > 0:
        part = soak_ops(args.ops_n, args.every, args.seed)
        part.update(verdict(part["samples_minus_scratch"], args.ops_n, args.max_growth_mb))
        result["ops"] = part
        ok &= part["pass"]
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "soak.json")
    if os.path.isfile(path):  # a part skipped this time keeps its last result
        with open(path) as f:
            old = json.load(f)
        for name in ("predictor", "ops"):
            if name not in result and name in old:
                result[name] = old[name]
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    plot(result, os.path.join(args.out, "soak_rss.png"))

    print(f"\nmachine: {result['machine']}")
    print("| part | calls | seconds | RSS start | after warm-up | max | end | growth after warm-up | slope /1000 | pass |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name in ("predictor", "ops"):
        p = result.get(name)
        if p:
            print(f"| {name} | {p['calls']} | {p['seconds']} | {p['rss_start_mb']:.0f} MB | {p['rss_after_warmup_mb']:.0f} MB "
                  f"| {p['rss_max_mb']:.0f} MB | {p['rss_end_mb']:.0f} MB | {p['growth_after_warmup_mb']:+.1f} MB "
                  f"| {p['slope_mb_per_1000']:+.2f} MB | {'yes' if p['pass'] else 'NO'} |")
    if "ops" in result and "released_mb" in result["ops"]:
        p = result["ops"]
        print(f"ops: RSS columns exclude the idle scratch cache (at most the two largest plane sets); "
              f"release_memory() then freed {p['released_mb']:.1f} MB: RSS {p['rss_before_release_mb']:.0f} -> "
              f"{p['rss_after_release_mb']:.0f} MB")
    if "predictor" in result:
        p = result["predictor"]
        print(f"predictor: {p['distinct_sizes']} distinct sizes, p50 {p['p50_ms']} ms, errors {p['errors'] or 'none'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
