#!/usr/bin/python3
"""Independent float64 numpy reference of block.mlir.

--write-inputs DIR  writes DIR/inputs.npz (x, t) and DIR/weights.safetensors (seeded random)
--check DIR         recomputes the block in float64 and compares DIR/outputs.npz with it
"""
import argparse
import json
import math
import sys

import numpy as np

SHAPES = {
    "w_in": (32, 48), "b_in": (32,), "w_t": (32, 64), "b_t": (32,),
    "w_shift1": (32, 32), "w_scale1": (32, 32), "w_shift2": (32, 32), "w_scale2": (32, 32),
    "w_q": (32, 32), "w_k": (32, 32), "w_v": (32, 32), "w_o": (32, 32),
    "q_norm": (16,), "k_norm": (16,), "ln2_w": (32,), "ln2_b": (32,),
    "w_gate": (64, 32), "w_up": (64, 32), "w_down": (32, 64), "w_out": (48, 32), "b_out": (48,),
}
EPS = 1e-6


def make_data():
    rng = np.random.default_rng(20261126)
    inputs = {"x": rng.standard_normal((2, 3, 16, 16)), "t": np.array([0.25, 0.8])}
    weights = {}
    for name, shape in SHAPES.items():
        fan_in = shape[-1]
        scale = 1.0 / math.sqrt(fan_in) if len(shape) == 2 else 0.5
        w = rng.standard_normal(shape) * scale
        if name in ("q_norm", "k_norm", "ln2_w"):
            w = 1.0 + 0.1 * rng.standard_normal(shape)
        weights[name] = w
    return ({k: v.astype(np.float32) for k, v in inputs.items()},
            {k: v.astype(np.float32) for k, v in weights.items()})


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def linear(x, w, b=None):
    y = x @ w.T
    return y if b is None else y + b


def layer_norm(x, w=None, b=None):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    y = (x - mu) / np.sqrt(var + EPS)
    return y if w is None else y * w + b


def rms_norm(x, w):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + EPS) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def timestep_embedding(t, dim, max_period=10000.0, scale=1000.0):
    half = dim // 2
    freqs = np.exp(-math.log(max_period) * np.arange(half) / half)
    args = (t * scale)[:, None] * freqs[None]
    return np.concatenate([np.cos(args), np.sin(args)], axis=-1)


def rope_2d(x, grid_h, grid_w, theta=10000.0):
    b, h, length, d = x.shape
    quarter = d // 4
    out = np.empty_like(x)
    for j in range(d // 2):
        row_half = j < quarter
        i = j if row_half else j - quarter
        freq = theta ** (-i / quarter)
        for token in range(length):
            pos = token // grid_w if row_half else token % grid_w
            a = pos * freq
            x0, x1 = x[..., token, 2 * j], x[..., token, 2 * j + 1]
            out[..., token, 2 * j] = x0 * math.cos(a) - x1 * math.sin(a)
            out[..., token, 2 * j + 1] = x1 * math.cos(a) + x0 * math.sin(a)
    return out


def attention(q, k, v):
    s = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    s = np.exp(s - s.max(-1, keepdims=True))
    return (s / s.sum(-1, keepdims=True)) @ v


def patchify(x, p):
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // p, p, w // p, p).transpose(0, 2, 4, 3, 5, 1)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(tok, p, c, h, w):
    b = tok.shape[0]
    x = tok.reshape(b, h // p, w // p, p, p, c).transpose(0, 5, 1, 3, 2, 4)
    return x.reshape(b, c, h, w)


def block(inp, wt):
    d = {k: v.astype(np.float64) for k, v in {**inp, **wt}.items()}
    h = linear(patchify(d["x"], 4), d["w_in"], d["b_in"])
    c = silu(linear(timestep_embedding(d["t"], 64), d["w_t"], d["b_t"]))
    mod = {n: linear(c, d["w_" + n]) for n in ("shift1", "scale1", "shift2", "scale2")}
    m1 = layer_norm(h) * (1 + mod["scale1"][:, None]) + mod["shift1"][:, None]
    heads = lambda y: y.reshape(2, 16, 2, 16).transpose(0, 2, 1, 3)
    q = rope_2d(rms_norm(heads(linear(m1, d["w_q"])), d["q_norm"]), 4, 4)
    k = rope_2d(rms_norm(heads(linear(m1, d["w_k"])), d["k_norm"]), 4, 4)
    v = heads(linear(m1, d["w_v"]))
    a = attention(q, k, v).transpose(0, 2, 1, 3).reshape(2, 16, 32)
    h2 = h + linear(a, d["w_o"])
    m2 = layer_norm(h2, d["ln2_w"], d["ln2_b"]) * (1 + mod["scale2"][:, None]) + mod["shift2"][:, None]
    mlp = linear(silu(linear(m2, d["w_gate"])) * linear(m2, d["w_up"]), d["w_down"])
    h3 = h2 + mlp
    return unpatchify(linear(h3, d["w_out"], d["b_out"]), 4, 3, 16, 16)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write-inputs", metavar="DIR")
    parser.add_argument("--check", metavar="DIR")
    parser.add_argument("--rtol", type=float, default=1e-5)
    args = parser.parse_args()
    inputs, weights = make_data()
    if args.write_inputs:
        np.savez(f"{args.write_inputs}/inputs.npz", **inputs)
        write_safetensors(f"{args.write_inputs}/weights.safetensors", weights)
    if args.check:
        got = np.load(f"{args.check}/outputs.npz")["y"].astype(np.float64)
        want = block(inputs, weights)
        # Relative to the output's scale: elementwise relative error is meaningless near zero.
        err = np.abs(got - want).max() / np.abs(want).max()
        verdict = "ok" if err <= args.rtol else "FAILED"
        print(f"y: max relative error {err:.3e} <= {args.rtol:g}: {verdict}")
        return 0 if err <= args.rtol else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
