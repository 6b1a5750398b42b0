#!/usr/bin/env python3
"""Static memory traffic of one function of a CUDA artifact, from its IR (no GPU needed).

    msdd-compile CONFIG.json --target cuda --math-mode bf16 --emit=kernels -o K.mlir
    python3 benchmarks/gpu/kernel_traffic.py K.mlir FUNCTION [FUNCTION ...]

For each function: kernel launches and the bytes of the buffers they take (each buffer
counted whole, once per launch: what a kernel streams through DRAM when it touches all of
its operands, an upper bound for broadcast operands); cuBLAS calls and the bytes of their
factors and result (the result twice when the call accumulates into it, beta = 1).
Kernels in the paper decoder are memory-bound, so these bytes predict how their time moves;
they are not a timing. Also the peak of the device memory the function allocates
(`gpu.alloc` until its `gpu.dealloc`, called functions' peaks included), besides its
arguments: what a batch needs on the GPU. And what the flash-attention kernels read of K and
V: each block (one query tile of one batch and head) stages all of its head's K and V, so a
kernel reads them once per query tile (from L2, mostly; the buffers are counted once in the
kernel bytes).
"""
import re
import sys

DTYPE_BYTES = {"f32": 4, "f16": 2, "bf16": 2, "f64": 8, "i64": 8, "i32": 4, "i1": 1, "index": 8}


def memref_bytes(type_text):
    m = re.match(r"memref<((?:\d+x)*)([a-z]+\d*)", type_text)
    if not m:
        return 0
    n = 1
    for d in m.group(1).split("x"):
        if d:
            n *= int(d)
    return n * DTYPE_BYTES.get(m.group(2), 4)


def typed_operands(text):
    """(name, type) for each `%name : type` in a comma-separated operand list; types may
    contain commas inside <...> or [...] (strided layouts of views)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text + ","):
        if ch in "<[(":
            depth += 1
        elif ch in ">])":
            depth -= 1
        elif ch == "," and depth == 0:
            item = text[start:i].strip()
            start = i + 1
            m = re.match(r"(%[\w]+) : (.*)$", item)
            if m:
                out.append((m.group(1), m.group(2)))
    return out


def function_bodies(text):
    bodies, name, lines = {}, None, []
    for line in text.splitlines():
        m = re.match(r"\s*func\.func (?:private )?@(\w+)\(", line)
        if m and "{" in line:
            name, lines = m.group(1), []
            bodies[name] = lines
        elif name is not None:
            lines.append(line)
    return bodies


def flash_staged_bytes(line, operands):
    """K and V bytes times the query tiles (the grid's x) of a flash-attention launch."""
    grid = re.search(r"blocks in \(%c(\d+)", line)
    if not grid or len(operands) < 3:
        return 0
    return int(grid.group(1)) * (memref_bytes(operands[1][1]) + memref_bytes(operands[2][1]))


def traffic(lines):
    static_type, constants = {}, {}
    launches = kernel_bytes = calls = call_bytes = accumulating = staged = 0
    for line in lines:
        m = re.match(r"\s*(%[\w]+) = memref\.cast %[\w]+ : (memref<[^>]*>(?:>)?)", line)
        if m:
            static_type[m.group(1)] = m.group(2)
        m = re.match(r"\s*(%[\w]+) = arith\.constant (-?\d+) : i64", line)
        if m:
            constants[m.group(1)] = int(m.group(2))
        if "gpu.launch_func" in line:
            launches += 1
            args = re.search(r"args\((.*)\)\s*$", line)
            if args:
                seen = set()
                if "@flash_attention_" in line:
                    staged += flash_staged_bytes(line, typed_operands(args.group(1)))
                for name, ty in typed_operands(args.group(1)):
                    if ty.startswith("memref<") and name not in seen:
                        seen.add(name)
                        kernel_bytes += memref_bytes(ty)
        m = re.search(r"call @msdd_rt_cuda_(?:batch_)?matmul_\w+\(([^)]*)\)", line)
        if m:
            calls += 1
            operands = [o.strip() for o in m.group(1).split(",")]
            for o in operands[:3]:
                call_bytes += memref_bytes(static_type.get(o, ""))
            if len(operands) > 4 and constants.get(operands[4], 0) == 1:
                accumulating += 1
                call_bytes += memref_bytes(static_type.get(operands[2], ""))
    return launches, kernel_bytes, calls, accumulating, call_bytes, staged


def peak_allocated(name, bodies, memo):
    """The most bytes of `gpu.alloc` buffers live at once in function `name`."""
    if name not in memo:
        live, now, peak = {}, 0, 0
        for line in bodies[name]:
            m = re.match(r"\s*(%\w+), %\w+ = gpu\.alloc\b.*: (memref<.*>)\s*$", line)
            if m:
                live[m.group(1)] = memref_bytes(m.group(2))
                now += live[m.group(1)]
                peak = max(peak, now)
                continue
            m = re.search(r"gpu\.dealloc (?:async \[[^\]]*\] )?(%\w+)", line)
            if m and m.group(1) in live:
                now -= live.pop(m.group(1))
                continue
            m = re.search(r"call @(\w+)\(", line)
            if m and m.group(1) in bodies:
                peak = max(peak, now + peak_allocated(m.group(1), bodies, memo))
        memo[name] = peak
    return memo[name]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    text = open(sys.argv[1]).read()
    bodies = function_bodies(text)
    print("| function | kernel launches | kernel MB | cuBLAS calls (beta = 1) | cuBLAS MB | peak allocated MB | flash K/V reads MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    memo = {}
    for name in sys.argv[2:]:
        if name not in bodies:
            sys.exit(f"{sys.argv[1]}: no function '{name}' (have: {', '.join(sorted(bodies))})")
        launches, kb, calls, acc, cb, staged = traffic(bodies[name])
        peak = peak_allocated(name, bodies, memo)
        print(f"| {name} | {launches} | {kb / 1e6:.1f} | {calls} ({acc}) | {cb / 1e6:.1f} | {peak / 1e6:.1f} "
              f"| {staged / 1e6:.1f} |")


if __name__ == "__main__":
    main()
