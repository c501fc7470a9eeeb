#!/usr/bin/env bash
# The one prepared GPU check, run the first time a session is lent a GPU machine (device tool).
# It must end well inside 8 minutes; every step has its own time limit and is reported, never fatal.
#
#   --device cuda training and sampling of each torch family (glyphnet, glyph-cnn) and Keras family
#   (vae, ae, random-cnn; skipped with the reason when TensorFlow is not on the device image),
#   CPU/GPU sample equality (bytes, or the largest difference), the filter visualiser on cuda,
#   --workers on nccl (one worker per GPU), and benchmarks/bench_devices.py (the device benchmarks).
#
# The device image has PyTorch but reaches no package registry. zoo's own pure-Python needs
# (pluggy, click, safetensors, huggingface_hub, pillow) are usually there; what is not, and the
# build backend for the editable install, travel as wheels. Prepare here, once:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux2014_x86_64 -d .whl hatchling pathspec trove-classifiers pluggy
# then call the device tool's run with carry [".whl"], timeout_s 540 and the command
#   bash benchmarks/device_check.sh
# Results land in $OUT (summary.txt, one log per step); copy the numbers into docs/benchmarks.md
# ("## GPU check") with the device's name and the date.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/zoo-device-check}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2
PY=${PY:-python3}
# DEVICE=cpu rehearses the script on a machine without a GPU (the nccl step then runs on gloo).
DEVICE=${DEVICE:-cuda}
RUNS=$(mktemp -d)

say() { echo "$*" | tee -a "$SUMMARY"; }
# step NAME LIMIT_S COMMAND...: run with a time limit, log to $OUT/NAME.log, one summary line.
step() {
  local name=$1 limit=$2; shift 2
  local t0 t1 rc
  t0=$(date +%s.%N)
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  say "$(printf '%-34s rc=%-3s %6.1f s  %s' "$name" "$rc" "$(echo "$t1 - $t0" | bc)" "$(tail -n 1 "$OUT/$name.log" | cut -c1-150)")"
  return $rc
}

say "== zoo device check $(date -u +%FT%TZ)"
nvidia-smi -L 2>&1 | tee -a "$SUMMARY"
$PY - <<'PY' 2>&1 | tee -a "$SUMMARY"
import platform, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
try:
    import tensorflow as tf
    print("tensorflow", tf.__version__, "GPUs", len(tf.config.list_physical_devices("GPU")))
except ImportError:
    print("tensorflow: not installed on this image (the Keras families are skipped)")
PY

# Install zoo (editable, no dependencies: the image's own torch stays).
if [ -d .whl ]; then
  step install-wheels 120 $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
if ! $PY -c "import zoo_cli" 2>/dev/null; then
  step install-zoo 180 $PY -m pip install -q --no-deps --no-build-isolation --no-index -e . || {
    say "zoo did not install; see $OUT/install-zoo.log"; exit 1; }
fi
ZOO=("$PY" -m zoo_cli.main)
step zoo-list 60 "${ZOO[@]}" list

# Torch families: train on cuda, resume, sample, and compare samples with the CPU's.
step train-glyphnet-cuda 120 "${ZOO[@]}" train glyphnet -o "$RUNS/g" --set image_size=32 --steps 200 --device "$DEVICE"
step resume-glyphnet-cuda 90 "${ZOO[@]}" train "$RUNS/g" --resume --steps 300 --device "$DEVICE"
step train-glyph-cnn-cuda 120 "${ZOO[@]}" train glyph-cnn -o "$RUNS/c" --steps 200 --device "$DEVICE"
step visualize-cuda 90 "${ZOO[@]}" visualize glyph-cnn -l conv_2 --device "$DEVICE" -o "$OUT/visualize-cuda.png"
for name in glyphnet-64 glyphnet-64-rgb glyphnet-alphabet-26 glyph-cnn; do
  step "sample-$name-cpu" 60 "${ZOO[@]}" sample "$name" -n 64 --seed 0 --device cpu -o "$OUT/$name-cpu.npy"
  step "sample-$name-cuda" 60 "${ZOO[@]}" sample "$name" -n 64 --seed 0 --device "$DEVICE" -o "$OUT/$name-cuda.npy"
  $PY - "$OUT/$name-cpu.npy" "$OUT/$name-cuda.npy" "$name" <<'PY' 2>&1 | tee -a "$SUMMARY"
import sys
import numpy as np
try:
    a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
except OSError as exc:
    print(f"equality {sys.argv[3]}: no samples ({exc})")
else:
    diff = np.abs(a.astype(int) - b.astype(int))
    print(f"equality {sys.argv[3]}: bytes equal {np.array_equal(a, b)}, max |cpu-cuda| {diff.max()} grey levels, "
          f"{(diff > 0).mean():.4%} of values differ")
PY
done

# Data parallel on nccl: one worker per GPU (a single-GPU machine runs one nccl worker).
NGPU=$($PY -c "import torch; print(max(torch.cuda.device_count(), 1))")
step "workers-$NGPU-nccl" 180 "${ZOO[@]}" train glyphnet -o "$RUNS/w" --set image_size=32 --steps 100 \
  --device "$DEVICE" --workers "$NGPU"

# Keras families, when TensorFlow is there.
if $PY -c "import tensorflow" 2>/dev/null; then
  step train-vae-cuda 150 "${ZOO[@]}" train vae -o "$RUNS/v" --steps 100 --device "$DEVICE"
  for name in vae-digits-28 ae-glyphs-28 random-cnn-256; do
    step "sample-$name-cuda" 90 "${ZOO[@]}" sample "$name" -n 16 --device "$DEVICE" -o "$OUT/$name-cuda.png"
  done
else
  say "keras families: skipped (no tensorflow on the device image; its wheel is too large to carry)"
fi

# The device benchmarks (sampling and training speed per device, sample equality).
step bench-devices 240 $PY benchmarks/bench_devices.py --steps 10 --no-write
cp "$OUT/bench-devices.log" "$OUT/bench_devices.txt" 2>/dev/null
say "== done $(date -u +%FT%TZ)"
