#!/usr/bin/env bash
# Installs the peers that the reference-model tests compare against (see /work/shared/DESIGN.md,
# "Peers"): PyTorch 1.13 CPU from Debian (python3-torch, with libopenblas0-pthread) and ONNX
# Runtime CPU from npm (onnxruntime-node 1.30.0) into third_party/ort/ (git-ignored).
# Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(python3-torch libopenblas0-pthread python3-onnx)
# node and npm (Debian's nodejs and npm) unless a node is already on PATH (e.g. NodeSource's).
command -v node >/dev/null && command -v npm >/dev/null || PACKAGES+=(nodejs npm)
source scripts/apt-missing.sh
apt_install_missing install-peers "${PACKAGES[@]}"

ORT_VERSION=1.30.0
ORT_DIR=third_party/ort
if ! node -e "const v=require('./$ORT_DIR/node_modules/onnxruntime-node/package.json').version; process.exit(v==='$ORT_VERSION'?0:1)" 2>/dev/null; then
  echo "install-peers: installing onnxruntime-node@$ORT_VERSION into $ORT_DIR/"
  mkdir -p "$ORT_DIR"
  # The package's install script downloads CUDA/TensorRT binaries; skip it (the CPU binaries
  # ship inside the package). A plain install fails offline.
  (cd "$ORT_DIR" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --silent \
      --prefix . "onnxruntime-node@$ORT_VERSION")
fi
node -e "require('./$ORT_DIR/node_modules/onnxruntime-node')" \
  || { echo "install-peers: onnxruntime-node does not load from $ORT_DIR" >&2; exit 1; }
echo "install-peers: torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), onnxruntime-node $ORT_VERSION"
