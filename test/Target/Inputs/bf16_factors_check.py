#!/usr/bin/python3
"""Runs cpu-bf16-factors.mlir's @mlp (compiled with --math-mode bf16) on random inputs and
compares it with two float64 numpy references:
- the f32 model: the error bf16 factors cause, at least 1e-4 (the factors were rounded) and at
  most 1e-2 (the issue's bf16 limit);
- the same model with each factor, and the first product's result, rounded to bf16 (nearest
  even) where the artifact rounds them: what is left is f32 summation and the exp
  approximation, at most 1e-4.
Relative error = max |out - ref| / max |ref|.

    bf16_factors_check.py ARTIFACT.msdd
"""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "python"))
from msdd import Artifact  # noqa: E402


def bf16(x):
    """float32 -> nearest-even bfloat16 value, as float64."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.astype(np.uint32).view(np.float32).astype(np.float64)


def mlp(x, w1, b1, w2, b2, rounded):
    r = bf16 if rounded else (lambda v: np.asarray(v, dtype=np.float64))
    h = r(x) @ r(w1).T
    if rounded:  # only the SiLU reads it: stored as bf16 (msdd-round-contraction-results)
        h = r(h.astype(np.float32))
    h = h + b1
    a = h / (1 + np.exp(-h))
    if rounded:  # the SiLU's result is stored as bf16 by its own kernel
        a = a.astype(np.float32)
    return r(a) @ r(w2).T + b2


def main():
    rng = np.random.RandomState(3)
    inputs = {"x": rng.randn(8, 16), "w1": rng.randn(32, 16) / 4, "b1": rng.randn(32) / 4,
              "w2": rng.randn(4, 32) / 6, "b2": rng.randn(4) / 4}
    inputs = {k: v.astype(np.float32) for k, v in inputs.items()}
    art = Artifact(sys.argv[1])
    y = art.call("mlp", inputs)["y"].astype(np.float64)
    art.close()
    ok = True
    for label, rounded, low, high in (("f32 factors", False, 1e-4, 1e-2),
                                      ("bf16-rounded factors", True, 0.0, 1e-4)):
        ref = mlp(*(inputs[k].astype(np.float64) for k in ("x", "w1", "b1", "w2", "b2")), rounded)
        err = float(np.abs(y - ref).max() / np.abs(ref).max())
        good = low <= err <= high
        ok &= good
        print(f"bf16 artifact vs float64 with {label}: relative error {err:.2e} "
              f"{'ok' if good else 'FAIL'} (expected {low:g} to {high:g})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
