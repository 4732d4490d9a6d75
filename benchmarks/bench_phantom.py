"""Phantom rendering speed on one core (target: >= 20 images/s at 1024 x 1280).

Method: one process, one thread for every numeric library; 3 warm-up renders, then
`--repeats` renders at varied ages, sexes and seeds (all acquisition nuisance on); the
median time per image is reported, and separately the time to encode it as a 16-bit PNG.
With ``--style v2`` it also times the film's C++ exposure + read-out kernels against the
same arithmetic in NumPy and Pillow, on the same inputs in the same run.

    python benchmarks/bench_phantom.py --out benchmarks/results/phantom_dev_2core.json
    python benchmarks/bench_phantom.py --style v2 --out benchmarks/results/phantom_v2_dev_2core.json
    python benchmarks/bench_phantom.py --style v3 --out benchmarks/results/phantom_v3_dev_2core.json
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


def _numpy_film(bone, soft, tex, lut, rng):
    """The same exposure and read-out in NumPy and Pillow (v2's film before the C++
    kernels): the reference the kernels are measured against."""
    import numpy as np

    H, W = bone.shape
    up = lambda a: np.asarray(Image.fromarray(a, mode="F").resize((W, H), Image.BILINEAR), dtype=np.float32)  # noqa: E731
    path = up(soft) * np.float32(0.014)
    path += bone * (1.0 + np.float32(0.08) * up(tex)) * np.float32(0.085)
    img = (1.0 - np.exp(-path)) * np.float32(0.9) + np.float32(0.05)
    img *= 1.0 + (np.arange(W, dtype=np.float32) / W - 0.5) * np.float32(0.1)
    noise = rng.standard_normal((H, W), dtype=np.float32)
    noise *= np.sqrt(np.clip(img, 0.01, None))
    noise *= np.float32(0.02)
    img += noise
    img[1:-1] = 0.25 * (img[:-2] + img[2:]) + 0.5 * img[1:-1]
    img[:, 1:-1] = 0.25 * (img[:, :-2] + img[:, 2:]) + 0.5 * img[:, 1:-1]
    idx = np.clip(img, 0.0, 1.0)
    idx *= np.float32(len(lut) - 1)
    return lut[idx.astype(np.uint16)]


def bench_film_kernels(size, repeats: int) -> dict:
    """Median ms of the C++ exposure + read-out against the NumPy/Pillow equivalent, on
    the same inputs in the same process."""
    import numpy as np

    from boneage_fast import _C

    H, W = size
    rng = np.random.default_rng(0)
    bone = (rng.random((H, W), dtype=np.float32) * 20).astype(np.float32)
    soft = (rng.random((H // 4, W // 4), dtype=np.float32) * 30).astype(np.float32)
    tex = rng.standard_normal((H // 2, W // 2), dtype=np.float32)
    lut = np.round(np.linspace(0.0, 1.0, 16384) ** 1.1 * 65535).astype(np.uint16)

    def cpp():
        img = bone.copy()
        _C.film_expose(img, soft, tex, 0.014, 0.085, 0.08, 0.9, 0.05, 0.1, 1)
        return _C.film_read_out(img, 1, 0.02, lut)

    def ref():
        return _numpy_film(bone, soft, tex, lut, rng)

    out = {}
    for name, fn in (("cpp", cpp), ("numpy_pillow", ref)):
        fn()
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        out[f"film_{name}_ms_median"] = 1e3 * statistics.median(ts)
    return out


def main(argv: list[str] | None = None) -> int:
    from bench_ops import machine

    from boneage_fast.data.phantom import render

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=60)
    p.add_argument("--out", default=None)
    p.add_argument("--style", default="v1", choices=("v1", "v2", "v3"))
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
    if args.style == "v2":
        r.update(bench_film_kernels(size, max(args.repeats // 2, 5)))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(r, f, indent=2)
    print(f"phantom {args.style} 1024x1280 on one core: {r['render_ms_median']:.1f} ms/image "
          f"({r['render_images_per_s']:.1f} images/s); 16-bit PNG encoding {r['png16_encode_ms_median']:.1f} ms")
    if "film_cpp_ms_median" in r:
        print(f"film exposure + read-out: C++ {r['film_cpp_ms_median']:.1f} ms, "
              f"NumPy/Pillow {r['film_numpy_pillow_ms_median']:.1f} ms (same inputs, same run)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
