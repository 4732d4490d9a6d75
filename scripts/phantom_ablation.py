#!/usr/bin/env python3
"""Which phantom-v4 change moves a model's reading of bone age? (docs/phantom.md, section 7)

A v4-trained regressor read the real films ~25 months older than the shipped v3 model.
Training one model per v4 change costs about an hour each on a 2-core CPU; this script
asks the cheaper, model-side question first: with one fixed model (the shipped v3
model by default), how much older or younger does each v4 change, added alone to v3,
make the same phantoms look?  A change that makes phantoms read younger to a v3 model
teaches a v4 model to call that appearance older, and so pushes real films (which it
does not match) the other way: the sign and size of each shift point at the culprit.

With ``--traits`` it asks the same of v4's per-subject draws (``sample_v4_traits``):
how much does a model's reading move between the low and high ends of the soft-tissue
fullness and of the carpal density, everything else the same? A model trained with
the draws should barely move; one trained with fixed values (or on v3) moves.

Every variant renders the same seeds, ages and sexes; "v4 with every change off" is
checked pixel for pixel against v3 first (else the switches below miss a change).
Predictions use the phantom's true hand box (the regressor alone, no detector).

    python scripts/phantom_ablation.py --n 40 --out /tmp/ablation.json
    python scripts/phantom_ablation.py --traits --model RUN/best.json --n 200
    python scripts/phantom_ablation.py --n 200 --switches styloids soft_tone
    python scripts/phantom_ablation.py --model RUN/best.json --n 60 --ages 12 96   # young hands only
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace

import numpy as np

# v4's switches: the module constants and looks a change reads, and their v3 values
# (RAY_WIDTH_V4 is 1.0, version 3's, since docs/phantom.md section 7.4: no switch)
OFF = {
    "carpal_growth": {"CARPAL_GROWTH_V4": 0.0},
    "carpal_density": {"CARPAL_DENSITY_V4": 1.0, "CARPAL_DENSITY_V4_SPREAD": 0.0},
    "carpal_bend": {"CARPAL_BEND_V4": {}},
    "radial_epiphysis": {"RADIAL_EPIPHYSIS_DENSITY_V4": 1.0},
    "palm": {"PALM_V4": 1.0, "PALM_V4_SPREAD": 0.0},
    "fingers": {"FINGER_V4": 1.0, "FINGER_TAPER_V4": 1.0, "FINGER_PAD_V4": None},
    "hand_outline": {"PALM_TAPER_V4": 1.0, "FOREARM_V4": 1.0},
    "tissue_profile": {"look": ("tissue_profile",)},
    "network_texture": {"look": ("texture", "texture_amplitude")},
    "carpal_facets": {"CARPAL_JOINT_V4": None},
    "auto_range": {"look": ("auto_range", "shoulder")},
    "framing": {"phantom.FRAME_FILL_V4": 0.0, "phantom.FRAME_TOP_V4": None},
    "styloids": {"RADIAL_STYLOID_V4": (0.0, 0.0), "ULNAR_STYLOID_V4": (0.0, 0.0)},
    "fusion_overlap": {"FUSION_OVERLAP_V4": 0.0},
    "soft_tone": {"look": ("soft_saturation_mm",)},
    "unsharp": {"look": ("unsharp_mm", "unsharp_gain")},
    # the empty marrow canal and the texture in cancellous bone only, at its own amplitude
    # (off with the network texture on: the texture at v3's amplitude)
    "hollow_shafts": {"look": ("marrow", "smooth_cortex", "texture_amplitude")},
    "metacarpal_heads": {"METACARPAL_HEAD_V4": 0.0},
    # more forearm in the framed span; the unprocessed films' brighter soft tissue
    "forearm_framing": {"phantom.FOREARM_MM_V4": None},
    "raw_soft_tissue": {"look": ("mu_soft",)},
    # young metacarpals, radius and ulna stouter; the ulna's distal end flared as the radius'
    "young_width": {"YOUNG_WIDTH_V4": 0.0},
    "ulna_flare": {"ULNA_FLARE_V4": 0.3},
    # the carpals' rounded corners (section 7.8; off with the facets on: v4's facets before it)
    "facet_corners": {"film.FACET_ROUND": 0.0},
    # their rounded articular edges reaching into the joint spaces (section 7.10; off with
    # the facets on: square cuts at the facets)
    "facet_edges": {"film.FACET_EDGE_MM": 0.0},
    # the trabecular lines at the output resolution (section 7.10; off with v4's texture on:
    # section 7.8's network). Section 7.8's "network_scale" switch (its finer, softer mesh)
    # went with it: v4 no longer draws that mesh.
    "trabecular_lines": {"film.LINE_TEXTURE_V4": False},
    # the lines projected through the bone's depth: two networks averaged and a smooth
    # density (section 7.15; off: one network, v4's lines before it)
    "projected_texture": {"film.PROJECTED_TEXTURE_V4": False},
    # a wider forearm of a rounder section (section 7.11)
    "forearm_section": {"FOREARM_WIDTH_V4": 1.0, "FOREARM_WIDTH_GROWN_V4": 1.0, "FOREARM_SECTION_V4": None},
    # the films' stronger quantum noise and the detector's extra blur (section 7.11)
    "film_grain": {"look": ("noise_sd", "noise_clean", "detector_blur")},
    # the ossicles' thinner cortical shell (section 7.12)
    "ossicle_rim": {"look": ("ossicle_cortex",)},
    # the thin distal radial and ulnar physes (section 7.12)
    "forearm_physis": {"FOREARM_PHYSIS_V4": None},
    # the processed films' bone less dense (section 7.13; its gentler edge enhancement and
    # higher shoulder act through the unsharp and auto_range switches)
    "bone_contrast": {"look": ("mu_bone",)},
    # the fuller first web space and thenar eminence (section 7.13)
    "thumb_web": {"WEB_V4": None},
    # metacarpals 2-5 slimmer with bases flaring wider over longer, rounded, and the
    # distal carpal row kept short of them (section 7.14)
    "metacarpal_bases": {"METACARPAL_BASE_V4": None, "CMC_JOINT_V4": None},
    # no soft-tissue lobe past the thumb's radial side (section 7.14)
    "thenar": {"THENAR_V4": None},
    # the hook of the hamate a tube seen end-on, a bright ring from 10 / 11.5 years
    # (section 7.16; off: v3's faint disc from 2 years)
    "hamate_hook": {"HAMATE_HOOK_V4": None},
    # the hamate's taper taken from its ulnar side, its radial side straight along the
    # capitate (section 7.16)
    "carpal_lean": {"CARPAL_LEAN_V4": {}},
    # young hands framed with more forearm, as the films frame them (section 7.17)
    "young_framing": {"phantom.FOREARM_YOUNG_V4": None},
    # metacarpals 2, 4 and 5 fanning wider, the thumb's metacarpal turned out and longer,
    # young phalanges longer (section 7.18)
    "hand_layout": {"METACARPAL_FAN_V4": (1.0, 1.0, 1.0), "THUMB_V4": (0.0, 1.0), "YOUNG_PHALANX_V4": 0.0},
    # part of the young framing's film kept above the fingertips instead of below the
    # radius (section 7.19)
    "young_above": {"phantom.YOUNG_ABOVE_V4": None},
    # the thenar eminence's proximal part: the palm widest at the metacarpal bases,
    # narrowing over the carpus into the wrist (section 7.20)
    "thenar_eminence": {"THENAR_EMINENCE_V4": None},
    # ... and on the ulnar side, a fuller hypothenar at the metacarpal bases (section 7.20)
    "hypothenar_eminence": {"HYPOTHENAR_EMINENCE_V4": None},
    # the distal radial epiphysis as wide as its metaphysis by 80 / 66 months, thicker and
    # rising to the styloid sooner (section 7.21)
    "radial_epiphysis_width": {"RADIAL_EPIPHYSIS_WIDE_V4": None},
    # the rays' epiphyses as wide as their metaphyses 0.43 of the way from onset to capping
    # (section 7.21)
    "ray_epiphysis_width": {"RAY_EPIPHYSIS_WIDE_V4": None},
    # young phalanges and fingers 1.6 times as wide until 8 years (section 7.22; 1.4 since 7.25)
    "young_fingers": {"YOUNG_FINGERS_V4": None},
    # the phalanges 1.3 times version 3's width from 11 years, not back to 1 (section 7.34)
    "phalanx_width": {"PHALANX_GROWN_V4": None},
    # the MCP joint spaces 0.4 of version 3's from 82 months (section 7.34)
    "mcp_joints": {"MCP_JOINT_V4": None},
    # no dense end plate at the bases of metacarpals 2-5 (section 7.23)
    "mc_base_plate": {"METACARPAL_BASE_PLATE_V4": None},
    # young metacarpal bases further apart, their heads where they were (section 7.24)
    "mc_base_spread": {"METACARPAL_BASE_SPREAD_V4": None},
    # a young wrist longer: the distal radius and ulna lower, the carpus part of the way
    # (section 7.26)
    "young_wrist": {"WRIST_YOUNG_V4": None},
    # webs of soft tissue between the fingers, up 0.3 of the proximal phalanges
    # (section 7.27)
    "finger_webs": {"FINGER_WEB_V4": None},
    # the first web's free edge lower: its third capsule's ends at 0.7 of the thumb's and
    # the index's metacarpals, not 0.85 (section 7.28)
    "first_web": {"FIRST_WEB_V4": None},
    # a young thumb's soft tissue 0.75 as wide until 8 years (section 7.28)
    "young_thumb": {"THUMB_TISSUE_V4": None},
    # young distal radius and ulna flaring like a trumpet on wider shafts that splay apart
    # (section 7.29)
    "young_forearm": {"YOUNG_FOREARM_V4": None},
    # young capitate and hamate as wide and round as the films', the hamate further from
    # the capitate (section 7.30)
    "young_carpus": {"YOUNG_CARPUS_V4": None},
    # the grain of plain soft tissue the films' at 0.5-2 pixels: raw films' finer noise
    # fainter, processed films' stronger and coarser (section 7.31)
    "grain_spectrum": {"look": ("grain_fine", "coarse_grain")},
    # young bone's trabecular lines as striations along the bone, per look (section 7.32)
    "striation": {"film.STRIATION_V4": False},
    # the hand in its film as upright as the films', young hands more often turned (section 7.33)
    "frame_tilt": {"phantom.FRAME_TILT_V4": None},
    # drawn films as narrow as the films' (section 7.33)
    "film_aspect": {"phantom.FILM_ASPECT_V4": None},
}
# refinements of another change: they act only with it on, so they have no "v3 +" row,
# only their "v4 -" row
REFINES = {"facet_corners": "carpal_facets", "facet_edges": "carpal_facets", "trabecular_lines": "network_texture",
           "projected_texture": "trabecular_lines", "young_framing": "forearm_framing",
           "young_above": "young_framing", "striation": "trabecular_lines"}
_CONST0: dict = {}
_LOOKS0: dict = {}


def _owner(key: str):
    """The module and attribute a switch's key names: ``NAME`` (anatomy's),
    ``phantom.NAME`` or ``film.NAME``."""
    from boneage_fast.data import anatomy, film, phantom

    module, _, name = key.rpartition(".")
    return ({"phantom": phantom, "film": film}[module], name) if module else (anatomy, key)


def snapshot() -> None:
    """Remember v4's own values (once, before any switch is set)."""
    from boneage_fast.data import film

    if not _CONST0:
        _CONST0.update({k: getattr(*_owner(k)) for c in OFF.values() for k in c if k != "look"})
        _LOOKS0.update({k: film.LOOKS[k] for k in ("v3", "v3_raw", "v4", "v4_raw")})


def configure(on: set[str]) -> None:
    """Set the v4 switches: the changes in ``on`` keep their v4 values, the rest v3's
    (``configure(set(OFF))`` restores v4)."""
    from boneage_fast.data import film

    snapshot()
    look_off: dict[str, tuple[str, ...]] = {}  # v4 look fields set back to v3's
    for name, consts in OFF.items():
        for key, v3_value in consts.items():
            if key == "look":
                if name not in on:
                    look_off[name] = v3_value
            else:
                setattr(*_owner(key), _CONST0[key] if name in on else v3_value)
    fields = {f for fs in look_off.values() for f in fs}
    for kind in ("", "_raw"):
        v3, v4 = _LOOKS0[f"v3{kind}"], _LOOKS0[f"v4{kind}"]
        film.LOOKS[f"v4{kind}"] = replace(v4, **{f: getattr(v3, f) for f in fields})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model directory or best.json (default: the shipped model)")
    ap.add_argument("--n", type=int, default=40, help="phantoms per variant")
    ap.add_argument("--seed", type=int, default=777000, help="first phantom seed")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--traits", action="store_true",
                    help="vary v4's per-subject draws (soft tissue, carpal density) instead of its changes")
    ap.add_argument("--ages", nargs=2, type=float, default=(12.0, 216.0), metavar=("LO", "HI"),
                    help="bone ages (months) drawn uniformly from this range (default 12 216)")
    ap.add_argument("--switches", nargs="+", default=None, metavar="NAME",
                    help=f"only these changes' rows (default: all of {', '.join(OFF)})")
    args = ap.parse_args(argv)
    if args.n < 4:
        ap.error("--n must be at least 4")
    if not 0.0 <= args.ages[0] < args.ages[1] <= 240.0:
        ap.error(f"--ages: need 0 <= LO < HI <= 240 months, got {args.ages[0]:g} {args.ages[1]:g}")
    unknown = sorted(set(args.switches or ()) - set(OFF))
    if unknown:
        ap.error(f"--switches: unknown {', '.join(unknown)} (known: {', '.join(OFF)})")
    switches = [name for name in OFF if name in (args.switches or OFF)]

    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    from boneage_fast.data import phantom
    from boneage_fast.data.phantom import render
    from boneage_fast.pipeline import Predictor

    _draws = phantom.sample_v4_traits
    snapshot()

    rng = np.random.default_rng(args.seed)
    ages = rng.uniform(args.ages[0], args.ages[1], args.n)
    males = np.arange(args.n) % 2 == 0
    seeds = args.seed + np.arange(args.n)

    def phantoms(style: str):
        for a, m, s in zip(ages, males, seeds):
            yield render(float(a), bool(m), int(s), size_scale=0.6, bits=8, style=style)

    # the switches must reach every change: v4 with all off is v3, pixel for pixel
    configure(set())
    for k in range(3):
        a = render(float(ages[k]), bool(males[k]), int(seeds[k]), size_scale=0.6, bits=8, style="v3").image
        b = render(float(ages[k]), bool(males[k]), int(seeds[k]), size_scale=0.6, bits=8, style="v4").image
        if not np.array_equal(a, b):
            print(f"v4 with every change off differs from v3 (seed {seeds[k]}): a switch is missing", file=sys.stderr)
            return 1

    pr = Predictor(args.model, "cpu", "torch")
    if args.traits:
        # v4 with both draws at their means first (the reference), then each at either end
        variants = [(f"v4, soft tissue {a:+g}, carpal density {b:+g}", "v4", set(OFF), (a, b))
                    for a, b in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))]
    else:
        variants = [("v3", "v3", set(), None), ("v4 (all)", "v4", set(OFF), None)]
        variants += [(f"v3 + {name}", "v4", {name}, None) for name in switches if name not in REFINES]
        variants += [(f"v4 - {name}", "v4", set(OFF) - {name}, None) for name in switches]
    results, base = [], None
    for label, style, on, traits in variants:
        configure(on)
        phantom.sample_v4_traits = _draws if traits is None else (
            lambda subject, rng, t=traits: replace(subject, soft_tissue=float(t[0]), carpal_density=float(t[1])))
        t0 = time.perf_counter()
        pred = np.array([pr.predict(p.image, p.male, box=p.hand_box).boneage_months for p in phantoms(style)])
        err = pred - ages
        if base is None:
            base = pred
        d = pred - base  # against the first variant: v3, or v4 with both draws at their means
        row = {"variant": label, "mean_error": float(err.mean()), "mae": float(np.abs(err).mean()),
               "shift": float(d.mean()), "shift_sd": float(d.std(ddof=1)),
               "shift_se": float(d.std(ddof=1) / np.sqrt(len(d))), "seconds": time.perf_counter() - t0}
        if traits is not None:
            row["soft_tissue"], row["carpal_density"] = traits
        results.append(row)
        print(f"{label:44s} mean error {row['mean_error']:+7.2f}  MAE {row['mae']:6.2f}  "
              f"shift {row['shift']:+7.2f} ± {row['shift_se']:.2f} (SE)  [{row['seconds']:.0f} s]",
              flush=True)
    configure(set(OFF))
    phantom.sample_v4_traits = _draws
    out = {"mode": "traits" if args.traits else "changes", "model_id": pr.model_id[:12], "n": args.n,
           "first_seed": args.seed, "size_scale": 0.6, "bits": 8, "ages": [round(float(a), 2) for a in ages], "results": results}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
