#!/usr/bin/env bash
# The main job: compile the tiny patch autoencoder (models/tiny_ae.mlir) into a training step,
# train it on the bundled photos (data/photos64/train) with msdd-run train, then reconstruct
# the held-out photos (data/photos64/test) and print PSNR and throughput, with a PNG grid.
# (The multi-scale diffusion tokenizer replaces the tiny autoencoder once it lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-out/demo}
STEPS=${STEPS:-600}
rm -rf "$OUT" && mkdir -p "$OUT"

"$BUILD_DIR/bin/msdd-compile" --train models/tiny_ae.mlir -o "$OUT/tiny_ae.msdd" \
  --lr 3e-3 --schedule cosine --warmup-steps 50 --total-steps "$STEPS"
"$BUILD_DIR/bin/msdd-run" train "$OUT/tiny_ae.msdd" --data data/photos64/train \
  --steps "$STEPS" --log-every 100 --checkpoint-every 200 --out "$OUT/run"
/usr/bin/python3 examples/tiny_ae/evaluate.py "$OUT/tiny_ae.msdd" "$OUT/run/final.safetensors" \
  data/photos64/test --grid "$OUT/reconstructions.png"
echo "demo: reconstructions in $OUT/reconstructions.png, training log in $OUT/run/log.jsonl"
