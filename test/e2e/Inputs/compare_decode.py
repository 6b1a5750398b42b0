#!/usr/bin/python3
"""Runs `decode` of two tokenizer artifacts on the same random weights (every layer carrying
signal), latent and seed, and checks that the images agree to 1e-5.

    compare_decode.py A.msdd B.msdd
"""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "python"))
from msdd import Artifact  # noqa: E402


def main():
    rng = np.random.RandomState(0)
    outputs, inputs = [], None
    for path in sys.argv[1:3]:
        art = Artifact(path)
        spec = art.functions["decode"]["inputs"]
        if inputs is None:
            inputs = {i["name"]: (0.3 * rng.randn(*i["shape"])).astype(np.float32)
                      for i in spec if i["name"] != "seed"}
            inputs["seed"] = np.array(5, dtype=np.int64)
        outputs.append(art.call("decode", inputs)["images"])
        art.close()
    diff = float(np.abs(outputs[0] - outputs[1]).max())
    scale = float(np.abs(outputs[0]).max())
    ok = diff <= 1e-5 and scale > 1e-2
    print(f"decode: max abs difference {diff:.3g} (max |image| {scale:.3g}) {'ok' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
