#!/usr/bin/env python3
"""The GPU checks of scripts/gpu-check.sh, on a machine with an NVIDIA GPU and PyTorch.

1. Numerics: each config's encoder and per-scale denoisers, compiled for the CPU and for CUDA
   (f32, TF32, 3xTF32 and bf16 matrix products; bf16 with the flash-attention kernel and, as
   "bf16-unfused", without; "cpu-bf16": the CPU's emulation of the bf16 mode, whose decode
   the unfused bf16 artifact's is also compared with), against an independent float64 PyTorch reference
   (python/msdd_ref) on the GPU, with random weights in which every layer carries signal;
   and the whole multi-scale decode (same seed, same in-graph noise) CUDA vs CPU.
   Relative error = max |out - ref| / max |ref|; limits 1e-3 (f32, TF32, 3xTF32) and 1e-2
   (bf16).
2. Throughput of the paper-size decoder (random weights, batch 64, 4 scales, CFG): 1 step per
   scale (the distilled sampler's cost) and 50 steps per scale (the teacher), msdd-run bench
   vs the PyTorch reference on the same GPU (TF32 and bf16 autocast; 3xTF32 against PyTorch
   in plain f32, the peer of its accuracy), with flash attention and without ("-unfused"), and
   in bf16 also with the flash kernel in 4-warp blocks ("bf16-q64", --flash-query-tile=64, the
   default before 8-warp blocks); in TF32 and bf16 also the decoded images of the
   flash-attention artifact against the unfused one.
3. Training: the tiny tokenizer's stage 1 (msdd-run train) on the GPU against the same run on
   the CPU backend (same initial weights, data order and noise): the losses step by step and
   the final weights, in f32, TF32 and bf16; then stage 2 (the one-step distillation) from
   the CPU run's weights, in f32.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
from msdd import Artifact  # noqa: E402
from msdd.images import read_safetensors, write_safetensors  # noqa: E402
import msdd_ref.model  # noqa: E402
from msdd_ref.model import Tokenizer, load_config, scale_resolution  # noqa: E402
from msdd_ref.sampler import sample  # noqa: E402

DECODE_SEEDS = (0, 1, 0)
LIMIT = {"cpu": 1e-3, "cpu-bf16": 1e-2, "cuda-f32": 1e-3, "cuda-tf32": 1e-3, "cuda-tf32x3": 1e-3,
         "cuda-bf16": 1e-2, "cuda-bf16-unfused": 1e-2}


def rel(out, ref):
    return float(np.abs(out.astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-30))


def log(*args):
    print(*args, flush=True)


DEVICE = "cuda"


def numerics(bundle, name, results):
    config = load_config(os.path.join(bundle, "models", name + ".json"))
    torch.manual_seed(0)
    model = Tokenizer(config).randomize(7).double().to(DEVICE).eval()
    weights = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
    b, n, c = config["train"]["batch_size"], config["latent_tokens"], config["latent_channels"]
    rng = np.random.RandomState(1)
    r = config["image_size"]
    cases = {"encode": ({"images": rng.rand(b, 3, r, r).astype(np.float32)}, "latent")}
    for k in range(config["num_scales"]):
        rk = scale_resolution(config, k)
        cases[f"denoise_s{k}"] = ({"x": rng.randn(b, 3, rk, rk).astype(np.float32),
                                   "tau": rng.rand(b).astype(np.float32),
                                   "latent": rng.randn(b, n, c).astype(np.float32)}, "velocity")
    refs = {}
    with torch.no_grad():
        for fn, (arrays, _) in cases.items():
            t = {k: torch.from_numpy(v).double().to(DEVICE) for k, v in arrays.items()}
            out = model.encode(t["images"]) if fn == "encode" else model.denoise(t["x"], t["tau"], t["latent"])
            refs[fn] = out.cpu().numpy()
    # PyTorch's own float32 model with TF32 and with bf16 autocast against the same reference:
    # the error these modes have by nature (reported, not checked).
    if DEVICE == "cuda":
        fast = Tokenizer(config).randomize(7).cuda().eval()
        for label, tf32, bf16 in (("pytorch-tf32", True, False), ("pytorch-bf16", False, True)):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
                for fn, (arrays, _) in cases.items():
                    t = {k: torch.from_numpy(v).cuda() for k, v in arrays.items()}
                    out = fast.encode(t["images"]) if fn == "encode" else fast.denoise(t["x"], t["tau"], t["latent"])
                    err = rel(out.float().cpu().numpy(), refs[fn])
                    results.append({"check": "numerics", "config": name, "artifact": label, "function": fn,
                                    "reference": "pytorch-f64", "rel_error": err})
                    log(f"  {name:6s} {label:12s} {fn:11s} vs PyTorch f64: rel error {err:.2e} (for comparison)")
        torch.backends.cuda.matmul.allow_tf32 = False
    decoded = {}
    for label in (("cpu", "cpu-bf16", "cuda-f32", "cuda-tf32", "cuda-tf32x3", "cuda-bf16",
                   "cuda-bf16-unfused")
                  if DEVICE == "cuda" else ("cpu", "cpu-bf16")):
        path = os.path.join(bundle, "art", f"{name}_{label}.msdd")
        if not os.path.exists(path):
            continue
        art = Artifact(path)
        for fn, (arrays, key) in cases.items():
            names = {i["name"] for i in art.functions[fn]["inputs"]}
            out = art.call(fn, {k: v for k, v in {**weights, **arrays}.items() if k in names})[key]
            err = rel(out, refs[fn])
            ok = err <= LIMIT[label]
            results.append({"check": "numerics", "config": name, "artifact": label, "function": fn,
                            "reference": "pytorch-f64", "rel_error": err, "limit": LIMIT[label], "ok": ok})
            log(f"  {name:6s} {label:17s} {fn:11s} vs PyTorch f64: rel error {err:.2e} "
                f"{'ok' if ok else 'FAIL'} (limit {LIMIT[label]:g})")
        if "decode" in art.functions:
            names = {i["name"] for i in art.functions["decode"]["inputs"]}
            latent = refs["encode"].astype(np.float32)
            # On CUDA the first call runs op by op, the second is captured into a CUDA graph
            # and the third replays it: each must follow its own seed.
            decoded[label] = []
            for seed in DECODE_SEEDS:
                extra = {"latent": latent, "seed": np.array(seed, dtype=np.int64)}
                decoded[label].append(
                    art.call("decode", {k: v for k, v in {**weights, **extra}.items() if k in names}))
        art.close()
    if "cpu" in decoded:
        key = next(iter(decoded["cpu"][0]))
        for label, outs in decoded.items():
            if label.startswith("cpu"):
                continue
            # The unfused bf16 artifact runs the graph the CPU's bf16 artifact emulates: what
            # separates them is the GPU's code and summation order (reported, not checked).
            if label == "cuda-bf16-unfused" and "cpu-bf16" in decoded:
                for call, (seed, out) in enumerate(zip(DECODE_SEEDS, outs)):
                    err = rel(out[key], decoded["cpu-bf16"][call][key].astype(np.float64))
                    results.append({"check": "numerics", "config": name, "artifact": label,
                                    "function": "decode", "seed": seed, "reference": "msdd-cpu-bf16",
                                    "rel_error": err})
                    log(f"  {name:6s} {label:17s} decode call {call} seed {seed} vs CPU bf16 emulation: "
                        f"rel error {err:.2e} (for comparison)")
            for call, (seed, out) in enumerate(zip(DECODE_SEEDS, outs)):
                fn = ("decode", "decode (graph capture)", "decode (graph replay)")[call]
                err = rel(out[key], decoded["cpu"][call][key].astype(np.float64))
                ok = err <= LIMIT[label]
                results.append({"check": "numerics", "config": name, "artifact": label, "function": fn,
                                "seed": seed, "reference": "msdd-cpu", "rel_error": err,
                                "limit": LIMIT[label], "ok": ok})
                log(f"  {name:6s} {label:17s} {fn:22s} seed {seed} vs CPU backend: rel error {err:.2e} "
                    f"{'ok' if ok else 'FAIL'} (limit {LIMIT[label]:g})")


def bench_msdd(bundle, artifact, weights, runs, warmup):
    cmd = [os.path.join(bundle, "bin", "msdd-run"), "bench", artifact, "--function", "decode",
           "--weights", weights, "--runs", str(runs), "--warmup", str(warmup)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({run.returncode}): {run.stderr.strip()[-500:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def bench_torch(model, latent, steps, dtype, runs, warmup):
    """dtype: tf32, bf16 (autocast) or f32 (no TF32)."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = dtype != "f32"
    times = []
    for i in range(warmup + runs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16"):
            sample(model, latent, seed=0, steps=steps)
        torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def throughput(bundle, results, samplers, teacher_sdpa=False):
    config = load_config(os.path.join(bundle, "models", "paper.json"))
    batch = config["train"]["batch_size"]
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    model = Tokenizer(config).randomize(3).cuda().eval()
    weights = os.path.join(bundle, "paper_weights.safetensors")
    write_safetensors(weights, {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})
    latent = torch.randn(batch, config["latent_tokens"], config["latent_channels"], device="cuda")
    # Two warm-up calls: the first loads the kernels, the second captures the CUDA graph. The
    # teacher is timed once, on its first call (op by op): a run takes about a minute.
    plans = [p for p in [("1-step", 1, 5, 2), ("50-step", 50, 1, 0)] if p[1] in samplers]
    for label, steps, runs, warmup in plans:
        nfe = config["num_scales"] * steps * 2
        theirs_by_mode = {}
        for mode in ("tf32", "tf32-unfused", "tf32x3", "bf16", "bf16-q64", "bf16-unfused"):
            torch_mode = {"tf32x3": "f32"}.get(mode, mode.split("-")[0])
            path = os.path.join(bundle, "art", f"paper_{steps}step_cuda-{mode}.msdd")
            if not os.path.exists(path):
                continue
            try:
                ours = bench_msdd(bundle, path, weights, runs, warmup)
            except RuntimeError as e:
                log(f"  paper {label} {mode}: MSDD FAILED: {e}")
                results.append({"check": "throughput", "sampler": label, "mode": mode, "ok": False,
                                "error": str(e)})
                continue
            # The teacher's PyTorch runs take most of the script's time: with SDPA only on request.
            peers = [("explicit", False)] + ([("sdpa", True)] if steps == 1 or teacher_sdpa else [])
            theirs = theirs_by_mode.setdefault(torch_mode, {})
            for attention, fused in peers:
                if attention not in theirs:
                    msdd_ref.model.FUSED_ATTENTION = fused
                    theirs[attention] = bench_torch(model, latent, steps, torch_mode, runs, warmup)
            msdd_ref.model.FUSED_ATTENTION = False
            row = {"check": "throughput", "config": "paper", "sampler": label, "nfe": nfe, "batch": batch,
                   "mode": mode, "msdd_img_per_s": batch * 1e3 / ours["median_ms"],
                   "pytorch_img_per_s": batch / theirs["explicit"], "runs": runs,
                   "cuda_graph": ours.get("cuda_graph", False)}
            row["ratio"] = row["msdd_img_per_s"] / row["pytorch_img_per_s"]
            sdpa = ""
            if "sdpa" in theirs:
                row["pytorch_sdpa_img_per_s"] = batch / theirs["sdpa"]
                row["ratio_sdpa"] = row["msdd_img_per_s"] / row["pytorch_sdpa_img_per_s"]
                sdpa = f", with SDPA {row['pytorch_sdpa_img_per_s']:8.1f} img/s ({row['ratio_sdpa']:.2f}x)"
            results.append(row)
            log(f"  paper {label:7s} NFE {nfe:3d} {mode:12s}: MSDD {row['msdd_img_per_s']:8.1f} img/s | "
                f"PyTorch reference {row['pytorch_img_per_s']:8.1f} img/s ({row['ratio']:.2f}x){sdpa}; "
                f"median of {runs}{', CUDA graph' if row['cuda_graph'] else ''}")


def profile(bundle, results, out_path, steps=1, mode="bf16"):
    """Where the GPU time of the paper decode goes: one call op by op with MSDD_CUDA_PROFILE=1
    (events around every kernel and product), after throughput() wrote the weights. The whole
    table goes next to the results (OUT.profile-MODE.txt); the log shows its top."""
    artifact = os.path.join(bundle, "art", f"paper_{steps}step_cuda-{mode}.msdd")
    weights = os.path.join(bundle, "paper_weights.safetensors")
    if not (os.path.exists(artifact) and os.path.exists(weights)):
        return
    cmd = [os.path.join(bundle, "bin", "msdd-run"), "bench", artifact, "--function", "decode",
           "--weights", weights, "--runs", "1", "--warmup", "1"]
    run = subprocess.run(cmd, capture_output=True, text=True,
                         env=dict(os.environ, MSDD_CUDA_PROFILE="1"))
    lines = run.stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("msdd CUDA profile")), None)
    if run.returncode or start is None:
        log(f"  profile {mode}: failed ({run.returncode}): {run.stderr.strip()[-300:]}")
        return
    table = lines[start:]
    path = f"{out_path or 'gpu-check.json'}.profile-{mode}.txt"
    with open(path, "w") as f:
        f.write("\n".join(table) + "\n")
    log(f"  profile of the paper {steps}-step {mode} decode (warm-up + 1 call, op by op; all in {path}):")
    for line in table[:25]:
        log("    " + line)
    results.append({"check": "profile", "sampler": f"{steps}-step", "mode": mode, "file": path,
                    "top": table[:40]})


def flash_vs_unfused(bundle, results):
    """The paper decoder's images with the flash-attention kernel against the unfused
    attention (same seed, random weights), in bf16 (f16 factors) and TF32: the kernel at the
    paper's shapes (full 64-key tiles at 1152 and 384 tokens, a partial one at 144)."""
    config = load_config(os.path.join(bundle, "models", "paper.json"))
    model = Tokenizer(config).randomize(3).eval()
    weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    latent = np.random.RandomState(5).randn(
        8, config["latent_tokens"], config["latent_channels"]).astype(np.float32)
    for fused in ("tf32", "bf16"):
        outs = {}
        for mode in (fused, f"{fused}-unfused"):
            path = os.path.join(bundle, "art", f"paper_1step_b8_cuda-{mode}.msdd")
            if not os.path.exists(path):
                break
            art = Artifact(path)
            names = {i["name"] for i in art.functions["decode"]["inputs"]}
            extra = {"latent": latent, "seed": np.array(0, dtype=np.int64)}
            out = art.call("decode", {k: v for k, v in {**weights, **extra}.items() if k in names})
            outs[mode] = next(iter(out.values()))
            art.close()
        if len(outs) < 2:
            continue
        limit = LIMIT[f"cuda-{fused}"]
        err = rel(outs[fused], outs[f"{fused}-unfused"].astype(np.float64))
        ok = err <= limit
        results.append({"check": "numerics", "config": "paper", "artifact": f"cuda-{fused}", "function": "decode",
                        "reference": f"cuda-{fused}-unfused", "rel_error": err, "limit": limit, "ok": ok})
        log(f"  paper  cuda-{fused} decode (batch 8) vs cuda-{fused}-unfused: rel error {err:.2e} "
            f"{'ok' if ok else 'FAIL'} (limit {limit:g})")


# Training against the CPU backend's run (same initial weights, data order and noise): the
# loss at step 1 and over the run relative to the run's largest loss, and the final weights.
# f32 follows the CPU to summation order: every tensor is compared (worst tensor). TF32 and
# bf16 round the factors of every product, backward ones included: tensors that start at
# zero (adaLN-Zero's modulation, biases) take Adam's steps of about lr whatever their
# gradient's size, so where those gradients are tiny their signs, and the tensors, differ
# from the f32 run's by their whole size; the weights are compared as a whole (relative
# L2) instead. Limits: about 3x what the emulated driver measures (docs/cuda.md).
TRAIN_LIMIT = {"cuda-f32": (1e-4, 1e-2, 1e-2), "cuda-tf32": (1e-3, 2e-2, 5e-2),
               "cuda-bf16": (1e-2, 5e-2, 1e-1)}


def training(bundle, results, stage="train", steps=40):
    """Stage `train` (1) or `distill` (2, from stage 1's CPU weights) on both backends; stage 1
    also in the TF32 and bf16 modes when the bundle has them."""
    labels = ["cpu"] + [label for label in TRAIN_LIMIT
                        if os.path.exists(os.path.join(bundle, "art", f"tiny_{stage}_{label}.msdd"))]
    arts = {label: os.path.join(bundle, "art", f"tiny_{stage}_{label}.msdd") for label in labels}
    if not os.path.exists(arts["cpu"]) or len(arts) < 2:
        return
    data = os.path.join(ROOT, "data", "photos64", "train")
    init = os.path.join(bundle, "train_cpu", "final.safetensors")
    if stage == "distill" and not os.path.exists(init):
        return
    curves, rates, weights = {}, {}, {}
    for label, path in arts.items():
        out = os.path.join(bundle, f"{stage}_{label}")
        shutil.rmtree(out, ignore_errors=True)
        cmd = [os.path.join(bundle, "bin", "msdd-run"), "train", path, "--data", data,
               "--steps", str(steps), "--log-every", "1", "--out", out]
        if stage == "distill":
            cmd += ["--init", init]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode:
            log(f"  tiny {stage} {label}: FAILED: {run.stderr.strip()[-500:]}")
            results.append({"check": "training", "stage": stage, "artifact": label, "ok": False,
                            "error": run.stderr[-500:]})
            if label == "cpu":
                return
            continue
        rows = [json.loads(line) for line in open(os.path.join(out, "log.jsonl"))]
        curves[label] = np.array([r["loss"] for r in rows], dtype=np.float64)
        rates[label] = statistics.median(r["steps_per_s"] for r in rows[len(rows) // 2:])
        weights[label] = read_safetensors(os.path.join(out, "final.safetensors"))
    cpu = curves["cpu"]
    batch = load_config(os.path.join(bundle, "models", "tiny.json"))["train"]["batch_size"]
    for label in curves:
        if label == "cpu":
            continue
        gpu = curves[label]
        # Relative to the curve's largest loss (a distillation starts near 0).
        step_err = np.abs(gpu - cpu) / np.abs(cpu).max()
        if label == "cuda-f32":
            weight_err = max(rel(weights[label][k], weights["cpu"][k].astype(np.float64))
                             for k in weights["cpu"])
            weight_what = f"weights after {steps} steps (worst tensor)"
        else:
            ref = weights["cpu"]
            diff = sum(float(np.square(weights[label][k].astype(np.float64) - ref[k]).sum()) for k in ref)
            weight_err = float(np.sqrt(diff / sum(float(np.square(ref[k].astype(np.float64)).sum()) for k in ref)))
            weight_what = f"weights after {steps} steps (all, L2)"
        checks = [("loss at step 1", float(step_err[0])),
                  (f"loss, worst of {steps} steps", float(step_err.max())),
                  (weight_what, weight_err)]
        for (what, err), limit in zip(checks, TRAIN_LIMIT[label]):
            ok = err <= limit
            results.append({"check": "training", "stage": stage, "config": "tiny", "artifact": label, "what": what,
                            "reference": "msdd-cpu", "rel_error": err, "limit": limit, "ok": ok})
            log(f"  tiny   {stage:7s} {label:9s} {what:36s} vs CPU backend: rel error {err:.2e} "
                f"{'ok' if ok else 'FAIL'} (limit {limit:g})")
        results.append({"check": "training-speed", "stage": stage, "config": "tiny", "artifact": label,
                        "steps": steps, "cpu_steps_per_s": rates["cpu"], "cuda_steps_per_s": rates[label],
                        "loss_first": float(cpu[0]), "loss_last_cpu": float(cpu[-1]),
                        "loss_last_cuda": float(gpu[-1])})
        log(f"  tiny   {stage} {label}: loss {cpu[0]:.4g} -> {cpu[-1]:.4g} (CPU) / {gpu[-1]:.4g} (GPU); "
            f"{rates['cpu']:.1f} steps/s CPU backend, {rates[label]:.1f} steps/s GPU (batch {batch})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--configs", default="micro,tiny")
    ap.add_argument("--no-teacher", action="store_true", help="skip the 50-step throughput")
    ap.add_argument("--teacher-sdpa", action="store_true",
                    help="also time PyTorch with SDPA at 50 steps (about a minute more)")
    ap.add_argument("--only-teacher", action="store_true",
                    help="only the 50-step throughput (no numerics, no 1-step)")
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--dry-run", action="store_true",
                    help="no GPU: the CPU artifacts against a CPU reference (tests this script)")
    args = ap.parse_args()
    results = []
    global DEVICE
    if args.dry_run:
        DEVICE, args.no_throughput = "cpu", True
    device = torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu (dry run)"
    log(f"GPU: {device}; torch {torch.__version__}")
    for name in args.configs.split(",") if not args.only_teacher else []:
        if name:
            numerics(args.bundle, name, results)
    if not args.only_teacher and DEVICE == "cuda":
        flash_vs_unfused(args.bundle, results)
        training(args.bundle, results, "train")
        training(args.bundle, results, "distill")
    if not args.no_throughput:
        samplers = {50} if args.only_teacher else {1} if args.no_teacher else {1, 50}
        throughput(args.bundle, results, samplers, args.teacher_sdpa)
        if 1 in samplers:
            profile(args.bundle, results, args.json)
    failed = [r for r in results if r.get("ok") is False]
    summary = {"device": device, "torch": torch.__version__, "results": results, "failed": len(failed)}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    log(f"{len(results)} results, {len(failed)} numerical checks failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
