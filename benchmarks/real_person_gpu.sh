#!/usr/bin/env bash
# Renderers for real people, in one call of the run tool (kind nvidia-h200, 10 minutes at most):
# three trainings share the one GPU at once, then each is evaluated on its held-out frames, and the
# real poses (../shared/real/*.pose and the real drivers' extracted poses) are rendered with them so
# that the pose-consistency metric (MediaPipe, which the GPU machine lacks) runs back on the CPU.
#   1. `esn` on the Obama weekly address (issue 12 §4: the first real person), ~6 minutes;
#   2. `small` on the same person (what a browser runs);
#   3. `small` on the synthetic speaker of seed 0 with the new crop margins (the shipped default,
#      retrained without black borders);
#   4. (RUNS=sign_small) `small` on the same speaker's speech and signing (`synth-speaker --signing`,
#      .devcarry/bank_sign), for other people's sign-language poses;
#   5. (RUNS=s20_small) `small` on liveportrait_s20.mp4 (.devcarry/bank_s20): a real person whose hands
#      are in view.
# Carries (all git-ignored): .devcarry/bank_obama and .devcarry/bank660 (`posevideo pack-frames`),
# .devcarry/poses (the .pose files to render) and .whl (pose-format's wheel, missing there). Made on
# the CPU machine with
#   posevideo prepare ../shared/real/obama_weekly_address.mp4 --speaker obama --data DATA_OBAMA --size 256
#   posevideo pack-frames --data DATA_OBAMA --speaker obama --out .devcarry/bank_obama --split train --split test
#   posevideo synth-speaker --seed 0 --seconds 660 --fps 15 --out S660
#   posevideo prepare S660/synthetic_0.mp4 --speaker synthetic_0 --data DATA660 --poses-from S660
#   posevideo pack-frames --data DATA660 --speaker synthetic_0 --out .devcarry/bank660 --split train --split test
#   python3 -m pip download --no-deps --only-binary=:all: -d .whl pose-format==0.15.0
# Usage: bash benchmarks/real_person_gpu.sh SECONDS   (training budget per run; SIGTERM saves and stops)
#        INIT=shipped starts the `small` runs from the shipped renderer (`esn` always starts from scratch);
#        POSES=DIR renders the .pose files of DIR with obama_esn (default .devcarry/poses)
#        RUNS='obama_esn synth_small' ESN_STEPS=8000 SYNTH_STEPS=12000 bash benchmarks/real_person_gpu.sh 300
#        RUNS=sign_small INIT=shipped SYNTH_STEPS=12000 bash benchmarks/real_person_gpu.sh 420   (fine-tuned from
#        the shipped small renderer: `train renderer --init-from shipped`); SIGN_BANK=bank_sign2 trains it on
#        another bank under .devcarry/
#        TRAIN_FLAGS='--hand-l1 3 --face-l1 1' RUNS='obama_esn obama_small' bash benchmarks/real_person_gpu.sh 400
#        (more `train renderer` options for every run: the shipped renderer's hand and face L1)
#        RUNS='obama_esn obama_small_all' ... : obama_small_all trains on every interval of its bank
#        (`--frames all`; .devcarry/bank_obama_all is `pack-frames ... --split train --split dev --split test`),
#        so its `evaluate renderer` on the test split is not held out
#        RUNS='s20_small s20_comp obama_small obama_comp' INIT=shipped S20_BANK=bank_s20b COMPANION=bank_ms ...:
#        a *_comp run trains beside the companion's frames (`--companion .devcarry/$COMPANION`, half of a
#        batch of 64, so 32 of the person's own frames a step, as the plain run's batch of 32)
#        S20_COMPANION=bank_msn OBAMA_COMPANION=bank_msl ...: each person's companion (default $COMPANION)
#        SEED=1 ...: every run at that --seed
#        QUICK=1 OUT=/tmp/x bash benchmarks/real_person_gpu.sh 60   (a few steps of `small` each: checks the
#        script itself on a CPU machine; the pose-format wheel step is skipped where pose_format imports)
set -uo pipefail
export PYTHONUNBUFFERED=1
source benchmarks/carried_wheels.sh "import pose_format"
BUDGET=${1:-400}
R=/tmp/runs
mkdir -p $R $OUT/renders
# Its own log goes into renders.tar with the rest: a `tee $OUT/log.txt` of the caller's would be a ninth
# file, over the run tool's 8, and a tar would not come back (as on 2026-12-05).
exec > >(tee -a "$OUT/renders/script.log") 2>&1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
PV=(python3 -m posevideo)
ESN=esn; SCALE=1
[ -n "${QUICK:-}" ] && ESN=small && SCALE=2000

train() {  # name bank preset steps [init: INIT applies]
    # shellcheck disable=SC2086  # TRAIN_FLAGS is words
    local frames=train; [[ $1 == *_all ]] && frames=all   # RUN_all: every interval of the bank (--frames all)
    local batch=32 beside=() who=${1%%_*}; who=${who^^}_COMPANION   # S20_COMPANION, OBAMA_COMPANION: each its own
    [[ $1 == *_comp ]] && batch=64 && beside=(--companion ".devcarry/${!who:-${COMPANION:-bank_ms}}")
    timeout -s TERM "$BUDGET" "${PV[@]}" train renderer --data ".devcarry/$2" --preset "$3" --steps "$4" --batch $batch \
        --out "$R/$1" --image-every 2000 --checkpoint-every 2000 --log-every 250 ${INIT:+${5:+--init-from "$INIT"}} ${LR:+--lr "$LR"} ${SEED:+--seed "$SEED"} \
        --frames $frames "${beside[@]}" ${TRAIN_FLAGS:-} > "$R/$1.log" 2>&1
    echo "$1: exit $? after $SECONDS s"
}
start=$(date +%s)
# RUNS: which of the three to train (default all); steps fit a 390 s budget with all three sharing the GPU.
RUNS=${RUNS:-"obama_esn obama_small synth_small"}
trainings=()
for run in $RUNS; do
    case $run in
        obama_esn) train obama_esn bank_obama $ESN $((${ESN_STEPS:-11000} / SCALE)) & ;;
        obama_small) train obama_small bank_obama small $((${SMALL_STEPS:-9000} / SCALE)) init & ;;
        obama_small_all) train obama_small_all bank_obama_all small $((${SMALL_STEPS:-9000} / SCALE)) init & ;;
        obama_comp) train obama_comp bank_obama small $((${SMALL_STEPS:-9000} / SCALE)) init & ;;
        s20_small|s20_comp) train $run ${S20_BANK:-bank_s20} small $((${SMALL_STEPS:-9000} / SCALE)) init & ;;
        synth_small) train synth_small bank660 small $((${SYNTH_STEPS:-16000} / SCALE)) init & ;;
        sign_small) train sign_small ${SIGN_BANK:-bank_sign} small $((${SYNTH_STEPS:-16000} / SCALE)) init & ;;
    esac
    trainings+=($!)
done
# The trainings by their PIDs: a bare `wait` (bash >= 5.1) also waits for the log's `tee` above,
# which ends only with the script, so it never returned (a QUICK run hung on 2026-12-05).
wait "${trainings[@]}"
echo "training done in $(( $(date +%s) - start )) s"

for run in $RUNS; do
    bank=bank_obama; [ $run = synth_small ] && bank=bank660; [ $run = sign_small ] && bank=${SIGN_BANK:-bank_sign}
    [[ $run == s20_* ]] && bank=${S20_BANK:-bank_s20}; [[ $run == obama_*_all ]] && bank=bank_obama_all   # its test split: learnt
    "${PV[@]}" evaluate renderer --model $R/$run --data .devcarry/$bank --split test --json $OUT/renders/$run.eval.json \
        --sheet $OUT/renders/$run.eval-sheet.jpg --batch 64 2>&1 | tr '\r' '\n' | grep -v '%|' | tail -n 12
    cp "$(ls -d $R/$run/progress/* | tail -n 1)" $OUT/renders/$run.progress.jpg 2>/dev/null
    tail -n 1 $R/$run/metrics.jsonl
    tr '\r' '\n' < $R/$run.log | grep -v '%|' | tail -n 3
done

# Real poses through the renderer that cannot travel back (esn: 109 MB in float16); the small ones
# come back and render on the CPU machine. Retargeting as `render` does by default; mp4 through
# OpenCV (the GPU machine has no PyAV) beside the drawn pose's arrays (benchmarks/renderer_v2.py
# render). Back on the CPU machine: python benchmarks/renderer_v2.py consistency DIR/renders/obama_esn
[[ " $RUNS " == *" obama_esn "* ]] && timeout 150 python3 benchmarks/renderer_v2.py render "$R/obama_esn" \
    "${POSES:-.devcarry/poses}" "$OUT/renders/obama_esn"
for run in $RUNS; do
    [ $run = obama_esn ] && continue
    "${PV[@]}" ship-renderer --model $R/$run --out $OUT/renders/ship_$run
    cp $R/$run.log $OUT/renders/
done
for run in $RUNS; do cp $R/$run/metrics.jsonl $OUT/renders/$run.metrics.jsonl; done
# Files come back at most 16 MiB each (8 in all): the esn renders in two tars (every other input), each
# shipped renderer in its own, the rest in one.
cd $OUT/renders || exit 1
if [ -d obama_esn ]; then
    for part in 1 2; do
        ls obama_esn/*.mp4 | awk -v p=$part 'NR % 2 == p % 2 {sub(/\.mp4$/, ""); print $0 ".mp4"; print $0 ".drawn.npz"}' \
            | tar cf ../esn_renders_$part.tar -T -
    done
fi
for ship in ship_*; do [ -d "$ship" ] && tar cf ../$ship.tar $ship; done
tar cf ../renders.tar --exclude obama_esn --exclude 'ship_*' . && cd .. && rm -r renders
ls -la $OUT
