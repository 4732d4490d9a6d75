"""Phantom v2's anatomy and film: carpal packing without overlaps at every age, growth
inside the adult outline, capping then fusing epiphyses, shaped long bones, one smooth
soft-tissue silhouette, oriented texture, ROI geometry inside the real hands' range."""

from __future__ import annotations

import math

import numpy as np
import pytest

from boneage_fast.data import anatomy, film
from boneage_fast.data.anatomy import CARPAL_SHAPE_V2, LongBone, build_hand, sample_subject
from boneage_fast.data.phantom import render

RES = 0.1  # mm per grid cell for the rasterised overlap checks


def _hand(age, male, seed=0, version=2):
    return build_hand(sample_subject(float(age), male, np.random.default_rng(seed), hard_fraction=0.0), version)


def _superellipse_mask(e, xs, ys):
    """Cells of the grid inside an ossicle (written here from the definition:
    |x'/a|^p + |y'/b|^p <= 1 in the ossicle's own rotated frame)."""
    dx, dy = xs - e.centre[0], ys - e.centre[1]
    c, s = math.cos(e.angle), math.sin(e.angle)
    xr = (dx * c + dy * s) / e.axes[0]
    yr = (-dx * s + dy * c) / e.axes[1]
    return np.abs(xr) ** e.exponent + np.abs(yr) ** e.exponent <= 1.0


def _carpal_masks(hand):
    ys, xs = np.mgrid[-40:50:RES, -45:55:RES]
    return {e.name: _superellipse_mask(e, xs, ys) for e in hand.ossicles if e.name in CARPAL_SHAPE_V2}


@pytest.mark.parametrize("male", [True, False])
@pytest.mark.parametrize("age", [6, 30, 60, 84, 108, 132, 156, 180, 228])
def test_carpals_never_overlap(age, male):
    masks = _carpal_masks(_hand(age, male))
    names = sorted(masks)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if {a, b} == {"pisiform", "triquetrum"}:
                continue  # the pisiform lies over the triquetrum on a PA film
            assert not (masks[a] & masks[b]).any(), (age, male, a, b)


def test_adult_carpals_are_packed_with_joint_spaces():
    from scipy import ndimage

    masks = _carpal_masks(_hand(228, True))
    # every carpal but the pisiform has a neighbour within 1.5 mm (adult hand scale ~1)
    for name, m in masks.items():
        if name == "pisiform":
            continue
        dist = ndimage.distance_transform_edt(~m) * RES
        nearest = min(float(dist[o].min()) for k, o in masks.items() if k not in (name, "pisiform"))
        assert 0.3 < nearest < 1.5, (name, nearest)


@pytest.mark.parametrize("male", [True, False])
def test_carpals_grow_and_are_large_by_nine_years(male):
    def area(age, name):
        m = _carpal_masks(_hand(age, male)).get(name)
        return 0.0 if m is None else float(m.sum()) * RES * RES

    caps = [area(a, "capitate") for a in (12, 48, 108, 168, 228)]
    assert all(b >= a for a, b in zip(caps, caps[1:])) and caps[0] > 0
    # at 9 years a carpal bone has more than half its adult size (at the same hand scale)
    nine = build_hand(sample_subject(108.0, male, np.random.default_rng(0), hard_fraction=0.0), 2)
    adult = build_hand(sample_subject(228.0, male, np.random.default_rng(0), hard_fraction=0.0), 2)
    scale = nine.subject.size_scale / adult.subject.size_scale
    a9 = {e.name: e.axes.prod() for e in nine.ossicles if e.name == "capitate"}["capitate"]
    a_ad = {e.name: e.axes.prod() for e in adult.ossicles if e.name == "capitate"}["capitate"]
    assert a9 > 0.5 * a_ad * scale**2


def test_capitate_is_the_largest_carpal():
    adult = {e.name: float(np.prod(e.axes)) for e in _hand(228, True).ossicles if e.name in CARPAL_SHAPE_V2}
    assert max(adult, key=adult.get) == "capitate"


@pytest.mark.parametrize("male", [True, False])
def test_epiphyses_cap_then_fuse(male):
    def epi(age, name="epi_proximal3"):
        return next(e for e in _hand(age, male).ossicles if e.name == name)

    onset = anatomy.event(anatomy.EPIPHYSIS_EVENTS["proximal"][0], male)
    cap_age = anatomy.event(anatomy.EPIPHYSIS_EVENTS["proximal"][1], male)
    fuse_age = anatomy.event(anatomy.EPIPHYSIS_EVENTS["proximal"][2], male)
    assert epi(onset + 6).cap == 0.0  # a young epiphysis is a disc
    assert abs(epi(cap_age + 6).cap) > 0.8  # at capping it wraps the metaphysis
    assert epi(fuse_age + 1).cap == 0.0  # fused: nothing left to wrap
    # the phalangeal epiphysis sits at the base: it wraps the side towards the shaft (+y)
    assert epi(cap_age + 6).cap < 0 and epi(cap_age + 6, "epi_metacarpal3").cap > 0


def test_physis_narrows_and_closes():
    def gap(age):
        h = _hand(age, True)
        bone = next(b for b in h.bones if b.name == "proximal3")
        e = next(o for o in h.ossicles if o.name == "epi_proximal3")
        axis = (bone.p1 - bone.p0) / np.linalg.norm(bone.p1 - bone.p0)
        return float((bone.p0 - e.centre) @ axis - e.axes[1])

    gaps = [gap(a) for a in (60, 120, 190, 215)]
    assert gaps[0] > 0.5 and all(b <= a + 1e-9 for a, b in zip(gaps, gaps[1:])) and gaps[-1] < 0.05


class _Identity:
    """A frame that maps mm to pixels 1:1 (x right, y down), for drawing one bone."""

    scale = 4.0
    m = np.array([[4.0, 0.0], [0.0, 4.0]])

    def __call__(self, p):
        return np.asarray(p, dtype=np.float64) * 4.0


def test_long_bone_flares_at_both_ends_and_has_a_cortex():
    acc = np.zeros((400, 120), np.float32)
    bone = LongBone("metacarpal3", np.array([15.0, 10.0]), np.array([15.0, 90.0]), 4.0, 0.3, 0.45, "metacarpal")
    film.draw_long_bone(acc, bone, _Identity())

    def width(y_mm):
        row = acc[int(y_mm * 4)]
        return float((row > 0).sum()) / 4.0

    mid, base, head = width(50), width(13), width(86)
    assert base > 1.1 * mid and head > 1.2 * mid and mid < 2 * 4.0
    # across the mid-shaft: bone path is highest near the edges (cortex), lower at the canal
    row = acc[200]
    xs = np.nonzero(row > 0)[0]
    centre = row[(xs[0] + xs[-1]) // 2]
    assert row[xs].max() > 1.3 * centre


def test_soft_tissue_is_one_smooth_saturating_silhouette():
    from scipy import ndimage

    s = render(120.0, True, seed=3, size=(1000, 800), nuisance=False, style="v2")
    soft = film.soft_tissue(s.hand, s.frame, s.image.shape)
    assert soft.max() <= film.LOOKS["v2"].soft_saturation_mm + 1e-3
    labels, n = ndimage.label(soft > 1.0)
    assert n == 1  # fingers, palm, thenar eminence and forearm: one silhouette
    # smooth: no step between neighbouring pixels larger than a few per cent of the range
    assert np.abs(np.diff(soft, axis=0)).max() < 0.1 * soft.max()
    assert np.abs(np.diff(soft, axis=1)).max() < 0.1 * soft.max()


def test_soft_tissue_is_only_a_little_brighter_than_the_background():
    s = render(120.0, True, seed=3, size=(1000, 800), nuisance=False, style="v2")
    img = s.image.astype(float)
    soft = film.soft_tissue(s.hand, s.frame, s.image.shape)
    bone = np.zeros_like(soft)
    for b in s.hand.bones:
        film.draw_long_bone(bone, b, s.frame)
    for e in s.hand.ossicles:
        film.draw_ossicle(bone, e, s.frame)
    background = np.median(img[soft < 0.1])
    tissue = np.median(img[(soft > 0.8 * soft.max()) & (bone == 0)])
    bones = np.percentile(img[bone > 3.0], 75)
    assert background < tissue < bones
    # real films (../shared/realdata/rsna_raw7): palm and forearm about half-way from
    # the background to the bone; v1's thick capsules were at 0.7-0.9
    assert tissue - background < 0.55 * (bones - background)


def test_trabecular_texture_runs_along_the_hand_axis():
    def corr(a, axis):
        x, y = (a[1:], a[:-1]) if axis == 0 else (a[:, 1:], a[:, :-1])
        return float(np.corrcoef(x.ravel(), y.ravel())[0, 1])

    t = film.oriented_texture(np.random.default_rng(0), (400, 400), 0.0, 5.0)
    assert abs(t.std() - 1.0) < 0.25 and abs(t.mean()) < 0.1
    # upright hand: the grain is longer along y (the hand axis) than across
    assert corr(t, 0) > corr(t, 1) + 0.03
    turned = film.oriented_texture(np.random.default_rng(0), (400, 400), math.pi / 2, 5.0)
    assert corr(turned, 1) > corr(turned, 0) + 0.03


# Real 5-95 % ranges of the ROI-geometry ratios per bone-age band, measured on the 327
# RSNA hands of ../shared/realdata/rsna_ossification_roi_boxes by
# scripts/phantom_realism.py (docs/phantom_geometry.md): the reference data, not output
# of the code under test.
REAL_RANGES = {
    (0, 60): {"pip_over_mcp": (1.550, 1.713), "dip_over_mcp": (1.896, 2.120), "radius_ulna": (0.330, 0.479)},
    (60, 120): {"pip_over_mcp": (1.498, 1.661), "dip_over_mcp": (1.861, 2.052), "radius_ulna": (0.317, 0.411)},
    (120, 168): {"pip_over_mcp": (1.518, 1.668), "dip_over_mcp": (1.878, 2.080), "radius_ulna": (0.308, 0.398)},
    (168, 228): {"pip_over_mcp": (1.512, 1.633), "dip_over_mcp": (1.859, 2.063), "radius_ulna": (0.294, 0.394)},
}


def _features(boxes):
    by = {}
    for name, x0, y0, x1, y1 in boxes:
        by.setdefault(name, []).append(np.array([(x0 + x1) / 2, (y0 + y1) / 2]))
    w = by["Wrist"][0]
    L = np.median([np.linalg.norm(c - w) for c in by["MCP"]])
    return {"pip_over_mcp": np.median([np.linalg.norm(c - w) for c in by["PIP"]]) / L,
            "dip_over_mcp": np.median([np.linalg.norm(c - w) for c in by["DIP"]]) / L,
            "radius_ulna": np.linalg.norm(by["Radius"][0] - by["Ulna"][0]) / L}


@pytest.mark.parametrize("style", ["v2", "v3"])
@pytest.mark.parametrize("band", sorted(REAL_RANGES))
def test_roi_geometry_falls_inside_the_real_range(band, style):
    lo, hi = band
    rng = np.random.default_rng(lo)
    feats = []
    for i in range(24):
        s = render(float(rng.uniform(lo, hi)), bool(i % 2), seed=1000 + lo + i, size=(640, 512), nuisance=False,
                   style=style)
        feats.append(_features(s.roi_boxes))
    for k, (p5, p95) in REAL_RANGES[band].items():
        inside = np.mean([p5 <= f[k] <= p95 for f in feats])
        assert inside >= 0.6, (band, k, inside)


def test_v2_keeps_the_subject_size_and_rotation_of_the_same_seed():
    a = render(90.0, False, seed=5, style="v1")
    b = render(90.0, False, seed=5, style="v2")
    assert a.image.shape == b.image.shape
    assert a.chronological_age == b.chronological_age and a.boneage == b.boneage and a.male == b.male
    assert a.hand.subject.size_scale == b.hand.subject.size_scale
    assert a.extra["angle_deg"] == b.extra["angle_deg"] and b.extra["style"] == "v2"


def test_eight_bit_films_are_sometimes_jpeg_compressed():
    # JPEG leaves 8x8 block edges: the mean absolute step across block borders exceeds
    # the step inside blocks on some films and on none of the 16-bit ones
    def blockiness(img):
        d = np.abs(np.diff(img.astype(float), axis=1))
        border = d[:, 7::8].mean()
        inner = np.delete(d, np.s_[7::8], axis=1).mean()
        return border / max(inner, 1e-9)

    eight = [blockiness(render(120.0, True, seed=i, size=(512, 512), bits=8, style="v2").image) for i in range(16)]
    sixteen = [blockiness(render(120.0, True, seed=i, size=(512, 512), bits=16, style="v2").image) for i in range(6)]
    assert max(eight) > 1.1 and max(sixteen) < 1.05


@pytest.mark.parametrize("male", [True, False])
def test_young_carpals_are_already_large_and_grow_fastest_first(male):
    # real films: at ~1 year the capitate and hamate are ovals of about half their adult
    # size (at the same hand scale), not dots; growth is fastest soon after onset
    def linear(age, name="capitate"):
        h = _hand(age, male)
        e = next((o for o in h.ossicles if o.name == name), None)
        return 0.0 if e is None else float(np.sqrt(e.axes.prod())) / h.subject.size_scale

    adult = linear(228)
    onset = anatomy.event(anatomy.CARPAL_ONSET["capitate"], male)
    assert linear(onset + 9) > 0.45 * adult
    first, second = linear(onset + 24) - linear(onset), linear(onset + 48) - linear(onset + 24)
    assert first > second > 0
    # v1 keeps its own (slower) curve for the shipped model's phantoms
    assert anatomy.carpal_size("capitate", onset + 9, male, version=1) < 0.3


@pytest.mark.parametrize("male", [True, False])
def test_epiphyses_are_half_as_wide_as_their_metaphyses_within_two_years_of_onset(male):
    for group in ("radius", "proximal", "metacarpal"):
        onset = anatomy.event(anatomy.EPIPHYSIS_EVENTS[group][0], male)
        ratio2 = anatomy.epiphysis_state(group, onset + 24, male, version=2)[0]
        ratio1 = anatomy.epiphysis_state(group, onset + 24, male, version=1)[0]
        assert ratio2 > 0.5 > ratio1, (group, ratio2, ratio1)
        # still monotone up to capping
        ages = np.linspace(onset, anatomy.event(anatomy.EPIPHYSIS_EVENTS[group][1], male), 30)
        r = [anatomy.epiphysis_state(group, a, male, version=2)[0] for a in ages]
        assert all(b >= a for a, b in zip(r, r[1:]))


def test_flared_ends_are_flatter_than_the_shaft():
    # a distal radius: wider than deep, so its path length per unit width falls where it flares
    acc = np.zeros((700, 200), np.float32)
    bone = LongBone("radius", np.array([25.0, 160.0]), np.array([25.0, 10.0]), 6.0, 0.0, 1.0, "radius")
    film.draw_long_bone(acc, bone, _Identity())
    rows = acc[acc.sum(axis=1) > 0]
    mid = rows[len(rows) // 2]
    end = max(rows[: len(rows) // 8], key=lambda r: (r > 0).sum())  # the widest row near p1
    assert (end > 0).sum() > 1.6 * (mid > 0).sum()
    assert end.max() / (end > 0).sum() < 0.8 * mid.max() / (mid > 0).sum()


def test_bright_backgrounds_do_not_saturate_the_bones():
    seen = 0
    for seed in range(80):
        s = render(150.0, True, seed=seed, size=(320, 256), style="v2")
        img = s.image.astype(float) / 65535
        if np.median(img[:, :8]) < 0.2:  # dark background: nothing to check
            continue
        seen += 1
        x0, y0, x1, y1 = (int(v) for v in s.hand_box)
        hand = img[y0:y1, x0:x1]
        assert (hand >= 0.999).mean() < 0.01, seed
    assert seen >= 3
