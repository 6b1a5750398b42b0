#!/usr/bin/python3
"""Assembles every PTX kernel of a folder with ptxas; kernels that differ only in their names
(the same loop nest in every layer) are assembled once.

    assemble_kernels.py PTXAS DIR ARCH     prints "<n> kernels, <m> distinct: all accepted"
"""
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile


def main():
    ptxas, folder, arch = sys.argv[1:4]
    groups = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".ptx"):
            text = open(os.path.join(folder, name)).read()
            # Symbols of outlined kernels carry their function's name and a counter.
            body = re.sub(r"[A-Za-z_$][A-Za-z0-9_$]*_kernel(_[0-9]+)*|__msdd[A-Za-z0-9_$]*", "K", text)
            groups.setdefault(body, name)

    def assemble(name):
        with tempfile.NamedTemporaryFile(suffix=".cubin") as out:
            r = subprocess.run([ptxas, f"-arch={arch}", os.path.join(folder, name), "-o", out.name],
                               capture_output=True, text=True)
        return name, r.returncode, r.stderr.strip()

    failed = []
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        for name, code, err in pool.map(assemble, groups.values()):
            if code:
                failed.append(f"{name}: {err.splitlines()[0] if err else 'exit ' + str(code)}")
    total = sum(1 for n in os.listdir(folder) if n.endswith(".ptx"))
    if failed:
        print(f"{total} kernels, {len(groups)} distinct: {len(failed)} REJECTED")
        print("\n".join(failed[:10]))
        sys.exit(1)
    print(f"{total} kernels, {len(groups)} distinct: all accepted")


if __name__ == "__main__":
    main()
