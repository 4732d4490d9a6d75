"""Phantom rendering speed on one core (target: >= 20 images/s at 1024 x 1280).

Method: one process, one thread for every numeric library; 3 warm-up renders, then
`--repeats` renders at varied ages, sexes and seeds (all acquisition nuisance on); the
median time per image is reported, and separately the time to encode it as a 16-bit PNG.

    python benchmarks/bench_phantom.py --out benchmarks/results/phantom_dev_2core.json
    python benchmarks/bench_phantom.py --style v2 --out benchmarks/results/phantom_v2_dev_2core.json
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from PIL import Image  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    from bench_ops import machine

    from boneage_fast.data.phantom import render

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=60)
    p.add_argument("--out", default=None)
    p.add_argument("--style", default="v1", choices=("v1", "v2"))
    args = p.parse_args(argv)
    size = (1280, 1024)
    for i in range(3):
        render(100.0, True, seed=i, size=size, style=args.style)
    render_t, encode_t = [], []
    for i in range(args.repeats):
        t0 = time.perf_counter()
        s = render((i * 37) % 229, bool(i % 2), seed=1000 + i, size=size, style=args.style)
        render_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        Image.fromarray(s.image).save(io.BytesIO(), format="PNG", compress_level=1)
        encode_t.append(time.perf_counter() - t0)
    r = {"style": args.style, "size_hw": list(size), "repeats": args.repeats,
         "render_ms_median": 1e3 * statistics.median(render_t),
         "render_images_per_s": 1.0 / statistics.median(render_t),
         "png16_encode_ms_median": 1e3 * statistics.median(encode_t),
         "machine": machine()}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(r, f, indent=2)
    print(f"phantom {args.style} 1024x1280 on one core: {r['render_ms_median']:.1f} ms/image "
          f"({r['render_images_per_s']:.1f} images/s); 16-bit PNG encoding {r['png16_encode_ms_median']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
