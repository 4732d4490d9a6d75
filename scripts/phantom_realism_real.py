#!/usr/bin/env python3
"""Phantom realism, part 2: measured on the real radiographs of ../shared/realdata.

  detector   a phantom-trained hand detector on the 57 real images (rsna_raw7,
             rsna_preprocessed_train40, raw_unlabeled10) against hand boxes annotated by
             eye (scripts/data/real_hand_boxes.csv): fraction found at IoU >= 0.5, mean
             IoU (a film with no detection counts as IoU 0).
  regressor  a phantom-trained regressor with no fine-tuning on the 47 labelled images:
             MAE, Spearman rho with the labels, and predict-the-mean (the constant that
             is best for these 47 labels, which no model could know: a strict baseline).
  tones      grey levels: per film, the 20th / 50th / 90th / 99th percentiles of the
             hand's pixels (the hand box's pixels brighter than its 5th percentile +
             0.08 on a [0, 1] scale) and the fraction of the box they cover; the median
             over the 57 real films against 40 phantoms per style (8-bit, random sizes).
  spectrum   texture at the scale of trabeculae and finer, without a model: per film, the
             power spectrum of the palm (the centre of the hand box, half its short
             side, at the film's own pixels, standardised, Hann-windowed), radially
             averaged in bands of cycles per crop side (2-8, 8-32, 32-64, 64-128; the
             crop is about half the hand's width, so 64-128 is about 0.3-0.6 mm per
             cycle on a child's hand) as shares of the power in 2-128; the median over
             the 57 real films against one phantom per film of the same size, age and
             sex, per style.
  gap        real-vs-phantom separability that needs no trained model: a ridge
             classifier on 48x48 palm crops (the centre of the hand box, each crop
             standardised), 5-fold cross-validated accuracy over the 57 real images and
             57 phantoms of each style (same ages and sexes; 50 % = indistinguishable).
  cortex     how hollow the long bones look: across metacarpal 3 at mid-shaft, the dip
             from the cortices' peaks to the marrow canal over the peaks' height above
             the soft tissue beside the bone (``shaft_contrast``); 8 real films at points
             picked by eye (scripts/data/real_mc_midshaft.csv) against 28 phantoms per
             style.
  palm       young hands' fullness: the palm's width across metacarpal 3's mid-point
             over metacarpal 3's length on 6 real films of 10-82 months (points read by
             eye, scripts/data/real_young_palm.csv) against 4 clean phantoms per film's
             age and sex, per style. The films' edges read by eye are the palm's and
             leave out a thumb joined to it at that level; the phantoms' is the
             silhouette's run, so the films' silhouette run is given beside them
             (``real_silhouette``), the like-for-like figure.
  softbone   bone against soft tissue on unprocessed films: across the palm at
             metacarpal 3's mid-shaft, (bone peak - soft tissue) / (soft tissue -
             background) on the 5 raw films of 10-60 months with the palm line read by
             eye (scripts/data/real_raw_palm_line.csv) against 6 phantoms per film's age
             and sex drawn with each style's unprocessed and processed looks.
  slender    young metacarpals' build: metacarpal 3's width at mid-shaft over its
             length on the 6 young films of scripts/data/real_young_palm.csv against 4
             clean phantoms per film's age and sex, per style.
  forearm    young forearms' build: the widths of the distal radial and ulnar
             metaphyses at their ends and the gap between them, over metacarpal 3's
             length, on 5 young films of 24-82 months (edges read by eye off 20- and
             40-pixel grids, scripts/data/real_young_forearm.csv; metacarpal 3 from
             real_young_palm.csv) against 4 clean phantoms per film's age and sex, per
             style (from the drawn outlines). The films' edges were refined in
             section 7.29 onto the steepest grey-level edge near each reading.
  interosseous  the young forearm's bones below their ends: the radius' and the ulna's
             widths and the gap between them at 0.05, 0.15, 0.3 and 0.5 of metacarpal
             3's length below the radius' distal end, over that length, on the 5 films
             of real_young_forearm.csv (edges read by eye and put on the steepest
             grey-level edge within 4 % of the length,
             scripts/data/real_young_interosseous.csv) against 4 clean phantoms per
             film's age and sex, per style (from the drawn outlines).
  armtissue  the young forearm's soft tissue: across the distal end of the radius on the
             5 films of real_young_forearm.csv, how full its section is between the
             skin and the bones (``arm_section``: 1 for a flat slab, less for a round
             limb), the soft tissue beyond the ulna and beyond the radius, and the
             forearm's width there and 0.3 of metacarpal 3's length lower, over
             metacarpal 3's length, against 4 clean phantoms per film's age and sex;
             the width also on 6 films of 10-15 years (real_older_forearm.csv).
  grain      the films' finest grain (quantum noise, the finest trabeculae): the
             standard deviation of the film less a Gaussian of one pixel, in the young
             forearm's soft tissue beside the radius and in its distal metaphysis, on
             the 5 films of real_young_forearm.csv against 12 phantoms per film's age
             and sex drawn at its metacarpal 3 length.
  texture    the trabecular texture inside the capitate: on a square of side 1/7 of
             metacarpal 3's length about its centre, the film scaled to [0, 1] between
             its 1st and 99.5th percentiles, the skewness and the standard deviation
             (over the square's mean) of a band-pass (Gaussians of 1/550 and 1/55 of
             metacarpal 3's length, about 0.1 and 1 mm), and the half-width of the
             high-passed square's radial autocorrelation (lag where it falls to 0.5, in
             hundredths of metacarpal 3's length); the band-pass's excess kurtosis and
             its strength per octave (oct0-oct3: differences of Gaussians from 1/550
             to 1/34 of that length, each sigma twice the last, finest first;
             docs/phantom.md, section 7.15); 7 real films of 10-15 years (the
             capitate's centre and metacarpal 3's length read by eye off 50-pixel grids,
             scripts/data/real_capitate_texture.csv) against 12 phantoms per film's age
             and sex drawn at the film's metacarpal 3 length in pixels, per style (a
             phantom's figures depend much on its film's look, processed or raw, and its
             edge enhancement: 4 phantoms gave medians that moved by half).
  rim        the carpals' cortical rim: the capitate's edge along 48 rays from its
             centre on the same 7 films (the film scaled as for texture), each ray's
             profile across the edge (its steepest fall) scaled so that the interior
             reads 1 and the joint space beside it 0, the median over the rays: the
             rim's peak and its width at half its height over the interior (hundredths
             of metacarpal 3's length), with the bone's height over the joint space,
             against the median of 4 phantoms per film's age and sex drawn at the
             film's metacarpal 3 length.
  physis     the distal radial physis on 6 films of 120-180 months (its row read by
             eye, scripts/data/real_older_forearm.csv): along the radius, across the
             dark line between metaphysis and epiphysis, its width at half its depth
             (hundredths of metacarpal 3's length) and its depth, the median over the
             columns across the radius; against 4 phantoms per film's age and sex at
             the film's metacarpal 3 length.
  joints     the middle finger's PIP and MCP joint spaces on 7 registered films of 82-180
             months (each joint's row and the finger's middle read by eye,
             scripts/data/real_finger_joints.csv): across each joint the dark line's
             width at half its depth and its depth (``physis_gap``, hundredths of
             metacarpal 3's length), and proximal phalanx 3's and the finger's widths
             at mid-shaft (their edges read by eye); against 4 processed phantoms per
             film's age and sex at its metacarpal 3 length (the drawn joints' middles,
             ``ray_joint``; the drawn outline and soft-tissue capsule).
  shaft      metacarpal 3's shaft against the soft tissue beside it: across its
             mid-shaft (read by eye, scripts/data/real_mc_midshaft.csv) on the 6 films of
             120-180 months that also have its length, each side's outer edge (its
             steepest outward fall), the edge's height over the soft tissue and its
             width from 80 % to 20 % of that height, on the film scaled as for texture;
             against 8 phantoms per film's age and sex at its metacarpal 3 length.
  palmtissue the palm's soft tissue across the hand through metacarpal 3's mid-shaft
             (the same 6 films): its level under the bones (a grey opening wider than
             any bone) inside the silhouette less 0.08 of metacarpal 3's length at
             either end, and how far its 10th percentile lies below its median (over
             that median: 0 for soft tissue of one grey from side to side); against 8
             phantoms per film's age and sex at its metacarpal 3 length.
  mcbase     the flare of metacarpal 3's base: on the 5 registered films of
             scripts/data/real_mc3_base_width.csv (its outer edges read by eye at 3-4
             levels, the base's level, 120-180 months; metacarpal 3's length from
             real_capitate_texture.csv) the width at each level over the width at the
             highest (0.30-0.37 of the length from the base), against the drawn outline
             of the phantoms' metacarpal 3 (film.draw_long_bone's formula, away from the
             rounded ends; 8 subjects per film's age and sex, no film drawn) at the same
             fractions of its length.
  crop       the young hand's place in the crop the model is fed (its hand box): on the 6
             young films of scripts/data/real_young_palm.csv metacarpal 3's base as a
             fraction of the box's height from its top and the box below that base in
             metacarpal 3 lengths, against 8 phantoms per film's age and sex drawn as
             training films are (nuisance on, half size), from their own hand boxes.

  mcplate    the dense end plate at metacarpal 3's base: along its axis (profiles 0.07 of
             its length wide, the film's 1st percentile as 0), the highest point within
             -0.02 to +0.08 of its length from the base over the shaft's median from 0.15
             to 0.30 (1: no plate); on the 6 young films of real_young_palm.csv (4 raw, 2
             registered) and the 5 older registered films of real_mc3_base_width.csv
             against 4 phantoms per film's age and sex drawn at its metacarpal 3 length
             with its film's look (unprocessed for rsna_raw7, processed for the
             registered films).

  mcspread   how far apart the bases of metacarpals 2-5 stand: the centres of their base
             ends read by eye across the film (scripts/data/real_mc_bases.csv; the 6
             young films of real_young_palm.csv, 10-82 months, and 2 older registered
             films of real_mc3_base_width.csv, 120 and 168 months), neighbour to
             neighbour (index-middle, middle-ring, ring-little) over metacarpal 3's
             length, against the drawn bases of 8 subjects per film's age and sex (across
             metacarpal 3's axis; no film drawn).

  wrist      the hand's outline from the palm down into the forearm: the silhouette's
             half-widths on the thumb's (radial) and the little finger's (ulnar) side of
             metacarpal 3's axis, over its length, across that axis at 0.25 of the length
             above its base, at the base and 0.25, 0.5, 0.75 and 1.0 below it; on the 6
             young films of real_young_palm.csv and the 5 older registered films of
             real_mc3_base_width.csv (120-180 months; the base's height read there, the
             axis upright through the capitate's centre and the length from
             real_capitate_texture.csv) against 6 phantoms per film's age and sex drawn
             as training films are (nuisance on, half size).

  carpus     the young wrist's length: the distal radius' metaphysis end (at the
             radius' axis) and the capitate's centre below metacarpal 3's base, along
             that bone's axis over its length, on the 6 young films of
             real_young_palm.csv (10-82 months; the capitate's centre and 10186's radius
             read by eye off 10-pixel grids, scripts/data/real_young_carpus.csv, the
             others' radius from real_young_forearm.csv) against the drawn hands of 8
             subjects per film's age and sex (the radius shaft's drawn end, the capitate
             ossicle's centre; no film drawn).

  youngcarpus  the young capitate's and hamate's size and place: on the 6 films of
             ``carpus`` each bone's outline is found from a point inside it read by eye
             (real_young_carpus.csv) as the closed path of steepest fall of the grey
             level across 90 rays (``carpal_outline``); its convex hull gives the bone's
             length along metacarpal 3's axis, its width across it and its middle; the
             two middles' distances across and along the axis; all over metacarpal 3's
             length. The phantoms' from the drawn outlines (no film drawn, facets not
             cut) of the hands of 8 subjects per film's age and sex.
  webs       where the middle finger parts from its neighbours: going up metacarpal
             3's axis from 0.7 of its length above its base in steps of 0.025, the
             first level where the silhouette (as ``wrist`` finds it) reaches less than
             0.3 of the length to the thumb's side of the axis (the web between the
             index and middle fingers) and to the little finger's (middle and ring),
             on the films and phantoms of ``wrist`` (None where it never does).
  firstweb   how far up the thumb stays joined to the hand (the first web's free
             edge): going up metacarpal 3's axis from its base to 1.0 of its length in
             steps of 0.025, the highest level where the silhouette (as ``wrist`` finds
             it) still reaches 0.95 of the length to the thumb's side, on the films of
             ``wrist`` against 4 clean phantoms per film's age and sex (None where it
             never does). Clean, as ``palm``: the bright backgrounds that training
             films may get fill the thumb's side, which then reads as joined to the top.
  thumb      the thumb's soft tissue: the silhouette's width across the thumb's proximal
             phalanx at its mid-point (the run that holds the bone's axis), over
             metacarpal 3's length, on 5 films of 24-150 months (the phalanx' mid-point
             and direction read by eye, scripts/data/real_thumb.csv) against 4 clean
             phantoms per film's age and sex.
  softgrain  the grain of plain soft tissue, per look: on a square of 25 pixels in the
             distal forearm's soft tissue beside the radius (its centre read by eye,
             scripts/data/real_soft_tissue.csv: 6 raw films of rsna_raw7, 11 processed
             films of rsna_preprocessed_train40), the film scaled to [0, 1] between its
             1st and 99.5th percentiles, the standard deviation of the band G(s) -
             G(2 s) (Gaussian blurs) for s = 0.5, 1 and 2 pixels (``grain_bands``),
             against the median of 12 phantoms per film's age and sex drawn at the
             film's size with its look (raw or processed), their square midway between
             the radius' outer edge and the skin 0.1 of metacarpal 3's length below the
             radius' end (``grain``'s); medians per look.
  striation how striated the young distal radial metaphysis is: on a square of side 1/7 of
             metacarpal 3's length centred on the radius' axis ``STRIATION_BELOW`` of
             that length proximal to its distal end (5 films of real_young_forearm.csv,
             24-82 months; the axis through the middles of the radius at 0.05 and 0.3
             of that length below its end, real_young_interosseous.csv), the film scaled
             to [0, 1] between its 1st and 99.5th percentiles, per band G(a) - G(b)
             (``STRIATION_BANDS``, fractions of metacarpal 3's length) the gradient's
             energy across the radius' axis over its energy along it (``aniso``: 1 for
             an isotropic grain, more for striations along the bone) and the band's
             standard deviation over the square's mean grey (``amp``); against the
             median of 8 phantoms per film's age and sex drawn at its metacarpal 3
             length with its look (raw or processed), on their drawn radius' axis.

  The registered films of texture, rim, physis, shaft and palmtissue are processed
  films: their phantoms are drawn with the processed look only (``--any-look``: either
  look, a fifth of them unprocessed, as sections 7.10-7.12 of docs/phantom.md drew
  them).

    python scripts/phantom_realism_real.py --model boneage_fast/weights            # the shipped (v2) model
    python scripts/phantom_realism_real.py --model RUN/best.json --detector DET/best.json --parts detector regressor
    python scripts/phantom_realism_real.py --parts gap --styles v1 v2
    python scripts/phantom_realism_real.py --parts tones --styles v1 v2 v3
    python scripts/phantom_realism_real.py --parts spectrum --styles v3 v4
    python scripts/phantom_realism_real.py --parts cortex --styles v3 v4
    python scripts/phantom_realism_real.py --parts palm --styles v3 v4
    python scripts/phantom_realism_real.py --parts softbone --styles v3 v4
    python scripts/phantom_realism_real.py --parts slender --styles v3 v4
    python scripts/phantom_realism_real.py --parts forearm --styles v3 v4
    python scripts/phantom_realism_real.py --parts armtissue --styles v3 v4
    python scripts/phantom_realism_real.py --parts grain --styles v3 v4
    python scripts/phantom_realism_real.py --parts texture --styles v3 v4
    python scripts/phantom_realism_real.py --parts metaphysis --styles v3 v4
    python scripts/phantom_realism_real.py --parts rim --styles v3 v4
    python scripts/phantom_realism_real.py --parts physis --styles v3 v4
    python scripts/phantom_realism_real.py --parts joints --styles v3 v4
    python scripts/phantom_realism_real.py --parts shaft palmtissue --styles v3 v4
    python scripts/phantom_realism_real.py --parts mcspread --styles v3 v4
    python scripts/phantom_realism_real.py --parts carpus --styles v3 v4
    python scripts/phantom_realism_real.py --parts youngcarpus --styles v3 v4
    python scripts/phantom_realism_real.py --parts webs --styles v3 v4
    python scripts/phantom_realism_real.py --parts softgrain --styles v3 v4
    python scripts/phantom_realism_real.py --parts striation --styles v3 v4

Only the annotations live in the repository; the images are read from ../shared/realdata.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.path.join(HERE, "..", "..", "shared", "realdata")
SETS = ("rsna_raw7", "rsna_preprocessed_train40", "raw_unlabeled10")


def real_images() -> list[dict]:
    """The real films with their hand boxes, ages (None if unlabelled) and sexes."""
    boxes = {}
    with open(os.path.join(HERE, "data", "real_hand_boxes.csv")) as f:
        for r in csv.DictReader(f):
            boxes[(r["set"], r["id"])] = tuple(float(r[k]) for k in ("x0", "y0", "x1", "y1"))
    rows = []
    for sub in SETS:
        with open(os.path.join(REAL, sub, "labels.csv")) as f:
            for r in csv.DictReader(f):
                age = float(r["boneage_months"]) if r["boneage_months"] else None
                male = (r["male"] == "1") if r["male"] else None
                rows.append({"set": sub, "id": r["id"], "path": os.path.join(REAL, sub, r["path"]),
                             "boneage": age, "male": male, "box": boxes[(sub, r["id"])]})
    return rows


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def run_models(rows, model: str, detector: str | None) -> dict:
    from scipy import stats

    from boneage_fast.pipeline import NoHandFound, Predictor

    pr = Predictor(model, "cpu", "torch", detector=detector, allow_other_detector=True)
    ious, preds, truth, ids = [], [], [], []
    for r in rows:
        try:
            # unlabelled films: any sex (only their detection is scored)
            p = pr.predict(r["path"], r["male"] if r["male"] is not None else False)
            ious.append(iou(p.box, r["box"]))
            if r["boneage"] is not None:
                preds.append(p.boneage_months)
                truth.append(r["boneage"])
                ids.append(f"{r['set']}/{r['id']}")
        except NoHandFound:
            ious.append(0.0)
            if r["boneage"] is not None:  # no hand found: counted at the mean of the labels
                preds.append(float("nan"))
                truth.append(r["boneage"])
                ids.append(f"{r['set']}/{r['id']}")
    ious_a = np.array(ious)
    t = np.array(truth)
    p = np.array(preds)
    p = np.where(np.isnan(p), np.mean(t), p)
    err = np.abs(p - t)
    return {
        "model_id": pr.model_id[:12],
        "detector_id": str((pr.detector_card or {}).get("sha256", ""))[:12],
        "n_films": len(rows),
        "found_iou50": float(np.mean(ious_a >= 0.5)),
        "mean_iou": float(ious_a.mean()),
        "found_iou50_by_set": {s: float(np.mean(ious_a[[r["set"] == s for r in rows]] >= 0.5)) for s in SETS},
        "missed": [f"{r['set']}/{r['id']} (IoU {v:.2f})" for r, v in zip(rows, ious) if v < 0.5],
        "n_labelled": int(len(t)),
        "mae": float(err.mean()),
        "mae_sd": float(err.std(ddof=1)),
        "spearman": float(stats.spearmanr(p, t).statistic),
        "mean_baseline": float(np.mean(np.abs(t - t.mean()))),
        "pred_mean": float(p.mean()),
        "pred_sd": float(p.std(ddof=1)),
        "predictions": {i: [float(tt), round(float(pp), 2)] for i, tt, pp in zip(ids, t, p)},
    }


def _palm_square(box) -> tuple[float, float, float]:
    """The palm: centre (x, y) of the hand box and half of half its short side."""
    x0, y0, x1, y1 = box
    return (x0 + x1) / 2, (y0 + y1) / 2, 0.25 * min(x1 - x0, y1 - y0)


def palm_crop(pixels: np.ndarray, box, size: int = 48) -> np.ndarray:
    """The centre of the hand box (half its short side), resized and standardised."""
    from PIL import Image

    cx, cy, half = _palm_square(box)
    im = Image.fromarray(pixels.astype(np.float32), mode="F").crop(
        (int(cx - half), int(cy - half), int(cx + half), int(cy + half)))
    a = np.asarray(im.resize((size, size), Image.BILINEAR), dtype=np.float64)
    return (a - a.mean()) / max(a.std(), 1e-6)


def _box_hand(pixels: np.ndarray, box) -> tuple[np.ndarray, np.ndarray]:
    """Every second pixel of ``box`` on a [0, 1] film and which of them are the hand's:
    those brighter than the box's 5th percentile + 0.08."""
    x0, y0, x1, y1 = (int(v) for v in box)
    c = pixels[y0:y1:2, x0:x1:2]
    return c, c > np.percentile(c, 5) + 0.08


def hand_tones(pixels: np.ndarray, box) -> list[float]:
    """[fraction of the box, p20, p50, p90, p99, white, top, width, aspect] of the hand's
    pixels (``pixels`` on [0, 1]): those of the box brighter than its 5th percentile +
    0.08; ``white`` is the share of them at 0.98 or above; ``top`` the box's distance
    from the film's top edge and ``width`` its width, as fractions of the film's height
    and width, ``aspect`` its height over its width (how the hand is framed: the box runs
    from the fingertips to the forearm at the film's edge)."""
    c, hand = _box_hand(pixels, box)
    c, fg = c.ravel(), c[hand]
    H, W = pixels.shape
    return [len(fg) / max(len(c), 1), *np.percentile(fg, [20, 50, 90, 99]), float(np.mean(fg >= 0.98)),
            box[1] / H, (box[2] - box[0]) / W, (box[3] - box[1]) / max(box[2] - box[0], 1e-9)]


def _summary(per_film: list[list[float]]) -> dict:
    keys = ["hand_fraction", "p20", "p50", "p90", "p99", "white", "top", "width", "aspect"]
    a = np.asarray(per_film)
    out = dict(zip(keys, np.round(np.median(a, axis=0), 4).tolist()))
    # the films with the most white: the 90th percentile over films
    out["white_p90"] = round(float(np.percentile(a[:, 5], 90)), 4)
    return out


def tones(rows, styles: list[str], n: int = 40) -> dict:
    """Median over films of :func:`hand_tones`, real and per phantom style (and the
    90th percentile over films of the white share)."""
    from boneage_fast.data.phantom import render
    from boneage_fast.io import read_image

    real = []
    for r in rows:
        px = read_image(r["path"]).pixels.astype(np.float64)
        real.append(hand_tones(px / (255.0 if px.max() <= 255 else 65535.0), r["box"]))
    out = {"real": _summary(real)}
    for style in styles:
        rng = np.random.default_rng(1)
        got = []
        for i in range(n):
            s = render(float(rng.uniform(10, 216)), bool(i % 2), seed=1000 + i, bits=8, size_scale=0.6, style=style)
            got.append(hand_tones(s.image.astype(np.float64) / 255.0, s.hand_box))
        out[style] = _summary(got)
    return out


SPECTRUM_BANDS = ((2, 8), (8, 32), (32, 64), (64, 128))


def palm_spectrum(pixels: np.ndarray, box) -> list[float]:
    """Shares of the palm crop's power (2-128 cycles per crop side) in
    ``SPECTRUM_BANDS``; the crop is the centre of the hand box, half its short side, at
    the film's own pixels (a crop under 256 pixels cannot resolve the top band: NaN)."""
    cx, cy, half = _palm_square(box)
    half = int(half)
    top, left = max(int(cy) - half, 0), max(int(cx) - half, 0)
    a = np.asarray(pixels, np.float64)[top:top + 2 * half, left:left + 2 * half]
    n = min(a.shape)
    if n < 256:
        return [float("nan")] * len(SPECTRUM_BANDS)
    a = a[:n, :n]
    a = (a - a.mean()) / max(a.std(), 1e-9)
    w = np.hanning(n)
    power = np.abs(np.fft.fft2(a * np.outer(w, w))) ** 2
    f = np.fft.fftfreq(n) * n  # cycles per crop side
    radius = np.hypot(f[:, None], f[None, :])
    total = power[(radius >= 2) & (radius < 128)].sum()
    return [float(power[(radius >= lo) & (radius < hi)].sum() / total) for lo, hi in SPECTRUM_BANDS]


def spectrum(rows, styles: list[str], seed: int = 20_000) -> dict:
    """Median over films of :func:`palm_spectrum`: the real films, and per style one
    phantom per real film at its size, age and sex (36 months and alternating sexes for
    the unlabelled ones)."""
    from boneage_fast.data.phantom import render
    from boneage_fast.io import read_image

    def summary(per_film):
        a = np.asarray(per_film)
        ok = ~np.isnan(a).any(axis=1)
        return {"n": int(ok.sum()), **{f"{lo}-{hi}": round(float(np.median(a[ok, k])), 4)
                                       for k, (lo, hi) in enumerate(SPECTRUM_BANDS)}}

    real, shapes = [], []
    for r in rows:
        px = read_image(r["path"]).pixels
        shapes.append(px.shape)
        real.append(palm_spectrum(px, r["box"]))
    out = {"real": summary(real)}
    for style in styles:
        got = []
        for i, (r, shape) in enumerate(zip(rows, shapes)):
            age = r["boneage"] if r["boneage"] is not None else 36.0
            male = r["male"] if r["male"] is not None else bool(i % 2)
            s = render(age, male, seed=seed + i, size=(int(shape[0]), int(shape[1])), bits=8, style=style)
            got.append(palm_spectrum(s.image, s.hand_box))
        out[style] = summary(got)
    return out


def _unit_film(pixels: np.ndarray) -> np.ndarray:
    """The film as float64 scaled to [0, 1] by its own minimum and maximum."""
    a = np.asarray(pixels, np.float64)
    return (a - a.min()) / max(a.max() - a.min(), 1e-9)


def _band_profile(a: np.ndarray, origin, along, across, q: np.ndarray, rows: int, smooth: int) -> np.ndarray:
    """The film ``a`` sampled (nearest pixel, clamped to the film) at ``origin + q along +
    t across`` for t = -rows..rows, averaged over t, then a running mean over ``smooth``
    pixels."""
    prof = np.zeros(len(q))
    for t in range(-rows, rows + 1):
        xs = np.clip(np.round(origin[0] + along[0] * q + across[0] * t).astype(int), 0, a.shape[1] - 1)
        ys = np.clip(np.round(origin[1] + along[1] * q + across[1] * t).astype(int), 0, a.shape[0] - 1)
        prof += a[ys, xs]
    return np.convolve(prof / (2 * rows + 1), np.ones(smooth) / smooth, mode="same")


def shaft_contrast(pixels: np.ndarray, cx: float, cy: float, ux: float, uy: float, half: int = 110,
                   rows: int = 10) -> tuple[float, int]:
    """How hollow a long bone's shaft looks: across the shaft through (cx, cy) (its axis
    the unit (ux, uy)), a profile averaged over 2 ``rows`` + 1 lines along the axis and
    smoothed over 3 pixels; the shaft is the run above a quarter of the way from the
    profile's 5th percentile to its peak near the centre; returns (the mean of the two
    cortices' peaks less the canal's level (the middle quarter of the shaft), over those
    peaks less the level beside the bone (the 30 % of a width outside each edge), the
    shaft's width in pixels). Real shafts dip to their marrow canal; a solid rod does not."""
    prof = _band_profile(_unit_film(pixels), (cx, cy), (-uy, ux), (ux, uy), np.arange(-half, half + 1), rows, 3)
    c = half
    floor = np.percentile(prof, 5)
    thr = floor + 0.25 * (prof[c - 60:c + 61].max() - floor)
    if prof[c] < thr:
        c = c - 40 + int(np.argmax(prof[c - 40:c + 41]))
    i0 = i1 = c
    while i0 > 1 and prof[i0 - 1] >= thr:
        i0 -= 1
    while i1 < len(prof) - 2 and prof[i1 + 1] >= thr:
        i1 += 1
    w = i1 - i0
    mid = (i0 + i1) // 2
    canal = prof[mid - w // 8:mid + w // 8 + 1].mean()
    peak = 0.5 * (prof[i0:mid].max() + prof[mid:i1 + 1].max())
    beside = 0.5 * (prof[max(i0 - int(0.3 * w), 0):i0 - 2].mean() + prof[i1 + 3:i1 + int(0.3 * w)].mean())
    return float((peak - canal) / max(peak - beside, 1e-3)), int(w)


def cortex(styles: list[str], seeds: int = 4) -> dict:
    """:func:`shaft_contrast` across metacarpal 3 at mid-shaft: on the real films at the
    points of scripts/data/real_mc_midshaft.csv (picked by eye on 8 registered RSNA
    films, 2-15 years; the shaft taken as vertical), and per style on phantoms of seven
    ages and both sexes at the registered films' size (1600x2080), at their
    metacarpal 3's mid-point."""
    from boneage_fast.data.phantom import render
    from boneage_fast.io import read_image

    paths = {(r["set"], r["id"]): r["path"] for r in real_images()}
    real = []
    with open(os.path.join(HERE, "data", "real_mc_midshaft.csv")) as f:
        for r in csv.DictReader(f):
            real.append(shaft_contrast(read_image(paths[(r["set"], r["id"])]).pixels,
                                       float(r["x"]), float(r["y"]), 0.0, 1.0)[0])

    def summary(v):
        return {"n": len(v), "median": round(float(np.median(v)), 3), "p10": round(float(np.percentile(v, 10)), 3),
                "p90": round(float(np.percentile(v, 90)), 3), "min": round(float(min(v)), 3),
                "max": round(float(max(v)), 3)}

    out = {"real": summary(real)}
    for style in styles:
        got = []
        for seed in range(seeds):
            for age, male in ((24, False), (60, True), (120, False), (136, True), (150, True), (168, True),
                              (180, False)):
                s = render(age, male, seed=seed, size=(2080, 1600), bits=8, style=style)
                T = s.frame
                b = next(b for b in s.hand.bones if b.name == "metacarpal3")
                m, d = T((b.p0 + b.p1) / 2), T(b.p1) - T(b.p0)
                d = d / np.hypot(*d)
                got.append(shaft_contrast(s.image, m[0], m[1], d[0], d[1])[0])
        out[style] = summary(got)
    return out


def silhouette_span(img: np.ndarray, m, n, reach: int) -> tuple[int, int]:
    """Along the line ``m + q n`` (q = -reach..reach pixels) on a [0, 1] film, the run of
    the silhouette (the film above its 2nd percentile + 0.08) that holds q = 0, as its
    two ends (q of the first and last pixel inside)."""
    q = np.arange(-reach, reach + 1)
    xs, ys = np.round(m[0] + n[0] * q).astype(int), np.round(m[1] + n[1] * q).astype(int)
    ok = (xs >= 0) & (xs < img.shape[1]) & (ys >= 0) & (ys < img.shape[0])
    inside = np.zeros(len(q), bool)
    inside[ok] = img[ys[ok], xs[ok]] > np.percentile(img, 2) + 0.08
    lo = hi = reach
    while lo > 0 and inside[lo - 1]:
        lo -= 1
    while hi < len(q) - 1 and inside[hi + 1]:
        hi += 1
    return int(q[lo]), int(q[hi])


def _metacarpal3_hand_ends(hand) -> tuple[np.ndarray, np.ndarray]:
    """A hand's metacarpal 3 in its own frame (mm): its base (the shaft's) and its top
    (the top of its head's epiphysis, the shaft's end without one).

    Raises:
        ValueError: the hand has no metacarpal 3.
    """
    b = next((b for b in hand.bones if b.name == "metacarpal3"), None)
    if b is None:
        raise ValueError("the hand has no metacarpal3")
    epi = next((e for e in hand.ossicles if e.name == "epi_metacarpal3"), None)
    axis = (b.p1 - b.p0) / np.hypot(*(b.p1 - b.p0))
    return b.p0, (epi.centre + axis * epi.axes[1] if epi is not None else b.p1)


def _metacarpal3_ends(sample) -> tuple[np.ndarray, np.ndarray]:
    """A phantom's metacarpal 3 in pixels: :func:`_metacarpal3_hand_ends` through its
    frame."""
    base, top = _metacarpal3_hand_ends(sample.hand)
    return sample.frame(base), sample.frame(top)


def _mc3_length(points: dict) -> float:
    """Metacarpal 3's length in pixels from a film's annotated base and top
    (real_young_palm.csv's ``mc3_base_x`` ... ``mc3_top_y``)."""
    return float(np.hypot(points["mc3_top_x"] - points["mc3_base_x"], points["mc3_top_y"] - points["mc3_base_y"]))


def _metacarpal3_line(sample):
    """A phantom's metacarpal 3: its mid-point (from the base to the top of its head's
    epiphysis, the shaft's end without one) in pixels, the unit normal to its axis and
    its length in pixels."""
    base, top = _metacarpal3_ends(sample)
    m, d = (base + top) / 2, top - base
    length = float(np.hypot(*d))
    return m, np.array([-d[1], d[0]]) / length, length


def palm_over_metacarpal(sample) -> float:
    """A phantom's palm width over its metacarpal 3 length: the silhouette (the film above
    its 2nd percentile + 0.08) along the line through metacarpal 3's mid-point,
    perpendicular to it, over the distance from its base to the top of its head's
    epiphysis (the shaft's end without one)."""
    return _run_over_length(_unit_film(sample.image), *_metacarpal3_line(sample))


def _run_over_length(img: np.ndarray, m, n, length: float) -> float:
    """The silhouette's run (:func:`silhouette_span`, reaching up to 4 ``length`` either
    way) through ``m`` along the unit ``n`` on a [0, 1] film, over ``length``."""
    lo, hi = silhouette_span(img, m, n, int(4 * length))
    return float((hi - lo) / length)


def crop_composition(box, base, top) -> dict:
    """Where the hand sits in its crop (the hand box, which the model is fed): ``base``,
    metacarpal 3's base, as a fraction of the box's height from its top edge
    (``base_in_box``), and the box below that base (the carpus, the wrist and the
    forearm on the film) in metacarpal 3 lengths from base to ``top``
    (``below_base``). Pixels, the film's y axis down."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if not y1 > y0:
        raise ValueError(f"box must have y1 > y0, got {box!r}")
    length = float(np.hypot(top[0] - base[0], top[1] - base[1]))
    if not length > 0:
        raise ValueError("metacarpal 3's base and top must differ")
    return {"base_in_box": (float(base[1]) - y0) / (y1 - y0), "below_base": (y1 - float(base[1])) / length}


def phantom_crop_composition(sample) -> dict:
    """:func:`crop_composition` of a phantom's hand box, from its metacarpal 3 (the base
    of the shaft, the top of its head's epiphysis or the shaft's end without one)."""
    return crop_composition(sample.hand_box, *_metacarpal3_ends(sample))


def crop(styles: list[str], seeds: int = 8) -> dict:
    """The young hand's place in its crop: :func:`crop_composition` on the 6 young real
    films of scripts/data/real_young_palm.csv (their annotated hand boxes, metacarpal 3
    read by eye) and per style on ``seeds`` phantoms of each film's age and sex drawn as
    training films are (acquisition nuisance on, the framing draws act only then; half
    size), from their own hand boxes."""
    from boneage_fast.data.phantom import render

    rows = []
    for film, name, v in _annotated_films("real_young_palm.csv"):
        got = crop_composition(film["box"], (v["mc3_base_x"], v["mc3_base_y"]), (v["mc3_top_x"], v["mc3_top_y"]))
        row = {"film": name, "months": film["boneage"], **{f"real_{k}": round(x, 3) for k, x in got.items()}}
        for style in styles:
            ph = [phantom_crop_composition(render(film["boneage"], film["male"], seed=40_000 + k, size_scale=0.5,
                                                  bits=8, style=style)) for k in range(seeds)]
            for key in ("base_in_box", "below_base"):
                row[f"{style}_{key}"] = round(float(np.median([g[key] for g in ph])), 3)
        rows.append(row)
    return _with_medians(rows, [f"{who}_{k}" for who in ("real", *styles) for k in ("base_in_box", "below_base")])


WRIST_LEVELS = (-0.25, 0.0, 0.25, 0.5, 0.75, 1.0)


def wrist_profile(img: np.ndarray, base, top, radial: int = 1, levels=WRIST_LEVELS) -> dict:
    """The hand's outline about metacarpal 3 (``base`` to ``top``, pixels): across its
    axis at each of ``levels`` (its lengths below the base; negative: above), the
    silhouette's half-widths (:func:`silhouette_span` on a [0, 1] film, the run that
    holds the axis) on either side of the axis, over the length: ``radial`` on the side
    of the normal (-u_y, u_x) times ``radial`` (+1 or -1; u the unit axis from base to
    top; +1 is the image's right for an upright hand), ``ulnar`` on the other."""
    if radial not in (1, -1):
        raise ValueError(f"radial must be +1 or -1, got {radial!r}")
    base, top = np.asarray(base, np.float64), np.asarray(top, np.float64)
    d = top - base
    length = float(np.hypot(*d))
    if not length > 0:
        raise ValueError("metacarpal 3's base and top must differ")
    u = d / length
    n = np.array([-u[1], u[0]])
    out: dict = {"radial": [], "ulnar": []}
    for f in levels:
        lo, hi = silhouette_span(img, base - u * f * length, n, int(4 * length))
        sides = (hi, -lo) if radial == 1 else (-lo, hi)
        out["radial"].append(sides[0] / length)
        out["ulnar"].append(sides[1] / length)
    return out


def phantom_wrist_profile(sample, levels=WRIST_LEVELS) -> dict:
    """:func:`wrist_profile` of a phantom from its metacarpal 3 (base of the shaft, top of
    its head's epiphysis), its radial side the one its thumb's metacarpal lies on."""
    base, top = _metacarpal3_ends(sample)
    return wrist_profile(_unit_film(sample.image.astype(np.float64)), base, top, _thumb_side(sample, base, top),
                         levels)


def _thumb_side(sample, base, top) -> int:
    """+1 if a phantom's thumb's metacarpal lies on the side of the normal (-u_y, u_x) of
    metacarpal 3's axis (``base`` to ``top``, pixels), else -1 (``radial`` of
    :func:`wrist_profile`)."""
    mc1 = next(b for b in sample.hand.bones if b.name == "metacarpal1")
    d = top - base
    return 1 if float((sample.frame(mc1.p1) - base) @ np.array([-d[1], d[0]])) > 0 else -1


def _older_metacarpal3():
    """The 5 older registered films of scripts/data/real_mc3_base_width.csv with
    metacarpal 3 as (base, top) pixels: the base's height read there, the axis upright
    through the capitate's centre and the length (real_capitate_texture.csv)."""
    base_y = {name: v["mc3_base_y"] for _, name, v in _annotated_films("real_mc3_base_width.csv")}
    for film, name, v in _annotated_films("real_capitate_texture.csv"):
        y = base_y.get(name)
        if y is not None:
            yield film, name, (v["capitate_x"], y), (v["capitate_x"], y - v["mc3_length"])


def _metacarpal3_groups():
    """The films with metacarpal 3 as (base, top) pixels, by group: ("young", the 6 films
    of real_young_palm.csv, ends read by eye) and ("older", :func:`_older_metacarpal3`),
    each a list of (film, name, base, top)."""
    young = [(film, name, (v["mc3_base_x"], v["mc3_base_y"]), (v["mc3_top_x"], v["mc3_top_y"]))
             for film, name, v in _annotated_films("real_young_palm.csv")]
    return (("young", young), ("older", list(_older_metacarpal3())))


def wrist(styles: list[str], seeds: int = 6) -> dict:
    """:func:`wrist_profile` on the 6 young films of real_young_palm.csv and the 5 older
    films of :func:`_older_metacarpal3` (upright, thumb to the right) against ``seeds``
    phantoms per film's age and sex and style drawn as training films are, from their
    own metacarpal 3; per group the medians over films of each level's half-widths."""
    from boneage_fast.data.phantom import render
    from boneage_fast.io import read_image

    out: dict = {"levels": list(WRIST_LEVELS)}
    for group, films in _metacarpal3_groups():
        rows = []
        for film, name, base, top in films:
            img = _unit_film(read_image(film["path"]).pixels.astype(np.float64))
            got = wrist_profile(img, base, top)
            row = {"film": name, "months": film["boneage"], **{f"real_{k}": [round(x, 3) for x in v]
                                                              for k, v in got.items()}}
            for style in styles:
                ph = [phantom_wrist_profile(render(film["boneage"], film["male"], seed=40_000 + k, size_scale=0.5,
                                                   bits=8, style=style)) for k in range(seeds)]
                for side in ("radial", "ulnar"):
                    row[f"{style}_{side}"] = np.round(np.median([g[side] for g in ph], axis=0), 3).tolist()
            rows.append(row)
        medians = {k: np.round(np.median([r[k] for r in rows], axis=0), 3).tolist()
                   for k in rows[0] if k not in ("film", "months")}
        out[group] = {"films": rows, "medians": medians}
    return out


EPIPHYSIS_BANDS = ((0.0, 36.0), (36.0, 66.0), (66.0, 228.0))
# the films read by eye for :func:`epiphyses`: the distal radius' epiphysis over its
# metaphysis' end, and the base epiphysis of the middle finger's proximal phalanx over the
# phalanx' base (pixels: the end's width, the epiphysis' span across it, its greatest
# thickness)
EPIPHYSIS_FILMS = {"radius": ("real_radial_epiphysis.csv", "meta_w"),
                   "proximal3": ("real_proximal_epiphysis.csv", "base_w")}


def epiphysis_shape(hand, bone: str = "radius") -> dict | None:
    """A hand's epiphysis of ``bone`` against the end of the bone it sits on (hand-frame
    geometry, no pixels): ``width``, its span across the bone over the end's width
    (``2 half_width (1 + flare)``: the head's flare for the radius, the ulna and
    metacarpals 2-5, the base's for the phalanges and the thumb's metacarpal), and
    ``thickness``, its greatest extent along the bone over the same width (a superellipse
    of semi-axes a, b and exponent p is ``2 b (1 - |x|^p)^(1/p)`` thick at x in units of
    a, its articular half times ``1 + slope x + hollow x^2``); None without one."""
    b = next((b for b in hand.bones if b.name == bone), None)
    if b is None:
        raise ValueError(f"bone {bone!r}: the hand has no such long bone")
    epi = next((e for e in hand.ossicles if e.name == f"epi_{bone}"), None)
    if epi is None:
        return None
    at_base = bone.startswith(("proximal", "middle", "distal")) or bone == "metacarpal1"
    end = 2.0 * b.half_width * (1.0 + (b.flare0 if at_base else b.flare1))
    x = np.linspace(-1.0, 1.0, 2001)
    half = epi.axes[1] * (1.0 - np.abs(x) ** epi.exponent) ** (1.0 / epi.exponent)
    thick = half * (2.0 + epi.slope * x + epi.hollow * x * x)
    return {"width": float(2.0 * epi.axes[0] / end), "thickness": float(thick.max() / end)}


def epiphyses(styles: list[str], seeds: int = 6) -> dict:
    """Epiphyses' width and thickness over the end of their bone (``EPIPHYSIS_FILMS``,
    read by eye on enlargements with a pixel grid) against :func:`epiphysis_shape` of
    ``seeds`` phantoms per film's age and sex and style; per bone and band of bone age
    (``EPIPHYSIS_BANDS``) the medians over its films."""
    from boneage_fast.data.phantom import render

    out = {}
    for bone, (name, end) in EPIPHYSIS_FILMS.items():
        rows = []
        for film, label, v in _annotated_films(name):
            row = {"film": label, "months": film["boneage"], "real_width": round(v["epi_w"] / v[end], 3),
                   "real_thickness": round(v["epi_h"] / v[end], 3)}
            for style in styles:
                got = [epiphysis_shape(render(film["boneage"], film["male"], seed=40_000 + k, size_scale=0.5,
                                              bits=8, style=style).hand, bone) for k in range(seeds)]
                for key in ("width", "thickness"):
                    row[f"{style}_{key}"] = round(float(np.median([g[key] if g else 0.0 for g in got])), 3)
            rows.append(row)
        keys = [f"{who}_{k}" for who in ("real", *styles) for k in ("width", "thickness")]
        bands = {}
        for lo, hi in EPIPHYSIS_BANDS:
            sel = [r for r in rows if lo <= r["months"] < hi]
            if sel:
                bands[f"{lo:.0f}-{hi:.0f}"] = {"films": len(sel), **{k: round(float(np.median([r[k] for r in sel])), 3)
                                                                    for k in keys}}
        out[bone] = {"films": rows, "bands": bands}
    return out


# the young films' middle finger read by eye (scripts/data/real_young_fingers.csv): a
# grey-level profile along the film's row ``y``, 0.62 of metacarpal 3's length above the
# top of its head (real_young_palm.csv), at proximal phalanx 3's mid-shaft; the bone's and
# the skin's edges (pixels, half-way up each step), the skin's blank where the finger
# touches its neighbours on both sides with no background between
FINGER_FILMS = "real_young_fingers.csv"


def finger_build(hand, bone: str = "proximal3") -> dict:
    """A hand's finger at ``bone``'s mid-point (hand-frame geometry, no pixels), over
    metacarpal 3's length from its base to the top of its head's epiphysis (the shaft's
    end without one): ``bone``, the phalanx' shaft width there (``2 half_width``), and
    ``finger``, the diameter there of the soft-tissue capsule whose axis passes nearest
    that point (its radius linear between the capsule's two end radii).

    Raises:
        ValueError: no such bone or no metacarpal 3, or no capsule passes within 2 mm of
            its mid-point.
    """
    b = next((b for b in hand.bones if b.name == bone), None)
    if b is None:
        raise ValueError(f"bone {bone!r}: the hand has no such long bone")
    base, top = _metacarpal3_hand_ends(hand)
    length = float(np.hypot(*(top - base)))
    m = (b.p0 + b.p1) / 2.0
    best = None
    for p0, p1, r0, r1 in hand.tissue:
        d = p1 - p0
        ln = float(np.hypot(*d))
        if ln == 0.0:
            continue
        u = d / ln
        along = float(np.dot(m - p0, u))
        off = abs(float(u[0] * (m - p0)[1] - u[1] * (m - p0)[0]))
        if 0.0 <= along <= ln and off < 2.0 and (best is None or off < best[0]):
            best = (off, r0 + (r1 - r0) * along / ln)
    if best is None:
        raise ValueError(f"bone {bone!r}: no soft-tissue capsule runs along it")
    return {"bone": 2.0 * b.half_width / length, "finger": 2.0 * best[1] / length}


def box_rows(pixels: np.ndarray, box, rows: int = 8) -> list[float]:
    """The hand's share of each of ``rows`` horizontal bands of its box (top to bottom),
    ``pixels`` on [0, 1], the hand's pixels as :func:`hand_tones` finds them (above the
    box's 5th percentile + 0.08, every second pixel)."""
    c, fg = _box_hand(pixels, box)
    if c.shape[0] < rows or c.shape[1] == 0:
        raise ValueError(f"box {box!r} is too small for {rows} bands")
    return [float(fg[r].mean()) for r in np.array_split(np.arange(c.shape[0]), rows)]


def fingers(rows, styles: list[str], seeds: int = 6, per_film: int = 3) -> dict:
    """The young fingers' build: on the films of ``FINGER_FILMS`` (read by eye) proximal
    phalanx 3's width and the middle finger's at its mid-shaft over metacarpal 3's
    length, against :func:`finger_build` of ``seeds`` phantoms per film's age and sex and
    style (the fingers' medians over the films whose finger was read); and over the
    labelled films under 96 months of ``rows`` the hand's share of the top half of its
    box (the fingers; :func:`box_rows`, 8 bands) and of the bottom half, against
    ``per_film`` phantoms per film (8-bit, size scale 0.6, their own hand boxes)."""
    from boneage_fast.data.phantom import render
    from boneage_fast.io import read_image

    palm = {name: v for _, name, v in _annotated_films("real_young_palm.csv")}
    build = []
    for film, name, v in _annotated_films(FINGER_FILMS):
        length = _mc3_length(palm[name])
        finger = v["finger_x1"] - v["finger_x0"]
        row = {"film": name, "months": film["boneage"], "real_bone": round((v["bone_x1"] - v["bone_x0"]) / length, 3),
               "real_finger": None if np.isnan(finger) else round(finger / length, 3)}
        for style in styles:
            got = [finger_build(render(film["boneage"], film["male"], seed=40_000 + k, size_scale=0.5, bits=8,
                                       style=style).hand) for k in range(seeds)]
            for key in ("bone", "finger"):
                row[f"{style}_{key}"] = round(float(np.median([g[key] for g in got])), 3)
        build.append(row)
    out = {"build": _with_medians(build, [f"{who}_bone" for who in ("real", *styles)])}
    read = [r for r in build if r["real_finger"] is not None]  # the fingers' medians over the films read
    out["build"].update(_with_medians(read, [f"{who}_finger" for who in ("real", *styles)]))
    out["build"]["films"] = build
    young = [r for r in rows if r["boneage"] is not None and r["boneage"] < 96]
    halves = []
    for r in young:
        px = read_image(r["path"]).pixels.astype(np.float64)
        got = box_rows(px / (255.0 if px.max() <= 255 else 65535.0), r["box"])
        row = {"film": f"{r['set']}/{r['id']}", "months": r["boneage"], "real": [round(float(np.mean(got[:4])), 3),
                                                                                  round(float(np.mean(got[4:])), 3)]}
        for style in styles:
            ph = []
            for k in range(per_film):
                s = render(r["boneage"], r["male"], seed=50_000 + k, size_scale=0.6, bits=8, style=style)
                g = box_rows(s.image.astype(np.float64) / 255.0, s.hand_box)
                ph.append([np.mean(g[:4]), np.mean(g[4:])])
            row[style] = np.round(np.median(ph, axis=0), 3).tolist()
        halves.append(row)
    out["box_halves"] = {"films": halves, **{f"median_{who}": np.round(np.median([h[who] for h in halves], axis=0), 3)
                                              .tolist() for who in ("real", *styles)}}
    return out


def soft_bone_contrast(pixels: np.ndarray, p0, p1, bone, rows: int = 6) -> dict:
    """How far bone stands above soft tissue, against how far soft tissue stands above
    the film's background: along the palm line from ``p0`` to ``p1`` (its two edges,
    pixels) through the point ``bone`` (metacarpal 3 at mid-shaft), a profile averaged
    over 2 ``rows`` + 1 parallel lines and smoothed over 5 pixels, reaching 20 % of the
    line's length beyond each edge, on the film scaled to [0, 1]. ``background``: the
    median of each side's 6-18 % beyond the edges, averaged; ``soft``: the 10th
    percentile inside the middle 80 % of the line (the soft tissue between the
    metacarpals); ``bone``: the profile's peak within 8 % of the line's length of the
    bone's point. Returns those and ``contrast`` = (bone - soft) / (soft - background)."""
    a = _unit_film(pixels)
    p0, p1, bone = (np.asarray(v, np.float64) for v in (p0, p1, bone))
    w = float(np.hypot(*(p1 - p0)))
    n = (p1 - p0) / w
    u = np.array([n[1], -n[0]])
    q = np.arange(-0.2 * w, 1.2 * w)
    prof = _band_profile(a, p0, n, u, q, rows, 5)
    f = q / w  # 0 at p0, 1 at p1
    bg = 0.5 * (np.median(prof[(f > -0.18) & (f < -0.06)]) + np.median(prof[(f > 1.06) & (f < 1.18)]))
    soft = float(np.percentile(prof[(f > 0.1) & (f < 0.9)], 10))
    at = float(np.dot(bone - p0, n)) / w
    peak = float(prof[np.abs(f - at) < 0.08].max())
    return {"background": round(float(bg), 4), "soft": round(soft, 4), "bone": round(peak, 4),
            "contrast": round(float((peak - soft) / max(soft - bg, 1e-3)), 3)}


def phantom_soft_bone(sample) -> dict:
    """:func:`soft_bone_contrast` on a phantom, along the line through metacarpal 3's
    mid-point perpendicular to it, between the silhouette's edges."""
    m, n, length = _metacarpal3_line(sample)
    lo, hi = silhouette_span(_unit_film(sample.image), m, n, int(4 * length))
    return soft_bone_contrast(sample.image, m + lo * n, m + hi * n, m)


def _annotated_films(name: str):
    """The films named in scripts/data/``name`` with their points: (the film's
    :func:`real_images` row, its "set/id", its other columns as floats, NaN where blank),
    in file order."""
    films = {(r["set"], r["id"]): r for r in real_images()}
    with open(os.path.join(HERE, "data", name)) as f:
        for r in csv.DictReader(f):
            yield films[(r["set"], r["id"])], f"{r['set']}/{r['id']}", {k: float(r[k]) if r[k] != "" else np.nan
                                                                         for k in r if k not in ("set", "id")}


def _young_forearm_films():
    """The films of scripts/data/real_young_forearm.csv as :func:`_annotated_films` gives
    them, each with its metacarpal 3 length in pixels (base to top, from
    real_young_palm.csv)."""
    palm_points = {name: v for _, name, v in _annotated_films("real_young_palm.csv")}
    for film, name, v in _annotated_films("real_young_forearm.csv"):
        p = palm_points[name]
        yield film, name, v, _mc3_length(p)


def _with_medians(rows: list[dict], keys) -> dict:
    """``{"films": rows}`` and, per key, the median over the films that have it (None if
    none do)."""
    out: dict = {"films": rows}
    for key in keys:
        vals = [r[key] for r in rows if r.get(key) is not None]
        out[f"median_{key}"] = round(float(np.median(vals)), 3) if vals else None
    return out


def softbone(styles: list[str], per_film: int = 6) -> dict:
    """Bone against soft tissue on the unprocessed films: :func:`soft_bone_contrast`
    across the palm at metacarpal 3's mid-shaft on the raw films of
    scripts/data/real_raw_palm_line.csv (rsna_raw7, 10-60 months; the line's edges and
    the bone's point read by eye), and per style on ``per_film`` phantoms of each film's
    age and sex drawn with the unprocessed look (the style's ``_raw`` look, which the
    renderer picks for a share of films) and as many drawn with the processed look (the
    real processed films have their background removed, so they give no reference)."""
    from boneage_fast.data.phantom import render
    from boneage_fast.io import read_image

    rows = []
    for film, name, v in _annotated_films("real_raw_palm_line.csv"):
        got = soft_bone_contrast(read_image(film["path"]).pixels, (v["x0"], v["y0"]), (v["x1"], v["y1"]),
                                 (v["bone_x"], v["bone_y"]))
        row = {"film": name, "months": film["boneage"], "real": got["contrast"],
               "real_levels": [got["background"], got["soft"], got["bone"]]}
        for style in styles:
            kept: dict[bool, list[float]] = {True: [], False: []}
            seed = 0
            while min(len(kept[True]), len(kept[False])) < per_film and seed < 60 * per_film:
                s = render(film["boneage"], film["male"], seed=30_000 + seed, size=(1280, 1024), style=style)
                seed += 1
                raw = bool(s.extra.get("unprocessed"))
                if len(kept[raw]) < per_film:
                    kept[raw].append(phantom_soft_bone(s)["contrast"])
            row[f"{style}_raw"] = round(float(np.median(kept[True])), 3) if kept[True] else None
            row[f"{style}_processed"] = round(float(np.median(kept[False])), 3) if kept[False] else None
        rows.append(row)
    return _with_medians(rows, ["real", *(f"{s}_{k}" for s in styles for k in ("raw", "processed"))])


def palm(styles: list[str], seeds: int = 4) -> dict:
    """Young hands' fullness: the palm's width across metacarpal 3's mid-point over
    metacarpal 3's length, on the 6 young real films of scripts/data/real_young_palm.csv
    (10-82 months; the bone's ends and the palm's edges read by eye off 25-pixel grids)
    and per style on ``seeds`` clean phantoms of each film's age and sex
    (:func:`palm_over_metacarpal`)."""
    from boneage_fast.data.phantom import render
    from boneage_fast.io import read_image

    rows = []
    for film, name, v in _annotated_films("real_young_palm.csv"):
        length = np.hypot(v["mc3_top_x"] - v["mc3_base_x"], v["mc3_top_y"] - v["mc3_base_y"])
        width = np.hypot(v["palm_right_x"] - v["palm_left_x"], v["palm_right_y"] - v["palm_left_y"])
        age, male = film["boneage"], film["male"]
        row = {"film": name, "months": age, "male": male, "real": round(float(width / length), 3),
               "real_silhouette": round(silhouette_width(read_image(film["path"]).pixels, v), 3)}
        for style in styles:
            got = [palm_over_metacarpal(render(age, male, seed=s, size=(1280, 1024), style=style, nuisance=False))
                   for s in range(seeds)]
            row[style] = round(float(np.median(got)), 3)
        rows.append(row)
    return _with_medians(rows, ["real", "real_silhouette", *styles])


def silhouette_width(pixels: np.ndarray, points: dict) -> float:
    """A film's silhouette run (:func:`silhouette_span`) across metacarpal 3's mid-point,
    perpendicular to it, over its length; metacarpal 3's base and top as
    real_young_palm.csv gives them (``points``: ``mc3_base_x`` ... ``mc3_top_y``)."""
    base = np.array([points["mc3_base_x"], points["mc3_base_y"]], np.float64)
    top = np.array([points["mc3_top_x"], points["mc3_top_y"]], np.float64)
    length = _mc3_length(points)
    if not length > 0:
        raise ValueError("metacarpal 3's base and top must differ")
    d = (top - base) / length
    return _run_over_length(_unit_film(pixels), (base + top) / 2, np.array([-d[1], d[0]]), length)


def metacarpal_slenderness(pixels: np.ndarray, base, top) -> float:
    """Metacarpal 3's shaft width at its mid-point (``shaft_contrast``'s width, across
    the axis from ``base`` to ``top``) over its length from base to ``top`` (pixels)."""
    base, top = np.asarray(base, np.float64), np.asarray(top, np.float64)
    length = float(np.hypot(*(top - base)))
    m, u = (base + top) / 2, (top - base) / length
    return shaft_contrast(pixels, m[0], m[1], u[0], u[1], half=int(0.5 * length))[1] / length


def phantom_metacarpal_slenderness(sample) -> float:
    """:func:`metacarpal_slenderness` on a phantom, from metacarpal 3's base to the top
    of its head's epiphysis (the shaft's end without one)."""
    m, n, length = _metacarpal3_line(sample)
    u = np.array([n[1], -n[0]])
    return metacarpal_slenderness(sample.image, m - u * length / 2, m + u * length / 2)


def slender(styles: list[str], seeds: int = 4) -> dict:
    """Young metacarpals' build: metacarpal 3's width at mid-shaft over its length on the
    6 young real films of scripts/data/real_young_palm.csv (its ends read by eye) and per
    style on ``seeds`` clean phantoms of each film's age and sex
    (:func:`metacarpal_slenderness`)."""
    from boneage_fast.data.phantom import render
    from boneage_fast.io import read_image

    rows = []
    for film, name, v in _annotated_films("real_young_palm.csv"):
        got = metacarpal_slenderness(read_image(film["path"]).pixels, (v["mc3_base_x"], v["mc3_base_y"]),
                                     (v["mc3_top_x"], v["mc3_top_y"]))
        row = {"film": name, "months": film["boneage"], "real": round(float(got), 3)}
        for style in styles:
            row[style] = round(float(np.median([
                phantom_metacarpal_slenderness(render(film["boneage"], film["male"], seed=s, size=(1280, 1024),
                                                      style=style, nuisance=False))
                for s in range(seeds)])), 3)
        rows.append(row)
    return _with_medians(rows, ["real", *styles])


def phantom_forearm(sample) -> dict:
    """A phantom's distal forearm from its drawn outlines: the radius' and the ulna's
    widths at their distal ends (2 half-width (1 + flare)) and the gap between those
    ends across the forearm, each over metacarpal 3's length (:func:`_metacarpal3_line`)."""
    bones = {b.name: b for b in sample.hand.bones}
    length = _metacarpal3_line(sample)[2] / sample.frame.scale
    ends = {n: 2.0 * bones[n].half_width * (1.0 + bones[n].flare1) for n in ("radius", "ulna")}
    apart = abs(bones["radius"].p1[0] - bones["ulna"].p1[0]) - (ends["radius"] + ends["ulna"]) / 2
    return {"radius": ends["radius"] / length, "ulna": ends["ulna"] / length, "gap": apart / length}


def forearm(styles: list[str], seeds: int = 4) -> dict:
    """Young forearms' build: per film of scripts/data/real_young_forearm.csv the distal
    radial and ulnar metaphyses' widths at their ends (edges read by eye on a row across
    each; the films stand upright) and the gap between them, over metacarpal 3's length
    (real_young_palm.csv), and per style the median of :func:`phantom_forearm` over
    ``seeds`` clean phantoms of the film's age and sex."""
    from boneage_fast.data.phantom import render

    rows = []
    for film, name, v, length in _young_forearm_films():
        radius, ulna = (v["radius_x0"], v["radius_x1"]), (v["ulna_x0"], v["ulna_x1"])
        apart = max(radius[0], ulna[0]) - min(radius[1], ulna[1])
        row = {"film": name, "months": film["boneage"], "real_radius": round((radius[1] - radius[0]) / length, 3),
               "real_ulna": round((ulna[1] - ulna[0]) / length, 3), "real_gap": round(apart / length, 3)}
        for style in styles:
            got = [phantom_forearm(render(film["boneage"], film["male"], seed=s, size=(1280, 1024), style=style,
                                          nuisance=False)) for s in range(seeds)]
            for k in ("radius", "ulna", "gap"):
                row[f"{style}_{k}"] = round(float(np.median([g[k] for g in got])), 3)
        rows.append(row)
    return _with_medians(rows, [f"{who}_{k}" for who in ("real", *styles) for k in ("radius", "ulna", "gap")])


INTEROSSEOUS_LEVELS = (0.05, 0.15, 0.3, 0.5)


def long_bone_width(bone, below: float) -> float:
    """A drawn long bone's width (mm) ``below`` mm proximal to its distal end
    (:func:`outline_half_width`, the ends' rounding left out); 0 past either end."""
    length = float(np.hypot(*(np.asarray(bone.p1) - np.asarray(bone.p0))))
    if below < 0.0 or below > length:
        return 0.0
    return 2.0 * outline_half_width(bone, 1.0 - below / length)


def phantom_interosseous(sample, levels=INTEROSSEOUS_LEVELS) -> dict:
    """A phantom's distal forearm from its drawn outlines at ``levels`` (metacarpal 3
    lengths proximal to the radius' distal end, across the forearm): the radius' and the
    ulna's widths (:func:`long_bone_width`; the ulna, whose end lies lower, at its end
    where a level lies above it) and the gap between them, each over metacarpal 3's
    length, as ``{level: {"radius", "ulna", "gap"}}``."""
    bones = {b.name: b for b in sample.hand.bones}
    r, u = bones["radius"], bones["ulna"]
    length = _metacarpal3_line(sample)[2] / sample.frame.scale
    drop = r.p1[1] - u.p1[1]  # how much lower the ulna's end lies (mm; the forearm runs along -y)

    def axis_x(b, below):  # the bone's axis across the forearm, ``below`` mm from its end
        d = np.asarray(b.p0, np.float64) - np.asarray(b.p1, np.float64)
        return float(b.p1[0] + d[0] * below / np.hypot(*d))

    out = {}
    for level in levels:
        below = level * length
        below_u = max(below - drop, 0.0)
        wr, wu = long_bone_width(r, below), long_bone_width(u, below_u)
        gap = abs(axis_x(r, below) - axis_x(u, below_u)) - (wr + wu) / 2
        out[level] = {"radius": wr / length, "ulna": wu / length, "gap": gap / length}
    return out


def interosseous(styles: list[str], seeds: int = 4) -> dict:
    """The young forearm's bones below their ends: per film of
    scripts/data/real_young_interosseous.csv (upright; at 0.05, 0.15, 0.3 and 0.5 of
    metacarpal 3's length below the radius' distal end, the bones' edges read by eye and
    put on the steepest grey-level edge within 4 % of that length) the radius' and the
    ulna's widths and the gap between them, over metacarpal 3's length; per style the
    median of :func:`phantom_interosseous` over ``seeds`` clean phantoms of the film's age
    and sex; medians over the films per level."""
    from boneage_fast.data.phantom import render

    palm_points = {name: v for _, name, v in _annotated_films("real_young_palm.csv")}
    by_film: dict = {}
    for film, name, v in _annotated_films("real_young_interosseous.csv"):
        by_film.setdefault(name, (film, []))[1].append(v)
    rows = []
    for name, (film, reads) in by_film.items():
        length = _mc3_length(palm_points[name])
        got = [phantom_interosseous(render(film["boneage"], film["male"], seed=s, size=(1280, 1024), style=style,
                                           nuisance=False), [v["level"] for v in reads])
               for style in styles for s in range(seeds)]
        for v in reads:
            row = {"film": name, "months": film["boneage"], "level": v["level"],
                   "real_radius": _r3((v["radius_x1"] - v["radius_x0"]) / length)}
            if not np.isnan(v["ulna_x0"]):
                row["real_ulna"] = _r3((v["ulna_x1"] - v["ulna_x0"]) / length)
                row["real_gap"] = _r3((v["radius_x0"] - v["ulna_x1"]) / length)
            for j, style in enumerate(styles):
                mine = got[j * seeds:(j + 1) * seeds]
                for k in ("radius", "ulna", "gap"):
                    row[f"{style}_{k}"] = _r3(np.median([g[v["level"]][k] for g in mine]))
            rows.append(row)
    out: dict = {"films": rows}
    for level in sorted({r["level"] for r in rows}):
        at = _with_medians([r for r in rows if r["level"] == level],
                           [f"{who}_{k}" for who in ("real", *styles) for k in ("radius", "ulna", "gap")])
        out[f"level_{level}"] = {k: val for k, val in at.items() if k != "films"}
    return out


def arm_section(img: np.ndarray, origin, n, length: float, edges: tuple[float, float] | None = None) -> dict:
    """The forearm's soft tissue across the line ``origin + q n`` (pixels; ``n`` a unit
    vector, ``img`` a [0, 1] film, ``length`` metacarpal 3's in pixels, q = 0 inside the
    forearm): the silhouette's span (:func:`silhouette_span`) over ``length`` as
    ``width``; with ``edges`` (the q of the bones' outer edges, low side first), per side
    how full the soft tissue's section is between the skin and the bone: the profile
    (averaged over 2 % of ``length`` along the arm) less the background just outside
    the skin (1-5 % of ``length`` beyond it), over its mean 75-90 % of the way from the
    skin to the bone, averaged over 5-90 % of the way (``fill``; a flat slab of soft
    tissue gives 1, a round section less, a straight ramp from the skin 0.58), the median
    of the two sides, and the soft tissue's extent from the skin to each bone edge over
    ``length`` (``low_side``, ``high_side``; negative where the bone reaches past the
    skin)."""
    reach = int(2 * length)
    lo, hi = silhouette_span(img, origin, n, reach)
    out = {"width": (hi - lo) / length}
    if edges is None:
        return out
    out["low_side"], out["high_side"] = (edges[0] - lo) / length, (hi - edges[1]) / length
    along = np.array([-n[1], n[0]])
    q = np.arange(-reach, reach + 1, dtype=np.float64)
    prof = _band_profile(img, origin, n, along, q, max(int(0.01 * length), 1), 3)

    def at(v):
        return float(np.interp(v, q, prof))

    fills = []
    for skin, bone in ((lo, edges[0]), (hi, edges[1])):
        span = bone - skin
        if abs(span) < 8 or np.sign(span) != (1 if skin == lo else -1):
            continue
        out_side = -np.sign(span)
        bg = np.mean([at(skin + out_side * f * length) for f in np.linspace(0.01, 0.05, 9)])
        inner = np.mean([at(skin + f * span) for f in np.linspace(0.75, 0.9, 7)])
        if inner - bg < 0.02:
            continue
        fills.append(np.mean([(at(skin + f * span) - bg) / (inner - bg) for f in np.linspace(0.05, 0.9, 35)]))
    out["fill"] = float(np.median(fills)) if fills else None
    return out


def phantom_arm_section(sample, below: float = 0.0) -> dict:
    """:func:`arm_section` on a clean phantom, across the forearm ``below`` metacarpal 3's
    length proximal to the distal end of the radius (the lower of the radius' and the
    ulna's ends, less 3 %, with ``below`` 0, where the bones' outer edges are taken from
    their drawn outlines: each end's axis +- half-width (1 + flare))."""
    T = sample.frame
    bones = {b.name: b for b in sample.hand.bones}
    r, u = bones["radius"], bones["ulna"]
    length = _metacarpal3_line(sample)[2]
    mm = length / T.scale
    y = (r.p1[1] - below * mm) if below > 0 else min(r.p1[1], u.p1[1]) - 0.03 * mm
    mid = np.array([(r.p1[0] + u.p1[0]) / 2, y])
    origin = T(mid)
    d = T(mid + np.array([1.0, 0.0])) - origin
    n = d / np.hypot(*d)
    edges = None
    if below == 0:
        half = {k: b.half_width * (1.0 + b.flare1) for k, b in (("r", r), ("u", u))}
        q = sorted([(r.p1[0] + half["r"] - mid[0]) * T.scale, (u.p1[0] - half["u"] - mid[0]) * T.scale])
        edges = (q[0], q[1])
    return arm_section(_unit_film(sample.image), origin, n, length, edges)


def armtissue(styles: list[str], seeds: int = 4) -> dict:
    """The young forearm's soft tissue (:func:`arm_section`): on the 5 films of
    scripts/data/real_young_forearm.csv (upright), across the row of the radius' distal
    end (the bones' outer edges as read there) its ``fill``, and the forearm's width
    there and 0.3 of metacarpal 3's length lower; per style the median over ``seeds``
    clean phantoms of the film's age and sex (:func:`phantom_arm_section`); and
    (``older``) the width across the radius' physis on 6 films of 10-15 years."""
    from boneage_fast.data.phantom import render
    from boneage_fast.io import read_image

    rows = []
    for film, name, v, length in _young_forearm_films():
        img = _unit_film(read_image(film["path"]).pixels)
        mid = (v["radius_x1"] + v["ulna_x0"]) / 2
        end = arm_section(img, (mid, v["radius_y"]), (1.0, 0.0), length,
                          (v["ulna_x0"] - mid, v["radius_x1"] - mid))
        lower = arm_section(img, (mid, v["radius_y"] + 0.3 * length), (1.0, 0.0), length)
        row = {"film": name, "months": film["boneage"], "real_fill": _r3(end["fill"]),
               "real_width": _r3(end["width"]), "real_width_lower": _r3(lower["width"]),
               "real_ulnar": _r3(end["low_side"]), "real_radial": _r3(end["high_side"])}
        for style in styles:
            got = [render(film["boneage"], film["male"], seed=s, size=(1280, 1024), style=style, nuisance=False)
                   for s in range(seeds)]
            ends = [phantom_arm_section(g) for g in got]
            lows = [phantom_arm_section(g, 0.3) for g in got]
            fills = [e["fill"] for e in ends if e["fill"] is not None]
            row[f"{style}_fill"] = _r3(float(np.median(fills)) if fills else None)
            row[f"{style}_width"] = _r3(float(np.median([e["width"] for e in ends])))
            row[f"{style}_width_lower"] = _r3(float(np.median([e["width"] for e in lows])))
            row[f"{style}_ulnar"] = _r3(float(np.median([e["low_side"] for e in ends])))
            row[f"{style}_radial"] = _r3(float(np.median([e["high_side"] for e in ends])))
        rows.append(row)
    out = _with_medians(rows, [f"{who}_{k}" for who in ("real", *styles)
                               for k in ("fill", "width", "width_lower", "ulnar", "radial")])
    # older films: the width across the radius' physis (its row read by eye off 20-pixel
    # ticks, scripts/data/real_older_forearm.csv; the forearm's middle at the capitate's
    # x and metacarpal 3's length from real_capitate_texture.csv)
    capitate = {name: v for _, name, v in _annotated_films("real_capitate_texture.csv")}
    older = []
    for film, name, v in _annotated_films("real_older_forearm.csv"):
        c = capitate[name]
        img = _unit_film(read_image(film["path"]).pixels)
        row = {"film": name, "months": film["boneage"],
               "real_width": _r3(arm_section(img, (c["capitate_x"], v["radius_y"]), (1.0, 0.0),
                                             c["mc3_length"])["width"])}
        for style in styles:
            got = [render(film["boneage"], film["male"], seed=s, size=(1280, 1024), style=style, nuisance=False)
                   for s in range(seeds)]
            row[f"{style}_width"] = _r3(float(np.median([phantom_arm_section(g)["width"] for g in got])))
        older.append(row)
    old = _with_medians(older, [f"{who}_width" for who in ("real", *styles)])
    out["older"] = old
    return out


def fine_grain(img: np.ndarray, cx: float, cy: float, half: int) -> float:
    """The standard deviation of the finest band (the film less a Gaussian of one pixel)
    over the square of half-side ``half`` about (``cx``, ``cy``) on a [0, 1] film: the
    quantum noise, and in bone the finest trabeculae."""
    from scipy import ndimage

    win = _square_with_margin(img, cx, cy, half, 2 * half, 4)
    return float((win - ndimage.gaussian_filter(win, 1.0))[4:-4, 4:-4].std())


def _square_with_margin(img: np.ndarray, cx: float, cy: float, half: int, side: int, margin: int) -> np.ndarray:
    """The square of ``side`` pixels from ``half`` before (``cx``, ``cy``) (rounded) with
    ``margin`` pixels round it, cut from ``img``.

    Raises:
        ValueError: the square with its margin leaves the film.
    """
    y0, x0 = int(round(cy)) - half - margin, int(round(cx)) - half - margin
    size = side + 2 * margin
    if y0 < 0 or x0 < 0 or y0 + size > img.shape[0] or x0 + size > img.shape[1]:
        raise ValueError(f"the grain square at ({cx:g}, {cy:g}) with its margin leaves the film")
    return img[y0:y0 + size, x0:x0 + size]


def _percentile_film(pixels: np.ndarray) -> np.ndarray:
    """The film scaled to [0, 1] between its 1st and 99.5th percentiles (as
    :func:`capitate_texture` scales it)."""
    img = pixels.astype(np.float64)
    lo, hi = np.percentile(img, [1.0, 99.5])
    return (img - lo) / max(hi - lo, 1e-9)


def phantom_grain(age: float, male: bool, seed: int, length: float, style: str) -> dict:
    """:func:`fine_grain` on a phantom drawn at this metacarpal 3 length
    (:func:`_drawn_at_length`, with its film's nuisance): in the forearm's soft tissue,
    midway between the radius' outer edge and the skin on a row 0.1 of ``length`` below
    the radius' end, and in the radial metaphysis on its axis 0.15 of ``length`` below
    its end; squares of half-side 4 % of ``length``."""
    s, got = _drawn_at_length(age, male, seed, length, style)
    img = _percentile_film(s.image)
    soft = forearm_soft_point(s, img, got)
    r = next(b for b in s.hand.bones if b.name == "radius")
    bone = s.frame(np.array([r.p1[0], r.p1[1] - 0.15 * got / s.frame.scale]))
    half = max(int(0.04 * got), 5)
    return {"soft": fine_grain(img, soft[0], soft[1], half), "bone": fine_grain(img, bone[0], bone[1], half)}


def forearm_soft_point(sample, img: np.ndarray, length: float) -> np.ndarray:
    """A phantom's point in the distal forearm's soft tissue (pixels): midway between
    the radius' outer edge and the skin (the silhouette's end on ``img``, the film on
    [0, 1]) on the row ``length`` / 10 (metacarpal 3's length in pixels) below the
    radius' end."""
    T = sample.frame
    bones = {b.name: b for b in sample.hand.bones}
    r, u = bones["radius"], bones["ulna"]
    mid = np.array([(r.p1[0] + u.p1[0]) / 2, r.p1[1] - 0.1 * length / T.scale])
    origin = T(mid)
    d = T(mid + np.array([1.0, 0.0])) - origin
    n = d / np.hypot(*d)
    _, hi = silhouette_span(img, origin, n, int(2 * length))
    edge = (r.p1[0] + r.half_width * (1.0 + r.flare1) - mid[0]) * T.scale
    return origin + n * (edge + hi) / 2


GRAIN_SCALES = (0.5, 1.0, 2.0)


def grain_bands(img: np.ndarray, cx: float, cy: float, half: int = 12, scales=GRAIN_SCALES) -> list[float]:
    """The grain of a square of side 2 ``half`` + 1 about (``cx``, ``cy``) (pixels) on a
    film on [0, 1]: per s of ``scales`` (pixels) the standard deviation over the square
    of the band G(s) - G(2 s) (Gaussian blurs, truncated at 4 sigma, of the square with
    a margin round it as wide as the widest blur reaches, 8 times the largest scale, so
    that the window's edge does not enter).

    Raises:
        ValueError: the square with its margin leaves the film.
    """
    from scipy import ndimage

    m = int(np.ceil(8 * max(scales)))
    win = np.asarray(_square_with_margin(img, cx, cy, half, 2 * half + 1, m), np.float64)
    return [float((ndimage.gaussian_filter(win, s) - ndimage.gaussian_filter(win, 2 * s))[m:-m, m:-m].std())
            for s in scales]


def phantom_soft_grain(age: float, male: bool, seed: int, shape, style: str) -> list[float]:
    """:func:`grain_bands` of a phantom of this age, sex and seed drawn at ``shape``
    (height, width) with its nuisance, about :func:`forearm_soft_point`."""
    from boneage_fast.data.phantom import render

    s = render(age, male, seed=seed, size=tuple(shape), style=style)
    img = _percentile_film(s.image)
    p = forearm_soft_point(s, img, _metacarpal3_line(s)[2])
    return grain_bands(img, p[0], p[1])


def soft_grain(styles: list[str], seeds: int = 12) -> dict:
    """The grain of plain soft tissue (module docstring, ``softgrain``): per film of
    scripts/data/real_soft_tissue.csv the real :func:`grain_bands` and per style the
    median of :func:`phantom_soft_grain` over ``seeds`` phantoms of its age and sex
    drawn at its size with its look (:func:`phantom_seeds`; a style with one look draws
    ``seeds`` consecutive seeds); medians per look (``raw``, ``processed``)."""
    from boneage_fast.data.film import LOOKS
    from boneage_fast.io import read_image

    keys = [f"s{s:g}" for s in GRAIN_SCALES]
    rows = []
    for film, name, v in _annotated_films("real_soft_tissue.csv"):
        pixels = read_image(film["path"]).pixels
        raw = film["set"] == "rsna_raw7"
        row = {"film": name, "months": film["boneage"], "look": "raw" if raw else "processed",
               **{f"real_{k}": _r4(x) for k, x in zip(keys, grain_bands(_percentile_film(pixels), v["x"], v["y"]))}}
        for style in styles:
            one_look = f"{style}_raw" not in LOOKS
            got = [phantom_soft_grain(film["boneage"], film["male"], seed, pixels.shape, style)
                   for seed in phantom_seeds(film["boneage"], film["male"], style, 52_000, seeds, any_look=one_look,
                                             raw=raw and not one_look)]
            row.update({f"{style}_{k}": _r4(x) for k, x in zip(keys, np.median(got, axis=0))})
        rows.append(row)
    cols = [f"{who}_{k}" for who in ("real", *styles) for k in keys]
    out: dict = {"films": rows}
    for look in ("raw", "processed"):
        sel = [r for r in rows if r["look"] == look]
        out[look] = {"films": len(sel), **{c: _r4(float(np.median([r[c] for r in sel]))) for c in cols}}
    return out


def _r4(x):
    return round(float(x), 4)


def grain(styles: list[str], seeds: int = 12) -> dict:
    """The films' finest grain (:func:`fine_grain`) on the 5 young films of
    scripts/data/real_young_forearm.csv (upright; the radius' end row and edges read by
    eye, metacarpal 3's length from real_young_palm.csv): in the soft tissue midway
    between the radius' outer edge and the skin 0.1 of that length below the end row,
    and in the metaphysis between the radius' edges 0.15 below it; per style the median
    over ``seeds`` phantoms of the film's age and sex (:func:`phantom_grain`)."""
    from boneage_fast.io import read_image

    rows = []
    for film, name, v, length in _young_forearm_films():
        img = _percentile_film(read_image(film["path"]).pixels)
        y = v["radius_y"] + 0.1 * length
        mid = (v["radius_x1"] + v["ulna_x0"]) / 2
        _, hi = silhouette_span(img, (mid, y), (1.0, 0.0), int(2 * length))
        half = max(int(0.04 * length), 5)
        row = {"film": name, "months": film["boneage"],
               "real_soft": _r3(fine_grain(img, (v["radius_x1"] + mid + hi) / 2, y, half)),
               "real_bone": _r3(fine_grain(img, (v["radius_x0"] + v["radius_x1"]) / 2, v["radius_y"] + 0.15 * length,
                                           half))}
        for style in styles:
            got = [phantom_grain(film["boneage"], film["male"], 42_000 + s, length, style) for s in range(seeds)]
            for k in ("soft", "bone"):
                row[f"{style}_{k}"] = _r3(float(np.median([g[k] for g in got])))
        rows.append(row)
    return _with_medians(rows, [f"{who}_{k}" for who in ("real", *styles) for k in ("soft", "bone")])


def _r3(x):
    return None if x is None else round(float(x), 3)


def capitate_texture(pixels: np.ndarray, cx: float, cy: float, length: float) -> dict:
    """The texture of a square of side ``length`` / 7 about (``cx``, ``cy``) (pixels),
    ``length`` metacarpal 3's: the film scaled to [0, 1] between its 1st and 99.5th
    percentiles; the band-pass ``G(length / 550) - G(length / 55)`` (Gaussian blurs)
    over the square: its skewness and its standard deviation over the square's mean
    grey; the square high-passed (less ``G(length / 25)``): the lag (hundredths of
    ``length``) where its radially averaged autocorrelation first falls under 0.5; the
    band-pass cut into four octaves, ``G(s_k) - G(2 s_k)`` for ``s_k = 2^k length / 550``
    (k = 0..3, finest first, ``oct0``..``oct3``), each one's standard deviation over the
    square's mean grey (how the grain's strength spreads over its scales); the
    band-pass's excess kurtosis (``kurtosis``: about 0 for a grain of many overlapping
    features, negative for a two-level image of pores and walls)."""
    from scipy import ndimage, stats

    img = _percentile_film(pixels)
    h = int(length / 14)
    pad = h + int(4 * length / 25) + 1
    y0, x0 = int(round(cy)) - pad, int(round(cx)) - pad
    if y0 < 0 or x0 < 0 or y0 + 2 * pad > img.shape[0] or x0 + 2 * pad > img.shape[1]:
        raise ValueError(f"the texture square at ({cx:g}, {cy:g}) with its margin leaves the film")
    win = img[y0:y0 + 2 * pad, x0:x0 + 2 * pad]
    sq = np.s_[pad - h:pad + h, pad - h:pad + h]
    # G(2^k length / 550), k = 0..4: the band-pass's fine end and the octaves' bounds
    blurred = [ndimage.gaussian_filter(win, 2 ** k * length / 550) for k in range(5)]
    band = (blurred[0] - ndimage.gaussian_filter(win, length / 55))[sq]
    high = (win - ndimage.gaussian_filter(win, length / 25))[sq]
    high = high - high.mean()
    acf = np.real(np.fft.ifft2(np.abs(np.fft.fft2(high)) ** 2))
    acf = np.fft.fftshift(acf / acf.flat[0])
    yy, xx = np.indices(acf.shape)
    r = np.rint(np.hypot(yy - h, xx - h)).astype(int).ravel()
    profile = np.bincount(r, acf.ravel()) / np.maximum(np.bincount(r), 1)
    half = int(np.argmax(profile < 0.5))
    mean = win[sq].mean()
    octaves = {f"oct{k}": float((blurred[k] - blurred[k + 1])[sq].std() / mean) for k in range(4)}
    return {"skew": float(stats.skew(band.ravel())), "amplitude": float(band.std() / mean),
            "acf_half": 100.0 * half / length, "kurtosis": float(stats.kurtosis(band.ravel())), **octaves}


def ossicle_middle(e) -> np.ndarray:
    """The middle of an ossicle's drawn outline (mm, the hand's frame): the centroid of
    the area :func:`boneage_fast.data.anatomy.ossicle_outline` encloses (facets not
    applied), where the films' centres were read by eye; with a taper, and more with a
    taper taken from one side, it lies off ``e.centre``."""
    from boneage_fast.data.anatomy import ossicle_outline

    return polygon_centroid(ossicle_outline(e, 400))[0]


def polygon_centroid(points: np.ndarray) -> tuple[np.ndarray, float]:
    """A closed polygon's centroid (the middle of the area it encloses) and its signed
    area (positive counter-clockwise in x right, y up), ``points`` n x 2 in order."""
    x, y = points[:, 0], points[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    area = cross.sum() / 2.0
    return np.array([((x + xn) * cross).sum(), ((y + yn) * cross).sum()]) / (6.0 * area), float(area)


def _capitate_middle_px(sample) -> np.ndarray:
    """:func:`ossicle_middle` of a phantom's capitate, in its film's pixels."""
    return sample.to_pixels(ossicle_middle(next(e for e in sample.hand.ossicles if e.name == "capitate"))[None])[0]


def _drawn_at_length(age: float, male: bool, seed: int, length: float, style: str):
    """A phantom of this age, sex and seed drawn so that its metacarpal 3 (base to the
    top of its head, as :func:`_metacarpal3_line` and the films' lengths measure it) is
    about ``length`` pixels long (a first drawing at 1600 x 1250 gives the scale; the
    hand's framing follows the film's size): (sample, its metacarpal 3 length)."""
    from boneage_fast.data.phantom import render

    def draw(size):
        s = render(age, male, seed=seed, size=size, style=style)
        return s, _metacarpal3_line(s)[2]

    _, small = draw((1600, 1250))
    k = length / small
    return draw((min(int(1600 * k), 4096), min(int(1250 * k), 4096)))


def phantom_seeds(age: float, male: bool, style: str, first: int, n: int, any_look: bool = False,
                  raw: bool = False) -> list[int]:
    """The first ``n`` seeds from ``first`` whose phantom of this age, sex and style is
    drawn with the processed look (the registered films of rsna_preprocessed_train40 are
    processed films; a fifth of v3's and v4's films are drawn unprocessed, about a third
    as contrasty: a median over both looks reads neither, docs/phantom.md section 7.13),
    with ``raw`` the unprocessed look instead (rsna_raw7's films); with ``any_look``
    simply ``first`` .. ``first + n - 1`` (sections 7.10-7.12's draws). The look is read
    off a 256 x 256 drawing of the same seed (it depends on the seed alone).

    Raises:
        ValueError: ``raw`` for a style that draws no unprocessed films (v1, v2).
    """
    from boneage_fast.data.film import LOOKS
    from boneage_fast.data.phantom import render

    if any_look:
        return list(range(first, first + n))
    if raw and f"{style}_raw" not in LOOKS:
        raise ValueError(f"style {style!r} draws no unprocessed films: no seeds with raw=True")
    out, seed = [], first
    while len(out) < n:
        if render(age, male, seed=seed, size=(256, 256), style=style).extra["unprocessed"] == raw:
            out.append(seed)
        seed += 1
    return out


def _phantom_medians(measure, film: dict, length: float, styles: list[str], keys, first: int, seeds: int,
                     any_look: bool) -> dict:
    """Per style, the median over ``seeds`` phantoms of ``film``'s age and sex
    (:func:`phantom_seeds` from ``first``; processed ones unless ``any_look``) of each
    of ``keys`` of ``measure(age, male, seed, length, style)`` (a dict), as
    ``{"<style>_<key>": value}`` rounded to 3 places."""
    out = {}
    for style in styles:
        got = [measure(film["boneage"], film["male"], s, length, style)
               for s in phantom_seeds(film["boneage"], film["male"], style, first, seeds, any_look)]
        out.update({f"{style}_{k}": _r3(np.median([g[k] for g in got])) for k in keys})
    return out


def phantom_capitate_texture(age: float, male: bool, seed: int, length: float, style: str) -> dict:
    """:func:`capitate_texture` about the middle of the capitate's drawn outline
    (:func:`ossicle_middle`) on a phantom drawn at this metacarpal 3 length
    (:func:`_drawn_at_length`)."""
    s, got = _drawn_at_length(age, male, seed, length, style)
    c = _capitate_middle_px(s)
    return capitate_texture(s.image, c[0], c[1], got)


def _metaphysis_offset(length: float) -> float:
    """How far the square of :func:`capitate_texture` (side ``length`` / 7) is centred
    proximal to the radius' distal end: half its side and 2 % of ``length`` more, so
    that it lies inside the metaphysis below the physis."""
    return length / 14.0 + 0.02 * length


def phantom_metaphysis_texture(age: float, male: bool, seed: int, length: float, style: str) -> dict:
    """:func:`capitate_texture` in the distal radial metaphysis (on the radius' axis,
    :func:`_metaphysis_offset` proximal to its drawn distal end) on a phantom drawn at
    this metacarpal 3 length (:func:`_drawn_at_length`)."""
    s, got = _drawn_at_length(age, male, seed, length, style)
    c = metaphysis_centre(s, got)
    return capitate_texture(s.image, c[0], c[1], got)


def _radius_end(sample) -> tuple[np.ndarray, np.ndarray]:
    """A phantom's radius in its film's pixels: its drawn distal end and the unit vector
    along it from its proximal end towards that end."""
    radius = next(b for b in sample.hand.bones if b.name == "radius")
    p0, p1 = sample.to_pixels(np.stack([radius.p0, radius.p1]))
    return p1, (p1 - p0) / np.hypot(*(p1 - p0))


def metaphysis_centre(sample, length: float) -> np.ndarray:
    """The pixel (x, y) on a phantom's radius axis :func:`_metaphysis_offset` of
    ``length`` (metacarpal 3's, pixels) proximal to the radius' drawn distal end."""
    end, axis = _radius_end(sample)
    return end - axis * _metaphysis_offset(length)


def texture(styles: list[str], seeds: int = 12, any_look: bool = False) -> dict:
    """The capitate's trabecular texture (:func:`capitate_texture`) on the 7 real films
    of scripts/data/real_capitate_texture.csv (the capitate's centre and metacarpal 3's
    length read by eye) and per style the median over ``seeds`` processed phantoms
    (:func:`phantom_seeds`; with ``any_look`` either look) of each film's age and sex at
    its metacarpal 3 length (:func:`phantom_capitate_texture`)."""
    from boneage_fast.io import read_image

    keys = ("skew", "amplitude", "acf_half", "kurtosis", "oct0", "oct1", "oct2", "oct3")
    rows = []
    for film, name, v in _annotated_films("real_capitate_texture.csv"):
        got = capitate_texture(read_image(film["path"]).pixels, v["capitate_x"], v["capitate_y"], v["mc3_length"])
        row = {"film": name, "months": film["boneage"], **{f"real_{k}": round(got[k], 3) for k in keys}}
        row.update(_phantom_medians(phantom_capitate_texture, film, v["mc3_length"], styles, keys, 40_000, seeds,
                                    any_look))
        rows.append(row)
    return _with_medians(rows, [f"{who}_{k}" for who in ("real", *styles) for k in keys])


def metaphysis(styles: list[str], seeds: int = 12) -> dict:
    """The young distal radial metaphysis' trabecular texture (:func:`capitate_texture`'s
    measure) on the 5 young films of scripts/data/real_young_forearm.csv (the radius'
    distal end: its row and edges, read by eye; metacarpal 3's length from
    real_young_palm.csv; the films stand upright, the forearm below), the square centred
    between the radius' edges :func:`_metaphysis_offset` below its end, and per style the
    median over ``seeds`` phantoms of each film's age and sex at its metacarpal 3 length
    (:func:`phantom_metaphysis_texture`)."""
    from boneage_fast.io import read_image

    keys = ("skew", "amplitude", "acf_half")
    rows = []
    for film, name, v, length in _young_forearm_films():
        cx, cy = (v["radius_x0"] + v["radius_x1"]) / 2.0, v["radius_y"] + _metaphysis_offset(length)
        got = capitate_texture(read_image(film["path"]).pixels, cx, cy, length)
        row = {"film": name, "months": film["boneage"], **{f"real_{k}": round(got[k], 3) for k in keys}}
        for style in styles:
            ph = [phantom_metaphysis_texture(film["boneage"], film["male"], 41_000 + s, length, style)
                  for s in range(seeds)]
            for k in keys:
                row[f"{style}_{k}"] = round(float(np.median([q[k] for q in ph])), 3)
        rows.append(row)
    return _with_medians(rows, [f"{who}_{k}" for who in ("real", *styles) for k in keys])


# striation: the bands G(a length) - G(b length) (metacarpal 3's length; at the young films'
# scale, about 240 pixels, 0.4-4.4, 0.9-4.4 and 1.8-7 pixels) and how far proximal to the
# radius' distal end (a fraction of that length) the square is centred: below the physis'
# bright end, in the metaphysis' cancellous bone
STRIATION_BANDS = ((1 / 550, 1 / 55), (1 / 275, 1 / 55), (1 / 137, 1 / 34))
STRIATION_BELOW = 0.19


def striation_measure(pixels: np.ndarray, cx: float, cy: float, length: float, axis,
                      bands=STRIATION_BANDS) -> list[dict]:
    """How striated along ``axis`` (an (x, y) direction, normalised here) a square of side ``length`` / 7
    about (``cx``, ``cy``) (pixels) is, ``length`` metacarpal 3's: on the film scaled to
    [0, 1] between its 1st and 99.5th percentiles, per band ``G(a length) - G(b length)``
    of ``bands``, ``aniso``: the mean squared gradient across the axis over the mean
    squared gradient along it (central differences; 1 for an isotropic grain, more for
    lines along the axis, less for lines across it; inf with no gradient along it, NaN
    with none at all), and ``amp``: the band's standard deviation over the square's mean
    grey.

    Raises:
        ValueError: ``axis`` is not a direction (zero or not finite), or the square with
            its margin leaves the film.
    """
    from scipy import ndimage

    ux, uy = float(axis[0]), float(axis[1])
    norm = math.hypot(ux, uy)
    if not (math.isfinite(norm) and norm > 0.0):
        raise ValueError(f"axis {tuple(axis)} is not a direction")
    ux, uy = ux / norm, uy / norm
    img = _percentile_film(pixels)
    half = int(length / 14)
    margin = int(4 * max(b for _, b in bands) * length) + 2
    win = _square_with_margin(img, cx, cy, half, 2 * half, margin)
    sq = np.s_[margin:margin + 2 * half, margin:margin + 2 * half]
    mean = float(win[sq].mean())
    out = []
    for a, b in bands:
        band = ndimage.gaussian_filter(win, a * length) - ndimage.gaussian_filter(win, b * length)
        gy, gx = np.gradient(band)
        along = (gx * ux + gy * uy)[sq]
        across = (gy * ux - gx * uy)[sq]
        e_along, e_across = float(np.mean(along ** 2)), float(np.mean(across ** 2))
        aniso = e_across / e_along if e_along > 0.0 else (math.inf if e_across > 0.0 else math.nan)
        out.append({"aniso": aniso, "amp": float(band[sq].std() / mean)})
    return out


def _young_radius_axes() -> dict:
    """Per film of scripts/data/real_young_interosseous.csv (by name, as
    :func:`_annotated_films` gives it) the unit vector from the radius' middle 0.3 of
    metacarpal 3's length below its distal end to its middle at 0.05 (towards the hand)."""
    mids: dict = {}
    for _, name, v in _annotated_films("real_young_interosseous.csv"):
        mids.setdefault(name, {})[v["level"]] = np.array([(v["radius_x0"] + v["radius_x1"]) / 2.0, v["y"]])
    axes = {}
    for name, m in mids.items():
        d = m[0.05] - m[0.3]
        axes[name] = d / np.hypot(*d)
    return axes


def phantom_striation(age: float, male: bool, seed: int, length: float, style: str) -> list[dict]:
    """:func:`striation_measure` on a phantom drawn at this metacarpal 3 length
    (:func:`_drawn_at_length`), the square on its drawn radius' axis
    ``STRIATION_BELOW`` of that length proximal to the radius' distal end."""
    s, got = _drawn_at_length(age, male, seed, length, style)
    end, axis = _radius_end(s)
    c = end - axis * STRIATION_BELOW * got
    return striation_measure(s.image, c[0], c[1], got, axis)


def striation(styles: list[str], seeds: int = 8) -> dict:
    """The young distal radial metaphysis' striations (module docstring, ``striation``):
    per film of real_young_forearm.csv :func:`striation_measure` and per style the
    median over ``seeds`` phantoms of its age and sex drawn with its look
    (:func:`phantom_seeds`, from 43 000; a style with one look draws ``seeds``
    consecutive seeds) at its metacarpal 3 length
    (:func:`phantom_striation`); keys ``aniso<k>`` and ``amp<k>`` per band k of
    ``STRIATION_BANDS``, finest first."""
    from boneage_fast.data.film import LOOKS
    from boneage_fast.io import read_image

    axes = _young_radius_axes()
    keys = [f"{q}{k}" for k in range(len(STRIATION_BANDS)) for q in ("aniso", "amp")]

    def flat(got):
        return {f"{q}{k}": g[q] for k, g in enumerate(got) for q in ("aniso", "amp")}

    rows = []
    for film, name, v, length in _young_forearm_films():
        axis = axes[name]
        end = np.array([(v["radius_x0"] + v["radius_x1"]) / 2.0, v["radius_y"]])
        c = end - axis * STRIATION_BELOW * length
        got = flat(striation_measure(read_image(film["path"]).pixels, c[0], c[1], length, axis))
        row = {"film": name, "months": film["boneage"], **{f"real_{k}": _r3(got[k]) for k in keys}}
        raw = film["set"] == "rsna_raw7"
        for style in styles:
            one_look = f"{style}_raw" not in LOOKS  # v1, v2: every film drawn alike
            ph = [flat(phantom_striation(film["boneage"], film["male"], s, length, style))
                  for s in phantom_seeds(film["boneage"], film["male"], style, 43_000, seeds, any_look=one_look,
                                         raw=raw and not one_look)]
            row.update({f"{style}_{k}": _r3(np.median([q[k] for q in ph])) for k in keys})
        rows.append(row)
    return _with_medians(rows, [f"{who}_{k}" for who in ("real", *styles) for k in keys])


def edge_profile(pixels: np.ndarray, cx: float, cy: float, length: float, rays: int = 48):
    """The typical shape of a bone's edge seen from a point inside it (``cx``, ``cy``;
    pixels), ``length`` metacarpal 3's: on the film scaled as :func:`_percentile_film`
    scales it, along ``rays`` rays out to 0.18 ``length`` in steps of ``length`` / 1000,
    the edge is the steepest fall (on the ray smoothed by a Gaussian of ``length`` / 550)
    beyond 0.05 ``length``; each ray's profile from 0.04 ``length`` inside the edge to 0.03
    outside, as ``(p - outside) / (inside - outside)`` (inside: the median 0.04-0.08
    inside the edge, outside: 0.015-0.03 beyond it; rays with less than 0.05 between them
    are left out). Returns (the median profile over the rays, 70 samples, the edge at
    index 40, or None if no ray kept; the median inside - outside)."""
    from scipy import ndimage

    img = _percentile_film(pixels)
    step = length / 1000.0
    q = np.arange(0.0, 0.18 * length, step)
    kept, contrast = [], []
    for a in np.linspace(0.0, 2.0 * np.pi, rays, endpoint=False):
        ray = ndimage.map_coordinates(img, [cy + q * np.sin(a), cx + q * np.cos(a)], order=1, mode="nearest")
        slope = np.gradient(ndimage.gaussian_filter1d(ray, length / 550.0 / step))
        lo = int(0.05 * length / step)
        e = lo + int(np.argmin(slope[lo:len(ray) - 40]))
        inside, outside = np.median(ray[max(e - 80, 0):e - 40]), np.median(ray[e + 15:e + 30])
        if inside - outside < 0.05:
            continue
        kept.append((ray[e - 40:e + 30] - outside) / (inside - outside))
        contrast.append(inside - outside)
    if not kept:
        return None, None
    return np.median(kept, axis=0), float(np.median(contrast))


def rim_figures(profile: np.ndarray) -> dict:
    """An :func:`edge_profile`'s bright rim: its peak (the profile's highest value in the
    last 0.02 of metacarpal 3's length inside the edge; 1 is the interior's level) and
    its width at half the peak's height over the interior (hundredths of that length,
    counted from 0.02 inside to 0.005 outside the edge; 0 if the profile has no peak
    above the interior)."""
    peak = float(profile[20:41].max())
    if peak <= 1.0:
        return {"peak": peak, "width": 0.0}
    return {"peak": peak, "width": float((profile[20:45] > 1.0 + (peak - 1.0) / 2.0).sum()) / 10.0}


def phantom_rim(age: float, male: bool, seed: int, length: float, style: str):
    """:func:`edge_profile` about the middle of the capitate's drawn outline
    (:func:`ossicle_middle`) on a phantom drawn at this metacarpal 3 length
    (:func:`_drawn_at_length`)."""
    s, got = _drawn_at_length(age, male, seed, length, style)
    c = _capitate_middle_px(s)
    return edge_profile(s.image, c[0], c[1], got)


def rim(styles: list[str], seeds: int = 4, any_look: bool = False) -> dict:
    """The carpals' cortical rim (:func:`edge_profile`, :func:`rim_figures`) round the
    capitate on the 7 real films of scripts/data/real_capitate_texture.csv (its centre
    and metacarpal 3's length read by eye) and per style round the capitate of
    ``seeds`` processed phantoms (:func:`phantom_seeds`; with ``any_look`` either look)
    of each film's age and sex at its metacarpal 3 length (the median of their figures),
    with the bone's height over the joint space beside it (``contrast``, on the film
    scaled to [0, 1] between its 1st and 99.5th percentiles)."""
    from boneage_fast.io import read_image

    rows = []
    for film, name, v in _annotated_films("real_capitate_texture.csv"):
        prof, con = edge_profile(read_image(film["path"]).pixels, v["capitate_x"], v["capitate_y"], v["mc3_length"])
        fig = rim_figures(prof)
        row = {"film": name, "months": film["boneage"], "real_peak": _r3(fig["peak"]), "real_width": _r3(fig["width"]),
               "real_contrast": _r3(con)}
        for style in styles:
            got = [phantom_rim(film["boneage"], film["male"], s, v["mc3_length"], style)
                   for s in phantom_seeds(film["boneage"], film["male"], style, 40_000, seeds, any_look)]
            figs = [rim_figures(g[0]) for g in got if g[0] is not None]
            row.update({f"{style}_{k}": _r3(np.median([f[k] for f in figs])) for k in ("peak", "width")})
            row[f"{style}_contrast"] = _r3(np.median([g[1] for g in got if g[1] is not None]))
        rows.append(row)
    return _with_medians(rows, [f"{who}_{k}" for who in ("real", *styles) for k in ("peak", "width", "contrast")])


def physis_gap(img: np.ndarray, points: np.ndarray, axis, length: float) -> dict:
    """How wide and dark a physis is: on a [0, 1] film, at each of ``points`` (pixels,
    N x 2: the physis guessed there) the profile along ``axis`` (a unit vector along the
    bone) from 0.06 of ``length`` (metacarpal 3's) before to 0.06 after it, in steps of
    ``length`` / 1000 and smoothed by a Gaussian of one step; its lowest point within
    0.03 of the guess; the bone either side, the highest point within 0.03 before and
    after it; the gap's depth, the lower side less the lowest point, and its width at
    half that depth (hundredths of ``length``; 0 where the depth is under 0.03: no gap).
    Returns the medians over the points: ``{"width", "depth"}``."""
    from scipy import ndimage

    step = length / 1000.0
    q = np.arange(-60, 61) * step
    reach = 30
    widths, depths = [], []
    for x, y in np.asarray(points, dtype=np.float64):
        p = ndimage.map_coordinates(img, [y + q * axis[1], x + q * axis[0]], order=1, mode="nearest")
        p = ndimage.gaussian_filter1d(p, 1.0)
        i = 60 - reach + int(np.argmin(p[60 - reach:60 + reach + 1]))
        low = p[i]
        depth = min(p[i - reach:i + 1].max(), p[i:i + reach + 1].max()) - low
        if depth < 0.03:
            widths.append(0.0)
            depths.append(float(depth))
            continue
        below = p < low + 0.5 * depth
        j0, j1 = i, i
        while j0 > 0 and below[j0 - 1]:
            j0 -= 1
        while j1 < len(p) - 1 and below[j1 + 1]:
            j1 += 1
        widths.append((j1 - j0 + 1) / 10.0)
        depths.append(float(depth))
    return {"width": float(np.median(widths)), "depth": float(np.median(depths))}


def phantom_physis(age: float, male: bool, seed: int, length: float, style: str) -> dict:
    """:func:`physis_gap` across a phantom's distal radial physis, drawn at this
    metacarpal 3 length (:func:`_drawn_at_length`): along the radius' axis, at points
    every 2 pixels across the middle half of its metaphysis' end, midway between the
    shaft's drawn end and the epiphysis' proximal side."""
    s, got = _drawn_at_length(age, male, seed, length, style)
    T = s.frame
    radius = next(b for b in s.hand.bones if b.name == "radius")
    epi = next((e for e in s.hand.ossicles if e.name == "epi_radius"), None)
    if epi is None:
        raise ValueError(f"a phantom of {age:g} months has no distal radial epiphysis yet: no physis to measure")
    end, axis = _radius_end(s)
    mid = (end + s.to_pixels(epi.centre[None])[0] - axis * epi.axes[1] * T.scale) / 2.0
    half = 0.5 * radius.half_width * (1.0 + radius.flare1) * T.scale
    across = np.arange(-half, half, 2.0)
    points = mid[None, :] + across[:, None] * np.array([-axis[1], axis[0]])[None, :]
    return physis_gap(np.clip(_percentile_film(s.image), 0.0, 1.2), points, axis, got)


def physis(styles: list[str], seeds: int = 4, any_look: bool = False) -> dict:
    """The distal radial physis on the 6 older films of scripts/data/real_older_forearm.csv
    (120-180 months; its row read by eye; the films upright, metacarpal 3's length and
    the capitate's x from real_capitate_texture.csv): :func:`physis_gap` along the
    vertical at points every 2 pixels on that row from 0.05 of the length on the ulnar
    side of the capitate's x to 0.2 on its radial side (over the radius on every film),
    the film scaled as :func:`_percentile_film` scales it (clipped at 1.2); per style the
    median over ``seeds`` processed phantoms (:func:`phantom_seeds`; with ``any_look``
    either look) of each film's age and sex at its metacarpal 3 length
    (:func:`phantom_physis`)."""
    from boneage_fast.io import read_image

    capitate = {name: v for _, name, v in _annotated_films("real_capitate_texture.csv")}
    rows = []
    for film, name, v in _annotated_films("real_older_forearm.csv"):
        c = capitate[name]
        length = c["mc3_length"]
        xs = np.arange(c["capitate_x"] - 0.05 * length, c["capitate_x"] + 0.2 * length, 2.0)
        points = np.stack([xs, np.full(xs.shape, v["radius_y"])], axis=1)
        img = np.clip(_percentile_film(read_image(film["path"]).pixels), 0.0, 1.2)
        got = physis_gap(img, points, (0.0, -1.0), length)
        row = {"film": name, "months": film["boneage"], "real_width": _r3(got["width"]),
               "real_depth": _r3(got["depth"])}
        row.update(_phantom_medians(phantom_physis, film, length, styles, ("width", "depth"), 40_000, seeds,
                                    any_look))
        rows.append(row)
    return _with_medians(rows, [f"{who}_{k}" for who in ("real", *styles) for k in ("width", "depth")])


def ray_joint(hand, joint: str, ray: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Where a drawn finger joint's space lies, in the hand's frame (mm): the middle of
    the space along the ray between the lower bone's ossified end and the upper bone's
    (``joint`` "PIP": the proximal phalanx' head and the middle phalanx' base
    epiphysis; "MCP": the top of the metacarpal head's epiphysis and the proximal
    phalanx' base epiphysis; a shaft's end where its epiphysis is not yet there), and
    the unit vector along the ray (distal).

    Raises:
        ValueError: an unknown joint, or a hand without that ray's bones.
    """
    if joint not in ("PIP", "MCP"):
        raise ValueError(f"joint must be 'PIP' or 'MCP', got {joint!r}")
    lower_name, upper_name = ("proximal", "middle") if joint == "PIP" else ("metacarpal", "proximal")
    bones = {b.name: b for b in hand.bones}
    ossicles = {e.name: e for e in hand.ossicles}
    lower, upper = bones.get(f"{lower_name}{ray}"), bones.get(f"{upper_name}{ray}")
    if lower is None or upper is None:
        raise ValueError(f"the hand has no {lower_name}{ray} or {upper_name}{ray}")
    axis = (upper.p0 - lower.p1) / np.hypot(*(upper.p0 - lower.p1))
    top = lower.p1
    head = ossicles.get(f"epi_{lower_name}{ray}") if joint == "MCP" else None
    if head is not None:
        top = head.centre + axis * head.axes[1]
    base = ossicles.get(f"epi_{upper_name}{ray}")
    bottom = base.centre - axis * base.axes[1] if base is not None else upper.p0
    return (top + bottom) / 2.0, axis


def joint_points(centre, axis, length: float) -> np.ndarray:
    """Points (pixels, N x 2) every 2 pixels across a joint's middle, from 0.04 of
    ``length`` (metacarpal 3's) to one side of ``centre`` to 0.04 to the other,
    perpendicular to the unit ``axis``."""
    across = np.arange(-0.04 * length, 0.04 * length + 1e-9, 2.0)
    n = np.array([-axis[1], axis[0]], dtype=np.float64)
    return np.asarray(centre, np.float64)[None, :] + across[:, None] * n[None, :]


def phantom_joints(age: float, male: bool, seed: int, length: float, style: str) -> dict:
    """:func:`physis_gap` across the middle finger's PIP and MCP joint spaces
    (:func:`ray_joint`, :func:`joint_points`) on a phantom drawn at this metacarpal 3
    length (:func:`_drawn_at_length`), the film scaled as :func:`_percentile_film`
    scales it (clipped at 1.2): ``{"pip_width", "pip_depth", "mcp_width", "mcp_depth"}``,
    ``pp3``, proximal phalanx 3's drawn outline across its mid-point
    (:func:`outline_half_width`), and ``finger``, the middle finger's soft tissue there
    (:func:`finger_build`), all in hundredths of metacarpal 3's length."""
    s, got = _drawn_at_length(age, male, seed, length, style)
    img = np.clip(_percentile_film(s.image), 0.0, 1.2)
    out = {}
    for joint in ("PIP", "MCP"):
        c, a = ray_joint(s.hand, joint)
        cp = s.to_pixels(c[None])[0]
        ap = s.to_pixels((c + a)[None])[0] - cp
        ap = ap / np.hypot(*ap)
        r = physis_gap(img, joint_points(cp, ap, got), ap, got)
        out[f"{joint.lower()}_width"], out[f"{joint.lower()}_depth"] = r["width"], r["depth"]
    pp = next(b for b in s.hand.bones if b.name == "proximal3")
    base, top = _metacarpal3_hand_ends(s.hand)
    out["pp3"] = 200.0 * outline_half_width(pp, 0.5) / float(np.hypot(*(top - base)))
    out["finger"] = 100.0 * finger_build(s.hand)["finger"]
    return out


def joints(styles: list[str], seeds: int = 4, any_look: bool = False) -> dict:
    """The middle finger's PIP and MCP joint spaces on the 7 registered films of
    scripts/data/real_finger_joints.csv (82-180 months; each joint space's row and the
    finger's middle read by eye, the films upright; metacarpal 3's length from
    real_capitate_texture.csv, 2687's from real_young_palm.csv): :func:`physis_gap`
    along the vertical at :func:`joint_points` on that row, the film scaled as
    :func:`_percentile_film` scales it (clipped at 1.2); per style the median over
    ``seeds`` processed phantoms of each film's age and sex at its metacarpal 3 length
    (:func:`phantom_joints`). Also proximal phalanx 3's width at mid-shaft (``pp3``) and
    the middle finger's there (``finger``): on the films their outer edges read by eye on
    the row midway between the two joints' (``pp3_x0``/``pp3_x1``,
    ``finger_x0``/``finger_x1``), on the phantoms the drawn outline
    (:func:`outline_half_width`) and soft-tissue capsule (:func:`finger_build`).

    Widths in hundredths of metacarpal 3's length."""
    from boneage_fast.io import read_image

    keys = ("pip_width", "pip_depth", "mcp_width", "mcp_depth", "pp3", "finger")
    rows = []
    for film, name, v in _annotated_films("real_finger_joints.csv"):
        length = v["mc3_length"]
        img = np.clip(_percentile_film(read_image(film["path"]).pixels), 0.0, 1.2)
        row = {"film": name, "months": film["boneage"]}
        for joint in ("pip", "mcp"):
            got = physis_gap(img, joint_points((v[f"{joint}_x"], v[f"{joint}_y"]), (0.0, -1.0), length),
                             (0.0, -1.0), length)
            row[f"real_{joint}_width"], row[f"real_{joint}_depth"] = _r3(got["width"]), _r3(got["depth"])
        row["real_pp3"] = _r3(100.0 * (v["pp3_x1"] - v["pp3_x0"]) / length)
        row["real_finger"] = _r3(100.0 * (v["finger_x1"] - v["finger_x0"]) / length)
        row.update(_phantom_medians(phantom_joints, film, length, styles, keys, 40_000, seeds, any_look))
        rows.append(row)
    return _with_medians(rows, [f"{who}_{k}" for who in ("real", *styles) for k in keys])


def shaft_edge(img: np.ndarray, cx: float, cy: float, axis, length: float) -> dict:
    """How a long bone's shaft stands out of the soft tissue beside it: on a [0, 1] film,
    across the shaft through (``cx``, ``cy``) (``axis`` a unit vector along the bone),
    the profile out to 0.15 of ``length`` (metacarpal 3's) either side in steps of
    ``length`` / 1000, averaged over 21 lines from 0.02 of ``length`` before to 0.02
    after along the axis; on each side the outer edge is the steepest outward fall
    (on the profile smoothed by a Gaussian of one step) from 0.01 to 0.14 of ``length``
    out; its ``height`` the highest point within 0.012 inside less the median from
    0.006 to 0.02 outside, its ``width`` the run from 80 % down to 20 % of that height
    (hundredths of ``length``). Returns the two sides' means."""
    from scipy import ndimage

    step = length / 1000.0
    ax = np.asarray(axis, np.float64)
    n = np.array([-ax[1], ax[0]])
    q = np.arange(-150, 151) * step
    prof = np.zeros(len(q))
    for t in np.arange(-10, 11) * 2.0 * step:
        x, y = cx + t * ax[0] + q * n[0], cy + t * ax[1] + q * n[1]
        prof += ndimage.map_coordinates(img, [y, x], order=1, mode="nearest")
    prof /= 21.0
    heights, widths = [], []
    for side in (prof[150:], prof[150::-1]):
        g = np.gradient(ndimage.gaussian_filter1d(side, 1.0))
        e = 10 + int(np.argmin(g[10:141]))
        hi, lo = side[max(e - 12, 0):e + 1].max(), float(np.median(side[e + 6:e + 21]))
        a = b = e
        while a > 0 and side[a] < lo + 0.8 * (hi - lo):
            a -= 1
        while b < len(side) - 1 and side[b] > lo + 0.2 * (hi - lo):
            b += 1
        heights.append(hi - lo)
        widths.append((b - a) / 10.0)
    return {"height": float(np.mean(heights)), "width": float(np.mean(widths))}


def phantom_shaft_edge(age: float, male: bool, seed: int, length: float, style: str) -> dict:
    """:func:`shaft_edge` across metacarpal 3's mid-point (:func:`_metacarpal3_line`) on a
    phantom drawn at this metacarpal 3 length (:func:`_drawn_at_length`), the film scaled
    as :func:`_percentile_film` scales it."""
    s, got = _drawn_at_length(age, male, seed, length, style)
    m, n, _ = _metacarpal3_line(s)
    return shaft_edge(_percentile_film(s.image), m[0], m[1], (n[1], -n[0]), got)


def _midshaft_films():
    """The registered films of scripts/data/real_mc_midshaft.csv (metacarpal 3's
    mid-shaft, read by eye) that real_capitate_texture.csv gives metacarpal 3's length
    (pixels): (:func:`_annotated_films`'s film, name and points, that length)."""
    lengths = {name: v["mc3_length"] for _, name, v in _annotated_films("real_capitate_texture.csv")}
    for film, name, v in _annotated_films("real_mc_midshaft.csv"):
        if name in lengths:
            yield film, name, v, lengths[name]


def shaft(styles: list[str], seeds: int = 8, any_look: bool = False) -> dict:
    """Metacarpal 3's shaft against the soft tissue beside it (:func:`shaft_edge`): on the
    6 registered films of 120-180 months that scripts/data/real_mc_midshaft.csv (its
    mid-shaft, read by eye; the shaft taken as vertical) and real_capitate_texture.csv
    (metacarpal 3's length) share, the film scaled as :func:`_percentile_film` scales it;
    per style the median over ``seeds`` processed phantoms (:func:`phantom_seeds`; with
    ``any_look`` either look) of each film's age and sex at its metacarpal 3 length
    (:func:`phantom_shaft_edge`)."""
    from boneage_fast.io import read_image

    rows = []
    for film, name, v, length in _midshaft_films():
        got = shaft_edge(_percentile_film(read_image(film["path"]).pixels), v["x"], v["y"], (0.0, -1.0), length)
        row = {"film": name, "months": film["boneage"], "real_height": _r3(got["height"]),
               "real_width": _r3(got["width"])}
        row.update(_phantom_medians(phantom_shaft_edge, film, length, styles, ("height", "width"), 42_000, seeds,
                                    any_look))
        rows.append(row)
    return _with_medians(rows, [f"{who}_{k}" for who in ("real", *styles) for k in ("height", "width")])


def palm_flatness(img: np.ndarray, m, n, length: float) -> dict:
    """How even the palm's soft tissue is across the hand: on a [0, 1] film, along the
    line through ``m`` (pixels) in the unit direction ``n`` (across metacarpal 3), the
    profile averaged over 11 lines ``length`` / 250 apart along the bone (``length``
    metacarpal 3's, pixels); within the silhouette's run through ``m`` (the film above
    its 2nd percentile + 0.08, as :func:`silhouette_span` finds it) less 0.08 of
    ``length`` at either end, the soft tissue's level under the bones (a grey opening of
    the profile over 0.25 of ``length``, wider than any bone); ``drop``: how far its 10th
    percentile lies below its median, over that median (0 for soft tissue of one grey
    from side to side), and ``level``, that median."""
    from scipy import ndimage

    m, n = np.asarray(m, np.float64), np.asarray(n, np.float64)
    along = np.array([n[1], -n[0]])
    reach = int(2.0 * length)
    q = np.arange(-reach, reach + 1, dtype=np.float64)
    prof = np.zeros(len(q))
    for t in np.arange(-5, 6) * length / 250.0:
        c = m + t * along
        prof += ndimage.map_coordinates(img, [c[1] + q * n[1], c[0] + q * n[0]], order=1, mode="constant", cval=0.0)
    prof /= 11.0
    lo, hi = silhouette_span(img, m, n, reach)
    trim = int(round(0.08 * length))
    run = prof[reach + lo + trim:reach + hi - trim + 1]
    if len(run) < int(0.5 * length):
        raise ValueError(f"the palm's soft tissue spans {len(run)} pixels across metacarpal 3 "
                         f"(of {length:.0f}): under half its length, no palm to read")
    env = ndimage.grey_opening(run, size=max(int(round(0.25 * length)), 3))
    med = float(np.median(env))
    return {"drop": float((med - np.percentile(env, 10)) / max(med, 1e-6)), "level": med}


def phantom_palm_flatness(age: float, male: bool, seed: int, length: float, style: str) -> dict:
    """:func:`palm_flatness` across metacarpal 3's mid-point (:func:`_metacarpal3_line`)
    on a phantom drawn at this metacarpal 3 length (:func:`_drawn_at_length`), the film
    scaled as :func:`_percentile_film` scales it."""
    s, got = _drawn_at_length(age, male, seed, length, style)
    m, n, _ = _metacarpal3_line(s)
    return palm_flatness(_percentile_film(s.image), m, n, got)


def palmtissue(styles: list[str], seeds: int = 8, any_look: bool = False) -> dict:
    """The palm's soft tissue across the hand (:func:`palm_flatness`) at metacarpal 3's
    mid-shaft on the 6 registered films of :func:`shaft` (the line taken as horizontal),
    the film scaled as :func:`_percentile_film` scales it; per style the median over
    ``seeds`` processed phantoms (:func:`phantom_seeds`; with ``any_look`` either look)
    of each film's age and sex at its metacarpal 3 length."""
    from boneage_fast.io import read_image

    rows = []
    for film, name, v, length in _midshaft_films():
        got = palm_flatness(_percentile_film(read_image(film["path"]).pixels), (v["x"], v["y"]), (1.0, 0.0), length)
        row = {"film": name, "months": film["boneage"], "real_drop": _r3(got["drop"]), "real_level": _r3(got["level"])}
        row.update(_phantom_medians(phantom_palm_flatness, film, length, styles, ("drop", "level"), 43_000, seeds,
                                    any_look))
        rows.append(row)
    return _with_medians(rows, [f"{who}_{k}" for who in ("real", *styles) for k in ("drop", "level")])


def outline_half_width(b, u: float) -> float:
    """A shaped long bone's outline half-width (mm) at fraction ``u`` of its length from
    the base, away from its rounded ends (:func:`boneage_fast.data.film.draw_long_bone`'s
    formula)."""
    mid = np.sin(np.pi * u) ** 2
    return float(b.half_width * (1.0 + b.flare0 * np.exp(-(u / b.base_span) ** 2)
                                 + b.flare1 * np.exp(-((1.0 - u) / b.head_span) ** 2) - 0.1 * mid))


def base_plate(img: np.ndarray, base, top) -> float:
    """How bright metacarpal 3's base end stands over its shaft (the dense end plate):
    on a film whose floor is 0 (:func:`_percentile_film`), the profile along the bone's
    axis from ``base`` towards ``top`` (pixels) at steps of 0.01 of its length, each
    point the mean of 9 samples across it from -0.035 to +0.035 of the length (bilinear):
    its highest point within -0.02 to +0.08 of the length from the base over its median
    from 0.15 to 0.30 (1: the base no brighter than the shaft).

    Raises:
        ValueError: ``base`` and ``top`` coincide, or the shaft reads no brighter than the
            floor.
    """
    from scipy import ndimage

    base, top = np.asarray(base, np.float64), np.asarray(top, np.float64)
    length = float(np.hypot(*(top - base)))
    if length < 1.0:
        raise ValueError(f"base {tuple(base)} and top {tuple(top)}: metacarpal 3 needs a length of 1 pixel or more")
    ax = (top - base) / length
    n = np.array([-ax[1], ax[0]])
    t = np.arange(-15, 41) / 100.0
    q = np.linspace(-0.035, 0.035, 9)
    pts = base + (t[:, None, None] * ax + q[None, :, None] * n) * length
    prof = ndimage.map_coordinates(img, [pts[..., 1].ravel(), pts[..., 0].ravel()], order=1,
                                   mode="nearest").reshape(len(t), len(q)).mean(axis=1)
    shaft = float(np.median(prof[(t >= 0.15 - 1e-9) & (t <= 0.30 + 1e-9)]))
    if not shaft > 0.0:
        raise ValueError(f"metacarpal 3 from {tuple(base)}: its shaft reads {shaft:.3g}, not above the film's floor")
    return float(prof[(t >= -0.02 - 1e-9) & (t <= 0.08 + 1e-9)].max() / shaft)


def phantom_base_plate(age: float, male: bool, seed: int, length: float, style: str) -> float:
    """:func:`base_plate` on a phantom drawn at this metacarpal 3 length
    (:func:`_drawn_at_length`), from its own metacarpal 3 (:func:`_metacarpal3_ends`)."""
    s, _ = _drawn_at_length(age, male, seed, length, style)
    b, t = _metacarpal3_ends(s)
    return base_plate(_percentile_film(s.image), b, t)


def mcplate(styles: list[str], seeds: int = 4) -> dict:
    """Metacarpal 3's base end plate (:func:`base_plate`) on the 6 young films of
    real_young_palm.csv (its base and top read by eye) and the 5 older films of
    :func:`_older_metacarpal3`, each film scaled as :func:`_percentile_film` scales it,
    against per style the median over ``seeds`` phantoms of its age and sex drawn at its
    metacarpal 3 length with its film's look (:func:`phantom_seeds`: rsna_raw7's films
    unprocessed, the registered films processed); medians per group (young raw, young
    processed, older) and over all films; a style with one look (v1, v2) draws
    ``seeds`` consecutive seeds."""
    from boneage_fast.data.film import LOOKS
    from boneage_fast.io import read_image

    rows = []
    for group, films in _metacarpal3_groups():
        for film, name, base, top in films:
            raw = film["set"] == "rsna_raw7"
            length = float(np.hypot(top[0] - base[0], top[1] - base[1]))
            row = {"film": name, "months": film["boneage"], "group": f"{group} {'raw' if raw else 'processed'}",
                   "real": _r3(base_plate(_percentile_film(read_image(film["path"]).pixels), base, top))}
            for style in styles:
                one_look = f"{style}_raw" not in LOOKS  # v1, v2: every film drawn alike
                got = [phantom_base_plate(film["boneage"], film["male"], seed, length, style)
                       for seed in phantom_seeds(film["boneage"], film["male"], style, 46_000, seeds,
                                                 any_look=one_look, raw=raw)]
                row[style] = _r3(float(np.median(got)))
            rows.append(row)
    out = _with_medians(rows, ["real", *styles])
    for group in dict.fromkeys(r["group"] for r in rows):
        sel = [r for r in rows if r["group"] == group]
        out[group] = {"films": len(sel), **{k: _r3(float(np.median([r[k] for r in sel]))) for k in ("real", *styles)}}
    return out


def mcbase(styles: list[str], seeds: int = 8) -> dict:
    """Metacarpal 3's base flare (module docstring, ``mcbase``): per film and level the
    real width ratio and, per style, the median over ``seeds`` subjects of the drawn
    outline's ratio at the same fractions (levels as fractions of metacarpal 3's length
    from its base; the first level of each film is the reference)."""
    from boneage_fast.data.anatomy import build_hand, sample_subject

    lengths = {name: v["mc3_length"] for _, name, v in _annotated_films("real_capitate_texture.csv")}
    films: dict = {}
    for film, name, v in _annotated_films("real_mc3_base_width.csv"):
        films.setdefault(name, (film, []))[1].append(v)
    rows = []
    for name, (film, levels) in films.items():
        length = lengths[name]
        u = [(lv["mc3_base_y"] - lv["y"]) / length for lv in levels]
        w = [lv["right_x"] - lv["left_x"] for lv in levels]
        drawn = {}
        for style in styles:
            version = int(style[1:])
            ratios = []
            for seed in range(seeds):
                hand = build_hand(sample_subject(film["boneage"], film["male"], np.random.default_rng(44_000 + seed),
                                                 hard_fraction=0.0), version)
                b = next(b for b in hand.bones if b.name == "metacarpal3")
                ratios.append([outline_half_width(b, f) / outline_half_width(b, u[0]) for f in u])
            drawn[style] = np.median(ratios, axis=0)
        for k in range(1, len(levels)):
            row = {"film": name, "months": film["boneage"], "fraction": _r3(u[k]), "real": _r3(w[k] / w[0])}
            row.update({style: _r3(drawn[style][k]) for style in styles})
            rows.append(row)
    return _with_medians(rows, ["real", *styles])


def base_spacing(xs, length: float) -> list[float]:
    """Neighbouring metacarpal bases' distances over metacarpal 3's ``length``: ``xs``
    their centres across the hand in the order 5, 4, 3, 2 (any unit, ``length`` in the
    same); returns [index-middle, middle-ring, ring-little].

    Raises:
        ValueError: not 4 finite centres, or a length that is not positive.
    """
    x = np.asarray(xs, np.float64)
    if x.shape != (4,) or not np.isfinite(x).all():
        raise ValueError(f"xs must be 4 finite base centres (metacarpals 5, 4, 3, 2), got {xs!r}")
    if not (np.isfinite(length) and length > 0):
        raise ValueError(f"length must be positive, got {length!r}")
    return [float(abs(x[3] - x[2]) / length), float(abs(x[2] - x[1]) / length), float(abs(x[1] - x[0]) / length)]


def hand_base_spacing(hand) -> list[float]:
    """:func:`base_spacing` of a drawn hand: its metacarpals 2-5's base points across
    metacarpal 3's axis, over metacarpal 3's length (base to the top of its head,
    :func:`_metacarpal3_hand_ends`)."""
    bones = {b.name: b for b in hand.bones}
    base, top = _metacarpal3_hand_ends(hand)
    length = float(np.hypot(*(top - base)))
    ax = (top - base) / length
    across = np.array([ax[1], -ax[0]])
    return base_spacing([float(bones[f"metacarpal{k}"].p0 @ across) for k in (5, 4, 3, 2)], length)


def mcspread(styles: list[str], seeds: int = 8) -> dict:
    """The metacarpal bases' spacing (module docstring, ``mcspread``): per film the real
    :func:`base_spacing` and per style the median of :func:`hand_base_spacing` over
    ``seeds`` subjects of its age and sex; medians over the young films (under 96
    months) and the older ones."""
    from boneage_fast.data.anatomy import build_hand, sample_subject

    lengths = {name: _mc3_length(v) for _, name, v in _annotated_films("real_young_palm.csv")}
    lengths.update({name: float(np.hypot(t[0] - b[0], t[1] - b[1])) for _, name, b, t in _older_metacarpal3()})
    keys = ("index_middle", "middle_ring", "ring_little")
    rows = []
    for film, name, v in _annotated_films("real_mc_bases.csv"):
        real = base_spacing([v["mc5_x"], v["mc4_x"], v["mc3_x"], v["mc2_x"]], lengths[name])
        row = {"film": name, "months": film["boneage"], **{f"real_{k}": _r3(x) for k, x in zip(keys, real)}}
        for style in styles:
            got = np.median([hand_base_spacing(build_hand(sample_subject(film["boneage"], film["male"],
                                                                         np.random.default_rng(48_000 + seed),
                                                                         hard_fraction=0.0), int(style[1:])))
                             for seed in range(seeds)], axis=0)
            row.update({f"{style}_{k}": _r3(x) for k, x in zip(keys, got)})
        rows.append(row)
    cols = [f"{who}_{k}" for who in ("real", *styles) for k in keys]
    out = {"films": rows}
    for group, sel in (("young", [r for r in rows if r["months"] < 96]), ("older", [r for r in rows if r["months"] >= 96])):
        out[group] = {"films": len(sel), **{c: _r3(float(np.median([r[c] for r in sel]))) for c in cols}}
    return out


def below_base(base, top, point) -> float:
    """How far ``point`` lies below metacarpal 3's ``base``, along that bone's axis (from
    ``base`` to ``top``) over its length: 0 at the base, positive towards the wrist."""
    base, top, point = (np.asarray(v, np.float64) for v in (base, top, point))
    d = top - base
    return float(-(point - base) @ d) / float(d @ d)


def hand_wrist_length(hand) -> dict:
    """A hand's young wrist (module docstring, ``carpus``): its radius shaft's drawn
    distal end and its capitate's centre (None before the capitate appears) below
    metacarpal 3's base (:func:`below_base`, in the hand's frame)."""
    base, top = _metacarpal3_hand_ends(hand)
    radius = next(b for b in hand.bones if b.name == "radius")
    capitate = next((e for e in hand.ossicles if e.name == "capitate"), None)
    return {"radius": below_base(base, top, radius.p1),
            "capitate": below_base(base, top, capitate.centre) if capitate is not None else None}


def carpus(styles: list[str], seeds: int = 8) -> dict:
    """The young wrist's length (module docstring, ``carpus``): per film the real
    radius' end and capitate's centre below metacarpal 3's base, per style the medians of
    :func:`hand_wrist_length` over ``seeds`` subjects of its age and sex."""
    from boneage_fast.data.anatomy import build_hand, sample_subject

    palm_points = {name: v for _, name, v in _annotated_films("real_young_palm.csv")}
    forearm = {name: v for _, name, v in _annotated_films("real_young_forearm.csv")}
    rows = []
    for film, name, v in _annotated_films("real_young_carpus.csv"):
        p = palm_points[name]
        base, top = (p["mc3_base_x"], p["mc3_base_y"]), (p["mc3_top_x"], p["mc3_top_y"])
        if np.isnan(v["radius_y"]):
            f = forearm[name]
            radius = ((f["radius_x0"] + f["radius_x1"]) / 2, f["radius_y"])
        else:
            radius = (v["radius_x"], v["radius_y"])
        row = {"film": name, "months": film["boneage"], "real_radius": _r3(below_base(base, top, radius)),
               "real_capitate": _r3(below_base(base, top, (v["capitate_x"], v["capitate_y"])))}
        for style in styles:
            got = [hand_wrist_length(build_hand(sample_subject(film["boneage"], film["male"],
                                                               np.random.default_rng(49_000 + seed), hard_fraction=0.0),
                                                int(style[1:]))) for seed in range(seeds)]
            for k in ("radius", "capitate"):
                vals = [g[k] for g in got if g[k] is not None]
                row[f"{style}_{k}"] = _r3(float(np.median(vals))) if vals else None
        rows.append(row)
    return _with_medians(rows, [f"{who}_{k}" for who in ("real", *styles) for k in ("radius", "capitate")])


def carpal_outline(img: np.ndarray, seed, length: float, rays: int = 90, reach: float = 0.3) -> np.ndarray:
    """A small bone's outline on a film (``img`` scaled to [0, 1]) seen from ``seed``
    (x, y; pixels) inside it, ``length`` metacarpal 3's: along each of ``rays`` rays out
    to ``reach`` ``length`` in steps of ``length`` / 1000 (from 0.03 ``length``), the
    grey level's fall (the ray smoothed by a Gaussian of ``length`` / 400), over the
    steepest fall of all rays; the outline is the closed path, one radius per ray, with
    the most fall less 0.05 per step that the radius moves from ray to ray (at most 0.02
    ``length`` a ray), by dynamic programming round the rays. A ray that would find a
    neighbour's edge steeper beyond its own bone's, or a trabecula inside it, keeps to
    the bone's edge with its neighbours. Returns the outline's points (rays x 2,
    pixels)."""
    from scipy import ndimage

    step = length / 1000.0
    q = np.arange(0.03 * length, reach * length, step)
    angles = np.linspace(0.0, 2.0 * np.pi, rays, endpoint=False)
    fall = np.array([-np.gradient(ndimage.gaussian_filter1d(
        ndimage.map_coordinates(img, [seed[1] + q * np.sin(a), seed[0] + q * np.cos(a)], order=1, mode="nearest"),
        length / 400.0 / step)) for a in angles])
    fall = fall / max(float(fall.max()), 1e-12)
    jump = int(0.02 * length / step)
    moves = np.arange(-jump, jump + 1)
    penalty = 0.05 * np.abs(moves)
    n = len(q)
    # round the rays twice from the first, each ray's best total over the rays before it;
    # the path is read back over the second round (its start forgotten by then)
    order = np.concatenate([np.arange(rays), np.arange(rays)])
    total = fall[0].copy()
    back = np.zeros((len(order), n), dtype=np.int64)
    for k in range(1, len(order)):
        cand = np.full((len(moves), n), -np.inf)
        for m, (d, pen) in enumerate(zip(moves, penalty)):
            lo, hi = max(0, -d), min(n, n - d)  # radius index j came from j + d
            cand[m, lo:hi] = total[lo + d:hi + d] - pen
        best = np.argmax(cand, axis=0)
        back[k] = np.arange(n) + moves[best]
        total = cand[best, np.arange(n)] + fall[order[k]]
    idx = np.empty(len(order), dtype=np.int64)
    idx[-1] = int(np.argmax(total))
    for k in range(len(order) - 1, 0, -1):
        idx[k - 1] = back[k, idx[k]]
    radii = q[idx[rays:]]
    return np.stack([seed[0] + radii * np.cos(angles), seed[1] + radii * np.sin(angles)], axis=1)


def outline_figures(points: np.ndarray, axis, length: float) -> dict:
    """An outline's convex hull (``points``, n x 2) measured in metacarpal 3's frame
    (``axis`` the unit vector from its base to its top, ``length`` its length): its
    middle (the hull's centroid, in the points' units), its extent along the axis
    (``len``) and across it (``wid``) and its area (``area``), over ``length`` (the area
    over its square)."""
    from scipy.spatial import ConvexHull

    hull = points[ConvexHull(points).vertices]
    middle, area = polygon_centroid(hull)
    axis = np.asarray(axis, np.float64)
    d = hull - middle
    along, across = d @ axis, d @ np.array([-axis[1], axis[0]])
    return {"middle": middle, "len": float(along.max() - along.min()) / length,
            "wid": float(across.max() - across.min()) / length, "area": float(abs(area)) / length ** 2}


def carpal_pair(capitate: np.ndarray, hamate: np.ndarray, axis, length: float) -> dict:
    """The young capitate's and hamate's figures (module docstring, ``youngcarpus``) from
    their outlines (n x 2 each, one frame) and metacarpal 3's ``axis`` (unit, base to
    top) and ``length`` in that frame: each bone's length and width (its convex hull's,
    :func:`outline_figures`), how far apart their middles lie across the axis
    (``apart``, either side) and how far the hamate's lies above the capitate's along it
    (``higher``, towards the fingers positive), all over ``length``."""
    c, h = outline_figures(capitate, axis, length), outline_figures(hamate, axis, length)
    axis = np.asarray(axis, np.float64)
    d = h["middle"] - c["middle"]
    return {"capitate_len": c["len"], "capitate_wid": c["wid"], "hamate_len": h["len"], "hamate_wid": h["wid"],
            "apart": abs(float(d @ np.array([-axis[1], axis[0]]))) / length, "higher": float(d @ axis) / length}


YOUNG_CARPUS_KEYS = ("capitate_len", "capitate_wid", "hamate_len", "hamate_wid", "apart", "higher")


def hand_carpal_pair(hand) -> dict | None:
    """:func:`carpal_pair` of a drawn hand's capitate and hamate (their outlines as drawn,
    facets not cut, in the hand's frame; None before the hamate appears)."""
    from boneage_fast.data.anatomy import ossicle_outline

    bones = {e.name: e for e in hand.ossicles}
    if "capitate" not in bones or "hamate" not in bones:
        return None
    base, top = _metacarpal3_hand_ends(hand)
    length = float(np.hypot(*(top - base)))
    return carpal_pair(ossicle_outline(bones["capitate"], 200), ossicle_outline(bones["hamate"], 200),
                       (top - base) / length, length)


def young_carpus(styles: list[str], seeds: int = 8) -> dict:
    """The young capitate and hamate (module docstring, ``youngcarpus``): per film
    :func:`carpal_pair` of the outlines :func:`carpal_outline` finds from the points of
    real_young_carpus.csv, per style the medians of :func:`hand_carpal_pair` over
    ``seeds`` subjects of its age and sex."""
    from boneage_fast.data.anatomy import build_hand, sample_subject
    from boneage_fast.io import read_image

    palm_points = {name: v for _, name, v in _annotated_films("real_young_palm.csv")}
    rows = []
    for film, name, v in _annotated_films("real_young_carpus.csv"):
        p = palm_points[name]
        base, top = np.array([p["mc3_base_x"], p["mc3_base_y"]]), np.array([p["mc3_top_x"], p["mc3_top_y"]])
        length = _mc3_length(p)
        img = _percentile_film(read_image(film["path"]).pixels)
        got = carpal_pair(carpal_outline(img, (v["capitate_x"], v["capitate_y"]), length),
                          carpal_outline(img, (v["hamate_x"], v["hamate_y"]), length), (top - base) / length, length)
        row = {"film": name, "months": film["boneage"], **{f"real_{k}": _r3(got[k]) for k in YOUNG_CARPUS_KEYS}}
        for style in styles:
            hands = [hand_carpal_pair(build_hand(sample_subject(film["boneage"], film["male"],
                                                                np.random.default_rng(49_000 + seed),
                                                                hard_fraction=0.0), int(style[1:])))
                     for seed in range(seeds)]
            hands = [h for h in hands if h is not None]
            for k in YOUNG_CARPUS_KEYS:
                row[f"{style}_{k}"] = _r3(float(np.median([h[k] for h in hands]))) if hands else None
        rows.append(row)
    return _with_medians(rows, [f"{who}_{k}" for who in ("real", *styles) for k in YOUNG_CARPUS_KEYS])


WEB_LEVELS = tuple(round(0.7 + 0.025 * k, 3) for k in range(49))  # 0.7 .. 1.9 above the base
WEB_PART = 0.3  # the middle finger alone reaches less than this far from the axis


def web_levels(img: np.ndarray, base, top, radial: int = 1) -> dict:
    """Where the middle finger parts from its neighbours (module docstring, ``webs``):
    per side of metacarpal 3's axis (``base`` to ``top``, pixels; ``radial`` as in
    :func:`wrist_profile`) the lowest of ``WEB_LEVELS`` (its lengths above its base) where
    the silhouette's half-width on that side is under ``WEB_PART`` of the length, None
    where it never is."""
    got = wrist_profile(img, base, top, radial, levels=tuple(-f for f in WEB_LEVELS))
    return {side: next((f for f, h in zip(WEB_LEVELS, got[side]) if h < WEB_PART), None)
            for side in ("radial", "ulnar")}


def phantom_web_levels(sample) -> dict:
    """:func:`web_levels` of a phantom from its metacarpal 3, its radial side the one its
    thumb's metacarpal lies on (as :func:`phantom_wrist_profile`)."""
    base, top = _metacarpal3_ends(sample)
    return web_levels(_unit_film(sample.image.astype(np.float64)), base, top, _thumb_side(sample, base, top))


def webs(styles: list[str], seeds: int = 6) -> dict:
    """:func:`web_levels` on the films of :func:`wrist` (6 young, 5 older) against
    ``seeds`` phantoms per film's age and sex and style drawn as ``wrist`` draws them
    (the medians over the phantoms that part); per group the medians over films."""
    from boneage_fast.data.phantom import render
    from boneage_fast.io import read_image

    out: dict = {}
    for group, films in _metacarpal3_groups():
        rows = []
        for film, name, base, top in films:
            got = web_levels(_unit_film(read_image(film["path"]).pixels.astype(np.float64)), base, top)
            row = {"film": name, "months": film["boneage"], **{f"real_{k}": v for k, v in got.items()}}
            for style in styles:
                ph = [phantom_web_levels(render(film["boneage"], film["male"], seed=40_000 + k, size_scale=0.5,
                                                bits=8, style=style)) for k in range(seeds)]
                for side in ("radial", "ulnar"):
                    vals = [g[side] for g in ph if g[side] is not None]
                    row[f"{style}_{side}"] = _r3(float(np.median(vals))) if vals else None
            rows.append(row)
        out[group] = _with_medians(rows, [f"{who}_{k}" for who in ("real", *styles) for k in ("radial", "ulnar")])
    return out


FIRST_WEB_LEVELS = tuple(round(0.025 * k, 3) for k in range(41))  # 0 .. 1.0 above the base
FIRST_WEB_JOINED = 0.95  # the silhouette reaches this far to the thumb's side: the thumb joined


def first_web_level(img: np.ndarray, base, top, radial: int = 1) -> float | None:
    """How far up the thumb stays joined to the hand (module docstring, ``firstweb``): the
    highest of ``FIRST_WEB_LEVELS`` (metacarpal 3's lengths above its base, ``base`` to
    ``top`` in pixels) where the silhouette's half-width on the ``radial`` side (as in
    :func:`wrist_profile`) is at least ``FIRST_WEB_JOINED`` of the length; None where it
    never is."""
    got = wrist_profile(img, base, top, radial, levels=tuple(-f for f in FIRST_WEB_LEVELS))["radial"]
    return max((f for f, h in zip(FIRST_WEB_LEVELS, got) if h >= FIRST_WEB_JOINED), default=None)


def phantom_first_web_level(sample) -> float | None:
    """:func:`first_web_level` of a phantom from its metacarpal 3, its radial side the one
    its thumb's metacarpal lies on."""
    base, top = _metacarpal3_ends(sample)
    return first_web_level(_unit_film(sample.image.astype(np.float64)), base, top, _thumb_side(sample, base, top))


def firstweb(styles: list[str], seeds: int = 4) -> dict:
    """:func:`first_web_level` on the films of :func:`wrist` (6 young, 5 older) against
    ``seeds`` clean phantoms per film's age and sex and style (half size, 8 bits; the
    median over the phantoms that are joined somewhere); per group the medians over
    films."""
    from boneage_fast.data.phantom import render
    from boneage_fast.io import read_image

    out: dict = {}
    for group, films in _metacarpal3_groups():
        rows = []
        for film, name, base, top in films:
            row = {"film": name, "months": film["boneage"],
                   "real": first_web_level(_unit_film(read_image(film["path"]).pixels.astype(np.float64)), base, top)}
            for style in styles:
                got = [phantom_first_web_level(render(film["boneage"], film["male"], seed=40_000 + k, size_scale=0.5,
                                                      bits=8, nuisance=False, style=style)) for k in range(seeds)]
                vals = [g for g in got if g is not None]
                row[style] = _r3(float(np.median(vals))) if vals else None
            rows.append(row)
        out[group] = _with_medians(rows, ["real", *styles])
    return out


def thumb_width(img: np.ndarray, mid, axis, length: float) -> float:
    """The silhouette's run (:func:`silhouette_span` on a [0, 1] film) across a bone at
    ``mid`` (pixels), perpendicular to ``axis`` (any length), over ``length`` pixels."""
    axis = np.asarray(axis, np.float64)
    norm = float(np.hypot(*axis))
    if not norm > 0 or not length > 0:
        raise ValueError(f"axis must be non-zero and length positive, got {tuple(axis)!r} and {length!r}")
    u = axis / norm
    lo, hi = silhouette_span(img, np.asarray(mid, np.float64), np.array([-u[1], u[0]]), int(length))
    return float((hi - lo) / length)


def phantom_thumb_width(sample) -> float:
    """:func:`thumb_width` of a phantom across its thumb's proximal phalanx at the shaft's
    mid-point, over its metacarpal 3's length (base to the top of its head's epiphysis)."""
    base, top = _metacarpal3_ends(sample)
    pp = next(b for b in sample.hand.bones if b.name == "proximal1")
    p0, p1 = sample.frame(pp.p0), sample.frame(pp.p1)
    return thumb_width(_unit_film(sample.image.astype(np.float64)), (p0 + p1) / 2, p1 - p0,
                       float(np.hypot(*(top - base))))


def thumb(styles: list[str], seeds: int = 4) -> dict:
    """:func:`thumb_width` on the films of scripts/data/real_thumb.csv (the thumb's
    proximal phalanx: its mid-point and direction read by eye; metacarpal 3 from the
    films of :func:`wrist`) against ``seeds`` clean phantoms per film's age and sex and
    style (half size, 8 bits), with the medians of the films under 96 months
    (``young``)."""
    from boneage_fast.data.phantom import render
    from boneage_fast.io import read_image

    mc3 = {name: float(np.hypot(top[0] - base[0], top[1] - base[1]))
           for _, films in _metacarpal3_groups() for _, name, base, top in films}
    rows = []
    for film, name, v in _annotated_films("real_thumb.csv"):
        img = _unit_film(read_image(film["path"]).pixels.astype(np.float64))
        row = {"film": name, "months": film["boneage"],
               "real": _r3(thumb_width(img, (v["pp1_x"], v["pp1_y"]), (v["pp1_dx"], v["pp1_dy"]), mc3[name]))}
        for style in styles:
            row[style] = _r3(np.median([phantom_thumb_width(render(film["boneage"], film["male"], seed=40_000 + k,
                                                                   size_scale=0.5, bits=8, nuisance=False,
                                                                   style=style)) for k in range(seeds)]))
        rows.append(row)
    out = _with_medians(rows, ["real", *styles])
    out["young"] = _with_medians([r for r in rows if r["months"] < 96], ["real", *styles])
    del out["young"]["films"]
    return out


def gap(rows, styles: list[str], seed: int = 0, folds: int = 5, repeats: int = 3) -> dict:
    """Cross-validated real-vs-phantom accuracy of a ridge classifier on palm crops."""
    from boneage_fast.data.phantom import render
    from boneage_fast.io import read_image

    real = np.stack([palm_crop(read_image(r["path"]).pixels, r["box"]) for r in rows])
    out = {}
    for style in styles:
        accs = []
        for rep in range(repeats):
            fake = []
            for i, r in enumerate(rows):
                age = r["boneage"] if r["boneage"] is not None else 36.0
                male = r["male"] if r["male"] is not None else bool(i % 2)
                s = render(age, male, seed=10_000 * (rep + 1) + i, bits=8, style=style)
                fake.append(palm_crop(s.image, s.hand_box))
            X = np.concatenate([real, np.stack(fake)]).reshape(2 * len(rows), -1)
            y = np.r_[np.ones(len(rows)), -np.ones(len(rows))]
            rng = np.random.default_rng(seed + rep)
            order = rng.permutation(len(y))
            hits = 0
            for k in range(folds):
                test = order[k::folds]
                train = np.setdiff1d(order, test)
                mu, sd = X[train].mean(0), X[train].std(0) + 1e-6
                A = (X[train] - mu) / sd
                # ridge (dual form: n << d), lambda = d
                lam = A.shape[1]
                alpha = np.linalg.solve(A @ A.T + lam * np.eye(len(train)), y[train] - y[train].mean())
                w = A.T @ alpha
                score = ((X[test] - mu) / sd) @ w + y[train].mean()
                hits += int(np.sum(np.sign(score) == y[test]))
            accs.append(hits / len(y))
        out[style] = {"accuracy": float(np.mean(accs)), "per_repeat": [round(a, 3) for a in accs]}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(HERE, "..", "boneage_fast", "weights"),
                    help="a model folder (regressor.json + detector.json) or a regressor card")
    ap.add_argument("--detector", default=None, help="detector card (with a regressor card as --model)")
    ap.add_argument("--parts", nargs="+", default=["detector", "regressor", "gap"],
                    choices=["detector", "regressor", "gap", "tones", "spectrum", "cortex", "palm", "softbone", "slender",
                             "joints", "forearm", "interosseous", "armtissue", "grain", "texture", "metaphysis", "rim",
                             "physis", "shaft", "palmtissue", "mcbase", "crop", "wrist", "epiphysis", "fingers",
                             "mcplate", "mcspread", "carpus", "youngcarpus", "webs", "firstweb", "thumb", "softgrain",
                             "striation"])
    ap.add_argument("--styles", nargs="+", default=["v1", "v2"], choices=["v1", "v2", "v3", "v4"])
    ap.add_argument("--any-look", action="store_true",
                    help="texture, rim, physis, shaft, palmtissue: phantoms of either look (processed or unprocessed), "
                         "as sections 7.10-7.12 drew them, not the processed look alone")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--compare", nargs=2, default=None, metavar=("A.json", "B.json"),
                    help="only a paired t-test of two earlier --json results' absolute errors")
    args = ap.parse_args(argv)
    if not os.path.isdir(REAL):
        print(f"{REAL}: ../shared/realdata is not beside this checkout", file=sys.stderr)
        return 2
    if args.compare:
        from scipy import stats

        a, b = (json.load(open(f))["models"]["predictions"] for f in args.compare)
        keys = sorted(set(a) & set(b))
        ea = np.array([abs(a[k][1] - a[k][0]) for k in keys])
        eb = np.array([abs(b[k][1] - b[k][0]) for k in keys])
        t = stats.ttest_rel(ea, eb)
        print(json.dumps({"n": len(keys), "mae_a": float(ea.mean()), "mae_b": float(eb.mean()),
                          "t": float(t.statistic), "p": float(t.pvalue)}, indent=2))
        return 0
    rows = real_images()
    res: dict = {"command": "python scripts/phantom_realism_real.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    if {"detector", "regressor"} & set(args.parts):
        res["models"] = run_models(rows, args.model, args.detector)
    if "tones" in args.parts:
        res["tones"] = tones(rows, args.styles)
    if "spectrum" in args.parts:
        res["spectrum"] = spectrum(rows, args.styles)
    if "cortex" in args.parts:
        res["cortex"] = cortex(args.styles)
    if "palm" in args.parts:
        res["palm"] = palm(args.styles)
    if "softbone" in args.parts:
        res["softbone"] = softbone(args.styles)
    if "slender" in args.parts:
        res["slender"] = slender(args.styles)
    if "forearm" in args.parts:
        res["forearm"] = forearm(args.styles)
    if "interosseous" in args.parts:
        res["interosseous"] = interosseous(args.styles)
    if "armtissue" in args.parts:
        res["armtissue"] = armtissue(args.styles)
    if "grain" in args.parts:
        res["grain"] = grain(args.styles)
    if "texture" in args.parts:
        res["texture"] = texture(args.styles, any_look=args.any_look)
    if "metaphysis" in args.parts:
        res["metaphysis"] = metaphysis(args.styles)
    if "rim" in args.parts:
        res["rim"] = rim(args.styles, any_look=args.any_look)
    if "physis" in args.parts:
        res["physis"] = physis(args.styles, any_look=args.any_look)
    if "joints" in args.parts:
        res["joints"] = joints(args.styles, any_look=args.any_look)
    if "shaft" in args.parts:
        res["shaft"] = shaft(args.styles, any_look=args.any_look)
    if "palmtissue" in args.parts:
        res["palmtissue"] = palmtissue(args.styles, any_look=args.any_look)
    if "mcbase" in args.parts:
        res["mcbase"] = mcbase(args.styles)
    if "crop" in args.parts:
        res["crop"] = crop(args.styles)
    if "wrist" in args.parts:
        res["wrist"] = wrist(args.styles)
    if "epiphysis" in args.parts:
        res["epiphysis"] = epiphyses(args.styles)
    if "fingers" in args.parts:
        res["fingers"] = fingers(rows, args.styles)
    if "mcplate" in args.parts:
        res["mcplate"] = mcplate(args.styles)
    if "mcspread" in args.parts:
        res["mcspread"] = mcspread(args.styles)
    if "carpus" in args.parts:
        res["carpus"] = carpus(args.styles)
    if "youngcarpus" in args.parts:
        res["youngcarpus"] = young_carpus(args.styles)
    if "webs" in args.parts:
        res["webs"] = webs(args.styles)
    if "firstweb" in args.parts:
        res["firstweb"] = firstweb(args.styles)
    if "thumb" in args.parts:
        res["thumb"] = thumb(args.styles)
    if "softgrain" in args.parts:
        res["softgrain"] = soft_grain(args.styles)
    if "striation" in args.parts:
        res["striation"] = striation(args.styles)
    if "gap" in args.parts:
        res["gap"] = gap(rows, args.styles)
    text = json.dumps(res, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
