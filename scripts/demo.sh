#!/usr/bin/env bash
# The main job, for now: compile the example transformer block to a native artifact, run it
# on seeded inputs with msdd-run, check it against the float64 numpy reference and print the
# run time. (The tokenizer's train/reconstruct job replaces this once it lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-out/demo}
mkdir -p "$OUT"
EX=examples/transformer_block

"$BUILD_DIR/bin/msdd-compile" "$EX/block.mlir" -o "$OUT/block.msdd"
/usr/bin/python3 "$EX/reference.py" --write-inputs "$OUT"
"$BUILD_DIR/bin/msdd-run" infer "$OUT/block.msdd" --weights "$OUT/weights.safetensors" \
  --inputs "$OUT/inputs.npz" --outputs "$OUT/outputs.npz" --json
/usr/bin/python3 "$EX/reference.py" --check "$OUT"
