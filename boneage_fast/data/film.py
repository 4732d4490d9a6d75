"""Phantom v2's film: the anatomy of :func:`boneage_fast.data.anatomy.build_hand`
(``version=2``) projected at the output resolution, then exposed and read out.

Compared with v1 (``phantom.render(style="v1")``, drawn at <= 640 px and scaled up):

* long bones follow a width profile (flared base and head, waisted shaft, a rounded
  metacarpal head, a flat phalangeal base, a distal tuft) with a cortex that is thick
  at mid-shaft and thin at the metaphyses, over a dark marrow canal and brighter
  cancellous ends;
* epiphyses and carpals are superellipses with a thin cortical shell and a cancellous
  interior; a capping epiphysis wraps the metaphysis on the side that faces it, and the
  hamate's hook is a ring;
* soft tissue is one smooth silhouette whose thickness saturates (fingers, palm and
  forearm only a little brighter than the background, no halo per finger);
* trabecular texture is noise stretched along the hand's long axis;
* the read-out adds a heel-effect gradient, quantum noise that the detector blur
  correlates (a falling noise power spectrum), a display curve applied through a
  look-up table, and, for 8-bit films, occasional JPEG compression.

Phantom v3 (``style="v3"``) is this film with another :class:`Look`: grey levels fitted
to the real films of ``../shared/realdata`` (a logarithmic display curve, bone near
white, soft tissue mid-grey), flattened finger and palm cross-sections with a crisp skin
edge, carpals with a cortical rim over sparse cancellous bone and tapered outlines, and
dense end plates on the long bones. v2's look is kept pixel for pixel.

The drawing is NumPy and Pillow on windows around each primitive; the exposure (soft
tissue and texture scaled up from their coarse grids, attenuation, gain, heel effect)
and the read-out (noise, blur, look-up) are two fused C++ kernels
(``csrc/phantom/film.cpp``). A 1024x1280 film takes ~31 ms on one core of the 2-core
Xeon, 32 images/s (``benchmarks/bench_phantom.py --style v2``, which also times the
kernels against the same arithmetic in NumPy/Pillow: 7.8 ms against 57 ms).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from boneage_fast import _C
from boneage_fast.data.anatomy import Ellipse, Hand, LongBone

__all__ = ["radiograph", "read_out", "Look", "LOOKS"]

SOFT_GRID = 0.25  # the soft-tissue silhouette's grid, relative to the output resolution
TEXTURE_AMPLITUDE = 0.08  # relative modulation of the bone path by the trabecular texture
TEXTURE_GAIN = 1.95  # bilinear sampling (twice) shrinks the noise's variance; this restores ~1
LUT_LEVELS = 16384  # display look-up table entries over [0, 1]
_F32 = np.float32


@dataclass(frozen=True)
class Look:
    """How a style's film turns path lengths into grey levels."""

    mu_soft: float  # 1/mm, after the silhouette's saturation
    mu_bone: float  # 1/mm
    soft_saturation_mm: float  # soft-tissue thickness above which more adds little contrast
    soft_smoothing: int  # [1, 2, 1] passes over the soft-tissue grid (softens the skin edge)
    flat_tissue: bool  # flattened finger and palm cross-sections (:func:`tissue_t4`)
    gain: tuple[float, float]  # exposure gain range (times 1 - background)
    gamma: tuple[float, float]  # display curve exponent range (lower = brighter mid-tones)
    clean_gamma: float  # the exponent without nuisance
    texture_amplitude: float = TEXTURE_AMPLITUDE  # relative modulation of the bone path by the texture
    # the detector's quantum noise: its sd range (times the square root of the signal,
    # before the detector blur) and its value on a clean film
    noise_sd: tuple[float, float] = (0.008, 0.025)
    noise_clean: float = 0.01
    # the grain's spectrum: the quantum noise's sd times ``grain_fine``, plus a grain
    # about twice as coarse that does not follow the signal, ``coarse_grain`` times that
    # sd (deviates read bilinearly off a grid of every second pixel; ``_C.film_read_out``'s
    # ``coarse``)
    grain_fine: float = 1.0
    coarse_grain: float = 0.0
    # the young bone's striations' amplitude (``line_amplitude``'s ``striated``): the lines'
    # amplitude times 1 + (striation - 1) times how striated the bone is drawn (v4 only)
    striation: float = 1.0
    # a [1, 2, 1] blur over the processed film (after its edge enhancement and windowing)
    # before the read-out adds the noise and blurs once more
    detector_blur: bool = False
    # strength range k of a logarithmic display curve log(1 - k s) / log(1 - k) before the
    # exponent (None: the exponent alone)
    log_display: tuple[float, float] | None = None
    ossicle_cortex: float = 0.06  # carpals' and epiphyses' cortical shell (fraction of the radius)
    ossicle_cancellous: float = 0.5  # their interior's density relative to the shell
    end_plate: float = 0.0  # the long bones' dense end plates (:func:`draw_long_bone`)
    bright_background: float = 0.15  # probability of a grey background (with nuisance)
    bright_range: tuple[float, float] = (0.25, 0.5)  # its level before the display curve
    # the bone texture: "oriented" (smooth grain along the hand, :func:`oriented_texture_coarse`),
    # "network" (a mesh of trabeculae round darker pores, :func:`network_texture_coarse`) or
    # "lines" (trabecular lines drawn at the output resolution, :func:`line_texture_field`;
    # on the cancellous path, or on all the bone without ``smooth_cortex``)
    texture: str = "oriented"
    # processed films are windowed to the anatomy (the reader's exposure recognition): the
    # exposure is scaled down about the background level where needed so that this
    # quantile of the film stays below the display's white (None: the exposure as drawn,
    # clipped at white)
    auto_range: float | None = None
    # processed films' edge enhancement (unsharp masking, :func:`unsharp_`): the film
    # plus ``gain`` times its difference from a local mean of this scale (Gaussian
    # sigma, mm), each drawn per film from these ranges (None: none)
    unsharp_mm: tuple[float, float] | None = None
    unsharp_gain: tuple[float, float] = (0.0, 0.0)
    # a shoulder at the bright end (after the windowing): above this level the film
    # approaches white smoothly, ``knee + (1 - knee)(1 - exp(-(v - knee) / (1 - knee)))``,
    # as a processed film's tone curve does, so sharpened bone edges do not clip
    # (None: a hard clip at white)
    shoulder: float | None = None
    # the soft-tissue cross-section's exponent p, path 2 r (1 - q^2/r^2)^p, and tapered
    # capsules (:func:`tissue_t4`; None: ``flat_tissue``'s flat or round section, one
    # radius per capsule)
    tissue_profile: float | None = None
    # the long bones' interior density mid-shaft (the marrow canal), relative to cortex
    marrow: float = 0.22
    # the texture only in cancellous bone (long bones' interiors, ossicles' interiors),
    # compact bone (cortices, ossicles' shells) smooth; False: the texture modulates the
    # whole bone path
    smooth_cortex: bool = False


LOOKS = {
    # v2 as it was measured and trained on (docs/results_phantom_v2.md): soft tissue and
    # bone sit dark on the display (foreground median 0.30 against the real films' 0.52)
    "v2": Look(mu_soft=0.014, mu_bone=0.085, soft_saturation_mm=30.0, soft_smoothing=2, flat_tissue=False,
               gain=(0.75, 1.05), gamma=(0.75, 1.3), clean_gamma=1.0),
    # v3: grey levels fitted to the 57 real films (docs/phantom.md, section 4): soft
    # tissue mid-grey with a crisp skin edge, the palm brighter than the fingers, bone
    # near white
    "v3": Look(mu_soft=0.014, mu_bone=0.16, soft_saturation_mm=60.0, soft_smoothing=1, flat_tissue=True,
               gain=(1.1, 1.4), gamma=(0.45, 0.65), clean_gamma=0.55, texture_amplitude=0.07,
               log_display=(0.85, 0.97), ossicle_cortex=0.12, ossicle_cancellous=0.25,
               end_plate=0.8, bright_background=0.05),
    # v3's unprocessed films (RAW_FRACTION of v3): a grey background, faint soft tissue
    # and a flat display, as the raw films of ../shared/realdata (12 of the 57 real
    # films: background 0.15-0.45, soft tissue 0.02-0.1 above it, bone 0.7-0.8)
    "v3_raw": Look(mu_soft=0.008, mu_bone=0.12, soft_saturation_mm=60.0, soft_smoothing=1, flat_tissue=True,
                   gain=(0.6, 0.95), gamma=(0.8, 1.2), clean_gamma=1.0, texture_amplitude=0.07,
                   ossicle_cortex=0.12, ossicle_cancellous=0.25, end_plate=0.8, bright_background=1.0,
                   bright_range=(0.25, 0.55)),
}
# v4: v3's looks with a trabecular network in the bone (a mesh of bright lines ~1 mm
# apart round darker pores, as on the real films) in place of v3's smooth oriented grain,
# and processed films windowed so that at most 0.3 % of the film is white: v3's and v4's
# exposure draws left a tenth of the hand white on one film in ten (dense bone a flat
# white), the real films at most about 1 % (docs/phantom.md, section 7.2; since section
# 7.3 the window sits on the 98.5th percentile under a shoulder, below)
#
# v4's processed films let thick soft tissue (wrist, palm) show brighter than thin (the
# fingers) with little saturation: on the real films the wrist's soft tissue is a light
# grey close to the carpals, where v3's saturation at 60 mm pressed it to the fingers'
# grey (hand median 0.45 against the films' 0.52; docs/phantom.md, section 7.3)
#
# ... and edge-enhanced as processed films are (unsharp masking at 1-2 mm, gain 0.6-1.4,
# drawn per film; since section 7.13 ``UNSHARP_GAIN_V4``, below): the real films' palms
# carry about a third of their texture power at 8-32 cycles per palm crop (bone edges,
# cortices), v3 and v4 without it a fifth
# (``phantom_realism_real.py --parts spectrum``; docs/phantom.md, section 7.3)
#
# ... its bright end shaped by a shoulder (levels above 0.9 approach white smoothly;
# since section 7.13 above ``SHOULDER_V4``)
# with the window set on the 98.5th percentile: windowed on the sharpened film's 99.7th
# percentile (its edge overshoots) the whole film darkened (hand median 0.43, p90 0.68
# against the real 0.52, 0.76), and windowed on the anatomy the overshoots clipped
# (3 % of the hand white against the real 0.6 %)
#
# ... and its soft tissue drawn in tapered capsules (fingers narrowing to the tip) of a
# rounder cross-section than v3's flat one, path 2 r (1 - q^2/r^2)^0.375: the flat
# section kept a finger's full grey out to the skin, which the edge enhancement then
# outlined in a bright rim; on the real films a finger's grey fades over the last
# millimetre or two to its edge (docs/phantom.md, section 7.4)
TISSUE_PROFILE_V4 = 0.375
#
# ... and its long bones hollow tubes: an empty marrow canal mid-shaft (``MARROW_V4``,
# v2/v3 0.22 of the cortex's density) under a smooth cortex, the trabecular texture only
# in cancellous bone (``Look.smooth_cortex``: the shafts' ends, epiphyses, carpals), at
# ``TEXTURE_AMPLITUDE_V4`` of that path (section 7.8's mesh; since section 7.10 the
# lines below at ``LINE_AMPLITUDE_V4``). Across metacarpal 3 at mid-shaft the real films
# of ../shared/realdata dip from the cortices' peaks to the canal by 0.61 (median of 8
# films, 0.35-0.74) of the peaks' height over the soft tissue beside the bone; v3 0.26,
# v4 until then 0.37 (docs/phantom.md, section 7.5)
MARROW_V4 = 0.0
TEXTURE_AMPLITUDE_V4 = 0.4
#
# ... and its unprocessed films' soft tissue as bright over the background as on the raw
# films: across the palm at metacarpal 3's mid-shaft the 5 raw films of ../shared/realdata
# (10-60 months) show bone above soft tissue 0.96 (median; 0.74-1.95) times soft tissue
# above the background (``phantom_realism_real.py --parts softbone``), v3's and v4's raw
# look at v3's mu_soft 0.008 2.7 and 3.7: their soft tissue barely above the background
# (docs/phantom.md, section 7.6). 0.03 until section 7.13: the measure's soft tissue (the
# line's 10th percentile) was then v4's thin, dark first web; with the web as thick as
# the palm (``anatomy.WEB_V4``) 0.03 read 0.76, 0.022 reads 0.94 (0.62-0.95)
MU_SOFT_RAW_V4 = 0.022
#
# ... and its trabecular texture lines (``Look.texture = "lines"``, :func:`line_texture_field`):
# section 7.8's mesh, drawn on the half-resolution grid and softened, stayed a soft
# isotropic mottle a third as strong as the films' grain in the capitate and coarser;
# on the real films the cancellous bone is a fine network of trabeculae, mostly along
# the bone, joined by cross struts, pores about a millimetre across (docs/phantom.md,
# section 7.10). The lines are the zero crossings of two smooth random fields (lattices
# of normal deviates read through a quadratic B-spline), turned into lines at the
# output resolution inside the exposure kernel, ``exp(-(f / LINE_WIDTH)^2)`` (``f`` in
# standard deviations), and joined (one field's zero crossings never meet: a maze of
# worms; two fields' cross): the first field's nodes are ``LINE_CELL_MM`` apart across
# the hand and ``LINE_STRETCH`` times that along it (lines along the bones), the
# second's ``LINE_CELL_MM`` along and ``LINE_CROSS_STRETCH`` times that across
# (struts). The cancellous path is ``1 + amplitude (lines / mean - 1)`` times its own,
# never negative for an amplitude up to 1. Where a cell spans fewer than
# ``LINE_RESOLVED`` output pixels the film cannot resolve the lines (its pixels average
# over them): the amplitude falls in proportion. Measured in the capitate beside 7 real
# films (``phantom_realism_real.py --parts texture``, 12 phantoms per film; real /
# section 7.10's lines, width 0.2 at amplitude 1 / these): skewness 0.47 / 0.62 / 0.47,
# band-pass amplitude 0.059 / 0.090 / 0.061, autocorrelation half-width 0.57 / 0.42 /
# 0.48 % of metacarpal 3's length (section 7.10 read 0.046 off 4 phantoms per film, a
# low draw: the grain was half as strong again as the films', crisp white lace at full
# size; docs/phantom.md, section 7.11). Amplitude 0.6 until section 7.12: over the
# thinner ossicle shell below (``OSSICLE_CORTEX_V4``) the lines at 0.6 read 0.074 in the
# capitate, at 0.5 0.065 with skewness 0.47 (the young metaphysis 0.035 either way).
LINE_CELL_MM = 0.5
LINE_STRETCH = 2.0
LINE_CROSS_STRETCH = 1.0
LINE_WIDTH = 0.23
LINE_RESOLVED = 4.0
LINE_FIELDS = 2
LINE_AMPLITUDE_V4 = 0.5
# ... times a maturity factor, LINE_YOUNG + (1 - LINE_YOUNG) min(bone age / LINE_MATURE_MONTHS, 1),
# and a per-subject factor 1 + LINE_CONTRAST_SPREAD t (t uniform in [-1, 1],
# ``Subject.texture_contrast``): in the young films' distal radial metaphyses the grain
# is faint and grows with age (``phantom_realism_real.py --parts metaphysis``: band-pass
# amplitude 0.020-0.022 at 24 months, 0.032-0.046 at 42-55, 0.057 at 82; the capitate's
# at 120-180 months 0.059), where the lines at one amplitude drew it 0.09-0.15 at every
# age (docs/phantom.md, section 7.10); the spread keeps the contrast from telling the age
# (the product capped at 1; mature bone at LINE_AMPLITUDE_V4 0.5 draws 0.35-0.65)
LINE_YOUNG = 0.1
LINE_MATURE_MONTHS = 150.0
LINE_CONTRAST_SPREAD = 0.3
# ... and young bone's lines as striations along the bone. Beside the films at their
# scale the young films' radial metaphyses are striated: long, fine, bright lines along
# the radius, where v4 drew an even, isotropic grain (the lines at a tenth of their
# amplitude under the grain). In a square of side 1/7 of metacarpal 3's length on the
# radius' axis 0.19 of that length below its end, the gradient's energy across the axis
# over its energy along it in the bands G(a) - G(b) of 1/550-1/55, 1/275-1/55 and
# 1/137-1/34 of that length (``phantom_realism_real.py --parts striation``; 5 films of
# 24-82 months, 8 phantoms each with the film's look) is 1.53 / 1.42 / 1.06 on the
# films (1: isotropic), 1.00 / 1.00 / 1.02 on v4 before (docs/phantom.md, section
# 7.32). A subject's ``striation`` s = 1 - bone age / STRIATION_MONTHS (0 after): the
# first line field's nodes 1 - STRIATION_FINE s as far apart across the hand and
# LINE_STRETCH + (STRIATION_STRETCH - LINE_STRETCH) s times that along it, the struts'
# deviates 1 + STRIATION_FAINT s times larger (thinner, fainter lines), the smooth
# density's share 1 - STRIATION_UNSMOOTH s of LINE_SMOOTH, the young amplitude factor
# LINE_YOUNG + (STRIATION_AMPLITUDE - LINE_YOUNG) s in place of LINE_YOUNG and, per
# look, times 1 + (STRIATION_LOOK_V4 - 1) s (the unprocessed look's bone grain is
# fainter); the ossicles (carpals, epiphyses), whose young films show no striations, take
# the share s of their interior as smooth bone. False: v4's lines at every age (an A/B
# switch; the same pixels as before)
STRIATION_V4 = True
STRIATION_MONTHS = 150.0
STRIATION_STRETCH = 5.0
STRIATION_FINE = 0.4
STRIATION_FAINT = 10.0
STRIATION_AMPLITUDE = 1.0
STRIATION_UNSMOOTH = 1.0
# False: a "lines" look draws section 7.8's mesh (``network_texture_coarse`` at
# ``TEXTURE_AMPLITUDE_V4``) instead, as v4 did before section 7.10 (an A/B switch for
# scripts/phantom_ablation.py)
LINE_TEXTURE_V4 = True
# ... projected through the bone's depth: a radiograph sums the trabeculae of every
# depth, so the films' cancellous bone is a fine mottle with few whole pores; one
# network of lines drew clean dark cells walled in white lace. In the capitate beside
# 7 real films (120-180 months; ``phantom_realism_real.py --parts texture``: its
# band-pass cut into four octaves from ``length / 550`` to ``length / 34``, each over
# the square's mean grey, finest first; 12 processed phantoms per film; medians) the
# films carry 0.022 / 0.024 / 0.020 / 0.014 and one network 0.026 / 0.028 / 0.019 /
# 0.012, its band-pass's kurtosis -0.27 (a two-level image: pore or wall) where the
# films' is 0.14, its skewness 0.55 (films 0.47). Now ``LINE_LAYERS_V4`` networks (cells
# these times ``LINE_CELL_MM``), lines ``LINE_WIDTH_PROJECTED`` wide, averaged
# (``_C.film_expose``'s ``tex_layers``), with a share ``LINE_SMOOTH`` of the texture a
# smooth log-normal density of spread ``LINE_SPREAD`` over cells ``LINE_SMOOTH_MM``
# across (the bone's density changing over a millimetre or two: ``tex_smooth``,
# ``tex_spread``), the amplitude ``LINE_PROJECTED_GAIN`` times the one network's: 0.022
# / 0.021 / 0.019 / 0.015, kurtosis -0.01, skewness 0.49 (docs/phantom.md, section
# 7.15). False: one network (v4 until then; an A/B switch)
PROJECTED_TEXTURE_V4 = True
LINE_LAYERS_V4 = (1.2, 0.9)
LINE_WIDTH_PROJECTED = 0.14
LINE_SMOOTH = 0.35
LINE_SPREAD = 1.0
LINE_PROJECTED_GAIN = 1.3
LINE_SMOOTH_MM = 1.5
#
# ... and its films' grain and blur: the detector's quantum noise ``NOISE_V4`` times v3's
# and one more pass of the read-out's blur (``DETECTOR_BLUR_V4``) over the processed film
# (over the exposure, before the edge enhancement, the capitate's grain read finer and
# less skewed than the films'; after it, as the films'). On the real
# films of ../shared/realdata the finest band (the film less a Gaussian of one pixel, on
# the film scaled to [0, 1] between its 1st and 99.5th percentiles) has a standard
# deviation of 0.0034-0.0112 (median 0.0077) in the forearm's soft tissue beside the
# radius and 0.005-0.028 (0.012) in the distal radial metaphysis (5 young films; measured
# as ``phantom_realism_real.py --parts grain``); v4 until then 0.0020 and 0.007-0.013: its
# soft tissue a smooth, noiseless grey and its trabecular lines and edges crisper than the
# films' (docs/phantom.md, section 7.11)
NOISE_V4 = 3.0
DETECTOR_BLUR_V4 = True
#
# ... and its ossicles' (carpals', epiphyses', sesamoid's) cortical shell thinner:
# ``OSSICLE_CORTEX_V4`` of the radius (v3 0.12) over v3's cancellous interior. Across the
# capitate's edge on 7 real films of ../shared/realdata (120-180 months) the bright rim
# is a thin line, 0.6 % of metacarpal 3's length wide at half its height (median;
# 0-1.1 %), rising 1.37 times the interior's height over the joint space beside it
# (0.87-1.83); v4 until then drew it 1.45 % wide (median of 4 phantoms per film's age
# and sex at its scale; 1.15-1.65), peak 1.50: a broad white band round every carpal;
# now 0.7 % (0.6-0.85), peak 1.39, the bone as far above the joint space as on the films
# (``phantom_realism_real.py --parts rim``; docs/phantom.md, section 7.12)
OSSICLE_CORTEX_V4 = 0.06
#
# ... and its processed films' bone less contrasty: edge enhancement at gain
# ``UNSHARP_GAIN_V4`` (drawn per film; section 7.3's 0.6-1.4), bone's attenuation
# ``MU_BONE_V4`` (v3's 0.16) and the shoulder's knee at ``SHOULDER_V4`` (section 7.3's
# 0.9). The 7 registered films of 120-180 months in ../shared/realdata are processed
# films; against processed phantoms alone (sections 7.10-7.12 read medians over both
# looks, a fifth of them unprocessed and about a third as contrasty, which hid it) v4
# drew the capitate's grain 1.4 times the films' band-pass amplitude, its rim 1.3 times
# their peak and half as wide again, and metacarpal 3's shaft 1.4 times as high over the
# soft tissue beside it (``phantom_realism_real.py --parts texture rim shaft``); the
# whole film's grey levels stay at the films' (``--parts tones``; docs/phantom.md,
# section 7.13)
UNSHARP_GAIN_V4 = (0.2, 0.6)
MU_BONE_V4 = 0.14
SHOULDER_V4 = 0.95
_GRAIN_V4 = {"noise_sd": tuple(NOISE_V4 * sd for sd in LOOKS["v3"].noise_sd),
             "noise_clean": NOISE_V4 * LOOKS["v3"].noise_clean, "detector_blur": DETECTOR_BLUR_V4}
LOOKS["v4"] = replace(LOOKS["v3"], texture="lines", texture_amplitude=LINE_AMPLITUDE_V4, auto_range=0.985,
                      shoulder=SHOULDER_V4, soft_saturation_mm=300.0, unsharp_mm=(1.0, 2.0),
                      unsharp_gain=UNSHARP_GAIN_V4, mu_bone=MU_BONE_V4,
                      tissue_profile=TISSUE_PROFILE_V4, marrow=MARROW_V4, smooth_cortex=True, **_GRAIN_V4,
                      ossicle_cortex=OSSICLE_CORTEX_V4)
LOOKS["v4_raw"] = replace(LOOKS["v3_raw"], texture="lines", texture_amplitude=LINE_AMPLITUDE_V4,
                          tissue_profile=TISSUE_PROFILE_V4, marrow=MARROW_V4, smooth_cortex=True,
                          mu_soft=MU_SOFT_RAW_V4, **_GRAIN_V4,
                          ossicle_cortex=OSSICLE_CORTEX_V4)
#
# ... and its grain in plain soft tissue the films' at 0.5, 1 and 2 pixels, per look: the
# fine noise times GRAIN_SPECTRUM_V4's first figure, and a coarser grain (its second
# figure times that fine noise's sd, without the signal's square root; see
# ``Look.coarse_grain``). In the distal
# forearm's soft tissue beside the radius (a square of 25 pixels, the film scaled to [0, 1]
# between its 1st and 99.5th percentiles, the standard deviation of G(s) - G(2 s) for
# s = 0.5, 1, 2 pixels; 6 raw films of rsna_raw7 and 11 processed films of
# rsna_preprocessed_train40, the square's centre read by eye, scripts/data/
# real_soft_tissue.csv) the median film reads 0.0027 / 0.0030 / 0.0026 raw and
# 0.0055 / 0.0070 / 0.0061 processed; v4 drew 0.0043 / 0.0041 / 0.0029 raw (one and a
# half times the films' finest) and 0.0033 / 0.0032 / 0.0021 processed (a half to a
# third of the films', a grain too fine and too faint); now 0.0027 / 0.0031 / 0.0023
# and 0.0054 / 0.0070 / 0.0056 (``phantom_realism_real.py --parts softgrain``, 12
# phantoms per film drawn at its size with its look; docs/phantom.md, section 7.31). The
# coarse grain does not follow the signal: one that did (as the quantum noise) drew the
# capitate's grain on the older processed films too strong (``--parts texture``: finest
# octave 0.030 against the films' 0.022) and the carpal rim's peak 1.71 (``rim``: 1.37)
GRAIN_SPECTRUM_V4 = {"v4": (0.775, 1.0), "v4_raw": (0.5, 0.45)}
LOOKS.update({name: replace(LOOKS[name], grain_fine=fine, coarse_grain=coarse)
              for name, (fine, coarse) in GRAIN_SPECTRUM_V4.items()})
# ... the striations' amplitude per look (``Look.striation``; see STRIATION_V4)
STRIATION_LOOK_V4 = {"v4": 0.5, "v4_raw": 2.0}
LOOKS.update({name: replace(LOOKS[name], striation=gain) for name, gain in STRIATION_LOOK_V4.items()})
#: the share of v3 (and v4) films drawn with the ``"v3_raw"`` (``"v4_raw"``) look
RAW_FRACTION = 0.2

# End shapes of the long bones: (base rounding, head rounding) as a fraction of the
# shaft's half-width: the length over which the outline closes.
_END_ROUNDING = {
    "metacarpal": (0.3, 1.3),
    "phalanx": (0.15, 0.6),
    "distal": (0.15, 0.9),
    "radius": (0.3, 0.22),
    "ulna": (0.3, 0.5),
}


def window(shape, lo, hi):
    """The pixel window (slices, x row, y column) covering lo..hi, or None if outside."""
    x0, y0 = int(max(math.floor(lo[0]), 0)), int(max(math.floor(lo[1]), 0))
    x1, y1 = int(min(math.ceil(hi[0]) + 1, shape[1])), int(min(math.ceil(hi[1]) + 1, shape[0]))
    if x1 <= x0 or y1 <= y0:
        return None
    ys = np.arange(y0, y1, dtype=_F32)[:, None]
    xs = np.arange(x0, x1, dtype=_F32)[None, :]
    return (slice(y0, y1), slice(x0, x1)), xs, ys


def bone_coords(shape, b: LongBone, T):
    """Pixel coordinates along (u, 0..1 from p0 to p1) and across (v, pixels) a long
    bone over the window its outline can reach; None when it is off the canvas or too
    small. Returns (slices, u, v, length in pixels, half-width in pixels)."""
    p0, p1 = T(b.p0), T(b.p1)
    hw = b.half_width * T.scale
    d = p1 - p0
    L = float(np.hypot(*d))
    if L < 1e-6 or hw < 0.3:
        return None
    u_hat = d / L
    n_hat = np.array([-u_hat[1], u_hat[0]])
    pad = hw * (1.0 + max(b.flare0, b.flare1, 0.0)) + 2.0
    win = window(shape, np.minimum(p0, p1) - pad, np.maximum(p0, p1) + pad)
    if win is None:
        return None
    sl, xs, ys = win
    rx, ry = xs - _F32(p0[0]), ys - _F32(p0[1])
    u = (rx * _F32(u_hat[0]) + ry * _F32(u_hat[1])) / _F32(L)
    v = rx * _F32(n_hat[0]) + ry * _F32(n_hat[1])
    return sl, u, v, L, hw


def _gauss_(x: np.ndarray) -> np.ndarray:
    """exp(-x^2), computed in place over the temporary ``x`` (with NumPy 2.4 an exp or
    sqrt into a fresh array is several times slower than in place on this host)."""
    np.square(x, out=x)
    np.negative(x, out=x)
    return np.exp(x, out=x)


def _sqrt_(x: np.ndarray) -> np.ndarray:
    """sqrt in place over the temporary ``x``."""
    return np.sqrt(x, out=x)


def draw_long_bone(acc: np.ndarray, b: LongBone, T, end_plate: float = 0.0, marrow: float = 0.22,
                   cancellous: np.ndarray | None = None) -> None:
    """Add a shaped long bone's bone path length (mm) to ``acc`` (float32, C-contiguous).

    The outline: a shaft of half-width ``b.half_width`` that flares over the last ~15 %
    at each end (``flare0``/``flare1``; the base's flare over ``b.base_span`` of the
    length, the head's over ``b.head_span``) with a slight waist mid-shaft, ends rounded
    over ``_END_ROUNDING`` of the half-width (the base over ``b.base_round`` where given;
    a third of it running on past the end point, a bulbous metacarpal head, so the joint spaces stay open); a
    cortex ~12-38 % of the half-width thick round a dark marrow mid-shaft that turns to
    brighter cancellous bone towards the ends (the wide forearm metaphyses less so: on real films the distal
    radius is no brighter than a metacarpal shaft); flared ends flattened (depth as the
    square root of the width). ``end_plate`` adds a dense plate about 0.5 mm thick at
    each end (the subchondral plate and the zone of provisional calcification under a
    growth plate: a bright line on real films), as a density added to the cancellous
    interior there; at the base ``b.base_plate`` times as dense (v4's metacarpal bases,
    which have no growth plate there). ``marrow`` is the interior's density mid-shaft;
    with ``cancellous`` (an array like ``acc``) the interior's path is added there and
    only the cortex's to ``acc``. The pixel arithmetic runs in C++ (``_C.film_long_bone``, see
    csrc/phantom/film.h) over only the pixels the outline can reach; the float64
    reference it is tested against is in python_tests/test_film_kernels.py.
    """
    p0, p1 = T(b.p0), T(b.p1)
    hw = b.half_width * T.scale
    d = p1 - p0
    L = float(np.hypot(*d))
    if L < 1e-6 or hw < 0.3:
        return
    base_round, head_round = _END_ROUNDING.get(b.kind, (0.3, 0.5))
    if b.base_round is not None:
        base_round = b.base_round
    _C.film_long_bone(acc, float(p0[0]), float(p0[1]), float(d[0] / L), float(d[1] / L), L, hw, b.flare0, b.flare1,
                      base_round, head_round, 0.12 if b.kind in ("radius", "ulna") else 0.4, end_plate,
                      max(0.5 * T.scale, 0.8), 1.0 / T.scale, marrow, cancellous, b.base_span, b.base_plate,
                      b.head_span)


def _draw_tube(acc: np.ndarray, cx: float, cy: float, a: float, b: float, ang: float, wall: float,
               path: float) -> None:
    """Add a bony tube seen end-on (v4's hook of the hamate) to ``acc``: an elliptic ring
    of semi-axes ``a``, ``b`` (pixels, rotated by ``ang`` as the ossicle kernel rotates),
    its wall ``wall`` pixels thick, each point of the wall ``path`` mm of bone along the
    beam (``path`` where a pixel is wholly in the wall): the outer edge anti-aliased over
    a pixel, the inner one (``wall`` inside the outer, measured along the short
    semi-axis' scale) fading over half the wall or a pixel, whichever is more (the hook
    narrows towards its tip, so its lumen's outline is not sharp)."""
    H, W = acc.shape
    r = max(a, b) + 2.0
    x0, x1 = max(int(math.floor(cx - r)), 0), min(int(math.ceil(cx + r)), W - 1)
    y0, y1 = max(int(math.floor(cy - r)), 0), min(int(math.ceil(cy + r)), H - 1)
    if x1 < x0 or y1 < y0:
        return
    dy, dx = np.mgrid[y0:y1 + 1, x0:x1 + 1]
    dx, dy = dx - cx, dy - cy
    ca, sa = math.cos(ang), math.sin(ang)
    # the ossicle kernel's own frame: x' along a, y' along b (its +y the image's -y)
    rho = np.hypot((dx * ca + dy * sa) / a, (-dx * sa + dy * ca) / b)
    # how far inside the outer outline, in pixels (along the short semi-axis' scale)
    depth_in = (1.0 - rho) * min(a, b)
    outer = np.clip(depth_in + 0.5, 0.0, 1.0)
    inner = np.clip((depth_in - wall) / max(0.5 * wall, 1.0) + 0.5, 0.0, 1.0)
    acc[y0:y1 + 1, x0:x1 + 1] += (path * outer * (1.0 - inner)).astype(_F32)


def draw_ossicle(acc: np.ndarray, e: Ellipse, T, cortex: float = 0.06, cancellous: float = 0.5,
                 interior_acc: np.ndarray | None = None) -> None:
    """Add a superellipse ossicle (epiphysis, carpal, sesamoid) to ``acc`` (float32,
    C-contiguous): a cortical shell (``cortex``, a fraction of the radius, plus 0.7
    pixel) over a cancellous interior of relative density ``cancellous`` (a hamate hook,
    seen end-on, is all cortex; v4's, with ``e.wall`` and ``e.depth``, a tube along the
    beam: :func:`_draw_tube`). ``e.cap`` bends the side facing the metaphysis round it
    (its centre recedes, its edges run on as lips), ``e.taper`` narrows the outline
    towards one end (from one side with ``e.lean``), ``e.bend`` curves its midline,
    ``e.slope`` and ``e.hollow`` raise its articular side into a wedge over a concave
    surface. An epiphysis is a disc seen edge-on, as deep along the beam as it is wide;
    other ossicles are as deep as their short axis. With ``interior_acc`` (an array like
    ``acc``) the interior's path is added there and only the shell's to ``acc``. The
    pixel arithmetic runs in C++ (``_C.film_ossicle``, see csrc/phantom/film.h); the
    float64 reference it is tested against is in python_tests/test_film_kernels.py.
    """
    c = T(e.centre)
    a, b = float(e.axes[0] * T.scale), float(e.axes[1] * T.scale)
    if a < 0.4 or b < 0.4:
        return
    ang = math.atan2(T.m[1, 0], T.m[0, 0]) - e.angle
    if e.wall > 0.0 and e.depth > 0.0:
        _draw_tube(acc, float(c[0]), float(c[1]), a, b, ang, e.wall * T.scale, e.density * e.depth)
        return
    depth = (0.6 * a if e.name.startswith("epi_") else min(a, b)) / T.scale
    shell = max(1.0 - 0.7 / min(a, b) - cortex, 0.3)
    interior = 0.0 if e.name.endswith("hook") else cancellous
    args = (a, b, math.cos(ang), math.sin(ang), e.cap, e.taper, e.exponent, shell, interior, e.density * depth, e.bend,
            e.slope, e.hollow, e.lean)
    if not e.facets:
        _C.film_ossicle(acc, float(c[0]), float(c[1]), *args, cancellous=interior_acc)
        return
    # a faceted carpal: drawn alone over its bounding square (as the kernel bounds it),
    # then cut along its facets
    reach = 1.0 + abs(e.cap) * 0.8 + abs(e.bend) + abs(e.slope) + e.hollow
    r = max(max(a, b) * reach, math.hypot(a, b * reach)) + 2.0
    H, W = acc.shape
    x0, x1 = max(int(math.floor(c[0] - r)), 0), min(int(math.ceil(c[0] + r)), W - 1)
    y0, y1 = max(int(math.floor(c[1] - r)), 0), min(int(math.ceil(c[1] + r)), H - 1)
    if x1 < x0 or y1 < y0:
        return
    part = np.zeros((y1 - y0 + 1, x1 - x0 + 1), _F32)
    inner = None if interior_acc is None else np.zeros_like(part)
    _C.film_ossicle(part, float(c[0] - x0), float(c[1] - y0), *args, cancellous=inner)
    # the cut only over the rows and columns the bone reached (the square is generous)
    drawn = part != 0.0 if inner is None else (part != 0.0) | (inner != 0.0)
    rows, cols = np.flatnonzero(drawn.any(axis=1)), np.flatnonzero(drawn.any(axis=0))
    if rows.size == 0:
        return
    (r0, r1), (c0, c1) = (int(rows[0]), int(rows[-1]) + 1), (int(cols[0]), int(cols[-1]) + 1)
    weight = facet_weight(e.facets, T, (y0 + r0, y0 + r1), (x0 + c0, x0 + c1), FACET_ROUND * float(min(e.axes)),
                          FACET_EDGE_MM, FACET_REACH_MM)
    part = part[r0:r1, c0:c1]
    part *= weight
    acc[y0 + r0:y0 + r1, x0 + c0:x0 + c1] += part
    if inner is not None:
        inner = inner[r0:r1, c0:c1]
        inner *= weight
        interior_acc[y0 + r0:y0 + r1, x0 + c0:x0 + c1] += inner


FACET_PLATE = 0.8  # the subchondral plate: relative brightening at a facet, fading inwards
FACET_PLATE_MM = 0.5  # ... over this depth
# Where two facets of a carpal meet, the corner is rounded to this fraction of the bone's
# smaller semi-axis (mm, as a radius): cut along straight facets alone, v4's mature
# carpals were polygons with sharp corners, a tiling of plates; on the real films their
# outlines are rounded where two articular surfaces meet (docs/phantom.md, section 7.8).
# 0: sharp corners (v4 until section 7.8).
FACET_ROUND = 0.3
# The articular surfaces are rounded, not cut square: across the last FACET_EDGE_MM
# before its edge the bone thins as a circle's chord, sqrt(q (2 - q)), q the depth over
# FACET_EDGE_MM, and its edge lies FACET_REACH_MM beyond the facet's plane, into the
# joint space (two neighbours CARPAL_JOINT_V4 = 1 mm apart then come within 0.3 mm of
# each other). Cut square, v4's carpals met across dark channels of even width with
# bright walls; on the films the bones' edges fade into thin joint lines
# (docs/phantom.md, section 7.10). 0: square cuts at the facet (v4 until section 7.10).
FACET_EDGE_MM = 1.5
FACET_REACH_MM = 0.35


def facet_weight(facets, T, rows: tuple[int, int], cols: tuple[int, int], round_mm: float = 0.0,
                 edge_mm: float = 0.0, reach_mm: float = 0.0) -> np.ndarray:
    """Over pixel rows and columns (half-open ranges), the factor that cuts an ossicle
    along its facets (half-planes ``n . p <= t`` of the hand frame, mm): 0 beyond a
    facet, 1 well inside, an anti-aliased step one pixel wide at the facet, and the
    subchondral plate (bone brighter by ``FACET_PLATE`` at the facet, fading over
    ``FACET_PLATE_MM``), as the articular surfaces show on a film. With ``round_mm`` r,
    the corners where facets meet are rounded: the depth inside the cut is
    r - |((r - d_i)+)_i| over the facets' depths d_i where any is under r, else min d_i.
    Where two facets meet at a right angle that is the cut shrunk by r and grown back
    (a quarter circle of radius r); at an acute corner the rounding is shallower than
    a circle's, at an obtuse one somewhat deeper. A face stays where it was wherever
    the other facets are r or more away. With ``edge_mm`` e the cut is rounded across
    its depth: the factor is sqrt(q (2 - q)), q = (depth + ``reach_mm``) / e clipped to
    [0, 1] (the depth in mm, plus half a pixel), instead of the pixel-wide step."""
    ys = np.arange(*rows, dtype=np.float64)[:, None]
    xs = np.arange(*cols, dtype=np.float64)[None, :]
    # the frame is a similarity, p_px = o + M p_mm
    o = np.asarray(T(np.zeros(2)), np.float64)
    m = np.stack([np.asarray(T(np.array([1.0, 0.0])), np.float64) - o,
                  np.asarray(T(np.array([0.0, 1.0])), np.float64) - o], axis=1)
    minv = np.linalg.inv(m)
    def depth(nx, ny, t):  # pixels inside a facet, and pixels per mm
        g = minv.T @ np.array([nx, ny])  # n . p_mm = g . (p_px - o)
        px_mm = 1.0 / float(np.hypot(*g))
        return (t - (g[0] * (xs - o[0]) + g[1] * (ys - o[1]))) * px_mm, px_mm

    w = np.ones((rows[1] - rows[0], cols[1] - cols[0]), np.float64)
    plate = np.zeros_like(w)
    if round_mm > 0.0 and len(facets) > 1:
        nearest = np.full_like(w, np.inf)  # min d_i
        short = np.zeros_like(w)  # sum of (r - d_i)+^2
        for facet in facets:
            inside, px_mm = depth(*facet)
            r = round_mm * px_mm
            nearest = np.minimum(nearest, inside)
            short += np.maximum(r - inside, 0.0) ** 2
        inside = np.where(short > 0.0, r - np.sqrt(short), nearest)
        w = _facet_step(inside, px_mm, edge_mm, reach_mm)
        plate = np.exp(-np.maximum(inside, 0.0) / (FACET_PLATE_MM * px_mm))
    else:
        for facet in facets:
            inside, px_mm = depth(*facet)
            w *= _facet_step(inside, px_mm, edge_mm, reach_mm)
            plate = np.maximum(plate, np.exp(-np.maximum(inside, 0.0) / (FACET_PLATE_MM * px_mm)))
    return (w * (1.0 + FACET_PLATE * plate)).astype(_F32)


def _facet_step(inside: np.ndarray, px_mm: float, edge_mm: float, reach_mm: float) -> np.ndarray:
    """The cut's factor at ``inside`` pixels inside a facet: the anti-aliased pixel-wide
    step, or with ``edge_mm`` > 0 the rounded edge of :func:`facet_weight`."""
    if edge_mm <= 0.0:
        return np.clip(inside + 0.5, 0.0, 1.0)
    q = np.clip((inside + 0.5 + reach_mm * px_mm) / (edge_mm * px_mm), 0.0, 1.0)
    return np.sqrt(q * (2.0 - q))


def tissue_t4(acc: np.ndarray, p0_mm, p1_mm, r_mm: float, T, flat: bool = False, r1_mm: float | None = None,
              profile: float | None = None, depth: float = 1.0) -> None:
    """Add a soft-tissue capsule's path length to the 4th power (for the soft union
    (sum t^4)^(1/4): one outline over overlapping capsules, webs between fingers).

    The cross-section is a circle (path 2 sqrt(r^2 - q^2)) or, with ``flat``, a
    flattened one (2 r (1 - q^2/r^2)^(1/4)): a finger or palm wider than deep, whose
    path length stays near its middle value out to a sharp skin edge. ``profile`` p
    (instead of either) gives 2 r (1 - q^2/r^2)^p: 1/4 is ``flat``, 1/2 the circle.
    ``r1_mm`` (with ``profile``): a tapered capsule, the radius ``r_mm`` at ``p0``
    changing linearly along the axis to ``r1_mm`` at ``p1``, round ends of those radii.
    ``depth`` (with ``profile``): the path times this (a capsule deeper along the beam
    than it is wide; its outline unchanged)."""
    p0, p1 = T(p0_mm), T(p1_mm)
    r = r_mm * T.scale
    rmax = max(r, (r1_mm if r1_mm is not None else r_mm) * T.scale)
    win = window(acc.shape, np.minimum(p0, p1) - rmax - 2, np.maximum(p0, p1) + rmax + 2)
    if win is None:
        return
    sl, xs, ys = win
    d = p1 - p0
    L2 = float(d @ d) or 1e-9
    t = np.clip(((xs - _F32(p0[0])) * _F32(d[0]) + (ys - _F32(p0[1])) * _F32(d[1])) / _F32(L2), 0, 1)
    qx = xs - (_F32(p0[0]) + t * _F32(d[0]))
    qy = ys - (_F32(p0[1]) + t * _F32(d[1]))
    if profile is not None:
        # radius along the axis (mm), then (2 r)^4 (1 - q^2/r^2)^(4 p)
        rt = _F32(r_mm) + t * _F32((r1_mm if r1_mm is not None else r_mm) - r_mm)
        x = np.clip(1.0 - (qx * qx + qy * qy) / (rt * rt * _F32(T.scale * T.scale)), 0.0, None)
        d4 = _F32(2.0 * depth) * rt
        d4 *= d4
        acc[sl] += d4 * d4 * x ** _F32(4.0 * profile)
        return
    if flat:
        acc[sl] += _F32((2.0 * r / T.scale) ** 4) * np.clip(1.0 - (qx * qx + qy * qy) * _F32(1.0 / (r * r)), 0.0, None)
        return
    thick = 2.0 * _sqrt_(np.clip(_F32(r * r) - qx * qx - qy * qy, 0.0, None)) / _F32(T.scale)
    t2 = thick * thick
    acc[sl] += t2 * t2


def _smooth3(a: np.ndarray, passes: int = 1) -> np.ndarray:
    """[1, 2, 1] / 4 along both axes, ``passes`` times (edges kept)."""
    for _ in range(passes):
        a[1:-1] = 0.25 * (a[:-2] + a[2:]) + 0.5 * a[1:-1]
        a[:, 1:-1] = 0.25 * (a[:, :-2] + a[:, 2:]) + 0.5 * a[:, 1:-1]
    return a


def soft_tissue_coarse(hand: Hand, T, shape: tuple[int, int], look: Look = LOOKS["v2"]) -> np.ndarray:
    """The hand's soft-tissue path length (mm) as one smooth, saturating silhouette, on
    a grid of a quarter of the output resolution (it has no detail finer than that;
    :func:`radiograph` scales it up inside the exposure kernel)."""
    H, W = shape
    Ts = T.scaled(SOFT_GRID)
    lo = np.zeros((max(int(H * SOFT_GRID), 4), max(int(W * SOFT_GRID), 4)), _F32)
    for i, (p0, p1, r0, r1) in enumerate(hand.tissue):
        own, depth = hand.tissue_sections.get(i), hand.tissue_depths.get(i, 1.0)
        if own is None and look.tissue_profile is None and r0 == r1 and depth == 1.0:
            tissue_t4(lo, p0, p1, r0, Ts, look.flat_tissue)  # versions 2 and 3: capsules of one radius
        else:
            profile = own if own is not None else look.tissue_profile if look.tissue_profile is not None else \
                0.25 if look.flat_tissue else 0.5
            tissue_t4(lo, p0, p1, r0, Ts, r1_mm=r1, profile=profile, depth=depth)
    lo = np.sqrt(np.sqrt(lo))  # soft union of the capsules (webs, one palm)
    sat = look.soft_saturation_mm
    lo = _F32(sat) * (1.0 - np.exp(-lo * _F32(1.0 / sat)))
    return _smooth3(lo, look.soft_smoothing)


def _enlarge(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear enlargement to ``shape`` (Pillow's; the exposure kernel's equals it)."""
    H, W = shape
    return np.asarray(Image.fromarray(a, mode="F").resize((W, H), Image.BILINEAR), dtype=_F32)


def soft_tissue(hand: Hand, T, shape: tuple[int, int], look: Look = LOOKS["v2"]) -> np.ndarray:
    """:func:`soft_tissue_coarse` at the output resolution (bilinear, as the film gets it)."""
    return _enlarge(soft_tissue_coarse(hand, T, shape, look), shape)


def oriented_texture_coarse(rng: np.random.Generator, shape: tuple[int, int], angle: float,
                            px_per_mm: float) -> np.ndarray:
    """Unit-variance noise with ~0.3 mm grain across and ~1.2 mm along the hand's long
    axis, on a half-resolution grid (the grain is >= 2 output pixels; :func:`radiograph`
    scales it up inside the exposure kernel)."""
    H, W = shape
    h, w = max(H // 2, 2), max(W // 2, 2)
    px = 0.5 * px_per_mm
    across, along = max(0.3 * px, 0.8), max(1.2 * px, 1.5)
    diag = math.hypot(h, w)
    nx, ny = int(diag / across) + 4, int(diag / along) + 4
    coarse = _C.film_normal_deviates(int(rng.integers(0, 2**63)), ny * nx).reshape(ny, nx)
    # grid (x, y) -> coarse grid: rotate into the hand frame, then scale down
    c, s = math.cos(angle), math.sin(angle)
    cx, cy = w / 2.0, h / 2.0
    a = (c / across, s / across, -(c * cx + s * cy) / across + nx / 2.0)
    b = (-s / along, c / along, -(-s * cx + c * cy) / along + ny / 2.0)
    img = Image.fromarray(coarse, mode="F").transform((w, h), Image.AFFINE, a + b, resample=Image.BILINEAR)
    return np.asarray(img, dtype=_F32) * _F32(TEXTURE_GAIN)


# The trabecular network's correlation length (the random field's grid, mm) and its
# lines' softness. Beside the real films' capitates at the films' scale (docs/phantom.md,
# section 7.8) v4's mesh of 0.7 mm with crisp lines one to two pixels wide read as thin
# white worms round pores 2-4 mm across, the films' as a soft mottle of about 1 mm;
# measured in the capitate (``phantom_realism_real.py --parts texture``) its grain was
# faint (band-pass 0.016 of the grey, films 0.059) and too skewed (0.67, films 0.47);
# at 0.6 mm, softened as below, 0.021 and 0.49, its autocorrelation now a little wider
# than the films' (half-width 0.71 % of metacarpal 3's length, films 0.57, before 0.53).
NETWORK_CELL_MM = 0.6
NETWORK_LINE = 0.3  # line half-width, in standard deviations of the underlying field
NETWORK_RESOLVED = 3.0  # coarse pixels per cell from which the mesh is drawn at full contrast
# ... softened by a Gaussian of NETWORK_SOFT_MM (mm) before it is scaled, where that is at
# least NETWORK_SOFT_FROM_PX coarse pixels (:func:`unsharp_`'s local mean, at least about
# one coarse pixel); coarser films draw it unblurred (their pixels already average over
# it). 0: crisp lines (v4 before section 7.8).
NETWORK_SOFT_MM = 0.2
NETWORK_SOFT_FROM_PX = 0.5


def network_texture_coarse(rng: np.random.Generator, shape: tuple[int, int], px_per_mm: float) -> np.ndarray:
    """A trabecular network on the half-resolution grid: bright lines along the zero
    crossings of a smooth random field (cell size ``NETWORK_CELL_MM``),
    ``exp(-(f / NETWORK_LINE)^2)``, which form a mesh of closed curves round darker
    pores, softened by ``NETWORK_SOFT_MM`` where the film resolves that; zero mean,
    unit variance where a cell spans at least ``NETWORK_RESOLVED`` coarse pixels.
    Coarser films cannot resolve the mesh: its pixels average over several cells, so
    the variance falls with the cell size in pixels (standard deviation
    ``cell / NETWORK_RESOLVED``). Draws from ``rng`` exactly as
    :func:`oriented_texture_coarse` does (one integer), so the rest of a film's random
    stream is unchanged."""
    H, W = shape
    h, w = max(H // 2, 2), max(W // 2, 2)
    cell = NETWORK_CELL_MM * 0.5 * px_per_mm  # coarse pixels per cell
    grid = max(cell, 1.0)
    ny, nx = int(h / grid) + 2, int(w / grid) + 2
    coarse = _C.film_normal_deviates(int(rng.integers(0, 2**63)), ny * nx).reshape(ny, nx)
    size = (max(int(math.ceil(nx * grid)), w), max(int(math.ceil(ny * grid)), h))
    field = np.ascontiguousarray(np.asarray(Image.fromarray(coarse, mode="F").resize(size, Image.BICUBIC),
                                            dtype=_F32)[:h, :w])
    field *= _F32(1.0 / max(float(field.std()), 1e-6) / NETWORK_LINE)
    _gauss_(field)
    soft = NETWORK_SOFT_MM * 0.5 * px_per_mm  # coarse pixels
    if soft >= NETWORK_SOFT_FROM_PX:
        unsharp_(field, soft, -1.0)  # at gain -1 the edge enhancement leaves its local mean: a blur
    field -= _F32(field.mean())
    field *= _F32(min(cell / NETWORK_RESOLVED, 1.0) / max(float(field.std()), 1e-6))
    return field


def line_texture_field(rng: np.random.Generator, shape: tuple[int, int], T, cells: tuple = (1.0,),
                       width: float | None = None, smooth_mm: float | None = None,
                       young: float = 0.0) -> tuple[list, float]:
    """The smooth fields behind :data:`LINE_CELL_MM`'s lines over a film of ``shape``
    drawn through the frame ``T`` (mm -> pixels), as :func:`_C.film_expose`'s ``lines``
    wants them: per field, a lattice of unit normal deviates in the hand's axes (its x
    across the hand, y along it) covering the film with two nodes to spare, and the
    affine map from output pixel (x, y) to lattice coordinates. Per layer (one per item
    of ``cells``, the layer's cell size over ``LINE_CELL_MM``) ``LINE_FIELDS`` fields:
    the first with its nodes the cell apart across the hand and ``LINE_STRETCH`` times
    that along it; the second ``LINE_CROSS_STRETCH`` times the cell across and the cell
    along. With ``smooth_mm`` one more field last, its nodes that far apart both ways.
    (The kernel reads them through a quadratic B-spline, at unit variance.) Returns
    ([(lattice, map), ...], a layer's joined lines' mean from
    ``E exp(-(f / width)^2) = 1 / sqrt(1 + 2 / width^2)`` for a unit normal ``f``;
    ``width`` defaults to ``LINE_WIDTH``). Draws one integer from ``rng`` (as
    :func:`oriented_texture_coarse` does, so the rest of a film's stream is unchanged);
    field k's deviates come from that integer plus k. ``young`` (0-1, :func:`striation`)
    turns the lines into a young bone's striations: the first field's nodes
    ``1 - STRIATION_FINE young`` times as far apart across the hand and its stretch
    along it raised towards ``STRIATION_STRETCH``, the second field's (the struts)
    deviates ``1 + STRIATION_FAINT young`` times larger, which thins its lines (0: the
    lines as before, the same lattices)."""
    H, W = shape
    m = np.asarray(T.m, np.float64)
    across, along = m[:, 0] / np.hypot(*m[:, 0]), m[:, 1] / np.hypot(*m[:, 1])  # image directions, unit
    mm = 1.0 / float(T.scale)  # mm per output pixel
    corners = np.array([[0.0, 0.0], [W - 1.0, 0.0], [0.0, H - 1.0], [W - 1.0, H - 1.0]]) - [(W - 1) / 2, (H - 1) / 2]
    reach_a = float(np.max(np.abs(corners @ across))) * mm  # the film's half extent in the hand's axes, mm
    reach_b = float(np.max(np.abs(corners @ along))) * mm
    cx, cy = (W - 1) / 2.0, (H - 1) / 2.0
    seed = int(rng.integers(0, 2**63 - LINE_FIELDS))
    stretch = LINE_STRETCH + (STRIATION_STRETCH - LINE_STRETCH) * young
    gains = (1.0, 1.0 + STRIATION_FAINT * young)[:LINE_FIELDS]  # a field's deviates' scale: thinner lines
    spacings = []  # node spacing (mm), across and along, and the deviates' scale, per field
    for cell in cells:
        c = LINE_CELL_MM * cell
        spacings += [(c * (1.0 - STRIATION_FINE * young), c * stretch, gains[0]),
                     (c * LINE_CROSS_STRETCH, c, gains[-1])][:LINE_FIELDS]
    if smooth_mm is not None:
        spacings.append((smooth_mm, smooth_mm, 1.0))
    fields = []
    for k, (sa, sb, gain) in enumerate(spacings):
        half_u, half_v = math.ceil(reach_a / sa) + 2, math.ceil(reach_b / sb) + 2
        nu, nv = 2 * half_u + 1, 2 * half_v + 1
        lattice = _C.film_normal_deviates((seed + k) % 2**63, nu * nv).reshape(nv, nu)
        if gain != 1.0:
            lattice *= np.float32(gain)
        # output pixel p -> (u, v) = ((p - centre) . across mm / sa + half_u, (p - centre) . along mm / sb + half_v)
        ku, kv = mm / sa, mm / sb
        tex_map = (across[0] * ku, across[1] * ku, half_u - (cx * across[0] + cy * across[1]) * ku,
                   along[0] * kv, along[1] * kv, half_v - (cx * along[0] + cy * along[1]) * kv)
        fields.append((lattice, tuple(float(v) for v in tex_map)))
    width = LINE_WIDTH if width is None else width
    none = 1.0  # the chance that a pixel is on none of a layer's lines
    for g in gains:
        none *= 1.0 - 1.0 / math.sqrt(1.0 + 2.0 * g ** 2 / width ** 2)  # E exp(-(g f / w)^2), f ~ N(0, 1)
    return fields, 1.0 - none


def striation(subject) -> float:
    """How striated a subject's cancellous bone is drawn (0-1, ``line_texture_field``'s
    ``young``): ``1 - bone age / STRIATION_MONTHS`` (0 from then, and with
    ``STRIATION_V4`` off or no subject)."""
    if subject is None or not STRIATION_V4:
        return 0.0
    return min(max(1.0 - subject.bone_age / STRIATION_MONTHS, 0.0), 1.0)


def line_texture(rng: np.random.Generator, shape: tuple[int, int], T, subject=None) -> dict:
    """The keyword arguments of :func:`_C.film_expose` that draw v4's trabecular lines
    (``lines``, ``tex_line``, ``tex_mean``; ``tex_layers``, ``tex_smooth``,
    ``tex_spread``): with ``PROJECTED_TEXTURE_V4`` the ``LINE_LAYERS_V4`` networks and
    the smooth density, else one network (:func:`line_texture_field`); with a
    ``subject`` its young bone's striations (:func:`striation`; the smooth density's
    share falls with them, and with none left the smooth field is not handed over).
    Draws one integer from ``rng`` either way."""
    young = striation(subject)
    if not PROJECTED_TEXTURE_V4:
        fields, mean = line_texture_field(rng, shape, T, young=young)
        return {"lines": fields, "tex_line": LINE_WIDTH, "tex_mean": mean}
    smooth = LINE_SMOOTH * (1.0 - STRIATION_UNSMOOTH * young)  # striated bone without the smooth density
    fields, mean = line_texture_field(rng, shape, T, LINE_LAYERS_V4, LINE_WIDTH_PROJECTED,
                                      LINE_SMOOTH_MM if smooth > 0 else None, young)
    return {"lines": fields, "tex_line": LINE_WIDTH_PROJECTED, "tex_mean": mean, "tex_layers": len(LINE_LAYERS_V4),
            "tex_smooth": max(smooth, 0.0), "tex_spread": LINE_SPREAD}


def line_amplitude(amplitude: float, T, subject=None, striated: float = 1.0) -> float:
    """``amplitude`` where a cell spans at least ``LINE_RESOLVED`` output pixels, less
    in proportion below that (the film's pixels average over the lines); with a
    ``subject``, times the maturity and per-subject factors of ``LINE_YOUNG``,
    ``LINE_MATURE_MONTHS`` and ``LINE_CONTRAST_SPREAD``, the young factor raised towards
    ``STRIATION_AMPLITUDE`` and times the look's ``striated`` (``Look.striation``) as far
    as the subject's bone is striated (:func:`striation`; at most 1 in all: the
    cancellous path never negative)."""
    amplitude *= min(LINE_CELL_MM * float(T.scale) / LINE_RESOLVED, 1.0)
    if subject is not None:
        mature = min(max(subject.bone_age, 0.0) / LINE_MATURE_MONTHS, 1.0)
        share = striation(subject)
        young = LINE_YOUNG + (STRIATION_AMPLITUDE - LINE_YOUNG) * share
        amplitude *= (young + (1.0 - young) * mature) * (1.0 + LINE_CONTRAST_SPREAD * subject.texture_contrast)
        amplitude *= 1.0 + (striated - 1.0) * share
    return min(amplitude, 1.0)


def oriented_texture(rng: np.random.Generator, shape: tuple[int, int], angle: float, px_per_mm: float) -> np.ndarray:
    """:func:`oriented_texture_coarse` at the output resolution (bilinear, as the film gets it)."""
    return _enlarge(oriented_texture_coarse(rng, shape, angle, px_per_mm), shape)


def radiograph(hand: Hand, T, shape: tuple[int, int], rng: np.random.Generator, angle: float,
               nuisance: bool, look: Look = LOOKS["v2"]) -> np.ndarray:
    """The exposed film (linear, ~[0, 1], bright = dense) before markers and read-out."""
    H, W = shape
    soft = soft_tissue_coarse(hand, T, shape, look)
    bone = np.zeros((H, W), _F32)
    spongy = np.zeros((H, W), _F32) if look.smooth_cortex else None
    for b in hand.bones:
        draw_long_bone(bone, b, T, look.end_plate, look.marrow, spongy)
    # v4's young long bones' striations are not drawn in the ossicles: there the share
    # ``striation`` of the interior is smooth (compact) bone
    young = striation(hand.subject) if look.texture == "lines" and LINE_TEXTURE_V4 and spongy is not None else 0.0
    oss = np.zeros_like(spongy) if young > 0.0 else spongy
    for e in hand.ossicles:
        draw_ossicle(bone, e, T, look.ossicle_cortex, look.ossicle_cancellous, oss)
    if young > 0.0:
        bone += _F32(young) * oss
        spongy += _F32(1.0 - young) * oss
    lines: dict = {}
    amplitude = look.texture_amplitude
    if look.texture == "lines" and LINE_TEXTURE_V4:
        tex = np.zeros((1, 1), _F32)  # not read: the kernel draws the lines from the fields
        lines = line_texture(rng, shape, T, hand.subject)
        amplitude = line_amplitude(amplitude * (LINE_PROJECTED_GAIN if PROJECTED_TEXTURE_V4 else 1.0), T, hand.subject,
                                   look.striation)
        if spongy is None:  # no cancellous path of its own: the lines modulate all the bone
            spongy, bone = bone, np.zeros_like(bone)
    elif look.texture in ("network", "lines"):
        tex = network_texture_coarse(rng, shape, T.scale)
        if look.texture == "lines":  # LINE_TEXTURE_V4 off: section 7.8's mesh
            amplitude = TEXTURE_AMPLITUDE_V4
    else:
        tex = oriented_texture_coarse(rng, shape, angle, T.scale)
    if nuisance:
        bright = rng.random() < look.bright_background
        bg = rng.uniform(*look.bright_range) if bright else rng.uniform(0.0, 0.12)
        # a bright background lifts the film's floor, not its bone: the exposure range
        # shrinks to what is left above it (no bone saturates to white)
        gain = rng.uniform(*look.gain) * (1.0 - bg)
        # heel effect along the anode-cathode axis (either image axis) and a slight tilt
        heel = float(rng.normal(0.0, 0.1))
        axis = int(rng.integers(2))
    else:
        bg, gain, heel, axis = 0.05, 0.9, 0.0, 0
    # in place over `bone`: ((1 - exp(-(soft mu_soft + bone (1 + amplitude tex) mu_bone))) gain + bg) (1 + ramp)
    _C.film_expose(bone, soft, tex, look.mu_soft, look.mu_bone, amplitude, gain, bg, heel, axis, spongy, **lines)
    if look.unsharp_mm is not None:
        if nuisance:
            sigma_mm, sharpen = rng.uniform(*look.unsharp_mm), rng.uniform(*look.unsharp_gain)
        else:
            sigma_mm, sharpen = float(np.mean(look.unsharp_mm)), float(np.mean(look.unsharp_gain))
        unsharp_(bone, sigma_mm * T.scale, sharpen)
    if look.auto_range is not None:
        top = float(np.quantile(bone[::4, ::4], look.auto_range))
        if top > 1.0:
            bone -= _F32(bg)
            bone *= _F32((1.0 - bg) / (top - bg))
            bone += _F32(bg)
    if look.shoulder is not None:
        shoulder_(bone, look.shoulder)
    return bone


def shoulder_(img: np.ndarray, knee: float) -> np.ndarray:
    """In place: levels above ``knee`` approach 1 smoothly (slope 1 at the knee),
    ``knee + (1 - knee) (1 - exp(-(v - knee) / (1 - knee)))``; below it unchanged."""
    over = img > _F32(knee)
    if over.any():
        v = img[over]
        room = _F32(1.0 - knee)
        img[over] = _F32(knee) + room * (1.0 - np.exp(-(v - _F32(knee)) / room))
    return img


def unsharp_(img: np.ndarray, sigma_px: float, gain: float) -> np.ndarray:
    """Edge enhancement in place over ``img`` (float32, C-contiguous), as a processed
    radiograph's: ``img + gain (img - lo)`` with ``lo`` a local mean of about
    ``sigma_px`` pixels (Gaussian sigma): k x k block means, k = sigma / 1.15, two
    [1, 2, 1] passes on that grid and a bilinear enlargement back (the block's
    k / sqrt 12, the passes' k and the enlargement's ~0.4 k in quadrature). Bone edges,
    cortices and trabeculae stand out; large areas keep their level. In C++
    (``_C.film_unsharp``, csrc/phantom/film.h); the float64 reference it is tested
    against is in python_tests/test_film_kernels.py."""
    _C.film_unsharp(img, max(int(round(sigma_px / 1.15)), 1), float(gain))
    return img


def display_lut(gamma: float, k: float | None, bits: int) -> np.ndarray:
    """The display look-up table over [0, 1] (``LUT_LEVELS`` entries): ``level ** gamma``,
    or with ``k`` a logarithmic curve first, ``(log(1 - k level) / log(1 - k)) ** gamma``
    (the dense end, bone, spread out and soft tissue pressed towards the dark end, as on a
    processed film's windowed log-exposure)."""
    peak = 65535 if bits == 16 else 255
    level = np.linspace(0.0, 1.0, LUT_LEVELS)
    if k is not None:
        level = np.log1p(-k * level) / np.log1p(-k)
    return np.round(level ** gamma * peak).astype(np.uint16 if bits == 16 else np.uint8)


def read_out(img: np.ndarray, rng: np.random.Generator, nuisance: bool, bits: int,
             look: Look = LOOKS["v2"]) -> np.ndarray:
    """Detector noise and blur, the display curve and quantisation (and JPEG for 8 bits).
    ``img`` (float32, C-contiguous) is left as it was."""
    sd = rng.uniform(*look.noise_sd) if nuisance else look.noise_clean
    seed = int(rng.integers(0, 2**63))
    gamma = rng.uniform(*look.gamma) if nuisance else look.clean_gamma
    k = None
    if look.log_display is not None:
        k = rng.uniform(*look.log_display) if nuisance else float(np.mean(look.log_display))
    lut = display_lut(gamma, k, bits)
    # (with the look's ``detector_blur`` a [1, 2, 1] blur of the film first) quantum noise
    # sd * sqrt(signal) (times the look's ``grain_fine``, with its ``coarse_grain``), the
    # detector's [1, 2, 1] blur (which colours the noise), then the display look-up, in
    # C++ (csrc/phantom/film.cpp)
    out = _C.film_read_out(img, seed, sd * look.grain_fine, lut, pre_blur=look.detector_blur,
                           coarse=look.coarse_grain)
    if bits == 8 and nuisance and rng.random() < 0.3:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=int(rng.integers(70, 96)))
        buf.seek(0)
        out = np.asarray(Image.open(buf).convert("L"), dtype=np.uint8).copy()
    return out
