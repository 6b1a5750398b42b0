#!/usr/bin/env bash
# Builds the ONNX importer's libFuzzer target with clang-19 (-fsanitize=fuzzer,address,
# undefined) into build/fuzz/onnx_import_fuzzer. The importer's sources are compiled here;
# the msdd dialect library, libMLIR and the ONNX protobuf library come from the main build
# (configure and build it first: bash scripts/setup.sh). Needs clang-19 and
# libclang-rt-19-dev.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD_DIR:-build}
OUT=$BUILD/fuzz
mkdir -p "$OUT"
ninja -C "$BUILD" MSDDDialect >/dev/null
CXX=${CXX:-clang++-19}
FLAGS=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -DONNX_ML=1 -DONNX_NAMESPACE=onnx
       -I include -I dialects/msdd -I "$BUILD/dialects/msdd" -I /usr/lib/llvm-19/include)
objs=()
for src in lib/Frontend/ONNX/*.cpp test/fuzz/onnx_import_fuzzer.cpp; do
  obj=$OUT/$(basename "$src" .cpp).o
  if [[ ! -f $obj || $src -nt $obj || lib/Frontend/ONNX/Importer.h -nt $obj ]]; then
    echo "fuzz: compiling $src"
    "$CXX" "${FLAGS[@]}" -c "$src" -o "$obj"
  fi
  objs+=("$obj")
done
"$CXX" -fsanitize=fuzzer,address,undefined "${objs[@]}" "$BUILD/dialects/msdd/libMSDDDialect.a" \
  -L/usr/lib/llvm-19/lib -Wl,-rpath,/usr/lib/llvm-19/lib -lMLIR -lLLVM -lonnx_proto -lprotobuf \
  -o "$OUT/onnx_import_fuzzer"
echo "fuzz: built $OUT/onnx_import_fuzzer"
