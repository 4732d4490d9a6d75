"""Evaluation: tables against direct computation, the paired t-test against its formula,
plots, and bad prediction files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from boneage_fast.cli import main
from boneage_fast.evaluation import AGE_BINS, load_predictions, paired_ttest, save_predictions, summary


def _write(path, rng, n=300, noise=8.0, ids=None):
    truth = rng.uniform(0, 228, n)
    male = rng.random(n) < 0.55
    pred = truth + rng.normal(0, noise, n)
    ids = ids if ids is not None else [f"x{i}" for i in range(n)]
    save_predictions(str(path), ids, truth, male, pred)
    return truth, male, pred


def test_summary_matches_direct_computation(tmp_path, rng):
    truth, male, pred = _write(tmp_path / "p.csv", rng)
    s = summary(load_predictions(str(tmp_path / "p.csv")))
    err = np.abs(np.round(pred, 3) - np.round(truth, 3))
    assert s["overall"]["mae"] == pytest.approx(err.mean(), abs=1e-9)
    assert s["overall"]["sd"] == pytest.approx(err.std(ddof=1), abs=1e-9)
    for b, (lo, hi) in zip(s["bins"], AGE_BINS):
        t = np.round(truth, 3)
        inside = (t >= lo) & ((t < hi) if hi != AGE_BINS[-1][1] else True)
        for sex, mask in (("male", male), ("female", ~male)):
            sel = inside & mask
            assert b[sex]["n"] == int(sel.sum())
            if sel.sum():
                assert b[sex]["mae"] == pytest.approx(err[sel].mean(), abs=1e-9)
    assert sum(b["all"]["n"] for b in s["bins"]) == len(truth)


def test_paired_ttest_matches_formula(tmp_path, rng):
    ids = [f"x{i}" for i in range(200)]
    _write(tmp_path / "a.csv", np.random.default_rng(1), n=200, noise=10, ids=ids)
    b_rng = np.random.default_rng(1)  # same truths, better predictions
    truth = b_rng.uniform(0, 228, 200)
    male = b_rng.random(200) < 0.55
    save_predictions(str(tmp_path / "b.csv"), ids, truth, male, truth + rng.normal(0, 5, 200))
    a, b = load_predictions(str(tmp_path / "a.csv")), load_predictions(str(tmp_path / "b.csv"))
    r = paired_ttest(a, b)
    d = a.abs_err - b.abs_err
    t = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
    assert r["t"] == pytest.approx(t, rel=1e-9) and r["n"] == 200 and r["p"] < 1e-3


def test_evaluate_cli_writes_tables_and_plots(tmp_path, rng, capsys):
    _write(tmp_path / "p.csv", rng)
    _write(tmp_path / "q.csv", np.random.default_rng(5))
    assert main(["evaluate", str(tmp_path / "p.csv"), "--out", str(tmp_path / "ev")]) == 0
    out = capsys.readouterr().out
    assert "male MAE ± SD (n)" in out and "[180, 216]+" in out
    for name in ("summary.json", "table.md", "bins.csv", "scatter.png", "bland_altman.png"):
        assert (tmp_path / "ev" / name).stat().st_size > 0
    data = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert data["summary"]["overall"]["n"] == 300


@pytest.mark.parametrize("content, match", [
    ("id,boneage,male\n1,2,1\n", "missing column"),
    ("id,boneage,male,pred\n1,abc,1,3\n", "must be numbers"),
    ("id,boneage,male,pred\n1,nan,1,3\n", "finite"),
    ("id,boneage,male,pred\n", "no predictions"),
    ("id,boneage,male,pred\n1,20,unknown,3\n", "male must be"),  # once read as female
    ("id,boneage,male,pred\n1,20,,3\n", "male must be"),
])
def test_bad_prediction_files(tmp_path, content, match):
    (tmp_path / "p.csv").write_text(content)
    with pytest.raises(ValueError, match=match):
        load_predictions(str(tmp_path / "p.csv"))


def test_missing_or_disjoint_files(tmp_path, rng, capsys):
    with pytest.raises(FileNotFoundError):
        load_predictions(str(tmp_path / "none.csv"))
    assert main(["evaluate", str(tmp_path / "none.csv"), "--out", str(tmp_path / "e")]) == 2
    assert "not found" in capsys.readouterr().err
    _write(tmp_path / "a.csv", rng, ids=[f"a{i}" for i in range(300)])
    _write(tmp_path / "b.csv", rng, ids=[f"b{i}" for i in range(300)])
    with pytest.raises(ValueError, match="share 0 ids"):
        paired_ttest(load_predictions(str(tmp_path / "a.csv")), load_predictions(str(tmp_path / "b.csv")))
