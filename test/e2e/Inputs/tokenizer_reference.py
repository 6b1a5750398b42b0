#!/usr/bin/python3
"""Checks the compiled tokenizer (lib/Models/Tokenizer.cpp) against the PyTorch reference
(python/msdd_ref), which was written independently from docs/tokenizer.md.

    tokenizer_reference.py CONFIG.json --write DIR    random weights (all layers non-zero) and inputs
    tokenizer_reference.py CONFIG.json --check DIR    compares DIR/<function>.out.npz with PyTorch
"""
import argparse
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "python"))
from msdd_ref.model import Tokenizer, load_config, scale_resolution  # noqa: E402

TOLERANCE = 1e-4


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--write")
    ap.add_argument("--check")
    args = ap.parse_args()
    config = load_config(args.config)
    torch.manual_seed(0)
    model = Tokenizer(config).randomize(7)
    b, n, c = config["train"]["batch_size"], config["latent_tokens"], config["latent_channels"]
    rng = np.random.RandomState(1)
    images = rng.rand(b, 3, config["image_size"], config["image_size"]).astype(np.float32)
    inputs = {"encode": {"images": images}}
    for k in range(config["num_scales"]):
        r = scale_resolution(config, k)
        inputs[f"denoise_s{k}"] = {"x": rng.randn(b, 3, r, r).astype(np.float32),
                                   "tau": rng.rand(b).astype(np.float32),
                                   "latent": rng.randn(b, n, c).astype(np.float32)}
    if args.write:
        for part in ("encoder", "decoder"):
            model.save(os.path.join(args.write, part + ".safetensors"), prefix=part + ".")
        for name, arrays in inputs.items():
            np.savez(os.path.join(args.write, name + ".in.npz"), **arrays)
        return
    worst = 0.0
    with torch.no_grad():
        for name, arrays in inputs.items():
            t = {k: torch.from_numpy(v) for k, v in arrays.items()}
            if name == "encode":
                ref, key = model.encode(t["images"]), "latent"
            else:
                ref, key = model.denoise(t["x"], t["tau"], t["latent"]), "velocity"
            got = np.load(os.path.join(args.check, name + ".out.npz"))[key]
            err = float(np.abs(got - ref.numpy()).max())
            scale = float(np.abs(ref.numpy()).max())
            worst = max(worst, err)
            print(f"{name}: max abs error {err:.3g} (max |ref| {scale:.3g}) "
                  f"{'ok' if err <= TOLERANCE and scale > 1e-2 else 'FAIL'}")
    sys.exit(0 if worst <= TOLERANCE else 1)


if __name__ == "__main__":
    main()
