#!/usr/bin/env bash
# The main job: build the tiny multi-scale diffusion tokenizer from its config
# (models/tiny.json: 32x32 images, 3 scales 8 -> 16 -> 32, 16 latent tokens x 8 channels),
# train it (stage 1) on the bundled photos (data/photos64/train) with msdd-run train,
# distill its decoder to one step per scale (stage 2), then reconstruct the held-out photos
# (data/photos64/test) with both samplers and print quality and speed next to the classical
# baseline that keeps as many numbers, with a PNG grid of reconstructions.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-out/demo}
STEPS=${STEPS:-12000}
DISTILL_STEPS=${DISTILL_STEPS:-2000}
rm -rf "$OUT" && mkdir -p "$OUT"

"$BUILD_DIR/bin/msdd-compile" models/tiny.json --train -o "$OUT/tiny.msdd" \
  --schedule cosine --warmup-steps 100 --total-steps "$STEPS"
"$BUILD_DIR/bin/msdd-run" train "$OUT/tiny.msdd" --data data/photos64/train \
  --steps "$STEPS" --log-every 500 --checkpoint-every 1000 --out "$OUT/run"
"$BUILD_DIR/bin/msdd-compile" models/tiny.json --distill -o "$OUT/tiny_distill.msdd" \
  --lr 5e-4 --schedule cosine --warmup-steps 100 --total-steps "$DISTILL_STEPS"
"$BUILD_DIR/bin/msdd-run" train "$OUT/tiny_distill.msdd" --init "$OUT/run/final.safetensors" \
  --data data/photos64/train --steps "$DISTILL_STEPS" --log-every 500 --out "$OUT/distill"
"$BUILD_DIR/bin/msdd-run" eval "$OUT/tiny.msdd" --weights "$OUT/run/final.safetensors" \
  --data data/photos64/test --json "$OUT/eval.json" > /dev/null
"$BUILD_DIR/bin/msdd-run" eval "$OUT/tiny_distill.msdd" --weights "$OUT/distill/final.safetensors" \
  --data data/photos64/test --json "$OUT/eval_distilled.json" > /dev/null
/usr/bin/python3 examples/tokenizer/baseline.py data/photos64/test --size 32 --numbers 128 \
  --json "$OUT/baseline.json" > /dev/null
"$BUILD_DIR/bin/msdd-run" reconstruct "$OUT/tiny.msdd" --weights "$OUT/run/final.safetensors" \
  --model "$OUT/tiny_distill.msdd:$OUT/distill/final.safetensors" \
  --data data/photos64/test --count 8 -o "$OUT/reconstructions.png" > /dev/null
echo
/usr/bin/python3 examples/tokenizer/table.py "$OUT/eval.json=tiny, 4 steps per scale" \
  "$OUT/eval_distilled.json=tiny distilled, 1 step per scale" --baseline "$OUT/baseline.json" \
  --title "tiny tokenizer, $STEPS steps + $DISTILL_STEPS distillation steps, 64 held-out 32x32 crops"
echo
echo "demo: reconstructions (original | 4 steps per scale | distilled) in $OUT/reconstructions.png," \
  "training logs in $OUT/run/log.jsonl and $OUT/distill/log.jsonl"
