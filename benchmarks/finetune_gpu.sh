#!/usr/bin/env bash
# Fine-tunes of one renderer that differ in their training options, side by side on one GPU, in one
# call of the run tool (kind nvidia-h200, 10 minutes at most): every variant starts from the same
# renderer (INIT, default the shipped small one) on the same bank, runs at once with the others for
# the same number of steps, is evaluated on the bank's held-out split (and on its own --data bank's, if
# it names one: eval-own.json) and shipped (float16), so that
# it can be judged on real inputs back on the CPU machine (benchmarks/real.py --model DIR).
# Carries (git-ignored): .devcarry/BANK (`posevideo pack-frames`, see benchmarks/real_person_gpu.sh
# and docs/default-models.md) and .whl (pose-format's wheel, missing on the GPU machine).
# Usage: bash benchmarks/finetune_gpu.sh SECONDS BANK STEPS 'NAME=FLAGS' ['NAME=FLAGS' ...]
#   bash benchmarks/finetune_gpu.sh 420 bank_sign2 6000 'ctrl=' 'fm=--feature-matching 10'
#   (SECONDS: the training budget of each, SIGTERM saves and stops; LR, BATCH and INIT as the options)
#   PY=.venv/bin/python OUT=/tmp/x bash benchmarks/finetune_gpu.sh 120 bank_sign2 3 'a=' 'b=--feature-matching 10'
#   (a few steps on a CPU machine: checks the script itself). What comes back: one tar per variant.
set -uo pipefail
export PYTHONUNBUFFERED=1
source benchmarks/carried_wheels.sh "import pose_format"
BUDGET=$1; BANK=$2; STEPS=$3; shift 3
R=/tmp/runs
mkdir -p $R
for variant in "$@"; do   # nothing of an earlier call's variant of that name (a warm machine keeps /tmp) may pass for this one's
    name=${variant%%=*}; rm -rf "${R:?}/$name" "$R/back/$name" "$R/$name.log" "$R/$name.exit"
done
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
PV=("${PY:-python3}" -m posevideo)

names=()
declare -A flags_of
start=$(date +%s)
for variant in "$@"; do
    name=${variant%%=*}; flags=${variant#*=}; names+=("$name"); flags_of[$name]=$flags
    # shellcheck disable=SC2086  # the flags are words
    (timeout -s TERM "$BUDGET" "${PV[@]}" train renderer --data ".devcarry/$BANK" --init-from "${INIT:-shipped}" \
        --steps "$STEPS" --batch "${BATCH:-32}" --out "$R/$name" --image-every 1000 --checkpoint-every 1000 \
        --log-every 250 ${LR:+--lr "$LR"} $flags > "$R/$name.log" 2>&1
     code=$?; echo $code > "$R/$name.exit"; echo "$name: exit $code after $(( $(date +%s) - start )) s") &
done
wait
echo "training done in $(( $(date +%s) - start )) s"

failed=0
for name in "${names[@]}"; do
    mkdir -p $R/back/$name
    code=$(cat "$R/$name.exit")
    if [ "$code" != 0 ] && [ "$code" != 124 ]; then   # 124: the budget's SIGTERM, which saves and stops
        failed=$(( failed + 1 ))
        echo "$name: training failed (exit $code), not evaluated: $(tr '\r' '\n' < $R/$name.log | grep -v '%|' | tail -n 1)"
        cp $R/$name.log $R/back/$name/; (cd $R/back && tar cf $OUT/$name.tar $name)
        continue
    fi
    "${PV[@]}" evaluate renderer --model $R/$name --data .devcarry/$BANK --split test --json $R/back/$name/eval.json \
        --sheet $R/back/$name/eval-sheet.jpg --batch 64 2>&1 | tr '\r' '\n' | grep -v '%|' | tail -n 4
    own=$(sed -nE 's/.*--data[ =]([^ ]+).*/\1/p' <<< "${flags_of[$name]}")
    if [ -n "$own" ] && [ "$own" != ".devcarry/$BANK" ]; then  # trained on another bank: its own held-out frames too
        "${PV[@]}" evaluate renderer --model $R/$name --data "$own" --split test --json $R/back/$name/eval-own.json \
            --batch 64 2>&1 | tr '\r' '\n' | grep -v '%|' | tail -n 2
    fi
    "${PV[@]}" ship-renderer --model $R/$name --out $R/back/$name/model
    cp "$(ls -d $R/$name/progress/* | tail -n 1)" $R/back/$name/progress.jpg 2>/dev/null
    cp $R/$name/metrics.jsonl $R/$name.log $R/back/$name/
    echo "$name: $(tail -n 1 $R/$name/metrics.jsonl)"
    (cd $R/back && tar cf $OUT/$name.tar $name)
done
ls -la $OUT
[ $failed = 0 ] || { echo "$failed of ${#names[@]} variants failed"; exit 1; }
