"""docs/phantom.png: phantoms of both sexes at 1, 3, 6, 9, 12, 15 and 18 years beside the
real RSNA radiographs of ../shared/realdata/rsna_raw7 (read from there, never copied).

    python scripts/make_phantom_figure.py [--realdata ../shared/realdata] [--out docs/phantom.png]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys

import numpy as np


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from boneage_fast.data.phantom import render
    from boneage_fast.io import read_image

    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--realdata", default=os.path.join(here, "..", "..", "shared", "realdata"))
    p.add_argument("--out", default=os.path.join(here, "..", "docs", "phantom.png"))
    args = p.parse_args(argv)

    years = [1, 3, 6, 9, 12, 15, 18]
    real_dir = os.path.join(args.realdata, "rsna_raw7")
    real = []
    if os.path.isdir(real_dir):
        with open(os.path.join(real_dir, "labels.csv")) as f:
            for row in csv.DictReader(f):
                real.append((os.path.join(real_dir, row["path"]), float(row["boneage_months"]), row["male"] == "1"))
        real.sort(key=lambda r: r[1])
    rows = 3 if real else 2
    fig, axes = plt.subplots(rows, 7, figsize=(21, 3.6 * rows), facecolor="black")
    for r, male in enumerate((True, False)):
        for c, y in enumerate(years):
            s = render(12.0 * y, male, seed=100 + 10 * c + r, size=(1300, 1040))
            ax = axes[r, c]
            ax.imshow(s.image, cmap="gray")
            ax.set_title(f"phantom {'boy' if male else 'girl'}, bone age {y} y", color="w", fontsize=10)
    for c in range(7):
        ax = axes[2, c] if real else None
        if ax is None:
            break
        if c < len(real):
            path, age, male = real[c]
            ax.imshow(read_image(path).pixels, cmap="gray")
            ax.set_title(f"real RSNA {'boy' if male else 'girl'}, bone age {age / 12:.1f} y", color="w", fontsize=10)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_facecolor("black")
    fig.suptitle("boneage_fast phantom (rows 1-2) beside real radiographs (row 3, ../shared/realdata/rsna_raw7)",
                 color="w")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=60, facecolor="black")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
