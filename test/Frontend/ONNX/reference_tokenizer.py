#!/usr/bin/python3
"""The reference tokenizer (python/msdd_ref) exported to ONNX, run by ONNX Runtime and by msdd.

For the decoder's denoiser at one scale and for the encoder, with seeded random weights:
export with torch.onnx (opset 17), run the ONNX file with ONNX Runtime (CPU, through node and
onnxruntime-node) and through `msdd-translate --import-onnx`, `msdd-compile` and `msdd-run
infer` with the tokenizer's own safetensors (state_dict names), and compare: max abs error
<= --atol (1e-4). PyTorch's own output is compared with ONNX Runtime's too, as a check on the
export. Exits 77 with a `SKIP:` line when PyTorch or ONNX Runtime is missing
(scripts/install-peers.sh installs both).

With --emulated-cuda (the build's emulated CUDA driver and cuBLAS, lib/Emulation), the same
imported model is also compiled for CUDA in every math mode and run by `msdd-run infer` on
that driver, which runs the artifact's kernels on the CPU: an ONNX model through the GPU
pipeline, checked against ONNX Runtime. Relative error = max |out - ref| / max |ref|, limits
as in test/Target/Inputs/emulate_tokenizer.py. Needs ptxas (the CUDA toolkit); without it
the CUDA part prints a SKIP line and the CPU part still counts.
"""
import argparse
import os
import shutil
import subprocess
import sys

SKIP = 77
SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ORT_RUN = os.path.join(SRC, "python", "msdd_ref", "ort_run.js")
# f32 and 3xTF32 differ from ONNX Runtime by summation order only; TF32 and bf16 by their
# factors' rounding (twice scripts/gpu_check.py's limits, as in emulate_tokenizer.py).
CUDA_LIMIT = {"f32": 1e-5, "tf32x3": 1e-5, "tf32": 2e-3, "bf16": 2e-2}


def skip_reason():
    try:
        import torch  # noqa: F401
        import onnx  # noqa: F401
    except ImportError as e:
        return f"PyTorch/onnx not importable by {sys.executable} ({e}); run scripts/install-peers.sh"
    if not shutil.which("node"):
        return "node is not installed, so ONNX Runtime (onnxruntime-node) cannot run; run scripts/install-peers.sh"
    r = subprocess.run(["node", ORT_RUN, "--check"], capture_output=True, text=True)
    if r.returncode:
        return f"ONNX Runtime is not installed: {r.stderr.strip()}"
    return None


def ptxas():
    home = os.environ.get("CUDA_HOME", "/usr/local/cuda")
    return shutil.which("ptxas") or os.path.exists(os.path.join(home, "bin", "ptxas"))


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r.stdout


def check(case, args, tokenizer):
    import numpy as np
    import torch
    from msdd_ref.export_onnx import export

    part, scale = case
    name = "encode" if part == "encode" else f"denoise_s{scale}"
    work = os.path.join(args.work, name)
    os.makedirs(work)
    onnx_file = os.path.join(work, "model.onnx")
    inputs = export(tokenizer, part, scale, args.batch, onnx_file, input_seed=args.seed + 7)
    # The tokenizer's own weights (the part's keys): imported parameters keep state_dict names.
    weights = os.path.join(work, "weights.safetensors")
    tokenizer.save(weights, prefix="encoder." if part == "encode" else "decoder.")
    with torch.no_grad():
        expected = (tokenizer.encode(**inputs) if part == "encode" else tokenizer.denoise(**inputs)).numpy()

    feeds = []
    for k, v in inputs.items():
        np.save(os.path.join(work, f"{k}.npy"), v.numpy())
        feeds.append(f"{k}={os.path.join(work, k + '.npy')}")
    np.savez(os.path.join(work, "inputs.npz"), **{k: v.numpy() for k, v in inputs.items()})
    run(["node", ORT_RUN, onnx_file, os.path.join(work, "ort")] + feeds)
    output = "latent" if part == "encode" else "velocity"
    ort = np.load(os.path.join(work, "ort", f"{output}.npy"))

    mlir, art = os.path.join(work, "model.mlir"), os.path.join(work, "model.msdd")
    run([os.path.join(args.bin, "msdd-translate"), "--import-onnx", onnx_file, "-o", mlir])
    run([os.path.join(args.bin, "msdd-compile"), mlir, "-o", art])
    run([os.path.join(args.bin, "msdd-run"), "infer", art, "--weights", weights,
         "--inputs", os.path.join(work, "inputs.npz"), "--outputs", os.path.join(work, "msdd.npz")])
    got = np.load(os.path.join(work, "msdd.npz"))[output]

    if got.shape != ort.shape or ort.shape != expected.shape:
        print(f"{name}: shapes differ: msdd {got.shape}, onnxruntime {ort.shape}, torch {expected.shape}: FAIL")
        return False
    err = float(np.abs(got - ort).max())
    err_torch = float(np.abs(expected - ort).max())
    ok = err <= args.atol and err_torch <= args.atol and np.isfinite(got).all()
    print(f"{name}: {output} {list(got.shape)} (max |{output}| {np.abs(ort).max():.3g}): max abs error "
          f"msdd vs onnxruntime {err:.3g}, torch vs onnxruntime {err_torch:.3g}, atol {args.atol:g}: "
          f"{'ok' if ok else 'FAIL'}")
    if args.emulated_cuda and ptxas():
        ok = check_cuda(args, work, name, output, mlir, weights, ort) and ok
    return ok


def check_cuda(args, work, name, output, mlir, weights, ort):
    """The imported model compiled for CUDA, run by the runtime on the emulated driver."""
    import numpy as np

    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_HOME", "CUDA_PATH")}
    env["LD_LIBRARY_PATH"] = args.emulated_cuda
    ok = True
    for mode in args.cuda_modes.split(","):
        art, kernels = os.path.join(work, f"cuda-{mode}.msdd"), os.path.join(work, f"cuda-{mode}.mlir")
        compile_cmd = [os.path.join(args.bin, "msdd-compile"), mlir, "--target", "cuda", "--math-mode", mode]
        run(compile_cmd + ["-o", art])
        run(compile_cmd + ["--emit=kernels", "-o", kernels])
        outputs = os.path.join(work, f"cuda-{mode}.npz")
        run([os.path.join(args.bin, "msdd-run"), "infer", art, "--weights", weights,
             "--inputs", os.path.join(work, "inputs.npz"), "--outputs", outputs],
            env=dict(env, MSDD_EMULATED_CUDA_KERNELS=kernels))
        got = np.load(outputs)[output]
        err = float(np.abs(got.astype(np.float64) - ort).max() / np.abs(ort).max())
        good = got.shape == ort.shape and np.isfinite(got).all() and err <= CUDA_LIMIT[mode]
        # The imported attention (msdd.attention) runs as the flash kernel in every mode but f32.
        flash = open(kernels).read().count("gpu.func @flash_attention")
        good = good and (flash == 0) == (mode == "f32")
        print(f"{name}: cuda {mode}: {output} {list(got.shape)}: rel error vs onnxruntime {err:.3g}, "
              f"limit {CUDA_LIMIT[mode]:g}, {flash} flash-attention kernels: {'ok' if good else 'FAIL'}")
        ok = ok and good
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="folder with msdd-translate, msdd-compile, msdd-run")
    ap.add_argument("--config", default=os.path.join(SRC, "models", "tiny.json"))
    ap.add_argument("--work", required=True, help="scratch folder (emptied first)")
    ap.add_argument("--scale", type=int, help="the denoiser's scale (default: the middle one)")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--atol", type=float, default=1e-4)
    ap.add_argument("--emulated-cuda", help="folder with the emulated libcuda and libcublas: also check "
                    "the model compiled for CUDA, run on them")
    ap.add_argument("--cuda-modes", default="f32,tf32,tf32x3,bf16", help="math modes of the CUDA check")
    args = ap.parse_args()

    reason = skip_reason()
    if reason:
        print(f"SKIP: {reason}")
        return SKIP
    sys.path.insert(0, os.path.join(SRC, "python"))
    from msdd_ref.model import Tokenizer, load_config

    config = load_config(args.config)
    scale = config["num_scales"] // 2 if args.scale is None else args.scale
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    tokenizer = Tokenizer(config).randomize(args.seed).eval()
    if args.emulated_cuda and not ptxas():
        print("SKIP: the CUDA checks (ptxas not found: install the CUDA toolkit or set CUDA_HOME)")
    results = [check(case, args, tokenizer) for case in (("denoise", scale), ("encode", None))]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
