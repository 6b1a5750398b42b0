#!/usr/bin/python3
"""Helpers of msdd-run-eval.test.

    eval_check.py make DIR        6 random 20x20 PNGs (and a 12x12 one in DIR/small), gain weights
    eval_check.py check DIR JSON  compares msdd-run eval's JSON with numpy (first 5 images)
    eval_check.py grid DIR PNG    checks the reconstruct grid's layout and pixels
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "..", "python"))
sys.path.insert(0, os.path.join(ROOT, "unit", "data"))
from msdd.images import read_png_rgb8, write_png_rgb8, write_safetensors  # noqa: E402
from make_metrics_golden import psnr, ssim  # noqa: E402

GAIN = np.array([0.5, 0.75, 1.0], dtype=np.float32).reshape(3, 1, 1)


def crops(directory, count):
    files = sorted(f for f in os.listdir(directory) if f.endswith(".png"))[:count]
    return [read_png_rgb8(os.path.join(directory, f))[2:18, 2:18].transpose(2, 0, 1) / 255.0 for f in files]


def main():
    command, directory = sys.argv[1], sys.argv[2]
    if command == "make":
        rng = np.random.RandomState(0)
        for i in range(6):
            write_png_rgb8(os.path.join(directory, f"img{i}.png"), rng.randint(0, 256, (20, 20, 3)).astype(np.uint8))
        os.makedirs(os.path.join(directory, "small"))
        write_png_rgb8(os.path.join(directory, "small", "tiny.png"), np.zeros((12, 12, 3), np.uint8))
        write_safetensors(os.path.join(directory, "gain.safetensors"), {"gain": GAIN, "unused": GAIN})
    elif command == "check":
        result = json.load(open(sys.argv[3]))
        images = [x.astype(np.float32).astype(np.float64) for x in crops(directory, 5)]
        rec = [(x.astype(np.float32) * GAIN).astype(np.float64) for x in images]
        p = np.mean([psnr(x, y) for x, y in zip(images, rec)])
        s = np.mean([ssim(x, y) for x, y in zip(images, rec)])
        ok = result["images"] == 5 and abs(result["psnr"] - p) < 1e-6 and abs(result["ssim"] - s) < 1e-6
        print(f"images {result['images']} psnr {result['psnr']:.6f} (numpy {p:.6f}) ssim {result['ssim']:.6f} "
              f"(numpy {s:.6f}) nfe {result['nfe']} batch {result['batch_size']}: {'ok' if ok else 'WRONG'}")
    elif command == "grid":
        grid = read_png_rgb8(sys.argv[3]).astype(np.float64) / 255
        images = crops(directory, 3)
        ok = grid.shape == (3 * 16 + 2 * 2, 2 * 16 + 2, 3)
        for r, x in enumerate(images):
            top = r * 18
            orig = grid[top:top + 16, 0:16].transpose(2, 0, 1)
            recon = grid[top:top + 16, 18:34].transpose(2, 0, 1)
            ok &= np.abs(orig - x).max() < 1e-9 and np.abs(recon - x * GAIN).max() <= 0.5 / 255 + 1e-9
        ok &= bool((grid[16:18] == 1).all())
        print(f"grid {grid.shape[1]}x{grid.shape[0]}: {'ok' if ok else 'WRONG'}")


if __name__ == "__main__":
    main()
