"""Inputs and checks for cuda-emulate-flash-attention.test: the flash-attention kernels, run
by msdd-emulate-cuda, against float64 numpy.

  flash_attention.py inputs DIR                 random q, k, v for each function
  flash_attention.py compare DIR MODE FUNCTION  relative errors of MODE's output

Two references: exact attention, and attention whose product factors (q, k, the softmax's
unnormalized weights, v) are rounded as the kernel's tensor cores take them (f16, or TF32:
to nearest, ties away). The kernel must be close to the second (it differs only in where
the online softmax rounds its weights and in summation order); the first bounds the
factors' rounding as a user sees it. A wrong fragment index gives errors of order 1.
The tf32x3 kernel (split factors, three TF32 products each) is checked against exact
attention at f32's accuracy: a missing or misplaced low part costs TF32's 1e-4.
"""
import sys

import numpy as np

SHAPES = {"attention": ((2, 3, 100, 32), (2, 3, 70, 32), (2, 3, 70, 16)),
          "attention_d24": ((1, 2, 100, 24), (1, 2, 70, 24), (1, 2, 70, 24)),
          "attention_d64": ((1, 2, 256, 64), (1, 2, 256, 64), (1, 2, 256, 64)),
          "attention_d48": ((1, 2, 100, 48), (1, 2, 70, 48), (1, 2, 70, 48))}
# Measured: 3e-4 to 6e-4 against exact attention, 1e-4 to 2e-4 against the rounded one.
LIMIT_EXACT, LIMIT_ROUNDED = 2e-3, 5e-4
LIMIT_SPLIT = 1e-5


def inputs(out):
    rng = np.random.RandomState(5)
    for fn, shapes in SHAPES.items():
        np.savez(f"{out}/{fn}.npz", **{f"arg{i}": rng.randn(*s).astype(np.float32)
                                      for i, s in enumerate(shapes)})


def tf32(x):
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x1000) & 0xFFFFE000).astype(np.uint32).view(np.float32).astype(np.float64)


def f16(x):
    return np.asarray(x, np.float32).astype(np.float16).astype(np.float64)


def attention(q, k, v, r=lambda x: x):
    s = r(q) @ np.swapaxes(r(k), -1, -2) / np.sqrt(q.shape[-1])
    e = np.exp(s - s.max(-1, keepdims=True))
    return (r(e) @ r(v)) / e.sum(-1, keepdims=True)


def compare(out, mode, fn):
    feed = np.load(f"{out}/{fn}.npz")
    q, k, v = (feed[f"arg{i}"].astype(np.float64) for i in range(3))
    got = np.load(f"{out}/{mode}_{fn}.npz")["result0"].astype(np.float64)
    ok = np.isfinite(got).all()
    references = [("exact", attention(q, k, v), LIMIT_SPLIT if mode == "tf32x3" else LIMIT_EXACT)]
    if mode != "tf32x3":
        rounding = {"tf32": tf32, "f16": f16}[mode]
        references.append(("rounded", attention(q, k, v, rounding), LIMIT_ROUNDED))
    for name, ref, limit in references:
        err = np.abs(got - ref).max() / np.abs(ref).max()
        print(f"{mode} {fn} vs {name}: rel error {err:.2e} "
              f"{'ok' if ok and err <= limit else 'FAIL'} (limit {limit:g})")


if __name__ == "__main__":
    if sys.argv[1] == "inputs":
        inputs(sys.argv[2])
    else:
        compare(*sys.argv[2:5])
