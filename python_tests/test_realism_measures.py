"""The measures of scripts/phantom_realism_real.py that compare phantoms with the real
films (shaft_contrast, palm_over_metacarpal, soft_bone_contrast, silhouette_span,
metacarpal_slenderness, capitate_texture, metaphysis_centre, arm_section, fine_grain,
edge_profile, physis_gap, shaft_edge, palm_flatness, outline_half_width, carpal_outline,
outline_figures, carpal_pair, grain_bands, striation_measure, joint_points, ray_joint) on
synthetic images and phantoms whose answer is known
from their construction."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from _scripts import load_script


def _script():
    return load_script("phantom_realism_real")


def _tube(canal: float, width: int = 80, cortex: int = 16, beside: float = 0.3, peak: float = 0.9,
          shape=(300, 400), centre: int = 200) -> np.ndarray:
    """A vertical shaft on a soft-tissue background: flat cortices at ``peak`` over a
    canal at ``canal``, edges one pixel sharp; black outside the soft tissue."""
    img = np.zeros(shape)
    img[:, 40:-40] = beside
    x0 = centre - width // 2
    img[:, x0:x0 + width] = peak
    img[:, x0 + cortex:x0 + width - cortex] = canal
    return img


@pytest.mark.parametrize("canal", [0.9, 0.75, 0.6, 0.45])
def test_shaft_contrast_is_the_canal_dip_over_the_cortex_height(canal):
    m = _script()
    got, width = m.shaft_contrast(_tube(canal), 200.0, 150.0, 0.0, 1.0)
    assert got == pytest.approx((0.9 - canal) / (0.9 - 0.3), abs=0.01)
    assert abs(width - 80) <= 2


def test_shaft_contrast_follows_the_axis_and_finds_an_off_centre_shaft():
    """A shaft running along x (axis (1, 0)) and one 25 pixels off the given point read
    as the vertical, centred one does."""
    m = _script()
    ref = m.shaft_contrast(_tube(0.6, shape=(400, 400)), 200.0, 150.0, 0.0, 1.0)
    turned = m.shaft_contrast(_tube(0.6, shape=(400, 400)).T.copy(), 150.0, 200.0, 1.0, 0.0)
    off = m.shaft_contrast(_tube(0.6, shape=(400, 400), centre=225), 200.0, 150.0, 0.0, 1.0)
    assert turned[0] == pytest.approx(ref[0], abs=1e-9) and turned[1] == ref[1]
    assert off[0] == pytest.approx(ref[0], abs=0.01) and abs(off[1] - ref[1]) <= 1


class _Shift:
    """Hand millimetres to pixels: a scale and an offset, y kept."""

    def __init__(self, scale, offset):
        self.scale, self.offset = scale, np.asarray(offset, float)

    def __call__(self, p):
        return np.asarray(p, float) * self.scale + self.offset


@pytest.mark.parametrize("with_epiphysis", [False, True])
def test_palm_over_metacarpal_is_the_silhouette_width_over_the_bone(with_epiphysis):
    """A rectangular palm 300 pixels wide over a vertical metacarpal 3 of 100 pixels (with
    a 10-pixel-thick epiphysis 5 pixels beyond its head, its length to the epiphysis'
    top: 115), a second silhouette beside it not counted: 3.0, or 300/115."""
    m = _script()
    img = np.zeros((400, 600), np.uint16)
    img[:, 100:400] = 20000  # the palm: columns 100-399
    img[:, 450:550] = 20000  # another silhouette, apart from the palm
    img[150:250, 240:260] = 50000  # the bone
    bone = SimpleNamespace(name="metacarpal3", p0=np.array([25.0, 25.0]), p1=np.array([25.0, 15.0]))
    ossicles = []
    if with_epiphysis:
        ossicles.append(SimpleNamespace(name="epi_metacarpal3", centre=np.array([25.0, 14.0]),
                                        axes=np.array([1.5, 0.5])))
    sample = SimpleNamespace(image=img, frame=_Shift(10.0, (0.0, 0.0)),
                             hand=SimpleNamespace(bones=[bone], ossicles=ossicles))
    length = 115.0 if with_epiphysis else 100.0
    assert m.palm_over_metacarpal(sample) == pytest.approx(299.0 / length, abs=1.5 / length)


def _palm_line_film(bg: float, soft: float, bone: float, shape=(300, 700), edges=(150, 550), bone_x=350,
                    others=(230, 290, 410, 470), width: int = 24) -> np.ndarray:
    """A film of ``bg`` with a palm of ``soft`` between columns ``edges`` holding five
    vertical metacarpals of ``bone`` (metacarpal 3 at ``bone_x``); a marker at 1.0 in a
    corner and a black corner (the collimator's edge) set the film's white and black, so
    that the measure's scaling to [0, 1] keeps the levels."""
    img = np.full(shape, bg)
    img[:, edges[0]:edges[1]] = soft
    for x in (bone_x, *others):
        img[:, x - width // 2:x + width // 2] = bone
    img[:20, :20] = 1.0
    img[-20:, -20:] = 0.0
    return img


@pytest.mark.parametrize("levels", [(0.2, 0.4, 0.6), (0.4, 0.6, 0.77), (0.05, 0.3, 0.9), (0.3, 0.33, 0.5)])
def test_soft_bone_contrast_is_bone_over_soft_against_soft_over_background(levels):
    """(bone - soft) / (soft - background) on a film whose three levels are known: the
    palm line from edge to edge through metacarpal 3, the others beside it not counted
    as soft tissue (the 10th percentile between them)."""
    m = _script()
    bg, soft, bone = levels
    got = m.soft_bone_contrast(_palm_line_film(bg, soft, bone), (150, 150), (549, 150), (350, 150))
    # the contrast does not depend on the film's scaling
    again = m.soft_bone_contrast(3000.0 * _palm_line_film(bg, soft, bone) + 700.0, (150, 150), (549, 150),
                                 (350, 150))
    assert again["contrast"] == pytest.approx(got["contrast"], rel=1e-6)
    assert got["background"] == pytest.approx(bg, abs=1e-6)
    assert got["soft"] == pytest.approx(soft, abs=1e-6)
    assert got["bone"] == pytest.approx(bone, abs=1e-6)
    assert got["contrast"] == pytest.approx((bone - soft) / (soft - bg), abs=1e-3)  # rounded to 3 places


def test_soft_bone_contrast_is_the_same_along_a_turned_line_and_with_its_ends_swapped():
    m = _script()
    img = _palm_line_film(0.2, 0.4, 0.6, shape=(700, 700))
    ref = m.soft_bone_contrast(img, (150, 350), (549, 350), (350, 350))
    turned = m.soft_bone_contrast(img.T.copy(), (350, 150), (350, 549), (350, 350))
    swapped = m.soft_bone_contrast(img, (549, 350), (150, 350), (350, 350))
    assert turned == ref and swapped["contrast"] == pytest.approx(ref["contrast"], rel=1e-6)
    # a bone point off metacarpal 3 by more than 8 % of the line: its neighbour's peak
    # (the same level here), a point on soft tissue far from any bone: the soft level
    img2 = _palm_line_film(0.2, 0.4, 0.6, others=(230, 470))
    assert m.soft_bone_contrast(img2, (150, 150), (549, 150), (300, 150))["bone"] == pytest.approx(0.4, abs=0.05)


def test_silhouette_span_finds_the_run_through_the_point():
    m = _script()
    img = np.zeros((100, 400))
    img[:, 50:200] = 0.5
    img[:, 260:300] = 0.5  # another run, apart
    assert m.silhouette_span(img, np.array([120.0, 50.0]), np.array([1.0, 0.0]), 300) == (-70, 79)
    assert m.silhouette_span(img, np.array([280.0, 50.0]), np.array([-1.0, 0.0]), 300) == (-19, 20)


@pytest.mark.parametrize("width,base,top", [(80, (200, 250), (200, 50)), (40, (200, 260), (200, 60)),
                                            (60, (200, 40), (200, 240))])
def test_metacarpal_slenderness_is_the_shaft_width_over_its_length(width, base, top):
    """A vertical shaft of known width, its ends given either way round: width / length."""
    m = _script()
    img = _tube(0.6, width=width)
    length = abs(top[1] - base[1])
    assert m.metacarpal_slenderness(img, base, top) == pytest.approx(width / length, abs=2.0 / length)


def test_hand_tones_frames_the_box_and_reads_the_hand_above_its_floor():
    """A film of 0.1 with a box (x 100-300, y 50-350) holding a hand of 0.6 over its left
    half and bone of 0.99 in a strip: the hand's pixels are those above the box's floor,
    the white share the strip's part of them, and the framing the box's."""
    m = _script()
    img = np.full((400, 500), 0.1)
    img[50:350, 100:200] = 0.6
    img[50:350, 150:160] = 0.99
    frac, p20, p50, p90, p99, white, top, width, aspect = m.hand_tones(img, (100, 50, 300, 350))
    assert frac == pytest.approx(0.5, abs=0.01)
    assert p20 == pytest.approx(0.6) and p50 == pytest.approx(0.6) and p99 == pytest.approx(0.99)
    assert white == pytest.approx(0.1, abs=0.01)
    assert top == pytest.approx(50 / 400) and width == pytest.approx(200 / 500) and aspect == pytest.approx(1.5)


def _textured_film(sigma: float, amplitude: float = 0.05, seed: int = 0, shape=(700, 700)) -> np.ndarray:
    """A film of 0.5 whose centre carries white noise blurred by a Gaussian of ``sigma``
    pixels (scaled to standard deviation ``amplitude``), a black band and a white band
    (each a tenth of the film) fixing its 1st and 99.5th percentiles at 0 and 1."""
    from scipy import ndimage

    noise = ndimage.gaussian_filter(np.random.default_rng(seed).normal(size=shape), sigma)
    img = 0.5 + amplitude * noise / noise.std()
    img[:70] = 0.0
    img[-70:] = 1.0
    return img


def test_capitate_texture_reads_the_grain_size_from_the_autocorrelation():
    """Gaussian-blurred white noise of sigma s has a Gaussian autocorrelation of sigma
    s sqrt(2): it falls to 0.5 at a lag of 2 s sqrt(ln 2) (1.67 s), high-passed far
    coarser (length / 25 = 44 pixels here) hardly changing it."""
    m = _script()
    length = 1100.0
    for sigma in (2.0, 4.0):
        got = m.capitate_texture(_textured_film(sigma), 350.0, 350.0, length)["acf_half"] * length / 100.0
        assert 2.0 * sigma * np.sqrt(np.log(2.0)) - 0.5 <= got <= 2.0 * sigma * np.sqrt(np.log(2.0)) + 1.5, (sigma, got)


def test_capitate_texture_amplitude_scales_and_skewness_flips_with_the_film():
    m = _script()
    length = 1100.0
    a = m.capitate_texture(_textured_film(2.0, 0.05), 350.0, 350.0, length)
    b = m.capitate_texture(_textured_film(2.0, 0.10), 350.0, 350.0, length)
    # the film's scale fixed by its bands, the mean grey 0.5: twice the grain, twice the figure
    assert b["amplitude"] == pytest.approx(2.0 * a["amplitude"], rel=1e-2)
    assert 0.01 < a["amplitude"] < 0.1 and abs(a["skew"]) < 0.2  # Gaussian noise: no skew
    # sparse bright specks: a right-skewed grain; the film inverted: skewed the other way
    img = np.full((700, 700), 0.4)
    img[:70], img[-70:] = 0.0, 1.0
    rng = np.random.default_rng(3)
    ys, xs = rng.integers(250, 450, 300), rng.integers(250, 450, 300)
    img[ys, xs] = 0.8
    up = m.capitate_texture(img, 350.0, 350.0, length)["skew"]
    down = m.capitate_texture(1.0 - img, 350.0, 350.0, length)["skew"]
    assert up > 1.0 and down == pytest.approx(-up, rel=1e-6)


def test_capitate_texture_octaves_follow_the_grain_size_and_kurtosis_its_levels():
    """The four octaves (DoG of 2^k and 2^(k+1) times length / 550: 2-4, 4-8, 8-16,
    16-32 pixels here): white noise blurred by sigma 2 puts its strength in the finer
    octaves, blurred by 8 in the coarser ones (its finest octave nearly empty); twice
    the grain, twice every octave. Kurtosis: Gaussian grain about 0; a two-level
    film of pores and walls (the noise thresholded) clearly negative; sparse specks
    strongly positive."""
    m = _script()
    length = 1100.0
    fine = m.capitate_texture(_textured_film(2.0), 350.0, 350.0, length)
    coarse = m.capitate_texture(_textured_film(8.0), 350.0, 350.0, length)
    oct_f = [fine[f"oct{k}"] for k in range(4)]
    oct_c = [coarse[f"oct{k}"] for k in range(4)]
    assert oct_f[0] > oct_f[3] * 3 and oct_c[3] > oct_c[0] * 3, (oct_f, oct_c)
    assert int(np.argmax(oct_c)) >= int(np.argmax(oct_f)) + 2
    twice = m.capitate_texture(_textured_film(2.0, 0.10), 350.0, 350.0, length)
    for k in range(4):
        assert twice[f"oct{k}"] == pytest.approx(2.0 * fine[f"oct{k}"], rel=1e-2)
    # a square of correlated Gaussian grain: each figure about 0 within a few tenths
    gauss = [m.capitate_texture(_textured_film(2.0, seed=k), 350.0, 350.0, length)["kurtosis"] for k in range(6)]
    assert abs(float(np.mean(gauss))) < 0.25 and max(abs(g) for g in gauss) < 0.7, gauss
    from scipy import ndimage

    noise = ndimage.gaussian_filter(np.random.default_rng(4).normal(size=(700, 700)), 3.0)
    lace = np.where(noise > 0, 0.55, 0.45)
    lace[:70], lace[-70:] = 0.0, 1.0
    assert m.capitate_texture(lace, 350.0, 350.0, length)["kurtosis"] < -0.5
    specks = np.full((700, 700), 0.4)
    specks[:70], specks[-70:] = 0.0, 1.0
    rng = np.random.default_rng(3)
    specks[rng.integers(250, 450, 300), rng.integers(250, 450, 300)] = 0.8
    assert m.capitate_texture(specks, 350.0, 350.0, length)["kurtosis"] > 3.0


def test_capitate_texture_rejects_a_square_off_the_film():
    m = _script()
    with pytest.raises(ValueError, match="leaves the film"):
        m.capitate_texture(_textured_film(2.0), 60.0, 350.0, 1100.0)


@pytest.mark.parametrize("seed, age", [(3, 30.0), (8, 70.0), (11, 120.0)])
def test_metaphysis_square_lies_in_the_radius_below_its_end(seed, age):
    """The young-metaphysis measure's square (side metacarpal 3's length / 7) centred on
    the radius' axis half a side and 2 % of the length below its drawn end: inside the
    drawn radius, on rotated films too."""
    from boneage_fast.data import film
    from boneage_fast.data.phantom import render

    m = _script()
    s = render(age, seed % 2 == 0, seed=seed, size=(900, 720), style="v4")
    length = m._metacarpal3_line(s)[2]
    c = m.metaphysis_centre(s, length)
    radius = next(b for b in s.hand.bones if b.name == "radius")
    mask = np.zeros(s.image.shape, np.float32)
    film.draw_long_bone(mask, radius, s.frame)
    h = int(length / 14)
    x, y = int(round(c[0])), int(round(c[1]))
    square = mask[y - h:y + h, x - h:x + h]
    assert square.shape == (2 * h, 2 * h) and (square > 0).mean() > 0.9
    end = s.to_pixels(radius.p1[None])[0]
    assert np.hypot(*(c - end)) == pytest.approx(length / 14.0 + 0.02 * length, rel=1e-9)


def _forearm_row(soft, shape=(120, 640), skin=(100, 520), bones=(230, 390), bone=0.9, background=0.05):
    """A film of one forearm standing upright: background, soft tissue from ``skin[0]`` to
    ``skin[1]`` whose grey at distance ``d`` from the nearer skin edge (as a fraction of
    the way to the nearer bone edge) is ``soft(d)``, and the bones between ``bones``."""
    img = np.full(shape, background)
    x = np.arange(shape[1], dtype=float)
    for (s, b) in ((skin[0], bones[0]), (skin[1], bones[1])):
        inside = (x >= min(s, b)) & (x < max(s, b))
        img[:, inside] = background + soft(np.abs(x[inside] - s) / abs(b - s))
    img[:, bones[0]:bones[1]] = bone
    return img


def test_arm_section_reads_a_flat_slab_as_full_and_a_ramp_by_its_formula():
    """``arm_section`` on synthetic forearms: a flat slab of soft tissue fills its
    section (1); a ramp rising from the skin, grey a + b f at the fraction f of the way
    to the bone, gives the mean of a + b f over f in [0.05, 0.9] over its mean over
    [0.75, 0.9] (written out here); the width and each side's soft tissue over the
    given length; no edges, no fill."""
    m = _script()
    length = 200.0
    slab = m.arm_section(_forearm_row(lambda f: 0.45 + 0 * f), (310.0, 60.0), (1.0, 0.0), length,
                         (230.0 - 310.0, 390.0 - 310.0))
    assert slab["fill"] == pytest.approx(1.0, abs=0.01)
    assert slab["width"] == pytest.approx((519 - 100) / length, abs=1.5 / length)
    assert slab["low_side"] == pytest.approx((230 - 100) / length, abs=1.5 / length)
    assert slab["high_side"] == pytest.approx((519 - 390) / length, abs=1.5 / length)
    a, b = 0.15, 0.45
    want = (a + b * (0.05 + 0.9) / 2) / (a + b * (0.75 + 0.9) / 2)
    ramp = m.arm_section(_forearm_row(lambda f: a + b * f), (310.0, 60.0), (1.0, 0.0), length,
                         (230.0 - 310.0, 390.0 - 310.0))
    assert ramp["fill"] == pytest.approx(want, abs=0.02) and ramp["fill"] < 0.85
    # a rounder section (a quarter ellipse rising from the skin) lies between them
    round_ = m.arm_section(_forearm_row(lambda f: a + b * np.sqrt(1 - (1 - f) ** 2)), (310.0, 60.0), (1.0, 0.0),
                           length, (230.0 - 310.0, 390.0 - 310.0))
    assert ramp["fill"] < round_["fill"] < slab["fill"]
    bare = m.arm_section(_forearm_row(lambda f: a + b * f), (310.0, 60.0), (1.0, 0.0), length)
    assert set(bare) == {"width"} and bare["width"] == pytest.approx(slab["width"], abs=1.5 / length)


def test_arm_section_reads_a_bone_at_the_skin_as_no_soft_tissue():
    """A bone reaching the skin on one side: that side's soft tissue is about 0 and gives
    no fill (the other side's is the film's); a turned film (the arm along x, read
    along y) reads the same."""
    m = _script()
    img = _forearm_row(lambda f: 0.3 + 0.2 * f, skin=(230, 520))
    got = m.arm_section(img, (310.0, 60.0), (1.0, 0.0), 200.0, (230.0 - 310.0, 390.0 - 310.0))
    assert abs(got["low_side"]) <= 1.5 / 200.0 and got["high_side"] > 0.6
    one_side = m.arm_section(_forearm_row(lambda f: 0.3 + 0.2 * f), (310.0, 60.0), (1.0, 0.0), 200.0,
                             (230.0 - 310.0, 390.0 - 310.0))
    assert got["fill"] == pytest.approx(one_side["fill"], abs=0.01)
    turned = m.arm_section(img.T.copy(), (60.0, 310.0), (0.0, 1.0), 200.0, (230.0 - 310.0, 390.0 - 310.0))
    assert turned == pytest.approx(got, abs=1e-9)


def test_fine_grain_reads_white_noise_through_its_kernel():
    """``fine_grain`` of white noise of sd s: s times the norm of (delta - the sampled
    Gaussian of one pixel), written out here from the Gaussian's formula (truncated at
    4 pixels, normalised); a flat film reads 0, a smooth ramp nearly 0, and a square
    whose margin leaves the film is refused."""
    m = _script()
    x = np.arange(-4, 5, dtype=float)
    g = np.exp(-x ** 2 / 2)
    g /= g.sum()
    k = np.outer(g, g)
    norm = math.sqrt((1 - k[4, 4]) ** 2 + (k ** 2).sum() - k[4, 4] ** 2)
    img = 0.5 + 0.02 * np.random.default_rng(6).standard_normal((400, 400))
    assert m.fine_grain(img, 200.0, 200.0, 120) == pytest.approx(0.02 * norm, rel=0.03)
    assert m.fine_grain(np.full((100, 100), 0.4), 50.0, 50.0, 20) == pytest.approx(0.0, abs=1e-12)
    ramp = np.add.outer(np.linspace(0, 1, 100), np.zeros(100))
    assert m.fine_grain(ramp, 50.0, 50.0, 20) < 1e-6
    with pytest.raises(ValueError, match="leaves the film"):
        m.fine_grain(img, 10.0, 200.0, 20)


def _rimmed_disc(rim_px: int, height: float, radius: int = 100, inside: float = 0.7, outside: float = 0.2,
                 shape=(400, 400)) -> np.ndarray:
    """A disc of ``radius`` pixels at ``inside`` over ``outside``, its outermost
    ``rim_px`` pixels at ``outside + height (inside - outside)``; a black border so the
    film's percentiles span more than the disc."""
    yy, xx = np.indices(shape)
    r = np.hypot(yy - 200.3, xx - 199.6)
    img = np.where(r < radius, inside, outside)
    img[(r < radius) & (r >= radius - rim_px)] = outside + height * (inside - outside)
    img[:10] = 0.0
    return img


@pytest.mark.parametrize("rim_px, height", [(6, 1.5), (12, 1.4), (4, 1.8)])
def test_edge_profile_reads_a_rim_by_its_height_and_width(rim_px, height):
    """Round a disc with a bright rim of known thickness and height (a metacarpal 3 of
    1000 pixels: the profile's step is one pixel, the width in hundredths is pixels /
    10): the peak is the rim's height over the interior, its width the rim's pixels
    (within a pixel either side), the contrast the disc over its surroundings on the
    film scaled between its 1st and 99.5th percentiles (computed here)."""
    m = _script()
    img = _rimmed_disc(rim_px, height)
    prof, contrast = m.edge_profile(img, 199.6, 200.3, 1000.0)
    fig = m.rim_figures(prof)
    assert fig["peak"] == pytest.approx(height, abs=0.03)
    assert rim_px - 1 <= fig["width"] * 10 <= rim_px + 1, fig
    lo, hi = np.percentile(img, [1.0, 99.5])
    assert contrast == pytest.approx(0.5 / (hi - lo), rel=0.02)
    inner = prof[:40 - rim_px - 1]  # the interior before the rim reads 1
    assert inner == pytest.approx(np.ones(inner.size), abs=0.02)
    assert np.all(np.abs(prof[45:]) < 0.02)


def test_edge_profile_without_a_rim_and_on_a_flat_film():
    """A plain disc has no rim (peak about 1, width 0), a disc with a dark edge neither;
    a film with no edge of 0.05 on its scale keeps no ray."""
    m = _script()
    plain = m.rim_figures(m.edge_profile(_rimmed_disc(0, 1.0), 199.6, 200.3, 1000.0)[0])
    assert plain["peak"] == pytest.approx(1.0, abs=0.02) and plain["width"] <= 0.1, plain
    dark = m.rim_figures(m.edge_profile(_rimmed_disc(8, 0.6), 199.6, 200.3, 1000.0)[0])
    assert dark["peak"] == pytest.approx(1.0, abs=0.02) and dark["width"] <= 0.1, dark
    flat = np.full((400, 400), 0.5)
    flat[:10] = 0.0
    assert m.edge_profile(flat, 200.0, 200.0, 1000.0) == (None, None)


@pytest.mark.parametrize("gap_px, axis", [(8, (0.0, -1.0)), (14, (0.6, 0.8)), (6, (-0.8, 0.6))])
def test_physis_gap_reads_a_dark_band_by_its_width_and_depth(gap_px, axis):
    """A bone (0.8) crossed by a dark band (0.5) ``gap_px`` pixels wide across ``axis``
    (a metacarpal 3 of 1000 pixels: the width in hundredths is pixels / 10): the width
    within a pixel either side, the depth 0.3; the guess may miss the band by a few
    pixels; the band's side of the axis does not matter (bands of 6 pixels and more: the
    measure's one-step smoothing leaves their depth)."""
    m = _script()
    axis = np.asarray(axis) / np.hypot(*axis)
    yy, xx = np.indices((400, 400), dtype=np.float64)
    along = (xx - 200.0) * axis[0] + (yy - 200.0) * axis[1]
    img = np.where(np.abs(along) < gap_px / 2.0, 0.5, 0.8)
    normal = np.array([-axis[1], axis[0]])
    points = np.array([200.0, 200.0]) + np.arange(-40.0, 41.0, 8.0)[:, None] * normal + 5.0 * axis
    got = m.physis_gap(img, points, axis, 1000.0)
    assert gap_px - 1 <= got["width"] * 10 <= gap_px + 1, got
    assert got["depth"] == pytest.approx(0.3, abs=0.02)
    assert m.physis_gap(img, points, -axis, 1000.0)["width"] == pytest.approx(got["width"], abs=0.1)


def test_physis_gap_of_a_fused_bone_is_zero():
    """No dark band (a fused bone, or one under 0.03 deep) reads width 0."""
    m = _script()
    img = np.full((300, 300), 0.8)
    img[140:146] = 0.78
    got = m.physis_gap(img, np.array([[150.0, 143.0], [120.0, 143.0]]), (0.0, -1.0), 1000.0)
    assert got["width"] == 0.0 and got["depth"] < 0.03


@pytest.mark.parametrize("angle", [0.0, 0.4, -1.2])
def test_joint_points_run_across_the_joint(angle):
    """Every 2 pixels from 0.04 of the length to one side of the centre to 0.04 to the
    other, perpendicular to the axis, centred on it."""
    m = _script()
    axis = np.array([math.sin(angle), -math.cos(angle)])
    pts = m.joint_points((300.0, 200.0), axis, 500.0)
    assert len(pts) == 21  # -20 .. +20 pixels
    assert np.allclose(pts.mean(axis=0), (300.0, 200.0))
    steps = np.diff(pts, axis=0)
    assert np.allclose(np.hypot(steps[:, 0], steps[:, 1]), 2.0) and np.allclose(steps @ axis, 0.0)


def test_ray_joint_lies_midway_between_the_ossified_ends():
    """PIP: midway between proximal phalanx 3's head and the bottom of middle phalanx 3's
    base epiphysis; MCP: between the top of metacarpal 3's head epiphysis and the bottom of
    proximal phalanx 3's base epiphysis (both computed here from the drawn parts); the
    unit axis from the lower bone's end to the upper's start; bad joints refused."""
    from boneage_fast.data.anatomy import build_hand, sample_subject

    m = _script()
    hand = build_hand(sample_subject(150.0, True, np.random.default_rng(3), hard_fraction=0.0), 4)
    b = {x.name: x for x in hand.bones}
    e = {x.name: x for x in hand.ossicles}
    for joint, lower, upper in (("PIP", "proximal3", "middle3"), ("MCP", "metacarpal3", "proximal3")):
        c, axis = m.ray_joint(hand, joint)
        u = (b[upper].p0 - b[lower].p1) / np.linalg.norm(b[upper].p0 - b[lower].p1)
        top = e[f"epi_{lower}"].centre + u * e[f"epi_{lower}"].axes[1] if joint == "MCP" else b[lower].p1
        bottom = e[f"epi_{upper}"].centre - u * e[f"epi_{upper}"].axes[1]
        assert np.allclose(axis, u) and np.allclose(c, (top + bottom) / 2)
        assert (bottom - top) @ u > 0  # a space, not an overlap
    with pytest.raises(ValueError, match="joint must be"):
        m.ray_joint(hand, "DIP")
    with pytest.raises(ValueError, match="has no"):
        m.ray_joint(SimpleNamespace(bones=[], ossicles=[]), "PIP")


def test_phantom_physis_refuses_a_radius_without_its_epiphysis():
    """Before the distal radial epiphysis appears (11-15 months) there is no physis:
    a clear error, not a reading of the soft tissue."""
    with pytest.raises(ValueError, match="no distal radial epiphysis"):
        _script().phantom_physis(6.0, True, 40_000, 300.0, "v4")


def _bar(height: float, ramp_px: float, axis, half_width: float = 60.0, beside: float = 0.3,
         canal: float | None = None) -> np.ndarray:
    """A bar (a shaft) ``half_width`` pixels either side of the line through (200, 200)
    along ``axis``, ``height`` over soft tissue at ``beside``, its edges linear ramps
    ``ramp_px`` pixels wide centred on the outline (with ``canal``: its middle third at
    that level over the soft tissue, a hollow shaft)."""
    axis = np.asarray(axis, np.float64) / np.hypot(*axis)
    yy, xx = np.indices((400, 400), dtype=np.float64)
    across = np.abs(-(xx - 200.0) * axis[1] + (yy - 200.0) * axis[0])
    level = np.clip((half_width + ramp_px / 2.0 - across) / max(ramp_px, 1e-9), 0.0, 1.0)
    img = beside + height * level
    if canal is not None:
        img = np.where(across < half_width / 3.0, beside + canal, img)
    return img


@pytest.mark.parametrize("axis", [(0.0, -1.0), (0.6, -0.8), (1.0, 0.0)])
@pytest.mark.parametrize("height,ramp_px", [(0.4, 2.0), (0.25, 5.0), (0.5, 8.0)])
def test_shaft_edge_reads_a_bar_by_its_height_and_ramp(height, ramp_px, axis):
    """A bar ``height`` over the soft tissue with linear edge ramps ``ramp_px`` wide (a
    metacarpal 3 of 1000 pixels: hundredths are pixels / 10): the height read within
    0.01, the 80-20 % width 0.6 of the ramp within a pixel and a half; along any axis,
    and either way along it."""
    m = _script()
    got = m.shaft_edge(_bar(height, ramp_px, axis), 200.0, 200.0, axis, 1000.0)
    assert got["height"] == pytest.approx(height, abs=0.01), got
    assert abs(got["width"] * 10 - 0.6 * ramp_px) <= 1.5, got
    back = m.shaft_edge(_bar(height, ramp_px, axis), 200.0, 200.0, -np.asarray(axis), 1000.0)
    assert back["height"] == pytest.approx(got["height"], abs=1e-9) and back["width"] == got["width"]


def test_shaft_edge_reads_the_cortex_not_the_canal():
    """A hollow shaft (its canal 0.1 over the soft tissue, its cortices 0.45): the edge's
    height is the cortex's, not the canal's or their mean; a wider bar (90 pixels
    either side) is found at its own edge; a flat film reads no height."""
    m = _script()
    got = m.shaft_edge(_bar(0.45, 3.0, (0.0, 1.0), canal=0.1), 200.0, 200.0, (0.0, 1.0), 1000.0)
    assert got["height"] == pytest.approx(0.45, abs=0.01), got
    wide = m.shaft_edge(_bar(0.3, 3.0, (0.0, 1.0), half_width=90.0), 200.0, 200.0, (0.0, 1.0), 1000.0)
    assert wide["height"] == pytest.approx(0.3, abs=0.01), wide
    flat = m.shaft_edge(np.full((400, 400), 0.4), 200.0, 200.0, (0.0, 1.0), 1000.0)
    assert abs(flat["height"]) < 1e-9


def test_phantom_seeds_are_the_first_processed_films():
    """phantom_seeds keeps the first seeds whose film is drawn processed (every seed it
    skips is drawn unprocessed), in order; with any_look, or for a style without an
    unprocessed look (v2), the plain run of seeds."""
    from boneage_fast.data.phantom import render

    m = _script()
    got = m.phantom_seeds(120.0, True, "v4", 40_000, 6)
    assert len(got) == 6 and got == sorted(got) and got[0] >= 40_000
    raw = lambda s: render(120.0, True, seed=s, size=(256, 256), style="v4").extra["unprocessed"]  # noqa: E731
    assert not any(raw(s) for s in got)
    skipped = sorted(set(range(40_000, got[-1])) - set(got))
    assert skipped and all(raw(s) for s in skipped)  # a fifth drawn unprocessed: some among 40 000-40 006+
    assert m.phantom_seeds(120.0, True, "v4", 40_000, 6, any_look=True) == list(range(40_000, 40_006))
    assert m.phantom_seeds(120.0, True, "v2", 7, 3) == [7, 8, 9]
    # raw: the first unprocessed ones instead, every seed skipped a processed film
    got = m.phantom_seeds(120.0, True, "v4", 40_000, 3, raw=True)
    assert len(got) == 3 and got == sorted(got) and all(raw(s) for s in got)
    assert not any(raw(s) for s in set(range(40_000, got[-1])) - set(got))
    with pytest.raises(ValueError, match="'v2' draws no unprocessed films"):
        m.phantom_seeds(120.0, True, "v2", 7, 3, raw=True)  # would never find one


def _palm(dip: float | None = None, width: int = 900, bone: int = 50) -> np.ndarray:
    """A hand's section on a black film (rows 100-300): soft tissue at 0.5 from column
    150 to 150 + ``width``, four bones (0.85, ``bone`` pixels wide) on it every 150
    pixels from its middle (a metacarpal 3 of 500 pixels), and with ``dip`` the soft
    tissue's last quarter at that grey (a thin first web)."""
    img = np.zeros((400, 1400))
    img[100:300, 150:150 + width] = 0.5
    if dip is not None:
        img[100:300, 150 + 3 * width // 4:150 + width] = dip
    mid = 150 + width // 2
    for k in (-1, 0, 1, 2):
        x = mid + 150 * k - bone // 2 - 75
        img[100:300, x:x + bone] = 0.85
    return img


@pytest.mark.parametrize("bone", [50, 110])
@pytest.mark.parametrize("dip", [None, 0.35, 0.25])
def test_palm_flatness_reads_the_soft_tissue_under_the_bones(dip, bone):
    """Soft tissue of one grey under four bones reads no drop and its grey, also where
    the bones (110 pixels wide, under a quarter of metacarpal 3's length) cover most of
    the palm's middle; a quarter of it at a lower grey (a thin web) reads the drop to
    that grey over the median; along either direction of the line."""
    m = _script()
    img = _palm(dip, bone=bone)
    got = m.palm_flatness(img, (600.0, 200.0), (1.0, 0.0), 500.0)
    want = 0.0 if dip is None else (0.5 - dip) / 0.5
    assert got["drop"] == pytest.approx(want, abs=0.01), got
    assert got["level"] == pytest.approx(0.5, abs=0.01), got
    back = m.palm_flatness(img, (600.0, 200.0), (-1.0, 0.0), 500.0)
    assert back["drop"] == pytest.approx(got["drop"], abs=0.01) and back["level"] == pytest.approx(got["level"], abs=0.01)


def test_palm_flatness_refuses_a_palm_narrower_than_half_a_metacarpal():
    """A silhouette under half metacarpal 3's length across (after its trimmed edges) is
    no palm: a clear error, not a figure."""
    m = _script()
    with pytest.raises(ValueError, match="under half its length"):
        m.palm_flatness(_palm(width=300), (300.0, 200.0), (1.0, 0.0), 500.0)


@pytest.mark.parametrize("flare0, span", [(0.22, 0.15), (0.75, 0.22), (0.4, 0.35)])
@pytest.mark.parametrize("u", [0.06, 0.15, 0.3, 0.5, 0.8])
def test_outline_half_width_is_the_drawn_bone_width(flare0, span, u):
    """``mcbase``'s phantom side, ``outline_half_width``, against the bone the film kernel
    draws: the drawn path's width across the axis at fraction ``u`` of its length (a
    vertical bone at 10 pixels per mm, away from its rounded ends) is twice it, within
    a pixel and a half."""
    from boneage_fast.data import film
    from boneage_fast.data.anatomy import LongBone

    scale = 10.0

    class Frame:
        m = np.eye(2)

        def __init__(self):
            self.scale = scale

        def __call__(self, p):
            return np.asarray(p, np.float64) * scale

    bone = LongBone("metacarpal3", np.array([20.0, 5.0]), np.array([20.0, 65.0]), 4.0, flare0, 0.5, "metacarpal",
                    span, 0.8)
    acc = np.zeros((720, 400), np.float32)
    film.draw_long_bone(acc, bone, Frame())
    row = int(round((5.0 + u * 60.0) * scale))
    width_px = np.count_nonzero(acc[row] > 0)
    assert width_px == pytest.approx(2 * _script().outline_half_width(bone, u) * scale, abs=1.5)


def test_mcbase_ratios_of_an_unflared_outline():
    """With no flare at either end the outline's ratio between two levels is the waist's
    alone, 1 - 0.1 sin^2(pi u) (film.draw_long_bone's slight waist), from either level."""
    from boneage_fast.data.anatomy import LongBone

    m = _script()
    bone = LongBone("b", np.zeros(2), np.array([0.0, 50.0]), 3.0, 0.0, 0.0, "metacarpal")
    for u in (0.05, 0.2, 0.5):
        assert m.outline_half_width(bone, u) == pytest.approx(3.0 * (1 - 0.1 * math.sin(math.pi * u) ** 2), rel=1e-12)


@pytest.mark.parametrize("taper, lean, angle", [(0.0, 0.0, 0.3), (-0.55, 0.0, -0.25), (-0.55, 1.0, -0.25),
                                                (0.3, -1.0, 0.8)])
def test_ossicle_middle_is_the_centroid_of_the_drawn_outline(taper, lean, angle):
    """ossicle_middle against the mean of grid points inside the outline (matplotlib's
    point-in-polygon test on a 0.05 mm grid): the centre itself for an untapered
    ellipse, towards the wide end with a taper, and towards the straight side as well
    with the taper taken from one side."""
    from matplotlib.path import Path

    from boneage_fast.data.anatomy import Ellipse, ossicle_outline

    e = Ellipse("capitate", np.array([3.0, -2.0]), np.array([7.0, 10.0]), angle, 1.0, 2.8, taper=taper, lean=lean)
    got = _script().ossicle_middle(e)
    ys, xs = np.mgrid[-14:12:0.05, -11:17:0.05]
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1)
    inside = pts[Path(ossicle_outline(e, 2000)).contains_points(pts)]
    np.testing.assert_allclose(got, inside.mean(axis=0), atol=0.02)
    own = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    shift = (got - e.centre) @ own  # in the ossicle's own frame
    if taper == 0.0:
        assert np.abs(shift).max() < 0.01
    else:
        assert shift[1] * np.sign(taper) < -0.3  # away from the narrowed end
        if lean:
            assert shift[0] * np.sign(lean) > 0.3  # towards the straight side
        else:
            assert abs(shift[0]) < 0.01


def test_framing_is_the_film_and_the_forearm_below_over_the_wrist_mcp_distance():
    """scripts/phantom_realism.py's framing: film height, the film below the lowest ROI
    box centre and above the highest, over the median wrist-to-MCP centre distance
    (written out for a hand whose MCP centres lie 40, 50 and 60 px from the wrist's:
    median 50)."""
    pr = load_script("phantom_realism")

    def box(name, cx, cy, half=5.0):
        return (name, cx - half, cy - half, cx + half, cy + half)

    wrist = (200.0, 300.0)
    mcps = [box("MCP", wrist[0] + d * math.sin(a), wrist[1] - d * math.cos(a))
            for d, a in ((40, -0.4), (50, -0.2), (50, 0.0), (60, 0.2), (60, 0.4))]
    boxes = [box("Wrist", *wrist, half=20.0), *mcps, box("Radius", 210.0, 340.0), box("Ulna", 180.0, 335.0)]
    got = pr.framing(boxes, 500.0)
    assert got["film_height"] == pytest.approx(500.0 / 50.0)
    assert got["film_below"] == pytest.approx((500.0 - 340.0) / 50.0)
    assert got["film_above"] == pytest.approx((300.0 - 60.0 * math.cos(0.2)) / 50.0)  # the highest MCP
    # the measure turns with the boxes' scale, not with where the hand sits across the film
    shifted = [(n, x0 + 33.0, y0, x1 + 33.0, y1) for n, x0, y0, x1, y1 in boxes]
    assert pr.framing(shifted, 500.0) == pytest.approx(got)
    doubled = [(n, 2 * x0, 2 * y0, 2 * x1, 2 * y1) for n, x0, y0, x1, y1 in boxes]
    assert pr.framing(doubled, 1000.0) == pytest.approx(got)
    # no wrist box, or a missing MCP box: no figure
    assert pr.framing(boxes[1:], 500.0) is None
    assert pr.framing([b for b in boxes if b is not mcps[2]], 500.0) is None


def test_mcp_row_features_name_the_thumb_and_order_the_fingers():
    """scripts/phantom_realism.py's mcp_row (index-to-little MCP), index_gap (index-to-
    middle) and thumb_index (thumb-to-index), over the median wrist-to-MCP distance, on a
    synthetic hand whose rays are written out here: the thumb is the ray with no DIP box,
    the fingers ordered by their MCPs' distance from the thumb's; shuffling the boxes,
    shifting and scaling the hand changes nothing; a hand whose thumb cannot be told
    (a DIP box on every ray) gives no figures."""
    pr = load_script("phantom_realism")

    def box(name, p, half=4.0):
        return (name, p[0] - half, p[1] - half, p[0] + half, p[1] + half)

    wrist = np.array([0.0, 0.0])
    # MCP centres (thumb, index, middle, ring, little), y up the film is -y
    mcp = {"thumb": (45.0, -40.0), "index": (25.0, -95.0), "middle": (2.0, -100.0), "ring": (-20.0, -97.0),
           "little": (-40.0, -88.0)}
    boxes = [box("Wrist", wrist, 15.0), box("Radius", (15.0, 30.0)), box("Ulna", (-15.0, 28.0))]
    for ray, (x, y) in mcp.items():
        boxes.append(box("MCP", (x, y)))
        boxes.append(box("PIP", (x * 1.15, y - 45.0)))  # the thumb's IP joint is its PIP box
        if ray != "thumb":
            boxes.append(box("DIP", (x * 1.25, y - 75.0)))
    L = float(np.median([np.hypot(*p) for p in mcp.values()]))

    def dist(a, b):
        return float(np.hypot(mcp[a][0] - mcp[b][0], mcp[a][1] - mcp[b][1]))

    got = pr.features(boxes)
    assert got["mcp_row"] == pytest.approx(dist("index", "little") / L)
    assert got["index_gap"] == pytest.approx(dist("index", "middle") / L)
    assert got["thumb_index"] == pytest.approx(dist("thumb", "index") / L)
    assert got["mcp_spread"] == pytest.approx(dist("thumb", "little") / L)
    # the radius (15, 30) from the middle MCP (2, -100), against its phalanx (0.3, -45)
    # (the PIP at (2.3, -145)): -(13, 130) . (0.3, -45) / |(0.3, -45)|^2
    phalanx = np.array([2.0 * 1.15 - 2.0, -45.0])
    assert got["radius_reach"] == pytest.approx(float(-np.array([13.0, 130.0]) @ phalanx) / float(phalanx @ phalanx))
    assert 2.8 < got["radius_reach"] < 2.9
    for k in ("mcp_row", "index_gap", "thumb_index", "radius_reach"):
        assert k in pr.FEATURES
    rng = np.random.default_rng(0)
    shuffled = [boxes[i] for i in rng.permutation(len(boxes))]
    moved = [(n, 3 * x0 + 70, 3 * y0 - 20, 3 * x1 + 70, 3 * y1 - 20) for n, x0, y0, x1, y1 in shuffled]
    again = pr.features(moved)
    for k in ("mcp_row", "index_gap", "thumb_index", "radius_reach"):
        assert again[k] == pytest.approx(got[k])
    extra_dip = boxes + [box("DIP", (mcp["thumb"][0] * 1.25, mcp["thumb"][1] - 75.0))]
    assert pr.features(extra_dip) is None


def test_tilt_is_the_wrist_to_middle_mcp_line_off_the_vertical():
    """scripts/phantom_realism.py's tilt on a synthetic hand whose rays are written out:
    the middle finger's MCP (the fingers ordered from the thumb, the ray without a DIP
    box) at (2, -100) from the wrist's centre reads atan(2 / 100); turning every box
    centre by an angle about any point adds that angle (positive: the fingers towards
    larger x); shuffling, shifting and scaling change nothing; the film's height is not
    used; without a wrist box, an MCP box or the DIP box that tells the thumb, no figure.
    tilt_figures: median, 90th percentile and share over 15 degrees of the sizes."""
    pr = load_script("phantom_realism")
    mcp = {"thumb": (45.0, -40.0), "index": (25.0, -95.0), "middle": (2.0, -100.0), "ring": (-20.0, -97.0),
           "little": (-40.0, -88.0)}

    def hand(turn=0.0, about=(0.0, 0.0), half=4.0):
        c, s = math.cos(turn), math.sin(turn)

        def box(name, p, h=half):
            x, y = p[0] - about[0], p[1] - about[1]
            x, y = about[0] + c * x - s * y, about[1] + s * x + c * y
            return (name, x - h, y - h, x + h, y + h)

        boxes = [box("Wrist", (0.0, 0.0), 15.0), box("Radius", (15.0, 30.0)), box("Ulna", (-15.0, 28.0))]
        for ray, (x, y) in mcp.items():
            boxes += [box("MCP", (x, y)), box("PIP", (x * 1.15, y - 45.0))]
            if ray != "thumb":
                boxes.append(box("DIP", (x * 1.25, y - 75.0)))
        return boxes

    base = math.degrees(math.atan2(2.0, 100.0))
    assert pr.tilt(hand())["tilt"] == pytest.approx(base)
    for turn, about in ((0.3, (0.0, 0.0)), (-0.2, (120.0, -40.0)), (0.45, (-30.0, 60.0))):
        assert pr.tilt(hand(turn, about), 999.0)["tilt"] == pytest.approx(base + math.degrees(turn))
    boxes = hand(0.1)
    rng = np.random.default_rng(2)
    moved = [(n, 2.5 * x0 - 40, 2.5 * y0 + 300, 2.5 * x1 - 40, 2.5 * y1 + 300)
             for n, x0, y0, x1, y1 in (boxes[i] for i in rng.permutation(len(boxes)))]
    assert pr.tilt(moved)["tilt"] == pytest.approx(pr.tilt(boxes)["tilt"])
    assert pr.tilt([b for b in boxes if b[0] != "Wrist"]) is None
    assert pr.tilt([b for b in boxes if b != next(x for x in boxes if x[0] == "MCP")]) is None
    assert pr.tilt(boxes + [("DIP", 50.0, -120.0, 58.0, -112.0)]) is None  # five DIP boxes: no thumb to tell
    fig = pr.tilt_figures([-20.0, 1.0, -2.0, 3.0, 16.0, -4.0, 5.0, 0.5, -0.5, 6.0])
    sizes = np.abs([-20.0, 1.0, -2.0, 3.0, 16.0, -4.0, 5.0, 0.5, -0.5, 6.0])
    assert fig == pytest.approx({"median": float(np.median(sizes)), "p90": float(np.percentile(sizes, 90)),
                                 "off": 0.2})
    report = pr.tilt_report([(10.0, {"tilt": 20.0}), (50.0, {"tilt": -3.0}), (200.0, {"tilt": 1.0})],
                            {"v4": [(12.0, {"tilt": 2.0})]})
    assert "| 0-36 | 1 | 20.0 / 20.0 / 1.000 | 2.0 / 2.0 / 0.000 |" in report
    assert "| 36-108 | 1 | 3.0 / 3.0 / 0.000 | - |" in report and "| all | 3 |" in report


def test_below_base_runs_along_metacarpal_3_over_its_length():
    """scripts/phantom_realism_real.py's carpus measure: a point's distance below
    metacarpal 3's base along the bone's axis over its length, whatever its offset across
    the axis (a leaning 3-4-5 bone of length 50)."""
    prr = _script()
    base, top = (10.0, 100.0), (40.0, 60.0)
    down, across = np.array([-0.6, 0.8]), np.array([0.8, 0.6])  # away from the top; across
    assert prr.below_base(base, top, base) == 0.0
    assert prr.below_base(base, top, top) == pytest.approx(-1.0)
    for along, off in ((25.0, 0.0), (25.0, 10.0), (40.0, -30.0)):
        p = np.array(base) + along * down + off * across
        assert prr.below_base(base, top, p) == pytest.approx(along / 50.0)


def test_crop_composition_is_the_base_in_the_box_and_the_box_below_it():
    """scripts/phantom_realism_real.py's crop: metacarpal 3's base at (base - top edge) /
    box height, the box below it in metacarpal 3 lengths (a 3-4-5 bone: length 50)."""
    prr = _script()
    got = prr.crop_composition((10.0, 20.0, 210.0, 420.0), (100.0, 300.0), (130.0, 260.0))
    assert got["base_in_box"] == pytest.approx((300.0 - 20.0) / 400.0)
    assert got["below_base"] == pytest.approx((420.0 - 300.0) / 50.0)
    # free of the box's horizontal place and of the film's scale
    assert prr.crop_composition((60.0, 20.0, 260.0, 420.0), (150.0, 300.0), (180.0, 260.0)) == pytest.approx(got)
    assert prr.crop_composition((20.0, 40.0, 420.0, 840.0), (200.0, 600.0), (260.0, 520.0)) == pytest.approx(got)
    with pytest.raises(ValueError, match="box"):
        prr.crop_composition((10.0, 420.0, 210.0, 20.0), (100.0, 300.0), (130.0, 260.0))
    with pytest.raises(ValueError, match="base and top"):
        prr.crop_composition((10.0, 20.0, 210.0, 420.0), (100.0, 300.0), (100.0, 300.0))


def test_phantom_crop_composition_reads_the_drawn_hand_and_its_framing(monkeypatch):
    """On a phantom the measure is free of the film's pixel size (the same film drawn at
    two sizes), its base lies where metacarpal 3's shaft starts (between the wrist's and
    the MCP joints' ROI box centres), and a young v4 hand framed with part of its extra
    film above the fingertips (YOUNG_ABOVE_V4) carries less film below that base than
    with all of it below."""
    from boneage_fast.data import phantom
    from boneage_fast.data.phantom import render

    prr = _script()
    a = prr.phantom_crop_composition(render(30.0, True, seed=4, size=(640, 512), style="v4"))
    b = prr.phantom_crop_composition(render(30.0, True, seed=4, size=(1280, 1024), style="v4"))
    assert a == pytest.approx(b, rel=0.02)
    s = render(30.0, True, seed=4, size=(640, 512), style="v4", nuisance=False)
    got = prr.phantom_crop_composition(s)
    x0, y0, x1, y1 = s.hand_box
    base_y = y0 + got["base_in_box"] * (y1 - y0)
    wrist = [(b[1] + b[3]) / 2 for n, *b in s.roi_boxes if n == "Wrist"]
    mcp = [(b[1] + b[3]) / 2 for n, *b in s.roi_boxes if n == "MCP"]
    assert len(wrist) == 1 and max(mcp) < base_y < wrist[0]
    monkeypatch.setattr(phantom, "YOUNG_ABOVE_V4", None)
    before = prr.phantom_crop_composition(render(30.0, True, seed=4, size=(640, 512), style="v4"))
    assert before["below_base"] > a["below_base"] + 0.2 and before["base_in_box"] < a["base_in_box"]


def _trapezoid(width_at) -> np.ndarray:
    """A [0, 1] film (500 x 400) of 0.05 with a silhouette of 0.6 whose edges at row y
    run from x = 200 - width_at(y)[0] to 200 + width_at(y)[1] (pixels inside, inclusive)."""
    img = np.full((500, 400), 0.05)
    for y in range(500):
        left, right = width_at(y)
        img[y, 200 - left:200 + right + 1] = 0.6
    return img


def test_wrist_profile_reads_each_side_of_the_axis_over_the_length():
    """An upright metacarpal 3 (base at y 300, top at y 200: length 100) in a silhouette
    that runs 80 px to the right and 50 to the left above y 300 and narrows by a pixel per
    row below it (to 40 / 30 at y 340): each level's half-widths are those rows' runs over
    100; with ``radial=-1`` the sides swap; a turned film reads the same."""
    prr = _script()

    def width_at(y):
        below = max(y - 300, 0)
        return max(50 - below, 30), max(80 - below, 40)

    img = _trapezoid(width_at)
    got = prr.wrist_profile(img, (200.0, 300.0), (200.0, 200.0), levels=(-0.25, 0.0, 0.2, 0.6))
    rows = (275, 300, 320, 360)
    assert got["radial"] == pytest.approx([width_at(y)[1] / 100 for y in rows])
    assert got["ulnar"] == pytest.approx([width_at(y)[0] / 100 for y in rows])
    swapped = prr.wrist_profile(img, (200.0, 300.0), (200.0, 200.0), radial=-1, levels=(-0.25, 0.0, 0.2, 0.6))
    assert swapped == {"radial": got["ulnar"], "ulnar": got["radial"]}
    # the film turned upside down: base and top turned with it, the same sides by the rule
    turned = prr.wrist_profile(img[::-1, ::-1], (199.0, 199.0), (199.0, 299.0), levels=(-0.25, 0.0, 0.2, 0.6))
    assert turned["radial"] == pytest.approx(got["radial"]) and turned["ulnar"] == pytest.approx(got["ulnar"])
    with pytest.raises(ValueError, match="radial"):
        prr.wrist_profile(img, (200.0, 300.0), (200.0, 200.0), radial=0)
    with pytest.raises(ValueError, match="base and top"):
        prr.wrist_profile(img, (200.0, 300.0), (200.0, 300.0))


def test_phantom_wrist_profile_finds_the_thumb_side_and_is_free_of_the_pixel_size(monkeypatch):
    """On a phantom the radial side is the thumb's: a v4 hand mirrored left to right
    (the frame's x axis flipped) reads the same sides; the same film at two sizes reads
    the same (without section 7.31's coarse grain, which is drawn per pixel: at 640 x 512
    it moves the soft skin edge by up to 3 pixels, 0.032 of metacarpal 3's length at one
    level); the thenar eminence (THENAR_EMINENCE_V4) widens the radial side at the
    metacarpal bases and leaves the ulnar side and the forearm a metacarpal length below."""
    from dataclasses import replace

    from boneage_fast.data import anatomy, film
    from boneage_fast.data.phantom import render

    prr = _script()
    s = render(60.0, False, seed=3, size=(640, 512), style="v4", nuisance=False)
    a = prr.phantom_wrist_profile(s)
    with monkeypatch.context() as mp:
        mp.setitem(film.LOOKS, "v4", replace(film.LOOKS["v4"], grain_fine=1.0, coarse_grain=0.0))
        sizes = [prr.phantom_wrist_profile(render(60.0, False, seed=3, size=size, style="v4", nuisance=False))
                 for size in ((640, 512), (1280, 1024))]
    for side in ("radial", "ulnar"):
        assert sizes[0][side] == pytest.approx(sizes[1][side], abs=0.03)
        assert a[side] == pytest.approx(sizes[0][side], abs=0.04)  # with the grain: 0.024 at most
    mirrored = SimpleNamespace(image=s.image[:, ::-1], hand=s.hand,
                               frame=lambda p: np.asarray(s.frame(p)) * np.array([-1.0, 1.0]) + np.array([511.0, 0.0]))
    m = prr.phantom_wrist_profile(mirrored)
    for side in ("radial", "ulnar"):
        assert m[side] == pytest.approx(a[side], abs=0.02)
    monkeypatch.setattr(anatomy, "THENAR_EMINENCE_V4", None)
    off = prr.phantom_wrist_profile(render(60.0, False, seed=3, size=(640, 512), style="v4", nuisance=False))
    levels = list(prr.WRIST_LEVELS)
    at_base, below = levels.index(0.0), levels.index(1.0)
    assert a["radial"][at_base] > off["radial"][at_base] + 0.1
    assert a["ulnar"] == pytest.approx(off["ulnar"], abs=0.02)
    assert a["radial"][below] == pytest.approx(off["radial"][below], abs=0.02)


def _radius_hand(exponent, slope, hollow, epi=True):
    bone = SimpleNamespace(name="radius", half_width=5.0, flare1=1.0)
    ossicles = [SimpleNamespace(name="epi_radius", axes=np.array([8.0, 2.0]), exponent=exponent, slope=slope,
                                hollow=hollow)] if epi else []
    return SimpleNamespace(bones=[SimpleNamespace(name="ulna", half_width=3.0, flare1=0.3), bone],
                           ossicles=[SimpleNamespace(name="epi_ulna", axes=np.array([1.0, 9.0]), exponent=2.0,
                                                     slope=0.0, hollow=0.0)] + ossicles)


def test_epiphysis_shape_by_its_formula():
    """Width: the epiphysis' span over the metaphysis' end (2 half_width (1 + flare1) = 20
    here); thickness: its greatest extent over the same. An ellipse (p = 2) without a
    wedge is 2b thick; with slope s = 0.5 its articular half is 1 + x / 2 times as thick,
    the thickness sqrt(1 - x^2) (2 + x / 2) b greatest where x^2 + 2x - 1/2 = 0, at
    x = sqrt(1.5) - 1 (2.0583 b)."""
    rr = _script()
    got = rr.epiphysis_shape(_radius_hand(2.0, 0.0, 0.0))
    assert got["width"] == pytest.approx(16.0 / 20.0) and got["thickness"] == pytest.approx(4.0 / 20.0, rel=1e-6)
    x = math.sqrt(1.5) - 1.0
    peak = math.sqrt(1.0 - x * x) * (2.0 + 0.5 * x) * 2.0
    got = rr.epiphysis_shape(_radius_hand(2.0, 0.5, 0.0))
    assert got["thickness"] == pytest.approx(peak / 20.0, rel=1e-5)
    # a boxier outline (p = 8) is nearly 2b thick over most of its width; the hollow adds
    # at the ends, where a boxy outline is still thick
    box = rr.epiphysis_shape(_radius_hand(8.0, 0.0, 0.0))["thickness"]
    assert box == pytest.approx(4.0 / 20.0, rel=1e-6)
    assert 1.1 * box < rr.epiphysis_shape(_radius_hand(8.0, 0.0, 0.5))["thickness"] < 1.25 * box
    assert rr.epiphysis_shape(_radius_hand(2.0, 0.0, 0.0, epi=False)) is None
    # a phalanx' base epiphysis against the base's flare, not the head's
    finger = SimpleNamespace(bones=[SimpleNamespace(name="proximal3", half_width=4.0, flare0=0.5, flare1=0.2)],
                             ossicles=[SimpleNamespace(name="epi_proximal3", axes=np.array([3.0, 1.0]), exponent=2.0,
                                                       slope=0.0, hollow=0.0)])
    got = rr.epiphysis_shape(finger, "proximal3")
    assert got["width"] == pytest.approx(6.0 / 12.0) and got["thickness"] == pytest.approx(2.0 / 12.0, rel=1e-6)
    head = SimpleNamespace(bones=[SimpleNamespace(name="metacarpal3", half_width=4.0, flare0=0.5, flare1=0.2)],
                           ossicles=[SimpleNamespace(name="epi_metacarpal3", axes=np.array([3.0, 1.0]),
                                                     exponent=2.0, slope=0.0, hollow=0.0)])
    assert rr.epiphysis_shape(head, "metacarpal3")["width"] == pytest.approx(6.0 / 9.6)
    with pytest.raises(ValueError, match="'metacarpal4'"):
        rr.epiphysis_shape(head, "metacarpal4")


def _finger_hand(with_epiphysis=True, tissue_off=0.0):
    """Metacarpal 3 from (0, 0) to (0, 40) (an epiphysis 3 thick on top: 43 long), proximal
    phalanx 3 from (0, 50) to (0, 80), half-width 3, under a finger capsule from (0, 45)
    to (tissue_off, 95) of radii 10 and 5; a second capsule far to the side."""
    bones = [SimpleNamespace(name="metacarpal3", p0=np.array([0.0, 0.0]), p1=np.array([0.0, 40.0]), half_width=4.0),
             SimpleNamespace(name="proximal3", p0=np.array([0.0, 50.0]), p1=np.array([0.0, 80.0]), half_width=3.0)]
    ossicles = [SimpleNamespace(name="epi_metacarpal3", centre=np.array([0.0, 41.5]), axes=np.array([4.0, 1.5]))] \
        if with_epiphysis else []
    tissue = [(np.array([30.0, 45.0]), np.array([30.0, 95.0]), 9.0, 9.0),
              (np.array([0.0, 45.0]), np.array([tissue_off, 95.0]), 10.0, 5.0)]
    return SimpleNamespace(bones=bones, ossicles=ossicles, tissue=tissue)


def test_finger_build_is_the_shaft_and_the_capsule_at_mid_phalanx_over_metacarpal_3():
    """At the phalanx' mid-point (0, 65), 20 of the capsule's 50 from its start: its
    radius 10 - 5 * 20 / 50 = 8; over metacarpal 3's 43 (the epiphysis' top) or 40
    (none)."""
    rr = _script()
    got = rr.finger_build(_finger_hand())
    assert got["bone"] == pytest.approx(6.0 / 43.0) and got["finger"] == pytest.approx(16.0 / 43.0)
    got = rr.finger_build(_finger_hand(with_epiphysis=False))
    assert got["bone"] == pytest.approx(6.0 / 40.0) and got["finger"] == pytest.approx(16.0 / 40.0)
    with pytest.raises(ValueError, match="'proximal4'"):
        rr.finger_build(_finger_hand(), "proximal4")
    with pytest.raises(ValueError, match="no soft-tissue capsule"):
        rr.finger_build(_finger_hand(tissue_off=20.0))  # its axis passes 8 mm from the point


def test_box_rows_is_the_hand_share_of_each_band():
    """A film of 0.1 whose box (x 0-200, y 0-400) holds a hand of 0.5 over its left
    quarter in the top half and all of it in the bottom half: 0.25 then 1 per band."""
    rr = _script()
    img = np.full((400, 300), 0.1)
    img[:200, :50] = 0.5
    img[200:400, :200] = 0.5
    img[:, 250:] = 0.0  # outside the box: no part in it
    got = rr.box_rows(img, (0, 0, 200, 400))
    assert got == pytest.approx([0.25] * 4 + [1.0] * 4, abs=0.01)
    with pytest.raises(ValueError, match="too small"):
        rr.box_rows(img, (0, 0, 200, 6))


def _metacarpal(axis, plate: float, plate_len: float = 0.03, length: float = 400.0, floor: float = 0.1):
    """A film of ``floor`` with a bar 60 pixels wide at 0.5 from (300, 500) along the unit
    ``axis`` for ``length`` pixels (metacarpal 3 from its base), its first ``plate_len``
    of the length at ``plate`` instead, soft tissue at 0.3 behind the base: (film, base,
    top)."""
    y, x = np.mgrid[0:1000, 0:1000].astype(np.float64)
    ax = np.asarray(axis, np.float64)
    base = np.array([500.0, 600.0])
    along = ((x - base[0]) * ax[0] + (y - base[1]) * ax[1]) / length
    across = np.abs((x - base[0]) * -ax[1] + (y - base[1]) * ax[0])
    img = np.full(x.shape, floor)
    img[(across < 30) & (along < 0)] = 0.3
    img[(across < 30) & (along >= 0) & (along <= 1)] = 0.5
    img[(across < 30) & (along >= 0) & (along < plate_len)] = plate
    return img, base, base + ax * length


@pytest.mark.parametrize("axis", [(0.0, -1.0), (0.6, -0.8), (-0.28, -0.96)])
@pytest.mark.parametrize("plate", [0.5, 0.65, 0.9])
def test_base_plate_is_the_base_peak_over_the_shaft_above_the_floor(axis, plate):
    """A plate of grey ``plate`` over the base's first 0.03 of the length on a shaft of 0.5,
    the floor at 0.1 (subtracted first, as the part's films' floor is 0): (plate - 0.1) /
    (0.5 - 0.1) (1 for no plate); along any axis; a plate beyond 0.08 of the length is
    not the base's."""
    rr = _script()
    img, base, top = _metacarpal(axis, plate)
    assert rr.base_plate(img - 0.1, base, top) == pytest.approx((plate - 0.1) / 0.4, abs=0.01)
    far, base, top = _metacarpal(axis, 0.5)  # no plate at the base ...
    y, x = np.mgrid[0:1000, 0:1000]
    ax = np.asarray(axis)
    along = ((x - base[0]) * ax[0] + (y - base[1]) * ax[1]) / 400.0
    far[(np.abs(far - 0.5) < 1e-9) & (along > 0.1) & (along < 0.13)] = 0.9  # ... a band 0.10-0.13 up
    assert rr.base_plate(far - 0.1, base, top) == pytest.approx(1.0, abs=0.01)


def test_base_plate_refuses_a_point_and_a_shaft_at_the_floor():
    rr = _script()
    img, base, top = _metacarpal((0.0, -1.0), 0.9)
    with pytest.raises(ValueError, match="needs a length"):
        rr.base_plate(img, base, base + 0.5)
    with pytest.raises(ValueError, match="not above the film's floor"):
        rr.base_plate(img - 0.5, base, top)


# ------------------------------------------------ metacarpal bases' spacing (section 7.24)
def test_base_spacing_by_formula_and_free_of_scale_and_side():
    xs, length = [100.0, 130.0, 171.0, 205.0], 120.0
    want = [(205 - 171) / 120, (171 - 130) / 120, (130 - 100) / 120]
    assert _script().base_spacing(xs, length) == pytest.approx(want, abs=1e-12)
    assert _script().base_spacing([3 * x + 7 for x in xs], 3 * length) == pytest.approx(want, abs=1e-12)
    assert _script().base_spacing([-x for x in xs], length) == pytest.approx(want, abs=1e-12)  # a mirrored film


@pytest.mark.parametrize("xs, length", [([1.0, 2.0, 3.0], 10.0), ([1.0, 2.0, np.nan, 4.0], 10.0),
                                        ([1.0, 2.0, 3.0, 4.0], 0.0), ([1.0, 2.0, 3.0, 4.0], -5.0),
                                        ([1.0, 2.0, 3.0, 4.0], float("nan"))])
def test_base_spacing_refuses_bad_input(xs, length):
    with pytest.raises(ValueError, match="xs|length"):
        _script().base_spacing(xs, length)


@pytest.mark.parametrize("turn", [0.0, 0.3, -1.1])
def test_hand_base_spacing_is_across_metacarpal_3s_axis(turn):
    """Bases placed at known distances across a turned metacarpal 3 (and along it, which
    must not count) read back over its length (base to the shaft's end: no epiphysis)."""
    from types import SimpleNamespace

    c, s = np.cos(turn), np.sin(turn)
    along, across = np.array([-s, c]), np.array([c, s])
    origin, length = np.array([5.0, -3.0]), 40.0
    bones = [SimpleNamespace(name="metacarpal3", p0=origin, p1=origin + length * along)]
    for name, off, up in (("metacarpal2", 11.0, 2.0), ("metacarpal4", -9.0, -1.5), ("metacarpal5", -17.0, -4.0)):
        p0 = origin + off * across + up * along
        bones.append(SimpleNamespace(name=name, p0=p0, p1=p0 + length * along))
    got = _script().hand_base_spacing(SimpleNamespace(bones=bones, ossicles=[]))
    assert got == pytest.approx([11.0 / 40.0, 9.0 / 40.0, 8.0 / 40.0], abs=1e-12)


def _ellipse_film(centre, axes, tilt, shape=(400, 400), bone=0.8, soft=0.35, blur=1.5, trabeculae=0.0,
                  seed=0) -> np.ndarray:
    """A bright ellipse (semi-axes ``axes``, its first axis ``tilt`` radians from +x) on a
    soft-tissue grey, blurred by a Gaussian of ``blur`` pixels; with ``trabeculae`` a
    grain of that strength inside it (dark and bright specks a few pixels wide)."""
    from scipy import ndimage

    ys, xs = np.mgrid[:shape[0], :shape[1]].astype(np.float64)
    dx, dy = xs - centre[0], ys - centre[1]
    c, s = math.cos(tilt), math.sin(tilt)
    inside = ((dx * c + dy * s) / axes[0]) ** 2 + ((-dx * s + dy * c) / axes[1]) ** 2 <= 1.0
    img = np.where(inside, bone, soft)
    if trabeculae:
        grain = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal(shape), 2.0)
        img = img + np.where(inside, trabeculae * grain / grain.std(), 0.0)
    return ndimage.gaussian_filter(img, blur)


def _ellipse_extent(axes, tilt, direction) -> float:
    """The full extent of an ellipse along a unit ``direction`` (its support function,
    twice): 2 sqrt(a^2 (u . e1)^2 + b^2 (u . e2)^2)."""
    e1, e2 = np.array([math.cos(tilt), math.sin(tilt)]), np.array([-math.sin(tilt), math.cos(tilt)])
    u = np.asarray(direction, np.float64)
    return 2.0 * math.sqrt((axes[0] * (u @ e1)) ** 2 + (axes[1] * (u @ e2)) ** 2)


@pytest.mark.parametrize("axes, tilt, trabeculae", [((30.0, 45.0), 0.0, 0.0), ((40.0, 28.0), 0.5, 0.0),
                                                    ((25.0, 25.0), 0.0, 0.08), ((35.0, 50.0), -0.3, 0.08)])
def test_carpal_outline_finds_an_ellipse_and_its_figures(axes, tilt, trabeculae):
    """``carpal_outline`` from a point off the middle of a blurred ellipse (with a grain
    inside it, too) finds its outline: through ``outline_figures`` the extents along and
    across a tilted axis within 2 % of the formula's, the middle within a pixel, the area
    within 4 % of pi a b."""
    m = _script()
    centre = (190.0, 210.0)
    img = _ellipse_film(centre, axes, tilt, trabeculae=trabeculae)
    length = 200.0  # "metacarpal 3": the rays reach 60 pixels, past every ellipse here
    pts = m.carpal_outline(img, (centre[0] + 6.0, centre[1] - 4.0), length)
    assert pts.shape == (90, 2)
    axis = np.array([math.sin(0.2), -math.cos(0.2)])  # up the film, leaning right
    got = m.outline_figures(pts, axis, length)
    across = np.array([-axis[1], axis[0]])
    assert got["len"] == pytest.approx(_ellipse_extent(axes, tilt, axis) / length, rel=0.02)
    assert got["wid"] == pytest.approx(_ellipse_extent(axes, tilt, across) / length, rel=0.02)
    assert np.hypot(*(got["middle"] - centre)) < 1.0
    assert got["area"] == pytest.approx(math.pi * axes[0] * axes[1] / length ** 2, rel=0.04)


def test_outline_figures_of_a_rectangle_by_formula():
    """A 40 x 10 rectangle (its long side along the axis) with interior points, which the
    convex hull drops: extents 40 and 10 over the length, area 400 over its square, the
    middle at its centre; turned by 90 degrees the extents swap."""
    m = _script()
    corners = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 40.0], [0.0, 40.0]])
    pts = np.vstack([corners, [[5.0, 20.0], [3.0, 7.0]]]) + [100.0, 50.0]
    got = m.outline_figures(pts, (0.0, 1.0), 20.0)
    assert (got["len"], got["wid"], got["area"]) == pytest.approx((2.0, 0.5, 1.0), rel=1e-12)
    np.testing.assert_allclose(got["middle"], [105.0, 70.0], rtol=0, atol=1e-9)
    turned = m.outline_figures(pts, (1.0, 0.0), 20.0)
    assert (turned["len"], turned["wid"]) == pytest.approx((0.5, 2.0), rel=1e-12)


def test_carpal_pair_places_the_hamate_by_the_axis():
    """Two circles, the second 30 across and 6 up metacarpal 3's axis (tilted) from the
    first: ``apart`` 30, ``higher`` 6 over the length, on either side; a circle's length
    and width its diameter over the length."""
    m = _script()
    t = np.linspace(0.0, 2.0 * np.pi, 400, endpoint=False)
    axis = np.array([math.sin(0.3), math.cos(0.3)])
    across = np.array([-axis[1], axis[0]])
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)
    for side in (1.0, -1.0):
        first = 10.0 * circle + [50.0, 60.0]
        second = 8.0 * circle + [50.0, 60.0] + side * 30.0 * across + 6.0 * axis
        got = m.carpal_pair(first, second, axis, 100.0)
        assert got["apart"] == pytest.approx(0.30, abs=1e-6) and got["higher"] == pytest.approx(0.06, abs=1e-6)
        assert got["capitate_len"] == pytest.approx(0.20, rel=1e-3)
        assert got["hamate_wid"] == pytest.approx(0.16, rel=1e-3)
    assert set(got) == set(m.YOUNG_CARPUS_KEYS)


def test_carpal_outline_keeps_to_its_bone_beside_a_brighter_neighbour():
    """A bone with a grain inside it, seen from a point off its middle towards a
    brighter neighbour 4 pixels away (whose far edge falls more steeply): the outline
    keeps to the first bone (extents within 3 % of the formula's, the neighbour's far
    edge 60 pixels beyond it never reached)."""
    from scipy import ndimage

    m = _script()
    axes, centre = (28.0, 40.0), (170.0, 200.0)
    img = _ellipse_film(centre, axes, 0.0, blur=0.0, trabeculae=0.08, seed=3)
    ys, xs = np.mgrid[:400, :400].astype(np.float64)
    neighbour = ((xs - 230.0) / 30.0) ** 2 + ((ys - 200.0) / 36.0) ** 2 <= 1.0  # 4 pixels from the first
    img = ndimage.gaussian_filter(np.where(neighbour, 1.0, img), 1.5)
    length = 400.0  # the rays reach 120 pixels, past the neighbour's far edge
    pts = m.carpal_outline(img, (centre[0] + 12.0, centre[1] + 3.0), length)
    got = m.outline_figures(pts, (0.0, -1.0), length)
    assert got["wid"] == pytest.approx(2 * axes[0] / length, rel=0.03)
    assert got["len"] == pytest.approx(2 * axes[1] / length, rel=0.03)
    assert pts[:, 0].max() < centre[0] + axes[0] + 3.0


def test_grain_bands_read_white_noise_through_their_kernels():
    """``grain_bands`` of white noise of sd s: per scale s times the norm of the band's
    kernel, the difference of two sampled Gaussians (sigma and twice it) written out here
    from the formula (truncated at 4 sigma, normalised, as the blurs); a flat film and a
    ramp read 0, noise twice as strong reads twice as much, and a square whose margin
    leaves the film is refused."""
    m = _script()

    def gauss(sigma, radius):
        x = np.arange(-radius, radius + 1, dtype=float)
        inner = np.abs(x) <= int(4 * sigma + 0.5)
        g = np.where(inner, np.exp(-x ** 2 / (2 * sigma ** 2)), 0.0)
        g /= g.sum()
        return np.outer(g, g)

    img = 0.5 + 0.02 * np.random.default_rng(8).standard_normal((400, 400))
    got = m.grain_bands(img, 200.0, 200.0, half=120)
    assert len(got) == len(m.GRAIN_SCALES) == 3
    for s, band in zip(m.GRAIN_SCALES, got):
        r = int(8 * s + 0.5)
        k = gauss(s, r) - gauss(2 * s, r)
        assert band == pytest.approx(0.02 * math.sqrt((k ** 2).sum()), rel=0.04), s
    doubled = m.grain_bands(0.5 + 2 * (img - 0.5), 200.0, 200.0, half=120)
    assert doubled == pytest.approx([2 * b for b in got], rel=1e-9)
    assert m.grain_bands(np.full((100, 100), 0.4), 50.0, 50.0) == pytest.approx([0.0] * 3, abs=1e-12)
    ramp = np.add.outer(np.linspace(0, 1, 100), np.linspace(0, 0.5, 100))
    assert max(m.grain_bands(ramp, 50.0, 50.0)) < 1e-6
    with pytest.raises(ValueError, match="leaves the film"):
        m.grain_bands(img, 20.0, 200.0)
    with pytest.raises(ValueError, match="leaves the film"):
        m.grain_bands(img, 200.0, 390.0)


def _stripes(angle: float, period: float = 6.0, amplitude: float = 0.05, noise: float = 0.0, size: int = 400,
             seed: int = 0) -> np.ndarray:
    """0.5 plus a sinusoid of ``period`` pixels whose crests run along the unit vector
    (sin angle, cos angle) (angle 0: vertical stripes, constant along y), plus white
    noise of sd ``noise``."""
    yy, xx = np.indices((size, size), dtype=float)
    nx, ny = math.cos(angle), -math.sin(angle)  # across the crests
    img = 0.5 + amplitude * np.sin(2 * math.pi * (xx * nx + yy * ny) / period)
    return img + noise * np.random.default_rng(seed).standard_normal(img.shape)


def test_striation_measure_reads_stripes_along_and_across_the_axis():
    """Stripes along the axis: the gradient's energy across it far above that along it
    (over 20 with a little noise), whatever the axis' angle; stripes across the axis:
    under 1/20; white noise: about 1 in every band (within 0.1 over 12 draws: the square
    holds a few dozen of the coarser bands' grains, one draw spreads by a tenth or more). The band's amplitude
    of a sinusoid: its amplitude over the square's mean, on the film scaled between its
    1st and 99.5th percentiles, times the difference of the two Gaussians' transfer
    exp(-sigma^2 k^2 / 2) at its frequency k (written out here); a zero, NaN or infinite
    axis and a square leaving the film are refused."""
    m = _script()
    length = 240.0
    for angle in (0.0, 0.5, -1.1):
        axis = (math.sin(angle), math.cos(angle))
        img = _stripes(angle, noise=0.002)
        along = m.striation_measure(img, 200.0, 200.0, length, axis)
        assert len(along) == len(m.STRIATION_BANDS) == 3
        assert all(b["aniso"] > 20.0 for b in along), (angle, along)
        across = m.striation_measure(img, 200.0, 200.0, length, (axis[1], -axis[0]))
        assert all(b["aniso"] < 0.05 for b in across), (angle, across)
    draws = [m.striation_measure(0.5 + 0.02 * np.random.default_rng(seed).standard_normal((400, 400)),
                                 200.0, 200.0, length, (0.3, 0.95)) for seed in range(12)]
    for k in range(3):
        assert np.mean([d[k]["aniso"] for d in draws]) == pytest.approx(1.0, abs=0.1), k
    img = _stripes(0.0, period=8.0, amplitude=0.05)
    lo, hi = np.percentile(img, 1), np.percentile(img, 99.5)
    k = 2 * math.pi / 8.0
    got = m.striation_measure(img, 200.0, 200.0, length, (0.0, 1.0))
    for (a, b), band in zip(m.STRIATION_BANDS, got):
        gain = math.exp(-(a * length * k) ** 2 / 2) - math.exp(-(b * length * k) ** 2 / 2)
        want = 0.05 / math.sqrt(2) * gain / (hi - lo) / ((0.5 - lo) / (hi - lo))
        assert band["amp"] == pytest.approx(want, rel=0.05), (a, b)
    assert all(b["aniso"] == math.inf for b in got)  # a pure sinusoid along the axis: no gradient along it
    for bad in ((0.0, 0.0), (math.nan, 1.0), (math.inf, 0.0)):
        with pytest.raises(ValueError, match="not a direction"):
            m.striation_measure(img, 200.0, 200.0, length, bad)
    with pytest.raises(ValueError, match="leaves the film"):
        m.striation_measure(img, 30.0, 200.0, length, (0.0, 1.0))
