"""Where the GPU time of the two ops goes: torch.profiler's CUDA time per kernel, per
call, at 2560x2048 (hessian_enhance sigma = 1, 2, 3 on float32 with automatic and fixed
c; match_histograms on uint16), 10 profiled calls after 5 warm-up calls.

    python scripts/gpu_profile_ops.py
"""

from __future__ import annotations

import sys

import numpy as np


def profile(fn, calls: int = 10) -> list[tuple[str, float]]:
    import torch
    from torch.profiler import ProfilerActivity, profile as tprofile

    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    with tprofile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
    rows = []
    for e in prof.key_averages():
        t = getattr(e, "device_time_total", None) or getattr(e, "cuda_time_total", 0.0)
        if t > 0:
            rows.append((e.key, t / calls))
    return sorted(rows, key=lambda r: -r[1])


def main() -> int:
    import torch

    from boneage_fast.ops import ReferenceHistogram, hessian_enhance, match_histograms

    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    rng = np.random.default_rng(0)
    img = rng.random((2560, 2048), dtype=np.float32)
    t = torch.from_numpy(img).cuda()
    u16 = torch.from_numpy((img * 4095).astype(np.int32)).to(torch.uint16).cuda()
    ref = ReferenceHistogram.from_image((rng.random((512, 512)) * 4095).astype(np.uint16))
    cases = {
        "hessian_enhance auto c": lambda: hessian_enhance(t, (1, 2, 3), check_finite=False),
        "hessian_enhance c=0.1": lambda: hessian_enhance(t, (1, 2, 3), c=0.1, check_finite=False),
        "match_histograms uint16": lambda: match_histograms(u16, ref),
    }
    print(torch.cuda.get_device_name())
    for name, fn in cases.items():
        rows = profile(fn)
        total = sum(t for _, t in rows)
        print(f"{name}: {total:.1f} us of GPU time a call")
        for key, us in rows[:6]:
            print(f"  {us:8.1f} us  {100 * us / total:5.1f} %  {key[:110]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
