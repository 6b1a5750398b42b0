#!/usr/bin/python3
"""Writes metrics_golden.npz, the reference values of runtime_metrics_test.cpp.

Run from anywhere with Debian's python3 (numpy from python3-numpy; scipy and skimage are not
needed):
    /usr/bin/python3 test/unit/data/make_metrics_golden.py

An independent float64 implementation of the runtime's metrics (lib/Runtime/Metrics.cpp):
- PSNR: both images clamped to [0, 1], 10 log10(1 / MSE) over all values of one image.
- SSIM as skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1, channel_axis=0): a Gaussian window of
  sigma 1.5 truncated at 3.5 sigma (radius int(3.5 * 1.5 + 0.5) = 5, 11 taps), filtered
  separably over the whole image with scipy.ndimage's 'reflect' border mode (numpy's
  'symmetric' padding), K1 = 0.01, K2 = 0.03, the SSIM map cropped by (11 - 1) // 2 = 5
  pixels on every side and averaged, then averaged over channels. (The runtime filters only
  the interior it averages; this script filters the whole padded image as skimage does, so
  the two agree only if the border mode cannot reach the cropped map.)
- Frechet distance of two feature sets: means, sample covariances (np.cov, N - 1), and
  tr sqrtm(S1 S2) from the eigenvalues of sqrt(S1) S2 sqrt(S1) (numpy eigh).

Keys: ssim_case<k>_a / _b (f32 [N, 3, H, W]), ssim_case<k>_ssim / _psnr (f64 [N], per image);
fd_case<k>_x / _y (f64 [n, d]) and fd_case<k>_fd (f64 scalar).
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

SIGMA = 1.5
TRUNCATE = 3.5
K1, K2 = 0.01, 0.03


def gaussian_taps():
    radius = int(TRUNCATE * SIGMA + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 * x * x / (SIGMA * SIGMA))
    return phi / phi.sum()


def filter_reflect(image):
    """scipy.ndimage.gaussian_filter(image, 1.5, truncate=3.5, mode='reflect') on 2-D."""
    taps = gaussian_taps()
    radius = len(taps) // 2
    out = image
    for axis in range(2):
        width = [(0, 0), (0, 0)]
        width[axis] = (radius, radius)
        padded = np.pad(out, width, mode="symmetric")  # scipy's 'reflect': d c b a | a b c d
        n = out.shape[axis]
        acc = np.zeros_like(out)
        for k, w in enumerate(taps):
            acc += w * np.take(padded, np.arange(k, k + n), axis=axis)
        out = acc
    return out


def ssim_channel(x, y):
    ux, uy = filter_reflect(x), filter_reflect(y)
    vx = filter_reflect(x * x) - ux * ux
    vy = filter_reflect(y * y) - uy * uy
    vxy = filter_reflect(x * y) - ux * uy
    c1, c2 = K1 ** 2, K2 ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    pad = (len(gaussian_taps()) - 1) // 2
    return s[pad:-pad, pad:-pad].mean()


def ssim_image(a, b):
    a = np.clip(a.astype(np.float64), 0, 1)
    b = np.clip(b.astype(np.float64), 0, 1)
    return np.mean([ssim_channel(a[c], b[c]) for c in range(a.shape[0])])


def psnr_image(a, b):
    a = np.clip(a.astype(np.float64), 0, 1)
    b = np.clip(b.astype(np.float64), 0, 1)
    return 10 * np.log10(1.0 / np.mean((a - b) ** 2))


def sqrtm_psd(m):
    w, v = np.linalg.eigh(m)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet(x, y):
    mu1, mu2 = x.mean(axis=0), y.mean(axis=0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    r = sqrtm_psd(s1)
    m = r @ s2 @ r
    tr = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr)


def smooth_images(rng, n, h, w):
    """Photo-like images: a few blurred blobs plus fine texture, in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.empty((n, 3, h, w))
    for i in range(n):
        for c in range(3):
            img = np.full((h, w), rng.uniform(0.2, 0.8))
            for _ in range(4):
                cy, cx = rng.uniform(0, h), rng.uniform(0, w)
                r = rng.uniform(2, max(h, w) / 2)
                img += rng.uniform(-0.4, 0.4) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
            img += 0.05 * rng.standard_normal((h, w))
            out[i, c] = img
    return np.clip(out, 0, 1)


def main():
    rng = np.random.default_rng(20261127)
    arrays = {}
    # (N, H, W, noise, out of range): the smallest image skimage accepts (11x11, a one-pixel
    # SSIM map), non-square sizes, and values outside [0, 1] that must be clamped first.
    cases = [(2, 16, 20, 0.05, False), (1, 11, 11, 0.2, False), (3, 24, 13, 0.1, True),
             (2, 32, 32, 0.02, False)]
    for k, (n, h, w, noise, out_of_range) in enumerate(cases):
        a = smooth_images(rng, n, h, w)
        b = a + noise * rng.standard_normal(a.shape) + 0.03 * np.sin(np.arange(w) / 2.0)
        if out_of_range:
            a = a * 1.4 - 0.2
            b = b * 1.3 - 0.1
        a = a.astype(np.float32)
        b = b.astype(np.float32)
        arrays[f"ssim_case{k}_a"] = a
        arrays[f"ssim_case{k}_b"] = b
        arrays[f"ssim_case{k}_ssim"] = np.array([ssim_image(a[i], b[i]) for i in range(n)])
        arrays[f"ssim_case{k}_psnr"] = np.array([psnr_image(a[i], b[i]) for i in range(n)])

    # (n1, n2, d): full-rank covariances, and n < d (singular covariances, clipped eigenvalues).
    for k, (n1, n2, d) in enumerate([(40, 55, 6), (200, 150, 16), (5, 7, 12)]):
        mix1 = rng.standard_normal((d, d))
        mix2 = mix1 + 0.5 * rng.standard_normal((d, d))
        x = rng.standard_normal((n1, d)) @ mix1 + rng.standard_normal(d)
        y = rng.standard_normal((n2, d)) @ mix2 + rng.standard_normal(d)
        arrays[f"fd_case{k}_x"] = x
        arrays[f"fd_case{k}_y"] = y
        arrays[f"fd_case{k}_fd"] = np.array(frechet(x, y))

    np.savez(os.path.join(HERE, "metrics_golden.npz"), **arrays)


if __name__ == "__main__":
    main()
