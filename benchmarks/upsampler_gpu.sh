#!/usr/bin/env bash
# Two-stage 256 -> 512 renderer vs the plain 512 `esn` (issue 14), the same GPU seconds each, in one
# call of the run tool (about 5 minutes of device time in all, evaluation included):
#   plain     posevideo train renderer --size 512 --preset esn, for BUDGET s;
#   twostage  posevideo train renderer --size 256 --preset esn on the same bank halved (2x2 means, as
#             the two-stage model feeds its first stage) for FIRST s, then --size 512 --upsample-from
#             that run (--freeze-base FREEZE steps, then joint) for BUDGET - FIRST s;
# both with face and hand discriminators at 512 (--face-d 1 --hand-d 1; REGION_D="" for none), batch BATCH, no
# torch.compile (its minute of compiling would fall twice on the two-stage lane), each stopped by
# --max-minutes (seconds of training from the first step: loading the bank is not counted; a
# checkpoint, then exit: the step counts differ, the seconds do not). With two GPUs
# (kind nvidia-h200-x2) each lane has its own; with one they share it (said in summary.md).
# Then each is evaluated on the held-out split at 512 (PSNR/SSIM frame/hands/face, flicker), the two
# are compared in a contact sheet of hand and face crops, and both render real signers' .pose files at 512
# (benchmarks/renderer_v2.py render: OpenCV's writer, since PyAV's wheel does not fit in the carry beside
# the bank; pose consistency runs back on the CPU machine: renderer_v2.py consistency DIR...).
# Carries (git-ignored): .devcarry/bank512, .devcarry/poses, pose-format's wheel:
#   run(kind="nvidia-h200", timeout_s=420,
#       carry=[".devcarry/bank512", ".devcarry/poses", ".whl/pose_format-0.15.0-py3-none-any.whl"],
#       command="bash benchmarks/upsampler_gpu.sh 150")
# .devcarry/bank512 was packed on the CPU machine (2026-12-02) from the synthetic speaker:
#   posevideo synth-speaker --seed 0 --seconds 240 --fps 15 --size 512 --out /tmp/up512/synth
#   posevideo prepare /tmp/up512/synth/synthetic_0.mp4 --speaker synthetic_0 --data /tmp/up512/DATA \
#       --poses-from /tmp/up512/synth --size 512
#   posevideo pack-frames --data /tmp/up512/DATA --speaker synthetic_0 --out .devcarry/bank512 --size 512 \
#       --split train --split test                       (3,000 train and 300 test frames)
# .devcarry/bank512r (2026-12-04): the same with room around the person and the shipped person's short
# sleeves (no repeated-edge streaks under the body; BANK=.devcarry/bank512r):
#   posevideo synth-speaker --seed 0 --seconds 240 --fps 15 --size 512 --room 0.25 --sleeves short --out /tmp/up512r/synth
#   then prepare and pack-frames as above, from /tmp/up512r, --out .devcarry/bank512r
# Usage: bash benchmarks/upsampler_gpu.sh BUDGET   (seconds of training of each lane)
#        FIRST=60 FREEZE=300 BATCH=16 bash benchmarks/upsampler_gpu.sh 150
#        BANK=.devcarry/bank_obama512 REGION_D= FIRST=110 bash benchmarks/upsampler_gpu.sh 280
#        PRESET=small ENHANCER="--enhancer-ngf 8 --enhancer-blocks 1" BATCH=32 ... (what the page runs at 10+ frames/s)
#        PRESET=medium PLAIN_PRESET=esn ENHANCER="--enhancer-ngf 8 --enhancer-blocks 1" ...  (the two-stage lane's
#        256 stage of one preset, against the plain 512 model of another: PLAIN_PRESET, default PRESET)
#        BASE_GIVEN=1 FIRST=150 ... 300  (the 256 first stage as a user already has it: trained FIRST s
#        alone before the race, then the plain 512 model and the Enhancer each train 300 s side by side)
#        EMA=0.999 ...   (every training with --ema 0.999, as the presets since 2026-12-04; each lane is then
#        evaluated twice: LANE, the weights' average (its renderer), and LANE_trained, the weights trained, of
#        the same run). EMA=0: without the average, as every run of this script before that day;
#        unset: the preset's (0.999), each lane evaluated once
#        PRESET=medium FIRST_OPTS="--ngf 24" ENHANCER="--enhancer-ngf 8 --enhancer-blocks 1 --hand-refiner-ngf 32" ...
#             (the 512 page model with a lighter 256 stage: 10.7 frames/s in the page against 8.2 at ngf 32)
#        ENHANCER2="--enhancer-ngf 8 --enhancer-blocks 1 --hand-refiner-ngf 32 --hand-refiner-stride 1" ...  (a third
#        lane, twostage2: a second Enhancer on the same first stage (trained once), beside twostage; the three
#        lanes then share the GPU while the Enhancers train)
#        SEED=1 ...   (`--seed 1` for every training: a second seed of a call, e.g. call D of BENCHMARKS.md's
#        "At 512 with room and short sleeves": BANK=.devcarry/bank512r EMA=0.999 SEED=1 FIRST=130 ... 320)
#        OPTS="--jitter 0 --pair-l1 3 --pair-energy 10" ...   (more options for every training of every lane, e.g.
#        the pair terms, which gave the 256 models +0.7-0.9 dB and less flicker at batch 32: BENCHMARKS.md
#        "`--pair-energy` at four seeds"; they train on pairs: an even BATCH)
#        QUICK=1 OUT=/tmp/x PY=/work/main/.venv/bin/python BANK=/tmp/bank512q bash benchmarks/upsampler_gpu.sh 60
#        (`small`, batch 2, a few steps on a CPU machine: checks the script itself; BANK: a small bank,
#        e.g. 16 frames of bank512's test split written as both train and test by write_bank)
# Comes back in $OUT (16 MiB a file at most): summary.md (table, crop sheet's legend, each lane's last
# log lines), crops.jpg (rows: test frames; per region target | plain | two-stage), and
# run_<lane>.tar: <lane>/{eval.json, eval-sheet.jpg, progress.jpg, metrics.jsonl, train.log, <pose>.mp4, <pose>.drawn.npz}.
set -uo pipefail
export PYTHONUNBUFFERED=1
PY=${PY:-python3}
source benchmarks/carried_wheels.sh "import pose_format"
BUDGET=${1:-150}
FIRST=${FIRST:-$(( BUDGET * 2 / 5 ))}
FREEZE=${FREEZE:-300}
R=${R:-/tmp/runs_up}
PRESET=${PRESET:-esn}; PLAIN_PRESET=${PLAIN_PRESET:-$PRESET}; BATCH=${BATCH:-16}; STEPS=${STEPS:-1000000}; LOG=50; IMAGE=250
BANK=${BANK:-.devcarry/bank512}
POSES_DIR=${POSES_DIR:-$PWD/.devcarry/poses}
POSES=${POSES:-"signer_mediapipe driver_signer_soup"}
REGION_D=${REGION_D---face-d 1 --hand-d 1}   # REGION_D="": no face and hand discriminators
ENHANCER=${ENHANCER:-}                        # e.g. "--enhancer-ngf 8 --enhancer-blocks 1" (the page's fast one)
FIRST_OPTS=${FIRST_OPTS:-}                    # the 256 first stage's own options, e.g. "--ngf 24" (a lighter page model)
ENHANCER2=${ENHANCER2:-}                      # a third lane: another Enhancer on the same first stage
EXTRA=(--no-compile $REGION_D ${EMA:+--ema $EMA} ${SEED:+--seed $SEED} ${OPTS:-})   # SEED=1: another seed of every lane
TRAINED="plain twostage"; [ -n "$ENHANCER2" ] && TRAINED="$TRAINED twostage2"
LANES=$TRAINED; [[ ${EMA:-0} =~ ^0?\.[0-9] ]] && LANES="$LANES $(printf '%s_trained ' $TRAINED)"
if [ -n "${QUICK:-}" ]; then PRESET=small; PLAIN_PRESET=small; BATCH=2; STEPS=${QUICK_STEPS:-4}; FREEZE=2; LOG=1; IMAGE=2; fi
rm -rf $R; mkdir -p $R/poses $OUT
for p in $POSES; do ln -s "$POSES_DIR/$p.pose" $R/poses/; done
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
GPUS=$(nvidia-smi -L 2>/dev/null | wc -l)
if [ "$GPUS" -ge 2 ]; then LANE_GPU=(0 1); SHARING="each lane on its own GPU"; else LANE_GPU=(0 0); SHARING="both lanes on one GPU at once"; fi
[ "$GPUS" -ge 1 ] || SHARING="no GPU: both lanes on the CPU"
DEVICE=(); [ "$GPUS" -ge 1 ] || DEVICE=(--device cpu)
train() {  # OUT_RUN SECONDS PRESET OPTIONS...: one training of SECONDS from its first step (SIGTERM 50 s later: loading, saving)
    local run=$1 seconds=$2 preset=$3; shift 3
    timeout -s TERM $(( seconds + 50 )) $PY -m posevideo train renderer --data $BANK --preset $preset --steps $STEPS \
        --max-minutes $($PY -c "print($seconds / 60)") \
        --batch $BATCH --out $run --log-every $LOG --image-every $IMAGE --checkpoint-every 100000 \
        "${EXTRA[@]}" "${DEVICE[@]}" "$@"
}
start=$(date +%s)
if [ -n "${BASE_GIVEN:-}" ]; then  # the 256 renderer a user already has: trained first, alone, outside the budget
    ( export CUDA_VISIBLE_DEVICES=${LANE_GPU[1]}; train $R/first256 $FIRST $PRESET --size 256 $FIRST_OPTS > $R/twostage.log 2>&1 )
    echo "first stage (given): $FIRST s alone, then both lanes $BUDGET s"
fi
( export CUDA_VISIBLE_DEVICES=${LANE_GPU[0]}; train $R/plain $BUDGET $PLAIN_PRESET --size 512 > $R/plain.log 2>&1 ) &
(
    export CUDA_VISIBLE_DEVICES=${LANE_GPU[1]}
    if [ -n "${BASE_GIVEN:-}" ]; then ENHANCE=$BUDGET; else
        train $R/first256 $FIRST $PRESET --size 256 $FIRST_OPTS > $R/twostage.log 2>&1; ENHANCE=$(( BUDGET - FIRST )); fi
    [ -n "$ENHANCER2" ] && cp $R/twostage.log $R/twostage2.log && (train $R/twostage2 $ENHANCE $PRESET --size 512 \
        --upsample-from $R/first256 --freeze-base $FREEZE $ENHANCER2 >> $R/twostage2.log 2>&1) &
    train $R/twostage $ENHANCE $PRESET --size 512 --upsample-from $R/first256 --freeze-base $FREEZE $ENHANCER >> $R/twostage.log 2>&1
    wait
) &
wait
echo "training done in $(( $(date +%s) - start )) s ($SHARING)"
for lane in $TRAINED; do tr '\r' '\n' < $R/$lane.log | grep -v '%|' | tail -n 4; done

# With EMA: each lane's trained weights as a renderer of their own, beside the average.
if [[ $LANES == *_trained* ]]; then
    for lane in $TRAINED; do
        $PY benchmarks/renderer_v2.py trained $R/$lane $R/${lane}_trained > /dev/null
        cp $R/$lane/metrics.jsonl $R/${lane}_trained/ 2>/dev/null; cp $R/$lane.log $R/${lane}_trained.log 2>/dev/null
    done
fi
# Evaluate and render each lane (on its GPU), packed into $OUT as soon as it is done.
for lane in $LANES; do
    i=$([[ $lane == plain* ]] && echo 0 || echo 1)
    (
        export CUDA_VISIBLE_DEVICES=${LANE_GPU[$i]} OMP_NUM_THREADS=4
        mkdir -p $R/out/$lane
        t=$(date +%s)
        timeout 100 $PY -m posevideo evaluate renderer --model $R/$lane --data $BANK --split test \
            --json $R/out/$lane/eval.json --sheet $R/out/$lane/eval-sheet.jpg --batch 32 "${DEVICE[@]}" > $R/$lane.eval.log 2>&1
        echo "$lane: evaluate exit $? in $(( $(date +%s) - t )) s" | tee -a $R/$lane.eval.log
        t=$(date +%s)
        timeout 60 $PY benchmarks/renderer_v2.py render $R/$lane $R/poses $R/out/$lane >> $R/$lane.eval.log 2>&1
        echo "$lane: render exit $? in $(( $(date +%s) - t )) s" | tee -a $R/$lane.eval.log
        cp $R/$lane/metrics.jsonl $R/out/$lane/ 2>/dev/null
        cp $R/$lane/metrics.jsonl $R/$lane.metrics.jsonl 2>/dev/null
        cp $R/out/$lane/eval.json $R/$lane.eval.json 2>/dev/null
        tr '\r' '\n' < $R/$lane.log 2>/dev/null | grep -v '%|' > $R/out/$lane/train.log
        tr '\r' '\n' < $R/$lane.eval.log | grep -v '%|' >> $R/out/$lane/train.log
        last=$(ls -d $R/$lane/progress/* 2>/dev/null | tail -n 1)
        [ -n "$last" ] && $PY -c "import sys; from PIL import Image; Image.open(sys.argv[1]).convert('RGB').save(sys.argv[2], quality=85)" \
            "$last" $R/out/$lane/progress.jpg
        (cd $R/out && tar cf $OUT/run_$lane.tar $lane)
    ) &
done
wait
SHEET_RUNS=($R/plain $R/twostage); SHEET_NAMES=(plain two-stage)
[ -n "$ENHANCER2" ] && SHEET_RUNS+=($R/twostage2) && SHEET_NAMES+=(two-stage-2)
timeout 60 $PY benchmarks/upsampler.py sheet --data $BANK --runs "${SHEET_RUNS[@]}" --names "${SHEET_NAMES[@]}" \
    --out $OUT/crops.jpg > $R/sheet.log 2>&1; echo "sheet exit $?" >> $R/sheet.log
echo "evaluated and rendered in $(( $(date +%s) - start )) s"

{
    echo "# Plain 512 $PLAIN_PRESET vs two-stage (256 $PRESET + Enhancer): $BUDGET s of training each lane ($SHARING)"
    echo "$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || echo cpu), $(date -u +%F), batch $BATCH, no compile, region discriminators: ${REGION_D:-none}${EMA:+, --ema $EMA}; two-stage ${ENHANCER:-(default Enhancer)}: first stage $FIRST s at 256${BASE_GIVEN:+ (given: trained alone before, outside the budget)}, --freeze-base $FREEZE${ENHANCER2:+; two-stage 2 (same first stage) $ENHANCER2}"
    echo
    $PY benchmarks/upsampler.py summary $R $LANES
    echo
    cat $R/sheet.log
    for lane in $LANES; do echo; echo "## $lane"; tail -n 8 $R/out/$lane/train.log; done
} > $OUT/summary.md
cat $OUT/summary.md
ls -la $OUT
