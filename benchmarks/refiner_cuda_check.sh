#!/usr/bin/env bash
# The render path's CUDA graph with a hand refiner (the hands' boxes a second captured input), on a
# GPU machine: the tests that need a GPU, then `posevideo render --device cuda` of a real signer's
# .pose through a small one-stage renderer with a refiner trained a few steps there.
# Carries (git-ignored): .whl (PyAV and pose-format wheels; the GPU machine lacks both), .devcarry/poses.
#   run(kind="nvidia-h100-x1", timeout_s=240, carry=[".whl", ".devcarry/poses"], command="OUT=$OUT bash benchmarks/refiner_cuda_check.sh")
set -uo pipefail
export PYTHONUNBUFFERED=1
source benchmarks/carried_wheels.sh "import av, pose_format"
nvidia-smi --query-gpu=name --format=csv,noheader
python3 -m pytest -q -p no:cacheprovider tests/test_renderer.py -k cuda_graph 2>&1 | tail -n 5
python3 - <<'PY'
import numpy as np
from posevideo.renderer.data import FrameBank, write_bank
rng = np.random.default_rng(0)          # 16 frames of noise with both hands' boxes: enough to train a few steps
images = rng.integers(0, 256, (16, 256, 256, 3), dtype=np.uint8)
boxes = np.tile(np.array([[60, 120, 120, 180], [140, 120, 200, 180], [100, 20, 160, 80]], np.float32), (16, 1, 1))
stats = {"speaker": "noise", "layout": "reduced", "center": [128.0, 100.0], "scale": 60.0, "width": 256, "height": 256,
         "fps": 15.0, "box": [0.0, 0.0, 256.0]}
write_bank({"train": FrameBank(images, images[::-1].copy(), stats=stats, meta={"regions": boxes})}, "/tmp/refbank")
PY
python3 -m posevideo train renderer --data /tmp/refbank --init-from shipped --profile-from shipped --hand-refiner-ngf 8 --steps 20 --batch 4 \
    --no-compile --out /tmp/refrun 2>&1 | tail -n 2
python3 -m posevideo render --pose .devcarry/poses/signer_mediapipe.pose --model /tmp/refrun --out $OUT/render_cuda.mp4 \
    --device cuda 2>&1 | tail -n 3
ls -la $OUT
