#!/usr/bin/env bash
# Trains a variant of models/tiny.json on the bundled photos and scores it on the held-out
# ones: the sweeps of docs/results.md. On one thread, like those runs.
#
#   examples/tokenizer/tiny_variant.sh OUT STEPS 'PYTHON EDIT OF c' [SEED]
#
#   e.g. examples/tokenizer/tiny_variant.sh /tmp/ln10 12000 'c["train"]["logit_normal_mean"] = 1.0'
#
# c is the parsed config; the edit runs with exec(). Writes OUT/cfg.json, OUT/t.msdd (cosine
# schedule over STEPS, 100 warm-up steps), OUT/run (the training run), OUT/eval.json, and
# prints one line: OUT, PSNR, SSIM.
set -euo pipefail
if [[ $# -lt 3 || $# -gt 4 ]]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
OUT=$1 STEPS=$2 EDIT=$3 SEED=${4:-0}
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN=${BUILD_DIR:-$ROOT/build}/bin
mkdir -p "$OUT"
/usr/bin/python3 - "$EDIT" "$ROOT/models/tiny.json" "$OUT/cfg.json" <<'PY'
import json, sys
edit, src, dst = sys.argv[1:]
c = json.load(open(src))
exec(edit)
json.dump(c, open(dst, "w"), indent=1)
PY
export MSDD_NUM_THREADS=1 MSDD_COMPILE_THREADS=1
"$BIN/msdd-compile" "$OUT/cfg.json" --train -o "$OUT/t.msdd" --schedule cosine \
    --warmup-steps 100 --total-steps "$STEPS" > "$OUT/compile.log" 2>&1
"$BIN/msdd-run" train "$OUT/t.msdd" --data "$ROOT/data/photos64/train" --steps "$STEPS" \
    --seed "$SEED" --log-every 1000 --checkpoint-every 4000 --out "$OUT/run" > "$OUT/train.log" 2>&1
"$BIN/msdd-run" eval "$OUT/t.msdd" --weights "$OUT/run/final.safetensors" \
    --data "$ROOT/data/photos64/test" --json "$OUT/eval.json" > "$OUT/eval.log" 2>&1
/usr/bin/python3 -c "import json, sys; r = json.load(open(sys.argv[1])); print(sys.argv[2], 'PSNR %.2f SSIM %.3f' % (r['psnr'], r['ssim']))" "$OUT/eval.json" "$OUT"
