#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for MSDD: installs the Debian packages it needs,
# configures with CMake + Ninja (ccache when present) and builds everything into build/.
# Idempotent: a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache keys on paths relative to the checkout, so a fresh clone elsewhere reuses the cache.
export CCACHE_BASEDIR="$PWD"

PACKAGES=(
  cmake ninja-build g++ ccache pkg-config
  llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools   # MLIR/LLVM 19, lit, FileCheck
  libopenblas-dev zlib1g-dev libzstd-dev                    # BLAS for the runtime; zlib for .npz
  libspng-dev libjpeg62-turbo-dev                           # PNG/JPEG images for msdd-run train
  libgtest-dev python3-numpy                                # tests and reference scripts
  libonnx-dev libprotobuf-dev protobuf-compiler             # ONNX import (msdd-translate)
  python3-onnx libonnx-testdata                             # ONNX test models, conformance suite
)

source scripts/apt-missing.sh
apt_install_missing setup "${PACKAGES[@]}"

BUILD_DIR=${BUILD_DIR:-build}
cmake -G Ninja -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD_DIR" -j"$(nproc)"
echo "setup: built into $BUILD_DIR/ (tools in $BUILD_DIR/bin)"
