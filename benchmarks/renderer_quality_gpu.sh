#!/usr/bin/env bash
# The renderer quality run (issue: esn, ~15 minutes on one GPU), in two calls of the run tool
# because one call may last at most 10 minutes; the run folder stays on the warm machine between
# them and the second call resumes it (--resume: same step, learning rate, data order and RNG).
#   call 1: benchmarks/renderer_quality_gpu.sh start  SECONDS
#   call 2: benchmarks/renderer_quality_gpu.sh finish SECONDS
# Carries .devcarry/bank660 (posevideo pack-frames of the synthetic speaker, seed 0, 660 s at
# 15 fps) and .whl (pose-format's wheel, missing on the GPU image). Results go to $OUT. Made here with
#   posevideo synth-speaker --seed 0 --seconds 660 --fps 15 --out synth
#   posevideo prepare synth/synthetic_0.mp4 --speaker synth0 --data DATA --poses-from synth --size 256
#   posevideo pack-frames --data DATA --speaker synth0 --out .devcarry/bank660 --size 256 --split train --split test
#   python3 -m pip download --no-deps --only-binary=:all: -d .whl pose-format==0.15.0
# (.devcarry/ and .whl/ listed in .git/info/exclude).
set -uo pipefail
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:$PWD || exit 1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
RUN=/tmp/runs/esn15
ARGS=(--data .devcarry/bank660 --preset esn --steps 42000 --batch 32 --out $RUN --image-every 6000
      --checkpoint-every 3000 --log-every 500)
case "$1" in
  start)  timeout -s TERM "$2" python3 -m posevideo train renderer "${ARGS[@]}" > $OUT/train1.log 2>&1 ;;
  finish) timeout -s TERM "$2" python3 -m posevideo train renderer --resume $RUN > $OUT/train2.log 2>&1
          python3 benchmarks/renderer_quality.py --model $RUN --data .devcarry/bank660 --out $OUT/quality 2>&1 \
              | tr '\r' '\n' | grep -v '%|' ;;
esac
echo "train exit: done; last metrics:"
tail -n 3 $RUN/metrics.jsonl
ls $RUN $RUN/progress 2>/dev/null | tail -n 20
cp $RUN/metrics.jsonl $OUT/ 2>/dev/null
cp "$(ls -d $RUN/progress/* | tail -n 1)" $OUT/ 2>/dev/null
grep -v '%|' $OUT/train*.log | tail -n 5
