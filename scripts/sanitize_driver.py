"""Launch every CUDA kernel of boneage_fast once on small, odd-sized inputs, on both
paths of each op (for compute-sanitizer). Exits non-zero if CUDA is unavailable or a result is wrong."""

from __future__ import annotations

import os
import sys

import numpy as np


def main() -> int:
    import torch

    import boneage_fast
    from boneage_fast.ops import ReferenceHistogram, hessian_enhance, match_histograms

    if not (boneage_fast.cuda_is_available() and torch.cuda.is_available()):
        print("no CUDA device", file=sys.stderr)
        return 2
    worst = 0.0  # largest share of pixels off by more than 1e-3
    # Both paths of each op: the fused Hessian kernel and the shared-memory 16-bit
    # histogram (the defaults), then the two-kernel Hessian and the global-atomic histogram.
    for forced in ({}, {"BONEAGE_HESSIAN_TWO_PASS": "1", "BONEAGE_MATCH_GLOBAL_HISTOGRAM": "1"}):
        os.environ.update(forced)
        rng = np.random.default_rng(0)
        ref = ReferenceHistogram.from_image(rng.integers(0, 4000, size=(50, 60)).astype(np.uint16))
        for shape in [(37, 53), (1, 19), (130, 1), (300, 401)]:  # the last: 2 histogram blocks an image
            f = rng.random(shape).astype(np.float32)
            imgs = {"float32": f, "uint8": (f * 255).astype(np.uint8), "uint16": (f * 4000).astype(np.uint16)}
            for name, a in imgs.items():
                t = torch.from_numpy(a.astype(np.int32) if name == "uint16" else a).cuda()
                if name == "uint16":
                    t = t.to(torch.uint16)
                for c in (None, 0.1):
                    g = hessian_enhance(t, (1, 2), c=c).cpu().numpy()
                    worst = max(worst, float((np.abs(g - hessian_enhance(a, (1, 2), c=c)) > 1e-3).mean()))
                g = match_histograms(t, ref).cpu().numpy()
                worst = max(worst, float((np.abs(g - match_histograms(a, ref)) > 1e-3 * 4000).mean()))
            # an (N, H, W) batch, non-contiguous along N: each image against its own CPU result
            stack = (rng.random((5, *shape)) * 4000).astype(np.uint16)[::2]
            tb = torch.from_numpy(stack.astype(np.int32)).to(torch.uint16).cuda()
            for c in (None, 0.1):
                g = hessian_enhance(tb, (1, 2), c=c).cpu().numpy()
                worst = max(worst, float((np.abs(g - hessian_enhance(stack, (1, 2), c=c)) > 1e-3).mean()))
            g = match_histograms(tb, ref).cpu().numpy()
            worst = max(worst, float((np.abs(g - match_histograms(stack, ref)) > 1e-3 * 4000).mean()))
            g = match_histograms(tb.float(), ref).cpu().numpy()
            want = match_histograms(stack.astype(np.float32), ref)
            worst = max(worst, float((np.abs(g - want) > 1e-3 * 4000).mean()))
            bad = f.copy()
            bad[0, 0] = np.nan
            try:
                hessian_enhance(torch.from_numpy(bad).cuda())
                print("NaN was not refused", file=sys.stderr)
                return 1
            except ValueError:
                pass
        for k in forced:
            del os.environ[k]
    torch.cuda.synchronize()
    print(f"all kernels launched; largest share of pixels where CPU and CUDA differ by > 1e-3: {worst:.2%}")
    return 0 if worst < 0.01 else 1


if __name__ == "__main__":
    sys.exit(main())
