#!/bin/bash
# Builds, on the CPU machine, everything scripts/gpu-check.sh needs on a GPU machine that has
# no MLIR/LLVM and no network: msdd-run, the runtime and the libraries it loads that such a
# machine may lack, and the artifacts (CPU and CUDA) of the checks, packed into
# gpu-bundle.tar.xz (git-ignored; about 20 MiB).
#
#   bash scripts/gpu-bundle.sh [--quick]      (after scripts/setup.sh; --quick: no 50-step
#                                              paper artifacts, which take longest to build)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
B=build/bin
D=gpu-bundle
rm -rf "$D" gpu-bundle.tar.xz
mkdir -p "$D"/bin "$D"/lib "$D"/art "$D"/models
cp "$B/msdd-run" "$D/bin/"
cp build/lib/libmsdd_runtime.so "$D/lib/"
# The runtime's own dependencies, except the C/C++ runtime every Linux machine has.
for lib in $(ldd build/lib/libmsdd_runtime.so | awk '/=>/ {print $3}'); do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libstdc++.so*|libgcc_s.so*|libpthread*|libdl*) ;;
    *) cp -L "$lib" "$D/lib/" ;;
  esac
done

# MODE: f32, tf32, tf32x3 or bf16 (all but f32 with flash attention), or tf32-unfused or
# bf16-unfused (--flash-attention=false), or bf16-q64 (the flash kernel in 4-warp blocks of
# 64 query rows, bf16's default before 128).
cuda_flags() { # MODE
  local base=${1%-unfused}
  echo "--target cuda --math-mode ${base%-q64}"
  [[ "$1" == *-unfused ]] && echo "--flash-attention=false"
  [[ "$1" == *-q64 ]] && echo "--flash-query-tile=64"
  return 0
}

compile() { # CONFIG NAME TARGET MODE (cpu: "" for f32, or bf16: the CUDA bf16 mode's rounding)
  local extra=()
  [[ "$3" == cuda ]] && extra=($(cuda_flags "$4"))
  [[ "$3" == cpu && -n "$4" ]] && extra=(--math-mode "$4")
  local label=$3; [[ -n "$4" ]] && label="$3-$4"
  echo "  $2 $label"
  "$B/msdd-compile" "$1" "${extra[@]}" -o "$D/art/$2_$label.msdd"
}

cp test/e2e/Inputs/micro_tokenizer.json "$D/models/micro.json"
cp models/tiny.json models/paper.json "$D/models/"
echo "compiling the numerics artifacts"
for name in micro tiny; do
  compile "$D/models/$name.json" "$name" cpu ""
  compile "$D/models/$name.json" "$name" cpu bf16
  for mode in f32 tf32 tf32x3 bf16 bf16-unfused; do compile "$D/models/$name.json" "$name" cuda "$mode"; done
done
echo "compiling the training artifacts"
"$B/msdd-compile" "$D/models/tiny.json" --train -o "$D/art/tiny_train_cpu.msdd"
for mode in f32 tf32 bf16; do
  "$B/msdd-compile" "$D/models/tiny.json" --train --target cuda --math-mode $mode -o "$D/art/tiny_train_cuda-$mode.msdd"
done
"$B/msdd-compile" "$D/models/tiny.json" --distill -o "$D/art/tiny_distill_cpu.msdd"
"$B/msdd-compile" "$D/models/tiny.json" --distill --target cuda --math-mode f32 -o "$D/art/tiny_distill_cuda-f32.msdd"
echo "compiling the paper-size decoders"
/usr/bin/python3 - "$D/models/paper.json" "$D/models" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["name"] = "paper_1step"
config["sampler"]["steps"] = 1
json.dump(config, open(sys.argv[2] + "/paper_1step.json", "w"), indent=2)
# Batch 8: the flash-attention kernel's images against the unfused attention's.
config["name"] = "paper_1step_b8"
config["train"]["batch_size"] = 8
json.dump(config, open(sys.argv[2] + "/paper_1step_b8.json", "w"), indent=2)
PY
for mode in tf32 tf32-unfused bf16 bf16-unfused; do
  compile "$D/models/paper_1step_b8.json" paper_1step_b8 cuda "$mode"
done
steps_list="1"
[[ $quick == 0 ]] && steps_list="1 50"
for steps in $steps_list; do
  config="$D/models/paper.json"; [[ $steps == 1 ]] && config="$D/models/paper_1step.json"
  modes="tf32 tf32-unfused tf32x3 bf16 bf16-q64 bf16-unfused"
  [[ $steps == 50 ]] && modes="tf32 bf16"
  for mode in $modes; do
    echo "  paper ${steps}-step cuda-$mode"
    "$B/msdd-compile" "$config" $(cuda_flags "$mode") -o "$D/art/paper_${steps}step_cuda-$mode.msdd"
  done
done
tar -cJf gpu-bundle.tar.xz "$D"
rm -rf "$D"
ls -la gpu-bundle.tar.xz
