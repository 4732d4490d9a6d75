"""A parametric left hand (PA view) whose maturity follows the Greulich-Pyle order.

Units are millimetres in a hand frame: x to the right of the image (the thumb side of a
left hand seen PA), y up towards the fingertips, origin at the centre of the distal
radius. :func:`build_hand` turns a bone age, a sex and a subject's individual traits into
a list of primitives (long bones, epiphyses, carpals, sesamoid, soft tissue) plus the
maturity state the tests check; :mod:`boneage_fast.data.phantom` renders it.

Maturity events are given in months of bone age for boys and girls (girls reach each
indicator at a younger age, as in the atlas). The timings are approximate, taken from
the order and typical ages the Greulich-Pyle atlas and standard radiology texts give:
capitate and hamate in the first months; distal radius about 1 year; phalangeal and
metacarpal epiphyses in the 2nd-3rd year; triquetrum ~2-3 y, lunate ~3-4 y, trapezium,
trapezoid and scaphoid ~4-6 y, distal ulna ~6-8 y, pisiform ~9-12 y, the thumb sesamoid
near puberty; epiphyses cap before fusing, distal phalanges first, radius last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

MAX_BONE_AGE = 228.0

# ------------------------------------------------------------------ maturity events
# (boys, girls) in months of bone age.
CARPAL_ONSET = {
    "capitate": (3.0, 2.0),
    "hamate": (5.0, 3.5),
    "triquetrum": (30.0, 22.0),
    "lunate": (48.0, 36.0),
    "trapezium": (66.0, 50.0),
    "trapezoid": (72.0, 56.0),
    "scaphoid": (74.0, 56.0),
    "pisiform": (140.0, 110.0),
}
CARPAL_ORDER = tuple(sorted(CARPAL_ONSET, key=lambda k: CARPAL_ONSET[k][0]))

# Epiphysis groups: onset, capping, fusion (boys, girls).
EPIPHYSIS_EVENTS = {
    "radius": ((15.0, 11.0), (168.0, 138.0), (216.0, 192.0)),
    "ulna": ((84.0, 66.0), (174.0, 144.0), (210.0, 186.0)),
    "metacarpal": ((22.0, 15.0), (150.0, 126.0), (198.0, 168.0)),
    "thumb_metacarpal": ((30.0, 20.0), (150.0, 126.0), (198.0, 168.0)),
    "proximal": ((18.0, 13.0), (144.0, 120.0), (198.0, 168.0)),
    "middle": ((26.0, 18.0), (148.0, 124.0), (204.0, 174.0)),
    "distal": ((24.0, 16.0), (140.0, 116.0), (192.0, 162.0)),
}
SESAMOID_ONSET = (156.0, 130.0)

# Adult bone lengths and shaft widths (mm) per ray: thumb (1) .. little finger (5).
ADULT_LENGTHS = {
    "metacarpal": (46.0, 68.0, 65.0, 58.0, 54.0),
    "proximal": (32.0, 40.0, 45.0, 42.0, 33.0),
    "middle": (None, 23.0, 28.0, 27.0, 19.0),
    "distal": (23.0, 18.0, 19.0, 19.0, 17.0),
}
ADULT_WIDTHS = {"metacarpal": 9.0, "proximal": 8.5, "middle": 7.0, "distal": 5.5}
RAY_BASE_X = (27.0, 17.0, 4.0, -9.0, -22.0)  # metacarpal bases, thumb first
RAY_BASE_Y = (16.0, 27.0, 28.0, 26.0, 23.0)
RAY_ANGLE = (0.62, 0.12, 0.02, -0.09, -0.21)  # radians from +y, positive leans to the thumb
# Carpal centres, semi-axes (mm) and tilt in the adult hand frame.
CARPAL_SHAPE = {
    "capitate": ((3.0, 16.0), (7.0, 10.5), 0.05),
    "hamate": ((-10.0, 15.0), (7.0, 8.5), -0.2),
    "triquetrum": ((-16.0, 7.0), (6.0, 4.8), -0.5),
    "lunate": ((-4.0, 5.5), (6.5, 5.5), 0.0),
    "scaphoid": ((10.5, 5.5), (8.5, 5.0), 0.6),
    "trapezium": ((19.0, 12.0), (6.5, 6.0), 0.4),
    "trapezoid": ((12.5, 17.5), (5.0, 5.0), 0.2),
    "pisiform": ((-19.0, 3.0), (4.0, 4.0), 0.0),
}

# ------------------------------------------------------------------ phantom v2 geometry
# Carpals as superellipses: centre, semi-axes (mm), tilt, exponent. Packed with ~1 mm
# joint spaces between neighbours (relaxed numerically from a sketch of the adult PA
# wrist; the pisiform projects over the triquetrum on a PA film, as in real hands).
# A young carpal has smaller axes and a lower exponent around the same centre, so it
# lies inside its adult outline: no overlap at any age if none in the adult.
CARPAL_SHAPE_V2 = {
    "capitate": ((3.0, 16.5), (7.3, 11.6), 0.05, 3.1),
    "hamate": ((-12.6, 18.8), (6.8, 10.0), -0.25, 2.9),
    "triquetrum": ((-18.5, 3.4), (7.0, 5.4), -0.5, 2.8),
    "lunate": ((-3.9, -1.6), (7.3, 6.2), 0.0, 2.8),
    "scaphoid": ((14.4, 2.2), (11.1, 5.9), 0.6, 2.7),
    "trapezium": ((30.3, 12.0), (6.8, 7.6), 0.5, 2.9),
    "trapezoid": ((16.4, 17.8), (5.3, 6.2), 0.2, 3.1),
    "pisiform": ((-19.5, 1.5), (4.9, 4.9), 0.0, 2.0),
}
CARPUS_CENTRE_V2 = (3.0, 12.0)
# Version 3's adult carpal outlines narrow towards one end (``Ellipse.taper``: + the
# distal end, - the proximal end), as on a PA film: the hamate a wedge with its apex
# towards the lunate, the capitate's head and neck narrower than its body, the lunate
# narrower distally, the triquetrum pyramidal. Narrowing only, so the packing of
# version 2 stays free of overlaps.
CARPAL_TAPER_V3 = {"capitate": -0.3, "hamate": -0.55, "triquetrum": -0.35, "lunate": 0.3, "scaphoid": 0.15,
                   "trapezium": 0.2, "trapezoid": -0.25, "pisiform": 0.0}
# Version 4's mature carpals are this much larger than their version 2/3 outlines
# (semi-axes; reached as each bone takes its adult size): on real PA films the carpals
# fill the wrist, touching across thin joint spaces (the trapezium over the trapezoid and
# the pisiform over the triquetrum), where versions 2 and 3 left a tidy mosaic with
# ~2 mm gaps (docs/phantom.md, section 7). The grown outlines overlap; their facets
# (``CARPAL_JOINT_V4``) then cut them apart.
CARPAL_GROWTH_V4 = 0.3
# ... and less dense: version 3's carpals carried ~40 % more bone path than a metacarpal
# shaft (p90 of the path over the bone, 9.4 mm against 6.4 at 13 years), so that two
# overlapping ones saturated the film; on real films the carpals are about as bright as
# the metacarpals and their overlaps only a little brighter. The distal radial
# epiphysis likewise.
CARPAL_DENSITY_V4 = 0.7
# ... and curved where the real bones are (``Ellipse.bend``): the lunate a crescent open
# distally round the capitate's head, the scaphoid a kidney concave towards the capitate
CARPAL_BEND_V4 = {"lunate": 0.35, "scaphoid": 0.3}
# ... and their taper (CARPAL_TAPER_V3) taken from one side (``Ellipse.lean``, reached as
# the bone takes its adult shape): the hamate narrows proximally on its ulnar side only,
# a wedge whose radial side runs straight along the capitate, as on the films; narrowing
# on both sides it left a V-shaped dark wedge between the two, open proximally
# (docs/phantom.md, section 7.16). The capitate's taper stays on both sides: taken from
# its radial side too (-1, or -0.5) its rim read brighter than the films' (rim peak 1.57
# or 1.48 against the films' 1.37; the hamate's alone 1.36).
CARPAL_LEAN_V4 = {"hamate": 1.0}
# Version 4's ulna flares at its distal metaphysis as the radius does (its end twice its
# shaft's width; version 3's 1.3 times). Read by eye on 5 young films of ../shared/realdata
# (scripts/phantom_realism_real.py --parts forearm) the ulna's distal metaphysis is 0.36
# of metacarpal 3's length wide (median; 0.28-0.43), 0.62 of the radius' beside it;
# version 3's 0.17 and 0.37. With YOUNG_WIDTH_V4 on the forearm too (the radius' end 0.65
# of metacarpal 3 on the films, version 3's 0.45). (Section 7.25: with metacarpal 3's
# length read to the top of its head's epiphysis the films' ulna is 0.34, the radius 0.58,
# version 4's 0.33 and 0.58.)
ULNA_FLARE_V4 = 1.0
# Version 4's metacarpals and phalanges are drawn this much wider than version 3's, on
# the same layout (joint positions, epiphysis thickness, ROI boxes and the hand outline
# unchanged). The first v4 drew them 1.2 times wider (an 11-year-old's metacarpal 3 read
# by eye as about 6 shaft widths long, version 3's as 8.5); measured across the shaft
# (grey-level profiles) the real films of ../shared/realdata give metacarpal 3 lengths of
# 4.8, 6.5, 6.4 and 7.8 shaft widths at 6.8, 8.5, 11 and 18 years, version 3's anatomy
# 6.0-7.0 and the first v4's 5.0-5.9, and an 11-year-old's proximal phalanx 4.2 widths
# long where the first v4's was 3.4: version 3's widths fit (docs/phantom.md, 7.4).
RAY_WIDTH_V4 = 1.0
# ... and young metacarpals stubbier: their shafts drawn growth^-YOUNG_WIDTH_V4 times as
# wide, flaring less so that their ends keep version 3's width, growth the height at the
# subject's chronological age over the adult height (``stature_fraction``: 0.40 at 10
# months, 0.61 at 55, 1 grown). On the young films of ../shared/realdata metacarpal 3 is
# 0.20, 0.15, 0.21, 0.19 and 0.17 of its length wide at mid-shaft at 10-55 months
# (``scripts/phantom_realism_real.py --parts slender``; 0.20, 0.14, 0.21, 0.17 and 0.14
# with the length read to the top of its head's epiphysis, section 7.25), and by the
# figures above 0.21, 0.15, 0.16 and 0.13 at 6.8-18 years: the real metacarpals grow more slender with age;
# version 3's, in proportion to the hand's size, are 0.135 at every age. The radius and
# the ulna are drawn as much wider (their flares kept; ULNA_FLARE_V4 above). The phalanges
# keep version 3's build (the young films' proximal phalanges are slender, with flared
# bases, by eye; not measured). 0: version 3's.
YOUNG_WIDTH_V4 = 0.5
# ... in a fuller palm, wrist and forearm (soft-tissue radii), as on those films
PALM_V4 = 1.15
# ... and fingers that taper (finger radii at the MCP joint, against version 3's; also
# scaled by the subject's fullness draw, whose mean is 1.15): on those films a finger's
# soft tissue is about twice as wide as its proximal phalanx's shaft, narrows to about
# three quarters of that at the distal phalanx (``FINGER_TAPER_V4``, the radius at the
# fingertip against the one at the MCP joint) and ends a few millimetres beyond the
# distal tuft (``FINGER_PAD_V4``, mm, adult). The first v4 drew version 3's capsules of one radius
# 1.3 times fuller with version 3's fingertip, about 10 mm beyond the tuft at 11 years:
# mittens of flat grey, fingers touching up to the PIP joints (docs/phantom.md, 7.4).
FINGER_V4 = 0.92
FINGER_TAPER_V4 = 0.75
FINGER_PAD_V4: float | None = 4.0  # None: the fingertip where version 3's is
# ... in a palm whose soft tissue round each metacarpal narrows to this fraction of its
# radius at the MCP joint (version 3's capsules of one radius ended 12 mm past the
# metacarpal heads at full width: a block with square shoulders)
PALM_TAPER_V4 = 0.6
# ... above a wrist and forearm this much narrower than version 3's (soft-tissue radius):
# on the real films the wrist is about three quarters of the palm's width (less in young
# children), version 3's forearm was wider than its palm
FOREARM_V4 = 0.8
# ... and a forearm this much wider again (soft-tissue radius, against ``FOREARM_V4``'s:
# ``FOREARM_WIDTH_V4`` up to ``FOREARM_NARROWS_V4[0]`` months of bone age, falling
# linearly to ``FOREARM_WIDTH_GROWN_V4`` at ``FOREARM_NARROWS_V4[1]`` and after) with a
# rounder cross-section (its capsule's exponent p, path 2 r (1 - q^2/r^2)^p, in place of
# the look's flattened 0.375; None: the look's; 1 is steeper at the skin than a uniform
# cylinder's 0.5, as a limb whose fat shell attenuates less than its muscle): across the
# distal end of the radius the 5 young films of scripts/data/real_young_forearm.csv
# (24-82 months) are 1.30 times metacarpal 3's length wide (median; 1.04-1.90), with 0.15
# of it of soft tissue beyond the ulna and 0.24 beyond the radius, their soft tissue's
# grey rising from the skin to the bone as over a round limb (fill 0.76, 0.75-0.81); the
# 6 older films of scripts/data/real_older_forearm.csv (120-180 months) 0.98 (0.86-1.14)
# (``phantom_realism_real.py --parts armtissue``). v4 until then drew a slab 1.05 wide
# when young (0.85-0.88 when older), the ulna at the skin, its grey full out to the skin
# (fill 0.98): a bright column with straight edges (docs/phantom.md, section 7.11).
# ``FOREARM_WIDTH_V4`` was 1.55 until section 7.25 (fitted to the films' 1.5, read over
# metacarpal 3 lengths that stopped at the shaft's end on 4 of the 5 films); 1.4 draws
# 1.29 (fill 0.76), the soft tissue beyond the ulna 0.09 and beyond the radius 0.26: with
# the gap between radius and ulna 0.04 against the films' 0.11 (section 7.7), the
# forearm's ulnar side is short on both counts
FOREARM_SECTION_V4: float | None = 1.0
# ... and the first web space and thenar eminence between the thumb and the index ray
# (three soft-tissue capsules of version 3's outline) this much deeper along the beam,
# times the palm's fullness (None: as deep as wide, version 3's)
WEB_V4: float | None = 1.4
# ... and the soft tissue round the thumb's metacarpal (its palm capsule) ``THENAR_V4[0]``
# times as wide, and the first web's two proximal capsules reaching ``THENAR_V4[1]`` of
# their radius past the thumb's axis (their thumb ends moved towards the index ray,
# ``_thenar_web``): version 3's thenar capsules centred on the thumb's metacarpal drew a
# round lobe bulging past the thumb's radial side, where on the films the thumb's radial
# outline follows the bone closely and the thenar mass fills the first web
# (docs/phantom.md, section 7.14). None: version 3's.
THENAR_V4: tuple[float, float] | None = (0.6, 0.55)
# ... and the thenar eminence's proximal part: a soft-tissue capsule of one radius,
# ``THENAR_EMINENCE_V4[0]`` mm times the hand's soft-tissue scale and fullness
# (``THENAR_EMINENCE_V4[1]`` more at bone age 0, fading to none by
# ``THENAR_EMINENCE_AGE_V4`` months), along the thumb's metacarpal from
# ``THENAR_EMINENCE_V4[3]`` of its length back past its base by ``THENAR_EMINENCE_V4[2]``
# radii (:func:`eminence_v4`). On the films the hand is widest at the metacarpal
# bases, its radial outline about parallel to the thumb's metacarpal, and narrows over
# the carpus into the wrist; version 4 drew the outline close round the thumb's base and
# stepped in to a wrist as wide as the forearm, a column from palm to forearm (radial
# side at metacarpal 3's base 0.96 of that bone's length against the films' 1.42 under
# 7 years, 1.23 with section 7.25's corrected lengths, 0.79 against 1.01 over 10;
# ``phantom_realism_real.py --parts wrist``; docs/phantom.md, section 7.20). None: none.
THENAR_EMINENCE_V4: tuple[float, float, float, float] | None = (17.0, 4.0, 1.2, 0.3)
THENAR_EMINENCE_AGE_V4 = 120.0
# ... and the hypothenar eminence on the ulnar side: the same kind of capsule along
# metacarpal 5 (:func:`eminence_v4`, the same ages for its young extra). Version 4's
# ulnar outline dipped in at the metacarpal bases (0.73 of metacarpal 3's length from
# its axis under 7 years against the films' 0.94; 0.57 against 0.63 over 10), where
# the films' is fullest (docs/phantom.md, section 7.20). Its young extra, 9 mm there, is
# 0 since section 7.25: with metacarpal 3's length on the young films read to the top of
# its head's epiphysis (as the phantoms'), their ulnar outline lies 0.90 / 0.84 / 0.75 of
# it from the axis at 0.25 above / at / 0.25 below the base, v4 with the extra 1.06 /
# 0.99 / 0.89, without it 0.89 / 0.81 / 0.80. None: none.
HYPOTHENAR_EMINENCE_V4: tuple[float, float, float, float] | None = (14.0, 0.0, 0.3, 0.4)
# ... and metacarpals 2, 4 and 5 fanning more than version 3's about the middle ray (the
# index's, ring's and little finger's angles from metacarpal 3's times
# METACARPAL_FAN_V4's), their bases where version 3's are and their phalanges turned back
# at the MCP joint to version 3's direction (the finger fan unchanged): on the 327 RSNA
# hands of the ROI annotations the index-to-little MCP distance is 0.95, 0.92, 0.90 and
# 0.86 of the median wrist-to-MCP distance at bone ages 0-60, 60-120, 120-168 and
# 168-228 months, version 3's layout 0.84, 0.81, 0.81 and 0.79 -- its metacarpals nearly
# parallel in young hands, where the films' bases sit together and their heads fan out
# -- and the gap index-middle is the widest (0.34 against middle-ring 0.30 and ring-
# little 0.30 from 60 months; version 3's 0.28, 0.28, 0.27) (docs/phantom.md, section
# 7.18). The films' fan narrows in the late teens: the factors' excess over 1 until
# ``METACARPAL_FAN_AGES_V4[0]`` months of bone age, falling linearly to
# ``METACARPAL_FAN_GROWN_V4`` of it at ``METACARPAL_FAN_AGES_V4[1]``. (1, 1, 1): version 3's.
METACARPAL_FAN_V4 = (1.46, 1.14, 1.18)
METACARPAL_FAN_AGES_V4 = (144.0, 204.0)
METACARPAL_FAN_GROWN_V4 = 0.6
# ... and, the heads kept where that fan puts them, the bases of metacarpals 2, 4 and 5
# moved sideways ``METACARPAL_BASE_SPREAD_V4[0]`` (one factor each) times as far from
# metacarpal 3's base (the shafts turned to meet their heads) until ``[1]`` months of bone
# age, the excess over 1 falling linearly to none at ``[2]``: on 6 young films of 10-82
# months (scripts/data/real_mc_bases.csv, the base ends' centres read by eye) neighbouring
# bases stand 0.28 / 0.25 / 0.21 of metacarpal 3's length apart (index-middle /
# middle-ring / ring-little, medians; the length to the top of its head's epiphysis,
# section 7.25), version 4's 0.20 / 0.20 / 0.18 without the spread: its young bases flared
# into one another in bright overlaps where the films' stand apart; the films' young
# metacarpals are nearly parallel (docs/phantom.md, sections 7.24 and 7.25; one factor
# of 1.4 for all three, fitted to lengths read short, left the ulnar pairs 0.02 and 0.04
# too far apart). None: the fan's bases.
METACARPAL_BASE_SPREAD_V4: tuple[tuple[float, float, float], float, float] | None = \
    ((1.4, 1.28, 1.22), 96.0, 144.0)
# ... and the thumb's metacarpal turned THUMB_V4[0] radians further from the middle ray
# (its phalanges turned back to version 3's direction) and THUMB_V4[1] times as long: on
# the films the thumb's MCP lies 0.58-0.64 median wrist-to-MCP distances from the index's
# and 0.88-0.95 from the wrist, on version 3's layout 0.55-0.59 and 0.86. With the index
# fanned towards it the thumb keeps version 3's distance from the index (0.55-0.57); turned
# out further (0.15) it reached the films' but thinned the first web (the palm's soft
# tissue across metacarpal 3's mid-shaft 0.25 below its median, films 0.03-0.22).
THUMB_V4 = (0.08, 1.06)
# ... and young phalanges longer: 1 + YOUNG_PHALANX_V4 times version 3's at bone age 0,
# fading smoothly to version 3's at YOUNG_PHALANX_AGE_V4 months. On the RSNA hands under
# 60 months the PIP joints sit 1.61 median wrist-to-MCP distances from the wrist, version
# 3's layout 1.56 (60 % of its hands inside the films' 5-95 % range); from 60 months the
# two agree (1.59 and 1.58). 0: version 3's.
YOUNG_PHALANX_V4 = 0.14
YOUNG_PHALANX_AGE_V4 = 96.0
# ... and young fingers stout: the phalanges (shaft and ends) and the fingers' soft tissue
# drawn YOUNG_FINGERS_V4[0] times as wide as without the rule (version 3's phalanges, the
# fingers of FINGER_V4 below) until YOUNG_FINGERS_V4[1] months of bone age, linearly back
# at YOUNG_FINGERS_V4[2]. Read on the 6 young films of scripts/data/real_young_palm.csv
# (10-82 months; profiles across the middle finger at proximal phalanx 3's mid-shaft,
# scripts/data/real_young_fingers.csv) that phalanx is 0.17-0.31 of metacarpal 3's length
# wide (median 0.18), the finger 0.36-0.47 (median 0.44; 4 films, the others' fingers
# touch their neighbours), where v4 drew 0.15 and 0.30-0.34 at every age from 2 years:
# the films' young fingers are about 1.3 times as stout at 10-82 months (1.4 draws 0.21
# and 0.45: the finger's width met, the phalanx 0.02 wide; 1.3 drew 0.19 and 0.41 and
# the hand's share of its box's top half 0.45 against the films' 0.51, 1.4 0.48).
# Section 7.22 set 1.6 against lengths read to the shaft's end on 4 of the films,
# 4-23 % short (section 7.25: the length runs to the top of the head's epiphysis, as the
# phantoms'). At 11 years the films' proximal phalanx is 4.2 widths long (7.4 above; not
# "as version 3's": section 7.34 widens the grown phalanges and fingers, PHALANX_GROWN_V4
# below). None: without the rule (docs/phantom.md, sections 7.22 and 7.25).
YOUNG_FINGERS_V4: tuple[float, float, float] | None = (1.4, 96.0, 132.0)
# ... and grown fingers stout too: from YOUNG_FINGERS_V4[1] months the phalanges (shaft and
# ends alike) go from YOUNG_FINGERS_V4[0] times version 3's width to PHALANX_GROWN_V4[0]
# times it at YOUNG_FINGERS_V4[2], not to 1, and the fingers' soft tissue to
# PHALANX_GROWN_V4[1] times section 7.4's. On the 6 films of 120-180 months of
# scripts/data/real_finger_joints.csv (read by eye on the row midway between the middle
# finger's PIP and MCP joints: proximal phalanx 3's outer edges ``pp3_x0``/``pp3_x1`` and
# the finger's ``finger_x0``/``finger_x1``) the phalanx is 11.9-18.7 hundredths of
# metacarpal 3's length wide (median 16.5), the finger 27.7-41.9 (median 32.9); v4 drew
# 12.6 and 27 (section 7.4's "at 11 years the films' proximal phalanx is 4.2 widths long,
# as version 3's": 4.2 widths is 17 hundredths, v3's 5.8 widths long). None: 1 and 1
# (docs/phantom.md, section 7.34).
PHALANX_GROWN_V4: tuple[float, float] | None = (1.3, 1.2)
# Version 4's MCP joints narrower: the space between a metacarpal and its proximal
# phalanx (version 3's 2.4 mm at adult scale, as at the PIP and DIP joints) times
# MCP_JOINT_V4. On 7 registered films of 82-180 months (scripts/data/real_finger_joints.csv;
# the middle finger's PIP and MCP joint spaces, their rows read by eye;
# `phantom_realism_real.py --parts joints`) the dark line across a joint is 2.1 (PIP)
# and 2.2 (MCP) hundredths of metacarpal 3's length wide at half its depth, 0.17 and 0.19
# deep. v4 drew 2.5 and 1.6, 0.27 and 0.07: its MCP space 0.045-0.058 of that length of
# grey between a dim metacarpal head and the phalanx' base, too wide and too faint to
# read as a joint line. With PHALANX_GROWN_V4's wider phalanges the PIP joints read 2.15
# at version 3's space, so they keep it. The youngest film read is of 82 months (its MCP
# 3.0 wide, 0.29 deep; v4 with the rule 3.15): until MCP_JOINT_V4[1] months of bone age
# the space stays version 3's (young films' MCP spaces are not measured, and the young
# finger webs, section 7.27, were fitted on it), linearly to MCP_JOINT_V4[0] of it at
# MCP_JOINT_V4[2]. None: version 3's (docs/phantom.md, section 7.34).
MCP_JOINT_V4: tuple[float, float, float] | None = (0.4, 48.0, 82.0)
# Version 4's young wrist: the distal radius and ulna sit at least ``WRIST_YOUNG_V4[0]``
# mm (adult scale) below their adult place until ``WRIST_YOUNG_V4[1]`` months of bone
# age, linearly less to none at ``WRIST_YOUNG_V4[2]`` (versions 3-4 already drop each
# 6 mm times one less its epiphysis' size ratio, for the epiphysis' cartilage: the larger
# of the two), and the carpals ``WRIST_YOUNG_V4[3]`` of that least drop. On the 6 young
# films of ../shared/realdata (scripts/data/real_young_palm.csv, real_young_forearm.csv,
# real_young_carpus.csv) the radius' metaphysis ends 0.86-1.16 of metacarpal 3's length
# below its base at 10-42 months, 0.81 at 55, 0.72 at 82 (0.52-0.73 on 5 films of
# 120-180 months), the capitate's centre 0.30-0.41 at 10-42 months, 0.24 at 55, 0.19 at
# 82; version 4 drew the radius 0.68-0.71 at 24-82 months (0.90 at 10, its epiphysis not
# yet ossified) and the capitate 0.19-0.21 (0.26). The 327 RSNA films with ROI boxes
# agree: their radius box stands 0.21 of proximal phalanx 3's length further below the
# middle finger's MCP than v4's under 5 years, 0.12 at 5-10 years, 0.06-0.09 from 10
# (where the annotators' centring of the box accounts for it); with this 0.06-0.09 at
# every age (``phantom_realism.py``'s radius_reach, ``phantom_realism_real.py --parts
# carpus``; docs/phantom.md, section 7.26). None: none.
WRIST_YOUNG_V4: tuple[float, float, float, float] | None = (9.5, 60.0, 108.0, 0.45)
# Version 4's webs between the fingers (index-middle, middle-ring, ring-little): a
# soft-tissue capsule from the mid-point of each pair's MCP joints up between the two
# fingers (:func:`finger_webs_v4`), its round end (the web's free edge) at the mid-point
# of the points ``FINGER_WEB_V4[0]`` of the way from each MCP to its PIP joint, its
# radius ``FINGER_WEB_V4[1]`` of half their distance, ``FINGER_WEB_V4[2]`` as deep along
# the beam as wide. Without them older hands' fingers parted at the knuckles, the palm
# ending at the metacarpal heads with the fingers set in it as in a mitten: going up
# metacarpal 3's axis, the silhouette stops holding the index and the ring finger 1.2
# of that bone's length above its base on 5 films of 120-180 months (medians; 1.35 /
# 1.33 on 6 films of 10-82 months), version 4 at 0.83 / 0.90 (young 1.10 / 1.41),
# version 3 at 1.11 (young 1.17); with these webs 1.23 / 1.23 (young 1.30 / 1.41:
# young fingers' own soft tissue joins them on the ulnar side;
# ``phantom_realism_real.py --parts webs``; docs/phantom.md, section 7.27). None: none.
FINGER_WEB_V4: tuple[float, float, float] | None = (0.3, 1.0, 0.6)
# The first web (thumb-index) as soft-tissue capsules from a point on the thumb's
# metacarpal to one on the index's: (where along the thumb's metacarpal, base 0 to head 1;
# where along the index's; radius in mm times the hand's soft-tissue scale). Versions 2-3
# draw FIRST_WEB's three, the last one's free edge reaching 0.85 of both metacarpals.
FIRST_WEB = ((0.4, 0.3, 17.0), (0.65, 0.55, 13.0), (0.85, 0.85, 9.0))
# Version 4 draws FIRST_WEB_V4's: the third's ends at 0.7 of both metacarpals, so the
# web's free edge lies lower. Going up metacarpal 3's axis, the silhouette reaches 0.95 of
# that bone's length to the thumb's side (the thumb still joined to the hand) up to 0.625
# of its length above its base on the 6 young films of real_young_palm.csv and to 0.50 on
# the older films of --parts wrist; version 4 with FIRST_WEB's 0.68 / 0.59 (clean
# phantoms), with these and THUMB_TISSUE_V4 0.59 / 0.50. Leaving the third out lowers the
# edge as far but thins the web across metacarpal 3's mid-shaft (``--parts palmtissue``
# at 150 months 0.225 below the median, the films 0.03-0.22; with it at 0.7 0.206)
# (``phantom_realism_real.py --parts firstweb``; docs/phantom.md, section 7.28). None:
# FIRST_WEB.
FIRST_WEB_V4: tuple[tuple[float, float, float], ...] | None = \
    ((0.4, 0.3, 17.0), (0.65, 0.55, 13.0), (0.7, 0.7, 9.0))
# ... and a young thumb's soft tissue (its finger capsule) THUMB_TISSUE_V4[0] times as
# wide until bone age THUMB_TISSUE_V4[1] months, linearly to 1 at THUMB_TISSUE_V4[2] (the
# ages of YOUNG_FINGERS_V4, whose stout young fingers it had taken on): across the thumb's
# proximal phalanx at its mid-point the films' young thumbs are 0.37-0.46 of metacarpal
# 3's length wide (median 0.40; 4 films of 24-82 months, scripts/data/real_thumb.csv),
# narrower than their middle finger (0.44), where version 4 drew 0.51-0.56 (with 0.75
# 0.38-0.42); at 150 months the film's 0.37, version 4's 0.33 (``--parts thumb``;
# docs/phantom.md, section 7.28). None: as wide as version 3's layout draws it.
THUMB_TISSUE_V4: tuple[float, float, float] | None = (0.75, 96.0, 132.0)
# Version 4's young distal radius and ulna (until bone age YOUNG_FOREARM_V4["ages"][0]
# months, linearly to version 4's grown build at ["ages"][1]): metaphyses that flare like a
# trumpet, their ends ["flare"] wider than the shaft (version 4's 1.0: twice its width)
# over ["span"] of the bone's drawn length (``LongBone.head_span``; 0.15 before, about a
# third of metacarpal 3's length), on shafts ["radius"] and ["ulna"] times as wide that
# splay apart by ["splay"] degrees each from their ends. On 5 films of 24-82 months
# (``phantom_realism_real.py --parts interosseous``, the edges read by eye and put on the
# steepest grey-level edge) the radius is 0.48 / 0.43 / 0.35 / 0.32 of metacarpal 3's
# length wide 0.05 / 0.15 / 0.3 / 0.5 of that length below its end, the ulna 0.31 / 0.27 /
# 0.26 / 0.21, the gap between them 0.07 / 0.16 / 0.24 / 0.29 and their centres 0.51 apart
# at 0.05, 0.55 at 0.5; version 4 drew the radius 0.58 / 0.53 / 0.41 / 0.31, the ulna
# 0.33 / 0.32 / 0.26 / 0.19 and the gap 0.05 / 0.07 / 0.16 / 0.25: its two metaphyses,
# flaring as far and as long on slimmer shafts, closed on each other from half-way down
# (docs/phantom.md, section 7.29). None: version 4's build at every age.
YOUNG_FOREARM_V4: dict | None = {"flare": 0.5, "span": 0.10, "radius": 1.13, "ulna": 1.27, "splay": 3.0,
                                 "ages": (96.0, 132.0)}
# Version 4's young capitate and hamate (until bone age YOUNG_CARPUS_V4["ages"][0] months,
# linearly to version 4's build at ["ages"][1]): each bone's semi-axes times ["capitate"] /
# ["hamate"] (across, along the hand), their outlines ellipses (superellipse exponent 2,
# where version 4 squared them as they grew) and the hamate's centre moved by ["shift"]
# (mm at adult scale, +x radial, +y distal). On 6 films of 10-82 months
# (``phantom_realism_real.py --parts youngcarpus``, each outline the closed path of
# steepest fall across 90 rays from a point inside it) the capitate is 0.32 of metacarpal
# 3's length long and 0.25 wide, the hamate 0.23 and 0.22 (a round bone), their middles
# 0.24 apart across the hand; version 4 drew two narrow ovals side by side, the capitate
# 0.27 by 0.17, the hamate 0.23 by 0.15, 0.19 apart (docs/phantom.md, section 7.30).
# None: version 4's build at every age.
YOUNG_CARPUS_V4: dict | None = {"capitate": (1.35, 1.12), "hamate": (1.7, 1.0), "shift": (-4.5, 1.5),
                                "ages": (60.0, 96.0)}
FOREARM_WIDTH_V4 = 1.4
FOREARM_WIDTH_GROWN_V4 = 1.25
FOREARM_NARROWS_V4 = (84.0, 144.0)


def _age_ramp(bone_age: float, ages: tuple[float, float], young: float, grown: float) -> float:
    """``young`` until bone age ``ages[0]`` (months), linearly to ``grown`` at ``ages[1]``,
    then constant."""
    lo, hi = ages
    t = min(max((bone_age - lo) / (hi - lo), 0.0), 1.0)
    return young + (grown - young) * t


def wrist_young_v4(bone_age: float) -> float:
    """Version 4's least drop (mm at adult scale) of the distal radius and ulna below
    their adult place at this bone age (months): ``WRIST_YOUNG_V4[0]`` until
    ``WRIST_YOUNG_V4[1]``, linearly to 0 at ``WRIST_YOUNG_V4[2]``; 0 when it is None."""
    if WRIST_YOUNG_V4 is None:
        return 0.0
    drop, full, gone, _ = WRIST_YOUNG_V4
    return _age_ramp(bone_age, (full, gone), drop, 0.0)


def young_carpus_v4(bone_age: float, name: str) -> tuple[float, float, float, float, float]:
    """Version 4's young carpal ``name`` at this bone age (months) by ``YOUNG_CARPUS_V4``:
    (its across and along semi-axis factors, the weight of the ellipse's exponent 2 over
    the grown one, its centre's shift in mm at adult scale, x and y); (1, 1, 0, 0, 0) for
    the other carpals and at every age when that is None."""
    y = YOUNG_CARPUS_V4
    if y is None or name not in ("capitate", "hamate"):
        return 1.0, 1.0, 0.0, 0.0, 0.0
    w = _age_ramp(bone_age, y["ages"], 1.0, 0.0)
    gx, gy = y[name]
    dx, dy = y["shift"] if name == "hamate" else (0.0, 0.0)
    return 1.0 + (gx - 1.0) * w, 1.0 + (gy - 1.0) * w, w, dx * w, dy * w


def young_fingers_v4(bone_age: float) -> float:
    """Section 7.22's young-finger rule at this bone age (months): ``YOUNG_FINGERS_V4[0]``
    until ``YOUNG_FINGERS_V4[1]``, linearly to 1 at ``YOUNG_FINGERS_V4[2]``, then 1; 1 at
    every age when it is None. The drawing uses :func:`phalanx_width_v4` and
    :func:`finger_tissue_v4`, the same ramp ending at ``PHALANX_GROWN_V4`` (section 7.34)."""
    if YOUNG_FINGERS_V4 is None:
        return 1.0
    factor, full, grown = YOUNG_FINGERS_V4
    return _age_ramp(bone_age, (full, grown), factor, 1.0)


def phalanx_width_v4(bone_age: float) -> float:
    """Version 4's width factor for the phalanges (bones only) at this bone age (months):
    :func:`young_fingers_v4`'s ramp ending at ``PHALANX_GROWN_V4[0]`` instead of 1 (1
    where that is None; ``PHALANX_GROWN_V4[0]`` at every age when ``YOUNG_FINGERS_V4`` is
    None)."""
    return _grown_finger(bone_age, 0)


def finger_tissue_v4(bone_age: float) -> float:
    """Version 4's width factor for the fingers' soft tissue at this bone age (months):
    as :func:`phalanx_width_v4`, ending at ``PHALANX_GROWN_V4[1]``."""
    return _grown_finger(bone_age, 1)


def _grown_finger(bone_age: float, part: int) -> float:
    grown = 1.0 if PHALANX_GROWN_V4 is None else PHALANX_GROWN_V4[part]
    if YOUNG_FINGERS_V4 is None:
        return grown
    factor, full, end = YOUNG_FINGERS_V4
    return _age_ramp(bone_age, (full, end), factor, grown)


def mcp_joint_v4(bone_age: float) -> float:
    """Version 4's factor on the MCP joint spaces at this bone age (months): 1 until
    ``MCP_JOINT_V4[1]``, linearly to ``MCP_JOINT_V4[0]`` at ``MCP_JOINT_V4[2]``, then
    constant; 1 at every age when it is None."""
    if MCP_JOINT_V4 is None:
        return 1.0
    factor, young, grown = MCP_JOINT_V4
    return _age_ramp(bone_age, (young, grown), 1.0, factor)


def metacarpal_shaft_v4(bone_age: float) -> float:
    """Version 4's metacarpal 2-5 shaft width factor at this bone age (months): 1 until
    ``METACARPAL_SLIMS_V4[0]``, linearly to ``METACARPAL_SHAFT_V4`` at
    ``METACARPAL_SLIMS_V4[1]``, then constant."""
    return _age_ramp(bone_age, METACARPAL_SLIMS_V4, 1.0, METACARPAL_SHAFT_V4)


def young_forearm_v4(bone_age: float, name: str, flare: float) -> tuple[float, float, float, float]:
    """Version 4's distal ``name`` ("radius" or "ulna") at this bone age (months), ``flare``
    the grown bone's end flare: (its end flare, the flare's span ``LongBone.head_span``,
    its shaft's width factor, how far it splays from its end in degrees) by
    ``YOUNG_FOREARM_V4``; (``flare``, 0.15, 1, 0) at every age when that is None."""
    if YOUNG_FOREARM_V4 is None:
        return flare, 0.15, 1.0, 0.0
    y = YOUNG_FOREARM_V4
    ages = y["ages"]
    return (_age_ramp(bone_age, ages, y["flare"], flare), _age_ramp(bone_age, ages, y["span"], 0.15),
            _age_ramp(bone_age, ages, y[name], 1.0), _age_ramp(bone_age, ages, y["splay"], 0.0))


def forearm_width_v4(bone_age: float) -> float:
    """Version 4's forearm width factor at this bone age (months): ``FOREARM_WIDTH_V4``
    until ``FOREARM_NARROWS_V4[0]``, linearly to ``FOREARM_WIDTH_GROWN_V4`` at
    ``FOREARM_NARROWS_V4[1]``, then constant."""
    return _age_ramp(bone_age, FOREARM_NARROWS_V4, FOREARM_WIDTH_V4, FOREARM_WIDTH_GROWN_V4)


# Version 4 draws the soft tissue's fullness and the carpals' density per subject,
# uniform over these half-widths about the values above (:func:`sample_v4_traits`): with
# fixed values, a v3-trained model read phantoms 13 months younger for the fuller palm
# alone and 14 for the lighter carpals alone (scripts/phantom_ablation.py): neither may
# carry age, and real films vary in both.
PALM_V4_SPREAD = 0.15
CARPAL_DENSITY_V4_SPREAD = 0.15
# Version 4 cuts neighbouring carpals that come nearer than this (mm) along flat
# articular facets this far apart (``Ellipse.facets``): on a normal PA film the
# intercarpal joint spaces are thin lines of even width (about 1-2 mm) between
# facing, roughly parallel facets, and the bones do not overlap across them; the
# grown, rounded outlines alone overlapped as lens-shaped blobs. ``None``: no facets.
CARPAL_JOINT_V4: float | None = 1.0
# ... except where a PA film does show one bone over another: the trapezium over the
# trapezoid (and the pisiform over the triquetrum, which has no facets at all)
CARPAL_OVERLAP_V4 = frozenset({frozenset({"trapezium", "trapezoid"})})
RADIAL_EPIPHYSIS_DENSITY_V4 = 0.8
# Version 4's distal radial epiphysis takes its metaphysis' full width at this bone age
# (months; boys, girls), long before it caps it (``EPIPHYSIS_EVENTS``: 168 / 138): its
# width over the metaphysis' end grows as version 2's ratio, 0.3 + 0.7 t^0.6, with t
# reaching 1 here, 1 then (1.05 once capped), drawn at that ratio (not 0.95 of it, as
# before), and its thickness and its rise to the styloid follow that ratio; the cap's
# wrap round the metaphysis keeps the capping age. Read by eye on 13 labelled films of
# 24-94 months in ../shared/realdata (scripts/data/real_radial_epiphysis.csv) the
# epiphysis spans 0.33-0.60 of the metaphysis' end at 24 months (median 0.43), 0.54-0.99
# at 33-60 months (0.88), 1.05-1.1 at 82-94; version 4 drew 0.41-0.45, 0.52-0.64 and
# 0.75-0.80 (docs/phantom.md, section 7.21); with the full width at 78 / 64 to 80 / 66
# months the films' median absolute error is 0.054-0.056 of the width (0.21 with the
# old rule). ``None``: the old rule (full width at capping, drawn at 0.95).
RADIAL_EPIPHYSIS_WIDE_V4: tuple[float, float] | None = (80.0, 66.0)
# ... and the rays' epiphyses (phalanges and metacarpals) as wide as their metaphyses this
# far (a fraction) from their onset to their capping (``EPIPHYSIS_EVENTS``), the radius'
# 80 / 66 months being 0.42 / 0.43 of its way: the same growth of the width, drawn at that
# ratio (the thickness, the cap's wrap and the layout keep the capping age's ratio). Read
# by eye on 6 films (scripts/data/real_proximal_epiphysis.csv) the base epiphysis of the
# middle finger's proximal phalanx spans 0.68-0.76 of the phalanx' base at 24-42 months,
# 0.86 at 55 and 1.06 at 82, where version 4 drew 0.45-0.53, 0.66 and 0.80 (docs/phantom.md,
# section 7.21). The other rays' epiphyses are not read: the same fraction is assumed.
# ``None``: 0.95 of the capping age's ratio, as before.
RAY_EPIPHYSIS_WIDE_V4: float | None = 0.43
# Version 4's hook of the hamate: semi-axes (mm, adult), its length along the beam (mm)
# and its cortical wall (mm). A PA film sees the hook end-on, a tube along the beam, so
# its cortex shows as a bright ring in the hamate's distal half (on 5 of the 7 films of
# 120-180 months of ../shared/realdata a ring about 6-8 mm across with a wall about
# 1 mm thick, as bright as the carpals' rims). Versions 2-3 drew it as a 2 x 2.4 mm disc
# as deep as it is wide, all cortex a few tenths of a millimetre thick: no ring to see
# on any phantom. Its size and length grow with bone age (HAMATE_HOOK_ONSET_V4) and it
# has the hamate's density. ``None``: version 3's.
HAMATE_HOOK_V4: tuple[float, float, float, float] | None = (2.8, 3.8, 12.0, 0.6)
# ... its centre from the hamate's (mm, adult; +x radial, +y distal): in the distal half,
# towards the capitate (v2-v3: 1.5 mm radial, 2.5 mm proximal)
HAMATE_HOOK_AT_V4 = np.array([1.8, 4.0])
# ... and its growth, bone age (months; boys, girls): from its onset, first seen at about
# 10 years in girls and 11.5 in boys (the hook is one of the late carpal signs of
# maturity in the Greulich-Pyle and Tanner-Whitehouse atlases; of the films above, the
# girl of 120 months shows a faint ring, those of 136 and 165 months a clear one), to its
# full length along the beam at 12.5 / 14.5 years. (v2-v3 drew it from 2 years.)
HAMATE_HOOK_ONSET_V4 = ((138.0, 120.0), (174.0, 150.0))
# Version 4's distal radial and ulnar epiphyses rise to their styloids (``Ellipse.slope``
# and ``Ellipse.hollow``, reached as each epiphysis takes its full width): on a PA film
# the radial epiphysis is a wedge, thin on the ulnar side and rising to the radial
# styloid on the thumb side over the concave fossae of the scaphoid and lunate, its
# physis side flat on the metaphysis; the ulnar epiphysis rises to the ulnar styloid on
# the little-finger side. (The first v4 curved the whole radial epiphysis instead, bend
# 0.25, which left a lens-shaped physis open at its ends.) ``(0, 0)``: neither.
RADIAL_STYLOID_V4 = (0.6, 0.35)
ULNAR_STYLOID_V4 = (-0.9, 0.3)
# Version 4's fusing epiphyses (radius, ulna and the rays') grow this far (mm, adult)
# into their metaphyses as they fuse, their joint side where it was: drawn apart, two
# touching outlines each thin to nothing at their edge, which left a dark line across
# every fused bone (an 18-year-old read as unfused) where a film shows one bone with at
# most a faint bright physeal scar
FUSION_OVERLAP_V4 = 1.0
# Version 4's distal radial and ulnar physes: the epiphysis this far (mm, adult, before
# it fuses) from its metaphysis' end (versions 2-3: 1.2; None: theirs). On 6 real films of
# 120-180 months (../shared/realdata) the radial physis is a thin dark line, 1.35 % of
# metacarpal 3's length wide at half its depth (median over the columns across the
# radius; 1.2-1.8 %); at 1.2 mm v4's was 2.49 % (1.9-2.7), a band of soft tissue between
# the metaphysis and a floating epiphysis; at 0.2 mm (the ends' rounding adds the rest)
# 1.35 % (``phantom_realism_real.py --parts physis``; docs/phantom.md, section 7.12)
FOREARM_PHYSIS_V4: float | None = 0.2
# Version 4's metacarpal heads (metacarpals 2-5): once the epiphysis is this thick for
# its width it stops flattening, its extra thickness taken from the shaft's end (the
# joint, the ROI boxes and the bone plus epiphysis length unchanged). On the real films
# a metacarpal's head epiphysis is a dome nearly as tall as wide by puberty (about 0.9
# of its width on the figure's 13-year-old, read by eye); version 3's is a lens a third
# as thick as wide. 0: version 3's.
METACARPAL_HEAD_V4 = 0.7
# Version 4's metacarpals 2-5: the shaft ``METACARPAL_SHAFT_V4`` times as wide (the head
# as wide as before), the base flaring ``METACARPAL_BASE_V4[0]`` of the shaft's half-width
# wider, the flare reaching ``METACARPAL_BASE_V4[1]`` of the length (the kernel's
# ``base_span``; version 3's 0.22 over 0.15). On 5 registered films of 120-180 months
# metacarpal 3 is 0.10-0.14 of its length wide a third of the way up and widens towards
# its base (concave sides, an hourglass) to 1.4-2.1 times that at 0.14-0.22 of the
# length and 1.4-2.1 times at 0.05-0.08 (its edges read by eye,
# scripts/data/real_mc3_base_width.csv; median 1.60 over the levels read); version 4's
# outline read 1.15 (``phantom_realism_real.py --parts mcbase``; docs/phantom.md,
# section 7.14). None: version 3's.
METACARPAL_SHAFT_V4 = 0.9
# ... the shaft narrowing linearly from 1 at ``METACARPAL_SLIMS_V4[0]`` months of bone age
# to METACARPAL_SHAFT_V4 at ``[1]`` (the young films' metacarpals are as stout as section
# 7.7 drew them: mid-shaft width over length 0.182 on 6 films of 10-82 months, v4 0.173;
# ``--parts slender``; with section 7.25's corrected lengths the films' 0.154, v4 0.176,
# stouter than the films' at 42-82 months: left)
METACARPAL_SLIMS_V4 = (84.0, 144.0)
METACARPAL_BASE_V4: tuple[float, float, float] | None = (0.75, 0.22, 0.8)
# ... its corners rounded over ``METACARPAL_BASE_V4[2]`` of the shaft's half-width
# (version 3's 0.3: square), and the distal carpal row kept ``CMC_JOINT_V4`` mm short of
# the bases (the carpometacarpal joints: metacarpal 2 on the trapezoid, 3 on the capitate,
# 4 and 5 on the hamate; a flat facet across each base's axis, :func:`cmc_facets`), where
# version 3's carpals ran under the bases in a bright seam. None: no facets.
CMC_JOINT_V4: float | None = 0.5
CMC_CARPAL = {"metacarpal2": "trapezoid", "metacarpal3": "capitate", "metacarpal4": "hamate",
              "metacarpal5": "hamate"}
# Version 4's metacarpals 2-5: the dense end plate at the base (where they have no growth
# plate) this fraction of the look's, the heads' kept. Along metacarpal 3's axis the films'
# base end stands 0.98-1.28 times as bright as its shaft (median 1.12 over 6 films of
# 10-82 months and 5 of 120-180; 4 raw, 7 registered), version 4's with the look's plate
# 1.34 (the 2 young registered films 1.17 and 1.20 against 1.56 and 1.46), with none
# 1.15: by eye the films' bases are no brighter at their ends
# (``phantom_realism_real.py --parts mcplate``; docs/phantom.md, section 7.23). None: the
# look's plate at both ends.
METACARPAL_BASE_PLATE_V4: float | None = 0.0
# v2 metacarpal bases sit on the distal carpal row and fan out to the v1 heads.
RAY_BASE_X_V2 = (31.0, 13.5, 3.5, -6.5, -15.5)
RAY_BASE_Y_V2 = (21.5, 25.5, 29.0, 29.5, 29.0)
RAY_ANGLE_V2 = (0.62, 0.19, 0.03, -0.14, -0.34)
# Distal ends of the radius and ulna (x, top y) and shaft half-widths (mm, adult), v2:
# below the proximal carpal row with room for the epiphyses; the radius-ulna spacing
# is fitted to the Koitka et al. ROI boxes (scripts/phantom_realism.py).
FOREARM_V2 = {"radius": (6.0, -16.5, 7.5), "ulna": (-21.0, -20.0, 4.3)}
# v2 proportions against the RSNA ROI geometry: metacarpals shorter, proximal phalanges
# longer than the v1 table (pip_over_mcp and dip_over_mcp were below the real range).
LENGTH_SCALE_V2 = {"metacarpal": 0.92, "proximal": 1.12, "middle": 1.08, "distal": 1.02}
# v2 shaft widths against the v1 table: the first v2 had 0.88; beside the real films of
# ../shared/realdata (docs/phantom.png) its children's shafts were too slim.
SHAFT_WIDTH_V2 = 1.1
# ROI half sizes (multiples of the v2 bone half-width; wrist in mm) fitted to the
# annotators' boxes.
ROI_HALF_V2 = {"MCP": 2.5 / SHAFT_WIDTH_V2, "PIP": 2.3 / SHAFT_WIDTH_V2, "DIP": 2.3 / SHAFT_WIDTH_V2, "radius": 2.2,
               "ulna": 2.0, "wrist": 30.0}


def smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def event(ages: tuple[float, float], male: bool) -> float:
    return ages[0] if male else ages[1]


def epiphysis_state(group: str, bone_age: float, male: bool, version: int = 1) -> tuple[float, float]:
    """(width ratio epiphysis/metaphysis, fusion 0..1) of an epiphysis group.

    The ratio is 0 before onset, grows to 1 at capping (then 1.05), and fusion goes from
    0 to 1 over the last 18 months before the fusion age. Version 2 grows fastest soon
    after onset (real films: the distal radius and the phalangeal epiphyses are about
    half as wide as their metaphyses by 3-4 years); version 1's S-curve is kept for the
    shipped model.
    """
    onset, cap, fuse = (event(e, male) for e in EPIPHYSIS_EVENTS[group])
    if bone_age < onset:
        return 0.0, 0.0
    t = (bone_age - onset) / (cap - onset)
    if version >= 2:
        ratio = 0.3 + 0.7 * min(t, 1.0) ** 0.6
    else:
        ratio = 0.28 + 0.72 * smoothstep(t)
    if bone_age > cap:
        ratio = 1.0 + 0.05 * smoothstep((bone_age - cap) / 12.0)
    fusion = smoothstep((bone_age - (fuse - 18.0)) / 18.0)
    return ratio, fusion


def radial_epiphysis_width_v4(bone_age: float, male: bool) -> float:
    """Version 4's distal radial epiphysis: its width over its metaphysis' end (0 before
    its onset). Version 2's growth (0.3 + 0.7 t^0.6) reaching 1 at
    ``RADIAL_EPIPHYSIS_WIDE_V4`` instead of at capping, never less than the other
    epiphyses' ratio (1.05 once capped); with ``RADIAL_EPIPHYSIS_WIDE_V4 = None``
    :func:`epiphysis_state`'s ratio."""
    ratio, _ = epiphysis_state("radius", bone_age, male, 2)
    if RADIAL_EPIPHYSIS_WIDE_V4 is None or ratio == 0.0:
        return ratio
    onset = event(EPIPHYSIS_EVENTS["radius"][0], male)
    return _width_v4(ratio, (bone_age - onset) / max(event(RADIAL_EPIPHYSIS_WIDE_V4, male) - onset, 1.0))


def ray_epiphysis_width_v4(group: str, bone_age: float, male: bool) -> float:
    """Version 4's epiphysis of a ray (``group`` of ``EPIPHYSIS_EVENTS`` but the radius and
    ulna): its width over its metaphysis' end as drawn. Version 2's growth (0.3 + 0.7
    t^0.6) reaching 1 at ``RAY_EPIPHYSIS_WIDE_V4`` of the way from onset to capping, never
    less than :func:`epiphysis_state`'s ratio (1.05 once capped); with
    ``RAY_EPIPHYSIS_WIDE_V4 = None`` 0.95 of that ratio (versions 2-3's drawing)."""
    ratio, _ = epiphysis_state(group, bone_age, male, 2)
    if RAY_EPIPHYSIS_WIDE_V4 is None or ratio == 0.0:
        return 0.95 * ratio
    onset, cap = (event(e, male) for e in EPIPHYSIS_EVENTS[group][:2])
    return _width_v4(ratio, (bone_age - onset) / max(RAY_EPIPHYSIS_WIDE_V4 * (cap - onset), 1.0))


def _width_v4(ratio: float, t: float) -> float:
    """Version 4's epiphysis width: version 2's growth 0.3 + 0.7 t^0.6 with ``t`` the
    fraction of the way to full width (1 from there), never below the capping ratio."""
    return max(0.3 + 0.7 * min(t, 1.0) ** 0.6, ratio)


# v2 carpal growth: time constant (months) of the early, fast enlargement.
CARPAL_GROWTH_TAU_V2 = 40.0


def carpal_size(name: str, bone_age: float, male: bool, version: int = 1) -> float:
    """Fraction of adult size of a carpal bone (0 before it ossifies).

    Version 2 grows fastest soon after onset and saturates (1 - exp(-t / 40 months),
    from 0.4 at onset to 1 at 14 (boys) / 12 (girls) years of bone age): against real
    films the capitate and hamate are already large ovals at 1 year, and the carpals are
    large, packed bones by 7-9 years.
    """
    onset = event(CARPAL_ONSET[name], male)
    if bone_age < onset:
        return 0.0
    if version >= 2:
        adult_at = event((168.0, 144.0), male)
        span = max(adult_at - onset, 1.0)
        tau = CARPAL_GROWTH_TAU_V2
        grown = (1.0 - math.exp(-min(bone_age - onset, span) / tau)) / (1.0 - math.exp(-span / tau))
        return 0.4 + 0.6 * grown
    adult_at = event((180.0, 156.0), male)
    return 0.22 + 0.78 * smoothstep((bone_age - onset) / max(adult_at - onset, 1.0)) ** 0.8


def stature_fraction(age_months: float, male: bool) -> float:
    """Body height at a chronological age over adult height (a smooth growth curve)."""
    a = max(age_months, 0.0) / 12.0
    # height (cm): birth 50, 1 y 75, 2 y 87, 5 y 109, 10 y 138, 14 y 163/160, adult 176/163
    ages = np.array([0, 1, 2, 5, 10, 12, 14, 16, 18, 25])
    boys = np.array([50, 75, 87, 110, 139, 150, 164, 173, 176, 176])
    girls = np.array([49, 74, 86, 109, 138, 151, 160, 162, 163, 163])
    h = np.interp(a, ages, boys if male else girls)
    return float(h / (176.0 if male else 163.0))


@dataclass
class Subject:
    """One synthetic child: the labels and the individual traits that shape the image."""

    bone_age: float  # months (the truth)
    male: bool
    chronological_age: float  # months
    size_scale: float  # adult hand scale times growth: mm multiplier of the adult model
    finger_spread: float  # radians added per ray away from the middle finger
    proportions: np.ndarray  # per-bone length multipliers (individual variation)
    width_scale: float
    hard_case: bool  # size disagrees with maturity (growth-disorder-like)
    # version 3's posture (0 = version 2's): radians the phalanges of rays 2-5 turn per
    # ray away from the middle finger at the MCP joints, and the thumb's phalanges turn
    # away from the index (:func:`sample_posture`)
    phalanx_spread: float = 0.0
    thumb_abduction: float = 0.0
    # version 4's per-subject draws (0 = the mean; :func:`sample_v4_traits`), in [-1, 1]:
    # the soft tissue's fullness, the carpals' density and the trabecular texture's
    # contrast (``film.LINE_CONTRAST_SPREAD``)
    soft_tissue: float = 0.0
    carpal_density: float = 0.0
    texture_contrast: float = 0.0


def sample_posture(subject: Subject, rng: np.random.Generator) -> Subject:
    """``subject`` with version 3's finger posture drawn from ``rng``.

    Fitted to the 327 RSNA hands of ``../shared/realdata/rsna_ossification_roi_boxes``
    (``scripts/phantom_realism.py``'s ``finger_fan`` and ``thumb_angle``): the angle
    between the index and little fingers (MCP -> DIP) is 39 degrees at the median, SD 14
    (5-95 %: 16-61), the thumb (MCP -> IP) against the middle finger 36, SD 14, the two
    correlated at 0.4; version 2's fixed rays gave 35 +- 5 and 35 +- 2.
    """
    z1, z2 = rng.standard_normal(2)
    spread = float(np.clip(0.037 + 0.125 * z1, -0.25, 0.35))
    thumb = float(np.clip(0.23 * (0.4 * z1 + 0.917 * z2), -0.4, 0.45))
    return replace(subject, phalanx_spread=spread, thumb_abduction=thumb)


def sample_v4_traits(subject: Subject, rng: np.random.Generator) -> Subject:
    """``subject`` with version 4's soft-tissue fullness, carpal density and trabecular
    contrast drawn from ``rng``, each uniform over its whole range (``PALM_V4 +-
    PALM_V4_SPREAD``, ``CARPAL_DENSITY_V4 +- CARPAL_DENSITY_V4_SPREAD``, the texture's
    amplitude times 1 +- ``film.LINE_CONTRAST_SPREAD``) and independent of age and sex: a
    model trained with fixed values read the first two as age (docs/phantom.md, section
    7). The first two are drawn first, as before the third was added."""
    soft, density, contrast = rng.uniform(-1.0, 1.0, 3)
    return replace(subject, soft_tissue=float(soft), carpal_density=float(density), texture_contrast=float(contrast))


def sample_subject(bone_age: float, male: bool, rng: np.random.Generator, hard_fraction: float = 0.03) -> Subject:
    """Individual traits for a subject of the given bone age and sex.

    The chronological age scatters around the bone age (SD 11 months, as the spread of
    bone age at a given age in healthy children); the hand's size follows the
    chronological age, so a model must read maturity, not size. A ``hard_fraction`` of
    subjects get a size that disagrees with their maturity by 2-4 years.
    """
    chrono = float(np.clip(bone_age + rng.normal(0.0, 11.0), 0.0, MAX_BONE_AGE + 24))
    hard = bool(rng.random() < hard_fraction)
    size_age = chrono
    if hard:
        size_age = float(np.clip(chrono + rng.choice([-1, 1]) * rng.uniform(24, 48), 0.0, 240.0))
    adult_hand = (1.0 if male else 0.91) * rng.normal(1.0, 0.05)
    scale = adult_hand * stature_fraction(size_age, male)
    return Subject(
        bone_age=float(bone_age),
        male=bool(male),
        chronological_age=chrono,
        size_scale=float(scale),
        finger_spread=float(rng.normal(0.05, 0.05)),
        proportions=rng.normal(1.0, 0.035, size=(5, 4)),
        width_scale=float(rng.normal(1.0, 0.06)),
        hard_case=hard,
    )


# ------------------------------------------------------------------ primitives
@dataclass
class LongBone:
    name: str
    p0: np.ndarray  # proximal end (mm)
    p1: np.ndarray  # distal end (mm)
    half_width: float
    flare0: float  # relative widening at p0
    flare1: float  # relative widening at p1
    kind: str = ""  # v2 shape model: metacarpal, phalanx, distal, radius, ulna ("" = v1 capsule)
    base_span: float = 0.15  # how far along the length (a fraction) the base's flare reaches
    base_round: float | None = None  # the base's rounding (a fraction of the half-width); None: the kind's
    base_plate: float = 1.0  # the end plate at p0, a fraction of the look's (the head's is the look's own)
    head_span: float = 0.15  # how far along the length (a fraction) the head's flare reaches


@dataclass
class Ellipse:
    name: str
    centre: np.ndarray
    axes: np.ndarray  # semi-axes (a along the rotated x, b along the rotated y)
    angle: float
    density: float = 1.0
    exponent: float = 2.0  # v2: superellipse exponent (2 = ellipse; larger = boxier)
    # v2 epiphyses: 0 = a disc; towards +-1 a cap whose side facing the metaphysis wraps
    # it (+: the side towards -y of the ellipse's own frame, i.e. proximal; -: distal)
    cap: float = 0.0
    # v3 carpals: the outline narrows linearly along its own y to 1 - |taper| of its
    # width at one end (+: the +y end, -: the -y end)
    taper: float = 0.0
    # v4 carpals: the taper taken from one side (+1: the own +x side kept straight, -1 the
    # -x side, 0 both narrowing alike)
    lean: float = 0.0
    # v4 carpals: the midline curves to y' = bend x'^2 (in units of the semi-axes): the
    # ends of the long axis swing towards +y, a crescent (lunate) or kidney (scaphoid)
    bend: float = 0.0
    # v4 distal radial and ulnar epiphyses: the +y half (the articular side) thickens along
    # the own x to 1 + slope x' + hollow x'^2 times (x' in units of the semi-axis, clamped
    # to +-1): a wedge rising to a styloid over a concave articular surface, the physis
    # side kept flat
    slope: float = 0.0
    hollow: float = 0.0
    # v4 carpals: flat articular facets, half-planes (nx, ny, t) of the hand frame (mm)
    # the bone keeps to, n . p <= t (:func:`carpal_facets`)
    facets: tuple[tuple[float, float, float], ...] = ()
    # v4's hook of the hamate: its path along the beam (mm; 0: the renderer's rule, the
    # short semi-axis) and a cortical wall of this thickness (mm; 0: the renderer's
    # fraction of the radius)
    depth: float = 0.0
    wall: float = 0.0


@dataclass
class Hand:
    """Everything the renderer needs, plus the maturity state for tests and labels."""

    subject: Subject
    bones: list[LongBone] = field(default_factory=list)
    ossicles: list[Ellipse] = field(default_factory=list)  # epiphyses, carpals, sesamoid
    # soft-tissue capsules: p0, p1 and the radius at each end (a tapered capsule when they
    # differ: the radius changes linearly along the axis; round ends of those radii)
    tissue: list[tuple[np.ndarray, np.ndarray, float, float]] = field(default_factory=list)
    # capsule index -> its own cross-section exponent p (path 2 r (1 - q^2/r^2)^p) in
    # place of the look's (version 4's forearm)
    tissue_sections: dict[int, float] = field(default_factory=dict)
    # capsule index -> how much deeper along the beam than wide it is: its path times this
    # (version 4's first web and thenar eminence, thick muscle under a web of v3's outline)
    tissue_depths: dict[int, float] = field(default_factory=dict)
    joints: dict[str, list[tuple[np.ndarray, float]]] = field(default_factory=dict)  # ROI centres, half size
    carpals_present: list[str] = field(default_factory=list)
    epiphyses: dict[str, tuple[float, float]] = field(default_factory=dict)  # group -> (ratio, fusion)
    sesamoid: bool = False
    # version 4: the distal radius this much (mm, adult scale) lower than version 3 draws
    # it (``WRIST_YOUNG_V4``); the renderer frames the forearm from there
    wrist_drop: float = 0.0

    def outline_points(self, round_ends: bool = False) -> np.ndarray:
        """Points on the soft-tissue outline (for the hand box). ``round_ends`` also
        samples each capsule's rounded ends between their tip and their sides (a bent
        thumb's or finger's tip can reach further out there; versions 1 and 2 keep the
        boxes their models were trained on)."""
        if not self.tissue:
            return np.zeros((0, 2))
        p0 = np.array([t[0] for t in self.tissue], dtype=np.float64)[:, None, :]  # capsules x 1 x 2
        p1 = np.array([t[1] for t in self.tissue], dtype=np.float64)[:, None, :]
        r0 = np.array([t[2] for t in self.tissue], dtype=np.float64)[:, None, None]
        r1 = np.array([t[3] for t in self.tissue], dtype=np.float64)[:, None, None]
        d = p1 - p0
        length = np.maximum(np.hypot(d[..., 0], d[..., 1]), 1e-9)[..., None]
        n = np.stack([-d[..., 1], d[..., 0]], axis=-1) / length
        u = d / length
        c = p0 + _OUTLINE_T[None, :, None] * d  # 5 points along each capsule's axis
        r = r0 + _OUTLINE_T[None, :, None] * (r1 - r0)  # the radius there
        pts = [c + r * n, c - r * n, p1 + r1 * u, p0 - r0 * u]
        if round_ends:
            ca, sa = _OUTLINE_COS[None, :, None], _OUTLINE_SIN[None, :, None]
            pts += [p1 + r1 * (ca * u + sa * n), p0 - r0 * (ca * u + sa * n)]
        return np.concatenate([q.reshape(-1, 2) for q in pts])


_OUTLINE_T = np.linspace(0, 1, 5)
_OUTLINE_COS = np.array([math.cos(a) for a in np.linspace(-0.5 * math.pi, 0.5 * math.pi, 9)[1:-1]])
_OUTLINE_SIN = np.array([math.sin(a) for a in np.linspace(-0.5 * math.pi, 0.5 * math.pi, 9)[1:-1]])


def _rot(v: np.ndarray, a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def ossicle_outline(e: Ellipse, n: int = 96) -> np.ndarray:
    """``n`` points (mm, hand frame) on an ossicle's outline: the superellipse of its
    semi-axes and exponent, widened back from its taper and bent along its midline as
    the renderer draws it, its articular side raised by ``e.slope`` and ``e.hollow``
    (the renderer maps a point of the film to the unit superellipse; this is that map's
    inverse). ``e.cap`` is not drawn (carpals have none); ``e.facets`` are not applied."""
    t = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    u = np.sign(c) * np.abs(c) ** (2.0 / e.exponent)
    v = np.sign(s) * np.abs(s) ** (2.0 / e.exponent)
    if e.taper:
        along = v if e.taper > 0 else -v
        w = abs(e.taper) * np.clip(0.5 * (along + 1.0), 0.0, 1.0)
        u = u * (1.0 - w) + e.lean * w
    if e.slope or e.hollow:
        uc = np.clip(u, -1.0, 1.0)
        v = np.where(v > 0.0, v * (1.0 + e.slope * uc + e.hollow * uc * uc), v)
    v = v + e.bend * u * u
    own = np.stack([u * e.axes[0], v * e.axes[1]], axis=1)
    ca, sa = math.cos(e.angle), math.sin(e.angle)
    return e.centre + own @ np.array([[ca, sa], [-sa, ca]])


_FACET_DIRECTIONS = np.stack([np.cos(np.arange(72) * math.pi / 36), np.sin(np.arange(72) * math.pi / 36)])


def carpal_facets(carpals: list[Ellipse], joint: float, overlap: frozenset = frozenset(),
                  fixed: frozenset = frozenset()) -> list[Ellipse]:
    """Cut each pair of neighbouring carpals nearer than ``joint`` (mm) to flat facets
    ``joint`` apart, as a PA film shows the intercarpal joints. The facets face along the
    pair's separating axis: of 72 directions ``u`` (5 degrees apart), the one along which
    the outlines are furthest apart (least deep into each other),
    ``gap(u) = (c_b - c_a) . u - h_a(u) - h_b(-u)`` with ``h`` an outline's support
    function about its centre. Where that gap is under ``joint``, each bone loses its
    share of ``joint - gap``, in proportion to its reach ``h``; a bone named in
    ``fixed`` keeps its outline and its neighbour takes the whole cut. The cuts are
    half-planes added to ``Ellipse.facets``; ``overlap`` names pairs (frozensets) left
    overlapping. Returns new ellipses in the same order."""
    support = [np.max((ossicle_outline(e) - e.centre) @ _FACET_DIRECTIONS, axis=0) for e in carpals]
    k = _FACET_DIRECTIONS.shape[1]
    opposite = (np.arange(k) + k // 2) % k
    cuts: list[list[tuple[float, float, float]]] = [list(e.facets) for e in carpals]
    for i, a in enumerate(carpals):
        for j in range(i + 1, len(carpals)):
            b = carpals[j]
            if frozenset({a.name, b.name}) in overlap or (a.name in fixed and b.name in fixed):
                continue
            gaps = (np.asarray(b.centre, float) - a.centre) @ _FACET_DIRECTIONS - support[i] - support[j][opposite]
            best = int(np.argmax(gaps))
            gap, h_a, h_b = float(gaps[best]), float(support[i][best]), float(support[j][opposite[best]])
            if gap >= joint:
                continue
            u = _FACET_DIRECTIONS[:, best]
            share_a = 0.0 if a.name in fixed else 1.0 if b.name in fixed else h_a / (h_a + h_b)
            cut = joint - gap
            if share_a > 0.0:
                cuts[i].append((float(u[0]), float(u[1]), float(u @ a.centre) + h_a - cut * share_a))
            if share_a < 1.0:
                cuts[j].append((float(-u[0]), float(-u[1]), float(-u @ b.centre) + h_b - cut * (1.0 - share_a)))
    return [replace(e, facets=tuple(c)) for e, c in zip(carpals, cuts)]


def eminence_v4(bone: LongBone, shape: tuple[float, float, float, float], scale: float,
                bone_age: float):
    """A version 4 eminence (``THENAR_EMINENCE_V4``, ``HYPOTHENAR_EMINENCE_V4``): a
    soft-tissue capsule of one radius (``shape[0]`` mm, ``shape[1]`` more at bone age 0
    fading to none by ``THENAR_EMINENCE_AGE_V4`` months, times ``scale``, the hand's
    soft-tissue scale and fullness) along the metacarpal ``bone``, from ``shape[3]`` of
    its length from its base back past the base by ``shape[2]`` radii."""
    radius, young, reach, along = shape
    r = scale * (radius + young * (1.0 - smoothstep(bone_age / THENAR_EMINENCE_AGE_V4)))
    d = bone.p1 - bone.p0
    u = d / max(float(np.hypot(*d)), 1e-9)
    return (bone.p0 - u * (reach * r), bone.p0 + along * d, r, r)


def finger_webs_v4(fingers, edge: float, share: float) -> list[tuple]:
    """Version 4's webs between neighbouring fingers (``FINGER_WEB_V4``): for each pair of
    ``fingers`` in order (MCP joint, PIP joint; index to little finger), a soft-tissue
    capsule from the mid-point of their MCP joints up between them, its radius ``share``
    of half the distance between the points ``edge`` of the way from each MCP to its PIP
    joint, its round top end (the web's free edge) reaching the mid-point of those two
    points; a web wider than that is long is one disc, its top there."""
    out = []
    for (m0, q0), (m1, q1) in zip(fingers, fingers[1:]):
        a, b = m0 + edge * (q0 - m0), m1 + edge * (q1 - m1)
        low, top = (m0 + m1) / 2, (a + b) / 2
        r = share * float(np.hypot(*(a - b))) / 2
        d = top - low
        reach = float(np.hypot(*d))
        end = top - d / max(reach, 1e-9) * r
        out.append((low if reach > r else end, end, r, r))
    return out


def _thenar_web(p0: np.ndarray, p1: np.ndarray, r: float, version: int):
    """One of the first web's two proximal soft-tissue capsules, from a point on the
    thumb's metacarpal to one on the index's, radius ``r``; in version 4 its thumb end
    moved ``(1 - THENAR_V4[1]) r`` towards the index (its round end reaching only
    ``THENAR_V4[1] r`` past the thumb's axis)."""
    if version >= 4 and THENAR_V4 is not None:
        d = p1 - p0
        p0 = p0 + d / max(float(np.hypot(*d)), 1e-9) * (1.0 - THENAR_V4[1]) * r
    return (p0, p1, r, r)


def cmc_facets(ossicles: list[Ellipse], bones: list[LongBone], joint: float) -> list[Ellipse]:
    """The distal carpal row kept ``joint`` mm short of the metacarpal bases that sit on
    it (``CMC_CARPAL``): each such carpal gets a facet across the metacarpal's axis,
    ``joint`` before the base's outline (which runs a third of its rounding past the base
    point, as :func:`boneage_fast.data.film.draw_long_bone` draws it). Returns the
    ossicles, the faceted ones replaced."""
    from .film import _END_ROUNDING

    at = {e.name: i for i, e in enumerate(ossicles)}
    out = list(ossicles)
    for b in bones:
        carpal = CMC_CARPAL.get(b.name)
        if carpal not in at:
            continue
        d = b.p1 - b.p0
        u = d / max(float(np.hypot(*d)), 1e-9)
        rounding = _END_ROUNDING[b.kind][0] if b.base_round is None else b.base_round
        past = rounding * b.half_width / 3.0
        e = out[at[carpal]]
        out[at[carpal]] = replace(e, facets=e.facets + ((float(u[0]), float(u[1]),
                                                         float(u @ b.p0) - past - joint),))
    return out


def build_hand(subject: Subject, version: int = 1) -> Hand:
    """Lay out bones, epiphyses, carpals and soft tissue for a subject.

    ``version`` 2 is phantom v2's anatomy: shaped long bones (flared bases and heads,
    waisted shafts; the renderer draws cortex and canal from ``LongBone.kind``),
    epiphyses that cap the metaphysis, packed superellipse carpals, the forearm and ROI
    boxes fitted to real hands. Version 3 is version 2 with: the finger posture of
    ``subject.phalanx_spread`` and ``subject.thumb_abduction`` (the phalanges turn at the
    MCP joints; version 2 ignores both), bone widths in proportion to the hand's size in
    plumper soft tissue, cartilaginous bone ends in young hands (the ossified shaft stops
    short of the joint), broad young palms, tapered carpal outlines, a thicker radial
    epiphysis nearer the carpus, thinner physes and joint spaces (docs/phantom.md). The
    ROI boxes keep version 2's fitted sizes. Version 4 is version 3 with mature carpals
    ``CARPAL_GROWTH_V4`` larger, cut apart along flat facets ``CARPAL_JOINT_V4`` apart
    where they meet each other or the radial epiphysis (:func:`carpal_facets`), lighter
    (``CARPAL_DENSITY_V4``, varied per subject by ``subject.carpal_density``) and curved
    (``CARPAL_BEND_V4``), a lighter radial epiphysis, radial and ulnar epiphyses that rise
    to their styloids (``RADIAL_STYLOID_V4``, ``ULNAR_STYLOID_V4``), epiphyses that grow
    into their metaphyses as they fuse (``FUSION_OVERLAP_V4``), the rays' bones drawn
    ``RAY_WIDTH_V4`` times as wide on version 3's layout (1.0 since section 7.4),
    young metacarpals, radius and ulna stouter (``YOUNG_WIDTH_V4``) and the ulna's distal
    end flared as the radius' (``ULNA_FLARE_V4``; section 7.7), a palm
    ``PALM_V4`` fuller (varied per subject by ``subject.soft_tissue``) whose capsule round
    each metacarpal narrows to ``PALM_TAPER_V4`` at the MCP joint, a wrist and forearm
    ``FOREARM_V4`` times that palm's fullness, and tapered fingers (soft-tissue capsules of two end
    radii): ``FINGER_V4`` times version 3's radius at the MCP joint (times the fullness),
    ``FINGER_TAPER_V4`` of that at the tip, ending ``FINGER_PAD_V4`` beyond the distal
    tuft, and metacarpal-head epiphyses at least ``METACARPAL_HEAD_V4`` as thick as wide,
    their extra thickness taken from the shaft's end (docs/phantom.md, sections 7-7.5), and
    thenar and hypothenar eminences along the thumb's and the little finger's metacarpals
    back past their bases (``THENAR_EMINENCE_V4``, ``HYPOTHENAR_EMINENCE_V4``,
    :func:`eminence_v4`; section 7.20), and young phalanges and fingers stout
    (``YOUNG_FINGERS_V4``, :func:`young_fingers_v4`; section 7.22).
    Versions 1 to 3 are kept unchanged for the experiments and models trained on them.
    """
    if version not in (1, 2, 3, 4):
        raise ValueError(f"version must be 1, 2, 3 or 4, got {version!r}")
    v2 = version >= 2
    s, male, ba = subject.size_scale, subject.male, subject.bone_age
    hand = Hand(subject)
    groups = ("metacarpal", "proximal", "middle", "distal")
    # Young hands are relatively broad: widths grow more slowly than lengths.
    sw = s ** 0.75
    # version 3: bones as slender as the real films' (width in proportion to length) in
    # plumper young hands (soft tissue broader still); the ROI boxes keep version 2's
    # fitted sizes
    bw = s if version >= 3 else sw
    tw = s ** 0.6 if version >= 3 else sw
    for g in EPIPHYSIS_EVENTS:
        hand.epiphyses[g] = epiphysis_state(g, ba, male, version)
    hand.joints = {"DIP": [], "PIP": [], "MCP": [], "Radius": [], "Ulna": [], "Wrist": []}
    w = subject.width_scale
    # version 4: a fuller palm, wrist and forearm, drawn per subject
    bulk = PALM_V4 + PALM_V4_SPREAD * subject.soft_tissue if version >= 4 else 1.0
    # version 4: young metacarpals, radius and ulna stouter (widths grow more slowly than lengths)
    growth = stature_fraction(subject.chronological_age, male)
    stubby = growth ** -YOUNG_WIDTH_V4 if version >= 4 else 1.0
    # version 4: young phalanges and fingers stout (section 7.22)
    fingers_wide = finger_tissue_v4(ba) if version >= 4 else 1.0  # the soft tissue (sections 7.22, 7.34)
    phalanges_wide = phalanx_width_v4(ba) if version >= 4 else 1.0  # the bones only (section 7.34)
    # joint space between bones (mm); version 3's as narrow as on the real films
    gap_v3 = (3.0 if version == 2 else 2.4) * s
    head_domes: dict[str, np.ndarray] = {}  # version 4: how far each metacarpal's drawn shaft stops short
    # version 4: metacarpals 2, 4 and 5 fanning wider from their bases (METACARPAL_FAN_V4)
    fan_share = _age_ramp(ba, METACARPAL_FAN_AGES_V4, 1.0, METACARPAL_FAN_GROWN_V4)
    fanned = [1.0, 1.0 + (METACARPAL_FAN_V4[0] - 1.0) * fan_share, 1.0,
              1.0 + (METACARPAL_FAN_V4[1] - 1.0) * fan_share, 1.0 + (METACARPAL_FAN_V4[2] - 1.0) * fan_share]
    young_palm = 1.0 + 0.35 * (1.0 - smoothstep(ba / 96.0))
    # version 4: metacarpals 2, 4 and 5's bases further from metacarpal 3's (METACARPAL_BASE_SPREAD_V4)
    base_spread, mc3_base_x = [1.0] * 5, 0.0  # per ray; the thumb's and metacarpal 3's stay 1
    if version >= 4 and METACARPAL_BASE_SPREAD_V4 is not None:
        factors, a0, a1 = METACARPAL_BASE_SPREAD_V4
        for ray, k in zip((1, 3, 4), factors):
            base_spread[ray] = _age_ramp(ba, (a0, a1), k, 1.0)
        mc3_base_x = RAY_BASE_X_V2[2] * s * young_palm  # metacarpal 3's base, as the loop places it
    web_at: list[tuple[np.ndarray, np.ndarray]] = []  # the fingers' MCP and PIP joints
    for ray in range(5):
        ray_angle, base_x, base_y = (RAY_ANGLE_V2, RAY_BASE_X_V2, RAY_BASE_Y_V2) if v2 else \
            (RAY_ANGLE, RAY_BASE_X, RAY_BASE_Y)
        ray_angle0 = ray_angle[ray] + subject.finger_spread * (2 - ray) * (0.6 if ray else 0.3)
        # version 3: the phalanges turn at the MCP joint
        bend = 0.0
        if version >= 3:
            bend = subject.thumb_abduction if ray == 0 else subject.phalanx_spread * (2 - ray) * 0.6
        if version >= 4:  # the metacarpals fan wider, the fingers keep their direction
            fan = THUMB_V4[0] if ray == 0 else (fanned[ray] - 1.0) * (ray_angle[ray] - ray_angle[2])
            ray_angle0 += fan
            bend -= fan
        base = np.array([base_x[ray], base_y[ray]]) * s
        if version >= 3:
            # a young palm is broad: the metacarpals sit apart in a carpus that is still
            # mostly cartilage (the RSNA MCP spread under 5 years, scripts/phantom_realism.py)
            base[0] *= young_palm
        p = base.copy()
        tip_radius = 0.0
        for gi, g in enumerate(groups):
            L = ADULT_LENGTHS[g][ray]
            if L is None:
                continue
            angle = ray_angle0 if g == "metacarpal" else ray_angle0 + bend
            axis = _rot(np.array([0.0, 1.0]), -angle)
            L = L * s * subject.proportions[ray, gi] * (LENGTH_SCALE_V2[g] if v2 else 1.0)
            if version >= 4 and ray == 0 and g == "metacarpal":
                L *= THUMB_V4[1]
            if version >= 4 and g != "metacarpal":
                L *= 1.0 + YOUNG_PHALANX_V4 * (1.0 - smoothstep(ba / YOUNG_PHALANX_AGE_V4))
            hw = 0.5 * ADULT_WIDTHS[g] * bw * w * (1.12 if ray == 0 else 1.0) * (0.9 if ray == 4 else 1.0)
            if v2:  # slimmer shafts (their flared ends keep the joints as wide)
                hw *= SHAFT_WIDTH_V2
            # version 4 draws the bones (and their epiphyses) wider on the same layout, young
            # metacarpals stubbier, and young phalanges stout (YOUNG_FINGERS_V4)
            stout = stubby if g == "metacarpal" else 1.0
            draw_hw = hw * RAY_WIDTH_V4 * stout if version >= 4 else hw
            if version >= 4 and g != "metacarpal":  # stout phalanges, shaft and ends alike (sections 7.22, 7.34)
                draw_hw *= phalanges_wide
            group = "thumb_metacarpal" if (g == "metacarpal" and ray == 0) else g
            ratio, fusion = hand.epiphyses[group]
            # Epiphysis at the base (phalanges, thumb metacarpal) or the head (metacarpals 2-5).
            at_head = g == "metacarpal" and ray != 0
            ep_thick = ((0.28 + 0.18 * ratio) if v2 else (0.2 + 0.14 * ratio)) * 2 * hw if ratio > 0 else 0.0
            room = 0.0  # version 3: the cartilaginous end the shaft has not reached
            if version >= 3:  # a thin dark line under a capping epiphysis, as on real films
                physis = (1.0 - fusion) * (1.1 - 0.6 * min(ratio, 1.0))
                # A young bone's epiphyseal end is cartilage: the ossified shaft stops
                # short of the joint by a quarter of the segment at birth (real infants'
                # phalanges are short stubs far apart; their metacarpals long shafts, so
                # a metacarpal head keeps little room), and the ossification centre sits
                # in the middle of that room. A mature end is version 2's layout.
                r1 = min(ratio, 1.0)
                room = ((0.04 * (1.0 - r1)) if at_head else (0.25 - 0.15 * r1)) * L + physis
            elif v2:  # the growth plate narrows as the epiphysis matures, then closes
                physis = (1.0 - fusion) * (1.5 - 0.7 * min(ratio, 1.0)) if ratio > 0 else 0.0
            else:
                physis = (1.0 - fusion) * 1.4 * s if ratio > 0 else 0.0
            spare = max(room - ep_thick - physis, 0.0) if version >= 3 else 0.0
            if not at_head and (ratio > 0 or room):
                ep_c = p + axis * (spare / 2 + ep_thick / 2)
                advance = max(room, ep_thick + physis)
                p = p + axis * advance
                L -= advance
            head_room = max(room, ep_thick + physis if ratio > 0 else 0.0)
            if at_head and version >= 3:
                # the head's cartilage inside the segment version 2 would draw
                L += (ep_thick + physis if ratio > 0 else 0.0) - head_room
            laid_out = None  # the ray's direction beyond a turned metacarpal's head
            if at_head and base_spread[ray] != 1.0:
                # the base moved sideways, the shaft turned to meet its head where it was
                laid_out = axis
                head = p + axis * L
                p = p + np.array([(base_spread[ray] - 1.0) * (p[0] - mc3_base_x), 0.0])
                d = head - p
                L = float(np.hypot(*d))
                turn = math.atan2(axis[0] * d[1] - axis[1] * d[0], axis @ d)
                axis = d / L
                angle -= turn
            p0 = p
            p1 = p + axis * L
            dome = 0.0
            if v2:
                kind = "metacarpal" if g == "metacarpal" else "distal" if g == "distal" else "phalanx"
                base_flare, head_flare = {"metacarpal": (0.22, 0.45), "phalanx": (0.45, 0.25),
                                          "distal": (0.45, 0.12)}[kind]
                base_span, base_round = 0.15, None
                if version >= 4 and at_head and METACARPAL_BASE_V4 is not None:
                    # a slimmer shaft, the head as wide as before, the base flaring wider over longer
                    slim = metacarpal_shaft_v4(ba)
                    draw_hw *= slim
                    head_flare = (1.0 + head_flare) / slim - 1.0
                    base_flare, base_span, base_round = METACARPAL_BASE_V4
                if stout != 1.0:  # version 4, young: a wider shaft flaring less, its ends as wide as before
                    base_flare = max((1.0 + base_flare) / stout - 1.0, 0.0)
                    head_flare = max((1.0 + head_flare) / stout - 1.0, 0.0)
                if version >= 4 and at_head and ratio > 0 and METACARPAL_HEAD_V4 > 0:
                    # version 4: the head's epiphysis (as wide as below) thickened into the shaft's end
                    width = 2.0 * draw_hw * (1.0 + head_flare) * 0.95 * ratio
                    dome = min(max(METACARPAL_HEAD_V4 * width - ep_thick, 0.0), 0.25 * L)
                    head_domes[f"{g}{ray + 1}"] = axis * dome
                base_plate = 1.0
                if version >= 4 and at_head and METACARPAL_BASE_PLATE_V4 is not None:
                    base_plate = METACARPAL_BASE_PLATE_V4
                hand.bones.append(LongBone(f"{g}{ray + 1}", p0, p1 - axis * dome, draw_hw, base_flare, head_flare,
                                           kind, base_span, base_round, base_plate))
            else:
                hand.bones.append(LongBone(f"{g}{ray + 1}", p0, p1, hw, 0.30, 0.22 if g != "distal" else 0.08))
            if ratio > 0:
                if at_head:
                    ep_c = p1 + axis * (physis + spare / 2 + ep_thick / 2)
                if v2:
                    # as wide as the metaphysis it sits on when it caps (ratio 1)
                    end_w = draw_hw * (1.0 + (head_flare if at_head else base_flare))
                    # version 4: as wide as its metaphysis long before it caps
                    across = ray_epiphysis_width_v4(group, ba, male) if version >= 4 else 0.95 * ratio
                    ax = np.array([end_w * across, ep_thick / 2])
                    if dome:  # its joint side where it was
                        ax[1] += dome / 2
                        ep_c = ep_c - axis * (dome / 2)
                    cap = smoothstep((ratio - 0.85) / 0.2) * (1.0 - fusion)
                    if version >= 4 and fusion > 0:  # fusing, it grows into the metaphysis
                        fused = FUSION_OVERLAP_V4 * fusion * s
                        ax = np.array([ax[0], ax[1] + fused / 2])
                        ep_c = ep_c + axis * (fused / 2 if not at_head else -fused / 2)
                    hand.ossicles.append(Ellipse(f"epi_{g}{ray + 1}", ep_c, ax, -angle, 1.0,
                                                 2.2 if at_head else 2.8, cap if at_head else -cap))
                else:
                    ax = np.array([hw * 1.25 * ratio, ep_thick / 2])
                    hand.ossicles.append(Ellipse(f"epi_{g}{ray + 1}", ep_c, ax, -angle, 1.0))
            if laid_out is not None:  # the joint and the finger where the layout put them
                axis = laid_out
            if at_head and (ratio > 0 or room):
                p1 = p1 + axis * (head_room if version >= 3 else physis + ep_thick)
            joint_hw = 1.7 * hw
            roi_hw = hw if version < 3 else hw * sw / bw
            gap = gap_v3  # the joint space after this bone
            if version >= 4 and g == "metacarpal":  # the films' narrower MCP joints (section 7.34)
                gap *= mcp_joint_v4(ba)
            if g == "metacarpal":
                hand.joints["MCP"].append((p1 + axis * gap / 2, ROI_HALF_V2["MCP"] * roi_hw if v2 else joint_hw))
            elif g == "proximal":  # thumb: IP joint
                hand.joints["PIP"].append((p1 + axis * gap / 2, ROI_HALF_V2["PIP"] * roi_hw if v2 else joint_hw))
            elif g == "middle":
                hand.joints["DIP"].append((p1 + axis * gap / 2, ROI_HALF_V2["DIP"] * roi_hw if v2 else joint_hw))
            p = p1 + axis * gap
            tip_radius = hw
        finger_r = (10.5 if ray == 0 else 9.0 if ray < 4 else 7.5) * tw * w * (1.1 if v2 else 1.0) * fingers_wide
        if version >= 4 and ray == 0 and THUMB_TISSUE_V4 is not None:  # a young thumb slimmer
            finger_r *= _age_ramp(ba, THUMB_TISSUE_V4[1:], THUMB_TISSUE_V4[0], 1.0)
        tip = p + axis * (2.5 * tip_radius)
        mcp = hand.joints["MCP"][-1][0]
        finger_end = tip - axis * finger_r * 0.6
        finger_r1 = finger_r
        if version >= 4:  # tapering to a fingertip's pad a few millimetres beyond the tuft
            fuller = finger_r * (FINGER_V4 * bulk / PALM_V4 - 1.0)
            finger_r = finger_r + fuller
            finger_r1 = finger_r * FINGER_TAPER_V4
            if FINGER_PAD_V4 is None:  # the fingertip where version 3's is
                finger_end = finger_end - axis * (fuller + finger_r1 - finger_r)
            else:
                finger_end = p - axis * gap + axis * (FINGER_PAD_V4 * s - finger_r1)
        hand.tissue.append((mcp, finger_end, finger_r, finger_r1))
        if ray > 0:  # where the finger webs attach (FINGER_WEB_V4)
            web_at.append((mcp, hand.joints["PIP"][-1][0]))
        # the palm (rays 2-5) and the thenar eminence (thumb) around each metacarpal
        palm_r = (15.0 if ray == 0 else 13.5) * tw * w * bulk
        mc_axis = _rot(np.array([0.0, 1.0]), -ray_angle0)
        # version 4: narrowing towards the MCP joint, so the palm's top runs into the
        # fingers' webs instead of ending in square shoulders over the metacarpal heads
        palm_r1 = palm_r * PALM_TAPER_V4 if version >= 4 else palm_r
        if version >= 4 and ray == 0 and THENAR_V4 is not None:  # thin soft tissue on the thumb's radial side
            palm_r, palm_r1 = palm_r * THENAR_V4[0], palm_r1 * THENAR_V4[0]
        hand.tissue.append((base - mc_axis * (4 * s), mcp - mc_axis * (2 * s), palm_r, palm_r1))
        if ray == 0 and ba >= event(SESAMOID_ONSET, male):
            mcp = hand.joints["MCP"][-1][0]
            hand.sesamoid = True
            hand.ossicles.append(Ellipse("sesamoid", mcp + _rot(np.array([-3.0, -1.5]), -ray_angle0) * s,
                                         np.array([2.2, 2.2]) * s, 0.0, 1.1))
    # palm, wrist and forearm soft tissue
    palm_r = 24.0 * tw * w * bulk
    arm_r = 27.0 * tw * w * bulk * (FOREARM_V4 * forearm_width_v4(ba) if version >= 4 else 1.0)
    hand.tissue.append((np.array([0.0, 20.0]) * s, np.array([-2.0, 60.0]) * s, palm_r, palm_r))
    hand.tissue.append((np.array([-3.0, -175.0]) * s, np.array([0.0, 10.0]) * s, arm_r, arm_r))
    if version >= 4 and FOREARM_SECTION_V4 is not None:
        hand.tissue_sections[len(hand.tissue) - 1] = FOREARM_SECTION_V4
    if v2:
        # the thenar eminence and the first web fill the space between the thumb and the
        # index ray (real films have no gap of background there)
        mc1 = next(b for b in hand.bones if b.name == "metacarpal1")
        mc2 = next(b for b in hand.bones if b.name == "metacarpal2")
        mc2 = replace(mc2, p1=mc2.p1 + head_domes.get("metacarpal2", 0.0))  # the layout's end (version 4)
        shape = FIRST_WEB_V4 if version >= 4 and FIRST_WEB_V4 is not None else FIRST_WEB
        for k, (f1, f2, radius) in enumerate(shape):
            a, b, web = mc1.p0 + f1 * (mc1.p1 - mc1.p0), mc2.p0 + f2 * (mc2.p1 - mc2.p0), radius * tw * w
            # the two proximal ones with their thumb ends moved in (version 4, THENAR_V4)
            hand.tissue.append(_thenar_web(a, b, web, version) if k < 2 else (a, b, web, web))
        if version >= 4 and WEB_V4 is not None:  # version 4: as thick as the palm, the outline kept
            for i in range(len(hand.tissue) - len(shape), len(hand.tissue)):
                hand.tissue_depths[i] = WEB_V4 * bulk
        if version >= 4 and THENAR_EMINENCE_V4 is not None:
            hand.tissue.append(eminence_v4(mc1, THENAR_EMINENCE_V4, tw * w * bulk, ba))
        if version >= 4 and HYPOTHENAR_EMINENCE_V4 is not None:
            mc5 = next(b for b in hand.bones if b.name == "metacarpal5")
            hand.tissue.append(eminence_v4(mc5, HYPOTHENAR_EMINENCE_V4, tw * w * bulk, ba))
    if version >= 4 and FINGER_WEB_V4 is not None:
        for web in finger_webs_v4(web_at, *FINGER_WEB_V4[:2]):
            hand.tissue_depths[len(hand.tissue)] = FINGER_WEB_V4[2]
            hand.tissue.append(web)
    # version 4: a young wrist longer (WRIST_YOUNG_V4): the radius' and ulna's least drop
    # below their adult place (mm, adult scale), the carpals a share of it
    wrist_drop = wrist_young_v4(ba) if version >= 4 else 0.0
    # carpals
    for name in CARPAL_ORDER:
        f = carpal_size(name, ba, male, version)
        if f <= 0:
            continue
        if v2:
            (cx, cy), (a, b), ang, p = CARPAL_SHAPE_V2[name]
            # The carpus packs tighter than the adult layout while it grows: centres
            # move towards the carpus centre by g >= every carpal's size fraction, so
            # the packing stays overlap-free (a homothety, then each bone shrinks
            # inside its own scaled outline).
            g = 0.35 + 0.65 * carpal_size("capitate", ba, male, version)
            cx, cy = CARPUS_CENTRE_V2[0] + (cx - CARPUS_CENTRE_V2[0]) * g, CARPUS_CENTRE_V2[1] + (cy - CARPUS_CENTRE_V2[1]) * g
            if wrist_drop > 0.0:  # a young carpus lower under the bases
                cy -= WRIST_YOUNG_V4[3] * wrist_drop
            # A young carpal is a rounder, smaller copy inside its adult outline.
            r = min(a, b) + (max(a, b) - min(a, b)) * f
            axes = np.array([min(a, r), min(b, r)]) * f * s
            expo = 2.0 + (p - 2.0) * f
            if version >= 4:  # version 4: young capitate and hamate as wide and round as the films'
                gx, gy, oval, dx, dy = young_carpus_v4(ba, name)
                axes = axes * np.array([gx, gy])
                expo += (2.0 - expo) * oval
                cx, cy = cx + dx, cy + dy
            # version 3: the adult outline's taper, reached as the bone takes its adult shape
            taper = CARPAL_TAPER_V3[name] * f if version >= 3 else 0.0
            density, bend, lean = 1.0, 0.0, 0.0
            if version >= 4:
                # version 4: a maturing carpal fills its place and more, as on a PA film
                # (the bones touch and their projections overlap by a few millimetres),
                # lighter, and the lunate and scaphoid take their curved shapes
                mature = smoothstep((f - 0.4) / 0.6)
                axes = axes * (1.0 + CARPAL_GROWTH_V4 * mature)
                density = CARPAL_DENSITY_V4 + CARPAL_DENSITY_V4_SPREAD * subject.carpal_density
                bend = CARPAL_BEND_V4.get(name, 0.0) * mature
                lean = CARPAL_LEAN_V4.get(name, 0.0) * mature
            hand.ossicles.append(Ellipse(name, np.array([cx, cy]) * s, axes, ang, density, expo, taper=taper,
                                         bend=bend, lean=lean))
            if name == "hamate" and version >= 4 and HAMATE_HOOK_V4 is not None:
                # version 4: a tube along the beam (HAMATE_HOOK_V4), growing in from its
                # onset (HAMATE_HOOK_ONSET_V4)
                a_mm, b_mm, depth, wall = HAMATE_HOOK_V4
                onset, grown = (event(ages, male) for ages in HAMATE_HOOK_ONSET_V4)
                grow = smoothstep((ba - onset) / (grown - onset))
                if grow > 0.0:
                    hand.ossicles.append(Ellipse("hamate_hook", (np.array([cx, cy]) + HAMATE_HOOK_AT_V4) * s,
                                                 np.array([a_mm, b_mm]) * s * (0.6 + 0.4 * grow), 0.3, density,
                                                 depth=depth * s * grow, wall=wall * s))
            elif name == "hamate" and f > 0.6:  # the hook, seen end-on as a ring
                hand.ossicles.append(Ellipse("hamate_hook", np.array([cx + 1.5, cy - 2.5]) * s,
                                             np.array([2.0, 2.4]) * s * f, 0.3, 0.6))
        else:
            (cx, cy), (a, b), ang = CARPAL_SHAPE[name]
            # Young carpals are round and sit nearer the centre of their adult place.
            roundness = 1 - 0.5 * (1 - f)
            r = math.sqrt(a * b)
            axes = np.array([r + (a - r) * roundness, r + (b - r) * roundness]) * f * s
            hand.ossicles.append(Ellipse(name, np.array([cx, cy]) * s, axes, ang, 1.0))
        hand.carpals_present.append(name)
    # radius and ulna shafts (distal ends at the origin / slightly lower), with epiphyses
    forearm = ((n, *FOREARM_V2[n]) for n in ("radius", "ulna")) if v2 else \
        (("radius", 6.0, 0.0, 8.0), ("ulna", -16.0, -3.5, 4.8))
    for name, x, lo, hw in forearm:
        if v2 and name == "ulna":
            # young forearms are relatively wide: the radius-ulna spacing (against the
            # wrist-MCP distance) falls from ~0.39 under 5 years to ~0.34 (RSNA ROI boxes)
            x = FOREARM_V2["radius"][0] + (x - FOREARM_V2["radius"][0]) * (1.0 + 0.25 * (1.0 - smoothstep(ba / 120.0)))
        ratio, fusion = hand.epiphyses[name]
        # version 3: 2 mm nearer the carpus (the proximal row sits on the radial
        # epiphysis), less the cartilage of an epiphysis not yet ossified
        cartilage = 6.0 * (1.0 - min(ratio, 1.0))
        if name == "radius":
            hand.wrist_drop = max(wrist_drop - cartilage, 0.0)
        cartilage = max(cartilage, wrist_drop)
        top = np.array([x, lo + ((2.0 - cartilage) if version >= 3 else 0.0)]) * s
        flare, draw_hw = 1.0 if name == "radius" else 0.3, hw
        span, splay = 0.15, 0.0
        if version >= 4:  # young forearm bones stouter, the ulna's end flared as the radius' (ROI boxes kept) ...
            draw_hw, flare = hw * stubby, flare if name == "radius" else ULNA_FLARE_V4
            # ... young metaphyses flaring like a trumpet, the shafts splaying apart
            flare, span, wider, splay = young_forearm_v4(ba, name, flare)
            draw_hw *= wider
        # the proximal end 140 mm down, moved away from the other bone by the splay
        away = (1.0 if name == "radius" else -1.0) * 140.0 * math.tan(math.radians(splay))
        if v2:
            hand.bones.append(LongBone(name, top + np.array([away, -140.0]) * s, top, draw_hw * bw * w, 0.0, flare,
                                       name, head_span=span))
        else:
            hand.bones.append(LongBone(name, top - np.array([0.0, 140.0]) * s, top, hw * sw * w, -0.2, 0.5))
        if ratio > 0:
            # version 4: the radial epiphysis as wide as its metaphysis long before it caps
            wide = RADIAL_EPIPHYSIS_WIDE_V4 is not None and version >= 4 and name == "radius"
            grow = radial_epiphysis_width_v4(ba, male) if wide else ratio
            # version 3: the distal radial epiphysis a thicker wedge reaching up to the
            # proximal carpal row (version 2 left a ~3 mm gap of soft tissue)
            thick = ((3.0 + 5.5 * grow) if version >= 3 and name == "radius" else (2.5 + 3.5 * ratio)) * s
            physis = FOREARM_PHYSIS_V4 if version >= 4 and FOREARM_PHYSIS_V4 is not None else 1.2
            c = top + np.array([0.0, (1 - fusion) * physis * s + thick / 2])
            if version >= 4:  # fusing, it grows into the metaphysis (a faint bright scar, no line)
                fused = FUSION_OVERLAP_V4 * fusion * s
                c, thick = c - np.array([0.0, fused / 2]), thick + fused
            if v2:
                end_w = draw_hw * bw * w * (1.0 + flare)
                cap = smoothstep((ratio - 0.85) / 0.2) * (1.0 - fusion)
                # the radial epiphysis is a wedge, thicker on the radial (thumb) side
                density, slope, hollow = 1.0, 0.0, 0.0
                if version >= 4:
                    # version 4: the articular side rises to the styloid (the radial one
                    # over the concave fossae of the proximal row), and the radial
                    # epiphysis is lighter
                    grown = min(grow, 1.0)
                    slope, hollow = (g * grown for g in (RADIAL_STYLOID_V4 if name == "radius" else ULNAR_STYLOID_V4))
                    if name == "radius":
                        density = RADIAL_EPIPHYSIS_DENSITY_V4
                hand.ossicles.append(Ellipse(f"epi_{name}", c, np.array([end_w * (grow if wide else 0.95 * ratio),
                                                                          thick / 2]),
                                             0.12 if name == "radius" else 0.0, density, 2.8, cap,
                                             slope=slope, hollow=hollow))
            else:
                hand.ossicles.append(Ellipse(f"epi_{name}", c, np.array([hw * 1.4 * ratio * sw * w, thick / 2]),
                                             0.08 if name == "radius" else 0.0, 1.0))
        key = "Radius" if name == "radius" else "Ulna"
        half = ROI_HALF_V2[name] * hw * s if v2 else 1.5 * hw * s
        hand.joints[key].append((top + np.array([0.0, 3.0]) * s, half))
    if version >= 4 and CARPAL_JOINT_V4 is not None:
        # flat facets with even joint spaces between neighbouring carpals and between the
        # proximal row and the radial epiphysis (the pisiform lies over the triquetrum on
        # a PA film: it has none)
        at = [i for i, e in enumerate(hand.ossicles)
              if (e.name in CARPAL_ONSET and e.name != "pisiform") or e.name == "epi_radius"]
        cut = carpal_facets([hand.ossicles[i] for i in at], CARPAL_JOINT_V4, CARPAL_OVERLAP_V4,
                            fixed=frozenset({"epi_radius"}))
        for i, e in zip(at, cut):
            hand.ossicles[i] = e
    if version >= 4 and CMC_JOINT_V4 is not None:
        hand.ossicles = cmc_facets(hand.ossicles, hand.bones, CMC_JOINT_V4)
    if v2:
        hand.joints["Wrist"].append((np.array([4.0, 9.0]) * s, ROI_HALF_V2["wrist"] * s))
    else:
        hand.joints["Wrist"].append((np.array([1.0, 11.0]) * s, 24.0 * s))
    return hand
