#!/usr/bin/env python3
"""Static memory traffic and estimated time of functions of a CUDA artifact, from its IR
(no GPU needed).

    msdd-compile CONFIG.json --target cuda --math-mode bf16 --emit=kernels -o K.mlir
    python3 benchmarks/gpu/kernel_traffic.py K.mlir FUNCTION [FUNCTION ...] [--profile P.txt]

For each function, with the functions it calls (once per call): kernel launches and the
bytes of the buffers they take (each buffer counted whole, once per launch: what a kernel
streams through DRAM when it touches all of its operands, an upper bound for broadcast
operands); cuBLAS calls and the bytes of their factors and result (the result twice when
the call accumulates into it, beta = 1). Also the peak of the device memory the function
allocates (`gpu.alloc` until its `gpu.dealloc`, called functions' peaks included), besides
its arguments: what a batch needs on the GPU. And what the flash-attention kernels read of
K and V: each block (one query tile of one batch and head) stages all of its head's K and
V, so a kernel reads them once per query tile (from L2, mostly; the buffers are counted
once in the kernel bytes). Then the FLOPs of the products and attention, and an estimate
of the time on an H100 (rates in H100, fitted to a measured profile): each kernel its bytes
at the streaming bandwidth, each cuBLAS call its FLOPs at cuBLAS's rate plus its bytes,
each flash kernel its FLOPs at that kernel's measured rate. It is a model, not a timing.

--profile P.txt (the table `MSDD_CUDA_PROFILE=1` prints, for the first FUNCTION) lists the
measured time per call of each kernel and product next to the estimate.
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


def dims(type_text):
    m = re.match(r"memref<((?:\d+x)*)", type_text)
    return [int(d) for d in m.group(1).split("x") if d] if m else []


def flash_staged_bytes(line, operands):
    """K and V bytes times the query tiles (the grid's x) of a flash-attention launch."""
    grid = re.search(r"blocks in \(%c(\d+)", line)
    if not grid or len(operands) < 3:
        return 0
    return int(grid.group(1)) * (memref_bytes(operands[1][1]) + memref_bytes(operands[2][1]))


# The estimate's rates, fitted to the H100 profile of run (e) (benchmarks/RESULTS.md,
# gpu/h100-2026-11-27-s9-profile-bf16.txt): streaming kernels (copies, transposes) moved
# 2.95 TB/s; cuBLAS's bf16 products took their FLOPs at 697 TFLOP/s plus their bytes at
# that bandwidth; the flash-attention kernel of that run reached 163 TFLOP/s (a floor: it
# has had 8-warp blocks and conflict-free staging since); a kernel takes at least 3 us.
H100 = {"bandwidth": 2.95e12, "gemm_flops": 697e12, "flash_flops": 163e12, "min_kernel": 3e-6}


class Traffic:
    FIELDS = ("launches", "kernel_bytes", "calls", "accumulating", "call_bytes", "staged",
              "gemm_flops", "flash_flops", "kernel_s", "flash_s", "gemm_s")

    def __init__(self):
        for f in self.FIELDS:
            setattr(self, f, 0)
        # Estimated seconds and count per kernel, named as MSDD_CUDA_PROFILE names them.
        self.per_kernel = {}

    def record(self, name, seconds, count=1):
        calls, total = self.per_kernel.get(name, (0, 0.0))
        self.per_kernel[name] = (calls + count, total + seconds)

    def add(self, other):
        for f in self.FIELDS:
            setattr(self, f, getattr(self, f) + getattr(other, f))
        for name, (calls, seconds) in other.per_kernel.items():
            self.record(name, seconds, calls)

    def estimate_s(self):
        return self.kernel_s + self.flash_s + self.gemm_s


def traffic(name, bodies, memo, rates=H100):
    """The launches, bytes, FLOPs and estimated GPU seconds of function `name`, those of the
    functions it calls in the module included (once per call)."""
    if name in memo:
        return memo[name]
    t = Traffic()
    static_type, constants = {}, {}
    for line in bodies[name]:
        m = re.match(r"\s*(%[\w]+) = memref\.cast %[\w]+ : (memref<[^>]*>(?:>)?)", line)
        if m:
            static_type[m.group(1)] = m.group(2)
        m = re.match(r"\s*(%[\w]+) = arith\.constant (-?\d+) : i64", line)
        if m:
            constants[m.group(1)] = int(m.group(2))
        if "gpu.launch_func" in line:
            t.launches += 1
            args = re.search(r"args\((.*)\)\s*$", line)
            operands = typed_operands(args.group(1)) if args else []
            seen, moved = set(), 0
            for operand, ty in operands:
                if ty.startswith("memref<") and operand not in seen:
                    seen.add(operand)
                    moved += memref_bytes(ty)
            t.kernel_bytes += moved
            kernel = re.search(r"@[\w$.]+::@(\w+)", line)
            if "@flash_attention_" in line and len(operands) >= 3:
                t.staged += flash_staged_bytes(line, operands)
                q, k = dims(operands[0][1]), dims(operands[1][1])
                flops = 4 * q[0] * q[1] * q[2] * k[2] * q[3]
                t.flash_flops += flops
                seconds = max(flops / rates["flash_flops"], moved / rates["bandwidth"])
                t.flash_s += seconds
            else:
                seconds = max(moved / rates["bandwidth"], rates["min_kernel"])
                t.kernel_s += seconds
            t.record(kernel.group(1) if kernel else "?", seconds)
        m = re.search(r"call @(msdd_rt_cuda_(?:batch_)?matmul_(\w+))\(([^)]*)\)", line)
        if m:
            t.calls += 1
            operands = [o.strip() for o in m.group(3).split(",")]
            moved = sum(memref_bytes(static_type.get(o, "")) for o in operands[:3])
            if len(operands) > 4 and constants.get(operands[4], 0) == 1:
                t.accumulating += 1
                moved += memref_bytes(static_type.get(operands[2], ""))
            a, c = dims(static_type.get(operands[0], "")), dims(static_type.get(operands[2], ""))
            flops, shape = 0, "?"
            if a and c:
                k = a[-2] if m.group(2).startswith("transpose_a") else a[-1]
                flops = 2 * k
                for d in c:
                    flops *= d
                shape = "x".join(map(str, ([1] if len(c) == 2 else []) + c + [k]))
            seconds = flops / rates["gemm_flops"] + moved / rates["bandwidth"]
            t.call_bytes += moved
            t.gemm_flops += flops
            t.gemm_s += seconds
            t.record(f"{m.group(1)} {shape}", seconds)
            continue
        m = re.search(r"call @(\w+)\(", line)
        if m and m.group(1) in bodies and m.group(1) != name:
            t.add(traffic(m.group(1), bodies, memo, rates))
    memo[name] = t
    return t


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


def compare_with_profile(t, path):
    """Estimated against measured time per kernel of an `MSDD_CUDA_PROFILE=1` run's table
    (its calls may cover several calls of the function: the estimate per call is scaled)."""
    print(f"\n| kernel (profile: {path}) | calls | measured ms per call | estimated ms per call | measured / estimated |")
    print("|---|---:|---:|---:|---:|")
    measured = estimated = 0.0
    for line in open(path):
        m = re.match(r"\s+([\d.]+)\s+[\d.]+\s+(\d+)\s+(\S.*?)\s*$", line)
        if not m:
            continue
        ms, calls, name = float(m.group(1)), int(m.group(2)), m.group(3)
        if name not in t.per_kernel:
            print(f"| {name} | {calls} | {ms / calls:.3f} | - | - |")
            continue
        n, seconds = t.per_kernel[name]
        per_call = seconds / n * 1e3
        measured += ms
        estimated += per_call * calls
        print(f"| {name} | {calls} | {ms / calls:.3f} | {per_call:.3f} | {ms / calls / per_call:.2f} |")
    print(f"| all of these | | {measured:.1f} ms | {estimated:.1f} ms | {measured / max(estimated, 1e-30):.2f} |")


def main():
    args = sys.argv[1:]
    profile = None
    if "--profile" in args:
        i = args.index("--profile")
        if i + 1 >= len(args):
            sys.exit("kernel_traffic.py: --profile needs a file")
        profile = args[i + 1]
        del args[i:i + 2]
    if len(args) < 2:
        sys.exit(__doc__)
    text = open(args[0]).read()
    bodies = function_bodies(text)
    print("| function | kernel launches | kernel MB | cuBLAS calls (beta = 1) | cuBLAS MB | peak allocated MB "
          "| flash K/V reads MB | cuBLAS TFLOP | flash TFLOP | estimated H100 ms (kernels + flash + cuBLAS) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    memo, peaks = {}, {}
    for name in args[1:]:
        if name not in bodies:
            sys.exit(f"{args[0]}: no function '{name}' (have: {', '.join(sorted(bodies))})")
        t = traffic(name, bodies, memo)
        peak = peak_allocated(name, bodies, peaks)
        print(f"| {name} | {t.launches} | {t.kernel_bytes / 1e6:.1f} | {t.calls} ({t.accumulating}) "
              f"| {t.call_bytes / 1e6:.1f} | {peak / 1e6:.1f} | {t.staged / 1e6:.1f} "
              f"| {t.gemm_flops / 1e12:.2f} | {t.flash_flops / 1e12:.2f} "
              f"| {t.estimate_s() * 1e3:.1f} ({t.kernel_s * 1e3:.1f} + {t.flash_s * 1e3:.1f} + {t.gemm_s * 1e3:.1f}) |")
    if profile:
        compare_with_profile(traffic(args[1], bodies, memo), profile)


if __name__ == "__main__":
    main()
