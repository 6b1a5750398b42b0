#!/usr/bin/python3
"""Reconstruction (encode + multi-scale decode) of one batch, MSDD vs the PyTorch reference
(python/msdd_ref, eager, float32) in one run: the same config, weights, images and thread
count, timed alternately; medians of several batches after a warm-up.

    python3 benchmarks/tokenizer/reconstruct.py [--config models/small.json] [--repeats 5]

Needs a built tree (build/bin/msdd-compile) and PyTorch (scripts/install-peers.sh).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
from msdd import Artifact  # noqa: E402
from msdd_ref.model import Tokenizer, load_config  # noqa: E402
from msdd_ref.sampler import sample  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(ROOT, "models", "small.json"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    os.environ["MSDD_NUM_THREADS"] = str(args.threads)
    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    work = tempfile.mkdtemp(prefix="msdd-bench-")
    artifact_path = os.path.join(work, "tok.msdd")
    subprocess.run([os.path.join(ROOT, "build", "bin", "msdd-compile"), args.config, "-o", artifact_path], check=True)
    art = Artifact(artifact_path)
    spec = art.functions["reconstruct"]
    batch = next(i["shape"][0] for i in spec["inputs"] if i["name"] == "images")
    model = Tokenizer(config).randomize(3).eval()
    weights = {k: np.ascontiguousarray(v.detach().numpy()) for k, v in model.state_dict().items()}
    names = {i["name"] for i in spec["inputs"]}
    inputs = {k: v for k, v in weights.items() if k in names}
    r = config["image_size"]
    images = np.random.RandomState(0).rand(batch, 3, r, r).astype(np.float32)

    def run_msdd():
        art.call("reconstruct", {**inputs, "images": images, "seed": np.array(0, dtype=np.int64)})

    def run_torch():
        with torch.no_grad():
            sample(model, model.encode(torch.from_numpy(images)), seed=0)

    times = {"msdd": [], "pytorch": []}
    run_msdd(), run_torch()  # warm-up
    for _ in range(args.repeats):
        for name, fn in (("msdd", run_msdd), ("pytorch", run_torch)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {"config": os.path.basename(args.config), "batch": batch, "threads": args.threads,
              "nfe": spec.get("nfe"), "repeats": args.repeats,
              "msdd_s": round(med["msdd"], 4), "pytorch_s": round(med["pytorch"], 4),
              "msdd_img_per_s": round(batch / med["msdd"], 2), "pytorch_img_per_s": round(batch / med["pytorch"], 2),
              "speedup": round(med["pytorch"] / med["msdd"], 3), "torch": torch.__version__,
              "cpu": platform.processor() or platform.machine()}
    print(f"{result['config']}: batch {batch}, {args.threads} threads, NFE {result['nfe']}: "
          f"MSDD {med['msdd'] * 1e3:.1f} ms, PyTorch {med['pytorch'] * 1e3:.1f} ms per batch "
          f"(median of {args.repeats}): {result['speedup']:.2f}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
