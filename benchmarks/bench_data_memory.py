#!/usr/bin/env python3
"""Peak resident memory of regressor training against the number of images.

For each N: write N full-size phantom radiographs (random sizes 800-2600 px, as the
phantom draws them; 8-bit PNG to spare the disk), then run one training epoch in a
fresh process (crop cache built by 2 worker processes, 2 data-loader workers,
regressor input 128) while sampling the memory of that process and all
its children every 0.2 s. The old loader decoded every radiograph into memory; the
cache-based one must stay flat: the peaks for 500 and 5,000 images must differ by
less than 1 GB.

    python benchmarks/bench_data_memory.py --n 500 5000 --work /tmp/boneage_mem [--link-from 500]

Memory is the proportional set size (PSS) of the process tree, sampled every 0.2 s.
With --link-from 500 only 500 files are rendered and the 5,000-entry set links to them
in turn (each entry is still indexed, decoded, cropped and cached on its own).

Writes benchmarks/results/data_memory.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

CHILD = r"""
import sys, json, torch
from boneage_fast.training import load_config
from boneage_fast.training.train import train_regressor
data, out = sys.argv[1], sys.argv[2]
cfg = load_config("S2", input_size=128, epochs=1, batch_size=32, workers=2, bn_batches=4)
r = train_regressor(cfg, data, out, device="cpu", progress=False)
print(json.dumps({"val_mae": r["best_val_mae"], "seconds": r["seconds"]}))
"""


def linked_dataset(src: str, dst: str, n: int) -> None:
    """An RSNA-layout folder of ``n`` entries whose images are symbolic links to the
    files of ``src``, used in turn (entry i -> file i mod len(src)); labels and boxes
    copied with the new ids. For memory, an entry is an entry: every one is indexed,
    decoded, cropped and cached on its own."""
    import csv

    from boneage_fast.data.writer import link_dataset

    with open(os.path.join(src, "labels.csv"), newline="") as f:
        labels = list(csv.DictReader(f))
    old_boxes: dict[str, list[dict]] = {}
    with open(os.path.join(src, "boxes.csv"), newline="") as f:
        for r in csv.DictReader(f):
            old_boxes.setdefault(r["id"], []).append(r)
    entries, boxes = [], {}
    for i in range(n):
        r = labels[i % len(labels)]
        new = f"{i:06d}"
        entries.append({**r, "id": new, "image": os.path.join(src, "images", r["id"] + ".png")})
        boxes[new] = old_boxes.get(r["id"], [])
    link_dataset(dst, entries, boxes)


def tree_pss_bytes(pid: int) -> int:
    """Proportional set size of a process and all its descendants (Linux /proc): pages
    shared between the forked workers count once in all, not once per process as the
    sum of their RSS would."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, IndexError, ValueError):
            pass
        todo.extend(children.get(p, []))
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[500, 5000])
    ap.add_argument("--work", default="/tmp/boneage_mem")
    ap.add_argument("--link-from", type=int, default=None, metavar="N0",
                    help="render only N0 images; larger N link to those files in turn (saves the rendering)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                                  "data_memory.json"))
    args = ap.parse_args()
    from boneage_fast.data.writer import write_phantom_dataset

    rows = []
    for n in args.n:
        data = os.path.join(args.work, f"ph{n}")
        if args.link_from and n > args.link_from and not os.path.isfile(os.path.join(data, "labels.csv")):
            linked_dataset(os.path.join(args.work, f"ph{args.link_from}"), data, n)
        if not os.path.isfile(os.path.join(data, "labels.csv")):
            t = time.time()
            write_phantom_dataset(data, n, seed=n, fmt="png8", workers=2)
            print(f"wrote {n} phantoms in {time.time() - t:.0f} s", flush=True)
        du = sum(os.path.getsize(os.path.join(data, "images", f)) for f in os.listdir(os.path.join(data, "images")))
        t0 = time.time()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, data, os.path.join(args.work, f"run{n}")],
                                stdout=subprocess.PIPE, text=True)
        peak, curve = 0, []
        while proc.poll() is None:
            rss = tree_pss_bytes(proc.pid)
            peak = max(peak, rss)
            curve.append((round(time.time() - t0, 1), round(rss / 2**20, 1)))
            time.sleep(0.2)
        out = proc.stdout.read().strip().splitlines()
        if proc.returncode != 0:
            print(f"N = {n}: the training process failed (exit {proc.returncode})", file=sys.stderr)
            return 1
        res = json.loads(out[-1])
        rows.append({"n": n, "images_on_disk_gb": round(du / 1e9, 2), "peak_pss_gib": round(peak / 2**30, 3),
                     "linked_to": f"ph{args.link_from}" if args.link_from and n > args.link_from else None,
                     "wall_s": round(time.time() - t0, 1), "val_mae": res["val_mae"], "pss_curve_mib": curve[::10]})
        print(f"N = {n:5d}: images {du / 1e9:6.2f} GB on disk, peak PSS (process tree) {peak / 2**30:.2f} GiB, "
              f"{time.time() - t0:.0f} s", flush=True)
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or ''}".strip(", "),
              "python": platform.python_version(), "rows": rows}
    if len(rows) >= 2:
        report["peak_difference_gb"] = round(abs(rows[-1]["peak_pss_gib"] - rows[0]["peak_pss_gib"]), 3)
        print(f"difference of the peaks: {report['peak_difference_gb']:.3f} GiB (target < 1)")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
