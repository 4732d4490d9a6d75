"""Phantom v3 (``render(style="v3")``): v2's anatomy with a fitted finger posture, slender
young bones in plumper hands, tapered carpals with a cortical rim, a flattened soft-tissue
cross-section and grey levels fitted to real films. Each test checks the renderer or the
layout against a formula written here, against reference numbers measured on real data
(``../shared/realdata``; re-derived in the realdata test when it is present), or against
v2 where v3 must not change anything."""

from __future__ import annotations

import csv
import glob
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import replace

import numpy as np
import pytest

from boneage_fast.data import anatomy, film
from boneage_fast.data.anatomy import (CARPAL_SHAPE_V2, CARPAL_TAPER_V3, Ellipse, build_hand, sample_posture,
                                       sample_subject)
from boneage_fast.data.phantom import render

REAL = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "realdata")
RES = 0.1  # mm per grid cell

# Finger posture on the 327 RSNA hands of ../shared/realdata/rsna_ossification_roi_boxes
# (degrees; the realdata test below re-derives them): the angle between the index and the
# little finger (MCP -> DIP) and between the thumb (MCP -> IP) and the middle finger.
REAL_FAN = (39.4, 13.7)  # median, SD
REAL_THUMB = (36.4, 13.6)
# Grey levels of the 57 real films (../shared/realdata; scripts/phantom_realism_real.py
# --parts tones): medians over the films of the 20th, 50th and 90th percentiles of the
# hand's pixels (brighter than the box's 5th percentile + 0.08, on a [0, 1] scale).
REAL_TONES = (0.32, 0.52, 0.76)


def _subject(age, male, seed=0):
    return sample_subject(float(age), male, np.random.default_rng(seed), hard_fraction=0.0)


def _angle(u, v) -> float:
    a = math.atan2(u[1], u[0]) - math.atan2(v[1], v[0])
    return abs(math.degrees((a + math.pi) % (2 * math.pi) - math.pi))


def _posture(hand) -> tuple[float, float]:
    """(finger fan, thumb angle) in degrees from the joint centres (hand frame)."""
    mcp = [c for c, _ in hand.joints["MCP"]]
    pip = [c for c, _ in hand.joints["PIP"]]
    dip = [c for c, _ in hand.joints["DIP"]]  # rays 2-5
    fan = _angle(dip[0] - mcp[1], dip[3] - mcp[4])
    thumb = _angle(pip[0] - mcp[0], dip[1] - mcp[2])
    return fan, thumb


def _mask(e: Ellipse, xs, ys, taper=True):
    """Cells inside an ossicle, from the definition: |x'/(a w(y'))|^p + |y'/b|^p <= 1 in
    its own rotated frame, where w falls linearly from 1 to 1 - |taper| towards the
    narrowed end."""
    dx, dy = xs - e.centre[0], ys - e.centre[1]
    c, s = math.cos(e.angle), math.sin(e.angle)
    xr = (dx * c + dy * s) / e.axes[0]
    yr = (-dx * s + dy * c) / e.axes[1]
    if taper and e.taper:
        along = yr if e.taper > 0 else -yr
        xr = xr / (1.0 - abs(e.taper) * np.clip(0.5 * (along + 1.0), 0.0, 1.0))
    return np.abs(xr) ** e.exponent + np.abs(yr) ** e.exponent <= 1.0


def test_posture_matches_the_real_hands():
    fans, thumbs, fans_v2 = [], [], []
    rng = np.random.default_rng(0)
    for i in range(120):
        subj = _subject(rng.uniform(12, 216), bool(i % 2), seed=i)
        fans_v2.append(_posture(build_hand(subj, 2))[0])
        f, t = _posture(build_hand(sample_posture(subj, rng), 3))
        fans.append(f)
        thumbs.append(t)
    for got, (median, sd) in ((fans, REAL_FAN), (thumbs, REAL_THUMB)):
        assert abs(np.median(got) - median) < 5.0, (np.median(got), median)
        assert 0.65 * sd < np.std(got) < 1.35 * sd, (np.std(got), sd)
    # v2's fixed rays: the spread the real hands show is missing
    assert np.std(fans_v2) < 0.5 * REAL_FAN[1]


def test_v2_ignores_the_posture_and_v3_without_it_lays_out_v2s_rays():
    subj = _subject(100, True)
    bent = replace(subj, phalanx_spread=0.3, thumb_abduction=-0.3)
    a, b = build_hand(subj, 2), build_hand(bent, 2)
    for x, y in zip(a.bones, b.bones):
        assert np.array_equal(x.p0, y.p0) and np.array_equal(x.p1, y.p1)
    c = build_hand(subj, 3)  # no posture: v3's bones point where v2's do
    for x, y in zip(a.bones, c.bones):
        assert x.name == y.name
        d0, d1 = x.p1 - x.p0, y.p1 - y.p0
        assert _angle(d0, d1) < 1e-6, x.name
    for cls in ("MCP", "PIP", "DIP", "Radius", "Ulna", "Wrist"):  # ROI boxes of v2's fitted sizes
        assert len(a.joints[cls]) == len(c.joints[cls])
        for (_, h), (_, k) in zip(a.joints[cls], c.joints[cls]):
            assert h == pytest.approx(k, rel=1e-9)


def test_the_phalanges_turn_at_the_mcp_joint():
    subj = _subject(150, False)
    h2, h3 = build_hand(subj, 3), build_hand(replace(subj, phalanx_spread=0.2, thumb_abduction=0.25), 3)
    by2, by3 = {b.name: b for b in h2.bones}, {b.name: b for b in h3.bones}
    for ray, turn in ((1, 0.25), (2, 0.2 * 0.6), (3, 0.0), (4, -0.2 * 0.6), (5, -0.2 * 1.2)):
        # metacarpals unchanged, every phalanx of the ray turned by the same angle
        assert np.allclose(by2[f"metacarpal{ray}"].p1, by3[f"metacarpal{ray}"].p1)
        for g in ("proximal", "middle", "distal"):
            name = f"{g}{ray}"
            if name not in by2:
                continue
            d2, d3 = by2[name].p1 - by2[name].p0, by3[name].p1 - by3[name].p0
            got = math.atan2(d2[1], d2[0]) - math.atan2(d3[1], d3[0])
            assert got == pytest.approx(turn, abs=1e-9), name


@pytest.mark.parametrize("age", [30, 84, 132, 180, 228])
def test_tapered_carpals_never_overlap(age):
    hand = build_hand(sample_posture(_subject(age, age % 2 == 0), np.random.default_rng(age)), 3)
    ys, xs = np.mgrid[-40:50:RES, -45:55:RES]
    masks = {e.name: _mask(e, xs, ys) for e in hand.ossicles if e.name in CARPAL_SHAPE_V2}
    names = sorted(masks)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if {a, b} == {"pisiform", "triquetrum"}:
                continue  # the pisiform lies over the triquetrum on a PA film
            assert not (masks[a] & masks[b]).any(), (age, a, b)


def test_taper_narrows_the_drawn_outline_to_the_formula():
    """The renderer's tapered ossicle against the definition: widths at y' = +-0.8."""

    class Frame:  # 1 mm per pixel, hand frame = pixel frame with y flipped
        scale = 1.0
        m = np.array([[1.0, 0.0], [0.0, -1.0]])

        def __call__(self, p):
            return np.asarray(p, dtype=np.float64) * np.array([1.0, -1.0]) + np.array([100.0, 100.0])

    for taper in (0.4, -0.4):
        e = Ellipse("capitate", np.array([0.0, 0.0]), np.array([30.0, 50.0]), 0.0, 1.0, 2.0, taper=taper)
        acc = np.zeros((200, 200), np.float32)
        film.draw_ossicle(acc, e, Frame())
        inside = acc > 0
        plain = np.zeros_like(acc)
        film.draw_ossicle(plain, replace(e, taper=0.0), Frame())
        assert not (inside & ~(plain > 0)).any()  # narrowing only
        width = {}
        for yr in (0.8, -0.8):
            row = int(round(100 - yr * 50))  # own +y is the image's -y
            width[yr] = inside[row].sum()
        narrow, wide = (0.8, -0.8) if taper > 0 else (-0.8, 0.8)
        expect = (1 - 0.4 * 0.9) / (1 - 0.4 * 0.1)
        assert width[narrow] / width[wide] == pytest.approx(expect, abs=0.05)


def test_carpals_take_their_taper_as_they_mature():
    young = {e.name: e for e in build_hand(_subject(40, True), 3).ossicles}
    adult = {e.name: e for e in build_hand(_subject(228, True), 3).ossicles}
    assert adult["hamate"].taper == pytest.approx(CARPAL_TAPER_V3["hamate"])
    assert abs(young["hamate"].taper) < abs(adult["hamate"].taper)
    assert all(e.taper == 0.0 for e in build_hand(_subject(228, True), 2).ossicles)


def test_young_bones_are_slender_and_their_soft_tissue_plump():
    young, adult = _subject(30, True), _subject(216, True)
    for subj, thinner in ((young, True), (adult, False)):
        h2, h3 = build_hand(subj, 2), build_hand(subj, 3)
        w2 = np.array([b.half_width for b in h2.bones])
        w3 = np.array([b.half_width for b in h3.bones])
        r2 = np.array([t[2] for t in h2.tissue])
        r3 = np.array([t[2] for t in h3.tissue])
        s = subj.size_scale
        # v3 widths scale with the hand's size (s), v2's with s^0.75; tissue with s^0.6
        assert np.allclose(w3 / w2, s ** 0.25, rtol=1e-6)
        assert np.allclose(r3 / r2, s ** -0.15, rtol=1e-6)
        assert (w3.mean() < 0.9 * w2.mean()) == thinner


def test_flattened_soft_tissue_path_follows_its_formula():
    class Frame:
        scale = 1.0

        def __call__(self, p):
            return np.asarray(p, dtype=np.float64)

    r = 20.0
    for flat in (False, True):
        acc = np.zeros((60, 200), np.float32)
        film.tissue_t4(acc, np.array([40.0, 30.0]), np.array([160.0, 30.0]), r, Frame(), flat=flat)
        q = np.abs(np.arange(60) - 30.0)
        got = acc[:, 100].astype(np.float64) ** 0.25
        inside = np.clip(1 - (q / r) ** 2, 0, None)
        want = 2 * r * (inside ** 0.25 if flat else inside ** 0.5)
        assert np.allclose(got, want, rtol=1e-4, atol=1e-3), flat
    # the flat section keeps most of its path out near the skin: a crisp edge
    assert (1 - 0.9 ** 2) ** 0.25 > 0.65 > (1 - 0.9 ** 2) ** 0.5


def test_display_lut_follows_its_formula():
    level = np.linspace(0, 1, film.LUT_LEVELS)
    for gamma, k in ((0.55, None), (0.5, 0.9), (1.1, 0.97)):
        want = (np.log1p(-k * level) / np.log1p(-k) if k else level) ** gamma * 65535
        got = film.display_lut(gamma, k, 16).astype(np.float64)
        assert np.abs(got - want).max() <= 0.5 + 1e-9
        assert got[0] == 0 and got[-1] == 65535 and np.all(np.diff(got) >= 0)
    # the log curve darkens the middle of the range: soft tissue lower, bone spread out
    lin, log = film.display_lut(1.0, None, 8), film.display_lut(1.0, 0.9, 8)
    mid = film.LUT_LEVELS // 2
    assert log[mid] < lin[mid]


def test_v3_carpals_show_a_cortical_rim():
    """A carpal's projection: brighter just inside its outline than at its centre in v3
    (a cortical shell over sparse cancellous bone), the reverse in v2."""

    class Frame:
        scale = 4.0
        m = np.array([[4.0, 0.0], [0.0, -4.0]])

        def __call__(self, p):
            return np.asarray(p, dtype=np.float64) * np.array([4.0, -4.0]) + np.array([100.0, 100.0])

    e = Ellipse("lunate", np.array([0.0, 0.0]), np.array([7.0, 6.0]), 0.0, 1.0, 2.8)
    rows = {}
    for style in ("v2", "v3"):
        look = film.LOOKS[style]
        acc = np.zeros((200, 200), np.float32)
        film.draw_ossicle(acc, e, Frame(), look.ossicle_cortex, look.ossicle_cancellous)
        rows[style] = acc[100]
    for style, rim_brighter in (("v2", False), ("v3", True)):
        row = rows[style]
        edge = np.nonzero(row > 0)[0].max()
        rim = row[edge - 6:edge].max()
        assert (rim > 1.05 * row[100]) == rim_brighter, (style, rim, row[100])


def _tones(image, box):
    x0, y0, x1, y1 = (int(v) for v in box)
    c = image[y0:y1:2, x0:x1:2].ravel()
    fg = c[c > np.percentile(c, 5) + 0.08]
    return np.percentile(fg, [20, 50, 90])


def test_v3_grey_levels_are_those_of_real_films():
    rng = np.random.default_rng(3)
    got = {}
    for style in ("v2", "v3"):
        t = []
        for i in range(16):
            s = render(float(rng.uniform(12, 216)), bool(i % 2), seed=300 + i, bits=8, size_scale=0.35, style=style)
            t.append(_tones(s.image.astype(np.float64) / 255, s.hand_box))
        got[style] = np.median(t, axis=0)
    assert np.abs(got["v3"] - REAL_TONES).max() < 0.1, got["v3"]
    assert np.abs(got["v2"] - REAL_TONES).max() > 0.15, got["v2"]  # what v3 fixes


def test_v3_keeps_v2s_subject_size_and_rotation():
    a = render(90.0, False, seed=5, style="v2")
    b = render(90.0, False, seed=5, style="v3")
    assert a.image.shape == b.image.shape and a.extra["angle_deg"] == b.extra["angle_deg"]
    assert a.hand.subject.size_scale == b.hand.subject.size_scale and b.extra["style"] == "v3"


def test_v3_speed_sanity():
    """Correctness of a large film (the speed target is in benchmarks/bench_phantom.py)."""
    s = render(120.0, True, seed=1, size=(1280, 1024), style="v3")
    assert s.image.shape == (1280, 1024) and s.image.dtype == np.uint16
    assert 0 < s.image.mean() < 65535


# ------------------------------------------------------------------ real data
def _real_posture():
    files = sorted(glob.glob(os.path.join(REAL, "rsna_ossification_roi_boxes", "annotations", "**", "*.xml"),
                             recursive=True))
    from scipy.optimize import linear_sum_assignment

    seen, fans, thumbs = set(), [], []
    for path in files:
        rid = os.path.basename(path)
        if rid in seen:
            continue
        seen.add(rid)
        by: dict[str, list] = {}
        for o in ET.parse(path).getroot().iter("object"):
            b = o.find("bndbox")
            x0, y0, x1, y1 = (float(b.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
            by.setdefault(o.find("name").text, []).append(np.array([(x0 + x1) / 2, (y0 + y1) / 2]))
        if len(by.get("MCP", [])) != 5 or len(by.get("PIP", [])) != 5 or len(by.get("DIP", [])) != 4:
            continue
        M, P, D = (np.array(by[k]) for k in ("MCP", "PIP", "DIP"))
        r, c = linear_sum_assignment(((M[:, None] - P[None]) ** 2).sum(-1))
        P = P[c[np.argsort(r)]]
        r2, c2 = linear_sum_assignment(((P[:, None] - D[None]) ** 2).sum(-1))
        dip_of = dict(zip(r2, c2))
        thumb = [i for i in range(5) if i not in dip_of]
        if len(thumb) != 1:
            continue
        t = thumb[0]
        fingers = sorted(dip_of, key=lambda i: np.linalg.norm(M[i] - M[t]))  # index .. little
        d = {i: D[dip_of[i]] - M[i] for i in fingers}
        fans.append(_angle(d[fingers[0]], d[fingers[3]]))
        thumbs.append(_angle(P[t] - M[t], d[fingers[1]]))
    return np.array(fans), np.array(thumbs)


@pytest.mark.skipif(not os.path.isdir(os.path.join(REAL, "rsna_ossification_roi_boxes")),
                    reason="needs ../shared/realdata/rsna_ossification_roi_boxes")
def test_the_posture_reference_is_what_the_real_boxes_say():
    fans, thumbs = _real_posture()
    assert len(fans) > 300
    for got, (median, sd) in ((fans, REAL_FAN), (thumbs, REAL_THUMB)):
        assert np.median(got) == pytest.approx(median, abs=0.2)
        assert np.std(got) == pytest.approx(sd, abs=0.2)


@pytest.mark.skipif(not os.path.isdir(os.path.join(REAL, "rsna_raw7")), reason="needs ../shared/realdata")
def test_the_tone_reference_is_what_the_real_films_say():
    from PIL import Image

    boxes = {}
    here = os.path.join(os.path.dirname(__file__), "..", "scripts", "data", "real_hand_boxes.csv")
    with open(here) as f:
        for r in csv.DictReader(f):
            boxes[(r["set"], r["id"])] = tuple(float(r[k]) for k in ("x0", "y0", "x1", "y1"))
    tones = []
    for sub in ("rsna_raw7", "rsna_preprocessed_train40", "raw_unlabeled10"):
        with open(os.path.join(REAL, sub, "labels.csv")) as f:
            for r in csv.DictReader(f):
                im = np.asarray(Image.open(os.path.join(REAL, sub, r["path"])).convert("L"), np.float64) / 255
                tones.append(_tones(im, boxes[(sub, r["id"])]))
    assert len(tones) == 57
    assert np.allclose(np.median(tones, axis=0), REAL_TONES, atol=0.01)


def test_young_bone_ends_are_cartilage_and_mature_ones_v2s_layout():
    """Before an epiphysis ossifies, v3's shaft stops short of the joint by the room the
    cartilage takes: a quarter of the segment (a twenty-fifth at a metacarpal head) plus
    the physis; v2 draws the whole segment. Mature hands keep v2's joints."""
    infant = _subject(4, True)
    h2, h3 = build_hand(infant, 2), build_hand(infant, 3)
    assert all(r == 0.0 for r, _ in h3.epiphyses.values())  # nothing ossified at 4 months
    by2, by3 = {b.name: b for b in h2.bones}, {b.name: b for b in h3.bones}
    physis = 1.1  # v3's physis before ossification, mm
    for name, share in (("proximal3", 0.25), ("middle2", 0.25), ("distal4", 0.25), ("metacarpal1", 0.25),
                        ("metacarpal3", 0.04)):
        seg = float(np.linalg.norm(by2[name].p1 - by2[name].p0))  # v2: the whole segment
        got = float(np.linalg.norm(by3[name].p1 - by3[name].p0))
        assert got == pytest.approx(seg - share * seg - physis, rel=1e-6), name
    for age in (200, 228):
        a, b = build_hand(_subject(age, False), 2), build_hand(_subject(age, False), 3)
        L = np.median([np.linalg.norm(c) for c, _ in a.joints["MCP"]])
        for cls in ("MCP", "PIP", "DIP"):
            for (p, _), (q, _) in zip(a.joints[cls], b.joints[cls]):
                assert np.linalg.norm(p - q) < 0.03 * L, (age, cls)


def test_a_fifth_of_v3_films_are_unprocessed_grey_films():
    """v3 draws film.RAW_FRACTION of its films with the "v3_raw" look: a grey background
    under a faint hand, as the raw films of ../shared/realdata (background 0.15-0.45 on
    [0, 1]), where a processed v3 film is dark around the hand."""
    raw_bg, processed_bg = [], []
    for seed in range(120):
        s = render(60.0, seed % 2 == 0, seed=seed, size=(320, 256), bits=8, style="v3")
        raw = s.extra["unprocessed"]
        x0, y0, x1, y1 = (int(v) for v in s.hand_box)
        level = float(np.percentile(s.image[y0:y1, x0:x1], 5)) / 255
        (raw_bg if raw else processed_bg).append(level)
    n = len(raw_bg) + len(processed_bg)
    assert abs(len(raw_bg) / n - film.RAW_FRACTION) < 3 * math.sqrt(film.RAW_FRACTION * 0.8 / n)
    assert np.median(raw_bg) > 0.25 and np.median(processed_bg) < 0.2
    assert np.median(raw_bg) - np.median(processed_bg) > 0.15
    # without nuisance a v3 film is always processed
    assert not any(render(60.0, True, seed=seed, size=(320, 256), nuisance=False, style="v3").extra["unprocessed"]
                   for seed in range(20))
