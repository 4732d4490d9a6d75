"""scripts/regressor_gap.py: the band and channel swaps, the phantom settings, the options
and (with ../shared/realdata) a run whose "real" row is the pipeline's own reading."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from _scripts import load_script


@pytest.fixture(scope="module")
def gap():
    return load_script("regressor_gap")


@pytest.mark.parametrize("size,bands", [(128, 8), (128, 5), (100, 7), (9, 3), (10, 10)])
def test_band_rows_tile_the_rows_top_to_bottom_evenly(gap, size, bands):
    rows = gap.band_rows(size, bands)
    assert len(rows) == bands
    assert rows[0][0] == 0 and rows[-1][1] == size
    assert all(a[1] == b[0] for a, b in zip(rows, rows[1:]))  # contiguous, no overlap
    heights = [b - a for a, b in rows]
    assert max(heights) - min(heights) <= 1


def test_swap_variants_take_each_band_and_channel_from_the_real_maps(gap):
    rng = np.random.default_rng(3)
    real = rng.random((2, 16, 16), dtype=np.float32)
    ph = rng.random((2, 16, 16), dtype=np.float32) + 2.0  # disjoint values: the source of every pixel shows
    v = gap.swap_variants(real, ph, 4)
    assert len(v) == 2 + 2 * 4 + 4
    np.testing.assert_array_equal(v["real"], real)
    np.testing.assert_array_equal(v["phantom"], ph)
    for i, (a, b) in enumerate(gap.band_rows(16, 4)):
        from_real = np.zeros((2, 16, 16), bool)
        from_real[:, a:b] = True
        np.testing.assert_array_equal(v[f"real band {i}"], np.where(from_real, real, ph))
        from_real[0] = False  # the fine channel only
        np.testing.assert_array_equal(v[f"real fine band {i}"], np.where(from_real, real, ph))
    np.testing.assert_array_equal(v["real coarse"], np.stack([real[0], ph[1]]))
    np.testing.assert_array_equal(v["real fine"], np.stack([ph[0], real[1]]))
    np.testing.assert_array_equal(v["phantom, no fine"], np.stack([ph[0], np.zeros((16, 16))]))
    np.testing.assert_array_equal(v["real, no fine"], np.stack([real[0], np.zeros((16, 16))]))
    # the inputs are not written to
    assert ph.min() >= 2.0 and real.max() < 1.0


@pytest.mark.parametrize("shapes", [((2, 8, 8), (2, 8, 9)), ((1, 8, 8), (1, 8, 8)), ((8, 8), (8, 8))])
def test_swap_variants_reject_maps_that_do_not_pair(gap, shapes):
    with pytest.raises(ValueError, match="two"):
        gap.swap_variants(np.zeros(shapes[0]), np.zeros(shapes[1]), 4)


def test_apply_settings_sets_constants_and_look_fields(gap, monkeypatch):
    from boneage_fast.data import anatomy, film

    monkeypatch.setattr(anatomy, "FINGER_V4", anatomy.FINGER_V4)  # restored after the test
    monkeypatch.setattr(film, "RAW_FRACTION", film.RAW_FRACTION)
    monkeypatch.setitem(film.LOOKS, "v4", film.LOOKS["v4"])
    other = film.LOOKS["v4"]
    gap.apply_settings(["anatomy.FINGER_V4=1.3", "film.RAW_FRACTION=1.0", "film.LOOKS.v4.mu_bone=0.08"])
    assert anatomy.FINGER_V4 == 1.3 and film.RAW_FRACTION == 1.0
    assert film.LOOKS["v4"].mu_bone == 0.08
    assert film.LOOKS["v4"].mu_soft == other.mu_soft  # the look's other fields kept


def test_zoom_maps_scales_the_coarse_map_about_the_centre_and_refilters(gap):
    """A disc of radius r becomes one of radius z r about the crop's centre; the fine map is
    the filter's output on the zoomed coarse map; the crop keeps its size."""
    S = 64
    yy, xx = np.mgrid[0:S, 0:S] - (S - 1) / 2
    r = np.hypot(yy, xx)
    maps = np.stack([(r < 10).astype(np.float32), np.zeros((S, S), np.float32)])
    for z in (0.8, 1.25, 2.0):
        out = gap.zoom_maps(maps, z, lambda c: 2.0 * c)
        assert out.shape == (2, S, S)
        np.testing.assert_allclose(out[1], 2.0 * out[0])
        area = float(out[0].sum())
        assert area == pytest.approx(np.pi * (10 * z) ** 2, rel=0.08)
        cy, cx = (np.array(np.nonzero(out[0] > 0.5)).mean(1))
        assert abs(cy - (S - 1) / 2) < 1.0 and abs(cx - (S - 1) / 2) < 1.0
    with pytest.raises(ValueError, match="zoom"):
        gap.zoom_maps(maps, 0.1, lambda c: c)


def test_window_energy_is_the_fine_maps_mean_over_the_window(gap):
    rng = np.random.default_rng(5)
    maps = rng.random((2, 128, 128))
    want = maps[1, 72:96, 40:88].mean()  # CARPUS_WINDOW on a 128-pixel crop, written out
    assert gap.window_energy(maps) == pytest.approx(want)
    assert gap.window_energy(maps, ((0.0, 1.0), (0.0, 1.0))) == pytest.approx(maps[1].mean())
    maps[0] += 100.0  # the coarse map plays no part
    assert gap.window_energy(maps) == pytest.approx(want)


@pytest.mark.parametrize("item,match", [
    ("FINGER_V4=1.3", "expected"),
    ("anatomy.FINGER_V4", "expected"),
    ("numpy.pi=3", "expected"),
    ("anatomy.NO_SUCH_V4=1", "no constant"),
    ("anatomy.carpal_size=1", "no constant"),  # a function, not a constant
    ("anatomy.FINGER_V4=abc", "not a Python literal"),
    ("film.LOOKS.v9.mu_bone=0.1", "no look"),
    ("film.LOOKS.v4.no_field=0.1", "no look"),
])
def test_apply_settings_rejects_what_names_nothing(gap, item, match, monkeypatch):
    from boneage_fast.data import anatomy

    monkeypatch.setattr(anatomy, "FINGER_V4", anatomy.FINGER_V4)
    with pytest.raises(ValueError, match=match):
        gap.apply_settings([item])


@pytest.mark.parametrize("argv,match", [
    (["--bands", "1"], "--bands"),
    (["--per-film", "0"], "--per-film"),
    (["--max-months", "0"], "--max-months"),
    (["--min-months", "100", "--max-months", "90"], "--min-months"),
])
def test_bad_options_are_refused_by_name(gap, argv, match, capsys):
    with pytest.raises(SystemExit) as e:
        gap.main(argv)
    assert e.value.code == 2
    assert match in capsys.readouterr().err


REAL = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "realdata")


@pytest.mark.skipif(not os.path.isdir(os.path.join(REAL, "rsna_raw7")), reason="needs ../shared/realdata")
def test_a_run_reads_the_real_films_as_the_pipeline_does(gap, tmp_path):
    """The "real" row is the shipped model's own reading of the films (from their
    annotated boxes) less their ages, and the "phantom" row shifts by nothing."""
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
    import phantom_realism_real as R

    from boneage_fast.pipeline import Predictor

    out = tmp_path / "gap.json"
    assert gap.main(["--max-months", "30", "--per-film", "1", "--bands", "4", "--style", "v3",
                     "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    rows = {r["variant"]: r for r in got["rows"]}
    films = [r for r in R.real_images() if r["boneage"] is not None and r["boneage"] < 30]
    assert got["films"] == len(films) >= 2
    pr = Predictor(None, "cpu", "torch")
    want = np.mean([pr.predict(f["path"], f["male"], box=f["box"]).boneage_months - f["boneage"] for f in films])
    assert rows["real"]["mean_error"] == pytest.approx(want, abs=0.02)
    assert rows["phantom"]["shift"] == 0.0
    assert len(rows) == 2 + 2 * 4 + 4 + 4  # and the four zoomed rows
    assert set(got["map_medians"]) == {"real carpus fine energy", "phantom carpus fine energy"}
