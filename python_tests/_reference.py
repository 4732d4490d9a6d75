"""Slow float64 references written for the tests, independent of the C++ code."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi


def hessian_kernels(sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full (2R+1) kernels: two sampled Gaussians of sigma/sqrt(2) composed, cut at ceil(5 sigma),
    first derivative scaled by sigma and second by sigma^2."""
    R = max(1, math.ceil(5 * sigma))
    sh = sigma / math.sqrt(2)
    Rh = 3 * R
    i = np.arange(-Rh, Rh + 1, dtype=np.float64)
    g = np.exp(-0.5 * i**2 / sh**2)
    g /= g.sum()
    d = -i / sh**2 * g
    cut = slice(2 * Rh - R, 2 * Rh + R + 1)
    k2 = sigma**2 * np.convolve(d, d)[cut]
    k2[R] -= k2.sum()  # exactly zero-sum, as documented
    return (np.convolve(g, g)[cut], sigma * np.convolve(g, d)[cut], k2)


def hessian(img: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k0, k1, k2 = hessian_kernels(sigma)
    c = lambda a, k, ax: ndi.convolve1d(a, k, axis=ax, mode="reflect")  # noqa: E731
    img = np.asarray(img, dtype=np.float64)
    hxx = c(c(img, k2, 1), k0, 0)
    hyy = c(c(img, k0, 1), k2, 0)
    hxy = c(c(img, k1, 1), k1, 0)
    return hxx, hxy, hyy


def _eig(hxx, hxy, hyy):
    m = (hxx + hyy) / 2
    d = np.sqrt(((hxx - hyy) / 2) ** 2 + hxy**2)
    l1, l2 = m + d, m - d
    first = np.abs(l1) >= np.abs(l2)
    return np.where(first, l2, l1), np.where(first, l1, l2)  # small, large


def frangi(img, sigmas, beta=0.5, c=None, bright=True) -> np.ndarray:
    """Frangi vesselness with sigma^2-normalised Hessians and c = half the largest norm
    over all scales (when c is None), written from the formulas."""
    terms = []
    for s in sorted(set(float(x) for x in sigmas)):
        small, large = _eig(*hessian(img, s))
        ridge = large < 0 if bright else large > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            rb = np.where(ridge, np.abs(small) / np.abs(large), 0.0)
        blob = np.where(ridge, np.exp(-(rb**2) / (2 * beta**2)), 0.0)
        terms.append((blob, small**2 + large**2))
    if c is None:
        smax = max(t[1].max() for t in terms)
        if smax == 0:
            return np.zeros(np.shape(img))
        c2 = smax / 4
    else:
        c2 = c * c
    return np.max([b * (1 - np.exp(-s2 / (2 * c2))) for b, s2 in terms], axis=0)


def well_conditioned(img, sigmas, rel: float = 1e-3) -> np.ndarray:
    """Pixels where Frangi's decisions (which eigenvalue is larger, its sign) are not
    within float32 rounding of flipping: only there can float32 be held to 1e-4."""
    ok = np.ones(np.shape(img), dtype=bool)
    for s in sigmas:
        small, large = _eig(*hessian(img, s))
        scale = max(np.abs(large).max(), 1e-30)
        ok &= np.abs(large) > rel * scale
        ok &= (np.abs(large) - np.abs(small)) > rel * scale
    return ok


def match_integer(image: np.ndarray, ref_values: np.ndarray, ref_quantiles: np.ndarray) -> np.ndarray:
    """Exact CDF matching of an integer image, float64."""
    counts = np.bincount(image.reshape(-1))
    q = np.cumsum(counts) / image.size
    return np.interp(q, ref_quantiles, ref_values)[image]


def match_float(image: np.ndarray, ref_values: np.ndarray, ref_quantiles: np.ndarray, bins: int = 65536) -> np.ndarray:
    """The documented float method: mapping at uniform bin edges, linear inside a bin."""
    x = image.astype(np.float64)
    lo, hi = x.min(), x.max()
    if hi <= lo:
        return np.full(x.shape, np.interp(1.0, ref_quantiles, ref_values))
    t = np.clip((x - lo) * (bins / (hi - lo)), 0, bins)
    b = np.minimum(t.astype(np.int64), bins - 1)
    hist = np.bincount(b.reshape(-1), minlength=bins)
    before = np.concatenate([[0], np.cumsum(hist)]) / x.size
    edges = np.interp(before, ref_quantiles, ref_values)
    f = t - b
    return edges[b] + f * (edges[b + 1] - edges[b])


def smooth_random(rng: np.random.Generator, shape, sigma: float = 1.5) -> np.ndarray:
    """Random structure at the scales the filter looks at, in [0, 1]."""
    a = ndi.gaussian_filter(rng.random(shape), sigma) if min(shape) > 1 else rng.random(shape)
    a = a - a.min()
    return a / max(a.max(), 1e-12)


def as_dtype(a01: np.ndarray, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        return np.round(a01 * np.iinfo(dtype).max).astype(dtype)
    return (a01 * 1000.0 - 200.0).astype(dtype)
