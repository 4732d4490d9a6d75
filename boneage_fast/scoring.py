"""Scoring an archive: every image of a folder or CSV gets a row in a results CSV, and
no row is ever lost or written twice.

* Rows are appended and flushed (and fsynced) as each batch finishes; a rerun reads the
  file, skips the finished keys and appends the rest. A run killed mid-write leaves at
  most one partial last line, which the rerun cuts off before appending.
* A file that cannot be scored (unreadable, blank, no hand, bad sex) becomes a row with
  its error; the run goes on.
* Images are decoded, checked, detected and turned into maps in worker processes;
  the regressor runs in the main process on batches.
"""

from __future__ import annotations

import csv
import io
import os
import time
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from boneage_fast.data.datasets import IMAGE_SUFFIXES, _parse_bool

COLUMNS = ("key", "path", "sex", "boneage", "pred_months", "pred_years", "box", "box_score", "flags", "error",
           "model_id", "ms")


@dataclass(frozen=True)
class Job:
    key: str
    path: str
    sex: str | None  # as given ("M"/"F"/...), checked by the predictor
    boneage: float | None


def jobs_from(input_path: str, sex: str | None = None) -> list[Job]:
    """The images to score.

    * a folder with ``labels.csv`` (RSNA layout: id, boneage, male) and ``images/``;
    * a plain folder of images (then ``sex`` gives everyone's sex, or each image is
      scored only if the model does not use sex);
    * a CSV with columns ``path`` and ``sex`` (optional ``boneage``; paths relative to
      the CSV's folder).

    Raises:
        FileNotFoundError: the input does not exist. ValueError: a CSV without the
        needed columns.
    """
    if os.path.isdir(input_path):
        labels = os.path.join(input_path, "labels.csv")
        if os.path.isfile(labels):
            return _rsna_jobs(input_path)
        names = sorted(n for n in os.listdir(input_path) if n.lower().endswith(IMAGE_SUFFIXES))
        return [Job(n, os.path.join(input_path, n), sex, None) for n in names]
    if not os.path.isfile(input_path):
        raise FileNotFoundError(f"{input_path}: no such file or folder")
    base = os.path.dirname(os.path.abspath(input_path))
    with open(input_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        cols = set(reader.fieldnames or [])
        if "path" not in cols:
            raise ValueError(f"{input_path}: a CSV to score needs a 'path' column (and 'sex'; optional 'boneage'); "
                             f"has {sorted(cols)}")
        out = []
        for i, row in enumerate(reader, start=2):
            p = row["path"].strip()
            full = p if os.path.isabs(p) else os.path.join(base, p)
            age = row.get("boneage")
            try:
                truth = float(age) if age not in (None, "") else None
            except ValueError:
                raise ValueError(f"{input_path} line {i}: boneage must be a number, got {age!r}") from None
            out.append(Job(p, full, (row.get("sex") or sex or None), truth))
    return out


def _rsna_jobs(folder: str) -> list[Job]:
    images = os.path.join(folder, "images")
    present = {}
    if os.path.isdir(images):
        for name in os.listdir(images):
            stem, suf = os.path.splitext(name)
            if suf.lower() in IMAGE_SUFFIXES:
                present.setdefault(stem, name)
    out = []
    with open(os.path.join(folder, "labels.csv"), newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(line for line in f if not line.startswith("#")), start=2):
            rid = str(row["id"]).strip()
            male = _parse_bool(row["male"], f"{folder}/labels.csv line {i}")
            name = present.get(rid, rid + ".png")
            out.append(Job(rid, os.path.join(images, name), "M" if male else "F", float(row["boneage"])))
    return out


# ------------------------------------------------------------------ the results file
def finished_keys(out_csv: str) -> set[str]:
    """Keys already in a results file; a partial last line (a killed run) is cut off."""
    if not os.path.isfile(out_csv) or os.path.getsize(out_csv) == 0:
        return set()
    with open(out_csv, "rb+") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # cut the half-written last row
            f.truncate(end)
            data = data[:end]
    text = data.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    return {r["key"] for r in rows if r.get("key") is not None}


def _open_results(out_csv: str):
    new = not os.path.isfile(out_csv) or os.path.getsize(out_csv) == 0
    os.makedirs(os.path.dirname(os.path.abspath(out_csv)), exist_ok=True)
    f = open(out_csv, "a", newline="", encoding="utf-8")
    w = csv.writer(f)
    if new:
        w.writerow(COLUMNS)
        f.flush()
    return f, w


def _row(job: Job, pred: Any = None, error: str = "") -> list[Any]:
    if pred is None:
        return [job.key, job.path, job.sex or "", "" if job.boneage is None else job.boneage, "", "", "", "", "",
                error, "", ""]
    box = "" if pred.box is None else " ".join(f"{v:.1f}" for v in pred.box)
    return [job.key, job.path, pred.sex, "" if job.boneage is None else job.boneage, f"{pred.boneage_months:.3f}",
            f"{pred.boneage_years:.4f}", box, "" if pred.box_score is None else f"{pred.box_score:.4f}",
            " ".join(pred.flags), "", pred.model_id[:16], f"{pred.timings_ms.get('total', 0.0):.1f}"]


# ------------------------------------------------------------------ workers
_W: dict[str, Any] = {}


def _init(model: str | None) -> None:
    import torch

    torch.set_num_threads(1)
    from boneage_fast import set_num_threads
    from boneage_fast.pipeline import Predictor

    set_num_threads(1)
    _W["p"] = Predictor(model, device="cpu", backend="torch")


def _prepare(job: Job) -> tuple[Job, np.ndarray | None, Any, str]:
    try:
        maps, pred = _W["p"]._prepare(job.path, job.sex)
        return job, maps, pred, ""
    except (ValueError, TypeError) as exc:  # ImageReadError, NoHandFound, ImageQualityError, bad sex
        return job, None, None, str(exc)


def score(input_path: str, out_csv: str, model: str | None = None, device: str = "auto", backend: str = "auto",
          sex: str | None = None, workers: int = 2, batch: int | None = None, progress: bool = True,
          limit: int | None = None) -> dict[str, Any]:
    """Score every image of ``input_path`` into ``out_csv`` (resumable; see the module
    docstring). Returns counts, the wall time and, when labels are present, the MAE
    summary of the scored rows."""
    import multiprocessing as mp

    from tqdm import tqdm

    from boneage_fast.pipeline import Predictor

    jobs = jobs_from(input_path, sex)
    done = finished_keys(out_csv)
    seen: set[str] = set()
    todo = []
    for j in jobs:
        if j.key in done or j.key in seen:
            continue
        seen.add(j.key)
        todo.append(j)
    if limit is not None:
        todo = todo[:limit]
    predictor = Predictor(model, device=device, backend=backend, max_batch=batch)
    f, w = _open_results(out_csv)
    t0 = time.time()
    n_ok = n_err = 0
    bar = tqdm(total=len(todo), desc="score", unit="img", disable=not progress)
    pending: list[tuple[Job, np.ndarray, Any]] = []

    def flush_batch() -> None:
        nonlocal n_ok
        if not pending:
            return
        t = time.perf_counter()
        ages = predictor._regress(np.stack([m for _, m, _ in pending]),
                                  [p.sex == "M" if p.sex else None for _, _, p in pending])
        share = 1e3 * (time.perf_counter() - t) / len(pending)
        for (job, _, p), age in zip(pending, ages):
            w.writerow(_row(job, predictor._finish(p, float(age), share)))
            n_ok += 1
        f.flush()
        os.fsync(f.fileno())
        bar.update(len(pending))
        pending.clear()

    try:
        if workers > 0 and todo:
            # spawn, not fork: a child forked from a process whose PyTorch/OpenMP thread
            # pools have run can deadlock on a lock a parent thread held at the fork
            # (seen: score workers hanging in futex_wait once the parent had predicted).
            ctx = mp.get_context("spawn")
            pool = ctx.Pool(workers, _init, (model,))
            results: Iterator = pool.imap(_prepare, todo, chunksize=1)
        else:
            pool = None
            _W["p"] = predictor
            results = map(_prepare, todo)
        try:
            for job, maps, pred, err in results:
                if maps is None:
                    w.writerow(_row(job, error=err))
                    f.flush()
                    n_err += 1
                    bar.update(1)
                    continue
                pending.append((job, maps, pred))
                if len(pending) >= predictor.max_batch:
                    flush_batch()
            flush_batch()
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
    finally:
        bar.close()
        f.flush()
        f.close()
    summary: dict[str, Any] = {"input": input_path, "out": out_csv, "scored": n_ok, "failed": n_err,
                               "skipped_as_done": len(jobs) - len(todo) if limit is None else len(done),
                               "seconds": round(time.time() - t0, 2)}
    summary.update(_summarise(out_csv))
    return summary


def _summarise(out_csv: str) -> dict[str, Any]:
    """Counts of the whole results file and, when truths are present, the MAE table."""
    from boneage_fast.evaluation import Predictions, summary

    with open(out_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    ok = [r for r in rows if r["pred_months"] not in ("", None)]
    out: dict[str, Any] = {"rows": len(rows), "rows_ok": len(ok), "rows_failed": len(rows) - len(ok)}
    labelled = [r for r in ok if r["boneage"] not in ("", None) and r["sex"] in ("M", "F")]
    if labelled:
        p = Predictions(np.array([r["key"] for r in labelled]), np.array([float(r["boneage"]) for r in labelled]),
                        np.array([r["sex"] == "M" for r in labelled]),
                        np.array([float(r["pred_months"]) for r in labelled]), out_csv)
        out["mae"] = summary(p)
    return out


def read_results(out_csv: str) -> list[dict[str, str]]:
    with open(out_csv, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def keys_of(rows: Sequence[dict[str, str]]) -> list[str]:
    return [r["key"] for r in rows]
