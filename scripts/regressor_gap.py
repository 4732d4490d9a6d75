#!/usr/bin/env python3
"""Where in its input does a regressor see real films older than phantoms? (docs/phantom.md, section 7.17)

Every v4-trained model so far reads the real films under 8 years 56-95 months too old
while reading v4 phantoms of those ages within about 10 months. This script localises
that gap inside the model's input, with no training: for each labelled real film from
``--min-months`` to under ``--max-months`` it builds the model's maps (the coarse, histogram-matched crop and the
fine, Hessian-filtered one; the crop from the film's annotated hand box, so that the
detector plays no part) and the maps of ``--per-film`` phantoms of the same bone age and
sex (``--style``, drawn at the sizes the renderer draws, cropped from their own hand
boxes), then reads with the model:

  phantom / real            the maps as they are;
  real band i               the phantom's maps with rows i of ``--bands`` horizontal
                            bands (0 at the fingertips' end of the crop) taken from the
                            real film's, both channels;
  real fine band i          the same, the fine channel only;
  real coarse / real fine   one whole channel from the real film, the other the phantom's;
  phantom, no fine /        the fine channel set to zero.
  real, no fine
  real / phantom zoomed z   the coarse map scaled z times about the crop's centre and
                            the fine map recomputed (``zoom_maps``): the hand framed
                            larger (1.25) or smaller (0.8) in the crop.

It also gives, per side, the median of the fine map's mean over the carpus window
(``CARPUS_WINDOW``, ``window_energy``): how much ridge the Hessian filter finds below
metacarpal 3's base.

With ``--set`` the phantoms are drawn with changed constants (``apply_settings``): how
much does a change to the phantom move the model's reading of it towards the real
films'?

Each row is the mean reading minus the films' bone ages (months) over the films and their
phantoms. A band or channel that carries the gap moves the phantom's reading towards the
real film's; the crops of a film and of a phantom of its age put the same anatomy in
about the same rows (metacarpal 3's base at 0.60 of the crop's height on the young films,
0.58-0.61 on v4's phantoms).

    python scripts/regressor_gap.py --model W/cpu_v4/S5_seed0/best.json \\
        --detector W/cpu_v4/detector_run/best.json --json gap.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def band_rows(size: int, bands: int) -> list[tuple[int, int]]:
    """(first, end) rows of ``bands`` horizontal bands over ``size`` rows, as even as
    integers allow, top to bottom."""
    edges = np.linspace(0, size, bands + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def swap_variants(real: np.ndarray, ph: np.ndarray, bands: int) -> dict[str, np.ndarray]:
    """The maps to read (see the module's docstring), from one real film's ``real`` and
    one phantom's ``ph`` maps, each (2, S, S): [coarse, fine]."""
    real = np.asarray(real, np.float32)
    ph = np.asarray(ph, np.float32)
    if real.ndim != 3 or real.shape[0] != 2 or real.shape != ph.shape:
        raise ValueError(f"need two (2, S, S) maps of one shape, got {real.shape} and {ph.shape}")
    out = {"phantom": ph, "real": real}
    rows = band_rows(real.shape[1], bands)
    for i, (a, b) in enumerate(rows):
        v = ph.copy()
        v[:, a:b] = real[:, a:b]
        out[f"real band {i}"] = v
    for i, (a, b) in enumerate(rows):
        v = ph.copy()
        v[1, a:b] = real[1, a:b]
        out[f"real fine band {i}"] = v
    out["real coarse"] = np.stack([real[0], ph[1]])
    out["real fine"] = np.stack([ph[0], real[1]])
    out["phantom, no fine"] = np.stack([ph[0], np.zeros_like(ph[1])])
    out["real, no fine"] = np.stack([real[0], np.zeros_like(real[1])])
    return out


def zoom_maps(maps: np.ndarray, factor: float, fine) -> np.ndarray:
    """``maps`` (2, S, S) with the coarse map scaled by ``factor`` about its centre
    (bilinear; cut to S x S, or padded with its border's values) and the fine map
    recomputed from it by ``fine`` (the model's Hessian filter): the same film framed
    ``factor`` times larger in the crop."""
    from scipy import ndimage as ndi

    if not 0.25 <= factor <= 4.0:
        raise ValueError(f"zoom factor must be 0.25-4, got {factor:g}")
    c = np.asarray(maps[0], np.float32)
    S = c.shape[0]
    z = ndi.zoom(c, factor, order=1)
    n = z.shape[0]
    if n >= S:
        o = (n - S) // 2
        z = z[o:o + S, o:o + S]
    else:
        a = (S - n) // 2
        z = np.pad(z, ((a, S - n - a), (a, S - n - a)), mode="edge")
    z = np.ascontiguousarray(z, np.float32)
    return np.stack([z, np.asarray(fine(z), np.float32)])


#: the carpus window of the crop (rows, columns as fractions of its side): below metacarpal
#: 3's base (0.60 of the height on the young films), across the middle
CARPUS_WINDOW = ((0.5625, 0.75), (0.3125, 0.6875))


def window_energy(maps: np.ndarray, window=CARPUS_WINDOW) -> float:
    """The fine map's mean over ``window`` ((row from, to), (column from, to), fractions)."""
    S = maps.shape[-1]
    (r0, r1), (c0, c1) = window
    return float(np.asarray(maps[1])[round(r0 * S):round(r1 * S), round(c0 * S):round(c1 * S)].mean())


def apply_settings(settings: list[str]) -> None:
    """Set phantom constants for this run: each ``anatomy.NAME=VALUE``, ``film.NAME=VALUE``,
    ``phantom.NAME=VALUE`` or ``film.LOOKS.LOOK.FIELD=VALUE`` (VALUE a Python literal), for asking how a
    change to the phantom moves the model's reading of it (the ``phantom`` row).

    Raises:
        ValueError: a setting that is not of that form, names nothing, or whose value is
            not a literal.
    """
    import ast
    from dataclasses import fields, replace

    from boneage_fast.data import anatomy, film, phantom

    modules = {"anatomy": anatomy, "film": film, "phantom": phantom}
    for item in settings:
        key, sep, text = item.partition("=")
        parts = key.strip().split(".")
        if not sep or parts[0] not in modules or len(parts) < 2:
            raise ValueError(f"--set {item!r}: expected anatomy.NAME=VALUE, film.NAME=VALUE, phantom.NAME=VALUE "
                             "or film.LOOKS.LOOK.FIELD=VALUE")
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            raise ValueError(f"--set {item!r}: {text.strip()!r} is not a Python literal") from None
        mod = modules[parts[0]]
        if parts[0] == "film" and parts[1] == "LOOKS" and len(parts) == 4:
            look, field = parts[2], parts[3]
            if look not in film.LOOKS or field not in {f.name for f in fields(film.LOOKS[look])}:
                raise ValueError(f"--set {item!r}: film.LOOKS has no look {look!r} with a field {field!r}")
            film.LOOKS[look] = replace(film.LOOKS[look], **{field: value})
        elif len(parts) == 2 and parts[1].isupper() and hasattr(mod, parts[1]):
            setattr(mod, parts[1], value)
        else:
            raise ValueError(f"--set {item!r}: {parts[0]} has no constant {'.'.join(parts[1:])!r}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model directory or best.json (default: the shipped model)")
    ap.add_argument("--detector", default=None, help="detector card (default: the model's own)")
    ap.add_argument("--style", default="v4", help="phantom style (default v4)")
    ap.add_argument("--max-months", type=float, default=96.0, help="real films under this bone age (default 96)")
    ap.add_argument("--min-months", type=float, default=0.0, help="... and at or over this one (default 0)")
    ap.add_argument("--per-film", type=int, default=2, help="phantoms per real film (default 2)")
    ap.add_argument("--bands", type=int, default=8, help="horizontal bands (default 8)")
    ap.add_argument("--seed", type=int, default=7000, help="first phantom seed")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--set", nargs="+", default=[], metavar="NAME=VALUE",
                    help="phantom constants for this run (anatomy.NAME=..., film.NAME=..., phantom.NAME=..., "
                         "film.LOOKS.LOOK.FIELD=...; see apply_settings)")
    args = ap.parse_args(argv)
    if not 0 <= args.min_months < args.max_months:
        ap.error(f"--min-months and --max-months: need 0 <= min < max, got {args.min_months:g} {args.max_months:g}")
    if args.per_film < 1:
        ap.error(f"--per-film must be at least 1, got {args.per_film}")
    if not 2 <= args.bands <= 32:
        ap.error(f"--bands must be 2-32, got {args.bands}")

    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    sys.path.insert(0, HERE)
    import phantom_realism_real as R

    from boneage_fast.data.phantom import STYLES, render
    from boneage_fast.pipeline import Predictor

    if args.style not in STYLES:
        ap.error(f"--style must be one of {', '.join(STYLES)}, got {args.style!r}")
    try:
        apply_settings(args.set)
    except ValueError as exc:
        ap.error(str(exc))
    if not os.path.isdir(R.REAL):
        print(f"no real films: {os.path.abspath(R.REAL)} is missing", file=sys.stderr)
        return 1
    films = sorted((r for r in R.real_images() if r["boneage"] is not None
                    and args.min_months <= r["boneage"] < args.max_months),
                   key=lambda r: (r["boneage"], r["id"]))
    if not films:
        print(f"no labelled real film of {args.min_months:g}-{args.max_months:g} months", file=sys.stderr)
        return 1
    pr = Predictor(args.model, "cpu", "torch", detector=args.detector, allow_other_detector=True)
    if not pr.pre.attention:
        print("this model reads the whole film (no coarse and fine maps): nothing to swap", file=sys.stderr)
        return 1
    errors: dict[str, list[float]] = {}
    stats: dict[str, list[float]] = {}
    for k, film in enumerate(films):
        real, _ = pr._prepare(film["path"], film["male"], box=film["box"])
        stats.setdefault("real carpus fine energy", []).append(window_energy(real))
        for j in range(args.per_film):
            s = render(film["boneage"], bool(film["male"]), args.seed + args.per_film * k + j, style=args.style)
            ph, _ = pr._prepare(s.image, film["male"], box=tuple(s.hand_box))
            stats.setdefault("phantom carpus fine energy", []).append(window_energy(ph))
            variants = swap_variants(real, ph, args.bands)
            for z in (0.8, 1.25):
                variants[f"real zoomed {z:g}"] = zoom_maps(real, z, pr.pre.fine)
                variants[f"phantom zoomed {z:g}"] = zoom_maps(ph, z, pr.pre.fine)
            pred = pr._regress(np.stack(list(variants.values())), [film["male"]] * len(variants))
            for name, p in zip(variants, pred):
                errors.setdefault(name, []).append(float(p) - film["boneage"])
    rows = [{"variant": name, "mean_error": round(float(np.mean(e)), 2),
             "shift": round(float(np.mean(e) - np.mean(errors["phantom"])), 2)} for name, e in errors.items()]
    print(f"{len(films)} real films of {args.min_months:g}-{args.max_months:g} months, {args.per_film} {args.style} phantom(s) each; "
          f"model {pr.model_id[:12]}")
    for r in rows:
        print(f"  {r['variant']:24s} mean error {r['mean_error']:+7.1f}   shift from the phantom {r['shift']:+7.1f}")
    medians = {name: round(float(np.median(v)), 4) for name, v in stats.items()}
    for name, v in medians.items():
        print(f"  {name:34s} median {v:.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": " ".join(sys.argv), "model_id": pr.model_id[:12], "films": len(films),
                       "per_film": args.per_film, "style": args.style, "set": args.set, "bands": band_rows(real.shape[1], args.bands),
                       "rows": rows, "map_medians": medians, "carpus_window": CARPUS_WINDOW}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
