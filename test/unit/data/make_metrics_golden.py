#!/usr/bin/python3
"""Writes metrics_golden.npz: image pairs with their PSNR and SSIM computed here in float64
numpy, independently of lib/Runtime/Metrics.cpp (runtime_metrics_test.cpp compares).

SSIM follows skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1, channel_axis=0): scipy.ndimage.gaussian_filter
(truncate 3.5 -> 11 taps, mode 'reflect') of x, y, x^2, y^2, xy, the SSIM map cropped by 5
pixels on each side, mean over the crop and the channels. Here the filter is an explicit
2-D reflect-padded correlation, then the same crop.

    /usr/bin/python3 test/unit/data/make_metrics_golden.py
"""
import os

import numpy as np


def gaussian_filter_reflect(img, sigma=1.5, truncate=3.5):
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    k = np.exp(-0.5 * x ** 2 / sigma ** 2)
    k /= k.sum()
    kernel = np.outer(k, k)
    # scipy's 'reflect' is numpy's 'symmetric' (the edge sample repeated).
    padded = np.pad(img, radius, mode="symmetric")
    h, w = img.shape
    out = np.zeros_like(img)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out += kernel[dy, dx] * padded[dy:dy + h, dx:dx + w]
    return out


def ssim(x, y):
    c1, c2, pad = 0.01 ** 2, 0.03 ** 2, 5
    vals = []
    for a, b in zip(np.clip(x, 0, 1), np.clip(y, 0, 1)):
        f = gaussian_filter_reflect
        ma, mb = f(a), f(b)
        va, vb, cov = f(a * a) - ma * ma, f(b * b) - mb * mb, f(a * b) - ma * mb
        s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2))
        vals.append(s[pad:-pad, pad:-pad].mean())
    return float(np.mean(vals))


def psnr(x, y):
    return float(10 * np.log10(1 / np.mean((np.clip(x, 0, 1) - np.clip(y, 0, 1)) ** 2)))


def main():
    rng = np.random.RandomState(0)
    out = {}
    # A smooth image and noisy/shifted/blurred/out-of-range versions of it, odd sizes.
    yy, xx = np.mgrid[0:23, 0:29] / 10.0
    base = np.stack([0.5 + 0.4 * np.sin(xx + c) * np.cos(yy - c) for c in range(3)])
    cases = {
        "noise": base + 0.05 * rng.randn(*base.shape),
        "shift": np.roll(base, 2, axis=2),
        "contrast": 0.5 + 0.6 * (base - 0.5),
        "clipped": base * 1.5 - 0.2,  # values outside [0, 1]: both metrics clamp first
        "random": rng.rand(*base.shape),
    }
    for i, (name, test) in enumerate(cases.items()):
        out[f"{i}_reference"] = base.astype(np.float32)
        out[f"{i}_test"] = test.astype(np.float32)
        # Scores of the float32 values the C++ test reads.
        ref32, test32 = base.astype(np.float32).astype(np.float64), test.astype(np.float32).astype(np.float64)
        out[f"{i}_psnr"] = np.array(psnr(ref32, test32))
        out[f"{i}_ssim"] = np.array(ssim(ref32, test32))
        print(f"{name}: psnr {out[f'{i}_psnr']:.4f} ssim {out[f'{i}_ssim']:.6f}")
    np.savez(os.path.join(os.path.dirname(os.path.abspath(__file__)), "metrics_golden.npz"), **out)


if __name__ == "__main__":
    main()
