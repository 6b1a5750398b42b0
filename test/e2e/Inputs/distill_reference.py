#!/usr/bin/python3
"""Checks stage 2's loss and its gradient (msdd-compile --distill) against a float64 PyTorch
reference written from docs/tokenizer.md ("Stage 2"), on random weights where the student,
the teacher and the encoder all differ.

    distill_reference.py CONFIG.json --write DIR   weights (DIR/init.safetensors: the student,
                                                   the encoder, teacher.*), images, seed
    distill_reference.py --drop PREFIX IN OUT      IN's tensors but those starting with PREFIX
    distill_reference.py --groups FILE             the sorted first name parts of FILE's tensors
    distill_reference.py CONFIG.json --check DIR SGD.msdd
        runs `loss` and `train_step` of SGD.msdd (compiled with --optimizer sgd --lr 1, so
        that the update is minus the gradient) and compares them with the reference.

The reference draws the artifact's noise itself: Philox 4x32-10 and Box-Muller as
msdd.random_normal's description defines them, implemented here in numpy.
"""
import argparse
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "python"))
from msdd import Artifact  # noqa: E402
from msdd.images import read_safetensors, write_safetensors  # noqa: E402
from msdd_ref.model import Tokenizer, load_config, scale_resolution  # noqa: E402
from msdd_ref.sampler import block_noise, schedule  # noqa: E402

SEED = 123456789012345
TOLERANCE = 1e-4  # relative to the largest magnitude of each compared quantity
M32 = np.uint64(0xFFFFFFFF)


def philox_normal(seed, step, stream, shape):
    """msdd.random_normal(seed, step) {stream}: element i from the Philox 4x32-10 block with
    key (seed mod 2^32, seed >> 32) and counter (i/2 mod 2^32, (i/2) >> 32, step, stream)."""
    count = int(np.prod(shape))
    pairs = np.arange((count + 1) // 2, dtype=np.uint64)
    c = [pairs & M32, pairs >> np.uint64(32), np.full_like(pairs, step & 0xFFFFFFFF),
         np.full_like(pairs, stream)]
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64((seed >> 32) & 0xFFFFFFFF)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c[0]
        p1 = np.uint64(0xCD9E8D57) * c[2]
        hi0, lo0 = p0 >> np.uint64(32), p0 & M32
        hi1, lo1 = p1 >> np.uint64(32), p1 & M32
        c = [hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0]
        k0 = (k0 + np.uint64(0x9E3779B9)) & M32
        k1 = (k1 + np.uint64(0xBB67AE85)) & M32
    u1 = ((c[0] >> np.uint64(8)).astype(np.float64) + 1.0) / 2.0**24
    u2 = (c[1] >> np.uint64(8)).astype(np.float64) / 2.0**24
    radius = np.sqrt(-2.0 * np.log(u1))
    out = np.stack([radius * np.cos(2 * np.pi * u2), radius * np.sin(2 * np.pi * u2)], axis=1)
    return torch.from_numpy(out.reshape(-1)[:count].reshape(shape))


def distill_loss(config, student, teacher, encoder, images, seed):
    """docs/tokenizer.md, Stage 2: per-scale weighted MSE of the student's one-step outputs
    against the teacher's one step from the re-noised output (the target is a constant)."""
    w, gamma, scales = config["sampler"]["guidance"], config["sampler"]["gamma"], config["num_scales"]
    sched = schedule(scales, gamma)
    latent = encoder.encode(images).detach()  # the encoder is frozen
    b = images.shape[0]

    def guided(model, x, tau):
        v = model.denoise(x, tau, latent)
        if w == 1.0:
            return v
        u = model.denoise(x, tau, model.null_latent[None].expand_as(latent))
        return u + w * (v - u)

    r0 = scale_resolution(config, 0)
    x = philox_normal(seed, 1, 10, (b, 3, r0, r0))
    losses = []
    for k in range(scales):
        if k > 0:
            up = F.interpolate(x, scale_factor=2, mode="nearest")
            x = sched.alpha[k - 1] * up + sched.beta[k - 1] * block_noise(
                philox_normal(seed, 1, 10 + k, up.shape), gamma)
        start = x
        x = start + (sched.end[k] - sched.start[k]) * guided(student, start, torch.full((b,), sched.tau_start[k], dtype=torch.float64))
        u = 0.5 * (1.0 + torch.erf(philox_normal(seed, 1, 20 + k, (b,)) / math.sqrt(2.0)))
        u4 = u.reshape(b, 1, 1, 1)
        renoised = x + u4 * (start - x)
        tau = sched.tau_end[k] + u * (sched.tau_start[k] - sched.tau_end[k])
        target = (renoised - u4 * (sched.start[k] - sched.end[k]) * guided(teacher, renoised, tau)).detach()
        weight = (1.0 / (1.0 + u)).reshape(b, 1, 1, 1)
        losses.append((weight * (x - target) ** 2).mean())
    return sum(losses), losses


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config", nargs="?")
    ap.add_argument("--write")
    ap.add_argument("--check", nargs=2, metavar=("DIR", "SGD.msdd"))
    ap.add_argument("--drop", nargs=3, metavar=("PREFIX", "IN", "OUT"))
    ap.add_argument("--groups")
    args = ap.parse_args()
    if args.drop:
        prefix, source, dest = args.drop
        write_safetensors(dest, {k: v for k, v in read_safetensors(source).items()
                                 if not k.startswith(prefix)})
        return
    if args.groups:
        print(sorted({k.split(".")[0] for k in read_safetensors(args.groups)}))
        return
    config = load_config(args.config)
    torch.set_default_dtype(torch.float64)
    if args.write:
        student, teacher = Tokenizer(config).randomize(3), Tokenizer(config).randomize(4)
        tensors = {k: v.detach().numpy().astype(np.float32) for k, v in student.state_dict().items()}
        for k, v in teacher.state_dict().items():
            if not k.startswith("encoder."):
                tensors["teacher." + k] = v.detach().numpy().astype(np.float32)
        write_safetensors(os.path.join(args.write, "init.safetensors"), tensors)
        size, b = config["image_size"], config["train"]["batch_size"]
        images = np.random.RandomState(5).rand(b, 3, size, size).astype(np.float32)
        np.save(os.path.join(args.write, "images.npy"), images)
        return

    folder, artifact_path = args.check
    tensors = read_safetensors(os.path.join(folder, "init.safetensors"))
    images = np.load(os.path.join(folder, "images.npy"))

    def model(prefix):
        m = Tokenizer(config)
        state = {k: torch.from_numpy(tensors[prefix + k].astype(np.float64))
                 for k in m.state_dict() if not k.startswith("encoder.")}
        state.update({k: torch.from_numpy(tensors[k].astype(np.float64))
                      for k in m.state_dict() if k.startswith("encoder.")})
        m.load_state_dict(state)
        return m
    student, teacher = model(""), model("teacher.")
    total, per_scale = distill_loss(config, student, teacher, student,
                                    torch.from_numpy(images.astype(np.float64)), SEED)
    total.backward()
    reference = {"loss": total.item()}
    reference.update({f"loss_s{k}": l.item() for k, l in enumerate(per_scale)})
    grads = {k: p.grad.numpy() for k, p in student.named_parameters() if not k.startswith("encoder.")}

    art = Artifact(artifact_path)
    inputs = {}
    for spec in art.functions["loss"]["inputs"]:
        name = spec["name"]
        if name == "images":
            inputs[name] = images
        elif name == "seed":
            inputs[name] = np.array(SEED, dtype=np.int64)
        else:
            inputs[name] = tensors[name]
    outputs = art.call("loss", inputs)
    failed = False
    for name, want in reference.items():
        got = float(outputs[name])
        err = abs(got - want) / max(abs(want), 1e-12)
        failed |= not err <= TOLERANCE
        print(f"{name}: {got:.6g} vs reference {want:.6g}, relative error {err:.2g} "
              f"{'ok' if err <= TOLERANCE else 'FAIL'}")

    # train_step with SGD at lr 1: p - grad for the student; no other input is updated.
    step_inputs = {}
    for spec in art.functions["train_step"]["inputs"]:
        name = spec["name"]
        if name == "step":
            step_inputs[name] = np.array(1.0, dtype=np.float32)
        elif name in inputs:
            step_inputs[name] = inputs[name]
        else:  # optimizer state
            step_inputs[name] = np.zeros(spec["shape"], dtype=np.float32)
    updated = art.call("train_step", step_inputs)
    trained = sorted(o["name"] for o in art.functions["train_step"]["outputs"] if o.get("updates")
                     and not o["name"].startswith("momentum."))
    expected = sorted(grads)
    print("trained:", "ok" if trained == expected else f"FAIL {trained} vs {expected}")
    failed |= trained != expected
    worst, worst_name, unused = 0.0, "", []
    for name, g in grads.items():
        got = tensors[name].astype(np.float64) - updated[name].astype(np.float64)
        if float(np.abs(g).max()) == 0.0:
            # The last block's latent-stream queries: nothing reads that stream's output.
            unused.append(name)
            failed |= float(np.abs(got).max()) != 0.0
            continue
        err = float(np.abs(got - g).max()) / float(np.abs(g).max())
        if err > worst:
            worst, worst_name = err, name
    print(f"zero gradients (unused by the loss): {', '.join(unused)}")
    print(f"gradients of {len(grads)} student tensors: worst relative error {worst:.2g} ({worst_name}) "
          f"{'ok' if worst <= 1e-3 else 'FAIL'}")
    failed |= not worst <= 1e-3
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
