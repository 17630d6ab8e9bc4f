#!/usr/bin/env bash
# The renderer quality run (issue: esn, ~15 minutes on one GPU). One run tool call may last at most
# 10 minutes, so the training runs detached (setsid) on the warm machine across two calls:
#   call 1: benchmarks/renderer_quality_gpu.sh start  SECONDS   starts it, watches for SECONDS
#   call 2: benchmarks/renderer_quality_gpu.sh finish           waits for it to end, evaluates
# or, in one call, the same run cut short by SIGTERM after SECONDS, then evaluated:
#           benchmarks/renderer_quality_gpu.sh short  SECONDS [MORE TRAIN OPTIONS, e.g. --d-batch separate]
# The second call must come within the machine's 30 s warm period. If the run is stopped anyway,
# `posevideo train renderer --resume /tmp/runs/esn15` continues it from its last checkpoint.
# Carries .devcarry/bank660 (posevideo pack-frames of the synthetic speaker, seed 0, 660 s at
# 15 fps) and .whl (pose-format's wheel, missing on the GPU image). Results go to $OUT. Made here with
#   posevideo synth-speaker --seed 0 --seconds 660 --fps 15 --out synth
#   posevideo prepare synth/synthetic_0.mp4 --speaker synth0 --data DATA --poses-from synth --size 256
#   posevideo pack-frames --data DATA --speaker synth0 --out .devcarry/bank660 --size 256 --split train --split test
#   python3 -m pip download --no-deps --only-binary=:all: -d .whl pose-format==0.15.0
# (.devcarry/ and .whl/ are in .gitignore).
# 38,000 steps at batch 32 is about 15 minutes on an H200 (1,504 images/s measured on 2026-12-02),
# so the learning rate's linear decay (second half of the steps) runs to its end; the 960 s timeout
# (SIGTERM: a checkpoint, then exit) caps the budget if the GPU is slower.
set -uo pipefail
export PYTHONUNBUFFERED=1
source benchmarks/carried_wheels.sh "import av, pose_format"
RUN=/tmp/runs/esn15
LOG=/tmp/runs/esn15.log
TRAIN=(python3 -m posevideo train renderer --data .devcarry/bank660 --preset esn --steps 38000 --batch 32
       --out $RUN --image-every 6000 --checkpoint-every 3000 --log-every 500)
evaluate() {
    python3 -m posevideo evaluate renderer --model $RUN --data .devcarry/bank660 --split test --json $OUT/eval.json \
        --sheet $OUT/eval-sheet.jpg --batch 64 2>&1 | tr '\r' '\n' | grep -v '%|'
    cp $RUN/metrics.jsonl $OUT/
    cp "$(ls -d $RUN/progress/* | tail -n 1)" $OUT/
}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
mkdir -p /tmp/runs
case "$1" in
  start)
    date +%s > /tmp/runs/started
    setsid nohup timeout -s TERM 960 "${TRAIN[@]}" > $LOG 2>&1 < /dev/null &
    echo $! > /tmp/runs/pid
    sleep "$2"
    ;;
  finish)
    while kill -0 "$(cat /tmp/runs/pid)" 2>/dev/null; do sleep 5; done
    echo "trained for $(( $(date +%s) - $(cat /tmp/runs/started) )) s (wall, start to exit, incl. compile)"
    evaluate
    ;;
  short)
    timeout -s TERM "$2" "${TRAIN[@]}" "${@:3}" > $LOG 2>&1 < /dev/null
    evaluate
    ;;
esac
echo "last metrics:"
tail -n 2 $RUN/metrics.jsonl
ls $RUN $RUN/progress 2>/dev/null | tail -n 12
tr '\r' '\n' < $LOG | grep -v '%|' | tail -n 6
tr '\r' '\n' < $LOG | tail -n 1
cp $LOG $OUT/train.log
