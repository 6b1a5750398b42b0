#!/usr/bin/python3
"""ONNX conformance: libonnx-testdata's node tests through msdd-translate, msdd-compile, msdd-run.

Every node test (DATA/test_*/model.onnx with test_data_set_*/{input,output}_*.pb) is:

- unsupported when one of its ops is not in `msdd-translate --list-onnx-ops`, or one of its
  graph inputs/outputs is not a tensor of a dtype the artifact ABI has (float32, float64,
  int32, int64, bool). Those are counted, not run.
- otherwise run: imported, compiled, run on every data set and compared with the reference
  outputs (rtol 1e-4, atol 1e-5; same shape and dtype).

msdd needs static shapes, so graph inputs that feed a shape operand (Reshape's shape,
Slice's starts, Resize's sizes, ...) are made initializers holding the test's data before
import, as a PyTorch export holds them; the table notes which.

Prints `passed N, failed N, unsupported N`, writes a per-test table (--report) and exits 1
when a test fails that is not listed in the known-gaps file (`test_name: reason` lines).
"""
import argparse
import glob
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

RTOL, ATOL = 1e-4, 1e-5
SUPPORTED_DTYPES = {
    onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.INT32,
    onnx.TensorProto.INT64, onnx.TensorProto.BOOL,
}
# Operands (by op type and input index) that the importer needs at import time: shapes,
# axes, sizes, and settings passed as inputs. Graph inputs feeding them are bound to the
# test data.
SHAPE_OPERANDS = {
    "Reshape": {1}, "Expand": {1}, "Tile": {1}, "Slice": {1, 2, 3, 4}, "Split": {1},
    "Squeeze": {1}, "Unsqueeze": {1}, "ReduceSum": {1}, "ReduceMean": {1}, "ReduceMax": {1},
    "Resize": {1, 2, 3}, "Upsample": {1}, "ConstantOfShape": {0}, "Range": {0, 1, 2},
    "Pad": {1, 2, 3}, "Clip": {1, 2}, "CumSum": {1}, "Trilu": {1}, "OneHot": {1},
    "Dropout": {1, 2}, "HannWindow": {0}, "HammingWindow": {0}, "BlackmanWindow": {0},
}


def dtype_name(t):
    return onnx.TensorProto.DataType.Name(t)


def classify(model, supported_ops):
    """Returns None when the test can run, else the reason it is unsupported."""
    ops = sorted({n.op_type for n in model.graph.node})
    missing = [op for op in ops if op not in supported_ops]
    if missing or any(n.domain not in ("", "ai.onnx") for n in model.graph.node):
        return "op " + ", ".join(missing or ["(other domain)"])
    for vi in list(model.graph.input) + list(model.graph.output):
        if not vi.type.HasField("tensor_type"):
            return "non-tensor value '%s'" % vi.name
        if vi.type.tensor_type.elem_type not in SUPPORTED_DTYPES:
            return "dtype " + dtype_name(vi.type.tensor_type.elem_type)
    return None


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def data_sets(test_dir):
    sets = []
    for d in sorted(glob.glob(os.path.join(test_dir, "test_data_set_*"))):
        ins = [load_pb(p) for p in sorted(glob.glob(os.path.join(d, "input_*.pb")),
                                           key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]))]
        outs = [load_pb(p) for p in sorted(glob.glob(os.path.join(d, "output_*.pb")),
                                            key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]))]
        sets.append((ins, outs))
    return sets


def save_npz(path, arrays):
    """np.savez without its keyword quirks (a `like=` keyword is swallowed by numpy)."""
    import zipfile
    with zipfile.ZipFile(path, "w") as z:
        for name, a in arrays.items():
            with z.open(name + ".npy", "w") as f:
                np.lib.format.write_array(f, np.asarray(a), allow_pickle=False)


def run(cmd, timeout=120):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, (p.stderr.strip().splitlines() or [""])[-1]


def run_test(job):
    name, test_dir, bin_dir, supported_ops = job
    start = time.time()
    model = onnx.load(os.path.join(test_dir, "model.onnx"))
    ops = sorted({n.op_type for n in model.graph.node})
    result = {"name": name, "ops": ops, "status": "", "detail": "", "bound": []}
    reason = classify(model, supported_ops)
    if reason:
        result.update(status="unsupported", detail=reason)
        return result
    sets = data_sets(test_dir)
    if not sets:
        result.update(status="failed", detail="no test data")
        return result
    graph_inputs = [i.name for i in model.graph.input
                    if i.name not in {t.name for t in model.graph.initializer}]
    # Shape operands fed by graph inputs become initializers (data of the first set).
    # Which graph inputs each value's data depends on (Shape and Size see only shapes).
    deps = {name: {name} for name in graph_inputs}
    shape_inputs = set()
    for n in model.graph.node:
        for idx in SHAPE_OPERANDS.get(n.op_type, ()):
            if idx < len(n.input) and n.input[idx]:
                shape_inputs |= deps.get(n.input[idx], set())
        d = set() if n.op_type in ("Shape", "Size") else set().union(*[deps.get(i, set()) for i in n.input])
        for o in n.output:
            deps[o] = d
    ins0 = dict(zip(graph_inputs, sets[0][0]))
    for nm in sorted(shape_inputs):
        if any(not np.array_equal(dict(zip(graph_inputs, s[0]))[nm], ins0[nm]) for s in sets):
            result.update(status="failed", detail="data sets differ in shape operand " + nm)
            return result
        model.graph.initializer.append(numpy_helper.from_array(ins0[nm], nm))
        result["bound"].append(nm)
    if shape_inputs:
        keep = [i for i in model.graph.input if i.name not in shape_inputs]
        del model.graph.input[:]
        model.graph.input.extend(keep)
    work = tempfile.mkdtemp(prefix="msdd-onnx-")
    try:
        onnx_path = os.path.join(work, "model.onnx")
        onnx.save(model, onnx_path)
        mlir, art = os.path.join(work, "model.mlir"), os.path.join(work, "model.msdd")
        rc, err = run([os.path.join(bin_dir, "msdd-translate"), "--import-onnx", onnx_path,
                       "-o", mlir])
        if rc:
            result.update(status="failed", detail="import: " + err.replace(onnx_path + ": ", ""))
            return result
        rc, err = run([os.path.join(bin_dir, "msdd-compile"), mlir, "-o", art])
        if rc:
            result.update(status="failed", detail="compile: " + err)
            return result
        outputs = [o.name for o in model.graph.output]
        for k, (ins, refs) in enumerate(sets):
            feed = {n: a for n, a in zip(graph_inputs, ins) if n not in shape_inputs}
            in_npz, out_npz = os.path.join(work, "in%d.npz" % k), os.path.join(work, "out%d.npz" % k)
            save_npz(in_npz, feed)
            rc, err = run([os.path.join(bin_dir, "msdd-run"), "infer", art, "--weights",
                           os.path.join(work, "model.safetensors"), "--inputs", in_npz,
                           "--outputs", out_npz])
            if rc:
                result.update(status="failed", detail="run: " + err)
                return result
            got = np.load(out_npz)
            for oname, ref in zip(outputs, refs):
                if oname not in got:
                    result.update(status="failed", detail="output '%s' missing" % oname)
                    return result
                out = got[oname]
                if out.shape != ref.shape or out.dtype != ref.dtype:
                    result.update(status="failed", detail="output '%s' is %s%s, expected %s%s" % (
                        oname, out.dtype, list(out.shape), ref.dtype, list(ref.shape)))
                    return result
                if ref.dtype.kind in "fc":
                    ok = np.allclose(out, ref, rtol=RTOL, atol=ATOL, equal_nan=True)
                else:
                    ok = np.array_equal(out, ref)
                if not ok:
                    err_abs = np.max(np.abs(out.astype(np.float64) - ref.astype(np.float64))) if out.size else 0
                    result.update(status="failed", detail="output '%s' differs (max abs error %.3g)"
                                  % (oname, err_abs))
                    return result
        result.update(status="passed", detail="%d data set%s" % (
            len(sets), "" if len(sets) == 1 else "s"))
        return result
    except subprocess.TimeoutExpired as e:
        result.update(status="failed", detail="timeout: " + " ".join(map(str, e.cmd[:2])))
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_known_gaps(path):
    gaps = {}
    if path and os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, reason = line.partition(":")
            gaps[name.strip()] = reason.strip()
    return gaps


def write_report(path, results, gaps, counts):
    lines = [
        "# ONNX conformance",
        "",
        "Generated by `test/Frontend/ONNX/conformance.py` (ctest `onnx-conformance`) from the",
        "node tests of Debian's libonnx-testdata (ONNX 1.12): each test whose ops the importer",
        "supports and whose inputs/outputs have ABI dtypes (float32, float64, int32, int64, bool)",
        "goes through `msdd-translate --import-onnx`, `msdd-compile` and `msdd-run infer`, and",
        "is compared with the reference outputs (rtol %g, atol %g)." % (RTOL, ATOL),
        "Inputs that feed shape operands are bound to the test's data as initializers (static",
        "shapes), noted as *bound*. Failures are explained in",
        "[test/Frontend/ONNX/known-gaps.txt](../test/Frontend/ONNX/known-gaps.txt).",
        "",
        "**passed %(passed)d, failed %(failed)d, unsupported %(unsupported)d** (of %(total)d node tests)" % counts,
        "",
    ]
    unsupported = [r for r in results if r["status"] == "unsupported"]
    by_op, by_type = {}, {}
    for r in unsupported:
        if r["detail"].startswith("op "):
            for op in r["detail"][3:].split(", "):
                by_op[op] = by_op.get(op, 0) + 1
        else:
            by_type[r["detail"]] = by_type.get(r["detail"], 0) + 1
    lines += [
        "Unsupported: %d tests use ops the importer does not have (%s); %d have inputs or outputs"
        % (sum(1 for r in unsupported if r["detail"].startswith("op ")),
           ", ".join("%s %d" % kv for kv in sorted(by_op.items(), key=lambda kv: (-kv[1], kv[0]))),
           sum(by_type.values())),
        "outside the ABI's dtypes or not tensors (%s)."
        % ", ".join("%s: %d" % kv for kv in sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))),
        "",
        "Failures (all listed in known-gaps.txt):",
        "",
    ]
    for r in sorted(results, key=lambda r: r["name"]):
        if r["status"] == "failed":
            lines.append("- `%s`: %s" % (r["name"], gaps.get(r["name"], "NOT A KNOWN GAP: " + r["detail"])))
    lines += [
        "",
        "| test | ops | result | detail |",
        "|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: r["name"]):
        detail = r["detail"]
        if r["bound"]:
            detail += "; bound: " + ", ".join(r["bound"])
        detail = detail.replace("|", "\\|")
        lines.append("| %s | %s | %s | %s |" % (r["name"], " ".join(r["ops"]), r["status"], detail))
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="directory with msdd-translate, msdd-compile, msdd-run")
    ap.add_argument("--data", default="/usr/share/libonnx-testdata/data/node")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--known-gaps")
    ap.add_argument("--report", help="write the per-test table here (markdown)")
    ap.add_argument("--filter", help="only tests whose name matches this regex")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    ops = subprocess.run([os.path.join(args.bin, "msdd-translate"), "--list-onnx-ops"],
                         capture_output=True, text=True, check=True).stdout.split()
    tests = sorted(d for d in os.listdir(args.data)
                   if os.path.exists(os.path.join(args.data, d, "model.onnx")))
    if args.filter:
        tests = [t for t in tests if re.search(args.filter, t)]
    jobs = [(t, os.path.join(args.data, t), args.bin, set(ops)) for t in tests]
    start = time.time()
    with multiprocessing.Pool(max(1, args.jobs)) as pool:
        results = []
        for r in pool.imap_unordered(run_test, jobs):
            results.append(r)
            if args.verbose or r["status"] == "failed":
                print("%-60s %s %s" % (r["name"], r["status"], r["detail"]), flush=True)
    gaps = read_known_gaps(args.known_gaps)
    counts = {s: sum(r["status"] == s for r in results) for s in ("passed", "failed", "unsupported")}
    counts["total"] = len(results)
    unexpected = [r["name"] for r in results if r["status"] == "failed" and r["name"] not in gaps]
    fixed = [r["name"] for r in results if r["status"] == "passed" and r["name"] in gaps]
    if args.report and not args.filter:
        write_report(args.report, results, gaps, counts)
    print("passed %(passed)d, failed %(failed)d, unsupported %(unsupported)d" % counts
          + " (%d tests, %.0f s)" % (len(results), time.time() - start))
    for name in fixed:
        print("note: %s passes but is listed in the known gaps" % name)
    if unexpected:
        print("unexpected failures (not in %s): %s" % (args.known_gaps, " ".join(sorted(unexpected))))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
