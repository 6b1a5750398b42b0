#!/usr/bin/python3
"""The classical equal-size baseline of the tokenizer results: keep as many numbers as the
latent has (box/area-downsample each channel to s x s with 3 s^2 <= NUMBERS, s the largest),
upsample back with bicubic interpolation (Keys a = -0.5, edge-clamped), and score PSNR/SSIM.

    baseline.py DATA_DIR --numbers 512 [--size 64] [--json OUT.json]

Images are center-cropped to --size. Prints one JSON line: numbers kept, PSNR, SSIM.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
from msdd.images import read_png_rgb8  # noqa: E402


def area_matrix(n_in, n_out):
    """[n_out, n_in] averaging weights of each output cell's footprint (exact overlaps)."""
    m = np.zeros((n_out, n_in))
    scale = n_in / n_out
    for o in range(n_out):
        lo, hi = o * scale, (o + 1) * scale
        for i in range(int(math.floor(lo)), int(math.ceil(hi))):
            m[o, i] = min(hi, i + 1) - max(lo, i)
    return m / m.sum(1, keepdims=True)


def cubic(x, a=-0.5):
    x = abs(x)
    if x <= 1:
        return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1
    if x < 2:
        return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a
    return 0.0


def bicubic_matrix(n_in, n_out):
    """[n_out, n_in] bicubic interpolation weights (pixel centers aligned, edges clamped)."""
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        center = (o + 0.5) * n_in / n_out - 0.5
        base = int(math.floor(center))
        for k in range(base - 1, base + 3):
            m[o, min(max(k, 0), n_in - 1)] += cubic(center - k)
    return m


def gaussian_ssim(x, y):
    """Mean SSIM over channels (Gaussian window 11, sigma 1.5, data range 1, valid interior)."""
    taps = np.exp(-0.5 * (np.arange(11) - 5) ** 2 / 1.5 ** 2)
    taps /= taps.sum()

    def blur(img):
        img = np.apply_along_axis(lambda r: np.convolve(r, taps, mode="valid"), 0, img)
        return np.apply_along_axis(lambda r: np.convolve(r, taps, mode="valid"), 1, img)

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    vals = []
    for ch in range(x.shape[0]):
        a, b = x[ch], y[ch]
        ma, mb = blur(a), blur(b)
        va, vb, cov = blur(a * a) - ma ** 2, blur(b * b) - mb ** 2, blur(a * b) - ma * mb
        s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2))
        vals.append(s.mean())
    return float(np.mean(vals))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--numbers", type=int, required=True, help="numbers the latent keeps")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--json")
    args = ap.parse_args()
    s = int(math.isqrt(args.numbers // 3))
    down, up = area_matrix(args.size, s), bicubic_matrix(s, args.size)
    psnrs, ssims = [], []
    for f in sorted(f for f in os.listdir(args.data) if f.endswith(".png")):
        img = read_png_rgb8(os.path.join(args.data, f)).astype(np.float64) / 255
        o = (img.shape[0] - args.size) // 2
        x = img[o:o + args.size, o:o + args.size].transpose(2, 0, 1)
        y = np.clip(np.einsum("ij,cjk,lk->cil", up, np.einsum("ij,cjk,lk->cil", down, x, down), up), 0, 1)
        psnrs.append(10 * math.log10(1 / np.mean((x - y) ** 2)))
        ssims.append(gaussian_ssim(x, y))
    result = {"method": "box-down + bicubic-up", "numbers": 3 * s * s, "images": len(psnrs),
              "psnr": round(float(np.mean(psnrs)), 3), "ssim": round(float(np.mean(ssims)), 4)}
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as fp:
            json.dump(result, fp)


if __name__ == "__main__":
    main()
