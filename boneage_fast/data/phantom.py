"""A synthetic left-hand PA radiograph for a given bone age, sex and seed.

The anatomy (:mod:`boneage_fast.data.anatomy`) is rendered as a projection: soft tissue
and bone thicknesses along the beam, attenuated (bones with bright cortical rims over a
darker medulla), then the acquisition: hand scale, position and rotation (up to +-30
degrees), image size, background level and gradient, collimation borders, a lead "L"
marker, burned-in text, exposure and gamma, blur and noise, 8- or 16-bit output.

Labels: the true bone age, a rater's reading (true + N(0, RATER_SD_MONTHS), rounded to
whole months, as one radiologist reads the atlas), the chronological age, the sex, the
hand box and Koitka et al. (2018)-style ossification ROI boxes (DIP, PIP, MCP, Radius,
Ulna, Wrist), all in output pixel coordinates (x0, y0, x1, y1), x to the right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from boneage_fast.data import film
from boneage_fast.data.anatomy import (MAX_BONE_AGE, Ellipse, Hand, LongBone, build_hand, sample_posture,
                                       sample_subject, sample_v4_traits, smoothstep)

__all__ = ["PhantomSample", "render", "RATER_SD_MONTHS", "ROI_CLASSES", "STYLES", "DEFAULT_STYLE"]

#: Phantom generations: v1 (capsule bones drawn small and scaled up; the first shipped
#: model's training data), v2 (shaped anatomy and film.py) and v3 (v2 with the finger
#: posture, bone widths and grey levels fitted to real hands and films, tapered carpals,
#: cortical rims and end plates; docs/phantom.md; the default and the shipped model's
#: training data).
STYLES = ("v1", "v2", "v3", "v4")
DEFAULT_STYLE = "v3"
#: v4's framing: the hand's share of the film's height (fingertips to 50 mm below the
#: radius) is v3's draw plus this, its fingertips at least FRAME_TOP_V4 of the height
#: below the top edge (docs/phantom.md section 7.2; None: no such margin)
FRAME_FILL_V4 = 0.12
FRAME_TOP_V4: float | None = 0.03
#: v4's framing: how far below the distal radius the framed span reaches (mm at adult
#: scale), drawn per film from a stream of its own; v1-v3 (and v4 until 2026-12-01) 50 mm.
#: The real films' hand boxes (fingertips to the forearm at the film's edge) are a
#: median 1.5 times as tall as wide (rsna_raw7 1.53, registered 1.50, raw_unlabeled10
#: 1.53), v4's at 50 mm 1.44, at this draw 1.56 (``phantom_realism_real.py --parts
#: tones``; docs/phantom.md, section 7.6)
FOREARM_MM_V4: tuple[float, float] | None = (50.0, 110.0)
#: ... and young hands framed with more forearm: ``FOREARM_YOUNG_V4[0]`` mm (adult scale)
#: more below the distal radius at bone age 0, fading smoothly to none at
#: ``FOREARM_YOUNG_V4[1]`` months (None: none). On the 329 RSNA films of
#: ../shared/realdata/rsna_ossification_roi_boxes the film is 4.37 times the wrist-to-MCP
#: distance tall under 5 years of bone age (median; 4.06, 4.03 and 3.91 in the older
#: bands), v4 drew 3.91 (3.72, 3.78, 3.69): its young hands filled the model's crop more
#: than the films' (docs/phantom.md, section 7.17); with this 4.32 (3.87, 3.78, 3.69)
#: (``scripts/phantom_realism.py --framing``)
FOREARM_YOUNG_V4: tuple[float, float] | None = (60.0, 120.0)
#: ... of which this share is framed above the fingertips instead of below the radius
#: (None or 0: all below). The young films' hands stand lower in their films than v4's
#: did with all of it below: on the same 329 films the film above the highest ROI box
#: centre is 0.88 wrist-to-MCP distances under 5 years of bone age and the film below the
#: lowest 1.13 (median), v4's 0.63 and 1.46: its young crops (fingertips to the film's
#: lower edge) carried more forearm than the films' (docs/phantom.md section 7.19)
YOUNG_ABOVE_V4: float | None = 0.55
#: v4's films as narrow as the real films (drawn sizes only): the width over the height
#: at each quantile (``(quantile, aspect)`` knots, linear between), from the same draw
#: that gives v1-v3 their aspect, uniform over 0.7-1.0 (median 0.85); None: that draw.
#: On the 329 RSNA films of ../shared/realdata/rsna_ossification_roi_boxes (their
#: annotations' sizes) the median is 0.778 (2.5-97.5 %: 0.60-1.0; 2.4 % landscape, not
#: drawn); v4's squarer films left its hand box 0.71 of the film's width against the
#: films' 0.80 (``phantom_realism_real.py --parts tones``; docs/phantom.md section 7.33)
FILM_ASPECT_V4: tuple | None = ((0.0, 0.6), (0.05, 0.621), (0.1, 0.654), (0.25, 0.711), (0.5, 0.778), (0.75, 0.826),
                                (0.9, 0.895), (0.95, 1.0), (1.0, 1.0))
#: v4's hand in its film as upright as the real films': the frame's rotation (degrees)
#: drawn per film from a stream of its own, normal with SD ``"sd"`` or, with a share that
#: falls with bone age (``"share"``: (months, share) knots, linear between, flat beyond),
#: of a magnitude uniform over ``"tail"`` either way; None: v1-v3's draw, normal with SD
#: 0.2 rad (11.5 degrees), clipped at 30. On the 327 RSNA films of
#: ../shared/realdata/rsna_ossification_roi_boxes the line from the wrist box's centre to
#: the middle finger's MCP box stands a median 3.6 degrees off the film's vertical (p90
#: 8.9; 4.1 under 8 years of bone age, 3.5 over), and more than 15 degrees off stand 4 of
#: the 7 films of 18 months and under, 1 of the 6 of 24-35 months, 5 % of those of 3-9 years
#: and 1.2 % of the older ones; v4 drew a median 8.9 (p90 20.2) and 18 % over 15 degrees
#: at every age (``scripts/phantom_realism.py --tilt``; docs/phantom.md section 7.33)
FRAME_TILT_V4: dict | None = {"sd": 5.0, "tail": (15.0, 28.0),
                               "share": ((18.0, 0.6), (34.0, 0.17), (48.0, 0.05), (108.0, 0.015))}

#: SD of the simulated rater's reading around the true bone age (months). Reported
#: inter-reader variability of Greulich-Pyle readings is roughly half a year.
RATER_SD_MONTHS = 6.5
ROI_CLASSES = ("DIP", "PIP", "MCP", "Radius", "Ulna", "Wrist")

_MU_SOFT = 0.03  # 1/mm
_MU_BONE = 0.085  # 1/mm
_MAX_INTERNAL = 640  # long side of the internal rendering canvas (pixels)


@dataclass
class PhantomSample:
    """One rendered phantom: the image, its labels and its boxes."""

    image: np.ndarray  # 2-D uint16 or uint8, bright = dense
    boneage: float  # true bone age, months
    rater_boneage: float  # rater reading, whole months
    chronological_age: float  # months
    male: bool
    hand_box: tuple[float, float, float, float]
    roi_boxes: list[tuple[str, float, float, float, float]]
    pixel_spacing_mm: float
    hard_case: bool
    seed: int
    extra: dict[str, Any] = field(default_factory=dict)
    hand: Hand | None = None
    frame: Any = None  # hand-frame millimetres -> output pixels

    def to_pixels(self, points_mm: np.ndarray) -> np.ndarray:
        """Hand-frame points (mm, N x 2) to output pixel coordinates (x, y)."""
        return self.frame(np.asarray(points_mm, dtype=np.float64))

    def labels(self) -> dict[str, Any]:
        return {
            "boneage": round(self.boneage, 2),
            "male": int(self.male),
            "rater_boneage": self.rater_boneage,
            "chronological_age": round(self.chronological_age, 2),
            "hard_case": int(self.hard_case),
            "pixel_spacing_mm": round(self.pixel_spacing_mm, 5),
            "height": int(self.image.shape[0]),
            "width": int(self.image.shape[1]),
            "seed": self.seed,
        }


class _Frame:
    """mm (hand frame, y up) -> pixels (image, y down) on a canvas of a given scale."""

    def __init__(self, centre_mm: np.ndarray, centre_px: np.ndarray, px_per_mm: float, angle: float) -> None:
        c, s = math.cos(angle), math.sin(angle)
        flip = np.array([[1.0, 0.0], [0.0, -1.0]])
        self.m = px_per_mm * np.array([[c, -s], [s, c]]) @ flip
        self.centre_mm = centre_mm
        self.centre_px = centre_px
        self.scale = px_per_mm

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return (np.asarray(p, dtype=np.float64) - self.centre_mm) @ self.m.T + self.centre_px

    def scaled(self, k: float) -> _Frame:
        f = _Frame.__new__(_Frame)
        f.m, f.centre_mm, f.centre_px, f.scale = self.m * k, self.centre_mm, self.centre_px * k, self.scale * k
        return f


def _draw_long_bone(acc: np.ndarray, b: LongBone, T: _Frame, medulla: float) -> None:
    geo = film.bone_coords(acc.shape, b, T)
    if geo is None:
        return
    sl, u, v, L, hw = geo
    uc = np.clip(u, 0.0, 1.0)
    h = hw * (1.0 + b.flare0 * np.exp(-uc / 0.1) + b.flare1 * np.exp(-(1.0 - uc) / 0.1))
    e = np.maximum(np.maximum(-u, u - 1.0), 0.0) * np.float32(L)
    h = h * np.sqrt(np.clip(1.0 - (e / np.float32(0.8 * hw)) ** 2, 0.0, 1.0))
    cortex = np.float32(max(0.28 * hw, 0.6))
    outer = np.sqrt(np.clip(h * h - v * v, 0.0, None))
    hi = np.maximum(h - cortex, 0.0)
    inner = np.sqrt(np.clip(hi * hi - v * v, 0.0, None))
    acc[sl] += (2.0 * (outer - inner) + 2.0 * medulla * inner) / np.float32(T.scale)


def _draw_ellipse(acc: np.ndarray, e: Ellipse, T: _Frame, medulla: float) -> None:
    c = T(e.centre)
    a, b = e.axes * T.scale
    if a < 0.3 or b < 0.3:
        return
    r = max(a, b) + 2.0
    win = film.window(acc.shape, c - r, c + r)
    if win is None:
        return
    sl, xs, ys = win
    # The frame flips y, so a tilt in the hand frame is the opposite tilt in the image.
    frame_angle = math.atan2(T.m[1, 0], T.m[0, 0])
    ang = frame_angle - e.angle
    ca, sa = np.float32(math.cos(ang)), np.float32(math.sin(ang))
    dx, dy = xs - np.float32(c[0]), ys - np.float32(c[1])
    xr = (dx * ca + dy * sa) / np.float32(a)
    yr = (-dx * sa + dy * ca) / np.float32(b)
    rho2 = xr * xr + yr * yr
    depth = np.float32(min(a, b) / T.scale)
    shell = np.float32(max(1.0 - 0.9 / max(min(a, b), 1e-3), 0.2))
    outer = np.sqrt(np.clip(1.0 - rho2, 0.0, None))
    inner = np.sqrt(np.clip(1.0 - rho2 / (shell * shell), 0.0, None)) * shell
    acc[sl] += np.float32(e.density) * depth * (2.0 * (outer - inner) + 2.0 * medulla * inner)


def _smooth_noise(rng: np.random.Generator, shape, sigma_px: float) -> np.ndarray:
    """Unit-variance noise correlated over about sigma_px (coarse noise, scaled up)."""
    h, w = shape
    f = max(sigma_px, 1.0)
    coarse = rng.standard_normal((max(int(h / f), 2), max(int(w / f), 2)), dtype=np.float32)
    n = np.asarray(Image.fromarray(coarse, mode="F").resize((w, h), Image.BILINEAR), dtype=np.float32)
    return n / max(float(n.std()), 1e-6)


def _box_of(points: np.ndarray, shape) -> tuple[float, float, float, float]:
    h, w = shape
    x0, y0 = np.clip(points.min(axis=0), 0, [w - 1, h - 1])
    x1, y1 = np.clip(points.max(axis=0), 0, [w - 1, h - 1])
    return float(x0), float(y0), float(x1), float(y1)


def film_aspect_v4(quantile: float) -> float:
    """Version 4's film width over height at this quantile (0-1) of the films' aspects
    (:data:`FILM_ASPECT_V4`'s knots, linear between)."""
    qs, aspects = zip(*FILM_ASPECT_V4)
    return float(np.interp(quantile, qs, aspects))


def drawn_film_size(rng: np.random.Generator, style: str) -> tuple[int, int]:
    """A film's (height, width) in pixels drawn from ``rng`` as :func:`render` draws a
    size (its first two draws): the height uniform over 800-2600, the width that times an
    aspect uniform over 0.7-1.0, for v4 that draw taken as a quantile of the films'
    aspects (:func:`film_aspect_v4`)."""
    H = int(rng.integers(800, 2601))
    aspect = rng.uniform(0.7, 1.0)
    if style == "v4" and FILM_ASPECT_V4 is not None:  # the same draw, through the films' quantiles
        aspect = film_aspect_v4((aspect - 0.7) / 0.3)
    return H, int(H * aspect)


def frame_tilt_v4(bone_age: float, rng: np.random.Generator) -> float:
    """Version 4's rotation of the hand in its film (radians) at this bone age (months),
    drawn from ``rng`` as :data:`FRAME_TILT_V4` says: a share of the films (falling with
    age) rotated by a magnitude uniform over its ``"tail"`` either way, the rest normal
    with its ``"sd"``; at most 30 degrees either way. Three draws, whichever is used."""
    t = FRAME_TILT_V4
    ages, shares = zip(*t["share"])
    u, z, tail = rng.random(), rng.standard_normal(), rng.uniform(*t["tail"])
    if u < float(np.interp(bone_age, ages, shares)):
        degrees = math.copysign(tail, z)
    else:
        degrees = t["sd"] * z
    return math.radians(float(np.clip(degrees, -30.0, 30.0)))


def render(
    bone_age: float,
    male: bool,
    seed: int,
    size: tuple[int, int] | None = None,
    size_scale: float = 1.0,
    bits: int = 16,
    hard_fraction: float = 0.03,
    nuisance: bool = True,
    style: str = DEFAULT_STYLE,
) -> PhantomSample:
    """Render one phantom.

    Args:
        bone_age: true bone age in months, 0..228.
        male: sex (True = male).
        seed: everything random (subject traits, pose, acquisition, noise) follows it.
        size_scale: with ``size=None``, scales the drawn size (0.5: 400-1300 px tall),
            for faster sets with the same variety of sizes and aspects.
        size: (height, width) in pixels, each 256..4096; ``None`` draws a size like the
            real images (height 800-2600, aspect 0.7-1.0; v4's aspect the real
            films', 0.6-1.0, median 0.78: ``FILM_ASPECT_V4``).
        bits: 16 (uint16) or 8 (uint8) output.
        hard_fraction: probability that the subject's size disagrees with its maturity.
        nuisance: add acquisition nuisance (rotation, borders, markers, text, gradient,
            gamma, noise); False gives a clean, upright, centred hand.
        style: ``"v2"`` (shaped bones, packed carpals, capping epiphyses, a smooth
            soft-tissue silhouette, drawn at the output resolution:
            :mod:`boneage_fast.data.film`), ``"v3"`` (the default and the shipped
            model's training data: v2 with a finger posture, bone
            widths and grey levels fitted to real hands and films, tapered carpals with
            cortical rims, dense end plates, thin physes; its posture comes from a
            stream of its own), ``"v4"`` (v3 with mature carpals that fill the wrist, cut
            apart along flat facets with even joint spaces and rounded corners, radial
            and ulnar styloids, physes that close as they fuse, a soft trabecular
            network in the bone, slender
            tapering fingers, a palm narrowing into the webs and the wrist, a rounder
            soft-tissue section, brighter thick soft tissue, a hand that fills more of the film,
            soft-tissue fullness and carpal density drawn per subject from a stream of
            their own, a forearm as wide and round as the films', the films' grain and
            blur, processed films edge-enhanced and windowed under a smooth
            shoulder so that little of them is white, and hands as upright in their
            films as the films' (young ones turned more often) on films as narrow; not
            the shipped model's data: docs/phantom.md section 7) or
            ``"v1"`` (capsule bones drawn at <= 640 px and scaled up). v1 and v2 are
            kept pixel for pixel for the experiments run on them, v3 up to float
            rounding (the shipped model's training data). The same seed gives the same
            subject, pose and size in all four, and v4 v3's posture.

    Raises:
        ValueError: bone age out of range, bad size or bits.
    """
    if not (isinstance(bone_age, (int, float, np.floating, np.integer)) and 0 <= float(bone_age) <= MAX_BONE_AGE):
        raise ValueError(f"bone_age must be a number of months in [0, {MAX_BONE_AGE:g}], got {bone_age!r}")
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits!r}")
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    rng = np.random.default_rng(seed)
    if size is None:
        H, W = drawn_film_size(rng, style)
        if size_scale != 1.0:
            H, W = max(int(round(H * size_scale)), 256), max(int(round(W * size_scale)), 256)
    else:
        H, W = (int(v) for v in size)
    if not (256 <= H <= 4096 and 256 <= W <= 4096):
        raise ValueError(f"size must be (height, width) with each side in [256, 4096], got {size!r}")

    subject = sample_subject(float(bone_age), bool(male), rng, hard_fraction)
    look = film.LOOKS.get(style)
    posed = style in ("v3", "v4")  # version 3's posture, looks and rounded outline
    if posed:
        # from a stream of its own, so that the subject, pose and size stay v2's (and v4
        # keeps v3's posture and looks seed for seed)
        own = np.random.default_rng([abs(int(seed)), 3])
        subject = sample_posture(subject, own)
        if nuisance and own.random() < film.RAW_FRACTION:
            look = film.LOOKS[f"{style}_raw"]  # an unprocessed film
        if style == "v4":  # soft-tissue fullness and carpal density, from a stream of their own
            subject = sample_v4_traits(subject, np.random.default_rng([abs(int(seed)), 4]))
    hand = build_hand(subject, version=int(style[1]))
    outline = hand.outline_points(round_ends=posed)
    top = outline[:, 1].max()
    # From the fingertips down to 50 mm (adult scale) below the distal radius (v4 with
    # nuisance: FOREARM_MM_V4's draw).
    below = 50.0
    above = 0.0  # film kept free above the fingertips (v4 with nuisance, young hands)
    if style == "v4" and nuisance and FOREARM_MM_V4 is not None:  # v4: more forearm, drawn per film
        below = float(np.random.default_rng([abs(int(seed)), 5]).uniform(*FOREARM_MM_V4))
        if FOREARM_YOUNG_V4 is not None:
            extra, until = FOREARM_YOUNG_V4
            young = extra * (1.0 - smoothstep(float(bone_age) / until))
            above = young * (YOUNG_ABOVE_V4 or 0.0)
            below += young - above
    below += hand.wrist_drop  # v4: from its distal radius, where a young wrist is longer
    top_mm = top + above * subject.size_scale  # the framed span's upper end
    span_mm = top_mm + below * subject.size_scale

    # Pose: the hand from the fingertips down to the distal forearm fills 55-85 % of the height.
    fill = rng.uniform(0.65, 0.95) if nuisance else 0.8
    framed = style == "v4" and nuisance
    if framed:
        # v4: the hand fills more of the film, from the same draw, as on the real films
        # (their fingertips about 5 % of the height below the top edge, the hand 0.8 of
        # the width; v3's 14 % and 0.65)
        fill += FRAME_FILL_V4
    px_per_mm = fill * H / span_mm
    angle = float(np.clip(rng.normal(0.0, 0.2), -math.radians(30), math.radians(30))) if nuisance else 0.0
    if style == "v4" and nuisance and FRAME_TILT_V4 is not None:  # the draw above kept: the stream stays v3's
        angle = frame_tilt_v4(float(bone_age), np.random.default_rng([abs(int(seed)), 6]))
    centre_mm = np.array([0.0, top_mm - 0.5 * span_mm])
    jitter = np.array([rng.uniform(-0.08, 0.08) * W, rng.uniform(-0.05, 0.08) * H]) if nuisance else np.zeros(2)
    if framed and FRAME_TOP_V4 is not None:  # ... its fingertips kept inside the film
        jitter[1] = max(jitter[1], (FRAME_TOP_V4 - 0.5 + 0.5 * fill) * H)
    centre_px = np.array([W / 2.0, H / 2.0]) + jitter
    frame = _Frame(centre_mm, centre_px, px_per_mm, angle)

    if style != "v1":
        img = film.radiograph(hand, frame, (H, W), rng, angle, nuisance, look)
        if nuisance:
            _burn_in(img, rng, frame(outline))
            _collimate(img, rng, np.arange(W, dtype=np.float32)[None, :], np.arange(H, dtype=np.float32)[:, None])
        out = film.read_out(img, rng, nuisance, bits, look)
    else:
        out = _expose_v1(hand, frame, (H, W), rng, nuisance, bits, outline)

    # Boxes in output pixels.
    pts = frame(outline)
    hand_box = _box_of(pts, (H, W))
    rois = []
    for cls in ROI_CLASSES:
        for c, half in hand.joints[cls]:
            corners = np.array([c + np.array([dx, dy]) * half for dx in (-1, 1) for dy in (-1, 1)])
            x0, y0, x1, y1 = _box_of(frame(corners), (H, W))
            if x1 > x0 and y1 > y0:
                rois.append((cls, x0, y0, x1, y1))
    rater = float(np.clip(np.round(bone_age + rng.normal(0.0, RATER_SD_MONTHS)), 0, MAX_BONE_AGE))
    return PhantomSample(
        image=out,
        boneage=float(bone_age),
        rater_boneage=rater,
        chronological_age=subject.chronological_age,
        male=bool(male),
        hand_box=hand_box,
        roi_boxes=rois,
        pixel_spacing_mm=1.0 / px_per_mm,
        hard_case=subject.hard_case,
        seed=int(seed),
        extra={"angle_deg": math.degrees(angle), "carpals": list(hand.carpals_present), "style": style,
               "unprocessed": look is not None and look is film.LOOKS.get(f"{style}_raw")},
        hand=hand,
        frame=frame,
    )


def _expose_v1(hand: Hand, frame: _Frame, shape: tuple[int, int], rng: np.random.Generator, nuisance: bool,
               bits: int, outline: np.ndarray) -> np.ndarray:
    """The v1 film: anatomy drawn on a <= 640 px canvas and scaled up (kept pixel for
    pixel for the v1 experiments of docs/results.md; the random draws are in v1's order)."""
    H, W = shape
    # Internal canvas: anatomy is rendered at <= _MAX_INTERNAL px and resized.
    k = min(1.0, _MAX_INTERNAL / max(H, W))
    h_int, w_int = max(int(round(H * k)), 8), max(int(round(W * k)), 8)
    Ti = frame.scaled(k)
    bone = np.zeros((h_int, w_int), np.float32)
    # Soft tissue is smooth: render it at half the resolution as a soft union of the
    # capsules ((sum t^4)^(1/4): webs between fingers, one palm, sharp skin edges).
    ks = 0.5
    Ts = Ti.scaled(ks)
    soft_lo = np.zeros((max(int(h_int * ks), 4), max(int(w_int * ks), 4)), np.float32)
    for p0, p1, r, _ in hand.tissue:  # v1's capsules have one radius
        film.tissue_t4(soft_lo, p0, p1, r, Ts)
    soft_lo = np.sqrt(np.sqrt(soft_lo))
    soft = np.asarray(Image.fromarray(soft_lo, mode="F").resize((w_int, h_int), Image.BILINEAR), dtype=np.float32)
    medulla = 0.42
    for b in hand.bones:
        _draw_long_bone(bone, b, Ti, medulla)
    for e in hand.ossicles:
        _draw_ellipse(bone, e, Ti, medulla)
    # Trabecular texture: bone density varies on a ~1 mm scale.
    texture = _smooth_noise(rng, bone.shape, max(0.6 * Ti.scale, 0.7))
    bone *= 1.0 + 0.12 * texture
    atten = 1.0 - np.exp(-(_MU_SOFT * soft + _MU_BONE * bone))

    # Acquisition: exposure, gradient, gamma, background level -- all smooth, so applied
    # on the internal canvas before it is scaled up.
    bg = (rng.uniform(0.02, 0.12) if rng.random() < 0.8 else rng.uniform(0.2, 0.45)) if nuisance else 0.05
    gain = rng.uniform(0.75, 1.0) if nuisance else 0.9
    small = bg + gain * atten
    if nuisance:
        g = rng.normal(0, 0.04, size=2).astype(np.float32)
        small += g[0] * (np.arange(w_int, dtype=np.float32)[None, :] / w_int - 0.5)
        small += g[1] * (np.arange(h_int, dtype=np.float32)[:, None] / h_int - 0.5)
        small = np.clip(small, 0, None) ** np.float32(rng.uniform(0.8, 1.25))
    img = np.array(Image.fromarray(small.astype(np.float32), mode="F").resize((W, H), Image.BICUBIC), dtype=np.float32)
    if nuisance:
        _burn_in(img, rng, frame(outline))
        _collimate(img, rng, np.arange(W, dtype=np.float32)[None, :], np.arange(H, dtype=np.float32)[:, None])
    noise_sd = rng.uniform(0.006, 0.02) if nuisance else 0.008
    img += noise_sd * np.sqrt(np.clip(img, 0.01, None)) * rng.standard_normal((H, W), dtype=np.float32)
    img = np.clip(img, 0.0, 1.0)
    peak = 65535 if bits == 16 else 255
    return np.round(img * peak).astype(np.uint16 if bits == 16 else np.uint8)


_FONT_CACHE: dict[int, Any] = {}


def _font(size: int):
    if size not in _FONT_CACHE:
        _FONT_CACHE[size] = ImageFont.load_default(size=size)
    return _FONT_CACHE[size]


def _draw_band(img: np.ndarray, top: float, bottom: float, draw_fn) -> None:
    """Run ``draw_fn(ImageDraw, dy)`` on the rows top..bottom of ``img`` only (converting
    the whole film to a Pillow image and back costs more than the drawing); ``dy`` is the
    integer row offset to subtract from y coordinates, so the pixels are the same as
    drawing on the whole film."""
    H = img.shape[0]
    r0, r1 = max(int(math.floor(top)) - 2, 0), min(int(math.ceil(bottom)) + 3, H)
    if r1 <= r0:
        return
    canvas = Image.fromarray(img[r0:r1], mode="F")
    draw_fn(ImageDraw.Draw(canvas), r0)
    img[r0:r1] = np.asarray(canvas, dtype=np.float32)


def _burn_in(img: np.ndarray, rng: np.random.Generator, hand_pts: np.ndarray) -> None:
    """A lead 'L' marker in a dark box and a line of burned-in text, away from the hand."""
    H, W = img.shape
    hx0, hy0, hx1, hy1 = _box_of(hand_pts, (H, W))
    size = int(H * rng.uniform(0.05, 0.09))
    # the side with more room
    left_room, right_room = hx0, W - hx1
    x = rng.uniform(0.02 * W, max(0.02 * W + 1, left_room - 1.2 * size)) if left_room > right_room else \
        rng.uniform(hx1 + 0.2 * size, max(hx1 + 0.2 * size + 1, W - 1.3 * size))
    y = rng.uniform(0.45 * H, 0.8 * H)
    if rng.random() < 0.8:
        def marker(draw, dy):
            draw.rounded_rectangle((x, y - dy, x + 1.1 * size, y - dy + 1.9 * size), radius=size * 0.12, fill=0.12)
            draw.text((x + 0.2 * size, y - dy + 0.1 * size), "L", fill=0.97, font=_font(size))

        _draw_band(img, y - 0.5 * size, y + 2.5 * size, marker)
    if rng.random() < 0.6:
        text = rng.choice(["L", "LEFT", "PA", "R. HOSP", "HAND PA", "BA"]) + f" {int(rng.integers(1, 99)):02d}"
        tx = rng.uniform(0.02, 0.5) * W
        ty = rng.choice([rng.uniform(0.01, 0.05), rng.uniform(0.92, 0.96)]) * H
        fill = float(rng.uniform(0.7, 1.0))
        fs = max(int(H * 0.025), 10)
        font = _font(fs)

        def label(draw, dy):
            draw.text((tx, ty - dy), text, fill=fill, font=font)

        _draw_band(img, ty - 0.5 * fs, ty + 2.0 * fs, label)


def _collimate(img: np.ndarray, rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray) -> None:
    """Collimator shadow or film edge along some sides."""
    if rng.random() < 0.4:
        return
    H, W = img.shape
    level = float(rng.choice([rng.uniform(0.0, 0.03), rng.uniform(0.85, 1.0)]))
    tilt = rng.normal(0, 0.01)
    for side in rng.choice(4, size=int(rng.integers(1, 4)), replace=False):
        depth = rng.uniform(0.01, 0.05)
        if side == 0:
            mask = xx < depth * W + tilt * yy
        elif side == 1:
            mask = xx > (1 - depth) * W + tilt * yy
        elif side == 2:
            mask = yy < depth * H + tilt * xx
        else:
            mask = yy > (1 - depth) * H + tilt * xx
        img[mask] = level
