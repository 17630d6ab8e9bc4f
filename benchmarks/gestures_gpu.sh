#!/bin/bash
# The gesture GPU job, one call: the training speed table, then four models trained side by side on
# one GPU for the same fixed time budget (s2g = the paper's model, and fast = the one that ships,
# each with the paper's L1 + GAN loss and with L1 alone), each evaluated against the baselines on
# the held-out test split. Everything lands in $OUT/results.tgz (runs' metrics, results JSON,
# figures, the fast models exported in float16).
#   usage: OUT=dir bash benchmarks/gestures_gpu.sh DATA MINUTES
# DATA needs only <speaker>/gesture_clips.npz (the gesture cache that `train gestures` writes).
set -u
DATA=$1; MINUTES=$2; OUT=${OUT:-/tmp/gestures-out}; SPEAKER=${SPEAKER:-synth0}
R=/tmp/gresults; RUNS=/tmp/gruns
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" $R $RUNS
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__)"
PYTHONPATH=. python3 benchmarks/gestures.py train --device cuda --presets fast s2g --batches 32 128 2>&1 | tee "$OUT/bench.txt"
train() {  # name preset lambda [extra options]
  python3 -m posevideo train gestures --data "$DATA" --speaker "$SPEAKER" --out $RUNS/$1 --preset $2 \
    --lambda-gan $3 --steps 1000000 --batch 32 --lr 1e-4 --max-minutes "$MINUTES" --log-every 1000 \
    --checkpoint-every 1000000 --export $R/model_$1 "${@:4}" > $RUNS/$1.log 2>&1
}
train s2g s2g 1 & train s2g_l1 s2g 0 & train fast fast 1 & train fast_l1 fast 0 &
wait
for r in s2g s2g_l1 fast fast_l1; do
  echo "== $r"; tail -c 300 $RUNS/$r.log | tr '\r' '\n' | tail -2; tail -n 2 $RUNS/$r/metrics.jsonl
  cp $RUNS/$r/metrics.jsonl $R/${r}_metrics.jsonl
  python3 -m posevideo evaluate gestures --model $RUNS/$r --data "$DATA" --json $R/$r.json --figure $R/$r.png --device cuda
done
rm -rf $R/model_s2g $R/model_s2g_l1  # 14 MB each in float16: not shipped, not needed back
tar czf "$OUT/results.tgz" -C $R .
