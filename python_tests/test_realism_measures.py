"""The measures of scripts/phantom_realism_real.py that compare phantoms with the real
films (shaft_contrast, palm_over_metacarpal) on synthetic images whose answer is known
from their construction."""

from __future__ import annotations

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
