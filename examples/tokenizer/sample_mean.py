#!/usr/bin/python3
"""How much PSNR does a diffusion decoder lose to sampling? Decodes every image K times with
different noise seeds and scores, against the cropped originals:
  - one sample (the mean over the K samples of their PSNR: what `msdd-run eval` reports), and
  - the pixel mean of the first k samples, k = 1, 2, 4, ..., K: it approaches the posterior mean
    E[image | latent], the reconstruction with the least squared error the decoder can give.
The gap between the two is what the decoder's randomness costs in PSNR; the mean's own PSNR is
how much of the image the latent holds.

    sample_mean.py ART.msdd --weights W.safetensors --data DIR [--samples 16] [--limit 64] [--json OUT]

ART must have a `reconstruct(images, seed, params...)` function (msdd-compile's tokenizer
artifacts do). Images are centre-cropped to its image size; PSNR as msdd-run eval computes it
(both images clamped to [0, 1], mean over images).
"""
import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
from msdd import Artifact  # noqa: E402
from msdd.images import read_png_rgb8, read_safetensors  # noqa: E402


def psnr(x, y):
    """Mean over images of 10 log10(1 / MSE), both clamped to [0, 1]."""
    mse = ((np.clip(x, 0, 1) - np.clip(y, 0, 1)) ** 2).reshape(len(x), -1).mean(1)
    return float(np.mean(10 * np.log10(1 / mse)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifact")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--samples", type=int, default=16, help="decodes per image (K)")
    ap.add_argument("--limit", type=int, default=64, help="first N images of DIR")
    ap.add_argument("--json")
    args = ap.parse_args()

    art = Artifact(args.artifact)
    if "reconstruct" not in art.functions:
        sys.exit(f"{args.artifact}: has no 'reconstruct' function")
    spec = {i["name"]: i for i in art.functions["reconstruct"]["inputs"]}
    batch, _, size, _ = spec["images"]["shape"]
    weights = {k: np.ascontiguousarray(v, np.float32) for k, v in read_safetensors(args.weights).items()}

    names = sorted(f for f in os.listdir(args.data) if f.endswith(".png"))[:args.limit]
    images = []
    for f in names:
        img = read_png_rgb8(os.path.join(args.data, f)).astype(np.float32) / 255
        top, left = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
        images.append(img[top:top + size, left:left + size].transpose(2, 0, 1))
    images = np.stack(images)

    samples = np.zeros((args.samples,) + images.shape, np.float32)
    for start in range(0, len(images), batch):
        chunk = np.zeros((batch,) + images.shape[1:], np.float32)
        n = min(batch, len(images) - start)
        chunk[:n] = images[start:start + n]
        for k in range(args.samples):
            inputs = dict(weights, images=chunk, seed=np.array(1000003 * k + start, np.int64))
            samples[k, start:start + n] = art.call("reconstruct", inputs)["reconstruction"][:n]

    result = {"artifact": os.path.basename(args.artifact), "images": len(images), "samples": args.samples,
              "psnr_one_sample": round(float(np.mean([psnr(s, images) for s in samples])), 3),
              "psnr_mean_of": {}}
    k = 1
    while k <= args.samples:
        result["psnr_mean_of"][str(k)] = round(psnr(samples[:k].mean(0), images), 3)
        k *= 2
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as fp:
            json.dump(result, fp)


if __name__ == "__main__":
    main()
