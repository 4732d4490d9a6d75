"""Phantom rendering speed on one core (target: >= 20 images/s at 1024 x 1280).

Method: one process, one thread for every numeric library; 3 warm-up renders, then
`--repeats` renders at varied ages, sexes and seeds (all acquisition nuisance on); the
median time per image is reported, and separately the time to encode it as a 16-bit PNG.
With ``--style v2`` it also times the film's C++ exposure + read-out kernels against the
same arithmetic in NumPy and Pillow, on the same inputs in the same run; with v2 or v3,
the C++ long-bone and ossicle kernels against their NumPy version on the same hands;
with v4, the C++ edge enhancement against NumPy/Pillow and scipy's Gaussian filter.

    python benchmarks/bench_phantom.py --out benchmarks/results/phantom_dev_2core.json
    python benchmarks/bench_phantom.py --style v2 --out benchmarks/results/phantom_v2_dev_2core.json
    python benchmarks/bench_phantom.py --style v3 --out benchmarks/results/phantom_v3_dev_2core.json
    python benchmarks/bench_phantom.py --style v4 --out benchmarks/results/phantom_v4_dev_2core.json
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

    return {f"film_{name}_ms_median": _median_ms(fn, repeats) for name, fn in (("cpp", cpp), ("numpy_pillow", ref))}


def _median_ms(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` in ms over ``repeats`` calls, after one warm-up call."""
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(ts)


def bench_unsharp(size, repeats: int) -> dict:
    """Median ms of v4's edge enhancement (``_C.film_unsharp``, sigma 1.15 k with k = 8,
    about 1.5 mm on a 1024 x 1280 film) against the same arithmetic in NumPy and Pillow
    (block means, two [1, 2, 1] passes, Pillow's bilinear enlargement) and against
    scipy's Gaussian filter at the same sigma, on the same film in the same process;
    and the largest difference between the C++ and NumPy results."""
    import numpy as np

    from boneage_fast import _C

    H, W = size
    k, gain = 8, 1.0
    img0 = np.random.default_rng(1).random((H, W), dtype=np.float32)

    def cpp():
        img = img0.copy()
        _C.film_unsharp(img, k, gain)
        return img

    def ref():
        h, w = -(-H // k), -(-W // k)
        a = np.pad(img0, ((0, h * k - H), (0, w * k - W)), mode="edge")
        # the C++ averages a partial last block over its own pixels; H, W here are whole blocks
        small = a.reshape(h, k, w, k).mean(axis=(1, 3), dtype=np.float32)
        for _ in range(2):
            small[1:-1] = 0.25 * (small[:-2] + small[2:]) + 0.5 * small[1:-1]
            small[:, 1:-1] = 0.25 * (small[:, :-2] + small[:, 2:]) + 0.5 * small[:, 1:-1]
        lo = np.asarray(Image.fromarray(small, mode="F").resize((w * k, h * k), Image.BILINEAR))[:H, :W]
        return img0 + np.float32(gain) * (img0 - lo)

    fns = [("cpp", cpp), ("numpy_pillow", ref)]
    try:
        from scipy import ndimage

        fns.append(("scipy_gaussian", lambda: img0 + np.float32(gain) * (img0 - ndimage.gaussian_filter(img0, 1.15 * k))))
    except ImportError:
        pass
    out = {"unsharp_max_abs_diff": float(np.max(np.abs(cpp() - ref())))}
    out.update({f"unsharp_{name}_ms_median": _median_ms(fn, repeats) for name, fn in fns})
    return out


def _numpy_shapes():
    """The long-bone and ossicle drawing in NumPy (phantom v2/v3 before the C++
    kernels, in float32 over each shape's whole bounding window): the reference the
    kernels are timed against. Returns (draw_long_bone, draw_ossicle)."""
    import math

    import numpy as np

    from boneage_fast.data.film import _END_ROUNDING, bone_coords, window

    F32 = np.float32

    def gauss_(x):
        np.square(x, out=x)
        np.negative(x, out=x)
        return np.exp(x, out=x)

    def sqrt_(x):
        return np.sqrt(x, out=x)

    def draw_long_bone(acc, b, T, end_plate=0.0):
        geo = bone_coords(acc.shape, b, T)
        if geo is None:
            return
        sl, u, v, L, hw = geo
        base_round, head_round = _END_ROUNDING.get(b.kind, (0.3, 0.5))
        uc = np.clip(u, 0.0, 1.0)
        mid = np.sin(F32(math.pi) * uc)
        mid *= mid
        fb = gauss_(uc * F32(1 / 0.15))
        fh = gauss_((1.0 - uc) * F32(1 / 0.15))
        h = F32(hw) * (1.0 + F32(b.flare0) * fb + F32(b.flare1) * fh - F32(0.1) * mid)
        r_end = np.minimum(np.where(u < 0.5, F32(base_round), F32(head_round)) * F32(hw) + F32(0.5), F32(0.4 * L))
        along = u * F32(L)
        over = F32(1.0 / 3.0) * r_end
        e = np.maximum(np.maximum(r_end - over - along, along - (F32(L) + over - r_end)), 0.0)
        h = h * sqrt_(np.clip(1.0 - (e / r_end) ** 2, 0.0, None))
        cortex = np.maximum(h * (0.12 + 0.26 * mid), F32(0.6))
        outer = sqrt_(np.clip(h * h - v * v, 0.0, None))
        hi = np.maximum(h - cortex, 0.0)
        inner = sqrt_(np.clip(hi * hi - v * v, 0.0, None))
        medulla = 0.22 + F32(0.12 if b.kind in ("radius", "ulna") else 0.4) * (fb + fh)
        if end_plate:
            w = F32(1.0 / max(0.5 * T.scale, 0.8))
            medulla = medulla + F32(end_plate) * (gauss_(along * w) + gauss_((F32(L) - along) * w))
        flat = sqrt_(F32(hw) * (1.0 - F32(0.1) * mid) / np.maximum(h, F32(1e-3)))
        np.minimum(flat, 1.0, out=flat)
        acc[sl] += (2.0 * (outer - inner) + 2.0 * medulla * inner) * flat * F32(1.0 / T.scale)

    def draw_ossicle(acc, e, T, cortex=0.06, cancellous=0.5):
        c = T(e.centre)
        a, b = float(e.axes[0] * T.scale), float(e.axes[1] * T.scale)
        if a < 0.4 or b < 0.4:
            return
        lip = abs(e.cap) * 0.8
        r = max(a, b) * (1.0 + lip) + 2.0
        win = window(acc.shape, c - r, c + r)
        if win is None:
            return
        sl, xs, ys = win
        ang = math.atan2(T.m[1, 0], T.m[0, 0]) - e.angle
        ca, sa = F32(math.cos(ang)), F32(math.sin(ang))
        dx, dy = xs - F32(c[0]), ys - F32(c[1])
        xr = (dx * ca + dy * sa) * F32(1.0 / a)
        yr = -(-dx * sa + dy * ca) * F32(1.0 / b)
        if e.cap:
            side = -yr if e.cap > 0 else yr
            shift = F32(lip) * (0.5 - xr * xr) * np.clip(side, 0.0, 1.0)
            yr = yr - shift if e.cap > 0 else yr + shift
        if e.taper:
            along = yr if e.taper > 0 else -yr
            xr = xr / (1.0 - F32(abs(e.taper)) * np.clip(0.5 * (along + 1.0), 0.0, 1.0))
        p = F32(e.exponent)
        ax, ay = np.abs(xr), np.abs(yr)
        rho = ax**p + ay**p if e.exponent != 2.0 else ax * ax + ay * ay
        depth = F32((0.6 * a if e.name.startswith("epi_") else min(a, b)) / T.scale)
        shell = F32(max(1.0 - 0.7 / min(a, b) - cortex, 0.3))
        outer = sqrt_(np.clip(1.0 - rho, 0.0, None))
        inner = sqrt_(np.clip(1.0 - rho * F32(shell ** -float(p)), 0.0, None)) * shell
        interior = 0.0 if e.name.endswith("hook") else cancellous
        acc[sl] += F32(e.density) * depth * (2.0 * (outer - inner) + F32(2.0 * interior) * inner)

    return draw_long_bone, draw_ossicle


def bench_shape_kernels(style: str, size, repeats: int) -> dict:
    """Median ms to draw all long bones and ossicles of 12 hands (one at a time) with
    the C++ kernels against the NumPy reference, same hands in the same run, and the
    largest difference between the two (mm of bone path)."""
    import numpy as np

    from boneage_fast.data import film
    from boneage_fast.data.film import LOOKS
    from boneage_fast.data.phantom import render

    look = LOOKS[style]
    hands = [render((i * 19) % 229, bool(i % 2), seed=2000 + i, size=size, style=style) for i in range(12)]
    np_bone, np_ossicle = _numpy_shapes()

    def draw(sample, long_bone, ossicle):
        acc = np.zeros(sample.image.shape, np.float32)
        for b in sample.hand.bones:
            long_bone(acc, b, sample.frame, look.end_plate)
        for e in sample.hand.ossicles:
            ossicle(acc, e, sample.frame, look.ossicle_cortex, look.ossicle_cancellous)
        return acc

    diff = max(float(np.abs(draw(s, film.draw_long_bone, film.draw_ossicle) - draw(s, np_bone, np_ossicle)).max())
               for s in hands)
    out = {"shapes_max_abs_diff_mm": diff}
    for name, fns in (("cpp", (film.draw_long_bone, film.draw_ossicle)), ("numpy", (np_bone, np_ossicle))):
        ts = []
        for r in range(repeats + 1):
            for s in hands:
                t0 = time.perf_counter()
                draw(s, *fns)
                if r:  # the first pass warms up
                    ts.append(time.perf_counter() - t0)
        out[f"shapes_{name}_ms_median"] = 1e3 * statistics.median(ts)
    return out


def main(argv: list[str] | None = None) -> int:
    from bench_ops import machine

    from boneage_fast.data.phantom import render

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=60)
    p.add_argument("--out", default=None)
    p.add_argument("--style", default="v1", choices=("v1", "v2", "v3", "v4"))
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
    if args.style == "v4":
        r.update(bench_unsharp(size, max(args.repeats // 2, 5)))
    if args.style in ("v2", "v3"):  # the NumPy reference has no bent ossicles (v4)
        r.update(bench_shape_kernels(args.style, size, max(args.repeats // 12, 3)))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(r, f, indent=2)
    print(f"phantom {args.style} 1024x1280 on one core: {r['render_ms_median']:.1f} ms/image "
          f"({r['render_images_per_s']:.1f} images/s); 16-bit PNG encoding {r['png16_encode_ms_median']:.1f} ms")
    if "film_cpp_ms_median" in r:
        print(f"film exposure + read-out: C++ {r['film_cpp_ms_median']:.1f} ms, "
              f"NumPy/Pillow {r['film_numpy_pillow_ms_median']:.1f} ms (same inputs, same run)")
    if "unsharp_cpp_ms_median" in r:
        print(f"edge enhancement (v4): C++ {r['unsharp_cpp_ms_median']:.1f} ms, NumPy/Pillow "
              f"{r['unsharp_numpy_pillow_ms_median']:.1f} ms, scipy Gaussian "
              f"{r.get('unsharp_scipy_gaussian_ms_median', float('nan')):.1f} ms (same film, same run; "
              f"largest C++/NumPy difference {r['unsharp_max_abs_diff']:.1e})")
    if "shapes_cpp_ms_median" in r:
        print(f"long bones + ossicles of one hand: C++ {r['shapes_cpp_ms_median']:.1f} ms, "
              f"NumPy {r['shapes_numpy_ms_median']:.1f} ms (same hands, same run; "
              f"largest difference {r['shapes_max_abs_diff_mm']:.4f} mm of bone)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
