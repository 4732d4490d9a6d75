"""The paper's S1-vs-S5 experiment on phantom data, end to end, written to docs/results.md.

Steps: render a phantom set (RSNA age/sex distribution) and a separate test set; train
the hand detector; train S1 (raw image, MAE) and S5 (matching + detector crop + Hessian
map + sex + dynamic attention loss); predict the test set; the paper-style table per
sex x age bin, the paired t-test S1 vs S5, MAE against the true and against the rater
labels, and the rater-noise floor.

    python scripts/phantom_experiment.py --profile cpu     # reduced, for a 2-core CPU
    python scripts/phantom_experiment.py --profile gpu     # one 10-minute run on an H100

Everything random follows --seed; the script prints and records the hardware, sizes,
epochs and wall time it used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

PROFILES = {
    # images, test images, phantom size, regressor input, epochs, batch, detector epochs, lr
    "cpu": dict(n_train=1000, n_test=200, size=(384, 320), input_size=128, epochs=10, batch=32, det_epochs=3,
                det_images=300, det_size=160, lr=1e-3, loader_workers=0, fine_on_device=False),
    "gpu": dict(n_train=12000, n_test=1000, size=(1024, 832), input_size=384, epochs=12, batch=64, det_epochs=4,
                det_images=3000, det_size=320, lr=1e-3, loader_workers=8, fine_on_device=True),
}


def main(argv: list[str] | None = None) -> int:
    import torch

    from boneage_fast.data.datasets import RSNADataset
    from boneage_fast.data.phantom import RATER_SD_MONTHS
    from boneage_fast.data.writer import write_phantom_dataset
    from boneage_fast.evaluation import (
        evaluate,
        load_predictions,
        markdown_table,
        paired_ttest,
        save_predictions,
        summary,
    )
    from boneage_fast.pipeline import Predictor
    from boneage_fast.training import load_config
    from boneage_fast.training.train import train_detector, train_regressor

    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    p.add_argument("--work", default="/tmp/boneage_experiment")
    p.add_argument("--out", default=os.path.join(here, "..", "docs", "results.md"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)
    prof = PROFILES[args.profile]
    t0 = time.time()
    work = args.work
    os.makedirs(work, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    times = {}

    def stamp(name):
        times[name] = round(time.time() - t0, 1)
        print(f"[{times[name]:8.1f} s] {name}", flush=True)

    train_dir, test_dir = os.path.join(work, "train"), os.path.join(work, "test")
    if not os.path.isfile(os.path.join(train_dir, "labels.csv")):
        write_phantom_dataset(train_dir, prof["n_train"], seed=args.seed, size=prof["size"], workers=args.workers)
    if not os.path.isfile(os.path.join(test_dir, "labels.csv")):
        write_phantom_dataset(test_dir, prof["n_test"], seed=args.seed + 1000, size=prof["size"], workers=args.workers)
    stamp("rendered phantoms")
    det = train_detector(train_dir, os.path.join(work, "detector"), epochs=prof["det_epochs"], seed=args.seed,
                         image_size=prof["det_size"], batch_size=8, device=device, max_images=prof["det_images"],
                         progress=False)
    stamp(f"detector: val mean IoU {det['best_val_mean_iou']:.3f}")
    det_card = os.path.join(work, "detector", "best.json")
    results = {}
    for name in ("S1", "S5"):
        cfg = load_config(name, input_size=prof["input_size"], epochs=prof["epochs"], batch_size=prof["batch"],
                          lr=prof["lr"], seed=args.seed, detector=det_card if name != "S1" else None,
                          dropout=0.2, workers=prof["loader_workers"], fine_on_device=prof["fine_on_device"])
        r = train_regressor(cfg, train_dir, os.path.join(work, name), device=device, progress=False)
        stamp(f"{name}: best val MAE {r['best_val_mae']:.2f} (predict-the-mean {r['baseline_val_mae']:.2f})")
        pred = Predictor(os.path.join(work, name, "best.json"), det_card if name != "S1" else None, device)
        ids, truth, male, out = [], [], [], []
        for rec in RSNADataset(os.path.join(test_dir, "labels.csv"), os.path.join(test_dir, "images")):
            ids.append(rec.id)
            truth.append(rec.boneage)
            male.append(rec.male)
            out.append(pred.predict(rec.image, rec.male).boneage_months)
        path = os.path.join(work, f"pred_{name}.csv")
        save_predictions(path, ids, truth, male, out)
        evaluate(path, os.path.join(work, f"eval_{name}"))
        results[name] = {"train": r, "pred": path}
        stamp(f"{name}: predicted the test set")

    # MAE against the rater labels, and the rater-noise floor
    import csv

    rater = {}
    with open(os.path.join(test_dir, "labels.csv")) as f:
        for row in csv.DictReader(f):
            rater[row["id"]] = float(row["rater_boneage"])
    lines = []
    tt = paired_ttest(load_predictions(results["S1"]["pred"]), load_predictions(results["S5"]["pred"]))
    floor = []
    for name in ("S1", "S5"):
        pr = load_predictions(results[name]["pred"])
        s = summary(pr)
        r_mae = float(np.mean([abs(pr.pred[i] - rater[k]) for i, k in enumerate(pr.ids)]))
        results[name]["mae_true"], results[name]["mae_rater"] = s["overall"]["mae"], r_mae
        lines.append(markdown_table(s, f"{name} on the phantom test set (n = {len(pr.ids)}), MAE ± SD in months"))
        floor = [abs(rater[k] - pr.truth[i]) for i, k in enumerate(pr.ids)]
    rater_floor = float(np.mean(floor))
    base = float(np.mean(np.abs(pr.truth - np.mean(pr.truth))))
    hw = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs" if device == "cpu" else torch.cuda.get_device_name()
    md = [
        "# Phantom experiment: S1 vs S5",
        "",
        f"Produced by `python scripts/phantom_experiment.py --profile {args.profile} --seed {args.seed}` on "
        f"{hw} (device {device}, torch {torch.__version__}), wall time {time.time() - t0:.0f} s.",
        "",
        f"Profile `{args.profile}`: {prof['n_train']} training phantoms ({prof['size'][0]}×{prof['size'][1]} px, "
        f"15 % held out for validation), {prof['n_test']} test phantoms (separate seed), regressor input "
        f"{prof['input_size']}² px, {prof['epochs']} epochs, batch {prof['batch']}, Adam lr {prof['lr']}; "
        f"detector {prof['det_epochs']} epochs on {prof['det_images']} images (validation mean IoU "
        f"{det['best_val_mean_iou']:.3f}).",
        "",
        "| | S1 (raw image, MAE) | S5 (full method) |",
        "|---|---|---|",
        f"| test MAE vs true bone age (months) | {results['S1']['mae_true']:.2f} | {results['S5']['mae_true']:.2f} |",
        f"| test MAE vs rater reading (months) | {results['S1']['mae_rater']:.2f} | {results['S5']['mae_rater']:.2f} |",
        f"| best validation MAE (months) | {results['S1']['train']['best_val_mae']:.2f} | {results['S5']['train']['best_val_mae']:.2f} |",
        "",
        f"- Predict-the-mean baseline on the test set: {base:.2f} months.",
        f"- Rater-noise floor: the simulated rater (SD {RATER_SD_MONTHS} months) is off the truth by "
        f"{rater_floor:.2f} months MAE on this test set (expected {RATER_SD_MONTHS * np.sqrt(2 / np.pi):.2f}); "
        "a model trained on rater labels cannot be confirmed below that against rater labels.",
        f"- Paired t-test on absolute errors, S1 vs S5 (n = {tt['n']}): mean difference "
        f"{tt['mean_difference']:.2f} months, t = {tt['t']:.3f}, p = {tt['p']:.3g}.",
        "",
        *[line + "\n" for line in lines],
        "Stage times (s from start): " + ", ".join(f"{k}: {v}" for k, v in times.items()),
    ]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({k: {kk: vv for kk, vv in v.items() if kk != "train"} for k, v in results.items()}, f, indent=2)
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
