"""Concurrency of the CPU kernels: calls from many Python threads while another thread
changes the worker count must neither crash nor change any result (the worker count is
fixed per call and passed down to the loop that sized the per-worker buffers)."""

from __future__ import annotations

import threading

import numpy as np

import boneage_fast
from boneage_fast.ops import ReferenceHistogram, hessian_enhance, match_histograms


def test_concurrent_calls_while_the_thread_count_changes():
    rng = np.random.default_rng(0)
    ref = ReferenceHistogram.from_image(rng.integers(0, 4000, size=(64, 64)).astype(np.uint16))
    inputs = []
    for _ in range(24):
        h, w = int(rng.integers(16, 300)), int(rng.integers(16, 300))
        inputs.append((rng.random((h, w)).astype(np.float32), rng.integers(0, 65535, size=(h, w)).astype(np.uint16)))
    before = boneage_fast.get_num_threads()
    boneage_fast.set_num_threads(1)
    try:
        want = [(hessian_enhance(f, (1, 2)), match_histograms(u, ref), match_histograms(f, ref)) for f, u in inputs]
        stop = threading.Event()
        errors: list[BaseException] = []

        def flip():
            k = 0
            while not stop.is_set():
                boneage_fast.set_num_threads(1 + k % 16)  # up to far more workers than the buffers were sized for
                k += 1

        def work(seed: int):
            try:
                r = np.random.default_rng(seed)
                for _ in range(30):
                    i = int(r.integers(len(inputs)))
                    f, u = inputs[i]
                    np.testing.assert_array_equal(hessian_enhance(f, (1, 2)), want[i][0])
                    np.testing.assert_array_equal(match_histograms(u, ref), want[i][1])
                    np.testing.assert_array_equal(match_histograms(f, ref), want[i][2])
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        flipper = threading.Thread(target=flip)
        flipper.start()
        workers = [threading.Thread(target=work, args=(s,)) for s in range(8)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        stop.set()
        flipper.join()
        assert not errors, errors[0]
    finally:
        boneage_fast.set_num_threads(before if before > 0 else 0)
