#!/usr/bin/env bash
# `posevideo render` end to end on one GPU, as a user runs it (issue 13 §5), in one call of the run
# tool (kind nvidia-h200). The GPU machine lacks PyAV and pose-format: their
# wheels travel in .whl (git-ignored), made on the CPU machine with
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl av==18.1.0 pose-format==0.15.0
# Run:  run(command="bash benchmarks/render_path_gpu.sh", carry=[".whl"], kind="nvidia-h200", timeout_s=540)
#   (typically about 4 minutes; the timeouts below bound it at about 8)
# What it does: the CUDA-graph test (tests/test_renderer.py, skipped without a GPU); a 10,000-frame
# reduced pose (the bundled example played forward and back); one short render first (numba
# compiles the skeleton rasterizer once and caches it, as on a user's first run); then
# `benchmarks/renderer.py --render`: each part alone (--stages), when each part of one render
# happens (--timeline: benchmarks/render_timeline.py, a fresh process), and the CLI in a fresh process
# timed from start to the finished mp4: the default options (`now`, shipped small and a random
# esn), other settings, and `before` (batches of 16, eager, one stage after another: the loop before).
# FRAMES=60 DEVICE=cpu PY=.venv/bin/python bash benchmarks/render_path_gpu.sh: the script itself, on a CPU machine.
set -uo pipefail
export PYTHONUNBUFFERED=1
PY=${PY:-python3}
source benchmarks/carried_wheels.sh "import av, pose_format"
FRAMES=${FRAMES:-10000}
DEVICE=${DEVICE:-cuda}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
$PY -c "import torch, av, numba, os; print('torch', torch.__version__, 'av', av.__version__, 'numba', numba.__version__, 'cores', os.cpu_count())"
B=($PY benchmarks/renderer.py --render --device "$DEVICE")
start=$SECONDS
timeout 45 $PY -m pytest -q -p no:cacheprovider tests/test_renderer.py -k cuda_graph 2>&1 | tail -n 2  # graph = eager
timeout 45 "${B[@]}" --frames 100 --variant warm= > /dev/null 2>&1  # fills numba's cache (the first run on a machine)
echo "warm-up render: $((SECONDS - start)) s"
timeout 130 "${B[@]}" --frames "$FRAMES" --stages --timeline --models small esn --variant now=
echo "after: $((SECONDS - start)) s"
timeout 120 "${B[@]}" --frames "$FRAMES" --variant "segments1=--segments 1" --variant "segments4=--segments 4" \
    --variant "workers2=--workers 2" --variant "batch256=--batch 256" --variant "no-graph=--no-cuda-graph"
timeout 140 "${B[@]}" --frames "$FRAMES" --variant "before=--batch 16 --workers 0 --no-cuda-graph --segments 1"
echo "total: $((SECONDS - start)) s"
