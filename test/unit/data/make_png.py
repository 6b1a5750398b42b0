#!/usr/bin/python3
"""Writes the PNG test files of the runtime's image tests (runtime_image_test.cpp).

Run from anywhere with Debian's python3 (numpy from python3-numpy):
    /usr/bin/python3 test/unit/data/make_png.py

PNGs are encoded here with zlib and struct only (every filter type, bit depths 1/8/16,
grayscale, grayscale+alpha, RGB, RGBA, palette, Adam7 interlacing), from pixel values given
by formulas; png/expected.npz holds what a decoder must return for each, as f32 [3, H, W] in
[0, 1] (alpha dropped, grayscale replicated). It also holds two bundled photos of
data/photos64 decoded by the small independent PNG decoder below (zlib + unfiltering).
Broken files: truncated, a bad CRC, not a PNG, empty.
"""
import os
import sys
import struct
import zlib

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))
from msdd.images import _paeth, read_png_rgb8  # noqa: E402  (the PNG filters; photos' pixels)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "png")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
PHOTOS = ["data/photos64/train/00000.png", "data/photos64/test/00000.png"]


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def filter_rows(rows, bpp, first_filter=0):
    """Filters raw scanlines (bytes), cycling the filter type 0..4 from `first_filter`."""
    out = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for r, row in enumerate(rows):
        f = (first_filter + r) % 5
        out.append(f)
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, _paeth(a, b, c)][f]
            out.append((x - pred) & 0xFF)
        prev = row
    return bytes(out)


def pack_row(samples, depth):
    """Packs one scanline's samples (ints) at `depth` bits, big-endian."""
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    out, acc, bits = bytearray(), 0, 0
    for s in samples:
        acc = (acc << depth) | s
        bits += depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def encode(samples, color_type, depth, palette=None, interlace=False):
    """samples: int array [H, W, channels]."""
    h, w, channels = samples.shape
    bpp = max(1, channels * depth // 8)
    raw = b""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for k, (x0, y0, dx, dy) in enumerate(passes):
        sub = samples[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        rows = [pack_row([int(v) for v in sub[y].reshape(-1)], depth) for y in range(sub.shape[0])]
        raw += filter_rows(rows, bpp, first_filter=k)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if palette is not None:
        png += chunk(b"PLTE", bytes(int(v) for v in palette.reshape(-1)))
    # Split the data over two IDAT chunks, as encoders may.
    data = zlib.compress(raw, 9)
    half = len(data) // 2
    png += chunk(b"IDAT", data[:half]) + chunk(b"IDAT", data[half:]) + chunk(b"IEND", b"")
    return png


def pattern(h, w, channels, maximum):
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(channels), indexing="ij")
    return (x * 37 + y * 91 + c * 53 + x * y * 11) % (maximum + 1)


def to_chw(rgb, maximum):
    return (rgb.astype(np.float64) / maximum).astype(np.float32).transpose(2, 0, 1).copy()


def cases():
    """(name, png bytes, expected f32 [3, H, W])."""
    h, w = 7, 5
    rgb = pattern(h, w, 3, 255)
    yield "rgb8", encode(rgb, 2, 8), to_chw(rgb, 255)
    yield "rgb8_interlaced", encode(pattern(13, 11, 3, 255), 2, 8, interlace=True), \
        to_chw(pattern(13, 11, 3, 255), 255)
    rgba = pattern(h, w, 4, 255)
    yield "rgba8", encode(rgba, 6, 8), to_chw(rgba[..., :3], 255)
    gray = pattern(h, w, 1, 255)
    yield "gray8", encode(gray, 0, 8), to_chw(np.repeat(gray, 3, axis=2), 255)
    ga = pattern(h, w, 2, 255)
    yield "gray_alpha8", encode(ga, 4, 8), to_chw(np.repeat(ga[..., :1], 3, axis=2), 255)
    bits = pattern(h, w, 1, 1)
    yield "gray1", encode(bits, 0, 1), to_chw(np.repeat(bits, 3, axis=2), 1)
    rgb16 = pattern(h, w, 3, 65535) * 257 % 65536
    yield "rgb16", encode(rgb16, 2, 16), to_chw(rgb16, 65535)
    palette = pattern(16, 1, 3, 255).reshape(16, 3)
    index = pattern(h, w, 1, 15)
    yield "palette4", encode(index, 3, 4, palette=palette), to_chw(palette[index[..., 0]], 255)


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    for name, png, values in cases():
        with open(os.path.join(OUT, name + ".png"), "wb") as f:
            f.write(png)
        expected[name] = values
    for i, path in enumerate(PHOTOS):
        expected["photo%d" % i] = to_chw(read_png_rgb8(os.path.join(REPO, path)), 255)
    np.savez_compressed(os.path.join(OUT, "expected.npz"), **expected)

    good = encode(pattern(7, 5, 3, 255), 2, 8)
    broken = {
        "truncated.png": good[:len(good) // 2],
        "bad_crc.png": good[:45] + bytes([good[45] ^ 0x01]) + good[46:],  # in IDAT data
        "not_a_png.png": b"this is a text file, not an image\n",
        "empty.png": b"",
    }
    for name, data in broken.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
