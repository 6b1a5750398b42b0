#!/usr/bin/python3
"""Writes the golden .npz files of the runtime's unit tests (runtime_npz_test.cpp).

Run from anywhere with Debian's python3 (numpy from python3-numpy):
    /usr/bin/python3 test/unit/data/make_npz.py
The values are simple formulas so the C++ test can recompute them.
"""
import io
import os
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def arrays():
    """Every supported dtype, ranks 0..4, an empty array, and non-ASCII/odd names."""
    return {
        "f32": (np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 - 1.0),
        "f64_scalar": np.array(3.25, dtype=np.float64),
        "i32": np.arange(-3, 4, dtype=np.int32),
        "i64": (np.arange(24, dtype=np.int64).reshape(2, 3, 4) * 1000000007),
        "bool": (np.arange(12).reshape(3, 4) % 3 == 0),
        "f32_rank4": np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5) / 7.0,
        "empty": np.zeros((0, 3), dtype=np.float32),
        "caf\u00e9 x": np.array([1.5, -2.5], dtype=np.float64),
    }


def npy_bytes(array, version=None):
    out = io.BytesIO()
    np.lib.format.write_array(out, array, version=version)
    return out.getvalue()


def write_zip(name, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(os.path.join(HERE, name), "w", compression=compression) as archive:
        for entry_name, data in entries:
            archive.writestr(entry_name, data)


def main():
    data = arrays()
    np.savez(os.path.join(HERE, "numpy_savez.npz"), **data)
    np.savez_compressed(os.path.join(HERE, "numpy_savez_compressed.npz"), **data)
    # .npy format versions 2 and 3 (numpy only picks them for huge or non-latin-1 headers).
    write_zip("npy_versions.npz", [
        ("v1.npy", npy_bytes(data["f32"], (1, 0))),
        ("v2.npy", npy_bytes(data["f32"], (2, 0))),
        ("v3.npy", npy_bytes(data["f32"], (3, 0))),
    ])
    # Unsupported content, each of which must give a clear error.
    np.savez(os.path.join(HERE, "bad_dtype_i2.npz"), x=np.arange(4, dtype=np.int16))
    np.savez(os.path.join(HERE, "bad_fortran.npz"),
             x=np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    np.savez(os.path.join(HERE, "bad_big_endian.npz"), x=np.arange(4, dtype=">f4"))
    write_zip("bad_not_npy.npz", [("readme.txt", b"not an array")])
    write_zip("bad_crc.npz", [("x.npy", npy_bytes(data["i32"]))])
    with open(os.path.join(HERE, "bad_crc.npz"), "r+b") as f:
        content = f.read()
        at = content.index(b"\x93NUMPY") + 128 + 2  # a byte inside the array data
        f.seek(at)
        f.write(bytes([content[at] ^ 0xFF]))


if __name__ == "__main__":
    main()
