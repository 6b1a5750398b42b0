#!/usr/bin/python3
"""Helpers for the msdd-run train end-to-end tests.

    train_check.py log RUN/log.jsonl       checks the log's fields and that the loss fell
    train_check.py images OUT.npz          writes a batch of test photos for `infer`
    train_check.py trend RUN/log.jsonl     the mean of the last 5 logged losses against the first
"""
import json
import os
import sys
import zlib

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def check_log(path):
    with open(path) as f:
        lines = [json.loads(line) for line in f]
    for line in lines:
        assert list(line)[:4] == ["step", "loss", "grad_norm", "lr"], line
        assert np.isfinite(line["loss"]) and line["steps_per_s"] > 0, line
    steps = [line["step"] for line in lines]
    assert steps == sorted(set(steps)), steps
    first, last = lines[0]["loss"], lines[-1]["loss"]
    print("log: %d lines, steps %d..%d, loss %.4g -> %.4g" % (len(lines), steps[0], steps[-1], first, last))
    print("loss fell by half: %s" % ("yes" if last < 0.5 * first else "NO"))


def check_trend(path):
    """Noisy per-batch losses (a diffusion loss at random times): compare averages."""
    with open(path) as f:
        losses = [json.loads(line)["loss"] for line in f]
    tail = float(np.mean(losses[-5:]))
    print("loss %.4g -> mean of the last 5 logged %.4g: %s" % (losses[0], tail, "fell" if tail < 0.7 * losses[0] else "DID NOT FALL"))


def decode_rgb8(path):
    """8-bit RGB PNG (what data/photos64 holds) with zlib and numpy only."""
    data = open(path, "rb").read()
    pos, idat = 8, b""
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            w, h = int.from_bytes(body[0:4], "big"), int.from_bytes(body[4:8], "big")
            assert body[8:10] == b"\x08\x02" and body[12] == 0, "8-bit RGB, not interlaced"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride = zlib.decompress(idat), w * 3
    out, prev = np.zeros((h, stride), dtype=np.int64), np.zeros(stride, dtype=np.int64)
    for y in range(h):
        f = raw[y * (stride + 1)]
        row = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1).astype(np.int64)
        cur = np.zeros(stride, dtype=np.int64)
        for i in range(stride):
            a = cur[i - 3] if i >= 3 else 0
            b, c = prev[i], (prev[i - 3] if i >= 3 else 0)
            p = a + b - c
            paeth = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else (b if abs(p - b) <= abs(p - c) else c)
            cur[i] = (row[i] + [0, a, b, (a + b) // 2, paeth][f]) & 0xFF
        out[y], prev = cur, cur
    return out.reshape(h, w, 3).transpose(2, 0, 1) / 255.0


def write_images(path):
    """The top-left 32x32 of the first 8 test photos, as the model's `images` input."""
    folder = os.path.join(REPO, "data", "photos64", "test")
    names = sorted(os.listdir(folder))[:8]
    images = np.stack([decode_rgb8(os.path.join(folder, n))[:, :32, :32] for n in names])
    np.savez(path, images=images.astype(np.float32))


if __name__ == "__main__":
    {"log": check_log, "images": write_images, "trend": check_trend}[sys.argv[1]](sys.argv[2])
