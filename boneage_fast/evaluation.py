"""Evaluation as in the paper: MAE +- SD overall and per sex x age bin (Tables III/IV),
counts per bin, paired t-tests between configurations, scatter and Bland-Altman plots.

A predictions file is a CSV with columns ``id, boneage, male, pred`` (months; male 1/0).
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from boneage_fast.data.datasets import _parse_bool

#: The paper's age bins (months); ages above 216 fall in the last bin.
AGE_BINS = ((0, 36), (36, 72), (72, 108), (108, 144), (144, 180), (180, 216))


@dataclass
class Predictions:
    ids: np.ndarray
    truth: np.ndarray
    male: np.ndarray
    pred: np.ndarray
    source: str = "<memory>"

    @property
    def abs_err(self) -> np.ndarray:
        return np.abs(self.pred - self.truth)


def load_predictions(path: str) -> Predictions:
    """Raises: FileNotFoundError, ValueError (missing columns or bad values, row named)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: predictions file not found")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"id", "boneage", "male", "pred"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
        ids, t, m, p = [], [], [], []
        for i, row in enumerate(reader, start=2):
            try:
                t.append(float(row["boneage"]))
                p.append(float(row["pred"]))
            except ValueError:
                raise ValueError(f"{path} line {i}: boneage and pred must be numbers") from None
            m.append(_parse_bool(row["male"], f"{path} line {i}"))
            if not (math.isfinite(t[-1]) and math.isfinite(p[-1])):
                raise ValueError(f"{path} line {i}: boneage and pred must be finite")
            ids.append(row["id"])
    if not ids:
        raise ValueError(f"{path}: no predictions")
    return Predictions(np.array(ids), np.array(t), np.array(m), np.array(p), path)


def save_predictions(path: str, ids, truth, male, pred) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "boneage", "male", "pred"])
        for row in zip(ids, truth, male, pred):
            w.writerow([row[0], f"{float(row[1]):.3f}", int(bool(row[2])), f"{float(row[3]):.3f}"])


def _stats(err: np.ndarray) -> dict[str, Any]:
    if err.size == 0:
        return {"n": 0, "mae": None, "sd": None}
    return {"n": int(err.size), "mae": float(err.mean()), "sd": float(err.std(ddof=1)) if err.size > 1 else 0.0}


def summary(p: Predictions) -> dict[str, Any]:
    """MAE +- SD overall, per sex, and per sex x age bin (bins by true bone age)."""
    err = p.abs_err
    out: dict[str, Any] = {"overall": _stats(err), "male": _stats(err[p.male]), "female": _stats(err[~p.male]),
                           "bias": float((p.pred - p.truth).mean()), "bins": []}
    for k, (lo, hi) in enumerate(AGE_BINS):
        last = k == len(AGE_BINS) - 1
        inside = (p.truth >= lo) & ((p.truth < hi) if not last else np.ones_like(p.truth, bool))
        out["bins"].append({"from": lo, "to": hi, "male": _stats(err[inside & p.male]),
                            "female": _stats(err[inside & ~p.male]), "all": _stats(err[inside])})
    return out


def _cell(s: dict[str, Any]) -> str:
    return "–" if not s["n"] else f"{s['mae']:.2f} ± {s['sd']:.2f} ({s['n']})"


def markdown_table(s: dict[str, Any], title: str = "") -> str:
    """The paper's table layout: age bins as rows, male / female / all as columns."""
    lines = [f"**{title}**" if title else "", "", "| bone age (months) | male MAE ± SD (n) | female MAE ± SD (n) | all MAE ± SD (n) |",
             "|---|---|---|---|"]
    for b in s["bins"]:
        label = f"[{b['from']}, {b['to']})" if b["to"] != AGE_BINS[-1][1] else f"[{b['from']}, {b['to']}]+"
        lines.append(f"| {label} | {_cell(b['male'])} | {_cell(b['female'])} | {_cell(b['all'])} |")
    lines.append(f"| **all** | {_cell(s['male'])} | {_cell(s['female'])} | {_cell(s['overall'])} |")
    return "\n".join(lines).strip("\n")


def paired_ttest(a: Predictions, b: Predictions) -> dict[str, Any]:
    """Paired t-test of the absolute errors of two prediction sets on their common ids.

    Raises:
        ValueError: fewer than 2 common ids, or different truths for the same id.
    """
    try:
        from scipy import stats
    except ImportError as exc:  # pragma: no cover
        raise ImportError("paired t-tests need scipy: pip install 'boneage_fast[eval]'") from exc
    ia = {k: i for i, k in enumerate(a.ids)}
    common = [k for k in b.ids if k in ia]
    if len(common) < 2:
        raise ValueError(f"{a.source} and {b.source} share {len(common)} ids; a paired t-test needs at least 2")
    ib = {k: i for i, k in enumerate(b.ids)}
    xa = np.array([a.abs_err[ia[k]] for k in common])
    xb = np.array([b.abs_err[ib[k]] for k in common])
    ta = np.array([a.truth[ia[k]] for k in common])
    tb = np.array([b.truth[ib[k]] for k in common])
    if not np.allclose(ta, tb):
        raise ValueError(f"{a.source} and {b.source} disagree on the true bone age of some ids")
    t, pval = stats.ttest_rel(xa, xb)
    return {"n": len(common), "mae_a": float(xa.mean()), "mae_b": float(xb.mean()),
            "mean_difference": float((xa - xb).mean()), "t": float(t), "p": float(pval)}


def plots(p: Predictions, out_dir: str, prefix: str = "") -> list[str]:
    """Scatter (predicted vs true) and Bland-Altman PNGs; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(p.truth[p.male], p.pred[p.male], s=8, alpha=0.6, label="male")
    ax.scatter(p.truth[~p.male], p.pred[~p.male], s=8, alpha=0.6, label="female")
    lim = [0, max(228.0, float(p.pred.max()), float(p.truth.max()))]
    ax.plot(lim, lim, "k--", lw=1)
    ax.set_xlabel("true bone age (months)")
    ax.set_ylabel("predicted bone age (months)")
    ax.set_title(f"MAE {p.abs_err.mean():.2f} months (n = {len(p.ids)})")
    ax.legend()
    fig.tight_layout()
    paths.append(os.path.join(out_dir, f"{prefix}scatter.png"))
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    mean = (p.truth + p.pred) / 2
    diff = p.pred - p.truth
    md, sd = float(diff.mean()), float(diff.std(ddof=1)) if diff.size > 1 else 0.0
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(mean, diff, s=8, alpha=0.6)
    for y, style in ((md, "-"), (md + 1.96 * sd, "--"), (md - 1.96 * sd, "--")):
        ax.axhline(y, color="k", ls=style, lw=1)
    ax.set_xlabel("mean of predicted and true (months)")
    ax.set_ylabel("predicted − true (months)")
    ax.set_title(f"Bland–Altman: bias {md:.2f}, limits ±{1.96 * sd:.2f}")
    fig.tight_layout()
    paths.append(os.path.join(out_dir, f"{prefix}bland_altman.png"))
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def evaluate(pred_path: str, out_dir: str, compare: str | None = None, make_plots: bool = True) -> dict[str, Any]:
    """Write summary.json, table.md, per-bin CSV and plots for a predictions file."""
    p = load_predictions(pred_path)
    s = summary(p)
    result: dict[str, Any] = {"predictions": pred_path, "summary": s}
    if compare:
        result["paired_ttest"] = paired_ttest(p, load_predictions(compare))
        result["paired_ttest"]["b"] = compare
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write(markdown_table(s, os.path.basename(pred_path)) + "\n")
    with open(os.path.join(out_dir, "bins.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["age_from", "age_to", "sex", "n", "mae", "sd"])
        for b in s["bins"]:
            for sex in ("male", "female", "all"):
                st = b[sex]
                w.writerow([b["from"], b["to"], sex, st["n"], st["mae"], st["sd"]])
    if make_plots:
        result["plots"] = plots(p, out_dir)
    return result
