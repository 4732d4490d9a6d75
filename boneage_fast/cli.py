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

    args = parser.parse_args(argv)
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
                                       args.format, args.workers)
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


if __name__ == "__main__":
    sys.exit(main())
