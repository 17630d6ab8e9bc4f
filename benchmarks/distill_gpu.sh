#!/usr/bin/env bash
# Distillation (issue 13 §3): a `small` renderer taught by a trained `esn` of the same person, against
# the same `small` trained on the ground truth alone, in one call of the run tool (an `esn` checkpoint
# is over the carry and return limits, so the teacher is trained in the same call):
#   teacher   posevideo train renderer --preset esn, alone on the GPU for TEACHER s;
#   student   --preset small --teacher <teacher> --teacher-mix MIX, STUDENT s;
#   baseline  --preset small on the ground truth, STUDENT s, beside the student (the two share the GPU);
# all at batch 32, no torch.compile, each stopped by --max-minutes (seconds from its first step).
# Then each is evaluated on the held-out split (PSNR/SSIM frame/hands/face, flicker) and renders the
# real poses in .devcarry/poses (frames + drawn arrays: pose consistency runs back on the CPU machine,
# which has MediaPipe). The two small checkpoints come back (7 MB each) for the browser page.
#   run(kind="nvidia-h200", timeout_s=600,
#       carry=[".devcarry/bank660", ".devcarry/poses", ".whl/pose_format-0.15.0-py3-none-any.whl"],
#       command="bash benchmarks/distill_gpu.sh 200 180")
# Usage: bash benchmarks/distill_gpu.sh TEACHER STUDENT      (seconds of training)
#        MIX=0.5 bash benchmarks/distill_gpu.sh 200 180
#        STUDENT_PRESET=medium STUDENT_OPTS="--stages 2 --enhancer-ngf 16 --enhancer-blocks 1" SEED=1 ...
#        (another student and baseline: here the page's two-stage candidate at 256, `medium` at 128 under a
#        16x1 Enhancer, BENCHMARKS.md "A two-stage model at 256 for the page"; SEED: --seed of every run)
#        LABEL_BANKS=".devcarry/bank_ms" LABEL_POSES="a.pose b.pose" ... (distillation on poses without frames:
#        after the teacher, benchmarks/paint_real.py --teacher draws those banks' skeletons and those poses
#        (placed as `render` places them) as the teacher renders them, added to BANK's train split; the
#        student trains on that bank, with the teacher's body profile; the baseline on BANK alone. Keep the
#        poses apart from POSES_DIR's, which judge the runs)
#        QUICK=1 OUT=/tmp/x PY=.venv/bin/python BANK=/tmp/bank48 POSES="signer_example" bash benchmarks/distill_gpu.sh 20 20
#        (tiny runs on a CPU machine: checks the script itself)
# Comes back in $OUT: summary.md (the table, each run's last log lines), runs_<run>.tar:
# <run>/{eval.json, eval-sheet.jpg, progress.png, metrics.jsonl, train.log, <pose>.mp4, <pose>.drawn.npz}
# and, for student and baseline, model_<run>.tar (`ship-renderer`: the generator in float16 + JSON; over 15 MB
# in parts model_<run>.tar.00, .01).
# Back on the CPU machine:
#   for t in OUTDIR/runs_*.tar; do tar xf $t -C /tmp/distill; done
#   python benchmarks/renderer_v2.py consistency /tmp/distill/teacher /tmp/distill/student /tmp/distill/baseline
set -uo pipefail
export PYTHONUNBUFFERED=1
PY=${PY:-python3}
# the labelled bank is written with PyAV: carry its wheel too (.whl/av-*.whl) when LABEL_* is set
LABELS="${LABEL_BANKS:-}${LABEL_POSES:-}"
source benchmarks/carried_wheels.sh "import pose_format${LABELS:+, av}"
TEACHER=${1:-200}; STUDENT=${2:-180}; MIX=${MIX:-1.0}
STUDENT_PRESET=${STUDENT_PRESET:-small}; read -ra STUDENT_OPTS <<< "${STUDENT_OPTS:-}"
R=${R:-/tmp/runs_distill}
BANK=${BANK:-.devcarry/bank660}
POSES_DIR=${POSES_DIR:-$PWD/.devcarry/poses}
POSES=${POSES:-$(cd "$POSES_DIR" && ls *.pose | sed 's/\.pose$//')}   # default: every .pose there
BATCH=32; TEACHER_PRESET=esn; LOG=250; IMAGE=2000; DEVICE=()
if [ -n "${QUICK:-}" ]; then BATCH=4; TEACHER_PRESET=small; LOG=1; IMAGE=4; fi
[ "$(nvidia-smi -L 2>/dev/null | wc -l)" -ge 1 ] || DEVICE=(--device cpu)
rm -rf $R; mkdir -p $R/poses $R/table $OUT
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
for p in $POSES; do
    [ -f "$POSES_DIR/$p.pose" ] || { echo "$POSES_DIR/$p.pose: no such pose file (POSES names files in POSES_DIR)"; exit 1; }
    ln -s "$POSES_DIR/$p.pose" $R/poses/
done
train() {  # RUN SECONDS PRESET OPTIONS...: one training of SECONDS from its first step (SIGTERM 60 s later); RUN_DATA: not BANK
    local run=$1 seconds=$2 preset=$3; shift 3
    timeout -s TERM $(( seconds + 60 )) $PY -m posevideo train renderer --data ${RUN_DATA:-$BANK} --preset $preset --steps 1000000 \
        --max-minutes $($PY -c "print($seconds / 60)") --batch $BATCH --out $R/$run --no-compile \
        --log-every $LOG --image-every $IMAGE --checkpoint-every 1000000 ${SEED:+--seed $SEED} "${DEVICE[@]}" "$@" > $R/$run.log 2>&1
    echo "$run: train exit $?"
}
start=$(date +%s)
train teacher $TEACHER $TEACHER_PRESET
echo "teacher trained in $(( $(date +%s) - start )) s"
STUDENT_DATA=(); LABELLED=
if [ -n "$LABELS" ]; then
    ADD=(); for b in ${LABEL_BANKS:-}; do ADD+=(--add-painted $b); done
    $PY benchmarks/paint_real.py ${LABEL_POSES:-} "${ADD[@]}" --base $BANK --teacher $R/teacher --out $R/labelled \
        > $R/labelled.log 2>&1 || { echo "labelling failed:"; tail -5 $R/labelled.log; exit 1; }
    echo "labelled: $(tail -1 $R/labelled.log)"
    STUDENT_DATA=(--profile-from $R/teacher); LABELLED=$R/labelled
fi
RUN_DATA=$LABELLED train student $STUDENT $STUDENT_PRESET "${STUDENT_OPTS[@]}" --teacher $R/teacher --teacher-mix $MIX "${STUDENT_DATA[@]}" &
train baseline $STUDENT $STUDENT_PRESET "${STUDENT_OPTS[@]}" &
wait
echo "students trained in $(( $(date +%s) - start )) s"

source benchmarks/evaluate_run.sh
for run in teacher student baseline; do
    (
        evaluate_run $run runs_$run 100 "${DEVICE[@]}"
        if [ $run != teacher ]; then
            $PY -m posevideo ship-renderer --model $R/$run --out $R/shipped/$run >> $R/$run.eval.log 2>&1
            (cd $R/shipped && tar cf $OUT/model_$run.tar $run)
            # The run tool returns 16 MiB a file: a `medium` student's is 20 MiB, so in parts
            # (back on the CPU machine: cat model_RUN.tar.* > model_RUN.tar).
            if [ $(stat -c %s $OUT/model_$run.tar) -gt 15000000 ]; then
                split -b 15000000 -d $OUT/model_$run.tar $OUT/model_$run.tar. && rm $OUT/model_$run.tar
            fi
        fi
    ) &
done
wait
echo "evaluated and rendered in $(( $(date +%s) - start )) s"
{
    echo "# Distillation: $TEACHER_PRESET teacher $TEACHER s alone, $STUDENT_PRESET ${STUDENT_OPTS[*]} student (--teacher-mix $MIX) and baseline $STUDENT s side by side${SEED:+, --seed $SEED}"
    [ -f $R/labelled.log ] && echo "student's data: $BANK + the teacher's frames of ${LABEL_BANKS:-} ${LABEL_POSES:-} ($(tail -1 $R/labelled.log))"
    echo "$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || echo cpu), $(date -u +%F), batch $BATCH, no compile"
    echo
    $PY benchmarks/renderer_v2.py summary $R/table
    for run in teacher student baseline; do echo; echo "## $run"; tail -n 6 $R/out/$run/train.log; done
} > $OUT/summary.md
cat $OUT/summary.md
ls -la $OUT
