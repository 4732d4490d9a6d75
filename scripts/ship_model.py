#!/usr/bin/env python3
"""Put a trained detector + regressor into the package as its default model
(boneage_fast/weights/: detector.json, regressor.json and their fp16 safetensors).

    python scripts/ship_model.py --detector RUN/detector_run/best.json --regressor RUN/S5_seed0/best.json \
        --results docs/results.md --check-data RUN/test

The parameters are stored in float16 (BatchNorm statistics stay float32); the cards keep
the training config, data description, metrics and the sha256 of each weights file,
and say plainly what the model is: trained on synthetic phantoms, not for clinical use.
With --check-data the script compares the fp16 model with the fp32 one on those images
(boxes and ages) and records the largest differences in the card.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NOTICE = ("Trained on synthetic hand-radiograph phantoms (boneage_fast.data.phantom), not on patient images. "
          "NOT FOR CLINICAL USE. It demonstrates the pipeline end to end; for real use train on real data "
          "(`boneage train detector|regressor` on the RSNA layout, see the README).")


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from boneage_fast.models.checkpoint import load_detector, load_regressor, read_card, save_checkpoint

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--detector", required=True)
    p.add_argument("--regressor", required=True)
    p.add_argument("--out", default=os.path.join(HERE, "..", "boneage_fast", "weights"))
    p.add_argument("--results", default="docs/results.md", help="where the model's evaluation is written up")
    p.add_argument("--check-data", default=None, help="RSNA-layout folder to compare fp16 with fp32 on")
    p.add_argument("--check-n", type=int, default=40)
    args = p.parse_args(argv)

    det, det_card = load_detector(args.detector)
    reg, pre, reg_card = load_regressor(args.regressor)
    tmp = args.out + ".new"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    d_card = {k: v for k, v in det_card.items() if k not in ("format", "weights", "sha256", "weights_dtype")}
    d_card["notice"] = NOTICE
    d_card["source_sha256_float32"] = det_card["sha256"]
    save_checkpoint(det, os.path.join(tmp, "detector.json"), d_card, half=True)
    shipped_det = read_card(os.path.join(tmp, "detector.json"))
    r_card = {k: v for k, v in reg_card.items() if k not in ("format", "weights", "sha256", "weights_dtype")}
    r_card["notice"] = NOTICE
    r_card["source_sha256_float32"] = reg_card["sha256"]
    r_card["detector_sha256"] = shipped_det["sha256"]
    r_card["trained_with_detector_sha256_float32"] = reg_card.get("detector_sha256")
    r_card["evaluation"] = args.results
    r_card["training"] = {k: v for k, v in reg_card.get("training", {}).items() if k != "skipped"}
    if args.check_data:
        from boneage_fast.data.datasets import RSNADataset
        from boneage_fast.pipeline import Predictor

        full = Predictor(args.regressor, "cpu", "torch", detector=args.detector)
        save_checkpoint(reg, os.path.join(tmp, "regressor.json"), r_card, half=True)
        half = Predictor(tmp, "cpu", "torch")
        dage, dbox = [], []
        ds = RSNADataset(os.path.join(args.check_data, "labels.csv"), os.path.join(args.check_data, "images"))
        for i, rec in enumerate(ds):
            if i >= args.check_n:
                break
            a, b = full.predict(rec.image, rec.male), half.predict(rec.image, rec.male)
            dage.append(abs(a.boneage_months - b.boneage_months))
            dbox.append(float(np.max(np.abs(np.subtract(a.box, b.box)))))
        r_card["float16_check"] = {"images": len(dage), "max_age_difference_months": float(np.max(dage)),
                                   "mean_age_difference_months": float(np.mean(dage)),
                                   "max_box_difference_px": float(np.max(dbox))}
        print(json.dumps(r_card["float16_check"]))
    save_checkpoint(reg, os.path.join(tmp, "regressor.json"), r_card, half=True)
    shutil.rmtree(args.out, ignore_errors=True)
    os.replace(tmp, args.out)
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"shipped to {args.out}: {sorted(os.listdir(args.out))}, {total / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
