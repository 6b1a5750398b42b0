#!/usr/bin/python3
"""One AdamW training step of a pre-LN transformer, MSDD vs PyTorch eager, in one run.

The model: L layers of LayerNorm -> attention (H heads, no projection biases) -> residual,
LayerNorm -> Linear(4D) -> GELU(tanh) -> Linear(D) -> residual; loss = MSE to a target.
Both sides get the same weights, data and AdamW hyper-parameters, the same number of
threads, and are timed alternately (medians of several steps after warm-up).

    python3 benchmarks/train_step/transformer.py [--layers 4 --hidden 256 --tokens 256 --batch 16]
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

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))


def param_shapes(layers, d):
    shapes = []
    for l in range(layers):
        shapes += [(f"l{l}.ln1_w", (d,)), (f"l{l}.ln1_b", (d,)),
                   (f"l{l}.wq", (d, d)), (f"l{l}.wk", (d, d)), (f"l{l}.wv", (d, d)),
                   (f"l{l}.wo", (d, d)), (f"l{l}.ln2_w", (d,)), (f"l{l}.ln2_b", (d,)),
                   (f"l{l}.w1", (4 * d, d)), (f"l{l}.b1", (4 * d,)),
                   (f"l{l}.w2", (d, 4 * d)), (f"l{l}.b2", (d,))]
    return shapes


def emit_mlir(layers, d, t, b, heads):
    dh = d // heads
    tt = lambda *s: "tensor<" + "x".join(map(str, s)) + "xf32>"
    X, HD, H4 = tt(b, t, d), tt(b, heads, t, dh), tt(b, t, 4 * d)
    args = [f"%{n.replace('.', '_')}: {tt(*s)} {{msdd.name = \"{n}\", msdd.param}}"
            for n, s in param_shapes(layers, d)]
    args += [f"%x: {X} {{msdd.name = \"x\"}}", f"%target: {X} {{msdd.name = \"target\"}}"]
    lines = [f"func.func @loss({', '.join(args)}) -> tensor<f32> {{"]
    h = "%x"
    for l in range(layers):
        p = lambda n: f"%l{l}_{n}"
        v = lambda n: f"%v{l}_{n}"
        lines += [
            f"  {v('n1')} = msdd.layer_norm {h}, {p('ln1_w')}, {p('ln1_b')} : ({X}, {tt(d)}, {tt(d)}) -> {X}"]
        for proj in ("q", "k", "v"):
            lines += [
                f"  {v(proj + '0')} = msdd.linear {v('n1')}, {p('w' + proj)} : ({X}, {tt(d, d)}) -> {X}",
                f"  {v(proj + '1')} = msdd.reshape {v(proj + '0')} : ({X}) -> {tt(b, t, heads, dh)}",
                f"  {v(proj)} = msdd.transpose {v(proj + '1')} {{permutation = array<i64: 0, 2, 1, 3>}} : ({tt(b, t, heads, dh)}) -> {HD}"]
        lines += [
            f"  {v('a0')} = msdd.attention {v('q')}, {v('k')}, {v('v')} : ({HD}, {HD}, {HD}) -> {HD}",
            f"  {v('a1')} = msdd.transpose {v('a0')} {{permutation = array<i64: 0, 2, 1, 3>}} : ({HD}) -> {tt(b, t, heads, dh)}",
            f"  {v('a2')} = msdd.reshape {v('a1')} : ({tt(b, t, heads, dh)}) -> {X}",
            f"  {v('o')} = msdd.linear {v('a2')}, {p('wo')} : ({X}, {tt(d, d)}) -> {X}",
            f"  {v('h1')} = msdd.add {h}, {v('o')} : ({X}, {X}) -> {X}",
            f"  {v('n2')} = msdd.layer_norm {v('h1')}, {p('ln2_w')}, {p('ln2_b')} : ({X}, {tt(d)}, {tt(d)}) -> {X}",
            f"  {v('u')} = msdd.linear {v('n2')}, {p('w1')}, {p('b1')} : ({X}, {tt(4 * d, d)}, {tt(4 * d)}) -> {H4}",
            f"  {v('g')} = msdd.gelu {v('u')} {{approximate = true}} : {H4}",
            f"  {v('m')} = msdd.linear {v('g')}, {p('w2')}, {p('b2')} : ({H4}, {tt(d, 4 * d)}, {tt(d)}) -> {X}",
            f"  {v('h2')} = msdd.add {v('h1')}, {v('m')} : ({X}, {X}) -> {X}"]
        h = v("h2")
    lines += [f"  %loss = msdd.mse {h}, %target : ({X}, {X}) -> tensor<f32>",
              "  return %loss : tensor<f32>", "}"]
    return "\n".join(lines) + "\n"


def init_params(layers, d, rng):
    params = {}
    for name, shape in param_shapes(layers, d):
        if name.endswith(("ln1_w", "ln2_w")):
            params[name] = np.ones(shape, np.float32)
        elif len(shape) == 1:
            params[name] = np.zeros(shape, np.float32)
        else:
            params[name] = (rng.standard_normal(shape) / np.sqrt(shape[1])).astype(np.float32)
    return params


def torch_step_fn(params, layers, d, heads, lr, betas, wd, threads):
    import torch
    torch.set_num_threads(threads)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = torch.optim.AdamW(list(tp.values()), lr=lr, betas=betas, eps=1e-8, weight_decay=wd)
    F = torch.nn.functional

    def loss_fn(x, target):
        h = x
        b, t, _ = x.shape
        for l in range(layers):
            p = lambda n: tp[f"l{l}.{n}"]
            n1 = F.layer_norm(h, (d,), p("ln1_w"), p("ln1_b"), eps=1e-6)
            split = lambda y: y.reshape(b, t, heads, d // heads).transpose(1, 2)
            q, k, v = (split(F.linear(n1, p(w))) for w in ("wq", "wk", "wv"))
            a = torch.softmax(q @ k.transpose(-1, -2) / (d // heads) ** 0.5, dim=-1) @ v
            h = h + F.linear(a.transpose(1, 2).reshape(b, t, d), p("wo"))
            n2 = F.layer_norm(h, (d,), p("ln2_w"), p("ln2_b"), eps=1e-6)
            h = h + F.linear(F.gelu(F.linear(n2, p("w1"), p("b1")), approximate="tanh"), p("w2"), p("b2"))
        return F.mse_loss(h, target)

    def step(x, target):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(torch.from_numpy(x), torch.from_numpy(target))
        loss.backward()
        opt.step()
        return float(loss)

    return step


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--steps", type=int, default=8, help="timed steps per side")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    os.environ["MSDD_NUM_THREADS"] = str(args.threads)
    from msdd import Artifact

    lr, betas, wd = 1e-4, (0.9, 0.95), 0.01
    L, D, T, B, H = args.layers, args.hidden, args.tokens, args.batch, args.heads
    work = tempfile.mkdtemp(prefix="msdd-bench-")
    src, art_path = os.path.join(work, "model.mlir"), os.path.join(work, "model.msdd")
    with open(src, "w") as f:
        f.write(emit_mlir(L, D, T, B, H))
    t0 = time.time()
    subprocess.run([os.path.join(args.build, "bin", "msdd-compile"), "--train", src, "-o", art_path,
                    f"--lr={lr}", f"--beta1={betas[0]}", f"--beta2={betas[1]}",
                    f"--weight-decay={wd}"], check=True)
    compile_s = time.time() - t0
    art = Artifact(art_path)

    rng = np.random.default_rng(0)
    params = init_params(L, D, rng)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    target = rng.standard_normal((B, T, D)).astype(np.float32)
    spec = art.functions["train_step"]
    state = {i["name"]: (params[i["name"]].copy() if i["name"] in params else np.zeros(i["shape"], np.float32))
             for i in spec["inputs"] if i["name"] not in ("step", "x", "target")}
    other = art.new_outputs("train_step")
    torch_step = torch_step_fn(params, L, D, H, lr, betas, wd, args.threads)

    msdd_times, torch_times, msdd_losses, torch_losses = [], [], [], []
    for i in range(args.warmup + args.steps):
        inputs = dict(state, x=x, target=target, step=np.array(i + 1, np.float32))
        s = time.perf_counter()
        out = art.call("train_step", inputs, other)
        m = time.perf_counter() - s
        # Double buffering: this step's outputs are the next step's state.
        state, other = {k: out[k] for k in state}, dict(state, loss=out["loss"],
                                                         grad_norm=out["grad_norm"], lr=out["lr"])
        s = time.perf_counter()
        tl = torch_step(x, target)
        tt_ = time.perf_counter() - s
        msdd_losses.append(float(out["loss"]))
        torch_losses.append(tl)
        if i >= args.warmup:
            msdd_times.append(m)
            torch_times.append(tt_)

    result = {
        "benchmark": "train_step", "layers": L, "hidden": D, "tokens": T, "batch": B, "heads": H,
        "threads": args.threads, "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(), "compile_s": round(compile_s, 2),
        "msdd_ms_median": round(1e3 * statistics.median(msdd_times), 2),
        "torch_ms_median": round(1e3 * statistics.median(torch_times), 2),
        "torch_over_msdd": round(statistics.median(torch_times) / statistics.median(msdd_times), 3),
        "loss_first_last": {"msdd": [msdd_losses[0], msdd_losses[-1]],
                            "torch": [torch_losses[0], torch_losses[-1]]},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
