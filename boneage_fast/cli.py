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

    sub.add_parser("info", help="build (CUDA, architectures, threads), devices, runtimes and the shipped model")

    ph = sub.add_parser("phantom", help="write a synthetic hand-radiograph dataset (RSNA layout)")
    ph.add_argument("--n", type=int, required=True, help="number of images")
    ph.add_argument("--out", required=True, help="output folder (labels.csv, boxes.csv, images/)")
    ph.add_argument("--size", nargs=2, type=int, default=None, metavar=("H", "W"),
                    help="fixed image size; default: random sizes like the real images")
    ph.add_argument("--seed", type=int, default=0)
    ph.add_argument("--format", choices=("png16", "png8", "dicom"), default="png16")
    ph.add_argument("--workers", type=int, default=1, help="rendering processes")
    ph.add_argument("--clean", action="store_true", help="no acquisition nuisance (upright, centred, no markers)")
    ph.add_argument("--scale", type=float, default=1.0, help="scale the random clinical sizes (0.5: 400-1300 px)")
    ph.add_argument("--style", choices=("v1", "v2", "v3", "v4"), default="v3",
                    help="phantom generation: v3 (anatomy and grey levels fitted to real hands and films, the "
                         "shipped model's training data), v4 (v3 with packed carpals cut along flat facets, a "
                         "trabecular network, windowed films, fuller fingers, a hand that fills the film and "
                         "per-subject soft tissue and carpal density, a round forearm, the films' grain; not the "
                         "shipped model's data), v2 (the "
                         "previous film-like phantom) or v1 (the earlier capsule phantom)")

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

    pr = sub.add_parser("predict", help="bone age of image files with the shipped (or a given) model")
    pr.add_argument("images", nargs="*", help="image files (PNG, JPEG, TIFF, BMP, DICOM)")
    pr.add_argument("--example", action="store_true",
                    help="predict the example radiograph that ships with the package (a synthetic phantom)")
    pr.add_argument("--sex", required=False, default=None, help="M or F (also male/female, 1/0)")
    pr.add_argument("--json", action="store_true", help="one JSON object per image")
    pr.add_argument("--heatmap", default=None, metavar="PNG",
                    help="write the regression activation map over the hand crop (one image; for several, "
                         "a {stem} placeholder names each file)")
    _model_args(pr)

    sc = sub.add_parser("score", help="score a folder or CSV of images into a results CSV (resumable)")
    sc.add_argument("input", help="a folder (RSNA layout with labels.csv, or plain images) or a CSV (path, sex[, boneage])")
    sc.add_argument("--out", required=True, help="results CSV; rows are appended, a rerun skips finished ones")
    sc.add_argument("--sex", default=None, help="sex of every image of a plain folder")
    sc.add_argument("--workers", type=int, default=2, help="decoding/detection processes (0: in this process)")
    sc.add_argument("--batch", type=int, default=None, help="regressor batch size")
    sc.add_argument("--limit", type=int, default=None, help="score at most this many new images")
    _model_args(sc)

    be = sub.add_parser("bench", help="per-stage and end-to-end latency and throughput vs the paper's 1.5 s")
    be.add_argument("--images", type=int, default=8, help="phantom files of clinical size to time")
    be.add_argument("--repeats", type=int, default=3)
    be.add_argument("--batch", type=int, default=8)
    be.add_argument("--json", default=None, metavar="PATH", help="also write the report as JSON")
    be.add_argument("--no-compare", action="store_true", help="do not time the PyTorch path beside another backend")
    _model_args(be)

    ex = sub.add_parser("export", help="export the regressor to ONNX or build a TensorRT engine")
    ex.add_argument("--format", choices=("onnx", "tensorrt"), default="onnx")
    ex.add_argument("--out", default=None, help="output file (default: the runtime cache)")
    ex.add_argument("--max-batch", type=int, default=64, help="TensorRT: largest batch of the engine")
    ex.add_argument("--model", default=None, help="model folder or regressor card (default: the shipped model)")

    old = sub.add_parser("predict-folder", help="predictions CSV (id, boneage, male, pred) of an RSNA-layout folder, "
                                                "for boneage evaluate")
    old.add_argument("--data", required=True, help="RSNA-layout folder (labels.csv gives sex and truth)")
    old.add_argument("--out", required=True, help="predictions CSV (id, boneage, male, pred)")
    _model_args(old)

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
    if args.command == "predict-folder":
        return _predict_folder(args)
    if args.command == "score":
        return _score(args)
    if args.command == "bench":
        return _bench(args)
    if args.command == "export":
        return _export(args)
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
        print(json.dumps(_info(), indent=2))
        return 0
    if args.command == "phantom":
        if args.n < 1:
            parser.error(f"--n must be at least 1, got {args.n}")
        if args.workers < 1:
            parser.error(f"--workers must be at least 1, got {args.workers}")
        if args.size is not None and not all(256 <= v <= 4096 for v in args.size):
            parser.error(f"--size must be between 256 and 4096 pixels per side, got {args.size}")
        from boneage_fast.data.writer import write_phantom_dataset

        if not 0.1 <= args.scale <= 1.5:
            parser.error(f"--scale must be in [0.1, 1.5], got {args.scale}")
        labels = write_phantom_dataset(args.out, args.n, args.seed, tuple(args.size) if args.size else None,
                                       args.format, args.workers, clean=args.clean, size_scale=args.scale,
                                       style=args.style)
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


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="model folder (regressor.json + detector.json) or a regressor card; "
                                                  "default: the model shipped with the package")
    p.add_argument("--detector", default=None, help="detector card, when --model is a regressor card")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto")
    p.add_argument("--backend", default="auto", help="torch, onnxruntime, tensorrt or auto")


def _predictor(args: argparse.Namespace, **kw):
    from boneage_fast.pipeline import Predictor

    return Predictor(args.model, args.device, args.backend, detector=args.detector, **kw)


def _info() -> dict:
    import importlib.util
    import os

    from boneage_fast import build_info, cuda_is_available
    from boneage_fast.pipeline import default_model_dir

    info = build_info()
    info["cuda_is_available"] = cuda_is_available()
    info["runtimes"] = {m: importlib.util.find_spec(m) is not None for m in ("torch", "onnxruntime", "tensorrt", "cupy")}
    # What the readers can decode: ISA-L for the grey-PNG fast path, pydicom's plugins
    # for compressed DICOM (JPEG baseline/lossless, JPEG 2000, RLE, JPEG-LS).
    info["readers"] = {m: importlib.util.find_spec(m) is not None
                       for m in ("isal", "pylibjpeg", "libjpeg", "openjpeg", "rle", "jpeg_ls")}
    if info["runtimes"]["torch"]:
        import torch

        info["torch"] = {"version": torch.__version__, "cuda": torch.cuda.is_available(),
                         "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}
    card = os.path.join(default_model_dir(), "regressor.json")
    if os.path.isfile(card):
        with open(card, encoding="utf-8") as f:
            c = json.load(f)
        info["default_model"] = {"folder": default_model_dir(), "sha256": c.get("sha256"),
                                 "config": c.get("config", {}).get("name"), "input_size":
                                 c.get("preprocessing", {}).get("input_size"), "metrics": {
                                     k: v for k, v in c.get("metrics", {}).items() if k != "history"},
                                 "notice": c.get("notice")}
    else:
        info["default_model"] = None
    return info


def example_images() -> list[tuple[str, str]]:
    """(path, sex) of the example radiographs shipped in boneage_fast/examples."""
    import os

    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")
    with open(os.path.join(folder, "examples.json"), encoding="utf-8") as f:
        meta = json.load(f)
    return [(os.path.join(folder, name), m["sex"]) for name, m in sorted(meta.items())]


def _predict(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from boneage_fast.io import ImageReadError
    from boneage_fast.models.checkpoint import CheckpointError

    if args.example:
        for path, sex in example_images():
            args.images.append(path)
            args.sex = args.sex or sex
    if not args.images:
        parser.error("give image files, or --example")

    try:
        predictor = _predictor(args)
    except (FileNotFoundError, ValueError, ImportError, CheckpointError) as exc:
        print(f"boneage predict: {exc}", file=sys.stderr)
        return 2
    failures = 0
    for path in args.images:
        try:
            p = predictor.predict(path, args.sex, heatmap=bool(args.heatmap))
        except (ImageReadError, ValueError, TypeError) as exc:
            failures += 1
            print(json.dumps({"image": path, "error": str(exc)}) if args.json else f"{path}: error: {exc}",
                  file=sys.stdout if args.json else sys.stderr)
            continue
        if args.heatmap:
            import os

            from boneage_fast.models.ram import ram_overlay

            stem = os.path.splitext(os.path.basename(path))[0]
            out = args.heatmap.format(stem=stem) if "{stem}" in args.heatmap else args.heatmap
            ram_overlay(p.coarse_map, p.heatmap, out)
        if args.json:
            print(json.dumps({"image": path, **p.to_dict()}))
        else:
            t = p.timings_ms
            flags = f"  flags: {', '.join(p.flags)}" if p.flags else ""
            print(f"{path}: bone age {p.boneage_months:.1f} months ({p.boneage_years:.2f} years), sex {p.sex}, "
                  f"hand box score {p.box_score if p.box_score is not None else float('nan'):.2f}; "
                  f"{t['total']:.0f} ms (read {t.get('read', 0):.0f}, detect {t.get('detect', 0):.0f}, "
                  f"maps {t.get('preprocess', 0):.0f}, regressor {t.get('regress', 0):.0f}){flags}")
    return 0 if failures < len(args.images) else 1


def _predict_folder(args: argparse.Namespace) -> int:
    import os

    from boneage_fast.data.datasets import RSNADataset
    from boneage_fast.evaluation import save_predictions
    from boneage_fast.models.checkpoint import CheckpointError

    try:
        predictor = _predictor(args)
        ds = RSNADataset(os.path.join(args.data, "labels.csv"), os.path.join(args.data, "images"), on_error="skip")
    except (FileNotFoundError, ValueError, ImportError, CheckpointError) as exc:
        print(f"boneage predict-folder: {exc}", file=sys.stderr)
        return 2
    rows, failures = [], []
    for rec in ds:
        try:
            p = predictor.predict(rec.image, rec.male)
        except ValueError as exc:
            failures.append((rec.id, str(exc)))
            continue
        rows.append((rec.id, rec.boneage, rec.male, p.boneage_months))
    failures += [(i, reason) for i, _, reason in ds.skipped]
    if rows:
        ids, truth, male, pred = zip(*rows)
        save_predictions(args.out, ids, truth, male, pred)
        print(f"{len(rows)} predictions -> {args.out}")
    for what, reason in failures:
        print(f"skipped {what}: {reason}", file=sys.stderr)
    return 0 if rows else 1


def _score(args: argparse.Namespace) -> int:
    from boneage_fast.evaluation import markdown_table
    from boneage_fast.models.checkpoint import CheckpointError
    from boneage_fast.scoring import score

    try:
        r = score(args.input, args.out, args.model, args.device, args.backend, args.sex, args.workers, args.batch,
                  limit=args.limit)
    except (FileNotFoundError, ValueError, ImportError, CheckpointError) as exc:
        print(f"boneage score: {exc}", file=sys.stderr)
        return 2
    print(f"scored {r['scored']} images, {r['failed']} failed (recorded with their error), "
          f"{r['skipped_as_done']} already in {args.out}; {r['seconds']:.1f} s. "
          f"The file holds {r['rows']} rows ({r['rows_ok']} with an age).")
    if "mae" in r:
        print(markdown_table(r["mae"], f"MAE against the labels ({r['mae']['overall']['n']} images)"))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from boneage_fast.bench import format_report, run_bench
    from boneage_fast.models.checkpoint import CheckpointError

    try:
        r = run_bench(args.model, args.device, args.backend, args.images, args.repeats, batch=args.batch,
                      compare_torch=not args.no_compare)
    except (FileNotFoundError, ValueError, ImportError, CheckpointError) as exc:
        print(f"boneage bench: {exc}", file=sys.stderr)
        return 2
    print(format_report(r))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)
    return 0


def _export(args: argparse.Namespace) -> int:
    from boneage_fast.models.checkpoint import CheckpointError

    try:
        from boneage_fast.pipeline import Predictor

        if args.format == "onnx":
            from boneage_fast.runtime.onnx import cached_onnx, export_onnx

            pr = Predictor(args.model, "cpu", "torch")
            path = export_onnx(pr.model, args.out, pr.pre.input_size) if args.out else \
                cached_onnx(pr.model, pr.card, pr.pre.input_size)
        else:
            pr = Predictor(args.model, "cuda", "tensorrt", max_batch=args.max_batch)
            from boneage_fast.runtime.tensorrt import engine_path

            path = engine_path(pr.card, pr.pre.input_size, pr.max_batch)
            if args.out:
                import shutil

                shutil.copyfile(path, args.out)
                path = args.out
    except (FileNotFoundError, ValueError, ImportError, CheckpointError) as exc:
        print(f"boneage export: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
