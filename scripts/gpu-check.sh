#!/bin/bash
# The GPU checks (docs/cuda.md): CUDA artifacts against the CPU backend and a float64 PyTorch
# reference, and the paper-size decoder's throughput next to PyTorch on the same GPU. Runs on
# a machine with an NVIDIA driver and PyTorch, without MLIR/LLVM or network, from a source
# tree holding gpu-bundle.tar.xz (made by scripts/gpu-bundle.sh on the CPU machine). At most
# about 5 minutes.
#
#   bash scripts/gpu-check.sh [RESULTS.json] [gpu_check.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-check.json}
shift || true
if [[ ! -d gpu-bundle ]]; then
  [[ -f gpu-bundle.tar.xz ]] || { echo "gpu-check: gpu-bundle.tar.xz not found (run scripts/gpu-bundle.sh on the CPU machine)" >&2; exit 1; }
  tar -xJf gpu-bundle.tar.xz
fi
export LD_LIBRARY_PATH="$PWD/gpu-bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export MSDD_RUNTIME_LIBRARY="$PWD/gpu-bundle/lib/libmsdd_runtime.so"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
PYTHONUNBUFFERED=1 python3 scripts/gpu_check.py --bundle gpu-bundle --json "$out" "$@"
