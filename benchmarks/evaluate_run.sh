# Sourced by the renderer GPU scripts (renderer_v2_gpu.sh, distill_gpu.sh): one trained run ->
# `evaluate renderer` on the held-out split, renders of the real poses in $R/poses
# (benchmarks/renderer_v2.py render), its logs and last progress image, packed into $OUT/<TAR>.tar.
# Needs $PY, $R (runs in $R/<run>, training log $R/<run>.log), $BANK and $OUT (RENDER_SECONDS: the
# renders' limit, default 80); fills $R/table for
# `renderer_v2.py summary`. Run one a background subshell each, as the scripts do.
#   evaluate_run RUN TAR EVAL_SECONDS [more `evaluate renderer` options]
evaluate_run() {
    local run=$1 tar=$2 seconds=$3 t; shift 3
    export OMP_NUM_THREADS=4  # several runs at once: the CPU-bound parts (drawing, optical flow) share the cores
    mkdir -p $R/out/$run $R/table
    t=$(date +%s)
    timeout $seconds $PY -m posevideo evaluate renderer --model $R/$run --data $BANK --split test \
        --json $R/out/$run/eval.json --sheet $R/out/$run/eval-sheet.jpg --batch 64 "$@" > $R/$run.eval.log 2>&1
    echo "$run: evaluate exit $? in $(( $(date +%s) - t )) s"
    t=$(date +%s)
    timeout ${RENDER_SECONDS:-80} $PY benchmarks/renderer_v2.py render $R/$run $R/poses $R/out/$run >> $R/$run.eval.log 2>&1
    echo "$run: render exit $? in $(( $(date +%s) - t )) s"
    cp $R/$run/metrics.jsonl $R/out/$run/ 2>/dev/null
    cp $R/$run/metrics.jsonl $R/table/$run.metrics.jsonl 2>/dev/null
    cp $R/out/$run/eval.json $R/table/$run.eval.json 2>/dev/null
    tr '\r' '\n' < $R/$run.log | grep -v '%|' | grep -v 'pow_by_natural' > $R/out/$run/train.log
    tr '\r' '\n' < $R/$run.eval.log | grep -v '%|' >> $R/out/$run/train.log
    cp "$(ls -d $R/$run/progress/* | tail -n 1)" $R/out/$run/progress.png 2>/dev/null
    (cd $R/out && tar cf $OUT/$tar.tar $run)
}
