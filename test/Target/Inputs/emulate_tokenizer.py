"""Inputs and checks for cuda-emulate-tokenizer.test: a tokenizer's CUDA kernels, run on the
CPU by msdd-emulate-cuda, against the CPU backend's artifact.

  emulate_tokenizer.py config SRC.json DST.json        the config with one step per scale
  emulate_tokenizer.py inputs MANIFEST.json DIR        random weights and inputs per function
  emulate_tokenizer.py compare DIR MODE FUNCTION...    relative errors against the CPU's
  emulate_tokenizer.py train-inputs MANIFEST.json OUT.npz   inputs of a train_step
  emulate_tokenizer.py train-compare CPU.npz EMULATED.npz [MODE]   its outputs against the CPU's

Weights are random (not the zero-initialized adaLN gates of `init`) so that every block
contributes. The relative error is max |emulated - cpu| / max |cpu|, as in scripts/gpu_check.py.
"""
import json
import sys

import numpy as np

# f32: the emulated kernels and the CPU differ only in summation order (measured 2e-7 to
# 5e-7); tf32x3 measures the same (5.5e-7 encoder, 4.0e-7 decode, with its flash kernel;
# 6.2e-7 and 4.0e-7 with attention on cuBLAS). tf32 and bf16 add their
# products' rounding: at these weights the encoder measures
# 1.0e-3 (tf32) and 9.1e-3 (bf16), at scripts/gpu_check.py's limits, so the limits here are
# twice those; a wrong index or a missed synchronization gives errors of order 1.
LIMIT = {"f32": 1e-5, "tf32": 2e-3, "tf32x3": 1e-5, "bf16": 2e-2}


def config(src, dst):
    c = json.load(open(src))
    c["sampler"]["steps"] = 1
    json.dump(c, open(dst, "w"), indent=1)


def inputs(manifest_path, out):
    manifest = json.load(open(manifest_path))
    functions = {f["name"]: f for f in manifest["functions"]}
    rng = np.random.RandomState(3)
    arrays = {}
    for spec in functions["init"]["outputs"]:
        shape, name = spec["shape"], spec["name"]
        if len(shape) >= 2:
            arrays[name] = rng.randn(*shape) / np.sqrt(shape[-1])
        else:
            arrays[name] = rng.randn(*shape) * 0.1 + (1.0 if name.endswith("norm.weight") else 0.0)
    for fn in ("encode", "denoise_s1", "decode"):
        feed = {}
        for spec in functions[fn]["inputs"]:
            name, shape = spec["name"], spec["shape"]
            if name in arrays:
                feed[name] = arrays[name].astype(np.float32)
            elif name == "seed":
                feed[name] = np.array(11, dtype=np.int64)
            elif name in ("images", "tau"):
                feed[name] = rng.rand(*shape).astype(np.float32)
            else:
                feed[name] = rng.randn(*shape).astype(np.float32)
        np.savez(f"{out}/{fn}.npz", **feed)


def compare(out, mode, fns):
    for fn in fns:
        cpu = np.load(f"{out}/cpu_{fn}.npz")
        emulated = np.load(f"{out}/{mode}_{fn}.npz")
        for key in cpu:
            ref = cpu[key].astype(np.float64)
            got = emulated[key].astype(np.float64)
            err = np.abs(got - ref).max() / np.abs(ref).max()
            ok = np.isfinite(got).all() and err <= LIMIT[mode]
            print(f"{mode} {fn} {key}: rel error {err:.2e} {'ok' if ok else 'FAIL'} (limit {LIMIT[mode]:g})")


def train_inputs(manifest_path, out):
    """Random parameters and optimizer state (a step past the start), images and seed."""
    manifest = json.load(open(manifest_path))
    step = next(f for f in manifest["functions"] if f["name"] == "train_step")
    rng = np.random.RandomState(1)
    feed = {}
    for spec in step["inputs"]:
        name, shape, dtype = spec["name"], spec["shape"], spec["dtype"]
        if name.startswith("adam_v."):
            v = rng.rand(*shape) * 1e-4
        elif name.startswith("adam_m."):
            v = rng.randn(*shape) * 1e-3
        elif name == "step":
            v = 5.0
        elif dtype == "i64":
            v = 3
        elif name == "images":
            v = rng.rand(*shape)
        elif len(shape) >= 2:
            v = rng.randn(*shape) / np.sqrt(shape[-1])
        else:
            v = rng.randn(*shape) * 0.1 + (1.0 if name.endswith("norm.weight") else 0.0)
        feed[name] = np.asarray(v).astype(np.int64 if dtype == "i64" else np.float32).reshape(shape)
    np.savez(out, **feed)


def train_compare(cpu_path, emulated_path, mode="f32"):
    """A CUDA train step's outputs against the CPU backend's (f32). f32 and tf32x3: every
    output (loss, gradient norm, new parameters and optimizer state) relative to its largest
    value, as only summation order separates them. tf32 and bf16 round the products' factors,
    and gradients that cancel lose most digits in some tensors: the loss, the gradient as a
    whole (Adam's first moment after one step is (1 - beta1) times it, so its relative L2
    error is the gradient's) and the new parameters are checked instead."""
    cpu, emulated = np.load(cpu_path), np.load(emulated_path)
    print(f"outputs {len(cpu)}; loss {float(cpu['loss']):.6g} cpu, {float(emulated['loss']):.6g} emulated")
    if mode in ("f32", "tf32x3"):
        worst, worst_name = 0.0, None
        for key in cpu:
            ref, got = cpu[key].astype(np.float64), emulated[key].astype(np.float64)
            err = np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-30)
            if not np.isfinite(err) or err > worst:
                worst, worst_name = err, key
        ok = np.isfinite(worst) and worst <= 5e-5
        print(f"worst {worst_name}: rel error {worst:.2e} {'ok' if ok else 'FAIL'} (limit 5e-05)")
        return
    # Measured on the micro tokenizer's stage 1: tf32 2.2e-6 / 4.3e-4 / 6.5e-5, bf16
    # 1.4e-4 / 8.2e-3 / 1.0e-3; a wrong index or a missed barrier gives errors of order 1.
    limits = {"tf32": (1e-4, 2e-3, 5e-4), "bf16": (1e-3, 2e-2, 5e-3)}[mode]
    rel = lambda got, ref: float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-30))
    gradient = [k for k in cpu if k.startswith("adam_m.")]
    g_cpu = np.concatenate([cpu[k].astype(np.float64).ravel() for k in gradient])
    g_emulated = np.concatenate([emulated[k].astype(np.float64).ravel() for k in gradient])
    params = [k for k in cpu if not k.startswith("adam_") and cpu[k].ndim > 0 and k not in ("lr",)]
    checks = [("loss", rel(emulated["loss"].astype(np.float64), cpu["loss"].astype(np.float64))),
              ("gradient (L2)", float(np.linalg.norm(g_emulated - g_cpu) / np.linalg.norm(g_cpu))),
              ("parameters (worst tensor)",
               max(rel(emulated[k].astype(np.float64), cpu[k].astype(np.float64)) for k in params))]
    for (what, err), limit in zip(checks, limits):
        ok = np.isfinite(err) and err <= limit
        print(f"{mode} {what}: rel error {err:.2e} {'ok' if ok else 'FAIL'} (limit {limit:g})")


if __name__ == "__main__":
    {"config": config, "inputs": inputs, "train-inputs": train_inputs,
     "train-compare": train_compare,
     "compare": lambda out, mode, *fns: compare(out, mode, fns)}[sys.argv[1]](*sys.argv[2:])
