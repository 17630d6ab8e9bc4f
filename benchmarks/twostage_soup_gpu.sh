#!/usr/bin/env bash
# The page's two-stage 256 model (`medium` at 128 under a 16x1 Enhancer, issue 13 §3) on the shipped
# soup's recipe, in one call of the run tool (10 minutes at most): a base trained alone on BANK, then
# fine-tunes of it side by side (benchmarks/finetune_gpu.sh with INIT = the base), then the uniform soup of
# the base and its fine-tunes (benchmarks/soup.py). The base and the soup are evaluated on BANK's held-out
# split and come back shipped (float16), each model file cut into 15 MB parts (the run tool returns 8
# files of 16 MiB at most): `cat model.part-* > model.safetensors` puts one together again.
# Carries (git-ignored): .devcarry/BANK and the lanes' --data banks (`pack-frames`, BENCHMARKS.md
# "Souping CPU fine-tunes of the shipped soup" for their recipe), .whl (pose-format's wheel).
# Usage: bash benchmarks/twostage_soup_gpu.sh BASE_STEPS BASE_SECONDS LANE_STEPS LANE_SECONDS BANK 'NAME=FLAGS' ...
#   bash benchmarks/twostage_soup_gpu.sh 12000 280 4000 180 own 'a=--seed 1' 'b=--seed 2 --data .devcarry/allp2'
#   SEED=1 bash benchmarks/twostage_soup_gpu.sh ...                        (the base's seed; 0 unless told)
#   BASE_OPTS="--jitter 0 --pair-l1 3 --pair-energy 10" bash benchmarks/twostage_soup_gpu.sh ... 'a=--seed 1 --jitter 0 --pair-l1 3 --pair-energy 10'
#       (more options for the base; each lane has its own after NAME=; the pair terms train on pairs: an even BATCH)
#   PY=.venv/bin/python OUT=/tmp/x bash benchmarks/twostage_soup_gpu.sh 3 120 2 120 own 'a=' 'b=--seed 1'   (a CPU check)
set -uo pipefail
export PYTHONUNBUFFERED=1
source benchmarks/carried_wheels.sh "import pose_format"
BASE_STEPS=$1; BASE_SECONDS=$2; LANE_STEPS=$3; LANE_SECONDS=$4; BANK=$5; shift 5
PV=("${PY:-python3}" -m posevideo)
R=/tmp/twostage; rm -rf $R; mkdir -p $R/back
# The soup's recipe (docs/default-models.md): crop L1 on hands and face, lambda 1,000, the weight average, the
# shipped body profile (so that real inputs are retargeted as onto the shipped renderer, and the soup's inputs agree).
RECIPE="--hand-l1 5 --face-l1 1 --l1-weight 1000 --ema 0.999 --profile-from shipped"
start=$(date +%s)
# shellcheck disable=SC2086  # RECIPE and BASE_OPTS are words
timeout -s TERM "$BASE_SECONDS" "${PV[@]}" train renderer --data ".devcarry/$BANK" --preset medium --stages 2 \
    --enhancer-ngf 16 --enhancer-blocks 1 --steps "$BASE_STEPS" --batch "${BATCH:-32}" --no-compile --seed "${SEED:-0}" $RECIPE ${BASE_OPTS:-} \
    --out $R/base --image-every 2000 --checkpoint-every 2000 --log-every 500 > $R/base.log 2>&1
echo "base: exit $? after $(( $(date +%s) - start )) s: $(tail -n 1 $R/base/metrics.jsonl)"
"${PV[@]}" ship-renderer --model $R/base --out $R/back/base || exit 1

lanes=()
for lane in "$@"; do lanes+=("${lane%%=*}=${lane#*=} $RECIPE"); done
mkdir -p $R/lanes
names="base soup"
if INIT=$R/back/base LR=${LR:-1e-4} OUT=$R/lanes bash benchmarks/finetune_gpu.sh "$LANE_SECONDS" "$BANK" "$LANE_STEPS" "${lanes[@]}"; then
    ingredients=($R/back/base)
    for lane in "$@"; do ingredients+=(/tmp/runs/back/${lane%%=*}/model); done
    "${PY:-python3}" benchmarks/soup.py $R/back/soup "${ingredients[@]}" --stats-from $R/back/base \
        --source "two-stage page model: the uniform soup of a base and its fine-tunes (benchmarks/twostage_soup_gpu.sh)" || exit 1
else
    echo "a fine-tune failed (above): no soup; the base comes back alone"; names=base
fi

M=$R/meta; mkdir -p $M
for name in $names; do
    "${PV[@]}" evaluate renderer --model $R/back/$name --data ".devcarry/$BANK" --split test --json "$M/eval-$name.json" \
        --batch 64 2>&1 | tr '\r' '\n' | grep -v '%|' | tail -n 12
    cp $R/back/$name/checkpoint.json "$M/$name.checkpoint.json"
    split -b 15M $R/back/$name/model.safetensors "$OUT/$name.model.part-"
done
cp "$(ls -d $R/base/progress/* | tail -n 1)" "$M/base-progress.jpg" 2>/dev/null
cp $R/base/metrics.jsonl $M/base-metrics.jsonl; cp $R/base.log $M/
(cd /tmp/runs && tar cf "$M/lanes.tar" --exclude=model back ./*.log)   # every lane's eval, sheet, metrics and log
(cd $M && tar cf "$OUT/meta.tar" .)                                     # six files in all: the run tool returns eight
tail -q -n 1 $R/base/metrics.jsonl
ls -la "$OUT"
