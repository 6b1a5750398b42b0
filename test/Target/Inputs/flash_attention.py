"""Inputs and checks for cuda-emulate-flash-attention.test: the flash-attention kernels, run
by msdd-emulate-cuda, against float64 numpy.

  flash_attention.py inputs DIR                 random q, k, v for each function
  flash_attention.py compare DIR MODE FUNCTION  relative errors of MODE's output
  flash_attention.py sweep-inputs DIR           a module of many shapes (sweep.mlir), inputs
  flash_attention.py sweep DIR MODE KERNELS     runs each of its functions that MODE's kernel
                                                takes (msdd-emulate-cuda) and compares

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


# cuda-emulate-flash-attention-shapes.test: (batch, heads, queries, keys, head dim, value
# dim). Partial and whole query and key tiles; head dimensions from 8 to 128; value chunks of
# 8 in counts that are and are not powers of two; key tiles that shrink to fit 48 KiB.
SWEEP = [(1, 1, 33, 47, 16, 8), (1, 2, 130, 129, 48, 24), (2, 1, 100, 70, 80, 40),
         (1, 1, 70, 130, 128, 128), (1, 2, 128, 64, 64, 72), (1, 1, 33, 47, 8, 8),
         (1, 2, 130, 129, 40, 24), (1, 1, 70, 130, 128, 64)]


def sweep_name(shape):
    return "attention_" + "x".join(map(str, shape))


def sweep_inputs(out):
    rng = np.random.RandomState(7)
    with open(f"{out}/sweep.mlir", "w") as f:
        for shape in SWEEP:
            b, h, lq, lk, d, dv = shape
            types = [f"tensor<{b}x{h}x{lq}x{d}xf32>", f"tensor<{b}x{h}x{lk}x{d}xf32>",
                     f"tensor<{b}x{h}x{lk}x{dv}xf32>", f"tensor<{b}x{h}x{lq}x{dv}xf32>"]
            f.write(f"func.func @{sweep_name(shape)}(%q: {types[0]}, %k: {types[1]}, %v: {types[2]}) -> {types[3]} {{\n"
                    f"  %0 = msdd.attention %q, %k, %v : ({types[0]}, {types[1]}, {types[2]}) -> {types[3]}\n"
                    f"  return %0 : {types[3]}\n}}\n")
            np.savez(f"{out}/{sweep_name(shape)}.npz",
                     arg0=rng.randn(b, h, lq, d).astype(np.float32),
                     arg1=rng.randn(b, h, lk, d).astype(np.float32),
                     arg2=rng.randn(b, h, lk, dv).astype(np.float32))


def sweep(out, mode, kernels):
    """mode: f16, tf32 or tf32x3 (the kernel's factors); f16 takes head dims of 16k."""
    import subprocess
    for shape in SWEEP:
        if mode == "f16" and shape[4] % 16:
            continue
        fn = sweep_name(shape)
        run = subprocess.run(["msdd-emulate-cuda", kernels, "--function", fn, "--inputs",
                              f"{out}/{fn}.npz", "--outputs", f"{out}/{mode}_{fn}.npz",
                              "--check-races"], capture_output=True, text=True)
        if run.returncode:
            print(f"{mode} {fn}: FAIL: {run.stderr.strip()}")
            continue
        compare(out, mode, fn)


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
    elif sys.argv[1] == "sweep-inputs":
        sweep_inputs(sys.argv[2])
    elif sys.argv[1] == "sweep":
        sweep(*sys.argv[2:5])
    else:
        compare(*sys.argv[2:5])
