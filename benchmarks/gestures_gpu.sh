#!/bin/bash
# The gesture GPU job, one call: the training speed table, then three models trained side by side on
# one GPU for the same fixed time budget (the paper's s2g with its GAN loss, s2g with L1 only, and the
# `fast` preset that ships), each evaluated against the baselines on the held-out test split.
#   usage: OUT=dir bash benchmarks/gestures_gpu.sh DATA MINUTES
# DATA needs only <speaker>/gesture_clips.npz (the gesture cache that `train gestures` writes).
set -u
DATA=$1; MINUTES=$2; OUT=${OUT:-/tmp/gestures-out}; SPEAKER=${SPEAKER:-synth0}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" /tmp/gruns
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__)"
python3 benchmarks/gestures.py train --device cuda --presets fast s2g --batches 32 128 2>&1 | tee "$OUT/bench.txt"
train() {  # name preset lambda [extra]
  python3 -m posevideo train gestures --data "$DATA" --speaker "$SPEAKER" --out /tmp/gruns/$1 --preset $2 \
    --lambda-gan $3 --steps 1000000 --batch 32 --lr 1e-4 --max-minutes "$MINUTES" --log-every 1000 \
    --checkpoint-every 1000000 "${@:4}" > /tmp/gruns/$1.log 2>&1
}
train s2g s2g 1 & train s2g_l1 s2g 0 & train fast fast 1 --export "$OUT/model" &
wait
for r in s2g s2g_l1 fast; do
  tail -c 400 /tmp/gruns/$r.log | tr '\r' '\n' | tail -2
  cp /tmp/gruns/$r/metrics.jsonl "$OUT/${r}_metrics.jsonl" 2>/dev/null
  figure=(); [ $r = fast ] && figure=(--figure "$OUT/fast.png")
  echo "== $r"; python3 -m posevideo evaluate gestures --model /tmp/gruns/$r --data "$DATA" --json "$OUT/$r.json" "${figure[@]}" --device cuda
done
