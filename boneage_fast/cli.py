"""The ``boneage`` command line."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="boneage", description="Pediatric bone age from hand radiographs.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the attention kernels on a generated image and time them")
    demo.add_argument("--out", default=None, help="folder for input/matched/fine_attention PNGs")
    demo.add_argument("--size", nargs=2, type=int, default=(1024, 832), metavar=("H", "W"))
    demo.add_argument("--repeats", type=int, default=5)

    sub.add_parser("info", help="print what was compiled (CUDA, architectures, threads)")

    ph = sub.add_parser("phantom", help="write a synthetic hand-radiograph dataset (RSNA layout)")
    ph.add_argument("--n", type=int, required=True, help="number of images")
    ph.add_argument("--out", required=True, help="output folder (labels.csv, boxes.csv, images/)")
    ph.add_argument("--size", nargs=2, type=int, default=None, metavar=("H", "W"),
                    help="fixed image size; default: random sizes like the real images")
    ph.add_argument("--seed", type=int, default=0)
    ph.add_argument("--format", choices=("png16", "png8", "dicom"), default="png16")
    ph.add_argument("--workers", type=int, default=1, help="rendering processes")
    ph.add_argument("--clean", action="store_true", help="no acquisition nuisance (upright, centred, no markers)")

    tr = sub.add_parser("train", help="train the hand detector or the regressor")
    tr.add_argument("what", choices=("detector", "regressor"))
    tr.add_argument("--data", required=True, help="RSNA-layout folder: labels.csv, images/ (and boxes.csv)")
    tr.add_argument("--out", required=True, help="checkpoint folder (best.json/.safetensors, last.*)")
    tr.add_argument("--config", default=None, help="regressor: a preset S1..S5 or a JSON file (default S5)")
    tr.add_argument("--epochs", type=int, default=None)
    tr.add_argument("--lr", type=float, default=None)
    tr.add_argument("--batch-size", type=int, default=None)
    tr.add_argument("--input-size", type=int, default=None, help="regressor input size (default 512)")
    tr.add_argument("--detector", default=None, help="regressor: detector model card for the crops")
    tr.add_argument("--seed", type=int, default=None)
    tr.add_argument("--device", default="auto")
    tr.add_argument("--resume", action="store_true", help="continue from OUT/last_state.pt")
    tr.add_argument("--init-from", default=None, help="fine-tune: start from this regressor model card")
    tr.add_argument("--max-images", type=int, default=None)

    pr = sub.add_parser("predict", help="predict bone ages of an RSNA-layout folder or of image files")
    pr.add_argument("--regressor", required=True, help="regressor model card")
    pr.add_argument("--detector", default=None, help="detector model card (attention models)")
    pr.add_argument("--data", default=None, help="RSNA-layout folder (labels.csv gives sex and truth)")
    pr.add_argument("--image", nargs="*", default=[], help="image files (with --sex)")
    pr.add_argument("--sex", default=None, help="M or F for --image")
    pr.add_argument("--out", default=None, help="predictions CSV (id, boneage, male, pred)")
    pr.add_argument("--device", default="auto")

    ev = sub.add_parser("evaluate", help="paper-style tables, t-test and plots from a predictions CSV")
    ev.add_argument("predictions")
    ev.add_argument("--compare", default=None, help="second predictions CSV for a paired t-test")
    ev.add_argument("--out", required=True)
    ev.add_argument("--no-plots", action="store_true")

    args = parser.parse_args(argv)
    if args.command == "train":
        return _train(parser, args)
    if args.command == "predict":
        return _predict(parser, args)
    if args.command == "evaluate":
        from boneage_fast.evaluation import evaluate, markdown_table

        try:
            r = evaluate(args.predictions, args.out, args.compare, not args.no_plots)
        except (FileNotFoundError, ValueError) as exc:
            print(f"boneage evaluate: {exc}", file=sys.stderr)
            return 2
        print(markdown_table(r["summary"], args.predictions))
        if "paired_ttest" in r:
            t = r["paired_ttest"]
            print(f"\npaired t-test on |error| (n = {t['n']}): MAE {t['mae_a']:.2f} vs {t['mae_b']:.2f}, "
                  f"t = {t['t']:.3f}, p = {t['p']:.3g}")
        return 0
    if args.command == "info":
        from boneage_fast import build_info, cuda_is_available

        info = build_info()
        info["cuda_is_available"] = cuda_is_available()
        print(json.dumps(info, indent=2))
        return 0
    if args.command == "phantom":
        if args.n < 1:
            parser.error(f"--n must be at least 1, got {args.n}")
        if args.workers < 1:
            parser.error(f"--workers must be at least 1, got {args.workers}")
        if args.size is not None and not all(256 <= v <= 4096 for v in args.size):
            parser.error(f"--size must be between 256 and 4096 pixels per side, got {args.size}")
        from boneage_fast.data.writer import write_phantom_dataset

        labels = write_phantom_dataset(args.out, args.n, args.seed, tuple(args.size) if args.size else None,
                                       args.format, args.workers, clean=args.clean)
        print(labels)
        return 0
    if args.command == "demo":
        h, w = args.size
        if h < 16 or w < 16 or h > 8192 or w > 8192:
            parser.error(f"--size must be between 16 and 8192 pixels per side, got {h} {w}")
        if args.repeats < 1:
            parser.error(f"--repeats must be at least 1, got {args.repeats}")
        from boneage_fast.demo import run_demo

        print(json.dumps(run_demo(args.out, h, w, args.repeats), indent=2))
        return 0
    return 2  # pragma: no cover


def _train(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from boneage_fast.models.checkpoint import CheckpointError

    try:
        if args.what == "detector":
            from boneage_fast.training.train import train_detector

            r = train_detector(args.data, args.out, epochs=args.epochs or 10, lr=args.lr or 1e-3,
                               batch_size=args.batch_size or 4, seed=args.seed or 0, device=args.device,
                               max_images=args.max_images)
            print(json.dumps({"best_val_mean_iou": r["best_val_mean_iou"], "out": r["out"]}, indent=2))
            return 0
        from boneage_fast.training import load_config
        from boneage_fast.training.train import train_regressor

        cfg = load_config(args.config, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                          input_size=args.input_size, detector=args.detector, seed=args.seed)
        r = train_regressor(cfg, args.data, args.out, device=args.device, resume=args.resume,
                            init_from=args.init_from, max_images=args.max_images)
        print(json.dumps({"best_val_mae": r["best_val_mae"], "baseline_val_mae": r["baseline_val_mae"],
                          "out": r["out"]}, indent=2))
        return 0
    except (FileNotFoundError, ValueError, CheckpointError) as exc:
        print(f"boneage train: {exc}", file=sys.stderr)
        return 2


def _predict(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from boneage_fast.evaluation import save_predictions
    from boneage_fast.io import ImageReadError
    from boneage_fast.models.checkpoint import CheckpointError
    from boneage_fast.pipeline import Predictor

    if not args.data and not args.image:
        parser.error("give --data FOLDER or --image FILE ...")
    try:
        predictor = Predictor(args.regressor, args.device, detector=args.detector)
    except (FileNotFoundError, ValueError, CheckpointError) as exc:
        print(f"boneage predict: {exc}", file=sys.stderr)
        return 2
    rows, failures = [], []
    if args.data:
        from boneage_fast.data.datasets import RSNADataset

        import os

        ds = RSNADataset(os.path.join(args.data, "labels.csv"), os.path.join(args.data, "images"), on_error="skip")
        for rec in ds:
            try:
                p = predictor.predict(rec.image, rec.male)
            except ValueError as exc:
                failures.append((rec.id, str(exc)))
                continue
            rows.append((rec.id, rec.boneage, rec.male, p.boneage_months))
        failures += [(i, reason) for i, _, reason in ds.skipped]
    for path in args.image:
        try:
            p = predictor.predict(path, args.sex)
        except (ImageReadError, ValueError) as exc:
            failures.append((path, str(exc)))
            continue
        print(json.dumps({"image": path, "boneage_months": round(p.boneage_months, 2), "box": p.box,
                          "box_score": p.box_score, "flags": p.flags, "timings_ms": p.timings_ms}))
    if args.out and rows:
        ids, truth, male, pred = zip(*rows)
        save_predictions(args.out, ids, truth, male, pred)
        print(f"{len(rows)} predictions -> {args.out}")
    for what, reason in failures:
        print(f"skipped {what}: {reason}", file=sys.stderr)
    return 0 if rows or (args.image and len(failures) < len(args.image)) else 1


if __name__ == "__main__":
    sys.exit(main())
