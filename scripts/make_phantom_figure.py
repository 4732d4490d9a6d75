"""docs/phantom.png: real radiographs of ../shared/realdata (read from there, never
copied) beside phantoms (by default v4, v3 and v2) of the same bone age and sex, rendered at the
same image size (so at about the same pixel scale), and zoomed wrists at one scale.

    python scripts/make_phantom_figure.py [--realdata ../shared/realdata] [--out docs/phantom.png]
        [--styles v4 v3 v2] [--wrists v4 v3]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys

import numpy as np

# (folder, id): a real film per column, youngest first
COLUMNS = [("rsna_raw7", "10186"), ("rsna_raw7", "10468"), ("rsna_raw7", "6488"), ("rsna_preprocessed_train40", "2687"),
           ("rsna_preprocessed_train40", "1708"), ("rsna_preprocessed_train40", "1516"),
           ("rsna_preprocessed_train40", "2838"), ("rsna_preprocessed_train40", "2670")]


def _boxes(realdata: str) -> dict[tuple[str, str], tuple[float, ...]]:
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "data", "real_hand_boxes.csv")) as f:
        return {(r["set"], r["id"]): tuple(float(r[k]) for k in ("x0", "y0", "x1", "y1")) for r in csv.DictReader(f)}


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
    p.add_argument("--styles", nargs="+", default=["v4", "v3", "v2"], help="phantom rows, full hands")
    p.add_argument("--wrists", nargs="+", default=["v4", "v3"], help="phantom rows, zoomed wrists")
    args = p.parse_args(argv)
    if not os.path.isdir(args.realdata):
        print(f"{args.realdata}: the real films are not beside this checkout", file=sys.stderr)
        return 2
    boxes = _boxes(args.realdata)
    labels = {}
    for sub in {c[0] for c in COLUMNS}:
        with open(os.path.join(args.realdata, sub, "labels.csv")) as f:
            for r in csv.DictReader(f):
                labels[(sub, r["id"])] = (os.path.join(args.realdata, sub, r["path"]), float(r["boneage_months"]),
                                          r["male"] == "1")
    n, full = len(COLUMNS), 1 + len(args.styles)
    rows = full + 1 + len(args.wrists)
    fig, axes = plt.subplots(rows, n, figsize=(2.6 * n, 3.5 * full + 2.8 * (rows - full)), facecolor="black",
                             gridspec_kw={"height_ratios": [1.25] * full + [1] * (rows - full)})
    for c, key in enumerate(COLUMNS):
        path, age, male = labels[key]
        real = read_image(path).pixels.astype(np.float32)
        H, W = real.shape
        sex = "boy" if male else "girl"
        ph = {st: render(age, male, seed=300 + c, size=(H, W), bits=8, style=st)
              for st in dict.fromkeys(args.styles + args.wrists)}
        panels = [(real, f"real {sex}, {age / 12:.1f} y")] + [(ph[st].image, f"phantom {st}, {age / 12:.1f} y")
                                                             for st in args.styles]
        for r, (img, title) in enumerate(panels):
            axes[r, c].imshow(img, cmap="gray")
            axes[r, c].set_title(title, color="w", fontsize=10)
        # zoomed wrists at one anatomical scale: a square of 0.55 x the hand box's width,
        # the real one centred 72 % down the annotated hand box (the carpus of an upright
        # hand), the phantom's half-way between metacarpal 3's base and the middle of its
        # radius ROI (the wrist from the bases to the radius' end, whose length v4 draws
        # with age, docs/phantom.md section 7.26)
        x0, y0, x1, y1 = boxes[key]
        wrists = [(real, ((x0 + x1) / 2, y0 + 0.72 * (y1 - y0)), 0.55 * (x1 - x0), "real wrist")]
        for st in args.wrists:
            _, rx0, ry0, rx1, ry1 = next(b for b in ph[st].roi_boxes if b[0] == "Radius")
            base = ph[st].frame(next(b for b in ph[st].hand.bones if b.name == "metacarpal3").p0[None])[0]
            hx0, _, hx1, _ = ph[st].hand_box
            centre = ((base[0] + (rx0 + rx1) / 2) / 2, (base[1] + (ry0 + ry1) / 2) / 2)
            wrists.append((ph[st].image, centre, 0.55 * (hx1 - hx0), f"{st} wrist"))
        for r, (img, (cx, cy), side, title) in enumerate(wrists, start=full):
            ys = slice(int(max(cy - side / 2, 0)), int(min(cy + side / 2, img.shape[0])))
            xs = slice(int(max(cx - side / 2, 0)), int(min(cx + side / 2, img.shape[1])))
            axes[r, c].imshow(img[ys, xs], cmap="gray")
            axes[r, c].set_title(title, color="w", fontsize=10)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_facecolor("black")
    fig.suptitle(f"Real radiographs (row 1, ../shared/realdata) beside phantoms {', '.join(args.styles)} (rows 2-{full}) "
                 f"of the same bone age and sex at the same image size; zoomed wrists (rows {full + 1}-{rows}: real, "
                 f"{', '.join(args.wrists)})", color="w")
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=55, facecolor="black")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
