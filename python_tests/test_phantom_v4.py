"""Phantom v4 (``render(style="v4")``): v3 with mature carpals that touch and overlap in
projection (lighter, the lunate and scaphoid curved, cut along flat facets), radial and
ulnar epiphyses that rise to their styloids and sink into their metaphyses as they fuse,
a fuller palm narrowing into tapered fingers, a trabecular network in the bone, less
saturated thick soft tissue, windowed processed films and a hand that fills the film;
v3's subject and posture seed for seed, and v3's layout and boxes but for the fanned
metacarpals, the thumb and the young phalanges of section 7.18 (fixture ``v3_layout``)."""

from __future__ import annotations

import math
import os
from dataclasses import replace

import numpy as np
import pytest

from boneage_fast import _C
from boneage_fast.data import anatomy, film
from boneage_fast.data.anatomy import (CARPAL_BEND_V4, CARPAL_DENSITY_V4, CARPAL_GROWTH_V4, CARPAL_SHAPE_V2,
                                       PALM_V4, RADIAL_EPIPHYSIS_DENSITY_V4, RAY_WIDTH_V4,
                                       FINGER_V4, build_hand,
                                       carpal_size, sample_posture, sample_subject)
from boneage_fast.data.phantom import render

from _scripts import load_script

_REAL = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "realdata")

RES = 0.1  # mm per grid cell for the rasterised overlap checks


def _hands(age, male, seed=0):
    subject = sample_posture(sample_subject(float(age), male, np.random.default_rng(seed), hard_fraction=0.0),
                             np.random.default_rng([seed, 3]))
    return build_hand(subject, 3), build_hand(subject, 4)


@pytest.fixture
def v3_layout(monkeypatch):
    """v4 drawn on version 3's layout (section 7.18's fan, thumb and young phalanges off)
    and version 3's growth of the epiphyses' width (section 7.21's off) and build of the
    young fingers (section 7.22's off), version 3's metacarpal bases (section 7.24's
    off), version 3's wrist (section 7.26's off), no finger webs (section 7.27's off) and
    version 3's first web and thumb's soft tissue (section 7.28's off) and version 4's
    young forearm and carpus before sections 7.29 and 7.30, and version 3's frame rotation
    and film aspect (section 7.33's off), and version 3's MCP joints and grown phalanges
    (section 7.34's off), for the tests that compare its bones and soft tissue with v3's
    in place."""
    from boneage_fast.data import phantom

    monkeypatch.setattr(phantom, "FRAME_TILT_V4", None)
    monkeypatch.setattr(phantom, "FILM_ASPECT_V4", None)
    monkeypatch.setattr(anatomy, "WRIST_YOUNG_V4", None)
    monkeypatch.setattr(anatomy, "YOUNG_FOREARM_V4", None)
    monkeypatch.setattr(anatomy, "YOUNG_CARPUS_V4", None)
    monkeypatch.setattr(anatomy, "FINGER_WEB_V4", None)
    monkeypatch.setattr(anatomy, "FIRST_WEB_V4", None)
    monkeypatch.setattr(anatomy, "THUMB_TISSUE_V4", None)
    monkeypatch.setattr(anatomy, "METACARPAL_FAN_V4", (1.0, 1.0, 1.0))
    monkeypatch.setattr(anatomy, "METACARPAL_BASE_SPREAD_V4", None)
    monkeypatch.setattr(anatomy, "YOUNG_FINGERS_V4", None)
    monkeypatch.setattr(anatomy, "RADIAL_EPIPHYSIS_WIDE_V4", None)
    monkeypatch.setattr(anatomy, "RAY_EPIPHYSIS_WIDE_V4", None)
    monkeypatch.setattr(anatomy, "THUMB_V4", (0.0, 1.0))
    monkeypatch.setattr(anatomy, "YOUNG_PHALANX_V4", 0.0)
    monkeypatch.setattr(anatomy, "MCP_JOINT_V4", None)
    monkeypatch.setattr(anatomy, "PHALANX_GROWN_V4", None)


def _mask(e, xs, ys, facets=True):
    """Cells inside an ossicle, from the definition: |x'/(a w(y'))|^p + |y''/b|^p <= 1 in
    its own rotated frame, w falling linearly to 1 - |taper| towards the narrowed end
    (x' shifted by lean (1 - w): the narrowing taken from one side),
    y'' = y' - bend x'^2 (a curved midline), its +y half divided by 1 + slope x' +
    hollow x'^2 (x' clamped to +-1; a raised articular side), n . p <= t for each facet."""
    dx, dy = xs - e.centre[0], ys - e.centre[1]
    c, s = math.cos(e.angle), math.sin(e.angle)
    xr = (dx * c + dy * s) / e.axes[0]
    yr = (-dx * s + dy * c) / e.axes[1] - e.bend * ((dx * c + dy * s) / e.axes[0]) ** 2
    xc = np.clip(xr, -1.0, 1.0)
    yr = np.where(yr > 0, yr / (1.0 + e.slope * xc + e.hollow * xc * xc), yr)
    if e.taper:
        along = yr if e.taper > 0 else -yr
        w = abs(e.taper) * np.clip(0.5 * (along + 1.0), 0.0, 1.0)
        xr = (xr - e.lean * w) / (1.0 - w)
    inside = np.abs(xr) ** e.exponent + np.abs(yr) ** e.exponent <= 1.0
    for nx, ny, t in (e.facets if facets else ()):  # and on the kept side of each facet
        inside &= nx * xs + ny * ys <= t
    return inside


# version 3's metacarpal flares (base, head)
_V3_METACARPAL_FLARE = (0.22, 0.45)


def _stubby(subject):
    """How much wider version 4 draws a young hand's metacarpal shafts: the height at the
    subject's chronological age over the adult height, to the power -0.5."""
    return anatomy.stature_fraction(subject.chronological_age, subject.male) ** -0.5


def _smoothstep(x):
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


@pytest.mark.parametrize("age, male", [(20, True), (60, False), (132, True), (200, True), (228, False)])
def test_carpals_grow_past_their_v3_outline_as_they_mature(age, male, v3_layout):
    h3, h4 = _hands(age, male, seed=age)
    c3 = {e.name: e for e in h3.ossicles if e.name in CARPAL_SHAPE_V2}
    c4 = {e.name: e for e in h4.ossicles if e.name in CARPAL_SHAPE_V2}
    assert c3.keys() == c4.keys() and c3
    for name, e in c4.items():
        f = carpal_size(name, float(age), male, 3)
        assert 0.4 <= f <= 1.0
        mature = _smoothstep((f - 0.4) / 0.6)
        np.testing.assert_allclose(e.axes, c3[name].axes * (1.0 + 0.3 * mature), rtol=1e-12)
        # same place, angle, exponent and taper; lighter; the lunate and scaphoid curved
        assert np.array_equal(e.centre, c3[name].centre) and e.angle == c3[name].angle
        assert e.exponent == c3[name].exponent and e.taper == c3[name].taper
        assert e.density == 0.7 and c3[name].density == 1.0 and c3[name].bend == 0.0
        assert e.bend == pytest.approx({"lunate": 0.35, "scaphoid": 0.3}.get(name, 0.0) * mature, abs=1e-12)
    epi3 = {e.name: e for e in h3.ossicles if e.name.startswith("epi_")}
    epi4 = {e.name: e for e in h4.ossicles if e.name.startswith("epi_")}
    assert epi3.keys() == epi4.keys()
    stubby = _stubby(h4.subject)
    for name, e in epi4.items():
        same = ("angle", "exponent", "cap")
        assert all(np.array_equal(getattr(e, k), getattr(epi3[name], k)) for k in same), name
        forearm = name in ("epi_radius", "epi_ulna")
        # fusing, an epiphysis grows 1 mm (adult) into its metaphysis, its joint side kept:
        # as much thicker, its centre half that towards its own bone's shaft
        group = name[4:] if forearm else ("thumb_metacarpal" if name == "epi_metacarpal1" else name[4:-1])
        fused = 1.0 * h4.epiphyses[group][1] * h4.subject.size_scale
        # a metacarpal head's epiphysis (rays 2-5) at least METACARPAL_HEAD_V4 as thick as
        # wide, the extra taken from its shaft's end (at most a quarter of the shaft)
        dome = 0.0
        if name[4:-1] == "metacarpal" and name != "epi_metacarpal1":
            shaft3 = next(b for b in h3.bones if b.name == name[4:])
            dome = min(max(0.7 * 2 * e.axes[0] - 2 * epi3[name].axes[1], 0.0),
                       0.25 * np.hypot(*(shaft3.p1 - shaft3.p0)))
        # the radius' and ulna's physes 0.2 mm (FOREARM_PHYSIS_V4) where v3's are 1.2 (adult),
        # until they fuse: the epiphysis that much nearer its shaft
        nearer = (1.2 - 0.2) * (1.0 - h4.epiphyses[group][1]) * h4.subject.size_scale if forearm else 0.0
        assert e.axes[1] == pytest.approx(epi3[name].axes[1] + fused / 2 + dome / 2, abs=1e-12)
        moved = e.centre - epi3[name].centre
        assert np.hypot(*moved) == pytest.approx(fused / 2 + dome / 2 + nearer, abs=1e-12)
        if fused or dome or nearer:
            shaft = next(b for b in h4.bones if b.name == name[4:])
            assert moved @ ((shaft.p0 + shaft.p1) / 2 - epi3[name].centre) > 0, name
        # ... and rise to their styloids as they take their full width
        styloid = {"epi_radius": (0.6, 0.35), "epi_ulna": (-0.9, 0.3)}.get(name, (0.0, 0.0))
        grown = min(h4.epiphyses[name[4:]][0], 1.0) if forearm else 0.0
        assert (e.slope, e.hollow) == pytest.approx((styloid[0] * grown, styloid[1] * grown), abs=1e-12), name
        # a ray's epiphysis as wide as its bone's end: RAY_WIDTH_V4 times v3's, and a
        # young metacarpal's the end of a shaft drawn wider but flaring less (as wide as
        # v3's end, or the shaft where that is wider)
        # the forearm's: stubby times as wide, the ulna's end flared as the radius'
        # (twice its shaft's half-width where v3's was 1.3 times)
        wider = {"epi_radius": stubby, "epi_ulna": stubby * 2.0 / 1.3}.get(name, RAY_WIDTH_V4)
        if name.startswith("epi_metacarpal"):
            flare = _V3_METACARPAL_FLARE[0 if name == "epi_metacarpal1" else 1]
            wider = RAY_WIDTH_V4 * max(1.0 + flare, stubby) / (1.0 + flare)
        assert e.axes[0] == pytest.approx(epi3[name].axes[0] * wider, rel=1e-12)
        if name == "epi_radius":
            assert e.density == 0.8 and e.bend == 0.0
        else:
            assert e.density == 1.0 and e.bend == 0.0
    # the same layout: every bone runs between the same ends but metacarpals 2-5, drawn
    # short of their heads by their epiphyses' extra thickness (above; the epiphysis'
    # joint side where it was); the rays' bones are drawn RAY_WIDTH_V4 times as wide
    # (1.0 since section 7.4), the forearm's as wide
    assert [(b.name, tuple(b.p0)) for b in h3.bones] == [(b.name, tuple(b.p0)) for b in h4.bones]
    for b3, b4 in zip(h3.bones, h4.bones):
        name = "epi_" + b3.name
        if b3.name[:-1] == "metacarpal" and b3.name != "metacarpal1" and name in epi4:
            group_fused = 1.0 * h4.epiphyses["metacarpal"][1] * h4.subject.size_scale
            dome = 2 * (epi4[name].axes[1] - epi3[name].axes[1]) - group_fused
            unit = (b3.p1 - b3.p0) / np.hypot(*(b3.p1 - b3.p0))
            np.testing.assert_allclose(b4.p1, b3.p1 - unit * dome, atol=1e-9)
            # the epiphysis' joint side: half its thickness beyond its centre, as in v3
            np.testing.assert_allclose(epi4[name].centre + unit * epi4[name].axes[1],
                                       epi3[name].centre + unit * epi3[name].axes[1], atol=1e-9)
        else:
            assert np.array_equal(b3.p1, b4.p1), b3.name
        if b3.name in ("radius", "ulna"):
            # young stouter (stubby, flares kept), the ulna flaring as the radius does
            assert b4.half_width == pytest.approx(b3.half_width * stubby, rel=1e-12), b3.name
            assert (b3.flare0, b3.flare1) == (0.0, 1.0 if b3.name == "radius" else 0.3)
            assert (b4.flare0, b4.flare1) == (0.0, 1.0)
            continue
        # the rays' shafts RAY_WIDTH_V4 times as wide, and young metacarpals stubbier:
        # growth^-0.5 times, flaring less so that their ends stay as wide as v3's (at
        # least the shaft); the phalanges keep v3's build
        stout = stubby if b3.name.startswith("metacarpal") else 1.0
        # metacarpals 2-5 (section 7.14): the shaft as wide as v3's until 84 months of bone
        # age, 0.9 times from 144 (linear between), the head as wide as v3's, the base
        # flaring 0.75 over 0.22 of the length, its corners rounded over 0.8 of the
        # half-width (v3: 0.22 over 0.15, square)
        slim = b3.name in ("metacarpal2", "metacarpal3", "metacarpal4", "metacarpal5")
        ba = h4.subject.bone_age
        shaft = (1.0 - 0.1 * min(max((ba - 84.0) / 60.0, 0.0), 1.0)) if slim else 1.0
        assert b4.half_width == pytest.approx(b3.half_width * RAY_WIDTH_V4 * shaft * stout, rel=1e-12), b3.name
        flares = ((0.75, b4.flare0), ((1.0 + b3.flare1) / shaft - 1.0, b4.flare1)) if slim else \
            ((b3.flare0, b4.flare0), (b3.flare1, b4.flare1))
        for f3, f4 in flares:
            assert f4 == pytest.approx(max((1.0 + f3) / stout - 1.0, 0.0), abs=1e-12), b3.name
        assert (b4.base_span, b4.base_round) == ((0.22, 0.8) if slim else (0.15, None)), b3.name
        assert (b3.base_span, b3.base_round) == (0.15, None), b3.name
    # the same joints, boxes' centres and sizes
    assert {k: [(tuple(c), r) for c, r in v] for k, v in h3.joints.items()} == \
        {k: [(tuple(c), r) for c, r in v] for k, v in h4.joints.items()}
    # soft tissue: the same capsules (per ray a finger, then the palm round its
    # metacarpal; then the palm and the forearm; then the first web), the palm's 1.15
    # times fuller, the forearm's 1.15 x 0.8 x 1.4 when young, falling to 1.25 from 84
    # to 144 months of bone age (its own section exponent 1, the others the look's); the
    # first web's as v3's, WEB_V4 times the palm's 1.15 deeper; the fingers 0.92 times at the MCP joint,
    # tapering to 0.75 of that, on the same axis, their tips 4 mm (adult) beyond the
    # distal tuft; the palm round each metacarpal narrowing to 0.6 at its head
    # (v4's sixteenth and seventeenth, section 7.20's eminences: their own test)
    assert len(h3.tissue) == 15 and len(h4.tissue) == 17
    assert h4.tissue_sections == {11: 1.0} and h3.tissue_sections == {}
    assert h4.tissue_depths == {i: pytest.approx(1.15 * anatomy.WEB_V4) for i in (12, 13, 14)}
    assert h3.tissue_depths == {}
    ba = h4.subject.bone_age
    arm = 1.4 if ba <= 84 else 1.25 if ba >= 144 else 1.4 - 0.15 * (ba - 84) / 60
    s = h4.subject.size_scale
    for i, ((a0, a1, ra, ra1), (b0, b1, rb, rb1)) in enumerate(zip(h3.tissue, h4.tissue)):
        assert ra1 == ra  # v3's capsules have one radius
        finger, ray_palm = i < 10 and i % 2 == 0, i < 10 and i % 2 == 1
        scale = 0.92 if finger else 1.15 * 0.8 * arm if i == 11 else 1.15 if i < 12 else 1.0
        # the thumb's own palm capsule 0.6 times (section 7.14: no lobe past its radial side)
        scale *= 0.6 if i == 1 else 1.0
        assert rb == pytest.approx(scale * ra, rel=1e-12), i
        taper = 0.75 if finger else 0.6 if ray_palm else 1.0
        assert rb1 == pytest.approx(taper * rb, rel=1e-12), i
        if i in (12, 13):
            # the first web's proximal capsules: their thumb end 0.45 of their radius
            # towards the index ray, on the same line (reaching 0.55 r past the thumb's axis)
            u = (a1 - a0) / np.hypot(*(a1 - a0))
            np.testing.assert_allclose(b0, a0 + u * 0.45 * ra, rtol=0, atol=1e-9)
            np.testing.assert_allclose(b1, a1, rtol=0, atol=1e-9)
            continue
        assert np.array_equal(a0, b0)
        if finger:  # the end on the fingertip's axis, the pad 4 mm beyond the tuft
            tip = next(b for b in h3.bones if b.name == f"distal{i // 2 + 1}")
            u = (tip.p1 - tip.p0) / np.hypot(*(tip.p1 - tip.p0))
            np.testing.assert_allclose(b1 + u * rb1, tip.p1 + u * 4.0 * s, rtol=0, atol=1e-9)
            # well inside v3's fingertip
            assert (a1 + u * ra - tip.p1) @ u > 4.0 * s + 1.0
        else:
            assert np.array_equal(a1, b1)
    assert (CARPAL_GROWTH_V4, CARPAL_DENSITY_V4, RADIAL_EPIPHYSIS_DENSITY_V4, RAY_WIDTH_V4,
            PALM_V4, FINGER_V4) == (0.3, 0.7, 0.8, 1.0, 1.15, 0.92)
    assert (anatomy.FINGER_TAPER_V4, anatomy.FINGER_PAD_V4, anatomy.PALM_TAPER_V4, anatomy.FOREARM_V4) == \
        (0.75, 4.0, 0.6, 0.8)
    assert (anatomy.RADIAL_STYLOID_V4, anatomy.ULNAR_STYLOID_V4, anatomy.FUSION_OVERLAP_V4) == \
        ((0.6, 0.35), (-0.9, 0.3), 1.0)
    assert CARPAL_BEND_V4 == {"lunate": 0.35, "scaphoid": 0.3}


def test_newly_ossified_carpals_keep_their_v3_size():
    # at onset a carpal is 0.4 of its adult size, and the growth has not started
    age = anatomy.event(anatomy.CARPAL_ONSET["lunate"], True) + 0.5
    h3, h4 = _hands(age, True)
    l3 = next(e for e in h3.ossicles if e.name == "lunate")
    l4 = next(e for e in h4.ossicles if e.name == "lunate")
    assert np.allclose(l4.axes, l3.axes, rtol=1e-3)


def test_mature_carpals_touch_and_overlap_a_little():
    """The grown outlines (before their facets are cut) touch and overlap."""
    h3, h4 = _hands(228, True)
    ys, xs = np.mgrid[-40:50:RES, -45:55:RES]
    masks = {e.name: _mask(e, xs, ys, facets=False) for e in h4.ossicles if e.name in CARPAL_SHAPE_V2}
    masks3 = {e.name: _mask(e, xs, ys) for e in h3.ossicles if e.name in CARPAL_SHAPE_V2}
    # neighbours on a PA film whose projections overlap
    for a, b in (("capitate", "hamate"), ("capitate", "lunate"), ("trapezium", "trapezoid"),
                 ("capitate", "trapezoid"), ("scaphoid", "lunate")):
        assert (masks[a] & masks[b]).any(), (a, b)
        assert not (masks3[a] & masks3[b]).any(), (a, b)  # v3: a mosaic with gaps
    # ... by a few millimetres: no carpal more than a third under another one
    for a in masks:
        for b in masks:
            if a == b or {a, b} == {"pisiform", "triquetrum"}:
                continue  # the pisiform lies over the triquetrum on a PA film
            share = (masks[a] & masks[b]).sum() / masks[a].sum()
            assert share < 1 / 3, (a, b, share)


def _articulating(hand):
    """v4's faceted bones: the carpals but the pisiform, and the radial epiphysis."""
    return {e.name: e for e in hand.ossicles
            if (e.name in CARPAL_SHAPE_V2 and e.name != "pisiform") or e.name == "epi_radius"}


@pytest.mark.parametrize("taper, bend, p, angle, slope, hollow, lean", [
    (0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0), (-0.55, 0.0, 2.9, -0.25, 0.0, 0.0, 0.0), (0.3, 0.35, 2.8, 0.0, 0.0, 0.0, 0.0),
    (0.15, 0.3, 2.7, 0.6, 0.0, 0.0, 0.0), (0.0, 0.0, 2.8, 0.12, 0.6, 0.3, 0.0), (0.0, 0.0, 2.8, 0.0, -0.7, 0.2, 0.0),
    (-0.55, 0.0, 2.9, -0.25, 0.0, 0.0, 1.0), (-0.3, 0.0, 2.8, 0.05, 0.0, 0.0, -1.0),
    (0.4, 0.2, 2.5, 0.3, 0.0, 0.0, 0.5)])
def test_ossicle_outline_is_the_drawn_boundary(taper, bend, p, angle, slope, hollow, lean):
    e = anatomy.Ellipse("x", np.array([3.0, -2.0]), np.array([7.0, 5.0]), angle, 1.0, p, taper=taper, bend=bend,
                        slope=slope, hollow=hollow, lean=lean)
    pts = anatomy.ossicle_outline(e, 200)
    c = np.asarray(e.centre)
    # a little way in towards the centre each point is inside the outline, a little way out outside
    # (checked where the outline is not too oblique to the ray from the centre: away from a bent tip)
    inner, outer = c + (pts - c) * 0.97, c + (pts - c) * 1.03
    inside = _mask(e, inner[:, 0], inner[:, 1])
    outside = ~_mask(e, outer[:, 0], outer[:, 1])
    assert inside.mean() > 0.9 and outside.mean() > 0.9
    # ... and the outline spans the bone: untapered, its extent along x' is the semi-axis
    own = (pts - c) @ np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    if not taper:
        assert np.max(np.abs(own[:, 0])) == pytest.approx(e.axes[0], rel=0.02)


@pytest.mark.parametrize("frame_angle", [0.0, 0.4])
def test_styloid_rises_on_the_side_the_outline_says_through_the_films_frame(frame_angle):
    """An epiphysis with a slope and a hollow, drawn by film.draw_ossicle through the
    phantom's own frame (mm, y up -> pixels, y down, turned): the bone's pixels are the
    outline's (:func:`_mask` in mm), and not those of the mirrored styloid."""
    from boneage_fast.data.phantom import _Frame

    e = anatomy.Ellipse("epi_radius", np.array([2.0, -1.0]), np.array([16.0, 4.5]), 0.12, 0.8, 2.8,
                        slope=0.6, hollow=0.35)
    T = _Frame(np.zeros(2), np.array([200.0, 200.0]), 5.0, frame_angle)
    acc = np.zeros((400, 400), np.float32)
    film.draw_ossicle(acc, e, T, 0.12, 0.25)
    ys, xs = np.mgrid[0:400, 0:400].astype(np.float64)
    mm = (np.stack([xs.ravel(), ys.ravel()], 1) - T.centre_px) @ np.linalg.inv(T.m).T + T.centre_mm
    x, y = mm[:, 0].reshape(xs.shape), mm[:, 1].reshape(xs.shape)
    drawn = acc > 0.05
    want = _mask(e, x, y)
    mirrored = _mask(replace(e, slope=-0.6), x, y)
    assert want.sum() > 1.03 * _mask(replace(e, slope=0.0, hollow=0.0), x, y).sum()
    assert (drawn != want).sum() < 0.03 * want.sum()
    assert (drawn != mirrored).sum() > 0.15 * want.sum()


def test_carpal_facets_on_two_discs_by_hand():
    """Two discs, radii 5 and 3, centres 7 mm apart on x: 1 mm deep into each other, so
    a 1.5 mm joint takes 2.5 mm, shared 5:3; a fixed bone's neighbour takes it all."""
    a = anatomy.Ellipse("a", np.array([0.0, 0.0]), np.array([5.0, 5.0]), 0.0)
    b = anatomy.Ellipse("b", np.array([7.0, 0.0]), np.array([3.0, 3.0]), 0.0)
    fa, fb = anatomy.carpal_facets([a, b], 1.5)
    (ax, ay, at), = fa.facets
    (bx, by, bt), = fb.facets
    assert (ax, ay) == pytest.approx((1.0, 0.0), abs=1e-9) and (bx, by) == pytest.approx((-1.0, 0.0), abs=1e-9)
    assert at == pytest.approx(5.0 - 2.5 * 5 / 8, abs=1e-3) and -bt == pytest.approx(7.0 - 3.0 + 2.5 * 3 / 8, abs=1e-3)
    assert -bt - at == pytest.approx(1.5, abs=1e-3)
    fa, fb = anatomy.carpal_facets([a, b], 1.5, fixed=frozenset({"a"}))
    assert fa.facets == () and -fb.facets[0][2] == pytest.approx(6.5, abs=1e-3)
    assert all(e.facets == () for e in anatomy.carpal_facets([a, b], 1.5, overlap=frozenset({frozenset("ab")})))
    # far enough apart: untouched
    far = anatomy.Ellipse("b", np.array([9.5, 0.0]), np.array([3.0, 3.0]), 0.0)
    assert all(e.facets == () for e in anatomy.carpal_facets([a, far], 1.5))
    # the inputs are left as they were
    assert a.facets == () and b.facets == ()


@pytest.mark.parametrize("age, male", [(100, False), (132, True), (180, False), (228, True)])
def test_v4_carpals_pack_with_even_joint_spaces(age, male):
    """Neighbouring carpals (and the proximal row on the radial epiphysis) meet across
    joint spaces of CARPAL_JOINT_V4 between flat facets, not overlapping; only the
    trapezium over the trapezoid and the pisiform over the triquetrum overlap, and no
    bone is cut down to a sliver."""
    from scipy import ndimage

    h3, h4 = _hands(age, male, seed=age)
    joint = anatomy.CARPAL_JOINT_V4
    ys, xs = np.mgrid[-45:50:RES, -45:55:RES]
    bones = _articulating(h4)
    cut = {n: _mask(e, xs, ys) for n, e in bones.items()}
    v3 = {n: _mask(e, xs, ys).sum() for n, e in _articulating(h3).items()}
    assert any(e.facets for e in bones.values())
    near = 0
    for a in bones:
        # no sliver: the grown outlines overlap deeply, and the scaphoid gives way to the
        # radial styloid, but each bone keeps at least 3/4 of its v3 size
        assert cut[a].sum() > 0.75 * v3[a], (a, cut[a].sum() / v3[a])
        apart = ndimage.distance_transform_edt(~cut[a]) * RES
        for b in bones:
            if b <= a or {a, b} == {"trapezium", "trapezoid"}:
                continue
            d = apart[cut[b]].min()
            assert d >= joint - 2 * RES, (a, b, d)
            near += d < joint + 0.5
    assert near >= 4  # facing facets, a joint space apart
    carpals = {e.name: _mask(e, xs, ys) for e in h4.ossicles if e.name in CARPAL_SHAPE_V2}
    if "trapezoid" in carpals and age >= 180:
        assert (carpals["trapezium"] & carpals["trapezoid"]).any()


@pytest.mark.parametrize("age", [10, 20, 40])
def test_young_carpals_keep_their_round_outlines(age):
    """Young carpals stand apart in cartilage: facets, if any, shave off a few per cent
    (from about five years the capitate and hamate flatten where they face each other,
    an early maturity sign in Greulich and Pyle's atlas)."""
    ys, xs = np.mgrid[-45:50:RES, -45:55:RES]
    for n, e in _articulating(_hands(age, True)[1]).items():
        assert _mask(e, xs, ys).sum() >= 0.95 * _mask(e, xs, ys, facets=False).sum(), (age, n)


def _in_mm(box, frame):
    """A pixel box relative to the frame's centre, in millimetres (unrotated)."""
    cx, cy = frame.centre_px
    return (np.asarray(box, dtype=float) - [cx, cy, cx, cy]) / frame.scale


def _box_in_hand_mm(box, frame):
    """A pixel box's centre in the hand's frame (mm) and its size (mm)."""
    x0, y0, x1, y1 = box
    centre = np.linalg.solve(frame.m, np.array([(x0 + x1) / 2, (y0 + y1) / 2]) - frame.centre_px) + frame.centre_mm
    return np.array([*centre, (x1 - x0) / frame.scale, (y1 - y0) / frame.scale])


def test_v4_keeps_v3s_subject_posture_look_and_boxes(v3_layout):
    for seed in range(6):
        a = render(100.0 + 10 * seed, seed % 2 == 0, seed=seed, size=(640, 512), style="v3")
        b = render(100.0 + 10 * seed, seed % 2 == 0, seed=seed, size=(640, 512), style="v4")
        # the same ROI boxes on the hand (v4 frames the hand larger, and from its own,
        # shorter fingertips: compared in the hand's millimetres; to rounding)
        assert [r[0] for r in a.roi_boxes] == [r[0] for r in b.roi_boxes]
        # (boxes cut by the film's edge in either differ by the cut)
        inside = [all(1e-6 < v and v < lim - 1e-6 for r in (ra, rb) for v, lim in zip(r[1:], (511, 639, 511, 639)))
                  for ra, rb in zip(a.roi_boxes, b.roi_boxes)]
        assert sum(inside) >= len(inside) - 3
        np.testing.assert_allclose([_box_in_hand_mm(r[1:], a.frame) for r, i in zip(a.roi_boxes, inside) if i],
                                   [_box_in_hand_mm(r[1:], b.frame) for r, i in zip(b.roi_boxes, inside) if i],
                                   rtol=0, atol=2e-3)
        # v4's framed span (fingertips to FOREARM_MM_V4's draw below the radius) fills
        # more of the film than v3's (to 50 mm below)
        from boneage_fast.data import phantom

        above, below = _v4_forearm_mm(seed, 100.0 + 10 * seed)
        assert 50.0 <= phantom.FOREARM_MM_V4[0] <= below
        span_a = a.hand.outline_points(round_ends=True)[:, 1].max() + 50.0 * a.hand.subject.size_scale
        span_b = b.hand.outline_points(round_ends=True)[:, 1].max() + (above + below) * b.hand.subject.size_scale
        assert b.frame.scale * span_b > a.frame.scale * span_a + 0.1 * 640
        # on a clean film (no framing draw) the hand box's top comes down with the
        # fingertips' pads (v3's ended ~8-12 mm beyond the tuft, v4's 4), its sides
        # follow the slimmer fingers and thumb
        ca = render(100.0 + 10 * seed, seed % 2 == 0, seed=seed, size=(640, 512), style="v3", nuisance=False)
        cb = render(100.0 + 10 * seed, seed % 2 == 0, seed=seed, size=(640, 512), style="v4", nuisance=False)
        ba, bb = _box_in_hand_mm(ca.hand_box, ca.frame), _box_in_hand_mm(cb.hand_box, cb.frame)
        top_a, top_b = ba[1] + ba[3] / 2, bb[1] + bb[3] / 2
        s = cb.hand.subject.size_scale
        assert 2.0 * s < top_a - top_b < 12.0 * s, (top_a, top_b)
        assert abs(ba[2] - bb[2]) < 0.15 * ba[2]
        assert a.extra["unprocessed"] == b.extra["unprocessed"] and a.extra["angle_deg"] == b.extra["angle_deg"]
        sa, sb = a.hand.subject.__dict__, b.hand.subject.__dict__
        v4_only = {"soft_tissue", "carpal_density", "texture_contrast"}  # v4's own draws (v3 keeps 0, the mean)
        assert all(np.array_equal(sa[k], sb[k]) for k in sa if k not in v4_only)  # the subject and its posture
        assert sa["soft_tissue"] == sa["carpal_density"] == 0.0
        assert all(-1.0 <= sb[k] <= 1.0 for k in v4_only) and sb["soft_tissue"] != sb["carpal_density"]
        assert b.extra["style"] == "v4" and not np.array_equal(a.image, b.image)
    # a fifth of v4 films unprocessed, as for v3
    raw = [render(60.0, True, seed=s, size=(256, 256), style="v4").extra["unprocessed"] for s in range(200)]
    assert 0.13 < np.mean(raw) < 0.27


_RESOLVED_PX_MM = 8.0 / film.NETWORK_CELL_MM  # 4 coarse pixels per cell: resolved


def _network(seed=0, shape=(900, 800), px_per_mm=_RESOLVED_PX_MM):
    return film.network_texture_coarse(np.random.default_rng(seed), shape, px_per_mm)


def test_network_texture_is_a_standardised_mesh_of_bright_lines(monkeypatch):
    monkeypatch.setattr(film, "NETWORK_SOFT_MM", 0.0)  # the mesh's lines before they are softened
    t = _network()
    assert t.shape == (450, 400) and t.dtype == np.float32 and t.flags.c_contiguous
    assert abs(float(t.mean())) < 1e-3 and abs(float(t.std()) - 1.0) < 1e-3
    # lines are a minority of bright pixels over darker pores: a right-skewed histogram
    skew = float(np.mean(t.astype(np.float64) ** 3))
    assert skew > 0.8, skew
    # bright pixels form long connected lines (a mesh), not isolated specks
    from scipy import ndimage

    labels, n = ndimage.label(t > 1.0)
    sizes = np.bincount(labels.ravel())[1:]
    assert sizes.max() > 50 * np.median(sizes)
    # the pores' size follows the cell size: the field decorrelates within about a cell
    # (4 coarse pixels here) and is correlated over a pixel
    def corr(lag):
        return float(np.corrcoef(t[:, :-lag].ravel(), t[:, lag:].ravel())[0, 1])

    assert corr(1) > 0.3 and abs(corr(12)) < 0.05


def _blur_121_twice(a):
    """Two [1, 2, 1]/4 passes along y then x, the edge rows and columns kept (float64)."""
    a = a.astype(np.float64)
    for _ in range(2):
        b = a.copy()
        b[1:-1, :] = 0.25 * (a[:-2, :] + a[2:, :]) + 0.5 * a[1:-1, :]
        a = b.copy()
        a[:, 1:-1] = 0.25 * (b[:, :-2] + b[:, 2:]) + 0.5 * b[:, 1:-1]
    return a


def test_network_texture_softens_its_lines_where_the_film_resolves_them(monkeypatch):
    assert round(film.NETWORK_SOFT_MM * 0.5 * _RESOLVED_PX_MM / 1.15) == 1  # see below
    soft = _network(5).astype(np.float64)
    monkeypatch.setattr(film, "NETWORK_SOFT_MM", 0.0)
    sharp = _network(5).astype(np.float64)
    # the sharp mesh blurred (standardising is affine, the blur linear), standardised
    # again; 1.6 coarse pixels of blur here: unsharp_'s local mean on 1 x 1 blocks, its
    # two [1, 2, 1] passes alone
    ref = _blur_121_twice(sharp)
    ref = (ref - ref.mean()) / ref.std()
    np.testing.assert_allclose(soft, ref, atol=2e-4)
    assert abs(soft.mean()) < 1e-3 and abs(soft.std() - 1.0) < 1e-3

    def corr(t, lag):
        return float(np.corrcoef(t[:, :-lag].ravel(), t[:, lag:].ravel())[0, 1])

    # softer lines: neighbouring pixels more alike, the pores' size (decorrelated within
    # a few cells) the same
    assert corr(soft, 1) > corr(sharp, 1) + 0.05 and abs(corr(soft, 12)) < 0.05
    # on a film that does not resolve NETWORK_SOFT_MM (under one coarse pixel) the lines stay as drawn
    px_mm = 1.9 / film.NETWORK_CELL_MM  # 0.95 coarse pixels per cell: faded, not blurred
    monkeypatch.setattr(film, "NETWORK_SOFT_MM", 0.2)
    a = _network(5, px_per_mm=px_mm)
    monkeypatch.setattr(film, "NETWORK_SOFT_MM", 0.0)
    assert np.array_equal(a, _network(5, px_per_mm=px_mm))


def test_network_texture_follows_the_pixel_scale(monkeypatch):
    # twice the pixels per mm: twice the correlation length in pixels (the mesh before
    # it is softened: the blur's local mean comes in whole-pixel blocks)
    monkeypatch.setattr(film, "NETWORK_SOFT_MM", 0.0)
    def length(px_per_mm):
        t = _network(px_per_mm=px_per_mm).astype(np.float64)
        c = [np.corrcoef(t[:, :-k].ravel(), t[:, k:].ravel())[0, 1] for k in range(1, 40)]
        return next(k for k, v in enumerate(c, 1) if v < 0.2)

    short, long_ = length(1.5 * _RESOLVED_PX_MM), length(3.0 * _RESOLVED_PX_MM)
    assert 1.6 < long_ / short < 2.5, (short, long_)


@pytest.mark.parametrize("px_per_mm", [1.0, 2.0, 4.0])
def test_an_unresolved_network_fades(px_per_mm):
    px_per_mm /= film.NETWORK_CELL_MM  # 0.5, 1 and 2 coarse pixels per cell
    # a cell of c coarse pixels under NETWORK_RESOLVED: standard deviation c / 3
    cell = film.NETWORK_CELL_MM * 0.5 * px_per_mm
    t = _network(px_per_mm=px_per_mm)
    assert float(t.std()) == pytest.approx(cell / film.NETWORK_RESOLVED, rel=1e-3)
    assert abs(float(t.mean())) < 1e-3


def test_network_texture_draws_from_the_stream_as_the_oriented_texture_does():
    r1, r2 = np.random.default_rng(7), np.random.default_rng(7)
    film.network_texture_coarse(r1, (600, 500), 5.0)
    film.oriented_texture_coarse(r2, (600, 500), 0.1, 5.0)
    assert r1.random() == r2.random()
    assert np.array_equal(_network(3), _network(3)) and not np.array_equal(_network(3), _network(4))


def _line_frame(angle: float, px_per_mm: float = 8.0):
    from boneage_fast.data.phantom import _Frame

    return _Frame(np.array([0.0, 30.0]), np.array([250.0, 310.0]), px_per_mm, angle)


@pytest.mark.parametrize("angle", [0.0, 0.45, -2.8])
def test_line_texture_fields_cover_the_film_in_the_hands_axes(angle):
    """Two lattices of deviates in the hand's axes: each map sends every film pixel
    inside its lattice with a node to spare (the B-spline's taps), one millimetre along
    the hand's image axis to 1 / spacing along the lattice's v (LINE_STRETCH times
    further apart for the first field), and the film's centre to the lattice's centre."""
    T = _line_frame(angle)
    H, W = 620, 500
    fields, mean = film.line_texture_field(np.random.default_rng(1), (H, W), T)
    assert len(fields) == film.LINE_FIELDS == 2
    along = T.m[:, 1] / np.hypot(*T.m[:, 1])  # the hand's +y in the image
    across = T.m[:, 0] / np.hypot(*T.m[:, 0])
    spacing = [(film.LINE_CELL_MM, film.LINE_CELL_MM * film.LINE_STRETCH),
               (film.LINE_CELL_MM * film.LINE_CROSS_STRETCH, film.LINE_CELL_MM)]
    for (lattice, m), (sa, sb) in zip(fields, spacing):
        assert lattice.dtype == np.float32 and lattice.flags.c_contiguous and lattice.ndim == 2
        assert abs(float(lattice.mean())) < 0.05 and abs(float(lattice.std()) - 1.0) < 0.05
        nv, nu = lattice.shape
        A, o = np.array([[m[0], m[1]], [m[3], m[4]]]), np.array([m[2], m[5]])
        corners = np.array([[0, 0], [W - 1, 0], [0, H - 1], [W - 1, H - 1]], float) @ A.T + o
        assert corners[:, 0].min() >= 1.0 and corners[:, 0].max() <= nu - 2
        assert corners[:, 1].min() >= 1.0 and corners[:, 1].max() <= nv - 2
        np.testing.assert_allclose(np.array([(W - 1) / 2, (H - 1) / 2]) @ A.T + o, [(nu - 1) / 2, (nv - 1) / 2])
        np.testing.assert_allclose(A @ (along * T.scale), [0.0, 1.0 / sb], atol=1e-9)  # 1 mm along
        np.testing.assert_allclose(A @ (across * T.scale), [1.0 / sa, 0.0], atol=1e-9)  # 1 mm across
    one = 1.0 / math.sqrt(1.0 + 2.0 / film.LINE_WIDTH ** 2)
    assert mean == pytest.approx(1.0 - (1.0 - one) ** 2)


def test_line_texture_mean_is_the_lines_mean_on_a_film():
    """Over a film's worth of pixels the kernel's texture averages about 0 (the mean it
    is divided by is the lines' own): cancellous path everywhere, exposure linear."""
    T = _line_frame(0.3)
    H, W = 500, 400
    fields, mean = film.line_texture_field(np.random.default_rng(9), (H, W), T)
    out = np.zeros((H, W), np.float32)
    canc = np.ones((H, W), np.float32)
    z = np.zeros((2, 2), np.float32)
    # gain -1, background 1 and a tiny attenuation: out = exp(-path) ~ 1 - 1e-4 (1 + tex)
    _C.film_expose(out, z, z, 0.0, 1e-4, 1.0, -1.0, 1.0, 0.0, 0, canc, lines=fields, tex_line=film.LINE_WIDTH,
                   tex_mean=mean)
    tex = (1.0 - out.astype(np.float64)) / 1e-4 - 1.0
    assert abs(float(tex.mean())) < 0.06 and float(tex.min()) > -1.01 and float(tex.std()) > 0.5


@pytest.mark.parametrize("angle", [0.0, -1.2])
def test_projected_line_texture_fields_stack_layers_and_a_smooth_field(angle):
    """``line_texture_field`` with two layers and a smooth field: LINE_FIELDS fields per
    layer at that layer's cell (the first along-stretched, the second the struts), then
    one field ``smooth_mm`` apart both ways; every lattice covers the film with a node
    to spare; field k's deviates from the drawn integer plus k (the one-layer call's
    fields are the first two)."""
    T = _line_frame(angle)
    H, W = 420, 380
    cells, smooth_mm = (1.2, 0.9), 1.5
    fields, mean = film.line_texture_field(np.random.default_rng(5), (H, W), T, cells, 0.14, smooth_mm)
    assert len(fields) == film.LINE_FIELDS * len(cells) + 1 == 5
    along = T.m[:, 1] / np.hypot(*T.m[:, 1])
    across = T.m[:, 0] / np.hypot(*T.m[:, 0])
    c = film.LINE_CELL_MM
    spacing = [(c * 1.2, c * 1.2 * film.LINE_STRETCH), (c * 1.2 * film.LINE_CROSS_STRETCH, c * 1.2),
               (c * 0.9, c * 0.9 * film.LINE_STRETCH), (c * 0.9 * film.LINE_CROSS_STRETCH, c * 0.9),
               (smooth_mm, smooth_mm)]
    for (lattice, m), (sa, sb) in zip(fields, spacing):
        nv, nu = lattice.shape
        A, o = np.array([[m[0], m[1]], [m[3], m[4]]]), np.array([m[2], m[5]])
        corners = np.array([[0, 0], [W - 1, 0], [0, H - 1], [W - 1, H - 1]], float) @ A.T + o
        assert corners[:, 0].min() >= 1.0 and corners[:, 0].max() <= nu - 2
        assert corners[:, 1].min() >= 1.0 and corners[:, 1].max() <= nv - 2
        np.testing.assert_allclose(A @ (along * T.scale), [0.0, 1.0 / sb], atol=1e-9)
        np.testing.assert_allclose(A @ (across * T.scale), [1.0 / sa, 0.0], atol=1e-9)
    one = 1.0 / math.sqrt(1.0 + 2.0 / 0.14 ** 2)
    assert mean == pytest.approx(1.0 - (1.0 - one) ** 2)  # a layer's joined lines' mean
    single, _ = film.line_texture_field(np.random.default_rng(5), (H, W), T)
    seed = int(np.random.default_rng(5).integers(0, 2**63 - film.LINE_FIELDS))
    for k, (lattice, _m) in enumerate(fields):
        n = lattice.size
        assert np.array_equal(lattice.ravel(), _C.film_normal_deviates((seed + k) % 2**63, n))
    assert np.array_equal(single[0][0], _C.film_normal_deviates(seed, single[0][0].size).reshape(single[0][0].shape))


def test_line_texture_kwargs_follow_the_projection_switch(monkeypatch):
    """Projected: the layers' and the smooth field's fields and the kernel's layer,
    share and spread arguments; off: one network's two fields at LINE_WIDTH, the same
    lattices as ``line_texture_field``'s, and no layer arguments (the kernel's
    defaults: v4 before section 7.15). Either way one integer drawn from the stream."""
    T = _line_frame(0.4)
    r1, r2 = np.random.default_rng(8), np.random.default_rng(8)
    on = film.line_texture(r1, (300, 260), T)
    assert len(on["lines"]) == film.LINE_FIELDS * len(film.LINE_LAYERS_V4) + 1
    assert on["tex_layers"] == len(film.LINE_LAYERS_V4) and on["tex_line"] == film.LINE_WIDTH_PROJECTED
    assert (on["tex_smooth"], on["tex_spread"]) == (film.LINE_SMOOTH, film.LINE_SPREAD)
    film.network_texture_coarse(r2, (300, 260), 5.0)
    assert r1.random() == r2.random()
    monkeypatch.setattr(film, "PROJECTED_TEXTURE_V4", False)
    off = film.line_texture(np.random.default_rng(8), (300, 260), T)
    fields, mean = film.line_texture_field(np.random.default_rng(8), (300, 260), T)
    assert set(off) == {"lines", "tex_line", "tex_mean"}
    assert off["tex_line"] == film.LINE_WIDTH and off["tex_mean"] == mean
    assert all(np.array_equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(off["lines"], fields))


def test_projected_texture_is_drawn_at_its_gain(monkeypatch):
    """A v4 film hands the kernel the line amplitude of the look's amplitude times
    LINE_PROJECTED_GAIN (the projection's averaging weakens the lines) with the
    projection's arguments; with the switch off the look's amplitude as it is."""
    seen = []
    real = _C.film_expose

    def spy(*args, **kw):
        seen.append((args[5], kw))
        return real(*args, **kw)

    monkeypatch.setattr(film._C, "film_expose", spy)
    s = render(180.0, True, 3, size=(320, 256), nuisance=False, style="v4")
    assert s.extra["unprocessed"] is False
    T, subject = s.frame, s.hand.subject
    amp, kw = seen[-1]
    want = film.line_amplitude(film.LOOKS["v4"].texture_amplitude * film.LINE_PROJECTED_GAIN, T, subject)
    assert amp == pytest.approx(want, rel=1e-6) and kw["tex_layers"] == len(film.LINE_LAYERS_V4)
    monkeypatch.setattr(film, "PROJECTED_TEXTURE_V4", False)
    render(180.0, True, 3, size=(320, 256), nuisance=False, style="v4")
    amp_off, kw_off = seen[-1]
    assert amp_off == pytest.approx(film.line_amplitude(film.LOOKS["v4"].texture_amplitude, T, subject), rel=1e-6)
    assert "tex_layers" not in kw_off and amp > amp_off * 1.1


def _slab_texture(projected: bool, seed: int, px_per_mm: float = 8.5, shape=(560, 560)) -> np.ndarray:
    """The kernel's texture over a film of cancellous bone everywhere (exposure linear:
    gain -1, background 1, a tiny attenuation), with or without the projection."""
    T = _line_frame(0.2, px_per_mm)
    kw = film.line_texture(np.random.default_rng(seed), shape, T) if projected else \
        dict(zip(("lines", "tex_mean"), film.line_texture_field(np.random.default_rng(seed), shape, T)),
             tex_line=film.LINE_WIDTH)
    out = np.zeros(shape, np.float32)
    z = np.zeros((2, 2), np.float32)
    _C.film_expose(out, z, z, 0.0, 1e-4, 1.0, -1.0, 1.0, 0.0, 0, np.ones_like(out), **kw)
    return (1.0 - out.astype(np.float64)) / 1e-4 - 1.0


def test_projected_texture_is_a_mottle_not_a_two_level_lace():
    """At about the films' scale (8.5 px/mm; metacarpal 3 ~550 px) the band-pass of one
    network is a two-level image (pores and walls: kurtosis under -0.3) with its
    strength in the finest octaves; the projected texture's band-pass is not (kurtosis
    above 0) and carries more of its strength at the coarser octaves (as the films'
    capitates do, docs/phantom.md section 7.15). Its mean stays about 0 and it never
    falls under -1 (the cancellous path never negative)."""
    from scipy import ndimage, stats

    length = 8.5 * 65.0
    for seed in (0, 1):
        got = {}
        for projected in (False, True):
            t = _slab_texture(projected, seed)
            blurred = [ndimage.gaussian_filter(t, 2 ** k * length / 550) for k in range(5)]
            inner = np.s_[60:-60, 60:-60]
            octaves = [float((blurred[k] - blurred[k + 1])[inner].std()) for k in range(4)]
            band = (blurred[0] - blurred[3])[inner].ravel()
            got[projected] = (float(stats.kurtosis(band)), octaves[2] / octaves[0], octaves[3] / octaves[0])
            assert abs(float(t.mean())) < 0.08 and float(t.min()) >= -1.0 - 1e-3
        assert got[False][0] < -0.3 < 0.0 < got[True][0], got
        assert got[True][1] > got[False][1] + 0.05 and got[True][2] > got[False][2] + 0.15, got


def test_line_texture_runs_along_the_hand_with_cross_struts():
    """On a film drawn upright, the lines of the first field alone (LINE_FIELDS 1) stay
    correlated about LINE_STRETCH times further along the hand (image y) than across;
    with the second field's struts the texture is nearly isotropic."""
    def texture(n_fields):
        T = _line_frame(0.0, 10.0)
        fields, _ = film.line_texture_field(np.random.default_rng(2), (600, 600), T)
        one = 1.0 / math.sqrt(1.0 + 2.0 / film.LINE_WIDTH ** 2)
        out = np.zeros((600, 600), np.float32)
        z = np.zeros((2, 2), np.float32)
        _C.film_expose(out, z, z, 0.0, 1e-4, 1.0, -1.0, 1.0, 0.0, 0, np.ones_like(out), lines=fields[:n_fields],
                       tex_line=film.LINE_WIDTH, tex_mean=1.0 - (1.0 - one) ** n_fields)
        return (1.0 - out.astype(np.float64)) / 1e-4

    def reach(a, axis):  # lag (pixels) where the correlation first falls under 0.3
        for lag in range(1, 80):
            x, y = (a[:-lag], a[lag:]) if axis == 0 else (a[:, :-lag], a[:, lag:])
            if np.corrcoef(x.ravel(), y.ravel())[0, 1] < 0.3:
                return lag
        return 80

    one, both = texture(1), texture(2)
    ratio_one = reach(one, 0) / reach(one, 1)
    ratio_both = reach(both, 0) / reach(both, 1)
    assert ratio_one == pytest.approx(film.LINE_STRETCH, rel=0.35), ratio_one
    assert 1.0 <= ratio_both < ratio_one - 0.3, (ratio_both, ratio_one)


def test_line_texture_fades_where_the_film_cannot_resolve_it():
    full = film.LOOKS["v4"].texture_amplitude
    resolved = film.LINE_RESOLVED / film.LINE_CELL_MM  # pixels per mm: one cell over LINE_RESOLVED pixels
    assert film.line_amplitude(full, _line_frame(0.0, resolved)) == pytest.approx(full)
    assert film.line_amplitude(full, _line_frame(0.0, 3 * resolved)) == pytest.approx(full)
    assert film.line_amplitude(full, _line_frame(0.0, 0.25 * resolved)) == pytest.approx(0.25 * full)
    assert 0.0 < full <= 1.0  # the cancellous path never negative


def test_line_amplitude_grows_with_maturity_and_varies_per_subject(monkeypatch):
    """Without the striations (section 7.32's switch off): faint in young bone
    (LINE_YOUNG of it at birth), full from LINE_MATURE_MONTHS of bone age, rising
    linearly between; times 1 +- LINE_CONTRAST_SPREAD at the ends of the subject's draw;
    never above 1."""
    from boneage_fast.data.anatomy import sample_subject

    monkeypatch.setattr(film, "STRIATION_V4", False)

    T = _line_frame(0.0, 3 * film.LINE_RESOLVED / film.LINE_CELL_MM)  # resolved
    subject = sample_subject(100.0, True, np.random.default_rng(0))

    def amp(months, contrast=0.0, base=0.8):
        return film.line_amplitude(base, T, replace(subject, bone_age=months, texture_contrast=contrast))

    assert amp(0.0) == pytest.approx(0.8 * film.LINE_YOUNG)
    assert amp(film.LINE_MATURE_MONTHS) == pytest.approx(0.8) == pytest.approx(amp(228.0))
    half = film.LINE_YOUNG + (1 - film.LINE_YOUNG) * 0.5
    assert amp(0.5 * film.LINE_MATURE_MONTHS) == pytest.approx(0.8 * half)
    ages = np.linspace(0.0, 228.0, 40)
    assert np.all(np.diff([amp(a) for a in ages]) >= 0.0)
    assert amp(200.0, 1.0, base=0.6) == pytest.approx(0.6 * (1 + film.LINE_CONTRAST_SPREAD))
    assert amp(200.0, -1.0) == pytest.approx(0.8 * (1 - film.LINE_CONTRAST_SPREAD))
    assert amp(200.0, 1.0, base=1.0) == 1.0  # capped: the cancellous path stays >= 0
    assert film.line_amplitude(0.8, T) == pytest.approx(0.8)  # no subject: the film's factor alone


def test_striation_share_falls_with_bone_age_and_follows_its_switch(monkeypatch):
    """``striation``: 1 at birth, 1 - bone age / STRIATION_MONTHS, 0 from then on; 0 with
    no subject or with STRIATION_V4 off."""
    from boneage_fast.data.anatomy import sample_subject

    subject = sample_subject(60.0, False, np.random.default_rng(2))
    for months in (0.0, 30.0, 0.5 * film.STRIATION_MONTHS, film.STRIATION_MONTHS, 228.0):
        want = max(1.0 - months / film.STRIATION_MONTHS, 0.0)
        assert film.striation(replace(subject, bone_age=months)) == pytest.approx(want, abs=1e-12)
    assert film.striation(None) == 0.0
    monkeypatch.setattr(film, "STRIATION_V4", False)
    assert film.striation(replace(subject, bone_age=0.0)) == 0.0


def test_line_amplitude_of_striated_young_bone(monkeypatch):
    """With the striations, the young factor LINE_YOUNG + (STRIATION_AMPLITUDE -
    LINE_YOUNG) s (s the subject's ``striation``) in place of LINE_YOUNG, times the
    look's 1 + (striated - 1) s; from STRIATION_MONTHS on the amplitude without them;
    capped at 1. Written out from the formula of film.py's comment."""
    from boneage_fast.data.anatomy import sample_subject

    T = _line_frame(0.0, 3 * film.LINE_RESOLVED / film.LINE_CELL_MM)  # resolved
    subject = sample_subject(100.0, True, np.random.default_rng(0))

    def amp(months, striated=1.0, base=0.5):
        return film.line_amplitude(base, T, replace(subject, bone_age=months, texture_contrast=0.0), striated)

    for months in (0.0, 24.0, 82.0, 140.0):
        s = 1.0 - months / film.STRIATION_MONTHS
        young = film.LINE_YOUNG + (film.STRIATION_AMPLITUDE - film.LINE_YOUNG) * s
        mature = months / film.LINE_MATURE_MONTHS
        for striated in (0.5, 1.0, 2.0):
            want = min(0.5 * (young + (1 - young) * mature) * (1 + (striated - 1) * s), 1.0)
            assert amp(months, striated) == pytest.approx(want), (months, striated)
    late = film.STRIATION_MONTHS + 10.0
    on = amp(late, 2.0)
    monkeypatch.setattr(film, "STRIATION_V4", False)
    assert amp(late, 2.0) == pytest.approx(on) == pytest.approx(amp(late))
    assert amp(0.0, 2.0) == pytest.approx(0.5 * film.LINE_YOUNG)  # switch off: the look's factor unused


@pytest.mark.parametrize("young", [0.0, 0.6, 1.0])
def test_line_texture_field_striates_young_bone(young):
    """``young`` = s: the first field's nodes 1 - STRIATION_FINE s as far apart across the
    hand and LINE_STRETCH + (STRIATION_STRETCH - LINE_STRETCH) s times the cell along
    it; the struts' deviates 1 + STRIATION_FAINT s times the stream's (their spacing
    unchanged); the lines' mean 1 - prod_k (1 - E exp(-(g_k f / w)^2)) with g_k the
    deviates' scale; s = 0 gives the fields of the call without it, to the bit."""
    T = _line_frame(0.35)
    H, W = 400, 360
    fields, mean = film.line_texture_field(np.random.default_rng(4), (H, W), T, young=young)
    plain, plain_mean = film.line_texture_field(np.random.default_rng(4), (H, W), T)
    along = T.m[:, 1] / np.hypot(*T.m[:, 1])
    across = T.m[:, 0] / np.hypot(*T.m[:, 0])
    c = film.LINE_CELL_MM
    stretch = film.LINE_STRETCH + (film.STRIATION_STRETCH - film.LINE_STRETCH) * young
    spacing = [(c * (1 - film.STRIATION_FINE * young), c * stretch), (c * film.LINE_CROSS_STRETCH, c)]
    gains = [1.0, 1.0 + film.STRIATION_FAINT * young]
    seed = int(np.random.default_rng(4).integers(0, 2**63 - film.LINE_FIELDS))
    for k, ((lattice, m), (sa, sb), g) in enumerate(zip(fields, spacing, gains)):
        A = np.array([[m[0], m[1]], [m[3], m[4]]])
        np.testing.assert_allclose(A @ (along * T.scale), [0.0, 1.0 / sb], atol=1e-9)
        np.testing.assert_allclose(A @ (across * T.scale), [1.0 / sa, 0.0], atol=1e-9)
        deviates = _C.film_normal_deviates((seed + k) % 2**63, lattice.size).reshape(lattice.shape)
        np.testing.assert_allclose(lattice, deviates * np.float32(g), rtol=1e-6)
    w = film.LINE_WIDTH
    none = np.prod([1.0 - 1.0 / math.sqrt(1.0 + 2.0 * g ** 2 / w ** 2) for g in gains])
    assert mean == pytest.approx(1.0 - none)
    if young == 0.0:
        assert mean == plain_mean
        assert all(np.array_equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(fields, plain))


def _striated_slab(young: float, seed: int = 3, shape=(480, 480)) -> np.ndarray:
    """The kernel's projected texture over a film of cancellous bone everywhere (as
    :func:`_slab_texture`) drawn for a subject as striated as ``young``, the hand's axis
    the image's y."""
    from boneage_fast.data.anatomy import sample_subject

    T = _line_frame(0.0, 8.5)
    subject = sample_subject(60.0, False, np.random.default_rng(1))
    months = (1.0 - young) * film.STRIATION_MONTHS
    kw = film.line_texture(np.random.default_rng(seed), shape, T, replace(subject, bone_age=months))
    out = np.zeros(shape, np.float32)
    z = np.zeros((2, 2), np.float32)
    _C.film_expose(out, z, z, 0.0, 1e-4, 1.0, -1.0, 1.0, 0.0, 0, np.ones_like(out), **kw)
    return (1.0 - out.astype(np.float64)) / 1e-4 - 1.0


def test_striated_texture_runs_along_the_hand_and_keeps_its_mean():
    """On the kernel's texture: a young subject's (s = 1) gradient energy across the
    hand's axis over along it (Gaussian of 1 pixel first) is over twice the mature
    network's and over 3; the texture still averages about 0 (its mean is the lines'
    own, the struts thinned) and never falls under -1; the projected call hands the
    kernel no smooth field for s = 1 and the smooth share LINE_SMOOTH (1 - s) else."""
    from scipy import ndimage

    def ratio(tex):
        gy, gx = np.gradient(ndimage.gaussian_filter(tex, 1.0))
        return float(np.mean(gx ** 2) / np.mean(gy ** 2))

    young, mature = _striated_slab(1.0), _striated_slab(0.0)
    assert ratio(young) > 3.0 and ratio(young) > 2.0 * ratio(mature), (ratio(young), ratio(mature))
    for tex in (young, mature):
        assert abs(float(tex.mean())) < 0.08 and float(tex.min()) > -1.01
    from boneage_fast.data.anatomy import sample_subject

    subject = sample_subject(60.0, False, np.random.default_rng(1))
    T = _line_frame(0.0, 8.5)
    newborn = film.line_texture(np.random.default_rng(3), (200, 200), T, replace(subject, bone_age=0.0))
    assert newborn["tex_smooth"] == 0.0 and len(newborn["lines"]) == film.LINE_FIELDS * len(film.LINE_LAYERS_V4)
    half = film.line_texture(np.random.default_rng(3), (200, 200), T,
                             replace(subject, bone_age=0.5 * film.STRIATION_MONTHS))
    assert half["tex_smooth"] == pytest.approx(film.LINE_SMOOTH * (1 - film.STRIATION_UNSMOOTH * 0.5))
    assert len(half["lines"]) == film.LINE_FIELDS * len(film.LINE_LAYERS_V4) + 1


@pytest.mark.parametrize("months", [20.0, 200.0])
def test_young_ossicles_share_of_smooth_bone(monkeypatch, months):
    """A v4 film hands the kernel the long bones' cancellous path plus 1 - s of the
    ossicles' interior as the textured path, and the compact bone plus s of it as the
    smooth one (s the subject's ``striation``; 0 at 200 months: all of it textured),
    rebuilt here with the drawing functions."""
    seen = []
    real = _C.film_expose

    def spy(*args, **kw):
        seen.append((np.array(args[0]), np.array(args[10])))
        return real(*args, **kw)

    monkeypatch.setattr(film._C, "film_expose", spy)
    smp = render(months, False, 11, size=(320, 256), nuisance=False, style="v4")
    look = film.LOOKS["v4_raw" if smp.extra["unprocessed"] else "v4"]
    H, W = smp.image.shape
    T, hand = smp.frame, smp.hand
    compact, spongy = np.zeros((H, W), np.float32), np.zeros((H, W), np.float32)
    for b in hand.bones:
        film.draw_long_bone(compact, b, T, look.end_plate, look.marrow, spongy)
    oss = np.zeros((H, W), np.float32)
    for e in hand.ossicles:
        film.draw_ossicle(compact, e, T, look.ossicle_cortex, look.ossicle_cancellous, oss)
    s = film.striation(hand.subject)
    assert s == pytest.approx(max(1.0 - months / film.STRIATION_MONTHS, 0.0))
    assert oss.max() > 0.0
    got_bone, got_spongy = seen[-1]
    np.testing.assert_allclose(got_spongy, spongy + (1.0 - s) * oss, atol=1e-5)
    np.testing.assert_allclose(got_bone, compact + s * oss, atol=1e-5)


def test_v4_traits_draw_the_texture_contrast_after_the_first_two():
    """The third draw leaves the soft tissue's and the carpals' draws as they were."""
    from boneage_fast.data.anatomy import sample_subject, sample_v4_traits

    subject = sample_subject(100.0, False, np.random.default_rng(1))
    got = sample_v4_traits(subject, np.random.default_rng([7, 4]))
    soft, density = np.random.default_rng([7, 4]).uniform(-1.0, 1.0, 2)
    assert (got.soft_tissue, got.carpal_density) == (float(soft), float(density))
    draws = [sample_v4_traits(subject, np.random.default_rng([s, 4])).texture_contrast for s in range(400)]
    assert -1.0 <= min(draws) < -0.9 and 0.9 < max(draws) <= 1.0 and abs(np.mean(draws)) < 0.1


def test_line_texture_draws_from_the_stream_as_the_other_textures_do():
    r1, r2 = np.random.default_rng(7), np.random.default_rng(7)
    film.line_texture_field(r1, (600, 500), _line_frame(0.3))
    film.network_texture_coarse(r2, (600, 500), 5.0)
    assert r1.random() == r2.random()
    a, _ = film.line_texture_field(np.random.default_rng(3), (300, 200), _line_frame(0.3))
    b, _ = film.line_texture_field(np.random.default_rng(3), (300, 200), _line_frame(0.3))
    c, _ = film.line_texture_field(np.random.default_rng(4), (300, 200), _line_frame(0.3))
    assert all(np.array_equal(x[0], y[0]) and x[1] == y[1] for x, y in zip(a, b))
    assert not np.array_equal(a[0][0], c[0][0])
    assert not np.array_equal(a[0][0][:5, :5], a[1][0][:5, :5])  # two fields, two streams


def test_v4_lines_texture_only_the_bone(monkeypatch):
    """The lines change a v4 film only in and next to bone: with the texture's amplitude
    at 0 (the window fixed) the film differs, and nowhere more than 8 mm from a bone or
    ossicle (the edge enhancement's local mean, sigma 1.5 mm here, carries a change
    about three sigma); the switch back to section 7.8's mesh changes the film."""
    from scipy import ndimage

    kw = dict(size=(400, 320), nuisance=False, style="v4")
    # the window on the film's 98.5th percentile would carry any change everywhere
    v4 = replace(film.LOOKS["v4"], auto_range=None)
    monkeypatch.setitem(film.LOOKS, "v4", v4)
    a = render(150.0, True, 5, **kw)
    monkeypatch.setitem(film.LOOKS, "v4", replace(v4, texture_amplitude=0.0))
    b = render(150.0, True, 5, **kw)
    diff = a.image.astype(np.int64) != b.image.astype(np.int64)
    assert diff.mean() > 0.01
    bone = np.zeros(a.image.shape, np.float32)
    for bb in a.hand.bones:
        film.draw_long_bone(bone, bb, a.frame)
    for e in a.hand.ossicles:
        film.draw_ossicle(bone, e, a.frame)
    near = ndimage.binary_dilation(bone > 0, iterations=int(math.ceil(8.0 * a.frame.scale)))
    assert not np.any(diff & ~near)
    monkeypatch.setitem(film.LOOKS, "v4", v4)
    assert np.array_equal(render(150.0, True, 5, **kw).image, a.image)
    monkeypatch.setattr(film, "LINE_TEXTURE_V4", False)
    assert not np.array_equal(render(150.0, True, 5, **kw).image, a.image)


def _bone_path(sample):
    acc = np.zeros(sample.image.shape, np.float32)
    for b in sample.hand.bones:
        film.draw_long_bone(acc, b, sample.frame)
    for e in sample.hand.ossicles:
        film.draw_ossicle(acc, e, sample.frame)
    return acc


def test_v4_film_differs_from_v3_only_in_bone_but_for_the_fuller_palm(monkeypatch, v3_layout):
    from scipy import ndimage

    from boneage_fast.data import phantom

    # without the fuller palm and fingers (whose soft tissue changes by design), only bone changes
    monkeypatch.setattr(anatomy, "PALM_V4", 1.0)
    monkeypatch.setattr(anatomy, "PALM_V4_SPREAD", 0.0)
    monkeypatch.setattr(anatomy, "FINGER_V4", 1.0)
    monkeypatch.setattr(anatomy, "FINGER_TAPER_V4", 1.0)
    monkeypatch.setattr(anatomy, "FINGER_PAD_V4", None)
    monkeypatch.setattr(anatomy, "PALM_TAPER_V4", 1.0)
    monkeypatch.setattr(anatomy, "FOREARM_V4", 1.0)
    monkeypatch.setattr(anatomy, "FOREARM_WIDTH_V4", 1.0)
    monkeypatch.setattr(anatomy, "FOREARM_WIDTH_GROWN_V4", 1.0)
    monkeypatch.setattr(anatomy, "FOREARM_SECTION_V4", None)
    monkeypatch.setattr(anatomy, "WEB_V4", None)
    monkeypatch.setattr(anatomy, "THENAR_V4", None)
    monkeypatch.setattr(anatomy, "THENAR_EMINENCE_V4", None)
    monkeypatch.setattr(anatomy, "HYPOTHENAR_EMINENCE_V4", None)
    monkeypatch.setattr(phantom, "FRAME_FILL_V4", 0.0)  # and v3's framing
    monkeypatch.setattr(phantom, "FRAME_TOP_V4", None)
    monkeypatch.setattr(phantom, "FOREARM_MM_V4", None)
    # and v3's soft-tissue saturation and raw films' soft tissue, no edge enhancement (it
    # touches the skin's edge too), v3's grain (its spectrum too) and blur
    for kind in ("v4", "v4_raw"):
        v3 = film.LOOKS[kind.replace("v4", "v3")]
        monkeypatch.setitem(film.LOOKS, kind, replace(film.LOOKS[kind], unsharp_mm=None, tissue_profile=None,
                                                       soft_saturation_mm=film.LOOKS["v3"].soft_saturation_mm,
                                                       mu_soft=v3.mu_soft, noise_sd=v3.noise_sd,
                                                       noise_clean=v3.noise_clean, detector_blur=False,
                                                       grain_fine=v3.grain_fine, coarse_grain=v3.coarse_grain))
    for seed, age in ((4, 150.0), (9, 40.0)):
        a = render(age, True, seed=seed, size=(800, 640), style="v3")
        b = render(age, True, seed=seed, size=(800, 640), style="v4")
        assert a.hand_box == b.hand_box
        bone = ndimage.binary_dilation((_bone_path(a) > 0) | (_bone_path(b) > 0), iterations=2)
        differs = a.image != b.image
        assert differs.any() and not (differs & ~bone).any()


class _Mm:
    """A frame of ``scale`` pixels per mm, the hand's origin at (250, 250) mm of the grid."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def __call__(self, p):
        return (np.asarray(p, np.float64) + 250.0) * self.scale

    def scaled(self, k):
        return _Mm(self.scale * k)


def test_v4_thick_soft_tissue_saturates_less():
    """v4's processed films keep the wrist's and palm's soft tissue brighter than the
    fingers': from the union thickness t, the path is ``sat (1 - exp(-t / sat))`` with
    sat 300 mm (v3: 60 mm), so the wrist (over 55 mm) keeps over 0.85 of its path where
    v3 kept under 0.7, and thin tissue is nearly the same in both (film.soft_tissue_coarse on one
    hand under both looks; t from v3's path, inverted in float64)."""
    hand = build_hand(sample_subject(150.0, True, np.random.default_rng(3)), 4)
    # (both looks with v3's flat cross-section: the saturation alone differs)
    path = {style: film.soft_tissue_coarse(hand, _Mm(), (500, 500),
                                           replace(film.LOOKS[style], soft_smoothing=0, tissue_profile=None)
                                           ).astype(np.float64)
            for style in ("v3", "v4")}
    assert film.LOOKS["v4"].soft_saturation_mm == 300.0 and film.LOOKS["v3"].soft_saturation_mm == 60.0
    assert film.LOOKS["v4_raw"].soft_saturation_mm == 60.0  # raw films as v3's
    thick = -60.0 * np.log1p(-path["v3"] / 60.0)
    np.testing.assert_allclose(path["v4"], 300.0 * (1.0 - np.exp(-thick / 300.0)), rtol=2e-3, atol=2e-3)
    wrist, finger = thick > 55.0, (thick > 15.0) & (thick < 25.0)
    assert wrist.any() and finger.any()
    assert (path["v4"][wrist] / thick[wrist]).min() > 0.85 > 0.7 > (path["v3"][wrist] / thick[wrist]).max()
    assert (path["v4"][finger] / path["v3"][finger]).max() < 1.2


def test_v4_processed_films_are_edge_enhanced_raw_ones_not(monkeypatch):
    """The processed v4 look sharpens every film once, at a scale and gain drawn from
    its ranges (their means without nuisance), in pixels of the film's scale; the raw
    look and v3 never."""
    calls = []
    real_unsharp = film.unsharp_

    def spy(img, sigma_px, gain):
        calls.append((sigma_px, gain))
        return real_unsharp(img, sigma_px, gain)

    monkeypatch.setattr(film, "unsharp_", spy)
    from boneage_fast.data.phantom import _Frame

    hand = build_hand(sample_subject(120.0, False, np.random.default_rng(5)), 4)
    T = _Frame(np.array([0.0, 20.0]), np.array([160.0, 200.0]), 3.0, 0.0)
    for seed, (look, nuisance) in enumerate((("v4", False), ("v4", True), ("v4", True), ("v4_raw", True),
                                             ("v3", True))):
        calls.clear()
        film.radiograph(hand, T, (400, 320), np.random.default_rng(seed), 0.0, nuisance, film.LOOKS[look])
        if look != "v4":
            assert calls == [], look
            continue
        (sigma_px, gain), = calls
        lo, hi = film.UNSHARP_GAIN_V4
        if not nuisance:
            assert (sigma_px, gain) == pytest.approx((1.5 * 3.0, (lo + hi) / 2.0))
        else:
            assert 1.0 * 3.0 <= sigma_px <= 2.0 * 3.0 and lo <= gain <= hi
    assert film.LOOKS["v4"].unsharp_mm == (1.0, 2.0) and film.LOOKS["v4"].unsharp_gain == film.UNSHARP_GAIN_V4
    assert 0.0 < film.UNSHARP_GAIN_V4[0] < film.UNSHARP_GAIN_V4[1]


def test_v4_bone_shows_the_network():
    """Inside cancellous bone (the capitate, a metacarpal's base) the v4 film varies more
    from pixel to pixel than v3's (the network's lines and pores; since section 7.5 the
    shafts' cortices and marrow canals carry none)."""
    def spread(style):
        s = render(150.0, True, seed=4, size=(1600, 1280), nuisance=False, style=style)
        img = s.image.astype(float) / 65535
        cap = next(e for e in s.hand.ossicles if e.name == "capitate")
        bone = next(b for b in s.hand.bones if b.name == "metacarpal3")
        unit = (bone.p1 - bone.p0) / np.hypot(*(bone.p1 - bone.p0))
        normal = np.array([-unit[1], unit[0]])
        out = []
        for centre, along, across in ((cap.centre, 0.5 * cap.axes[1], 0.5 * cap.axes[0]),
                                      (bone.p0 + 0.1 * (bone.p1 - bone.p0), 0.05 * np.hypot(*(bone.p1 - bone.p0)),
                                       0.4 * bone.half_width)):
            vals = []
            for offset in np.linspace(-1, 1, 5):
                pts = s.to_pixels(centre + offset * across * normal + np.linspace(-along, along, 60)[:, None] * unit)
                vals.append(np.diff([img[int(round(y)), int(round(x))] for x, y in pts]))
            out.append(np.std(np.concatenate(vals)))
        return out

    for v4, v3 in zip(spread("v4"), spread("v3")):
        assert v4 > 1.5 * v3


def test_v4_soft_tissue_and_carpal_density_vary_per_subject_independently_of_age():
    """v4 draws each subject's soft-tissue fullness and carpal density uniformly over
    their ranges from a stream of its own: the same seed gives the same draws, and
    neither follows the bone age or the sex (else a model could read either as age)."""
    draws = []
    for seed in range(400):
        rng = np.random.default_rng(seed)
        age, male = rng.uniform(0, 228), bool(seed % 2)
        subject = anatomy.sample_v4_traits(sample_subject(age, male, rng), np.random.default_rng([seed, 4]))
        draws.append((age, male, subject.soft_tissue, subject.carpal_density))
    age, male, soft, dens = (np.array(c, dtype=float) for c in zip(*draws))
    for x in (soft, dens):
        assert x.min() >= -1.0 and x.max() <= 1.0
        # uniform on [-1, 1]: mean 0, SD 1/sqrt(3), every fifth of the range used
        assert abs(x.mean()) < 0.1 and abs(x.std() - 1 / math.sqrt(3)) < 0.05
        assert np.histogram(x, bins=5, range=(-1, 1))[0].min() > 50
        assert abs(np.corrcoef(x, age)[0, 1]) < 0.15 and abs(x[male == 1].mean() - x[male == 0].mean()) < 0.15
    assert abs(np.corrcoef(soft, dens)[0, 1]) < 0.15
    a = render(120.0, True, seed=11, size=(256, 256), style="v4").hand.subject
    b = render(120.0, True, seed=11, size=(256, 256), style="v4").hand.subject
    assert (a.soft_tissue, a.carpal_density) == (b.soft_tissue, b.carpal_density)


@pytest.mark.parametrize("soft, dens", [(-1.0, -1.0), (0.0, 0.0), (1.0, 0.5), (-0.3, 1.0)])
def test_v4_draws_set_the_soft_tissue_radii_and_carpal_density(soft, dens):
    from dataclasses import replace

    base = sample_posture(sample_subject(150.0, True, np.random.default_rng(3), hard_fraction=0.0),
                          np.random.default_rng([3, 3]))
    h3 = build_hand(base, 3)
    h4 = build_hand(replace(base, soft_tissue=soft, carpal_density=dens), 4)
    palm = anatomy.PALM_V4 + anatomy.PALM_V4_SPREAD * soft
    assert 1.0 - 1e-12 <= palm and anatomy.PALM_V4 - anatomy.PALM_V4_SPREAD == pytest.approx(1.0)
    ratio = np.array([rb / ra for (_, _, ra, _), (_, _, rb, _) in zip(h3.tissue, h4.tissue)])
    # the palm, wrist and forearm at the drawn fullness (the low end of the range is
    # v3's; the forearm 0.8 x 1.25 of it at 150 months); the fingers at their own 0.92,
    # scaled by the same draw, times the grown fingers' 1.2 (section 7.34); the first web
    # as v3's, WEB_V4 times the drawn fullness deeper
    np.testing.assert_allclose(ratio[1:10:2], [palm * 0.6] + [palm] * 4, rtol=1e-12)  # the thumb's 0.6 (7.14)
    np.testing.assert_allclose(ratio[10:12], [palm, palm * anatomy.FOREARM_V4 * anatomy.FOREARM_WIDTH_GROWN_V4],
                               rtol=1e-12)  # 150 months: grown
    assert anatomy.FOREARM_V4 * anatomy.FOREARM_WIDTH_GROWN_V4 == pytest.approx(0.8 * 1.25)
    grown = anatomy.finger_tissue_v4(150.0)
    assert grown == anatomy.PHALANX_GROWN_V4[1] == 1.2
    np.testing.assert_allclose(ratio[0:10:2], anatomy.FINGER_V4 * palm / anatomy.PALM_V4 * grown, rtol=1e-12)
    np.testing.assert_allclose(ratio[12:], 1.0, rtol=1e-12)
    np.testing.assert_allclose([h4.tissue_depths[i] for i in (12, 13, 14)], anatomy.WEB_V4 * palm, rtol=1e-12)
    assert anatomy.WEB_V4 > 1.0
    carpals = [e for e in h4.ossicles if e.name in CARPAL_SHAPE_V2]
    assert carpals and all(e.density == pytest.approx(0.7 + 0.15 * dens, rel=1e-12) for e in carpals)
    # the radial epiphysis keeps its fixed density
    assert next(e for e in h4.ossicles if e.name == "epi_radius").density == RADIAL_EPIPHYSIS_DENSITY_V4


def _v4_forearm_mm(seed: int, age: float = 240.0) -> tuple[float, float]:
    """How far above the fingertips and below the radius v4's framed span reaches on a
    film of ``seed`` and bone age ``age`` (mm at adult scale): below, the FOREARM_MM_V4
    draw from the seed's own stream plus FOREARM_YOUNG_V4's extra for a young hand (a
    smoothstep 3 t^2 - 2 t^3 of age over its end, written out here, not taken from the
    renderer) less the YOUNG_ABOVE_V4 share of that extra, which goes above (the span
    below runs from where version 3 draws the radius: a young v4 hand's ``wrist_drop``
    more)."""
    from boneage_fast.data import phantom

    below = float(np.random.default_rng([seed, 5]).uniform(*phantom.FOREARM_MM_V4))
    above = 0.0
    if phantom.FOREARM_YOUNG_V4 is not None:
        extra, until = phantom.FOREARM_YOUNG_V4
        t = min(max(age / until, 0.0), 1.0)
        young = extra * (1.0 - (3 * t * t - 2 * t * t * t))
        above = young * (phantom.YOUNG_ABOVE_V4 or 0.0)
        below += young - above
    return above, below


@pytest.mark.parametrize("age", [0.0, 18.0, 60.0, 100.0])
def test_v4_frames_young_hands_with_more_forearm(age, monkeypatch):
    """A young v4 hand's framed span reaches FOREARM_YOUNG_V4's extra further below the
    radius: the same film drawn without it is framed larger by exactly the ratio of the
    two spans (the fill's draw is the same); from FOREARM_YOUNG_V4[1] months on, and on
    clean films, nothing changes."""
    from boneage_fast.data import phantom

    extra, until = phantom.FOREARM_YOUNG_V4
    assert extra > 0 and 60.0 < until <= 144.0
    for seed in (3, 8):
        young = render(age, seed % 2 == 0, seed=seed, size=(640, 512), style="v4")
        clean = render(age, seed % 2 == 0, seed=seed, size=(640, 512), style="v4", nuisance=False)
        monkeypatch.setattr(phantom, "FOREARM_YOUNG_V4", None)
        plain = render(age, seed % 2 == 0, seed=seed, size=(640, 512), style="v4")
        clean0 = render(age, seed % 2 == 0, seed=seed, size=(640, 512), style="v4", nuisance=False)
        above0, below0 = _v4_forearm_mm(seed, age)
        monkeypatch.undo()
        above, below = _v4_forearm_mm(seed, age)
        assert above0 == 0.0 and above + below > below0 + 1.0  # the extra is there under 120 months
        top = young.hand.outline_points(round_ends=True)[:, 1].max()
        ss = young.hand.subject.size_scale
        drop = young.hand.wrist_drop  # the span runs from the radius (WRIST_YOUNG_V4)
        assert plain.hand.wrist_drop == drop
        assert plain.frame.scale / young.frame.scale == pytest.approx(
            (top + (above + below + drop) * ss) / (top + (below0 + drop) * ss), rel=1e-9)
        np.testing.assert_array_equal(clean.image, clean0.image)
    old = render(until + 1.0, True, seed=3, size=(640, 512), style="v4")
    monkeypatch.setattr(phantom, "FOREARM_YOUNG_V4", None)
    np.testing.assert_array_equal(render(until + 1.0, True, seed=3, size=(640, 512), style="v4").image, old.image)


@pytest.mark.parametrize("age", [0.0, 30.0, 90.0])
def test_v4_frames_part_of_the_young_extra_above_the_fingertips(age, monkeypatch):
    """YOUNG_ABOVE_V4's share of the young extra is film above the fingertips instead of
    below the radius: the same film drawn with all of it below has the same scale, and
    its hand stands exactly that many mm (times the hand's scale) higher in the film
    (the span's centre moves by it, the pixel centre does not); the ROI boxes move with
    the hand."""
    from boneage_fast.data import phantom

    share = phantom.YOUNG_ABOVE_V4
    assert share is not None and 0.0 < share < 1.0
    for seed in (3, 8):
        lower = render(age, True, seed=seed, size=(640, 512), style="v4")
        monkeypatch.setattr(phantom, "YOUNG_ABOVE_V4", None)
        higher = render(age, True, seed=seed, size=(640, 512), style="v4")
        monkeypatch.undo()
        above, _ = _v4_forearm_mm(seed, age)
        assert above > 1.0
        ss = lower.hand.subject.size_scale
        assert lower.frame.scale == pytest.approx(higher.frame.scale, rel=1e-12)
        np.testing.assert_allclose(lower.frame.centre_px, higher.frame.centre_px, atol=1e-9)
        assert lower.frame.centre_mm[1] - higher.frame.centre_mm[1] == pytest.approx(above * ss, rel=1e-9)
        # a point of the hand lands above * ss * scale pixels lower, along the film's
        # rotated vertical
        p = np.array([[0.0, 50.0]])
        shift = lower.frame(p)[0] - higher.frame(p)[0]
        assert np.hypot(*shift) == pytest.approx(above * ss * lower.frame.scale, rel=1e-9)
        # ... and so does every ROI box that the film's edges do not clip
        inside = [(b, b0) for b, b0 in zip(lower.roi_boxes, higher.roi_boxes)
                  if min(b[1:3] + b0[1:3]) > 0 and max(b[3], b0[3]) < 512 and max(b[4], b0[4]) < 640]
        assert len(lower.roi_boxes) == len(higher.roi_boxes) and len(inside) >= 10
        for b, b0 in inside:
            assert b[0] == b0[0]
            np.testing.assert_allclose(np.subtract(b[1:], b0[1:]), np.tile(shift, 2), atol=1e-6)


def _ablation_script():
    """scripts/phantom_ablation.py, loaded as a module."""
    return load_script("phantom_ablation")


def test_ablation_switches_reach_every_v4_change():
    """scripts/phantom_ablation.py turns v4's changes off one by one: with all off v4 is
    v3 pixel for pixel, each switch alone changes the film (a refinement of another
    change, ``REFINES``: turned off alone it changes v4's film), and turning them all
    back on restores v4."""
    abl = _ablation_script()
    kw = dict(size=(480, 384), bits=8)
    drawn = dict(size_scale=0.3, bits=8)  # a drawn size (the films' aspect, section 7.33)
    # the second with its radius and ulna fusing, the third an unprocessed film, the
    # fourth young (framed with more forearm), the fifth of a drawn size
    films = ((160.0, 21, kw), (205.0, 21, kw), (160.0, 4, kw), (30.0, 21, kw), (120.0, 8, drawn))
    assert render(160.0, True, 4, style="v4", **kw).extra["unprocessed"]
    v3 = [render(age, True, seed, style="v3", **k).image for age, seed, k in films]
    v4 = [render(age, True, seed, style="v4", **k).image for age, seed, k in films]
    try:
        abl.configure(set())
        for (age, seed, k), ref in zip(films, v3):
            assert np.array_equal(render(age, True, seed, style="v4", **k).image, ref)
        for name in abl.OFF:
            abl.configure(set(abl.OFF) - {name} if name in abl.REFINES else {name})
            assert any(not np.array_equal(render(age, True, seed, style="v4", **k).image, ref)
                       for (age, seed, k), ref in zip(films, v4 if name in abl.REFINES else v3)), name
        assert set(abl.REFINES.values()) <= set(abl.OFF) and set(abl.REFINES) <= set(abl.OFF)
    finally:
        abl.configure(set(abl.OFF))
    for (age, seed, k), ref in zip(films, v4):
        assert np.array_equal(render(age, True, seed, style="v4", **k).image, ref)


def test_ablation_rejects_an_unknown_switch(capsys):
    abl = _ablation_script()
    with pytest.raises(SystemExit) as info:
        abl.main(["--switches", "styloids", "bogus"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--switches: unknown bogus" in err and "styloids" in err.split("known:")[1]
    assert film.LOOKS["v4"].texture == "lines" and film.LINE_TEXTURE_V4 and anatomy.PALM_V4_SPREAD == 0.15


@pytest.mark.parametrize("ages", [("96", "12"), ("-1", "50"), ("0", "300"), ("50", "50")])
def test_ablation_rejects_a_bad_age_range(capsys, ages):
    abl = _ablation_script()
    with pytest.raises(SystemExit) as info:
        abl.main(["--ages", *ages])
    assert info.value.code == 2
    assert "--ages: need 0 <= LO < HI <= 240 months" in capsys.readouterr().err


def test_v4_windows_processed_films_so_little_of_them_is_white():
    """LOOKS["v4"].auto_range: where the drawn (and sharpened) exposure would leave more
    than 1.5 % of the film above white, it is scaled about the background level to put
    that quantile at white (a linear map, so the film keeps its contrast order); films
    that fit are untouched. (The shoulder after it: the next test.)"""
    from dataclasses import replace

    q = film.LOOKS["v4"].auto_range
    look = replace(film.LOOKS["v4"], shoulder=None)
    assert q == 0.985 and film.LOOKS["v4_raw"].auto_range is None
    plain = replace(look, auto_range=None)
    scaled = untouched = 0
    for seed in range(40):
        s = render(200.0 if seed % 2 else 12.0, True, seed, size=(320, 256), style="v4", nuisance=False)
        e0 = film.radiograph(s.hand, s.frame, (320, 256), np.random.default_rng(seed), 0.0, True, plain)
        e1 = film.radiograph(s.hand, s.frame, (320, 256), np.random.default_rng(seed), 0.0, True, look)
        top = float(np.quantile(e0[::4, ::4], q))
        if top <= 1.0:
            assert np.array_equal(e0, e1)
            untouched += 1
            continue
        scaled += 1
        # e1 = bg + k (e0 - bg) with k = (1 - bg) / (top - bg): fit the line, check both
        k, c = np.polyfit(e0.ravel().astype(np.float64), e1.ravel().astype(np.float64), 1)
        bg = c / (1.0 - k)
        assert k == pytest.approx((1.0 - bg) / (top - bg), rel=1e-4)
        assert -0.01 <= bg <= 0.6
        assert float(np.quantile(e1[::4, ::4], q)) == pytest.approx(1.0, abs=1e-4)
        assert np.mean(e1 > 1.0 + 1e-6) < 0.02
    assert scaled >= 3 and untouched >= 3


def test_v4_shoulder_bends_the_bright_end_smoothly_below_white():
    """film.shoulder_ from its definition in float64: unchanged up to the knee, then
    knee + (1 - knee)(1 - exp(-(v - knee)/(1 - knee))): continuous with slope 1 at the
    knee, increasing, below 1 (in float32: up to knee + 6 (1 - knee); far above, 1); and
    LOOKS["v4"] applies it (processed films only)."""
    from dataclasses import replace

    knee = film.LOOKS["v4"].shoulder
    assert knee == film.SHOULDER_V4 and 0.5 < knee < 1.0
    assert film.LOOKS["v4_raw"].shoulder is None and film.LOOKS["v3"].shoulder is None
    v = np.linspace(-0.2, 3.0, 3201).astype(np.float32)
    got = film.shoulder_(v.copy(), knee).astype(np.float64)
    x = v.astype(np.float64)
    ref = np.where(x > knee, knee + (1 - knee) * (1 - np.exp(-(x - knee) / (1 - knee))), x)
    np.testing.assert_allclose(got, ref, atol=2e-6)
    # increasing (in float32 it flattens onto the last value below 1 far up)
    near = x <= knee + 6.0 * (1.0 - knee)
    assert np.all(np.diff(got) >= 0) and np.all(np.diff(got[near]) > 0)
    assert got.max() <= 1.0 and got[near].max() < 1.0
    slope = np.diff(got) / np.diff(x)
    # no kink: about 1 just past the knee (1 - step / (2 (1 - knee)), less float32 rounding)
    assert abs(slope[x[:-1] > knee][0] - 1.0) < 0.03 and slope[-1] < 0.01
    s = render(200.0, True, 3, size=(320, 256), style="v4", nuisance=False)
    sharp = replace(film.LOOKS["v4"], shoulder=None)
    e0 = film.radiograph(s.hand, s.frame, (320, 256), np.random.default_rng(3), 0.0, True, sharp)
    e1 = film.radiograph(s.hand, s.frame, (320, 256), np.random.default_rng(3), 0.0, True, film.LOOKS["v4"])
    np.testing.assert_array_equal(e1, film.shoulder_(e0.copy(), knee))
    assert (e0 > 1.0).any() and e1.max() <= 1.0 and np.mean(e1 >= 1.0) < 0.1 * np.mean(e0 > 1.0)


def test_v4_frames_the_hand_like_the_real_films():
    """v4's hand fills more of the film than v3's (scripts/phantom_realism_real.py's
    films: fingertips a median 5 % of the height below the top edge, the hand box 0.70-0.81
    of the width by set, 1.5 times as tall as wide): from the same draw, FRAME_FILL_V4
    more of the height over a span reaching FOREARM_MM_V4's draw below the radius, the
    fingertips at least FRAME_TOP_V4 below the top edge on an upright film."""
    from boneage_fast.data import phantom

    top, width, aspect = {"v3": [], "v4": []}, {"v3": [], "v4": []}, {"v3": [], "v4": []}
    for i in range(40):
        for style in ("v3", "v4"):
            s = render(20.0 + 5 * i, bool(i % 2), seed=300 + i, size=(600, 480), bits=8, style=style)
            H, W = s.image.shape
            x0, y0, x1, y1 = s.hand_box
            top[style].append(y0 / H)
            width[style].append((x1 - x0) / W)
            aspect[style].append((y1 - y0) / (x1 - x0))
            if style == "v4":  # the same fill draw plus FRAME_FILL_V4, over v4's own span
                outline = s.hand.outline_points(round_ends=True)
                above, below = _v4_forearm_mm(300 + i, 20.0 + 5 * i)
                span = outline[:, 1].max() + (above + below + s.hand.wrist_drop) * s.hand.subject.size_scale
                assert s.frame.scale == pytest.approx((v3_fill + phantom.FRAME_FILL_V4) * H / span, rel=1e-9)
                if abs(s.extra["angle_deg"]) < 2.0:  # upright: the fingertips inside the margin
                    assert y0 >= phantom.FRAME_TOP_V4 * H - 1.0
            else:
                v3_scale = s.frame.scale
                # v3's fill: the span from the fingertips to 50 mm below the radius
                outline = s.hand.outline_points(round_ends=True)
                v3_fill = s.frame.scale * (outline[:, 1].max() + 50.0 * s.hand.subject.size_scale) / H
                assert 0.65 - 1e-9 <= v3_fill <= 0.95 + 1e-9
    # from 120 months (no young extra) the fingertips stand as near the top edge as the
    # films'; younger hands lower, by YOUNG_ABOVE_V4's share of the young extra (the raw
    # RSNA films' young hands stand lower in their films than their older ones,
    # docs/phantom.md section 7.19), still above v3's
    grown = [t for i, t in enumerate(top["v4"]) if 20.0 + 5 * i >= phantom.FOREARM_YOUNG_V4[1]]
    assert np.median(grown) < 0.09 < np.median(top["v3"])
    assert np.median(top["v4"]) < np.median(top["v3"]) - 0.02
    assert 0.70 <= np.median(width["v4"]) <= 0.85
    # 1.43 with 50 mm below the radius; the young hands framed with more forearm
    # (FOREARM_YOUNG_V4) are taller for their width than the films' (their palms are
    # still v4's narrower ones, docs/phantom.md section 7.17): over all ages up to 1.65,
    # from 120 months (no extra forearm) the films' 1.5
    assert 1.48 <= np.median(aspect["v4"]) <= 1.65
    older = [a for i, a in enumerate(aspect["v4"]) if 20.0 + 5 * i >= phantom.FOREARM_YOUNG_V4[1]]
    assert 1.4 <= np.median(older) <= 1.6


def test_tapered_soft_tissue_capsule_follows_its_formula():
    """v4's tapered capsules (``film.tissue_t4`` with ``r1_mm`` and ``profile``): path
    2 r(t) (1 - q^2/r(t)^2)^p with r(t) linear along the axis and round ends of the end
    radii (times ``depth``, the outline unchanged), against a float64 evaluation of that
    formula at every pixel; profile 1/4 and 1/2 on one radius reproduce the flat and
    round sections."""

    class Frame:
        def __init__(self, scale):
            self.scale = scale

        def __call__(self, p):
            return np.asarray(p, dtype=np.float64) * self.scale

    p0, p1 = np.array([30.0, 40.0]), np.array([150.0, 70.0])
    for scale, r0, r1, prof, depth in ((1.0, 18.0, 9.0, 0.375, 1.0), (0.5, 10.0, 16.0, 0.3, 1.0),
                                       (2.0, 12.0, 12.0, 0.5, 1.0), (1.0, 18.0, 9.0, 0.375, 1.6)):
        acc = np.zeros((int(110 * scale), int(190 * scale)), np.float32)
        film.tissue_t4(acc, p0, p1, r0, Frame(scale), r1_mm=r1, profile=prof, depth=depth)
        ys, xs = np.mgrid[0:acc.shape[0], 0:acc.shape[1]].astype(np.float64) / scale  # mm
        d = p1 - p0
        t = np.clip(((xs - p0[0]) * d[0] + (ys - p0[1]) * d[1]) / (d @ d), 0.0, 1.0)
        q2 = (xs - p0[0] - t * d[0]) ** 2 + (ys - p0[1] - t * d[1]) ** 2
        r = r0 + t * (r1 - r0)
        want = 2 * depth * r * np.clip(1 - q2 / r ** 2, 0, None) ** prof
        got = acc.astype(np.float64) ** 0.25
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-3 * depth * max(r0, r1))
        assert (got[want == 0] == 0).all()
    # one radius: profile 1/4 is the flat section, 1/2 the round one
    for flat, prof in ((True, 0.25), (False, 0.5)):
        a, b = np.zeros((80, 200), np.float32), np.zeros((80, 200), np.float32)
        film.tissue_t4(a, p0, p1, 15.0, Frame(1.0), flat=flat)
        film.tissue_t4(b, p0, p1, 15.0, Frame(1.0), r1_mm=15.0, profile=prof)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-2)


def test_outline_points_lie_on_the_tapered_capsules():
    """``Hand.outline_points`` of a tapered capsule: its side points at the radius of
    their place along the axis, its end points at the end radii (what the renderer draws
    inside; the hand box is built from them)."""
    from boneage_fast.data.anatomy import Hand

    hand = Hand(sample_subject(100.0, True, np.random.default_rng(0)))
    p0, p1, r0, r1 = np.array([0.0, 0.0]), np.array([0.0, 50.0]), 10.0, 5.0
    hand.tissue = [(p0, p1, r0, r1)]
    pts = hand.outline_points(round_ends=True)
    t = np.clip(pts[:, 1] / 50.0, 0.0, 1.0)
    dist = np.hypot(pts[:, 0], pts[:, 1] - t * 50.0)
    np.testing.assert_allclose(dist, r0 + t * (r1 - r0), rtol=1e-12, atol=1e-12)
    assert pts[:, 1].max() == pytest.approx(55.0) and pts[:, 1].min() == pytest.approx(-10.0)
    assert pts[:, 0].max() == pytest.approx(10.0)


@pytest.mark.parametrize("age, male", [(30, False), (110, True), (160, False), (216, True)])
def test_v4_fingers_taper_round_their_phalanges_and_stand_apart(age, male):
    """v4's finger soft tissue: about twice its proximal phalanx's shaft wide (1.5-2.6
    times, to 3.1 under five years; the real films of ../shared/realdata about 1.8-2
    from eight years), narrower at the distal phalanx than at the MCP joint, its tip a
    few mm beyond the distal tuft; and the middle finger clear of its neighbours at its
    PIP joint (the first v4's mittens touched up to there)."""
    for seed in range(4):
        h4 = _hands(age, male, seed)[1]
        bones = {b.name: b for b in h4.bones}
        s = h4.subject.size_scale
        for ray in range(5):
            p0, p1, r0, r1 = h4.tissue[2 * ray]
            prox, dist = bones[f"proximal{ray + 1}"], bones[f"distal{ray + 1}"]
            # (young hands plumper: tissue grows as size^0.6, bones as size)
            assert 1.5 <= r0 / prox.half_width <= (3.1 if age < 60 else 2.6), (ray, r0 / prox.half_width)
            assert r1 < r0 and r1 > 1.5 * dist.half_width
            u = (dist.p1 - dist.p0) / np.hypot(*(dist.p1 - dist.p0))
            pad = (p1 + u * r1 - dist.p1) @ u
            assert 3.0 * s <= pad <= 5.0 * s + 1e-9
        # the middle finger's outline at its PIP joint clears the index and ring fingers'
        c = h4.joints["PIP"][2][0]
        _, own_r = _nearest_on_capsule(h4.tissue[2 * 2], c)
        for ray in (1, 3):
            axis_point, r = _nearest_on_capsule(h4.tissue[2 * ray], c)
            gap = np.hypot(*(c - axis_point)) - own_r - r
            assert gap > -1.0, (seed, ray, gap)


def _nearest_on_capsule(capsule, c):
    """The point of a tapered capsule's axis nearest ``c`` and the capsule's radius there."""
    p0, p1, r0, r1 = capsule
    t = float(np.clip((c - p0) @ (p1 - p0) / ((p1 - p0) @ (p1 - p0)), 0.0, 1.0))
    return p0 + t * (p1 - p0), r0 + t * (r1 - r0)


def _shaft_dip(image: np.ndarray, sample, name: str = "metacarpal3") -> float:
    """Across a long bone at mid-shaft (a profile averaged over 9 lines along the bone):
    the cortices' peak less the level on the axis, over that peak less the level beside
    the bone (1.4-1.6 half-widths from the axis); 0 for a bone as bright on its axis as
    at its edges."""
    T = sample.frame
    b = next(b for b in sample.hand.bones if b.name == name)
    m, d = T((b.p0 + b.p1) / 2), T(b.p1) - T(b.p0)
    d = d / np.hypot(*d)
    n = np.array([-d[1], d[0]])
    hw = b.half_width * T.scale
    img = image.astype(np.float64)

    def level(q):
        pts = [m + n * q + d * t for t in np.linspace(-4, 4, 9)]
        return float(np.mean([img[int(round(y)), int(round(x))] for x, y in pts]))

    inside = [level(q) for q in np.linspace(-0.95, 0.95, 39) * hw]
    beside = np.mean([level(s * f * hw) for s in (-1, 1) for f in (1.4, 1.5, 1.6)])
    peak = max(inside)
    return (peak - level(0.0)) / (peak - beside)


def test_v4_shafts_are_hollow_tubes():
    """v4's long bones: an empty marrow canal under the cortex (film.MARROW_V4), so the
    film dips from the cortices to the axis mid-shaft, as on the real films (a dip of
    0.35-0.74 of the cortex's height over the soft tissue on 8 of them,
    scripts/phantom_realism_real.py --parts cortex); v3's marrow leaves a shallower dip.
    Same subjects, clean films."""
    assert film.LOOKS["v4"].marrow == film.MARROW_V4 < film.LOOKS["v3"].marrow
    assert film.LOOKS["v4"].smooth_cortex and film.LOOKS["v4_raw"].smooth_cortex
    assert not film.LOOKS["v3"].smooth_cortex
    dips = {"v3": [], "v4": []}
    for seed, age in enumerate((60.0, 120.0, 170.0)):
        for style in dips:
            s = render(age, seed % 2 == 0, seed=seed, size=(1280, 1024), style=style, nuisance=False)
            dips[style].append(_shaft_dip(s.image, s))
    assert min(dips["v4"]) > 0.35, dips
    assert all(b > a + 0.1 for a, b in zip(dips["v3"], dips["v4"])), dips


def test_v4_texture_spares_the_cortex():
    """The trabecular texture modulates only cancellous bone in v4: rendered with the
    texture's amplitude at 0 and at v4's, the films differ inside the bones' cancellous
    ends and carpals but hardly along the shafts' cortices, where v3's texture (over the
    whole bone) moves them as much as elsewhere."""
    kw = dict(size=(1280, 1024), nuisance=False)

    def spread(style):
        base = film.LOOKS[style]
        out = []
        try:
            for amp in (0.0, base.texture_amplitude):
                film.LOOKS[style] = replace(base, texture_amplitude=amp, unsharp_mm=None)
                s = render(140.0, True, seed=5, style=style, **kw)
                out.append(s.image.astype(np.float64))
        finally:
            film.LOOKS[style] = base
        T = s.frame
        b = next(b for b in s.hand.bones if b.name == "metacarpal3")
        m, d = T((b.p0 + b.p1) / 2), T(b.p1) - T(b.p0)
        d = d / np.hypot(*d)
        n = np.array([-d[1], d[0]])
        hw = b.half_width * T.scale
        # the cortex band 0.75-0.85 half-widths off the axis over the middle fifth of the shaft
        pts = [m + n * s_ * f * hw + d * t for s_ in (-1, 1) for f in (0.75, 0.8, 0.85)
               for t in np.linspace(-0.1, 0.1, 41) * np.hypot(*(T(b.p1) - T(b.p0)))]
        diff = np.abs(out[1] - out[0])
        cortex = np.mean([diff[int(round(y)), int(round(x))] for x, y in pts])
        cap = next(e for e in s.hand.ossicles if e.name == "capitate")
        cx, cy = T(cap.centre)
        r = int(0.4 * min(cap.axes) * T.scale)
        carpal = diff[int(cy) - r:int(cy) + r, int(cx) - r:int(cx) + r].mean()
        return cortex, carpal

    cortex4, carpal4 = spread("v4")
    cortex3, carpal3 = spread("v3")
    assert carpal4 > 0.0 and cortex4 < 0.25 * carpal4, (cortex4, carpal4)
    assert cortex3 > 0.5 * carpal3, (cortex3, carpal3)


@pytest.mark.parametrize("age, male", [(36, False), (100, True), (158, True), (150, False)])
def test_v4_metacarpal_heads_are_domes(age, male, v3_layout):
    """v4's metacarpal-head epiphyses (rays 2-5) are at least METACARPAL_HEAD_V4 as thick
    as wide once they have grown past that (v3's flatten to a lens about a third as thick
    as wide), with their joint side and the MCP joints where v3 has them."""
    h3, h4 = _hands(age, male, seed=age)
    for ray in (2, 3, 4, 5):
        name = f"epi_metacarpal{ray}"
        e3 = next((e for e in h3.ossicles if e.name == name), None)
        e4 = next((e for e in h4.ossicles if e.name == name), None)
        if e3 is None:
            assert e4 is None
            continue
        thick3, thick4, width = 2 * e3.axes[1], 2 * e4.axes[1], 2 * e4.axes[0]
        assert thick4 >= min(anatomy.METACARPAL_HEAD_V4 * width, thick3) - 1e-9
        assert thick4 >= thick3 - 1e-12
        if age >= 100:
            assert thick3 < 0.45 * width and thick4 >= 0.69 * width, (ray, thick3 / width, thick4 / width)
    np.testing.assert_allclose([c for c, _ in h3.joints["MCP"]], [c for c, _ in h4.joints["MCP"]], atol=1e-12)


def test_v4_unprocessed_films_show_soft_tissue_as_the_raw_films_do():
    """On the raw films of ../shared/realdata bone stands above the soft tissue about as far
    as the soft tissue above the background (scripts/phantom_realism_real.py --parts
    softbone: 0.96, the median of 5 films of 10-60 months); v3's unprocessed look shows
    the soft tissue barely above the background (2.7 there), v4's since MU_SOFT_RAW_V4 as
    the films do. Here: the median over the unprocessed films among 40 seeds at 30 months."""
    measure = load_script("phantom_realism_real").phantom_soft_bone
    got = {"v3": [], "v4": []}
    for style in got:
        for seed in range(40):
            s = render(30.0, bool(seed % 2), seed=seed, size=(640, 512), style=style)
            if s.extra["unprocessed"]:
                got[style].append(measure(s)["contrast"])
    assert len(got["v4"]) >= 6 and len(got["v3"]) == len(got["v4"])  # the same films are unprocessed
    assert np.median(got["v4"]) <= 1.3 and np.median(got["v3"]) >= 1.8
    assert film.LOOKS["v4_raw"].mu_soft == film.MU_SOFT_RAW_V4 > film.LOOKS["v3_raw"].mu_soft


@pytest.mark.parametrize("age, male, real", [(24.0, True, (0.14, 0.22)), (42.0, False, (0.14, 0.22)),
                                            (200.0, True, (0.11, 0.16))])
def test_v4_young_metacarpals_are_stubbier_as_on_the_films(age, male, real, monkeypatch):
    """Metacarpal 3's mid-shaft width over its length, measured on the film as the real
    films were (scripts/phantom_realism_real.py --parts slender: 0.15-0.21 on the five
    films of 10-55 months, 0.13 grown; docs/phantom.md 7.4 and 7.7). At the films' ages
    (24 and 42 months) version 4's hands fall inside the real range and are stubbier
    than with YOUNG_WIDTH_V4 off (version 3's widths, 0.14 at every age); grown the two
    agree. Median over 6 clean phantoms (no film-in-frame nuisances), as the script
    measures them."""
    measure = load_script("phantom_realism_real").phantom_metacarpal_slenderness

    def median():
        return np.median([measure(render(age, male, seed=seed, size=(1280, 1024), style="v4", nuisance=False))
                          for seed in range(6)])

    on = median()
    monkeypatch.setattr(anatomy, "YOUNG_WIDTH_V4", 0.0)
    off = median()
    assert real[0] <= on <= real[1], (on, off)
    if age < 100:
        assert on >= off + 0.02, (on, off)
    else:
        assert on == pytest.approx(off, abs=0.005)


@pytest.mark.parametrize("age, male", [(24.0, False), (42.0, True), (55.0, False)])
def test_v4_young_forearms_are_as_stout_as_on_the_films(age, male, monkeypatch):
    """The distal radial and ulnar metaphyses' widths and the gap between them over
    metacarpal 3's length (scripts/phantom_realism_real.py --parts forearm; 5 young
    films of 24-82 months, read by eye and, since section 7.29, put on the steepest
    edge: radius 0.47-0.67, ulna 0.27-0.39, gap 0.03-0.20). Version 4's young forearms
    fall in wider ranges about those; with YOUNG_WIDTH_V4, ULNA_FLARE_V4 and the young
    forearm of section 7.29 at version 3's values the ulna is half as wide (0.17); the
    radius' end, narrower since section 7.29's trumpet flare, is about version 3's
    (0.45-0.46 against 0.46-0.49). Median over 4 clean phantoms."""
    measure = load_script("phantom_realism_real").phantom_forearm

    def median():
        got = [measure(render(age, male, seed=seed, size=(640, 512), style="v4", nuisance=False)) for seed in range(4)]
        return {k: float(np.median([g[k] for g in got])) for k in ("radius", "ulna", "gap")}

    on = median()
    assert 0.43 <= on["radius"] <= 0.75 and 0.28 <= on["ulna"] <= 0.44 and -0.08 <= on["gap"] <= 0.30, on
    monkeypatch.setattr(anatomy, "YOUNG_WIDTH_V4", 0.0)
    monkeypatch.setattr(anatomy, "ULNA_FLARE_V4", 0.3)
    monkeypatch.setattr(anatomy, "YOUNG_FOREARM_V4", None)
    off = median()
    assert off["ulna"] < 0.2 and on["ulna"] > off["ulna"] + 0.1, (on, off)


def _medians(got: list[dict], keys) -> dict:
    """Per key the median over the phantoms' measures that have it (not None)."""
    return {k: float(np.median([g[k] for g in got if g[k] is not None])) for k in keys}


@pytest.mark.parametrize("age, male", [(24.0, False), (42.0, True), (82.0, False)])
def test_v4_forearm_is_as_wide_and_as_round_as_on_the_films(age, male, monkeypatch):
    """Across the distal end of the radius (scripts/phantom_realism_real.py --parts
    armtissue; 5 young films of 24-82 months; metacarpal 3's length to the top of its
    head's epiphysis, section 7.25): the forearm 1.04-1.90 times metacarpal 3's length
    wide, soft tissue 0.02-0.26 of it beyond the ulna and 0.14-0.44 beyond the radius, its
    section filled 0.75-0.81 (1 for a flat slab). Version 4's forearm falls
    in or near those ranges; with FOREARM_WIDTH_V4 and FOREARM_SECTION_V4 off (v4 before
    section 7.11) the ulna reached the skin and the section was a slab (fill above 0.9
    under section 7.3's edge enhancement, 0.88-0.89 under section 7.13's gentler one:
    the measure reads a slab's edges through it; section 7.20's thenar eminence, which
    reaches the slab's radial edge, is off with them). Median over 4 clean phantoms."""
    measure = load_script("phantom_realism_real").phantom_arm_section

    def median():
        got = [measure(render(age, male, seed=seed, size=(1280, 1024), style="v4", nuisance=False))
               for seed in range(4)]
        # (no fill where neither side has soft tissue enough to read: a thin subject)
        return _medians(got, ("width", "fill", "low_side", "high_side"))

    on = median()
    assert 1.04 <= on["width"] <= 1.9 and 0.7 <= on["fill"] <= 0.86, on
    assert 0.02 <= on["low_side"] <= 0.26 and 0.14 <= on["high_side"] <= 0.44, on
    monkeypatch.setattr(anatomy, "FOREARM_WIDTH_V4", 1.0)
    monkeypatch.setattr(anatomy, "FOREARM_WIDTH_GROWN_V4", 1.0)
    monkeypatch.setattr(anatomy, "FOREARM_SECTION_V4", None)
    monkeypatch.setattr(anatomy, "THENAR_EMINENCE_V4", None)  # (section 7.20's, which fills the slab's radial edge)
    monkeypatch.setattr(anatomy, "HYPOTHENAR_EMINENCE_V4", None)
    off = median()
    assert off["width"] < 1.15 and off["low_side"] < 0.03 and off["fill"] > max(0.85, on["fill"] + 0.08), (on, off)


@pytest.mark.parametrize("age, male", [(120.0, False), (150.0, True), (180.0, True)])
def test_v4_older_forearm_narrows_as_on_the_films(age, male):
    """On 6 films of 120-180 months the forearm across the radius' physis is 0.86-1.14
    times metacarpal 3's length (scripts/phantom_realism_real.py --parts armtissue,
    ``older``), against 1.04-1.90 on the young films (section 7.25): v4's narrows with bone age
    (``anatomy.forearm_width_v4``: 1.4 to 84 months, linearly to 1.25 at 144) into the
    older films' range. Median over 4 clean phantoms."""
    measure = load_script("phantom_realism_real").phantom_arm_section
    got = [measure(render(age, male, seed=s, size=(1280, 1024), style="v4", nuisance=False))["width"]
           for s in range(4)]
    assert 0.86 <= float(np.median(got)) <= 1.14, got


def test_forearm_width_factor_falls_linearly_between_its_ages():
    f = anatomy.forearm_width_v4
    lo, hi = anatomy.FOREARM_NARROWS_V4
    assert f(0.0) == f(lo) == anatomy.FOREARM_WIDTH_V4 == 1.4
    assert f(hi) == f(228.0) == anatomy.FOREARM_WIDTH_GROWN_V4 == 1.25
    assert f((lo + hi) / 2) == pytest.approx((1.4 + 1.25) / 2, abs=1e-12)
    ages = np.linspace(0, 228, 50)
    assert np.all(np.diff([f(a) for a in ages]) <= 1e-12)


def test_v4_forearm_section_is_drawn_with_its_own_exponent(monkeypatch):
    """The forearm's capsule carries its own cross-section exponent (``Hand.tissue_sections``),
    the other capsules the look's: the soft-tissue grid equals one drawn capsule by
    capsule with those exponents (and the first web's depths, ``Hand.tissue_depths``) by
    ``film.tissue_t4`` (the soft union written out here); a hand without the entry draws
    the forearm at the look's exponent, one without the depths the webs as deep as wide
    (the first web's three deeper, section 7.27's three finger webs shallower)."""
    h = render(60.0, True, seed=2, size=(400, 320), style="v4", nuisance=False)
    hand, T, look = h.hand, h.frame, film.LOOKS["v4"]
    assert hand.tissue_sections == {11: anatomy.FOREARM_SECTION_V4} and look.tissue_profile != 1.0

    depths = dict(hand.tissue_depths)
    n = len(hand.tissue)
    assert sorted(depths) == [12, 13, 14, n - 3, n - 2, n - 1] and min(depths[i] for i in (12, 13, 14)) > 1.0
    assert [depths[i] for i in (n - 3, n - 2, n - 1)] == [anatomy.FINGER_WEB_V4[2]] * 3

    def union(sections, depths=depths):
        Ts = T.scaled(film.SOFT_GRID)
        lo = np.zeros((max(int(400 * film.SOFT_GRID), 4), max(int(320 * film.SOFT_GRID), 4)), np.float32)
        for i, (p0, p1, r0, r1) in enumerate(hand.tissue):
            film.tissue_t4(lo, p0, p1, r0, Ts, r1_mm=r1, profile=sections.get(i, look.tissue_profile),
                           depth=depths.get(i, 1.0))
        lo = np.sqrt(np.sqrt(lo))
        sat = look.soft_saturation_mm
        return film._smooth3(np.float32(sat) * (1.0 - np.exp(-lo / np.float32(sat))), look.soft_smoothing)

    got = film.soft_tissue_coarse(hand, T, (400, 320), look)
    np.testing.assert_allclose(got, union({11: 1.0}), rtol=1e-5, atol=1e-5)
    flat = union({})
    assert np.abs(got - flat).max() > 0.5  # the exponent matters
    hand.tissue_sections = {}
    np.testing.assert_allclose(film.soft_tissue_coarse(hand, T, (400, 320), look), flat, rtol=1e-5, atol=1e-5)
    hand.tissue_depths = {}
    shallow = union({}, {})
    assert np.abs(flat - shallow).max() > 0.5  # the depths matter
    np.testing.assert_allclose(film.soft_tissue_coarse(hand, T, (400, 320), look), shallow, rtol=1e-5, atol=1e-5)


def test_v4_capitate_grain_is_as_strong_and_as_skewed_as_the_films(monkeypatch):
    """The capitate's trabecular grain (scripts/phantom_realism_real.py --parts texture;
    7 films of 10-15 years: band-pass amplitude 0.025-0.089, median 0.059, skewness
    0.23-0.54, median 0.47, kurtosis -0.30-0.93, median 0.14): over 8 phantoms of 150
    months at the films' metacarpal 3 length the median amplitude lies in 0.04-0.08, the
    skewness in 0.25-0.65 and the kurtosis above -0.2; one network of lines (v4 before
    section 7.15) reads a two-level lace, its kurtosis lower by more than 0.15; section
    7.10's lines (one network, width 0.2, amplitude 1) read stronger (about 0.09; more
    skewed too until section 7.16 reshaped the capitate, about as skewed since)."""
    measure = load_script("phantom_realism_real").phantom_capitate_texture

    def median():
        return _medians([measure(150.0, True, 40_000 + s, 565.0, "v4") for s in range(8)],
                        ("amplitude", "skew", "kurtosis"))

    on = median()
    assert 0.04 <= on["amplitude"] <= 0.08 and 0.25 <= on["skew"] <= 0.65 and on["kurtosis"] > -0.2, on
    monkeypatch.setattr(film, "PROJECTED_TEXTURE_V4", False)
    one = median()
    assert one["kurtosis"] < on["kurtosis"] - 0.15, (on, one)
    monkeypatch.setattr(film, "LINE_WIDTH", 0.2)
    for kind in ("v4", "v4_raw"):
        monkeypatch.setitem(film.LOOKS, kind, replace(film.LOOKS[kind], texture_amplitude=1.0))
    off = median()
    assert off["amplitude"] > on["amplitude"] * 1.3 and off["skew"] > on["skew"] - 0.05, (on, off)


def test_v4_films_are_as_grainy_as_the_films(monkeypatch):
    """The finest grain (scripts/phantom_realism_real.py --parts grain; 5 young films:
    0.0034-0.0112 in the forearm's soft tissue, 0.005-0.028 in the distal radial
    metaphysis): over 6 phantoms of 42 months at the films' metacarpal 3 length v4's
    lies in those ranges; with v3's noise and no extra blur (the ``film_grain`` switch
    off) its soft tissue reads under 0.003, about half."""
    measure = load_script("phantom_realism_real").phantom_grain

    def median():
        return _medians([measure(42.0, True, 42_000 + s, 210.0, "v4") for s in range(6)], ("soft", "bone"))

    on = median()
    assert 0.0034 <= on["soft"] <= 0.0112 and 0.005 <= on["bone"] <= 0.028, on
    for kind in ("v4", "v4_raw"):
        v3 = film.LOOKS[kind.replace("v4", "v3")]
        monkeypatch.setitem(film.LOOKS, kind, replace(film.LOOKS[kind], noise_sd=v3.noise_sd,
                                                       noise_clean=v3.noise_clean, detector_blur=False))
    off = median()
    assert off["soft"] < 0.003 and off["soft"] < 0.7 * on["soft"], (on, off)


def test_v4_carpal_rim_is_as_thin_as_on_the_films(monkeypatch):
    """The capitate's cortical rim (scripts/phantom_realism_real.py --parts rim; 7 films
    of 10-15 years: width at half height 0-1.1 hundredths of metacarpal 3's length,
    median 0.6; peak 0.87-1.83 times the interior's height over the joint space, median
    1.37): over 8 phantoms of 150 months at the films' metacarpal 3 length v4's lies in
    those ranges; with v3's cortical shell (the ``ossicle_rim`` switch off: 0.12 of the
    radius) the rim reads about twice as wide (1.15-1.75 on the films' ages), or since
    section 7.33's hands, upright as the films', at least 1.5 times as wide (these 8
    read 1.1 against 0.7; 16 read 1.0, where the turned hands before it read 1.4: the
    measure reads a turned shell wider). (Over 4 phantoms the median width swung 0.65-1.1
    with the measure's centre and the hamate's outline, section 7.16.)"""
    measure = load_script("phantom_realism_real")

    def median():
        figs = [measure.rim_figures(measure.phantom_rim(150.0, True, 40_000 + s, 565.0, "v4")[0]) for s in range(8)]
        return _medians(figs, ("peak", "width"))

    on = median()
    assert 0.2 <= on["width"] <= 1.1 and 0.87 <= on["peak"] <= 1.83, on
    assert film.LOOKS["v4"].ossicle_cortex == film.LOOKS["v4_raw"].ossicle_cortex == film.OSSICLE_CORTEX_V4
    for kind in ("v4", "v4_raw"):
        monkeypatch.setitem(film.LOOKS, kind, replace(film.LOOKS[kind], ossicle_cortex=0.12))
    off = median()
    assert off["width"] >= 1.0 and off["width"] > 1.5 * on["width"], (on, off)


def test_v4_radial_physis_is_as_thin_as_on_the_films(monkeypatch):
    """The distal radial physis (scripts/phantom_realism_real.py --parts physis; 6 films
    of 120-180 months: 1.2-1.8 hundredths of metacarpal 3's length wide at half its
    depth, median 1.35): over 4 phantoms of 136 months (a girl at the films' metacarpal 3
    length) v4's lies near that range; with versions 2-3's 1.2 mm physis (the
    ``forearm_physis`` switch off) it reads about twice as wide (1.9-2.7 on the films'
    ages)."""
    measure = load_script("phantom_realism_real").phantom_physis

    def median():
        return _medians([measure(136.0, False, 40_000 + s, 570.0, "v4") for s in range(4)], ("width", "depth"))

    on = median()
    assert 1.0 <= on["width"] <= 1.9 and on["depth"] > 0.05, on
    monkeypatch.setattr(anatomy, "FOREARM_PHYSIS_V4", None)
    off = median()
    assert off["width"] > 1.9 and off["width"] > on["width"] + 0.5, (on, off)


def test_v4_palm_soft_tissue_is_as_even_as_on_the_films(monkeypatch):
    """The palm's soft tissue across the hand at metacarpal 3's mid-shaft
    (scripts/phantom_realism_real.py --parts palmtissue; 6 registered films of 120-180
    months: its 10th percentile 0.03-0.22 below its median, median 0.11): over 4
    processed phantoms of 150 months at the films' metacarpal 3 length v4's lies in that
    range (near its top since section 7.18's wider layout: 0.217, 0.144 on v3's); with
    version 3's first web (``WEB_V4`` None, the ``thumb_web`` switch off) the soft tissue
    between the index ray and the thumb is a thin, dark web (about 0.3 below; 0.08-0.2
    more than with v4's)."""
    measure = load_script("phantom_realism_real")
    seeds = measure.phantom_seeds(150.0, True, "v4", 43_000, 4)

    def median():
        return float(np.median([measure.phantom_palm_flatness(150.0, True, s, 565.0, "v4")["drop"] for s in seeds]))

    on = median()
    assert 0.03 <= on <= 0.22 and anatomy.WEB_V4 is not None and anatomy.WEB_V4 > 1.0, on
    monkeypatch.setattr(anatomy, "WEB_V4", None)
    off = median()
    assert off > 0.22 and off > on + 0.06, (on, off)


def test_v4_processed_shaft_stands_over_its_soft_tissue_as_on_the_films(monkeypatch):
    """Metacarpal 3's shaft over the soft tissue beside it (scripts/phantom_realism_real.py
    --parts shaft; 6 registered films of 120-180 months, median 0.42) on 4 processed
    phantoms of 150 months at the films' metacarpal 3 length: near the films' (0.35-0.5);
    with section 7.3's edge enhancement, v3's bone density and the shoulder at 0.9 (v4
    until section 7.13) it stood higher."""
    measure = load_script("phantom_realism_real")
    seeds = measure.phantom_seeds(150.0, True, "v4", 43_000, 4)

    def median():
        return float(np.median([measure.phantom_shaft_edge(150.0, True, s, 565.0, "v4")["height"] for s in seeds]))

    on = median()
    assert 0.35 <= on <= 0.5, on
    assert film.LOOKS["v4"].mu_bone == film.MU_BONE_V4 < film.LOOKS["v3"].mu_bone
    monkeypatch.setitem(film.LOOKS, "v4", replace(film.LOOKS["v4"], mu_bone=film.LOOKS["v3"].mu_bone,
                                                  unsharp_gain=(0.6, 1.4), shoulder=0.9))
    off = median()
    assert off > on + 0.04, (on, off)


# ------------------------------------------------ metacarpal bases and CMC joints (7.14)
def _outline_half_width(b, u):
    """A long bone's outline half-width (mm) at fraction ``u`` of its length from the
    base, away from its rounded ends, from film.draw_long_bone's formula (written here
    in float64)."""
    mid = math.sin(math.pi * u) ** 2
    return b.half_width * (1.0 + b.flare0 * math.exp(-(u / b.base_span) ** 2)
                           + b.flare1 * math.exp(-((1.0 - u) / 0.15) ** 2) - 0.1 * mid)


@pytest.mark.parametrize("age, male", [(40, False), (120, True), (165, True), (200, False)])
def test_metacarpal_bases_flare_over_their_proximal_quarter(age, male):
    """v4's grown metacarpals 2-5 widen from the narrowest shaft (over the middle 0.3-0.7
    of the length) to 1.35-1.65 times at 0.15 of the length from the base and 1.5-2.0 at
    0.06 (5 registered films of 120-180 months, read by eye: 1.4-2.1 at 0.14-0.22,
    1.4-2.1 at 0.05-0.08; section 7.14); v3's outline to under 1.2 and 1.35. A young
    one's stubbier shaft flares less (its base as wide as v3's would be, at least), and
    its head stays as wide as v3's at every age."""
    h3, h4 = _hands(age, male, seed=age)
    b3s = {b.name: b for b in h3.bones}
    us = np.linspace(0.3, 0.7, 41)
    n = 0
    for b4 in h4.bones:
        if b4.name not in ("metacarpal2", "metacarpal3", "metacarpal4", "metacarpal5"):
            continue
        n += 1
        b3 = b3s[b4.name]
        ratio = {}
        for key, b in (("v4", b4), ("v3", b3)):
            waist = min(_outline_half_width(b, u) for u in us)
            ratio[key] = (_outline_half_width(b, 0.15) / waist, _outline_half_width(b, 0.06) / waist)
        assert ratio["v3"][0] < 1.2 and ratio["v3"][1] < 1.35, b4.name
        if age >= 120:
            assert 1.35 <= ratio["v4"][0] <= 1.65 and 1.5 <= ratio["v4"][1] <= 2.0, (b4.name, ratio)
        else:
            assert ratio["v4"][0] >= ratio["v3"][0] and ratio["v4"][1] >= ratio["v3"][1], (b4.name, ratio)
        # the head's end (the epiphysis sits on it) as wide as v3's
        end4 = b4.half_width * (1.0 + b4.flare1)
        end3 = b3.half_width * (1.0 + b3.flare1)
        assert end4 == pytest.approx(max(end3, b4.half_width), rel=1e-9), b4.name
    assert n == 4


@pytest.mark.parametrize("age, male", [(60, True), (110, False), (150, True), (216, False)])
def test_distal_carpals_stop_short_of_the_metacarpal_bases(age, male):
    """The trapezoid, capitate and hamate keep CMC_JOINT_V4 (0.5 mm) short of the bases of
    metacarpals 2, 3 and 4-5, along each metacarpal's axis, past the third of the base's
    rounding the outline runs beyond the base point (their rasterised outlines, facets
    included); v3's capitate and hamate run under the bases once grown."""
    assert anatomy.CMC_JOINT_V4 == 0.5
    h3, h4 = _hands(age, male, seed=age)
    on = {"metacarpal2": "trapezoid", "metacarpal3": "capitate", "metacarpal4": "hamate", "metacarpal5": "hamate"}
    ys, xs = np.mgrid[-20.0:45.0:RES, -40.0:40.0:RES]
    overlapped = 0
    for h, v4 in ((h3, False), (h4, True)):
        oss = {e.name: e for e in h.ossicles}
        for b in h.bones:
            if b.name not in on or on[b.name] not in oss:
                continue
            u = (b.p1 - b.p0) / np.hypot(*(b.p1 - b.p0))
            inside = _mask(oss[on[b.name]], xs, ys)
            assert inside.any()
            # how far the carpal reaches past the base's end, along the axis, within the
            # base's reach across it
            across = np.abs((xs - b.p0[0]) * -u[1] + (ys - b.p0[1]) * u[0]) <= b.half_width * (1 + b.flare0)
            reach = ((xs - b.p0[0]) * u[0] + (ys - b.p0[1]) * u[1])[inside & across]
            if not reach.size:
                continue
            past = (b.base_round if b.base_round is not None else 0.3) * b.half_width / 3.0
            if v4:
                assert reach.max() <= -past - 0.5 + RES, b.name
            else:
                overlapped += reach.max() > -past
    if age >= 110:
        assert overlapped  # the seam v4 removes


@pytest.mark.parametrize("age, male", [(30, False), (90, True), (150, True), (210, False)])
def test_thenar_soft_tissue_stays_close_to_the_thumbs_radial_side(age, male, v3_layout):
    """v4's soft tissue round the thumb's metacarpal (its palm capsule and the first web's
    two proximal capsules) reaches at most 0.62 times as far past the bone's axis on its
    radial side (away from the index ray) as v3's, whose round lobe bulged past the thumb
    (section 7.14), yet still covers the bone by half its half-width; the web between
    thumb and index keeps v3's capsules' index ends."""
    h3, h4 = _hands(age, male, seed=age)
    reach = {}
    for key, h in (("v3", h3), ("v4", h4)):
        mc1 = next(b for b in h.bones if b.name == "metacarpal1")
        mc2 = next(b for b in h.bones if b.name == "metacarpal2")
        u = (mc1.p1 - mc1.p0) / np.hypot(*(mc1.p1 - mc1.p0))
        n = np.array([-u[1], u[0]])
        if n @ (mc2.p0 - mc1.p0) > 0:
            n = -n
        reach[key] = max(max((p - mc1.p0) @ n + r for p, r in ((c[0], c[2]), (c[1], c[3])))
                         for c in (h.tissue[i] for i in (1, 12, 13)))
        half = mc1.half_width
    assert reach["v4"] <= 0.62 * reach["v3"], reach
    assert reach["v4"] >= 1.5 * half, (reach, half)
    for i in (12, 13):
        np.testing.assert_allclose(h4.tissue[i][1], h3.tissue[i][1], rtol=0, atol=1e-9)
        assert h3.tissue[i][2:] == h4.tissue[i][2:]


# --- the hook of the hamate (docs/phantom.md, section 7.16) ---------------------------

def _share(shape, cx, cy, a, b, ang, limit, sub=8):
    """Per pixel, the share of its area (``sub`` x ``sub`` samples, float64) where the
    ellipse radius rho (semi-axes ``a``, ``b`` rotated by ``ang``, the ossicle kernel's
    frame) is at most ``limit``."""
    H, W = shape
    off = (np.arange(sub) + 0.5) / sub - 0.5
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    got = np.zeros(shape)
    c, s = math.cos(ang), math.sin(ang)
    for oy in off:
        for ox in off:
            dx, dy = xs + ox - cx, ys + oy - cy
            got += np.hypot((dx * c + dy * s) / a, (-dx * s + dy * c) / b) <= limit
    return got / sub ** 2


@pytest.mark.parametrize("a, b, ang, wall, path", [(20.0, 26.0, 0.3, 5.0, 7.0), (14.0, 10.0, -1.1, 3.0, 2.5),
                                                   (30.0, 30.0, 0.0, 2.5, 1.0)])
def test_tube_is_a_ring_of_the_walls_path(a, b, ang, wall, path):
    """film._draw_tube against supersampled float64 ellipses: the wall's path wherever a
    pixel lies wholly in the wall (half a pixel inside the outline, clear of the lumen's
    soft edge; depths along the short semi-axis' scale, as the wall is measured), nothing
    outside the outline or deep in the lumen, and the ring's total (path x the wall's
    area) within 4 %; it adds to what is there."""
    H, W = 90, 100
    cx, cy = 47.3, 44.6
    acc = np.full((H, W), 0.25, np.float32)
    film._draw_tube(acc, cx, cy, a, b, ang, wall, path)
    got = acc.astype(np.float64) - 0.25
    r, fade = min(a, b), max(0.5 * wall, 1.0)

    def share(inset, sub=8):  # the ellipse shrunk by ``inset`` pixels along the short scale
        return _share((H, W), cx, cy, a, b, ang, 1.0 - inset / r, sub)

    outer, lumen = share(0.0), share(wall)
    in_wall = (share(0.5, 4) == 1.0) & (share(wall - fade / 2, 4) == 0.0)
    assert in_wall.sum() > 20
    np.testing.assert_allclose(got[in_wall], path, rtol=1e-5)
    assert np.all(got[share(-1.0, 4) == 0.0] == 0.0)  # a pixel clear of the outline
    deep = share(wall + fade / 2, 4) == 1.0
    if deep.any():
        assert np.all(got[deep] == 0.0)
    assert got.sum() == pytest.approx(path * (outer - lumen).sum(), rel=0.04)
    assert got.min() >= 0.0 and got.max() <= path * (1 + 1e-6)


def test_tube_clips_at_the_image_edge():
    acc = np.zeros((40, 40), np.float32)
    film._draw_tube(acc, 2.0, 38.0, 12.0, 15.0, 0.2, 3.0, 4.0)
    assert acc.max() == pytest.approx(4.0) and acc[:, 25:].max() == 0.0
    before = acc.copy()
    film._draw_tube(acc, -30.0, -30.0, 5.0, 5.0, 0.0, 2.0, 4.0)  # wholly outside: nothing
    assert np.array_equal(acc, before)


def _hook(age, male, seed=0):
    """v4's hook (None if not drawn), the hamate, and the hook's length along the beam
    over its adult length at this hand's size (its growth, 0 to 1)."""
    h4 = _hands(age, male, seed)[1]
    hook = next((e for e in h4.ossicles if e.name == "hamate_hook"), None)
    grown = None if hook is None else hook.depth / (anatomy.HAMATE_HOOK_V4[2] * h4.subject.size_scale)
    return hook, next(e for e in h4.ossicles if e.name == "hamate"), grown


def test_v4_hamate_hook_grows_in_late_girls_first():
    """Version 4's hook is absent before its onset (10 years in girls, 11.5 in boys),
    then a tube whose length along the beam grows to HAMATE_HOOK_V4's at 12.5 / 14.5
    years, girls ahead of boys; version 3's disc is drawn from about 2 years."""
    assert _hook(119.0, False)[0] is None and _hook(132.0, True)[0] is None
    hook, _, g = _hook(132.0, False)
    assert hook is not None and 0.0 < g < 1.0 and hook.wall > 0.0
    grown = [_hook(float(a), False)[2] for a in (126, 135, 144, 150, 180)]
    assert all(x < y for x, y in zip(grown[:4], grown[1:4])) and grown[3] == pytest.approx(1.0)
    assert grown[4] == pytest.approx(1.0)
    boy = [_hook(float(a), True)[2] for a in (150, 174)]
    assert boy[0] < _hook(150.0, False)[2] and boy[1] == pytest.approx(1.0)
    h3 = build_hand(sample_posture(sample_subject(30.0, True, np.random.default_rng(0), hard_fraction=0.0),
                                   np.random.default_rng([0, 3])), 3)
    v3_hook = next(e for e in h3.ossicles if e.name == "hamate_hook")
    assert v3_hook.depth == 0.0 and v3_hook.wall == 0.0


@pytest.mark.parametrize("age, male, seed", [(170, False, 0), (200, True, 3), (228, False, 7)])
def test_v4_hamate_hook_sits_in_the_hamates_distal_radial_half(age, male, seed):
    hook, ham, _ = _hook(float(age), male, seed)
    d = hook.centre - ham.centre
    assert d[1] > 0.0 and d[0] > 0.0  # distal (+y) and radial (+x), in the hand's frame
    ys, xs = np.mgrid[-45:50:RES, -45:55:RES]
    ring = _mask(replace(hook, facets=()), xs, ys)
    assert (ring & _mask(ham, xs, ys)).sum() >= 0.97 * ring.sum()  # within the hamate's outline


def test_v4_film_shows_the_hook_as_a_ring(monkeypatch):
    """On a v4 film of 15 years the hook's wall is brighter than its lumen and than the
    hamate round it (the profile along its short axis: two bright walls); with
    HAMATE_HOOK_V4 = None (version 3's disc) no such ring."""
    from scipy import ndimage

    def walls_over_lumen():
        s = render(180.0, False, 11, size=(1600, 1280), bits=16, nuisance=False, style="v4")
        hook = next(e for e in s.hand.ossicles if e.name == "hamate_hook")
        c = s.to_pixels(hook.centre[None])[0]
        img = ndimage.gaussian_filter(s.image.astype(np.float64), 1.0)
        r = float(min(hook.axes) * s.frame.scale)
        ang = math.atan2(s.frame.m[1, 0], s.frame.m[0, 0]) - hook.angle
        u = np.array([math.cos(ang), math.sin(ang)])  # the own x axis in the image
        t = np.linspace(-1.6, 1.6, 65) * r
        p = ndimage.map_coordinates(img, [c[1] + t * u[1], c[0] + t * u[0]], order=1)
        wall = max(p[np.abs(np.abs(t) - 0.93 * r) < 0.1 * r].max(), 0.0)
        lumen = np.median(p[np.abs(t) < 0.4 * r])
        around = np.median(p[np.abs(t) > 1.3 * r])
        return (wall - lumen) / img.std(), (wall - around) / img.std()

    over_lumen, over_around = walls_over_lumen()
    assert over_lumen > 0.15 and over_around > 0.15
    monkeypatch.setattr(anatomy, "HAMATE_HOOK_V4", None)
    no_lumen, _ = walls_over_lumen()
    assert no_lumen < 0.5 * over_lumen


# ------------------------------------------------ the hand's layout (7.18)
def _direction(b):
    d = b.p1 - b.p0
    return math.atan2(d[0], d[1])  # radians from +y, positive towards +x


@pytest.mark.parametrize("age, male", [(20, False), (90, True), (150, True), (190, False), (228, True)])
def test_v4_metacarpals_fan_wider_and_the_fingers_keep_their_direction(age, male, monkeypatch):
    """v4's metacarpals 2-5 start where v3's do (section 7.24's bases off) and the index,
    ring and little finger's lean away from metacarpal 3 by METACARPAL_FAN_V4's factors
    times the layout's angle from it (RAY_ANGLE_V2; the factors' excess over 1 in full
    until 144 months, 0.6 of it from 204, linear between; the subject's own spread added
    as in v3); the thumb's metacarpal turns THUMB_V4[0] further out and is THUMB_V4[1]
    times as long; every phalanx keeps v3's direction."""
    monkeypatch.setattr(anatomy, "METACARPAL_BASE_SPREAD_V4", None)
    h3, h4 = _hands(age, male, seed=age + 7)
    b3, b4 = {b.name: b for b in h3.bones}, {b.name: b for b in h4.bones}
    lo, hi = anatomy.METACARPAL_FAN_AGES_V4
    share = 1.0 + (anatomy.METACARPAL_FAN_GROWN_V4 - 1.0) * min(max((age - lo) / (hi - lo), 0.0), 1.0)
    assert lo == 144.0 and hi == 204.0 and anatomy.METACARPAL_FAN_GROWN_V4 == 0.6
    assert all(f > 1.0 for f in anatomy.METACARPAL_FAN_V4)
    fans = dict(zip((2, 4, 5), anatomy.METACARPAL_FAN_V4))
    mid3, mid4 = _direction(b3["metacarpal3"]), _direction(b4["metacarpal3"])
    assert mid4 == pytest.approx(mid3, abs=1e-12)
    for ray in (2, 4, 5):
        m3, m4 = b3[f"metacarpal{ray}"], b4[f"metacarpal{ray}"]
        np.testing.assert_allclose(m4.p0, m3.p0, atol=1e-9)
        table = anatomy.RAY_ANGLE_V2[ray - 1] - anatomy.RAY_ANGLE_V2[2]
        extra = (fans[ray] - 1.0) * share
        assert _direction(m4) - _direction(m3) == pytest.approx(extra * table, abs=1e-9), ray
        # ... away from metacarpal 3: further out on the side it already leans to
        assert abs(_direction(m4) - mid4) > abs(_direction(m3) - mid3) or table == 0, ray
    t3, t4 = b3["metacarpal1"], b4["metacarpal1"]
    # the thumb's shaft starts past its basal epiphysis (farther on a longer bone): its
    # segment runs from the layout's base, where the two shafts' axes cross, to its head
    a3, a4 = [(b.p1 - b.p0) / np.hypot(*(b.p1 - b.p0)) for b in (t3, t4)]
    k = np.linalg.solve(np.stack([a3, -a4], 1), t4.p0 - t3.p0)
    base = t3.p0 + k[0] * a3
    assert k[0] <= 0 and k[1] <= 0  # behind both shafts' starts
    turn, longer = anatomy.THUMB_V4
    assert turn > 0 and longer > 1
    # the thumb lies on the +x side: turning it away from the middle ray adds to its angle
    assert _direction(t4) - _direction(t3) == pytest.approx(turn, abs=1e-9)
    assert np.hypot(*(t4.p1 - base)) == pytest.approx(longer * np.hypot(*(t3.p1 - base)), rel=1e-9)
    for name, b in b3.items():
        if name[:-1] in ("proximal", "middle", "distal"):
            assert _direction(b4[name]) == pytest.approx(_direction(b), abs=1e-9), name


def _lines_meet(a0, a1, b0, b1):
    """Where the lines a0-a1 and b0-b1 cross."""
    da, db = a1 - a0, b1 - b0
    k = np.linalg.solve(np.stack([da, -db], 1), b0 - a0)
    return a0 + k[0] * da


@pytest.mark.parametrize("age, male", [(0.0, True), (24.0, False), (60.0, True), (96.0, False), (120.0, True),
                                       (143.0, False), (144.0, True), (200.0, False)])
def test_v4_young_metacarpal_bases_stand_apart_their_heads_kept(age, male, monkeypatch):
    """Sections 7.24 and 7.25: metacarpals 2, 4 and 5's bases moved across the hand to
    METACARPAL_BASE_SPREAD_V4[0] = 1.4, 1.28 and 1.22 times their distance from metacarpal
    3's base until 96 months of bone age, the excess falling linearly to none at 144 (written out
    here), their height kept; each shaft turned to meet its head where the layout put it
    (both segments' lines cross at the same distance past the two ends: the same head
    dome), and its head's epiphysis turned with it; metacarpal 3, the thumb, every
    phalanx, the MCP joints and v3 unchanged."""
    assert anatomy.METACARPAL_BASE_SPREAD_V4 == ((1.4, 1.28, 1.22), 96.0, 144.0)
    young = {"metacarpal2": 1.4, "metacarpal4": 1.28, "metacarpal5": 1.22}
    subject = sample_posture(sample_subject(age, male, np.random.default_rng(int(age) + 3), hard_fraction=0.0),
                             np.random.default_rng([int(age), 3]))
    spread3, spread4 = build_hand(subject, 3), build_hand(subject, 4)
    monkeypatch.setattr(anatomy, "METACARPAL_BASE_SPREAD_V4", None)
    kept3, kept4 = build_hand(subject, 3), build_hand(subject, 4)
    for a, b in zip(spread3.bones, kept3.bones):
        np.testing.assert_array_equal(a.p0, b.p0)
        np.testing.assert_array_equal(a.p1, b.p1)
    now, before = {b.name: b for b in spread4.bones}, {b.name: b for b in kept4.bones}
    epi_now, epi_before = ({e.name: e for e in h.ossicles} for h in (spread4, kept4))
    mc3 = before["metacarpal3"].p0
    for name, b in now.items():
        if name in ("metacarpal2", "metacarpal4", "metacarpal5"):
            old = before[name]
            factor = young[name] - (young[name] - 1.0) * min(max((age - 96.0) / 48.0, 0.0), 1.0)
            assert b.p0[1] == pytest.approx(old.p0[1], abs=1e-12)
            assert b.p0[0] - mc3[0] == pytest.approx(factor * (old.p0[0] - mc3[0]), abs=1e-9), name
            if abs(factor - 1.0) < 1e-12:
                np.testing.assert_allclose(b.p1, old.p1, atol=1e-12)
                continue
            head = _lines_meet(b.p0, b.p1, old.p0, old.p1)
            u = (b.p1 - b.p0) / np.hypot(*(b.p1 - b.p0))
            assert (head - b.p1) @ u >= -1e-9  # past (or at) the drawn end
            assert np.hypot(*(head - b.p1)) == pytest.approx(np.hypot(*(head - old.p1)), abs=1e-9), name
            epi = epi_now.get(f"epi_{name}")
            if epi is not None:
                axis = np.array([-math.sin(epi.angle), math.cos(epi.angle)])  # _rot((0, 1), angle)
                np.testing.assert_allclose(axis, u, atol=1e-9)
                assert epi_before[f"epi_{name}"].angle != pytest.approx(epi.angle, abs=1e-6)
        else:  # the same, to rounding (the head is rebuilt from the turned shaft)
            np.testing.assert_allclose(b.p0, before[name].p0, atol=1e-9)
            np.testing.assert_allclose(b.p1, before[name].p1, atol=1e-9)
    for (a, _), (b, _) in zip(spread4.joints["MCP"], kept4.joints["MCP"]):
        np.testing.assert_allclose(a, b, atol=1e-9)


@pytest.mark.parametrize("age, male", [(10.0, True), (24.0, False), (42.0, True), (82.0, False)])
def test_v4_young_metacarpal_bases_leave_more_room(age, male, monkeypatch):
    """The young bases' drawn outlines at their ends (film.draw_long_bone's half-width
    there, the shaft's times 1 + flare0; the rounded corners ignored) leave more room
    between neighbours than without section 7.24's spread: at least 0.02 of metacarpal
    3's length more between each pair (0.026-0.035 ring-little, 0.05-0.10 the others),
    over 6 subjects' median."""

    def room():
        out = []
        for seed in range(6):
            hand = build_hand(sample_subject(age, male, np.random.default_rng(seed), hard_fraction=0.0), 4)
            bones = {b.name: b for b in hand.bones}
            length = np.hypot(*(bones["metacarpal3"].p1 - bones["metacarpal3"].p0))
            pairs = []
            for a, b in (("metacarpal2", "metacarpal3"), ("metacarpal3", "metacarpal4"), ("metacarpal4", "metacarpal5")):
                ba, bb = bones[a], bones[b]
                wa = ba.half_width * (1.0 + ba.flare0)
                wb = bb.half_width * (1.0 + bb.flare0)
                pairs.append((abs(ba.p0[0] - bb.p0[0]) - wa - wb) / length)
            out.append(pairs)
        return np.median(out, axis=0)

    now = room()
    monkeypatch.setattr(anatomy, "METACARPAL_BASE_SPREAD_V4", None)
    before = room()
    assert (now - before >= 0.02).all(), (now, before)


@pytest.mark.skipif(not os.path.isdir(os.path.join(_REAL, "rsna_raw7")), reason="needs ../shared/realdata")
def test_v4_young_metacarpal_bases_as_far_apart_as_the_films(monkeypatch):
    """Sections 7.24 and 7.25, on the 6 young films of real_mc_bases.csv (10-82 months;
    metacarpal 3's length to the top of its head's epiphysis): each neighbouring pair's
    median spacing within 0.02 of metacarpal 3's length of the films', where without the
    spread v4 stood >= 0.025 closer on each pair (0.08, 0.055, 0.028)."""
    rr = load_script("phantom_realism_real")
    keys = ("index_middle", "middle_ring", "ring_little")

    def young():
        got = rr.mcspread(["v4"], seeds=4)["young"]
        return np.array([got[f"real_{k}"] for k in keys]), np.array([got[f"v4_{k}"] for k in keys]), got["films"]

    real, v4, films = young()
    assert films == 6 and (real > 0.15).all() and (real < 0.45).all()
    assert (np.abs(v4 - real) <= 0.02).all(), (real, v4)
    monkeypatch.setattr(anatomy, "METACARPAL_BASE_SPREAD_V4", None)
    _, v4_0, _ = young()
    assert (real - v4_0 >= 0.025).all(), (real, v4_0)


@pytest.mark.parametrize("age", [0.0, 20.0, 60.0, 95.0, 96.0, 150.0])
def test_v4_young_phalanges_are_longer(age, v3_layout, monkeypatch):
    """A young v4 hand's phalanges are 1 + YOUNG_PHALANX_V4 times v3's long at bone age 0,
    falling by a smoothstep (3 t^2 - 2 t^3 of age over YOUNG_PHALANX_AGE_V4, written out
    here) to v3's at 96 months; the metacarpals keep v3's joints. A phalanx's segment runs
    from half a joint space (2.4 mm adult) past the joint before it to half a joint space
    short of the joint after it (the distal phalanx: to its drawn tip)."""
    monkeypatch.setattr(anatomy, "YOUNG_PHALANX_V4", 0.14)  # the fixture turned it off
    h3, h4 = _hands(age, True, seed=11)
    t = min(age / anatomy.YOUNG_PHALANX_AGE_V4, 1.0)
    longer = 1.0 + 0.14 * (1.0 - (3 * t * t - 2 * t ** 3))
    half_gap = 1.2 * h3.subject.size_scale

    def segments(h):
        mcp, pip, dip = ([j[0] for j in h.joints[k]] for k in ("MCP", "PIP", "DIP"))
        tips = {b.name: b.p1 for b in h.bones if b.name.startswith("distal")}
        out = [np.hypot(*(pip[0] - mcp[0])) - 2 * half_gap, np.hypot(*(tips["distal1"] - pip[0])) - half_gap]
        for r in range(1, 5):
            out += [np.hypot(*(pip[r] - mcp[r])) - 2 * half_gap, np.hypot(*(dip[r - 1] - pip[r])) - 2 * half_gap,
                    np.hypot(*(tips[f"distal{r + 1}"] - dip[r - 1])) - half_gap]
        return np.array(out), np.array(mcp)

    (seg3, mcp3), (seg4, mcp4) = segments(h3), segments(h4)
    assert len(seg3) == 14 and np.all(seg3 > 0)
    # (the proximal phalanx turns at the MCP joint: measured from the joint's centre, its
    # segment is a hair off the straight line, ~1e-4 of its length)
    np.testing.assert_allclose(seg4, longer * seg3, rtol=5e-4)
    np.testing.assert_allclose(mcp4, mcp3, atol=1e-9)


# Real 5-95 % ranges of the MCP row per bone-age band on the 327 RSNA hands of
# ../shared/realdata/rsna_ossification_roi_boxes (scripts/phantom_realism.py, features
# mcp_row and index_gap; docs/phantom.md, section 7.18): reference data, not output of the
# code under test.
REAL_MCP_ROW = {
    (0, 60): {"mcp_row": (0.894, 1.071), "index_gap": (0.334, 0.406)},
    (60, 120): {"mcp_row": (0.855, 1.028), "index_gap": (0.310, 0.382)},
    (120, 168): {"mcp_row": (0.805, 0.984), "index_gap": (0.300, 0.371)},
    (168, 228): {"mcp_row": (0.774, 0.957), "index_gap": (0.282, 0.359)},
}


@pytest.mark.parametrize("band", sorted(REAL_MCP_ROW))
def test_v4_mcp_row_falls_inside_the_real_range_where_v3s_does_not(band):
    """v4's finger MCPs (index to little, and the index-middle gap, the films' widest)
    lie inside the films' 5-95 % range for at least 70 % of 24 phantoms in every band;
    on v3's layout the index-middle gap is inside for under half of them below 168
    months (v3's young metacarpals stand parallel)."""
    pr = load_script("phantom_realism")
    lo, hi = band
    rng = np.random.default_rng(lo + 1)
    ages = rng.uniform(lo, hi, 24)
    inside = {}
    for style in ("v3", "v4"):
        feats = [pr.features(render(float(a), bool(i % 2), seed=2000 + lo + i, size=(640, 512), nuisance=False,
                                    style=style).roi_boxes) for i, a in enumerate(ages)]
        assert all(f is not None for f in feats)
        inside[style] = {k: np.mean([p5 <= f[k] <= p95 for f in feats]) for k, (p5, p95) in REAL_MCP_ROW[band].items()}
    assert min(inside["v4"].values()) >= 0.7, inside
    if hi <= 168:
        assert inside["v3"]["index_gap"] < 0.5, inside


# The interquartile range of the film below the lowest ROI box centre and above the
# highest, over the median wrist-to-MCP distance, on the 25 RSNA films under 60 months
# of bone age of ../shared/realdata/rsna_ossification_roi_boxes (scripts/phantom_realism.py
# --framing; docs/phantom.md, section 7.19): reference data, not output of the code under
# test.
REAL_YOUNG_FRAMING = {"film_below": (1.008, 1.131, 1.377), "film_above": (0.720, 0.879, 1.441)}


def test_v4_frames_young_hands_as_low_in_the_film_as_the_films(monkeypatch):
    """Under 60 months v4's films (nuisance on, drawn as scripts/phantom_realism.py
    --framing draws them) leave the films' share of film below the hand and above it:
    the median of 40 phantoms inside the films' interquartile range for both, and nearer
    the films' median than with all of the young extra below the radius (YOUNG_ABOVE_V4
    off), by at least a tenth of the wrist-to-MCP distance. (24 phantoms until section
    7.33, whose young hands are turned as often as the films': the first 24 then read
    1.006 below, the 40 1.08, against the films' quartile 1.008.)"""
    from boneage_fast.data import phantom

    pr = load_script("phantom_realism")
    ages = np.random.default_rng(7).uniform(0.0, 60.0, 40)

    def medians():
        got = [pr.framing(s.roi_boxes, s.image.shape[0])
               for s in (render(float(a), bool(i % 2), seed=700 + i, size=(480, 384), bits=8, style="v4")
                         for i, a in enumerate(ages))]
        got = [g for g in got if g is not None]
        assert len(got) >= 34
        return {k: float(np.median([g[k] for g in got])) for k in REAL_YOUNG_FRAMING}

    now = medians()
    monkeypatch.setattr(phantom, "YOUNG_ABOVE_V4", None)
    before = medians()
    for k, (q1, median, q3) in REAL_YOUNG_FRAMING.items():
        assert q1 <= now[k] <= q3, (k, now)
        assert abs(now[k] - median) < abs(before[k] - median) - 0.1, (k, now, before)


@pytest.mark.parametrize("age, male", [(0.0, True), (30.0, False), (90.0, True), (150.0, False), (200.0, True)])
def test_v4_eminences_run_along_their_metacarpals_past_the_base(age, male):
    """Section 7.20: v4's two soft-tissue capsules after v3's, each of one radius times the
    soft-tissue scale (size ** 0.6), the width scale and the palm's fullness (1.15 + 0.15
    x the subject's soft tissue), with an extra at bone age 0 falling as 1 -
    smoothstep(age / 120): the thenar eminence 17 mm (4 more), from 1.2 radii before the
    thumb's metacarpal's base to 0.3 of that bone's length from it; the hypothenar 14 mm
    (none more since section 7.25), from 0.3 radii before metacarpal 5's base to 0.4 of
    its length. v3 has
    neither; both take the look's section and their own depth."""
    h3, h4 = _hands(age, male, seed=5)
    sub = h4.subject
    x = min(max(age / 120.0, 0.0), 1.0)
    young = 1.0 - x * x * (3.0 - 2.0 * x)
    scale = sub.size_scale ** 0.6 * sub.width_scale * (1.15 + 0.15 * sub.soft_tissue)
    n3 = len(h3.tissue)  # v4's next two (then section 7.27's three finger webs: their own test)
    assert len(h4.tissue) == n3 + 2 + 3
    for capsule, name, radius, extra, reach, along in ((h4.tissue[n3], "metacarpal1", 17.0, 4.0, 1.2, 0.3),
                                                        (h4.tissue[n3 + 1], "metacarpal5", 14.0, 0.0, 0.3, 0.4)):
        r = scale * (radius + extra * young)
        bone = next(b for b in h4.bones if b.name == name)
        u = (bone.p1 - bone.p0) / np.hypot(*(bone.p1 - bone.p0))
        p0, p1, r0, r1 = capsule
        assert (r0, r1) == (pytest.approx(r, rel=1e-12), pytest.approx(r, rel=1e-12)), name
        np.testing.assert_allclose(p0, bone.p0 - u * reach * r, rtol=0, atol=1e-9)
        np.testing.assert_allclose(p1, bone.p0 + along * (bone.p1 - bone.p0), rtol=0, atol=1e-9)
    for i in (15, 16):
        assert i not in h4.tissue_depths and i not in h4.tissue_sections  # the look's section, its own depth


def _wrist_medians(age: float, male: bool, side: str) -> np.ndarray:
    """Per level of ``phantom_realism_real.WRIST_LEVELS`` the median ``side`` half-width
    (:func:`phantom_wrist_profile`) of 6 v4 phantoms of this age and sex drawn as
    training films are (nuisance on, half size, 8 bits), as ``--parts wrist`` draws them."""
    prr = load_script("phantom_realism_real")
    got = [prr.phantom_wrist_profile(render(age, male, seed=40_000 + k, size_scale=0.5, bits=8, style="v4"))
           for k in range(6)]
    return np.median([g[side] for g in got], axis=0)


@pytest.mark.parametrize("age, male", [(30.0, False), (160.0, True)])
def test_v4_hand_narrows_over_the_carpus_into_the_wrist_as_on_the_films(age, male, monkeypatch):
    """Section 7.20 (scripts/phantom_realism_real.py --parts wrist): on the films the
    hand's radial outline stands 0.34 metacarpal 3 lengths further from that bone's axis
    a quarter of its length below its base than a whole length below (median of 5 films
    of 120-180 months; 0.51 on 6 films of 10-82 months), the palm narrowing over the
    carpus into the wrist; v4 drew a column (0.00 young, 0.10 older). Medians of 6
    phantoms drawn as training films are: at least 0.2, at least 0.12 more than with
    THENAR_EMINENCE_V4 off, and the radial side at the base inside the films' range
    (0.96-2.19 young, 0.64-1.11 older)."""
    levels = list(load_script("phantom_realism_real").WRIST_LEVELS)
    at_base, quarter, whole = levels.index(0.0), levels.index(0.25), levels.index(1.0)

    on = _wrist_medians(age, male, "radial")
    lo, hi = (0.96, 2.19) if age < 120 else (0.64, 1.11)
    assert lo <= on[at_base] <= hi, on
    assert on[quarter] - on[whole] >= 0.2, on
    monkeypatch.setattr(anatomy, "THENAR_EMINENCE_V4", None)
    off = _wrist_medians(age, male, "radial")
    assert on[quarter] - on[whole] >= off[quarter] - off[whole] + 0.12, (on, off)


@pytest.mark.parametrize("age, male", [(30.0, False), (160.0, True)])
def test_v4_hypothenar_fills_the_ulnar_side_at_the_bases_as_on_the_films(age, male, monkeypatch):
    """Section 7.20 (--parts wrist): at metacarpal 3's base the films' ulnar outline
    stands 0.66-1.39 of that bone's length from its axis on 6 films of 10-82 months
    (median 0.84 with that length read to the top of its head's epiphysis, section 7.25;
    v4 without the hypothenar 0.73) and 0.54-0.66 on 5 films of 120-180
    months (0.63; v4 0.57). Medians of 6 phantoms drawn as training films are: inside
    those ranges; young, at least 0.1 more than with HYPOTHENAR_EMINENCE_V4 off; the
    forearm a metacarpal length below the base as it was."""
    levels = list(load_script("phantom_realism_real").WRIST_LEVELS)
    at_base, whole = levels.index(0.0), levels.index(1.0)

    on = _wrist_medians(age, male, "ulnar")
    lo, hi = (0.66, 1.39) if age < 120 else (0.54, 0.66)
    assert lo <= on[at_base] <= hi, on
    monkeypatch.setattr(anatomy, "HYPOTHENAR_EMINENCE_V4", None)
    off = _wrist_medians(age, male, "ulnar")
    if age < 120:
        assert on[at_base] >= off[at_base] + 0.1, (on, off)
    assert on[whole] == pytest.approx(off[whole], abs=0.02), (on, off)


# the distal radial epiphysis' onset (boys, girls; EPIPHYSIS_EVENTS) and section 7.21's
# full width (RADIAL_EPIPHYSIS_WIDE_V4)
_RADIUS_ONSET, _RADIUS_WIDE = (15.0, 11.0), (80.0, 66.0)


@pytest.mark.parametrize("male", [True, False])
def test_v4_radial_epiphysis_takes_its_full_width_long_before_it_caps(male):
    """Section 7.21: the radial epiphysis' width over its metaphysis' end is 0.3 + 0.7
    t^0.6, t from its onset to 80 (boys) / 66 (girls) months, then 1; never below the
    other epiphyses' ratio (1.05 once capped); 0 before its onset; girls ahead."""
    k = 0 if male else 1
    prev = 0.0
    for age in (0.0, 10.0, 14.0, 16.0, 24.0, 40.0, 60.0, 65.9, 66.0, 79.0, 80.0, 120.0, 150.0, 170.0, 200.0, 228.0):
        got = anatomy.radial_epiphysis_width_v4(age, male)
        old = anatomy.epiphysis_state("radius", age, male, 2)[0]
        if age < _RADIUS_ONSET[k]:
            assert got == 0.0 and old == 0.0
            continue
        t = min((age - _RADIUS_ONSET[k]) / (_RADIUS_WIDE[k] - _RADIUS_ONSET[k]), 1.0)
        assert got == pytest.approx(max(0.3 + 0.7 * t ** 0.6, old), abs=1e-12), age
        assert got >= prev - 1e-12 and got >= old
        prev = got
        if age >= _RADIUS_WIDE[k]:
            assert got >= 1.0
        assert anatomy.radial_epiphysis_width_v4(age, False) >= anatomy.radial_epiphysis_width_v4(age, True) - 1e-12
    assert anatomy.radial_epiphysis_width_v4(_RADIUS_WIDE[k], male) == pytest.approx(1.0, abs=1e-12)
    assert anatomy.radial_epiphysis_width_v4(228.0, male) == pytest.approx(1.05, abs=1e-9)


def test_v4_radial_epiphysis_width_off_is_the_other_epiphyses_rule(monkeypatch):
    monkeypatch.setattr(anatomy, "RADIAL_EPIPHYSIS_WIDE_V4", None)
    for age in (5.0, 30.0, 90.0, 200.0):
        assert anatomy.radial_epiphysis_width_v4(age, True) == anatomy.epiphysis_state("radius", age, True, 2)[0]


def _with_and_without(age, male, constant, monkeypatch):
    """v4 hands of one subject (``age``, ``male``, seed ``age``) with the anatomy constant
    ``constant`` as it is and set to None."""
    subject = sample_posture(sample_subject(float(age), male, np.random.default_rng(age), hard_fraction=0.0),
                             np.random.default_rng([age, 3]))
    on = build_hand(subject, 4)
    monkeypatch.setattr(anatomy, constant, None)
    off = build_hand(subject, 4)
    monkeypatch.undo()
    return on, off


@pytest.mark.parametrize("age, male", [(24, False), (42, True), (60, True), (82, False), (150, True), (200, False)])
def test_v4_radial_epiphysis_drawn_at_its_width(age, male, monkeypatch):
    """With the rule on the radial epiphysis spans its width times the metaphysis' end
    (``half_width (1 + flare1)``, where the other epiphyses span 0.95 of their ratio), is
    5.5 mm (adult) thicker per unit of width gained, its physis side where it was, and
    rises to the styloid by its width; its cap, density, the bones and the ulna's
    epiphysis are as without the rule."""
    on, off = _with_and_without(age, male, "RADIAL_EPIPHYSIS_WIDE_V4", monkeypatch)
    grow = anatomy.radial_epiphysis_width_v4(float(age), male)  # its own rule is tested above
    ratio = on.epiphyses["radius"][0]
    assert ratio == off.epiphyses["radius"][0] and grow >= ratio
    e1 = next(e for e in on.ossicles if e.name == "epi_radius")
    e0 = next(e for e in off.ossicles if e.name == "epi_radius")
    bone = next(b for b in on.bones if b.name == "radius")
    end = bone.half_width * (1.0 + bone.flare1)
    s = on.subject.size_scale
    assert e1.axes[0] == pytest.approx(grow * end, rel=1e-12)
    assert e0.axes[0] == pytest.approx(0.95 * ratio * end, rel=1e-12)
    assert e1.axes[1] - e0.axes[1] == pytest.approx(5.5 * (grow - ratio) * s / 2, abs=1e-12)
    # the physis side stays: the centre moves half the extra thickness along the radius
    np.testing.assert_allclose(e1.centre - e0.centre, [0.0, 5.5 * (grow - ratio) * s / 2], atol=1e-12)
    assert (e1.slope, e1.hollow) == pytest.approx((0.6 * min(grow, 1.0), 0.35 * min(grow, 1.0)), abs=1e-12)
    assert (e1.cap, e1.density, e1.angle, e1.exponent) == (e0.cap, e0.density, e0.angle, e0.exponent)
    assert [(b.name, tuple(b.p0), tuple(b.p1), b.half_width) for b in on.bones] == \
        [(b.name, tuple(b.p0), tuple(b.p1), b.half_width) for b in off.bones]
    ulna = [(e.name, tuple(e.centre), tuple(e.axes), e.slope) for e in on.ossicles if e.name == "epi_ulna"]
    assert ulna == [(e.name, tuple(e.centre), tuple(e.axes), e.slope) for e in off.ossicles if e.name == "epi_ulna"]
    if grow > ratio:
        assert e1.axes[0] > e0.axes[0] and e1.axes[1] > e0.axes[1]


def _epiphysis_films(name, end):
    """scripts/data/``name``: (months, male, width, thickness) per film, width and
    thickness over the end (column ``end``) of the bone the epiphysis sits on."""
    import csv

    path = os.path.join(os.path.dirname(__file__), "..", "scripts", "data", name)
    with open(path) as f:
        return [(float(r["months"]), r["male"] == "1", float(r["epi_w"]) / float(r[end]),
                 float(r["epi_h"]) / float(r[end])) for r in csv.DictReader(f)]


def _epiphysis_band_medians(films, bone, seeds=3):
    """Per band of bone age (<36, 36-66, >=66 months): the films' median width and
    thickness, v4's (medians over ``seeds`` phantoms per film, then over films), and the
    films' least and greatest thickness."""
    shape = load_script("phantom_realism_real").epiphysis_shape
    out = {}
    for lo, hi in ((0, 36), (36, 66), (66, 228)):
        sel = [f for f in films if lo <= f[0] < hi]
        ph = [np.median([[g["width"], g["thickness"]] for g in
                         (shape(render(m, male, seed=40_000 + k, size_scale=0.5, bits=8, style="v4").hand, bone)
                          for k in range(seeds))], axis=0) for m, male, _, _ in sel]
        out[lo] = (np.median([f[2] for f in sel]), np.median([f[3] for f in sel]), *np.median(ph, axis=0),
                   min(f[3] for f in sel), max(f[3] for f in sel))
    return out


# per epiphysis read on the films (section 7.21): its CSV and end column, the bone, the
# rule's constant, the films, how close v4's median width must come to the films' per
# band, and from which band (months) how far short it fell without the rule
_EPIPHYSIS_READS = {
    "radius": ("real_radial_epiphysis.csv", "meta_w", "RADIAL_EPIPHYSIS_WIDE_V4", 13, 0.1, 36, 0.2),
    "proximal3": ("real_proximal_epiphysis.csv", "base_w", "RAY_EPIPHYSIS_WIDE_V4", 6, 0.13, 0, 0.15),
}


@pytest.mark.parametrize("bone", sorted(_EPIPHYSIS_READS))
def test_v4_epiphyses_as_wide_as_the_films(bone, monkeypatch):
    """Section 7.21, on the films read by eye: v4's radial epiphysis (13 films, 24-94
    months) spans its metaphysis' end within 0.1 of the films' median in each band of
    bone age, where without the rule it fell 0.2 short from 36 months, its thickness
    inside the films' range under 66 months; the base epiphysis of the middle finger's
    proximal phalanx (6 films, 24-82 months) within 0.13 of the films' per band, without
    the rule >= 0.15 short; where it fell short the rule adds >= 0.12."""
    name, end, constant, n, close, short_from, short = _EPIPHYSIS_READS[bone]
    films = _epiphysis_films(name, end)
    assert len(films) == n and all(0.3 < w < 1.2 and 0.1 < h < 0.6 for _, _, w, h in films)
    on = _epiphysis_band_medians(films, bone)
    monkeypatch.setattr(anatomy, constant, None)
    off = _epiphysis_band_medians(films, bone)
    for lo, (real_w, real_h, w, h, h_min, h_max) in on.items():
        assert abs(w - real_w) <= close, (lo, w, real_w)
        if lo >= short_from:
            assert real_w - off[lo][2] >= short, (lo, off[lo][2], real_w)
            assert w - off[lo][2] >= 0.12
        if bone == "radius" and lo < 66:
            assert h_min <= h <= h_max, (lo, h, h_min, h_max)


# a ray's epiphysis groups: onset and capping (boys, girls), EPIPHYSIS_EVENTS
_RAY_EVENTS = {"metacarpal": ((22.0, 15.0), (150.0, 126.0)), "thumb_metacarpal": ((30.0, 20.0), (150.0, 126.0)),
               "proximal": ((18.0, 13.0), (144.0, 120.0)), "middle": ((26.0, 18.0), (148.0, 124.0)),
               "distal": ((24.0, 16.0), (140.0, 116.0))}


@pytest.mark.parametrize("group", sorted(_RAY_EVENTS))
@pytest.mark.parametrize("male", [True, False])
def test_v4_ray_epiphyses_take_their_full_width_before_they_cap(group, male, monkeypatch):
    """A ray's epiphysis is drawn 0.3 + 0.7 t^0.6 as wide as its metaphysis' end, t
    reaching 1 at 0.43 of the way from its onset to its capping, never less than the
    capping ratio (1.05 once capped); 0 before its onset; off: 0.95 of that ratio."""
    k = 0 if male else 1
    onset, cap = (e[k] for e in _RAY_EVENTS[group])
    for age in (0.0, onset - 0.5, onset + 1.0, onset + 0.2 * (cap - onset), onset + 0.43 * (cap - onset),
                onset + 0.7 * (cap - onset), cap + 1.0, 228.0):
        got = anatomy.ray_epiphysis_width_v4(group, age, male)
        ratio = anatomy.epiphysis_state(group, age, male, 4)[0]
        if age < onset:
            assert got == 0.0
            continue
        t = min((age - onset) / (0.43 * (cap - onset)), 1.0)
        assert got == pytest.approx(max(0.3 + 0.7 * t ** 0.6, ratio), abs=1e-12), age
        if t >= 1.0:
            assert got >= 1.0
    assert anatomy.ray_epiphysis_width_v4(group, 228.0, male) == pytest.approx(1.05, abs=1e-9)
    monkeypatch.setattr(anatomy, "RAY_EPIPHYSIS_WIDE_V4", None)
    for age in (onset + 5.0, cap + 1.0):
        assert anatomy.ray_epiphysis_width_v4(group, age, male) == \
            pytest.approx(0.95 * anatomy.epiphysis_state(group, age, male, 4)[0], abs=1e-12)


@pytest.mark.parametrize("age, male", [(30, False), (48, True), (100, True), (170, False)])
def test_v4_ray_epiphyses_drawn_at_their_width_on_the_same_layout(age, male, monkeypatch):
    """With the rule on only the rays' epiphyses' widths change, to their width ratio
    over 0.95 of the capping ratio times as wide: their thickness, centres, caps, the
    bones and the forearm's epiphyses stay."""
    on, off = _with_and_without(age, male, "RAY_EPIPHYSIS_WIDE_V4", monkeypatch)
    assert [(b.name, tuple(b.p0), tuple(b.p1), b.half_width) for b in on.bones] == \
        [(b.name, tuple(b.p0), tuple(b.p1), b.half_width) for b in off.bones]
    e_off = {e.name: e for e in off.ossicles if e.name.startswith("epi_")}
    rays = 0
    for e in on.ossicles:
        if not e.name.startswith("epi_"):
            continue
        e0 = e_off.pop(e.name)
        assert np.array_equal(e.centre, e0.centre) and e.axes[1] == e0.axes[1] and e.cap == e0.cap
        if e.name in ("epi_radius", "epi_ulna"):
            assert e.axes[0] == e0.axes[0]
            continue
        g = e.name[4:].rstrip("12345")
        group = "thumb_metacarpal" if e.name == "epi_metacarpal1" else g
        ratio = on.epiphyses[group][0]
        wide = anatomy.ray_epiphysis_width_v4(group, float(age), male)
        assert e.axes[0] == pytest.approx(e0.axes[0] * wide / (0.95 * ratio), rel=1e-12), e.name
        rays += 1
    assert not e_off and rays >= 14




@pytest.mark.skipif(not os.path.isdir(os.path.join(_REAL, "rsna_raw7")), reason="needs ../shared/realdata")
@pytest.mark.parametrize("name", ["real_radial_epiphysis.csv", "real_proximal_epiphysis.csv",
                                  "real_young_fingers.csv"])
def test_annotated_films_carry_their_labels(name):
    """The ages and sexes written beside the films read by eye are the films' labels."""
    rows = {(r["set"], r["id"]): r for r in load_script("phantom_realism_real").real_images()}
    import csv

    path = os.path.join(os.path.dirname(__file__), "..", "scripts", "data", name)
    with open(path) as f:
        for r in csv.DictReader(f):
            film = rows[(r["set"], r["id"])]
            assert float(r["months"]) == film["boneage"] and (r["male"] == "1") == film["male"]


@pytest.mark.parametrize("age", [0.0, 50.0, 96.0, 105.0, 120.0, 132.0, 200.0])
def test_v4_young_fingers_rule_by_its_formula(age, monkeypatch):
    """1.4 until 96 months of bone age, linearly to 1 at 132, then 1; 1 when off."""
    want = 1.4 if age <= 96 else 1.0 if age >= 132 else 1.4 - 0.4 * (age - 96.0) / 36.0
    assert anatomy.young_fingers_v4(age) == pytest.approx(want, abs=1e-12)
    monkeypatch.setattr(anatomy, "YOUNG_FINGERS_V4", None)
    assert anatomy.young_fingers_v4(age) == 1.0


def _assert_fingers_scaled(on, off, fb, f):
    """Hand ``on`` is ``off`` with the phalanges (all 14, shaft and ends: their flares
    kept) ``fb`` times as wide and their epiphyses as much wider (thickness and centres
    kept), the five fingers' soft-tissue capsules ``f`` times as wide at both ends with
    their pads where they were; the metacarpals, the palm's capsules, the carpals, the
    forearm and the joints the same."""
    b_off = {b.name: b for b in off.bones}
    phalanges = 0
    for b in on.bones:
        b0 = b_off[b.name]
        assert np.array_equal(b.p0, b0.p0) and np.array_equal(b.p1, b0.p1)
        assert (b.flare0, b.flare1) == (b0.flare0, b0.flare1)
        if b.name.startswith(("proximal", "middle", "distal")):
            assert b.half_width == pytest.approx(fb * b0.half_width, rel=1e-12), b.name
            phalanges += 1
        else:
            assert b.half_width == b0.half_width, b.name
    assert phalanges == 14
    e_off = {e.name: e for e in off.ossicles}
    for e in on.ossicles:
        e0 = e_off[e.name]
        assert np.array_equal(e.centre, e0.centre) and e.axes[1] == e0.axes[1]
        wide = fb if e.name.startswith(("epi_proximal", "epi_middle", "epi_distal")) else 1.0
        assert e.axes[0] == pytest.approx(wide * e0.axes[0], rel=1e-12), e.name
    assert len(on.tissue) == len(off.tissue)
    fingers = 0
    for (p0, p1, r0, r1), (q0, q1, s0, s1) in zip(on.tissue, off.tissue):
        assert np.array_equal(p0, q0)
        if np.array_equal(p1, q1) and (r0, r1) == (s0, s1):
            continue  # palm, eminences, wrist and forearm
        fingers += 1
        assert (r0, r1) == pytest.approx((f * s0, f * s1), rel=1e-12)
        # the pad where it was: the capsule's end drawn back along its distal phalanx by
        # as much as its end radius grew
        back = q1 - p1
        assert np.hypot(*back) == pytest.approx(r1 - s1, rel=1e-9)
        assert max(back @ (b.p1 - b.p0) / np.hypot(*back) / np.hypot(*(b.p1 - b.p0))
                   for b in on.bones if b.name.startswith("distal")) == pytest.approx(1.0, abs=1e-9)
    assert fingers == (5 if f != 1.0 else 0)
    assert {k: [tuple(p) + (r,) for p, r in v] for k, v in on.joints.items()} == \
        {k: [tuple(p) + (r,) for p, r in v] for k, v in off.joints.items()}


@pytest.mark.parametrize("age, male", [(30, False), (70, True), (110, True), (120, False), (170, True)])
def test_v4_young_fingers_drawn_stout_on_the_same_layout(age, male, monkeypatch):
    """With the rule on the phalanges are drawn the rule's factor times as wide (shaft and
    ends: their flares kept; since section 7.34 against PHALANX_GROWN_V4's width, which
    they have without it), their epiphyses as much wider (thickness and centres kept),
    the fingers' soft-tissue capsules as much wider at both ends with their pads where
    they were; the metacarpals, the palm's capsules, the carpals, the forearm and the
    joints stay."""
    # section 7.34's grown factors without the young rule, its ramps to them with it
    fb = anatomy.phalanx_width_v4(float(age)) / anatomy.PHALANX_GROWN_V4[0]
    f = anatomy.finger_tissue_v4(float(age)) / anatomy.PHALANX_GROWN_V4[1]
    on, off = _with_and_without(age, male, "YOUNG_FINGERS_V4", monkeypatch)
    _assert_fingers_scaled(on, off, fb, f)


@pytest.mark.skipif(not os.path.isdir(os.path.join(_REAL, "rsna_raw7")), reason="needs ../shared/realdata")
def test_v4_young_fingers_as_stout_as_the_films(monkeypatch):
    """Sections 7.22 and 7.25, on the young films: v4's proximal phalanx 3 and middle
    finger at its mid-shaft within 0.03 and 0.02 of metacarpal 3's length (to the top of
    its head's epiphysis) of the films' medians (read by eye; 6 and 4 films, 10-82
    months), where without the rule they fell >= 0.03 and >= 0.1 short; the hand's share
    of the top half of its box (the fingers; 16 films under 96 months) within 0.05 of the
    films', without the rule >= 0.12 short; the bottom half the same both ways (within
    0.01) and within 0.07 of the films' (section 7.25: the young box reaches further to
    the little finger's side than the films')."""
    rr = load_script("phantom_realism_real")
    rows = rr.real_images()

    def medians():
        got = rr.fingers(rows, ["v4"], per_film=2)
        b, h = got["build"], got["box_halves"]
        return (b["median_real_bone"], b["median_real_finger"], b["median_v4_bone"], b["median_v4_finger"],
                h["median_real"], h["median_v4"], len(b["films"]), len(h["films"]))

    real_bone, real_finger, bone, finger, real_half, half, n_build, n_half = medians()
    assert (n_build, n_half) == (6, 16)
    assert 0.15 < real_bone < 0.3 and 0.4 < real_finger < 0.6
    assert abs(bone - real_bone) <= 0.03 and abs(finger - real_finger) <= 0.02
    assert abs(half[0] - real_half[0]) <= 0.05 and abs(half[1] - real_half[1]) <= 0.07
    monkeypatch.setattr(anatomy, "YOUNG_FINGERS_V4", None)
    monkeypatch.setattr(anatomy, "PHALANX_GROWN_V4", None)  # else the grown width at every age
    _, _, bone0, finger0, _, half0, _, _ = medians()
    assert real_bone - bone0 >= 0.03 and real_finger - finger0 >= 0.1
    assert real_half[0] - half0[0] >= 0.12 and abs(half0[1] - half[1]) <= 0.01


@pytest.mark.parametrize("age, male", [(10, True), (42, False), (82, True), (150, False), (200, True)])
def test_v4_metacarpal_bases_drawn_without_an_end_plate(age, male, monkeypatch):
    """Section 7.23: metacarpals 2-5 carry ``METACARPAL_BASE_PLATE_V4`` of the look's end
    plate at their bases, every other long bone the look's (1); off (None) every bone 1
    and nothing else about the hand changes; v3's hands all 1."""
    assert anatomy.METACARPAL_BASE_PLATE_V4 == 0.0
    on, off = _with_and_without(age, male, "METACARPAL_BASE_PLATE_V4", monkeypatch)
    b_off = {b.name: b for b in off.bones}
    bases = 0
    for b in on.bones:
        b0 = b_off[b.name]
        assert b0.base_plate == 1.0
        if b.name in ("metacarpal2", "metacarpal3", "metacarpal4", "metacarpal5"):
            assert b.base_plate == 0.0
            bases += 1
        else:
            assert b.base_plate == 1.0, b.name
        b.base_plate = 1.0
        assert repr(b) == repr(b0)
    assert bases == 4 and len(on.bones) == len(off.bones) and repr(on.ossicles) == repr(off.ossicles)
    subject = sample_posture(sample_subject(float(age), male, np.random.default_rng(age), hard_fraction=0.0),
                             np.random.default_rng([age, 3]))
    assert all(b.base_plate == 1.0 for b in build_hand(subject, 3).bones)


@pytest.mark.parametrize("age, male, seed", [(30, False, 3), (150, True, 5)])
def test_v4_metacarpal_base_stands_lower_without_the_plate(age, male, seed, monkeypatch):
    """On a drawn film (16-bit, clean: nothing else varies) metacarpal 3's base end stands
    at least 0.08 lower over its shaft without the plate than with it (``base_plate`` of
    phantom_realism_real, the measure of section 7.23), and only near the bases of
    metacarpals 2-5 does the film change."""
    rr = load_script("phantom_realism_real")

    def drawn():
        s = render(age, male, seed, style="v4", size=(1280, 1024), nuisance=False)
        b, t = rr._metacarpal3_ends(s)
        return s, rr.base_plate(rr._percentile_film(s.image), b, t)

    s_on, on = drawn()
    monkeypatch.setattr(anatomy, "METACARPAL_BASE_PLATE_V4", None)
    s_off, off = drawn()
    assert off - on >= 0.08
    # every pixel that changes by more than 0.1 % of the grey range lies within 0.15
    # metacarpal lengths of a base (further out only the film's blur reaches, by less)
    diff = np.abs(s_on.image.astype(np.int64) - s_off.image.astype(np.int64)) > 0.001 * 65535
    assert diff.sum() > 100
    ys, xs = np.nonzero(diff)
    bases = np.array([s_on.frame(b.p0) for b in s_on.hand.bones
                      if b.name in ("metacarpal2", "metacarpal3", "metacarpal4", "metacarpal5")])
    near = np.min(np.hypot(xs[:, None] - bases[None, :, 0], ys[:, None] - bases[None, :, 1]), axis=1)
    length = float(np.hypot(*np.subtract(*rr._metacarpal3_ends(s_on))))
    assert near.max() < 0.15 * length


@pytest.mark.skipif(not os.path.isdir(os.path.join(_REAL, "rsna_raw7")), reason="needs ../shared/realdata")
def test_v4_metacarpal_base_plate_as_faint_as_the_films(monkeypatch):
    """Section 7.23, on 11 films (6 of 10-82 months, 5 of 120-180): metacarpal 3's base
    end over its shaft, v4's median within 0.06 of the films' and within 0.06 on the two
    young registered films, where with the look's plate at the base it stood >= 0.15 over
    (>= 0.2 on those two: 0.32 without section 7.32's striations, 0.25 with them; the
    bound concerns that plate, not the striations)."""
    rr = load_script("phantom_realism_real")

    def run():
        got = rr.mcplate(["v4"], seeds=2)
        young = got["young processed"]
        return got["median_real"], got["median_v4"], young["real"], young["v4"], len(got["films"])

    real, v4, real_young, v4_young, films = run()
    assert films == 11 and 0.95 < real < 1.3
    assert abs(v4 - real) <= 0.06 and abs(v4_young - real_young) <= 0.06
    monkeypatch.setattr(anatomy, "METACARPAL_BASE_PLATE_V4", None)
    _, v4_0, _, v4_young0, _ = run()
    assert v4_0 - real >= 0.15 and v4_young0 - real_young >= 0.2


def _wrist_drop_mm(age: float) -> float:
    """WRIST_YOUNG_V4's least drop of the distal radius and ulna at this bone age (mm at
    adult scale), written out: its first value until its second (months), linearly to 0
    at its third."""
    drop, full, gone, _ = anatomy.WRIST_YOUNG_V4
    return drop * min(max((gone - age) / (gone - full), 0.0), 1.0)


@pytest.mark.parametrize("age, male", [(0, True), (10, False), (24, True), (42, False), (60, True), (84, False),
                                       (107, True), (108, False), (150, True), (200, False)])
def test_v4_young_wrist_lowers_the_forearm_and_part_of_the_carpus(age, male, monkeypatch):
    """Section 7.26: with ``WRIST_YOUNG_V4`` (9.5 mm until 60 months, none from 108; the
    carpus 0.45 of it) the radius and the ulna (shafts, epiphyses and ROI centres) stand
    max(6 (1 - ratio), drop) mm times the hand's scale below their adult place, where
    version 3's rule puts them 6 (1 - ratio) below (their epiphysis' cartilage), the
    carpals and the hamate's hook 0.45 drop lower, and nothing else moves; the hand
    records the radius' extra (``wrist_drop``); from 108 months the hand is the same."""
    assert anatomy.WRIST_YOUNG_V4 == (9.5, 60.0, 108.0, 0.45)
    on, off = _with_and_without(age, male, "WRIST_YOUNG_V4", monkeypatch)
    s = on.subject.size_scale
    d = _wrist_drop_mm(age)
    extra = {}
    for name in ("radius", "ulna"):
        cartilage = 6.0 * (1.0 - min(on.epiphyses[name][0], 1.0))
        extra[name] = (max(cartilage, d) - cartilage) * s
    assert on.wrist_drop == pytest.approx(extra["radius"] / s, abs=1e-12) and off.wrist_drop == 0.0
    if age < 60:
        assert on.wrist_drop > 0.5  # under 5 years the radius stands lower than v3 draws it
    b_off = {b.name: b for b in off.bones}
    assert [b.name for b in on.bones] == list(b_off)
    for b in on.bones:
        b0 = b_off[b.name]
        shift = np.array([0.0, -extra.get(b.name, 0.0)])
        np.testing.assert_allclose(b.p0, b0.p0 + shift, rtol=0, atol=1e-9)
        np.testing.assert_allclose(b.p1, b0.p1 + shift, rtol=0, atol=1e-9)
        assert (b.half_width, b.flare0, b.flare1, b.kind) == (b0.half_width, b0.flare0, b0.flare1, b0.kind)
    o_off = {e.name: e for e in off.ossicles}
    assert [e.name for e in on.ossicles] == [e.name for e in off.ossicles]
    moved = 0
    for e in on.ossicles:
        e0 = o_off[e.name]
        if e.name in CARPAL_SHAPE_V2 or e.name == "hamate_hook":
            dy = 0.45 * d * s
        elif e.name in ("epi_radius", "epi_ulna"):
            dy = extra[e.name[4:]]
        else:
            dy = 0.0
        moved += dy > 0
        np.testing.assert_allclose(e.centre, e0.centre - np.array([0.0, dy]), rtol=0, atol=1e-9)
        np.testing.assert_allclose(e.axes, e0.axes, rtol=0, atol=1e-12)
        assert e.angle == e0.angle and e.density == e0.density
    assert moved == 0 if age >= 108 else (moved > 0 or age < 2)  # (no carpal nor epiphysis at birth)
    for key, pts in on.joints.items():
        dy = {"Radius": extra["radius"], "Ulna": extra["ulna"]}.get(key, 0.0)
        for (c, half), (c0, half0) in zip(pts, off.joints[key]):
            np.testing.assert_allclose(c, c0 - np.array([0.0, dy]), rtol=0, atol=1e-9)
            assert half == half0
    assert repr(on.tissue) == repr(off.tissue)
    if age >= 108:
        assert repr(on.ossicles) == repr(off.ossicles) and repr(on.bones) == repr(off.bones)


@pytest.mark.parametrize("age", [10.0, 40.0, 120.0])
def test_v4_frames_the_forearm_from_its_lowered_radius(age, monkeypatch):
    """The framed span reaches its draw below the radius where v4 now draws it: the
    same film without WRIST_YOUNG_V4 is framed larger by exactly the ratio of the two
    spans (the fingertips' height plus the draw, plus the hand's ``wrist_drop``), clean
    films (50 mm below) and films with nuisance alike; from 108 months nothing changes."""
    for nuisance in (False, True):
        on = render(age, True, seed=5, size=(640, 512), style="v4", nuisance=nuisance)
        monkeypatch.setattr(anatomy, "WRIST_YOUNG_V4", None)
        off = render(age, True, seed=5, size=(640, 512), style="v4", nuisance=nuisance)
        monkeypatch.undo()
        top = on.hand.outline_points(round_ends=nuisance)[:, 1].max()
        ss = on.hand.subject.size_scale
        above, below = _v4_forearm_mm(5, age) if nuisance else (0.0, 50.0)
        drop = on.hand.wrist_drop
        assert (drop > 0.0) == (age < 108.0)
        assert off.frame.scale / on.frame.scale == pytest.approx(
            (top + (above + below + drop) * ss) / (top + (above + below) * ss), rel=1e-9)
        if age >= 108.0:
            np.testing.assert_array_equal(on.image, off.image)


@pytest.mark.skipif(not os.path.isdir(os.path.join(_REAL, "rsna_raw7")), reason="needs ../shared/realdata")
def test_v4_young_wrist_as_long_as_the_films(monkeypatch):
    """Section 7.26 on the films: on the 6 young films (10-82 months; read by eye) the
    radius' end and the capitate's centre lie 0.87 and 0.30 of metacarpal 3's length
    below its base (medians): v4 within 0.08 and 0.05 of them, without WRIST_YOUNG_V4
    >= 0.14 and >= 0.08 short; on the 327 RSNA films with ROI boxes, the radius box's
    reach below the middle finger's MCP (in proximal phalanx 3 lengths) falls short of
    the films' under 5 years by no more than at 10-14 years (+ 0.03; the rest is where
    the annotators centre their box), where without it the young shortfall was >= 0.08
    more."""
    rr, pr = load_script("phantom_realism_real"), load_script("phantom_realism")
    real = pr.real_rows()

    def run():
        got = rr.carpus(["v4"])
        rows = pr.phantom_rows(240, 3, "v4")
        short = {}
        for lo, hi in ((0, 60), (120, 168)):
            r = np.median([f["radius_reach"] for a, _, f in real if lo <= a < hi])
            p = np.median([f["radius_reach"] for a, _, f in rows if lo <= a < hi])
            short[lo] = r - p
        return got, short

    got, short = run()
    assert len(got["films"]) == 6
    assert 0.8 < got["median_real_radius"] < 1.0 and 0.25 < got["median_real_capitate"] < 0.35
    assert abs(got["median_v4_radius"] - got["median_real_radius"]) <= 0.08
    assert abs(got["median_v4_capitate"] - got["median_real_capitate"]) <= 0.05
    assert short[0] - short[120] <= 0.03, short
    monkeypatch.setattr(anatomy, "WRIST_YOUNG_V4", None)
    got0, short0 = run()
    assert got0["median_real_radius"] - got0["median_v4_radius"] >= 0.14
    assert got0["median_real_capitate"] - got0["median_v4_capitate"] >= 0.08
    assert short0[0] - short0[120] >= short[0] - short[120] + 0.08, (short, short0)


# --- webs between the fingers (docs/phantom.md, section 7.27) --------------------------
@pytest.mark.parametrize("age, male", [(0, True), (24, False), (60, True), (120, False), (180, True), (228, False)])
def test_v4_finger_webs_span_each_pair_to_a_third_of_the_proximal_phalanx(age, male, monkeypatch):
    """Section 7.27: v4's last three soft-tissue capsules are the webs index-middle,
    middle-ring and ring-little: the points 0.3 of the way from each finger's MCP to its
    PIP joint (the ROI centres) set each web: its radius half their distance, its round
    top end reaching their mid-point, its other end the mid-point of the pair's MCP
    joints (the web one disc, its top there, where it is wider than that is long); 0.6
    as deep as wide, the look's section. v3 has none; v4's other capsules are as they
    were without them."""
    subject = sample_posture(sample_subject(float(age), male, np.random.default_rng(7), hard_fraction=0.0),
                             np.random.default_rng([7, 3]))
    h4 = build_hand(subject, 4)
    assert anatomy.FINGER_WEB_V4 == (0.3, 1.0, 0.6)
    mcp = [c for c, _ in h4.joints["MCP"]]
    pip = [c for c, _ in h4.joints["PIP"]]
    n = len(h4.tissue)
    discs = 0
    for k, (a, b) in enumerate(((1, 2), (2, 3), (3, 4))):  # rays: 0 the thumb
        p0, p1, r0, r1 = h4.tissue[n - 3 + k]
        qa, qb = mcp[a] + 0.3 * (pip[a] - mcp[a]), mcp[b] + 0.3 * (pip[b] - mcp[b])
        r = 0.5 * float(np.linalg.norm(qa - qb))
        assert r0 == r1 == pytest.approx(r, rel=1e-12)
        top, low = (qa + qb) / 2, (mcp[a] + mcp[b]) / 2
        u = (top - low) / np.linalg.norm(top - low)
        np.testing.assert_allclose(p1 + u * r, top, rtol=0, atol=1e-9)
        if np.linalg.norm(top - low) > r:
            np.testing.assert_allclose(p0, low, rtol=0, atol=1e-9)
        else:
            np.testing.assert_array_equal(p0, p1)
            discs += 1
        assert h4.tissue_depths[n - 3 + k] == 0.6 and n - 3 + k not in h4.tissue_sections
    assert discs < 3
    monkeypatch.setattr(anatomy, "FINGER_WEB_V4", None)
    off = build_hand(subject, 4)
    assert len(off.tissue) == n - 3
    for c, c0 in zip(h4.tissue, off.tissue):
        assert all(np.array_equal(x, y) for x, y in zip(c, c0))
    assert {i: v for i, v in h4.tissue_depths.items() if i < n - 3} == off.tissue_depths
    assert h4.tissue_sections == off.tissue_sections and len(build_hand(subject, 3).tissue) == n - 5


def test_finger_webs_v4_by_hand():
    """``finger_webs_v4`` on fingers laid out by hand: two upright fingers 20 apart
    with proximal phalanges 40 long give a web of radius 10 (share 1) whose top reaches
    12 above the MCPs (edge 0.3), from their mid-point; 40 apart (a web wider than
    long) one disc of radius 20 with its top at the same height; share 0.5 halves the
    radius; three fingers, two webs."""
    up = np.array([0.0, 40.0])
    f = [(np.array([0.0, 0.0]), up), (np.array([20.0, 0.0]), np.array([20.0, 40.0])),
         (np.array([60.0, 0.0]), np.array([60.0, 40.0]))]
    (p0, p1, r0, r1), (q0, q1, s0, s1) = anatomy.finger_webs_v4(f, 0.3, 1.0)
    assert (r0, r1) == (10.0, 10.0) and (s0, s1) == (20.0, 20.0)
    np.testing.assert_allclose(p0, [10.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(p1, [10.0, 2.0], atol=1e-12)  # its top at 12
    np.testing.assert_allclose(q0, [40.0, -8.0], atol=1e-12)
    np.testing.assert_allclose(q1, [40.0, -8.0], atol=1e-12)  # a disc, its top at 12
    (p0, p1, r0, _), _ = anatomy.finger_webs_v4(f, 0.3, 0.5)
    assert r0 == 5.0
    np.testing.assert_allclose(p1, [10.0, 7.0], atol=1e-12)
    assert anatomy.finger_webs_v4(f[:1], 0.3, 1.0) == []


def _web_medians(age: float, male: bool, seeds: int = 4) -> dict:
    """``phantom_web_levels``' medians (per side) over v4 phantoms drawn as ``--parts
    webs`` draws them."""
    prr = load_script("phantom_realism_real")
    got = [prr.phantom_web_levels(render(age, male, seed=40_000 + k, size_scale=0.5, bits=8, style="v4"))
           for k in range(seeds)]
    return {side: float(np.median([g[side] for g in got if g[side] is not None])) for side in ("radial", "ulnar")}


def test_v4_fingers_part_above_their_knuckles(monkeypatch):
    """Section 7.27 on rendered films: at 150 months the silhouette round metacarpal 3
    holds the index and the ring finger up to >= 1.15 of that bone's length above its
    base (its top at 1.0; the films 1.2); without the webs the fingers part no higher, on
    the radial side >= 0.05 lower (section 7.27: at its top or below, <= 1.05, each side
    >= 0.15 lower; since section 7.34's fuller grown fingers 1.1 / 1.375, the same 1.375
    on the ulnar side as with the webs: fingers as wide as the films' meet higher by
    themselves). A young hand's webs (24 months) are higher still (>= 1.3)."""
    got = _web_medians(150.0, False)
    assert got["radial"] >= 1.15 and got["ulnar"] >= 1.15, got
    assert min(_web_medians(24.0, True).values()) >= 1.3
    monkeypatch.setattr(anatomy, "FINGER_WEB_V4", None)
    off = _web_medians(150.0, False)
    assert got["radial"] - off["radial"] >= 0.05 and got["ulnar"] >= off["ulnar"], (got, off)


def test_web_levels_finds_where_a_drawn_finger_parts():
    """``web_levels`` on a drawn silhouette: an upright 'metacarpal 3' of 100 pixels (base
    at row 300, top at 200) in a palm 160 wide up to row 200, a middle finger 30 wide on
    its axis, and neighbours 30 wide joined to it by webs up to rows 170 (thumb side, the
    image's right) and 150: the levels are the first above the webs' tops, in steps of
    0.025 of the length; None where a side never parts; radial -1 swaps the sides;
    bad arguments are refused."""
    prr = load_script("phantom_realism_real")
    img = np.zeros((400, 400))
    img[200:330, 120:280] = 1.0  # palm
    img[40:200, 185:215] = 1.0  # middle finger (axis x = 200)
    img[60:200, 245:275] = 1.0  # index (thumb side)
    img[60:200, 125:155] = 1.0  # ring
    img[170:200, 215:245] = 1.0  # web to row 170 (level 1.3)
    img[150:200, 155:185] = 1.0  # web to row 150 (level 1.5)
    got = prr.web_levels(img, (200.0, 300.0), (200.0, 200.0))
    assert got == {"radial": pytest.approx(1.325), "ulnar": pytest.approx(1.525)}
    assert prr.web_levels(img, (200.0, 300.0), (200.0, 200.0), radial=-1) == {"radial": pytest.approx(1.525),
                                                                              "ulnar": pytest.approx(1.325)}
    img[40:200, 155:185] = 1.0  # the ring finger fused to the middle all the way
    assert prr.web_levels(img, (200.0, 300.0), (200.0, 200.0))["ulnar"] is None
    with pytest.raises(ValueError, match="radial"):
        prr.web_levels(img, (200.0, 300.0), (200.0, 200.0), radial=0)
    with pytest.raises(ValueError, match="differ"):
        prr.web_levels(img, (200.0, 300.0), (200.0, 300.0))


@pytest.mark.skipif(not os.path.isdir(os.path.join(_REAL, "rsna_raw7")), reason="needs ../shared/realdata")
def test_v4_finger_webs_as_high_as_the_films(monkeypatch):
    """Section 7.27 on the films (``--parts webs``): on the 5 older films (120-180 months)
    the middle finger parts from the index and the ring finger 1.2 of metacarpal 3's
    length above its base (medians), on the young 6 (10-82 months) 1.3-1.4: v4 within
    0.06 of the older films' on both sides and of the young films' on the radial side
    (its young ulnar web stays 0.08-0.12 high: the fingers' own soft tissue); without the
    webs the older hands' >= 0.1 low (>= 0.25 before section 7.34's fuller grown fingers,
    which meet higher by themselves)."""
    rr = load_script("phantom_realism_real")
    got = rr.webs(["v4"])
    old, young = got["older"], got["young"]
    assert len(old["films"]) == 5 and len(young["films"]) == 6
    assert 1.1 <= old["median_real_radial"] <= 1.3 and 1.1 <= old["median_real_ulnar"] <= 1.3
    for side in ("radial", "ulnar"):
        assert abs(old[f"median_v4_{side}"] - old[f"median_real_{side}"]) <= 0.06, old
    assert abs(young["median_v4_radial"] - young["median_real_radial"]) <= 0.06, young
    monkeypatch.setattr(anatomy, "FINGER_WEB_V4", None)
    off = rr.webs(["v4"])["older"]
    for side in ("radial", "ulnar"):
        assert off[f"median_real_{side}"] - off[f"median_v4_{side}"] >= 0.1, off


# ------------------------------------------------ the first web and the thumb (7.28)
@pytest.mark.parametrize("age, male", [(0, True), (30, False), (90, True), (150, False), (220, True)])
def test_v4_first_web_third_capsule_runs_from_0_7_of_both_metacarpals(age, male, monkeypatch):
    """Section 7.28: v4's first web keeps version 3's three capsules (indices 12-14, the
    same radii and depth) but its third runs between the points 0.7 of the way from the
    thumb's and the index's metacarpal bases to their heads, not 0.85: written out from
    the thumb's metacarpal and from version 3's third capsule (whose index end, 0.85 of
    the index's drawn length, gives that length); the other two and every other capsule
    as with FIRST_WEB_V4 None."""
    subject = sample_posture(sample_subject(float(age), male, np.random.default_rng(11), hard_fraction=0.0),
                             np.random.default_rng([11, 3]))
    h4 = build_hand(subject, 4)
    monkeypatch.setattr(anatomy, "FIRST_WEB_V4", None)
    off = build_hand(subject, 4)
    assert len(h4.tissue) == len(off.tissue) and h4.tissue_depths == off.tissue_depths
    changed = [i for i, (c, c0) in enumerate(zip(h4.tissue, off.tissue))
               if not all(np.array_equal(x, y) for x, y in zip(c, c0))]
    assert changed == [14]
    mc1 = next(b for b in h4.bones if b.name == "metacarpal1")
    mc2 = next(b for b in h4.bones if b.name == "metacarpal2")
    p0, p1, r0, r1 = h4.tissue[14]
    q0, q1, s0, s1 = off.tissue[14]
    np.testing.assert_allclose(q0, mc1.p0 + 0.85 * (mc1.p1 - mc1.p0), rtol=0, atol=1e-9)  # v3's, as the test reads it
    np.testing.assert_allclose(p0, mc1.p0 + 0.7 * (mc1.p1 - mc1.p0), rtol=0, atol=1e-9)
    head = mc2.p0 + (q1 - mc2.p0) / 0.85  # the index's drawn end
    np.testing.assert_allclose(p1, mc2.p0 + 0.7 * (head - mc2.p0), rtol=0, atol=1e-9)
    assert (r0, r1) == (s0, s1) and r0 == r1 > 0
    assert 14 in h4.tissue_depths and h4.tissue_depths[14] > 1.0  # as deep as the web's other two


@pytest.mark.parametrize("age", [0.0, 60.0, 96.0, 105.0, 114.0, 132.0, 180.0])
def test_v4_young_thumb_soft_tissue_is_three_quarters_as_wide(age, monkeypatch):
    """Section 7.28: the thumb's finger capsule (the hand's first) is 0.75 as wide as
    with THUMB_TISSUE_V4 None until 96 months, then linearly (written out) to as wide at
    132 and after; its ends and every other capsule unchanged."""
    subject = sample_posture(sample_subject(age, age < 100, np.random.default_rng(5), hard_fraction=0.0),
                             np.random.default_rng([5, 3]))
    assert anatomy.THUMB_TISSUE_V4 == (0.75, 96.0, 132.0)
    h4 = build_hand(subject, 4)
    monkeypatch.setattr(anatomy, "THUMB_TISSUE_V4", None)
    off = build_hand(subject, 4)
    want = 0.75 if age <= 96.0 else 1.0 if age >= 132.0 else 0.75 + 0.25 * (age - 96.0) / 36.0
    (p0, p1, r0, r1), (q0, q1, s0, s1) = h4.tissue[0], off.tissue[0]
    np.testing.assert_array_equal(p0, q0)
    assert r0 == pytest.approx(want * s0, rel=1e-12) and r1 == pytest.approx(want * s1, rel=1e-12)
    # the fingertip's pad end follows the tip's radius; the capsule's far end stays within it
    assert float(np.linalg.norm(p1 - q1)) <= s1 + 1e-9
    for c, c0 in zip(h4.tissue[1:], off.tissue[1:]):
        assert all(np.array_equal(x, y) for x, y in zip(c, c0))


def test_first_web_level_finds_how_high_a_drawn_thumb_is_joined():
    """``first_web_level`` on a drawn silhouette: an upright 'metacarpal 3' of 100 pixels
    (base at row 300, top at 200, axis x = 200), a palm reaching 60 pixels to either side
    from row 200 down, and on the image's right (the thumb's side) tissue reaching 120
    pixels (1.2 lengths) out from row 340 up to row 245 (level 0.55), a thumb beyond it
    standing apart above: the level is the highest step of 0.025 still reaching 0.95;
    None when the thumb side never reaches that far; radial -1 reads the other side;
    bad arguments are refused."""
    prr = load_script("phantom_realism_real")
    img = np.zeros((420, 420))
    img[200:360, 140:261] = 1.0  # palm
    img[245:341, 261:321] = 1.0  # thenar and first web, to level 0.55
    img[100:245, 300:330] = 1.0  # the thumb apart above it
    assert prr.first_web_level(img, (200.0, 300.0), (200.0, 200.0)) == pytest.approx(0.55)
    assert prr.first_web_level(img, (200.0, 300.0), (200.0, 200.0), radial=-1) is None
    img[245:256, 261:321] = 0.0  # the web's edge 11 rows lower: level 0.44 -> 0.425
    assert prr.first_web_level(img, (200.0, 300.0), (200.0, 200.0)) == pytest.approx(0.425)
    with pytest.raises(ValueError, match="radial"):
        prr.first_web_level(img, (200.0, 300.0), (200.0, 200.0), radial=2)
    with pytest.raises(ValueError, match="differ"):
        prr.first_web_level(img, (200.0, 300.0), (200.0, 300.0))


def test_thumb_width_reads_a_drawn_band_across_its_axis():
    """``thumb_width`` on a band 40 pixels wide drawn at 30 degrees: across it at its
    mid-point, over a length of 200, 0.2 (within a pixel's slant); the axis' length does
    not matter; ``silhouette_width`` reads a drawn palm across metacarpal 3's mid-point;
    bad axes and lengths are refused."""
    prr = load_script("phantom_realism_real")
    yy, xx = np.mgrid[0:400, 0:400].astype(np.float64)
    u = np.array([math.cos(math.radians(30)), -math.sin(math.radians(30))])
    n = np.array([-u[1], u[0]])
    img = (np.abs((xx - 200) * n[0] + (yy - 200) * n[1]) <= 20).astype(np.float64)
    got = prr.thumb_width(img, (200.0, 200.0), u, 200.0)
    assert abs(got - 0.2) <= 2.0 / 200
    assert prr.thumb_width(img, (200.0, 200.0), 7 * u, 200.0) == got
    palm = np.zeros((400, 400))
    palm[150:300, 120:300] = 1.0  # 180 wide
    pts = {"mc3_base_x": 200.0, "mc3_base_y": 280.0, "mc3_top_x": 200.0, "mc3_top_y": 180.0}
    assert prr.silhouette_width(palm, pts) == pytest.approx(179 / 100)
    with pytest.raises(ValueError, match="axis"):
        prr.thumb_width(img, (200.0, 200.0), (0.0, 0.0), 200.0)
    with pytest.raises(ValueError, match="length"):
        prr.thumb_width(img, (200.0, 200.0), u, 0.0)
    with pytest.raises(ValueError, match="differ"):
        prr.silhouette_width(palm, dict(pts, mc3_top_y=280.0))


def _first_web_median(age: float, male: bool, seeds: int = 4) -> float:
    """``phantom_first_web_level``'s median over clean v4 phantoms drawn as ``--parts
    firstweb`` draws them."""
    prr = load_script("phantom_realism_real")
    got = [prr.phantom_first_web_level(render(age, male, seed=40_000 + k, size_scale=0.5, bits=8, nuisance=False,
                                              style="v4")) for k in range(seeds)]
    return float(np.median([g for g in got if g is not None]))


def test_v4_thumb_parts_from_the_hand_lower(monkeypatch):
    """Section 7.28 on rendered films: the thumb joined to the hand up to <= 0.625 of
    metacarpal 3's length above its base at 55 months and <= 0.55 at 150 (the films'
    medians 0.625 and 0.50); with version 3's first web and the thumb's soft tissue
    (FIRST_WEB_V4 and THUMB_TISSUE_V4 None) >= 0.05 higher at both."""
    on = (_first_web_median(55.0, False), _first_web_median(150.0, True))
    assert on[0] <= 0.625 and on[1] <= 0.55, on
    monkeypatch.setattr(anatomy, "FIRST_WEB_V4", None)
    monkeypatch.setattr(anatomy, "THUMB_TISSUE_V4", None)
    off = (_first_web_median(55.0, False), _first_web_median(150.0, True))
    assert off[0] - on[0] >= 0.05 and off[1] - on[1] >= 0.05, (on, off)


@pytest.mark.skipif(not os.path.isdir(os.path.join(_REAL, "rsna_raw7")), reason="needs ../shared/realdata")
def test_v4_first_web_and_thumb_as_the_films(monkeypatch):
    """Section 7.28 on the films: the thumb stays joined to the hand up to 0.625 / 0.50 of
    metacarpal 3's length above its base (6 young / older films with a level; medians):
    v4 within 0.05 of both; the young thumbs' soft tissue (4 films of 24-82 months)
    0.40 of that length wide, v4 within 0.04; with version 3's first web and thumb
    v4's levels >= 0.05 high and its young thumbs >= 0.1 wide. The films' silhouette
    across the young palm reads wider than their palm read by eye (the thumb joined)."""
    rr = load_script("phantom_realism_real")
    web, th = rr.firstweb(["v4"]), rr.thumb(["v4"])
    assert len(web["young"]["films"]) == 6 and len(web["older"]["films"]) == 5 and len(th["films"]) == 5
    for group in ("young", "older"):
        g = web[group]
        assert abs(g["median_v4"] - g["median_real"]) <= 0.05, (group, g)
    assert 0.3 <= th["young"]["median_real"] <= 0.5
    assert abs(th["young"]["median_v4"] - th["young"]["median_real"]) <= 0.04, th
    palm = rr.palm(["v4"])
    assert palm["median_real_silhouette"] > palm["median_real"] + 0.1
    monkeypatch.setattr(anatomy, "FIRST_WEB_V4", None)
    monkeypatch.setattr(anatomy, "THUMB_TISSUE_V4", None)
    web0, th0 = rr.firstweb(["v4"]), rr.thumb(["v4"])
    for group in ("young", "older"):
        assert web0[group]["median_v4"] - web0[group]["median_real"] >= 0.05, (group, web0[group])
    assert th0["young"]["median_v4"] - th0["young"]["median_real"] >= 0.1, th0


@pytest.mark.parametrize("age, male", [(0.0, True), (24.0, False), (55.0, False), (96.0, True), (110.0, False),
                                       (132.0, True), (190.0, False)])
def test_v4_young_forearm_flares_like_a_trumpet_on_splayed_shafts(age, male, monkeypatch):
    """Section 7.29: the young radius and ulna (YOUNG_FOREARM_V4) end flare 0.5 over 0.10
    of the bone's drawn length, on shafts 1.13 / 1.27 times as wide, each splayed 3
    degrees away from the other from its end, until 96 months, then linearly (written
    out) to the bones drawn with YOUNG_FOREARM_V4 None at 132 and after; the ends stay
    where they were."""
    subject = sample_posture(sample_subject(age, male, np.random.default_rng(9), hard_fraction=0.0),
                             np.random.default_rng([9, 3]))
    y = anatomy.YOUNG_FOREARM_V4
    assert y == {"flare": 0.5, "span": 0.10, "radius": 1.13, "ulna": 1.27, "splay": 3.0, "ages": (96.0, 132.0)}
    h_on = build_hand(subject, 4)
    monkeypatch.setattr(anatomy, "YOUNG_FOREARM_V4", None)
    h_off = build_hand(subject, 4)
    on, off = ({b.name: b for b in h.bones} for h in (h_on, h_off))
    t = min(max((age - 96.0) / 36.0, 0.0), 1.0)
    for name, side in (("radius", 1.0), ("ulna", -1.0)):
        a, b = on[name], off[name]
        assert b.head_span == 0.15 and b.flare1 == 1.0  # v4 before: the end twice the shaft's width
        np.testing.assert_array_equal(a.p1, b.p1)
        assert a.flare1 == pytest.approx(0.5 + 0.5 * t, abs=1e-12)
        assert a.head_span == pytest.approx(0.10 + 0.05 * t, abs=1e-12)
        assert a.half_width == pytest.approx(b.half_width * (y[name] + (1.0 - y[name]) * t), rel=1e-12)
        d = a.p0 - a.p1
        splay = math.degrees(math.atan2(side * d[0], -d[1]))  # away from the other bone
        assert splay == pytest.approx(3.0 * (1.0 - t), abs=1e-9)
        assert float(np.hypot(*d)) >= float(np.hypot(*(b.p0 - b.p1)))
        if t == 1.0:
            assert (a.flare1, a.head_span, a.half_width) == (b.flare1, b.head_span, b.half_width)
            np.testing.assert_allclose(a.p0, b.p0, rtol=0, atol=1e-12)
    # the epiphyses keep their width for their metaphysis' end (half-width (1 + flare))
    epi_on, epi_off = ({e.name: e for e in h.ossicles} for h in (h_on, h_off))
    for name in ("radius", "ulna"):
        if f"epi_{name}" not in epi_off:
            continue
        a, b = on[name], off[name]
        assert epi_on[f"epi_{name}"].axes[0] / (a.half_width * (1.0 + a.flare1)) == pytest.approx(
            epi_off[f"epi_{name}"].axes[0] / (b.half_width * (1.0 + b.flare1)), rel=1e-12)


def test_long_bone_width_and_interosseous_read_the_drawn_outline():
    """``long_bone_width`` is twice the outline's half-width formula (written out here) at
    ``below`` mm from the distal end, 0 past the bone; ``phantom_interosseous`` reads a
    v4 phantom's radius and ulna at metacarpal 3 lengths below the radius' end: the ulna,
    whose end lies lower, at its own end until a level passes it, and their gap from the
    splayed axes."""
    from boneage_fast.data.anatomy import LongBone

    prr = load_script("phantom_realism_real")
    b = LongBone("radius", np.array([3.0, -137.0]), np.array([6.0, 3.0]), 4.0, 0.2, 0.5, "radius", head_span=0.1)
    length = math.hypot(3.0, 140.0)
    for below in (0.0, 2.0, 7.5, 30.0, 100.0):
        u = 1.0 - below / length
        want = 8.0 * (1.0 + 0.2 * math.exp(-(u / 0.15) ** 2) + 0.5 * math.exp(-((1.0 - u) / 0.1) ** 2)
                      - 0.1 * math.sin(math.pi * u) ** 2)
        assert prr.long_bone_width(b, below) == pytest.approx(want, rel=1e-12)
    assert prr.long_bone_width(b, -0.1) == 0.0 and prr.long_bone_width(b, length + 0.1) == 0.0
    s = render(40.0, False, seed=2, size=(640, 512), style="v4", nuisance=False)
    got = prr.phantom_interosseous(s, (0.0, 0.3))
    bones = {x.name: x for x in s.hand.bones}
    r, u = bones["radius"], bones["ulna"]
    mc3 = prr._metacarpal3_line(s)[2] / s.frame.scale
    drop = r.p1[1] - u.p1[1]
    assert drop > 0
    assert got[0.0]["ulna"] == pytest.approx(prr.long_bone_width(u, 0.0) / mc3, rel=1e-12)
    below = 0.3 * mc3

    def axis_x(bone, d):
        v = bone.p0 - bone.p1
        return bone.p1[0] + v[0] * d / math.hypot(*v)

    wr, wu = prr.long_bone_width(r, below), prr.long_bone_width(u, below - drop)
    assert got[0.3]["radius"] == pytest.approx(wr / mc3, rel=1e-12)
    assert got[0.3]["gap"] == pytest.approx((axis_x(r, below) - axis_x(u, below - drop) - (wr + wu) / 2) / mc3,
                                            rel=1e-9)
    assert got[0.3]["gap"] > got[0.0]["gap"] > 0  # the shafts stand further apart than the ends


@pytest.mark.skipif(not os.path.isdir(os.path.join(_REAL, "rsna_raw7")), reason="needs ../shared/realdata")
def test_v4_young_forearm_as_the_films(monkeypatch):
    """Section 7.29 on the films (5 young films, 24-82 months; medians per level): the
    radius within 0.02 of metacarpal 3's length of the films' at 0.05, 0.15, 0.3 and 0.5
    of that length below its end, the ulna within 0.035 and the gap between them within
    0.03; with version 4's young forearm before it (YOUNG_FOREARM_V4 None) the radius
    >= 0.06 wide at 0.05 and 0.15 and the gap >= 0.06 narrow at 0.15 and 0.3."""
    rr = load_script("phantom_realism_real")
    got = rr.interosseous(["v4"])
    assert len({r["film"] for r in got["films"]}) == 5 and len(got["films"]) == 19
    for level in (0.05, 0.15, 0.3, 0.5):
        m = got[f"level_{level}"]
        for k, tol in (("radius", 0.02), ("ulna", 0.035), ("gap", 0.03)):
            assert abs(m[f"median_v4_{k}"] - m[f"median_real_{k}"]) <= tol, (level, k, m)
    monkeypatch.setattr(anatomy, "YOUNG_FOREARM_V4", None)
    old = rr.interosseous(["v4"])
    for level in (0.05, 0.15):
        m = old[f"level_{level}"]
        assert m["median_v4_radius"] - m["median_real_radius"] >= 0.06, (level, m)
    for level in (0.15, 0.3):
        m = old[f"level_{level}"]
        assert m["median_real_gap"] - m["median_v4_gap"] >= 0.06, (level, m)


@pytest.mark.parametrize("age, male", [(6.0, True), (24.0, False), (55.0, False), (60.0, True), (78.0, False),
                                       (96.0, True), (130.0, False)])
def test_v4_young_capitate_and_hamate_are_wide_round_and_apart(age, male, monkeypatch):
    """Section 7.30: until 60 months the young capitate's semi-axes (across, along) are
    1.35 / 1.12 times and the hamate's 1.7 / 1.0 times those drawn with YOUNG_CARPUS_V4
    None, both ellipses (exponent 2), the hamate's centre 4.5 mm (adult scale) towards
    the little finger and 1.5 mm distally; linearly (written out) to the bones drawn
    without it at 96 months and after. The other carpals are untouched."""
    subject = sample_posture(sample_subject(age, male, np.random.default_rng(11), hard_fraction=0.0),
                             np.random.default_rng([11, 3]))
    y = anatomy.YOUNG_CARPUS_V4
    assert y == {"capitate": (1.35, 1.12), "hamate": (1.7, 1.0), "shift": (-4.5, 1.5), "ages": (60.0, 96.0)}
    on = {e.name: e for e in build_hand(subject, 4).ossicles}
    monkeypatch.setattr(anatomy, "YOUNG_CARPUS_V4", None)
    off = {e.name: e for e in build_hand(subject, 4).ossicles}
    assert on.keys() == off.keys() and {"capitate", "hamate"} <= on.keys()
    w = 1.0 - min(max((age - 60.0) / 36.0, 0.0), 1.0)
    s = subject.size_scale
    for name, (gx, gy) in (("capitate", (1.35, 1.12)), ("hamate", (1.7, 1.0))):
        a, b = on[name], off[name]
        np.testing.assert_allclose(a.axes, b.axes * [1.0 + (gx - 1.0) * w, 1.0 + (gy - 1.0) * w], rtol=1e-12)
        assert a.exponent == pytest.approx(b.exponent + (2.0 - b.exponent) * w, abs=1e-12)
        assert b.exponent > 2.0  # v4 before squared them
        shift = np.array([-4.5, 1.5]) * w * s if name == "hamate" else np.zeros(2)
        np.testing.assert_allclose(a.centre - b.centre, shift, rtol=0, atol=1e-9)
        assert (a.angle, a.taper, a.density) == (b.angle, b.taper, b.density)
    for name in on.keys() - {"capitate", "hamate", "hamate_hook"}:
        np.testing.assert_array_equal(on[name].axes, off[name].axes)
        np.testing.assert_array_equal(on[name].centre, off[name].centre)


@pytest.mark.parametrize("age, male", [(12.0, True), (24.0, False), (30.0, False), (48.0, True), (60.0, False),
                                       (84.0, True)])
def test_v4_young_capitate_and_hamate_stand_apart(age, male):
    """The widened young capitate and hamate stand apart: until 24 months their whole
    outlines (no facet cut) are a joint space (CARPAL_JOINT_V4) apart; at every age, as
    drawn (facets cut), never nearer than that; the hamate lies on the little finger's
    side of the capitate, a little higher, as on the films."""
    from scipy import ndimage

    subject = sample_subject(age, male, np.random.default_rng(5), hard_fraction=0.0)
    bones = {e.name: e for e in build_hand(subject, 4).ossicles}
    ys, xs = np.mgrid[-45:50:RES, -45:55:RES]
    joint = anatomy.CARPAL_JOINT_V4
    cap, ham = bones["capitate"], bones["hamate"]
    for facets in (True, False) if age <= 24 else (True,):
        apart = ndimage.distance_transform_edt(~_mask(cap, xs, ys, facets)) * RES
        assert apart[_mask(ham, xs, ys, facets)].min() >= joint - 2 * RES, facets
    assert ham.centre[0] < cap.centre[0] and ham.centre[1] > cap.centre[1]


@pytest.mark.skipif(not os.path.isdir(os.path.join(_REAL, "rsna_raw7")), reason="needs ../shared/realdata")
def test_v4_young_carpus_as_the_films(monkeypatch):
    """Section 7.30 on the films (6 young films, 10-82 months; medians): the hamate's width
    and length and how far apart the two stand within 0.02 of metacarpal 3's length of
    the films', the capitate's width within 0.025 and its length within 0.03; with
    version 4's young carpus before it (YOUNG_CARPUS_V4 None) both bones >= 0.05 too
    narrow and their middles >= 0.04 too close."""
    rr = load_script("phantom_realism_real")
    got = rr.young_carpus(["v4"])
    assert len(got["films"]) == 6
    for k, tol in (("capitate_wid", 0.025), ("hamate_wid", 0.02), ("hamate_len", 0.02), ("apart", 0.02),
                   ("capitate_len", 0.03)):
        assert abs(got[f"median_v4_{k}"] - got[f"median_real_{k}"]) <= tol, (k, got)
    monkeypatch.setattr(anatomy, "YOUNG_CARPUS_V4", None)
    old = rr.young_carpus(["v4"])
    for k, off in (("capitate_wid", 0.05), ("hamate_wid", 0.05), ("apart", 0.04)):
        assert old[f"median_real_{k}"] - old[f"median_v4_{k}"] >= off, (k, old)


@pytest.mark.skipif(not os.path.isdir(os.path.join(_REAL, "rsna_raw7")), reason="needs ../shared/realdata")
def test_v4_soft_tissue_grain_as_the_films(monkeypatch):
    """Section 7.31 on the films (the distal forearm's soft tissue, 6 raw and 11 processed
    films; medians per look of the bands at 0.5, 1 and 2 pixels): v4's processed films
    within a fifth of the films' in every band (8 phantoms per film), its raw films within
    0.7-1.45 times theirs: a raw phantom's grain there swings 0.4-9 times the film's from
    seed to seed (exposure and noise are drawn per film), so that the median over 8 seeds
    reads 0.77-0.93 of the films' in the three bands and over 16 seeds 1.11-1.37, before
    section 7.33 as after it (section 7.31 read 8, within a fifth); with its grain before
    (``grain_fine`` 1, no coarse grain) the raw films' finest band >= 1.3 times the films'
    and the processed films' 1- and 2-pixel bands <= 0.6 times theirs (4 per film)."""
    rr = load_script("phantom_realism_real")
    got = rr.soft_grain(["v4"], seeds=8)
    assert got["raw"]["films"] == 6 and got["processed"]["films"] == 11
    for look, (lo, hi) in (("raw", (0.7, 1.45)), ("processed", (0.8, 1.2))):
        for k in ("s0.5", "s1", "s2"):
            ratio = got[look][f"v4_{k}"] / got[look][f"real_{k}"]
            assert lo <= ratio <= hi, (look, k, got[look])
    for kind in ("v4", "v4_raw"):
        monkeypatch.setitem(film.LOOKS, kind, replace(film.LOOKS[kind], grain_fine=1.0, coarse_grain=0.0))
    old = rr.soft_grain(["v4"], seeds=4)
    assert old["raw"]["v4_s0.5"] >= 1.3 * old["raw"]["real_s0.5"], old["raw"]
    for k in ("s1", "s2"):
        assert old["processed"][f"v4_{k}"] <= 0.6 * old["processed"][f"real_{k}"], old["processed"]


@pytest.mark.skipif(not os.path.isdir(os.path.join(_REAL, "rsna_raw7")), reason="needs ../shared/realdata")
def test_v4_young_metaphysis_striated_as_the_films(monkeypatch):
    """Section 7.32 on the films (the young distal radial metaphysis, 5 films of 24-82
    months; medians): the films' gradient energy across the radius over along it is
    >= 1.3 in the two finer bands; v4's within 0.25 of theirs there (1 phantom per
    film: the medians of 8 give 1.35 and 1.53 against 1.53 and 1.42); with v4's lines
    before (STRIATION_V4 off) v4's <= 1.1 in both (isotropic: 1.00 and 1.00). The
    phantoms stand upright, as the films do: v4's lines read less striated on a turned
    film (section 7.33: 1.34 / 1.46 upright, 1.20 / 1.22 at 30 degrees), and since
    section 7.33 a young v4 film is turned by 15-28 degrees as often as the films' are."""
    from boneage_fast.data import phantom

    monkeypatch.setattr(phantom, "frame_tilt_v4", lambda age, rng: 0.0)
    rr = load_script("phantom_realism_real")
    got = rr.striation(["v4"], seeds=3)
    assert len(got["films"]) == 5
    for k in (0, 1):
        assert got[f"median_real_aniso{k}"] >= 1.3, got
        assert abs(got[f"median_v4_aniso{k}"] - got[f"median_real_aniso{k}"]) <= 0.25, (k, got)
    monkeypatch.setattr(film, "STRIATION_V4", False)
    old = rr.striation(["v4"], seeds=3)
    for k in (0, 1):
        assert old[f"median_v4_aniso{k}"] <= 1.1, (k, old)
    one_look = rr.striation(["v2"], seeds=1)  # a style without an unprocessed look: drawn alike for every film
    assert len(one_look["films"]) == 5 and all(np.isfinite(one_look[f"median_v2_aniso{k}"]) for k in range(3))


def test_v4_striation_looks_are_written_out():
    """``STRIATION_LOOK_V4`` in the looks: the processed look's striations fainter, the
    unprocessed look's stronger; v2's and v3's looks at 1 (their texture has no
    striations)."""
    for kind, gain in film.STRIATION_LOOK_V4.items():
        assert film.LOOKS[kind].striation == gain
    assert film.STRIATION_LOOK_V4["v4"] < 1.0 < film.STRIATION_LOOK_V4["v4_raw"]
    for kind in ("v2", "v3", "v3_raw"):
        assert film.LOOKS[kind].striation == 1.0


def test_v4_grain_spectrum_is_written_out():
    """``GRAIN_SPECTRUM_V4`` in the looks: v4's and v4_raw's fine noise factor and
    coarse grain as written, v2's and v3's looks without either (their films unchanged;
    v1 has its own exposure and read-out, not the looks')."""
    for kind, (fine, coarse) in film.GRAIN_SPECTRUM_V4.items():
        assert (film.LOOKS[kind].grain_fine, film.LOOKS[kind].coarse_grain) == (fine, coarse)
        assert 0.0 < fine < 1.0 and coarse > 0.0
    assert film.GRAIN_SPECTRUM_V4["v4"][1] > film.GRAIN_SPECTRUM_V4["v4_raw"][1]
    for kind in ("v2", "v3", "v3_raw"):
        assert (film.LOOKS[kind].grain_fine, film.LOOKS[kind].coarse_grain) == (1.0, 0.0)


# The hand's tilt off the film's vertical (the wrist box's centre to the middle finger's
# MCP box) on the 327 RSNA films of ../shared/realdata/rsna_ossification_roi_boxes
# (scripts/phantom_realism.py --tilt; docs/phantom.md, section 7.33), per bone-age band:
# the median size, its 90th percentile and the share over 15 degrees: reference data,
# not output of the code under test (test_the_tilt_reference_is_what_the_real_boxes_say
# reads it again where the boxes are at hand).
REAL_TILT = {(0, 36): (6.5, 25.2, 0.385), (36, 108): (3.8, 9.8, 0.059), (108, 228): (3.4, 7.9, 0.012),
             (0, 10_000): (3.6, 8.9, 0.037)}


@pytest.mark.parametrize("age", [0.0, 18.0, 26.0, 40.0, 80.0, 150.0, 228.0])
def test_v4_frame_tilt_draws_the_share_and_the_spread_written_out(age):
    """``frame_tilt_v4``: over 6000 draws the share of tilts over 15 degrees is the
    knots' share at this age (linear between them, flat beyond) plus the rest's normal
    tail past 15 degrees, within 4 binomial SDs; the tilts under 15 degrees have the
    written SD (truncated normal, within 5 %); none past 30 degrees; the tail's tilts fall
    inside its range, either way about as often; the same stream gives the same tilt."""
    from scipy import stats

    from boneage_fast.data import phantom

    t = phantom.FRAME_TILT_V4
    ages, shares = zip(*t["share"])
    share = float(np.interp(age, ages, shares))
    rng = np.random.default_rng(11)
    deg = np.degrees([phantom.frame_tilt_v4(age, rng) for _ in range(6000)])
    assert np.abs(deg).max() <= 30.0 + 1e-9
    core_out = 2.0 * stats.norm.sf(15.0 / t["sd"])
    want = share + (1.0 - share) * core_out
    got = float((np.abs(deg) > 15.0).mean())
    assert abs(got - want) <= 4.0 * math.sqrt(want * (1.0 - want) / deg.size) + 1e-3, (got, want)
    lo, hi = t["tail"]
    big = deg[np.abs(deg) > 15.0]
    if big.size > 50:
        assert (np.abs(big) <= hi + 1e-9).all() and abs(float((big > 0).mean()) - 0.5) < 0.15
    small = deg[np.abs(deg) < 15.0]
    a = 15.0 / t["sd"]
    truncated_sd = t["sd"] * math.sqrt(1.0 - 2.0 * a * stats.norm.pdf(a) / (2.0 * stats.norm.cdf(a) - 1.0))
    assert float(np.std(small)) == pytest.approx(truncated_sd, rel=0.05)
    assert abs(float(np.mean(small))) < 0.2
    assert phantom.frame_tilt_v4(age, np.random.default_rng([5, 6])) == phantom.frame_tilt_v4(
        age, np.random.default_rng([5, 6]))


def test_v4_frame_tilt_share_falls_with_age_as_written():
    """The rotated share is highest in the youngest hands and falls at every knot, the
    oldest knot's share held beyond it; the core is tighter than v1-v3's SD of 0.2 rad
    and the tail starts at the 15 degrees the films' figure counts from."""
    from boneage_fast.data import phantom

    ages, shares = zip(*phantom.FRAME_TILT_V4["share"])
    assert list(ages) == sorted(ages) and all(a > b for a, b in zip(shares, shares[1:]))
    assert phantom.FRAME_TILT_V4["sd"] < math.degrees(0.2)
    assert phantom.FRAME_TILT_V4["tail"][0] >= 15.0 and phantom.FRAME_TILT_V4["tail"][1] <= 30.0


@pytest.mark.parametrize("seed, age", [(3, 10.0), (17, 60.0), (29, 170.0)])
def test_v4_frame_tilt_comes_from_its_own_stream(seed, age, monkeypatch):
    """A nuisance v4 film turns by ``frame_tilt_v4`` drawn from the stream [seed, 6]; the
    main stream is drawn as before, so that with FRAME_TILT_V4 off the film is v3's angle
    and everything else drawn after the angle (the rater's reading, the pixel size) is the
    same with it on or off; a clean film stays upright."""
    from boneage_fast.data import phantom

    on = render(age, True, seed=seed, size=(320, 256), style="v4")
    want = phantom.frame_tilt_v4(age, np.random.default_rng([seed, 6]))
    assert on.extra["angle_deg"] == pytest.approx(math.degrees(want))
    assert render(age, True, seed=seed, size=(320, 256), style="v4", nuisance=False).extra["angle_deg"] == 0.0
    monkeypatch.setattr(phantom, "FRAME_TILT_V4", None)
    off = render(age, True, seed=seed, size=(320, 256), style="v4")
    v3 = render(age, True, seed=seed, size=(320, 256), style="v3")
    assert off.extra["angle_deg"] == v3.extra["angle_deg"] != on.extra["angle_deg"]
    assert (off.rater_boneage, off.pixel_spacing_mm) == (on.rater_boneage, on.pixel_spacing_mm)


def test_v4_hands_stand_as_upright_in_their_films_as_the_films():
    """Drawn as ``scripts/phantom_realism.py --tilt`` draws them (nuisance on, the RSNA age
    mix, half size), 400 v4 films' tilt: the median size within 0.6 degrees of the films'
    (``REAL_TILT``) and its 90th percentile within 1.5, over all and in the 36-108 and
    108-228 month bands; the share over 15 degrees within 2 binomial SDs of the films' in
    each band. With FRAME_TILT_V4 off the median was more than twice the films'."""
    from boneage_fast.data import phantom

    pr = load_script("phantom_realism")
    rows = pr.phantom_framing(400, 3, "v4", pr.tilt)
    assert len(rows) >= 380
    for (lo, hi), (median, p90, off) in REAL_TILT.items():
        got = [f["tilt"] for a, f in rows if lo <= a < hi]
        fig = pr.tilt_figures(got)
        if lo > 0 or hi == 10_000:
            assert abs(fig["median"] - median) <= 0.6 and abs(fig["p90"] - p90) <= 1.5, ((lo, hi), fig)
        assert abs(fig["off"] - off) <= 2.0 * math.sqrt(off * (1.0 - off) / len(got)) + 0.02, ((lo, hi), fig)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(phantom, "FRAME_TILT_V4", None)
        before = pr.tilt_figures([f["tilt"] for _, f in pr.phantom_framing(200, 3, "v4", pr.tilt)])
    assert before["median"] > 2.0 * REAL_TILT[(0, 10_000)][0]


@pytest.mark.skipif(not os.path.isdir(os.path.join(_REAL, "rsna_ossification_roi_boxes")),
                    reason="needs ../shared/realdata/rsna_ossification_roi_boxes")
def test_the_tilt_reference_is_what_the_real_boxes_say():
    """``REAL_TILT`` read again off the 327 films' ROI boxes (to the figure written)."""
    pr = load_script("phantom_realism")
    real = pr.real_framing(pr.tilt)
    assert len(real) == 327
    for (lo, hi), want in REAL_TILT.items():
        fig = pr.tilt_figures([f["tilt"] for a, f in real if lo <= a < hi])
        assert (round(fig["median"], 1), round(fig["p90"], 1), round(fig["off"], 3)) == want


# The width over the height of the 329 RSNA films of
# ../shared/realdata/rsna_ossification_roi_boxes (their annotations' sizes) at the 5th,
# 25th, 50th, 75th and 95th percentiles (scripts/phantom_realism.py --tilt;
# docs/phantom.md, section 7.33): reference data, not output of the code under test.
REAL_ASPECT = (0.621, 0.711, 0.778, 0.826, 1.0)


def test_v4_film_aspect_follows_the_films_quantiles():
    """``film_aspect_v4``: the knots' aspects at the knots' quantiles, linear between, rising;
    uniform quantiles give the films' (``REAL_ASPECT``) 5th-95th percentiles within 0.01
    (the 95th, where 2.4 % of the films are landscape and none is drawn, at 1.0), where
    v1-v3's uniform 0.7-1.0 misses the median by 0.07."""
    from boneage_fast.data import phantom

    qs, aspects = zip(*phantom.FILM_ASPECT_V4)
    assert qs[0] == 0.0 and qs[-1] == 1.0 and list(qs) == sorted(qs)
    assert all(b >= a for a, b in zip(aspects, aspects[1:]))
    for q, a in phantom.FILM_ASPECT_V4:
        assert phantom.film_aspect_v4(q) == pytest.approx(a)
    for (q0, a0), (q1, a1) in zip(phantom.FILM_ASPECT_V4, phantom.FILM_ASPECT_V4[1:]):
        assert phantom.film_aspect_v4((q0 + q1) / 2) == pytest.approx((a0 + a1) / 2)
    u = np.random.default_rng(4).random(20_000)
    got = np.percentile([phantom.film_aspect_v4(float(x)) for x in u], (5, 25, 50, 75, 95))
    assert np.abs(got - np.array(REAL_ASPECT)).max() <= 0.01, got
    assert abs(np.median(0.7 + 0.3 * u) - REAL_ASPECT[2]) > 0.06


@pytest.mark.parametrize("seed", [1, 22, 333])
def test_v4_drawn_film_size_takes_the_films_aspect_from_the_same_draw(seed, monkeypatch):
    """A drawn-size v4 film's width is its height times ``film_aspect_v4`` of the v1-v3
    draw (uniform 0.7-1.0) taken as a quantile, written out from the film's stream; its
    height is v3's; with FILM_ASPECT_V4 off its size is v3's, and the rest of the stream
    (the rater's reading) is the same either way; a given size is kept."""
    from boneage_fast.data import phantom

    rng = np.random.default_rng(seed)
    H = int(rng.integers(800, 2601))
    W = int(H * phantom.film_aspect_v4((rng.uniform(0.7, 1.0) - 0.7) / 0.3))
    assert phantom.drawn_film_size(np.random.default_rng(seed), "v4") == (H, W)
    on = render(100.0, False, seed=seed, size_scale=0.5, style="v4")
    v3 = render(100.0, False, seed=seed, size_scale=0.5, style="v3")
    assert on.image.shape == (max(round(H * 0.5), 256), max(round(W * 0.5), 256))
    assert on.image.shape[0] == v3.image.shape[0]
    assert render(100.0, False, seed=seed, size=(300, 280), style="v4").image.shape == (300, 280)
    monkeypatch.setattr(phantom, "FILM_ASPECT_V4", None)
    off = render(100.0, False, seed=seed, size_scale=0.5, style="v4")
    assert off.image.shape == v3.image.shape
    assert off.rater_boneage == on.rater_boneage


def test_phantom_aspects_replays_the_rendered_sizes():
    """scripts/phantom_realism.py's phantom_aspects (sizes drawn from each film's seed,
    nothing rendered) against the films render draws, v3 and v4."""
    pr = load_script("phantom_realism")
    for style in ("v3", "v4"):
        got = pr.phantom_aspects(3, 9, style)
        for i in range(3):
            s = render(60.0, True, seed=9 * 100_000 + i, style=style)
            assert got[i] == s.image.shape[1] / s.image.shape[0]


@pytest.mark.skipif(not os.path.isdir(os.path.join(_REAL, "rsna_ossification_roi_boxes")),
                    reason="needs ../shared/realdata/rsna_ossification_roi_boxes")
def test_the_aspect_reference_is_what_the_real_annotations_say():
    """``REAL_ASPECT`` read again off the 329 films' annotation sizes."""
    pr = load_script("phantom_realism")
    a = pr.real_aspects()
    assert len(a) == 329
    assert tuple(np.round(np.percentile(a, (5, 25, 50, 75, 95)), 3)) == REAL_ASPECT


# ---------------------------------------------------------------- section 7.34
@pytest.mark.parametrize("age", [0.0, 50.0, 96.0, 105.0, 120.0, 132.0, 200.0])
def test_v4_phalanx_width_rule_by_its_formula(age, monkeypatch):
    """The phalanges: 1.4 until 96 months of bone age, linearly to 1.3 at 132, then 1.3;
    the fingers' soft tissue the same to 1.2; without the young rule 1.3 and 1.2 at every
    age; without the grown factors the young rule's ramp to 1."""
    for got, grown in ((anatomy.phalanx_width_v4, 1.3), (anatomy.finger_tissue_v4, 1.2)):
        want = 1.4 if age <= 96 else grown if age >= 132 else 1.4 - (1.4 - grown) * (age - 96.0) / 36.0
        assert got(age) == pytest.approx(want, abs=1e-12)
    monkeypatch.setattr(anatomy, "PHALANX_GROWN_V4", None)
    assert anatomy.phalanx_width_v4(age) == pytest.approx(anatomy.young_fingers_v4(age), abs=1e-12)
    assert anatomy.finger_tissue_v4(age) == pytest.approx(anatomy.young_fingers_v4(age), abs=1e-12)
    monkeypatch.undo()
    monkeypatch.setattr(anatomy, "YOUNG_FINGERS_V4", None)
    assert (anatomy.phalanx_width_v4(age), anatomy.finger_tissue_v4(age)) == (1.3, 1.2)


@pytest.mark.parametrize("age, male", [(70, True), (120, False), (150, True), (200, False)])
def test_v4_grown_phalanges_drawn_wider_on_the_same_layout(age, male, monkeypatch):
    """With PHALANX_GROWN_V4 the phalanges (all 14, shaft and ends) are drawn
    phalanx_width_v4 / young_fingers_v4 times as wide, their epiphyses as much wider, the
    five fingers' soft-tissue capsules finger_tissue_v4 / young_fingers_v4 times as wide
    at both ends; the metacarpals, the carpals, the palm's capsules and the joints stay."""
    k = anatomy.phalanx_width_v4(float(age)) / anatomy.young_fingers_v4(float(age))
    kt = anatomy.finger_tissue_v4(float(age)) / anatomy.young_fingers_v4(float(age))
    on, off = _with_and_without(age, male, "PHALANX_GROWN_V4", monkeypatch)
    assert (k > 1.0) == (age > 96)  # the young rule's 1.4 until 96 months
    _assert_fingers_scaled(on, off, k, kt)


@pytest.mark.parametrize("age", [0.0, 48.0, 60.0, 82.0, 150.0])
def test_v4_mcp_joint_rule_by_its_formula(age, monkeypatch):
    """1 until 48 months of bone age, linearly to 0.4 at 82, then 0.4; 1 when off."""
    want = 1.0 if age <= 48 else 0.4 if age >= 82 else 1.0 - 0.6 * (age - 48.0) / 34.0
    assert anatomy.mcp_joint_v4(age) == pytest.approx(want, abs=1e-12)
    monkeypatch.setattr(anatomy, "MCP_JOINT_V4", None)
    assert anatomy.mcp_joint_v4(age) == 1.0


@pytest.mark.parametrize("age, male", [(30, False), (70, True), (150, False), (200, True)])
def test_v4_mcp_joint_space_by_its_rule(age, male, monkeypatch):
    """With MCP_JOINT_V4 each ray's phalanges (and their epiphyses) sit (1 - the rule's
    factor) of version 3's 2.4 mm (times the hand's size scale) nearer their metacarpal,
    all moved by one vector per ray (none at 30 months); the PIP and DIP spaces, the
    metacarpals, the carpals and the forearm stay."""
    on, off = _with_and_without(age, male, "MCP_JOINT_V4", monkeypatch)
    shorter = (1.0 - anatomy.mcp_joint_v4(float(age))) * 2.4 * on.subject.size_scale
    b_off = {b.name: b for b in off.bones}
    for ray in range(1, 6):
        names = [f"proximal{ray}", f"middle{ray}", f"distal{ray}"] if ray > 1 else ["proximal1", "distal1"]
        moved = b_off[names[0]].p0 - {b.name: b for b in on.bones}[names[0]].p0
        assert np.hypot(*moved) == pytest.approx(shorter, rel=1e-9, abs=1e-12)
        mc = b_off[f"metacarpal{ray}"]
        along = moved @ (mc.p1 - mc.p0) / np.hypot(*(mc.p1 - mc.p0))
        assert along >= 0.9 * shorter  # towards the metacarpal, about along it
        for name in names:
            b = next(x for x in on.bones if x.name == name)
            assert np.allclose(b_off[name].p0 - b.p0, moved, atol=1e-9)
            assert np.allclose(b_off[name].p1 - b.p1, moved, atol=1e-9)
    for b in on.bones:
        if not b.name.startswith(("proximal", "middle", "distal")):
            assert np.array_equal(b.p0, b_off[b.name].p0) and np.array_equal(b.p1, b_off[b.name].p1), b.name
    # the thumb's sesamoid sits at its MCP joint, so it moves with it
    carpals = {e.name: e for e in off.ossicles if not e.name.startswith("epi_") and e.name != "sesamoid"}
    for e in on.ossicles:
        if e.name in carpals:
            assert np.array_equal(e.centre, carpals[e.name].centre), e.name


@pytest.mark.skipif(not os.path.isdir(os.path.join(_REAL, "rsna_preprocessed_train40")),
                    reason="needs ../shared/realdata")
def test_v4_finger_joints_and_phalanges_as_the_films(monkeypatch):
    """Section 7.34, on the 7 registered films of 82-180 months: v4's PIP and MCP joint
    spaces within 0.3 hundredths of metacarpal 3's length of the films' medians (2.1, 2.2;
    width at half depth), its proximal phalanx 3 within 1.0 of theirs (17.0) and the
    middle finger within 2.0 (32.9); without PHALANX_GROWN_V4 the phalanx 3 or more short
    and the finger 4 or more. (Without MCP_JOINT_V4 the MCP space read
    1.6 wide and 0.065 deep over 4 phantoms a film, 2.45 and 0.125 over 2: a wide, faint
    band whose reading swings with the draw, so it is not asserted.)"""
    rr = load_script("phantom_realism_real")
    got = rr.joints(["v4"], seeds=2)
    assert len(got["films"]) == 7
    real = {k: got[f"median_real_{k}"] for k in ("pip_width", "mcp_width", "mcp_depth", "pp3")}
    assert 1.5 < real["pip_width"] < 3 and 1.5 < real["mcp_width"] < 3 and 14 < real["pp3"] < 20
    assert abs(got["median_v4_pip_width"] - real["pip_width"]) <= 0.3
    assert abs(got["median_v4_mcp_width"] - real["mcp_width"]) <= 0.3
    assert abs(got["median_v4_pp3"] - real["pp3"]) <= 1.0
    assert abs(got["median_v4_finger"] - got["median_real_finger"]) <= 2.0
    monkeypatch.setattr(anatomy, "PHALANX_GROWN_V4", None)
    off = rr.joints(["v4"], seeds=2)
    assert real["pp3"] - off["median_v4_pp3"] >= 3.0 and got["median_real_finger"] - off["median_v4_finger"] >= 4.0
