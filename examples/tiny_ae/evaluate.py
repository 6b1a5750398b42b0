#!/usr/bin/python3
"""Reconstructs held-out photos with a trained tiny_ae artifact and reports quality and speed.

    python3 examples/tiny_ae/evaluate.py ART.msdd WEIGHTS.safetensors DATA_DIR --grid out.png

Center 32x32 crops of every PNG in DATA_DIR go through the artifact's `reconstruct`; prints
PSNR (data range 1) against the crops and throughput (img/s, median of repeated batches) as a
table and a JSON line, and writes a PNG grid: originals on top, reconstructions below.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
from msdd import Artifact  # noqa: E402
from msdd.images import read_png_rgb8, read_safetensors, write_png_rgb8  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifact")
    ap.add_argument("weights")
    ap.add_argument("data")
    ap.add_argument("--grid", help="write a PNG grid of originals and reconstructions here")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()

    art = Artifact(args.artifact)
    spec = art.functions["reconstruct"]
    shape = next(i["shape"] for i in spec["inputs"] if i["name"] == "images")
    batch, size = shape[0], shape[2]
    weights = {k: np.ascontiguousarray(v) for k, v in read_safetensors(args.weights).items()}

    files = sorted(f for f in os.listdir(args.data) if f.endswith(".png"))
    crops = []
    for f in files:
        img = read_png_rgb8(os.path.join(args.data, f))
        y, x = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
        crops.append(img[y:y + size, x:x + size].transpose(2, 0, 1).astype(np.float32) / 255.0)
    crops = crops[:len(crops) // batch * batch]
    if not crops:
        sys.exit(f"evaluate: {args.data}: fewer than {batch} PNG files")
    images = np.stack(crops)

    recon, times = [], []
    for i in range(0, len(images), batch):
        out = art.call("reconstruct", dict(weights, images=np.ascontiguousarray(images[i:i + batch])))
        recon.append(np.clip(out["reconstruction"], 0.0, 1.0))
    recon = np.concatenate(recon)
    first = dict(weights, images=np.ascontiguousarray(images[:batch]))
    outputs = art.new_outputs("reconstruct")
    for _ in range(args.repeats):
        start = time.perf_counter()
        art.call("reconstruct", first, outputs)
        times.append(time.perf_counter() - start)

    mse = ((recon - images) ** 2).reshape(len(images), -1).mean(axis=1)
    psnr = float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-12))))
    img_per_s = batch / statistics.median(times)
    print(f"{'images':>8} {'PSNR dB':>8} {'img/s':>10}")
    print(f"{len(images):>8} {psnr:>8.2f} {img_per_s:>10.0f}")
    print(json.dumps({"images": len(images), "psnr_db": round(psnr, 3), "img_per_s": round(img_per_s, 1),
                      "batch": batch, "crop": size}))
    if args.grid:
        n = min(8, len(images))
        top = np.concatenate(list(images[:n]), axis=2)
        bottom = np.concatenate(list(recon[:n]), axis=2)
        grid = np.concatenate([top, bottom], axis=1).transpose(1, 2, 0)
        write_png_rgb8(args.grid, (grid * 255 + 0.5).astype(np.uint8))


if __name__ == "__main__":
    main()
