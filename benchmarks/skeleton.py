"""Skeleton images per second on ONE CPU core (issue 2 asks for at least 1,000/s at 256x256).

    .venv/bin/python benchmarks/skeleton.py [--seconds 5]

The process is pinned to one core and every library is told to use one thread. Poses are the test
fixture (tests/golden/pose_reduced.npz: 178 points, 174 limbs) jittered each frame, so nothing is
cached between images. For comparison it also times the OpenCV path that spec version 1 used
(one cv2.polylines(LINE_AA) per group), which is not what we draw any more (docs/skeleton-spec.md).
"""
from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba is imported
import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from posevideo.skeleton import _plan, draw_skeleton, draw_skeletons, limb_width

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "golden" / "pose_reduced.npz"
BOX = (0.0, 0.0, 512.0)


def opencv_v1(xy, conf, size, box):
    """Spec version 1, for comparison only: cv2 LINE_AA strokes, one polylines call per colour."""
    a, b, colors, kinds = _plan("reduced")
    uv = (xy - box[:2]) * (size / box[2])
    fixed = np.rint((uv - 0.5) * 16).astype(np.int32)
    image = np.zeros((size, size, 3), np.uint8)
    keep = np.minimum(conf[a], conf[b]) >= 0.1
    # consecutive limbs of one colour and kind share a call
    starts = np.flatnonzero(np.r_[True, (np.diff(colors, axis=0).any(axis=1)) | (np.diff(kinds) != 0)])
    for s, e in zip(starts, np.r_[starts[1:], len(a)]):
        k = keep[s:e]
        segments = list(np.stack([fixed[a[s:e][k]], fixed[b[s:e][k]]], axis=1))
        cv2.polylines(image, segments, False, colors[s].tolist(), limb_width(("body", "hand", "face")[kinds[s]], size),
                      cv2.LINE_AA, 4)
    return image


def best_rate(step, frames_per_step, seconds, windows=5):
    """(images per CPU second, best wall-clock images/s of `windows` windows). This machine is
    shared with other jobs: wall time counts the time slices they take, CPU time of this process
    (pinned to one core) does not, so CPU time says what one free core does; the wall figure
    is kept as a floor."""
    step()  # warm-up
    best, frames, cpu = 0.0, 0, 0.0
    for _ in range(windows):
        n, start, cpu_start = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - start < seconds / windows:
            step()
            n += frames_per_step
        best = max(best, n / (time.perf_counter() - start))
        frames, cpu = frames + n, cpu + time.process_time() - cpu_start
    return frames / cpu, best


def over(fn, poses):
    """One step: every pose once."""
    return lambda: [fn(xy, conf) for xy, conf in poses]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="wall time per row (5 windows)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass

    data = np.load(FIXTURE)
    rng = np.random.default_rng(0)
    poses = [(data["xy"] + rng.normal(0, 2, data["xy"].shape), data["conf"]) for _ in range(200)]
    start = time.perf_counter()
    draw_skeleton(*poses[0])  # compiles, or loads the numba cache
    first = time.perf_counter() - start

    rows = []
    sequence = (np.stack([p[0] for p in poses]), np.stack([p[1] for p in poses]))
    for size in (256, 512):
        rows.append((f"draw_skeleton {size}",
                     *best_rate(over(lambda xy, c: draw_skeleton(xy, c, size=size, box=BOX), poses), len(poses), args.seconds)))
        # includes allocating the (200, S, S, 3) output each call
        rows.append((f"draw_skeletons {size} (200 frames)",
                     *best_rate(lambda: draw_skeletons(*sequence, size=size, box=BOX), len(poses), args.seconds)))
        rows.append((f"OpenCV LINE_AA (spec v1) {size}",
                     *best_rate(over(lambda xy, c: opencv_v1(xy, c, size, np.array(BOX)), poses), len(poses), args.seconds)))

    print(f"one core (affinity {sorted(os.sched_getaffinity(0))}), load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores, first call {first:.2f} s (numba compile or cache load)")
    print(f"| {'what':<36} | {'images/CPU-s':>12} | {'ms CPU/image':>12} | {'best wall images/s':>18} |")
    print(f"| {'-' * 36} | {'-' * 12} | {'-' * 12} | {'-' * 18} |")
    for name, cpu_rate, wall in rows:
        print(f"| {name:<36} | {cpu_rate:>12.0f} | {1000 / cpu_rate:>12.3f} | {wall:>18.0f} |")

if __name__ == "__main__":
    main()
