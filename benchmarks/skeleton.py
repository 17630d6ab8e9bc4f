"""Skeleton images per second on ONE CPU core (issue 2 asks for at least 1,000/s at 256x256).

    .venv/bin/python benchmarks/skeleton.py [--seconds 3]

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


def rate(fn, poses, seconds):
    """Images per second of fn over the jittered poses, after one warm-up call."""
    fn(*poses[0])
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for xy, conf in poses:
            fn(xy, conf)
        n += len(poses)
    return n / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per row")
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
    for size in (256, 512):
        rows.append((f"draw_skeleton {size}", rate(lambda xy, c: draw_skeleton(xy, c, size=size, box=BOX), poses, args.seconds)))
        sequence = (np.stack([p[0] for p in poses]), np.stack([p[1] for p in poses]))
        start = time.perf_counter()
        draw_skeletons(*sequence, size=size, box=BOX)
        rows.append((f"draw_skeletons {size} (200 frames)", len(poses) / (time.perf_counter() - start)))
        rows.append((f"OpenCV LINE_AA (spec v1) {size}", rate(lambda xy, c: opencv_v1(xy, c, size, np.array(BOX)), poses, args.seconds)))

    print(f"one core (affinity {sorted(os.sched_getaffinity(0))}), first call {first:.2f} s (numba compile or cache load)")
    print(f"| {'what':<36} | {'images/s':>9} | {'ms/image':>8} |")
    print(f"| {'-' * 36} | {'-' * 9} | {'-' * 8} |")
    for name, r in rows:
        print(f"| {name:<36} | {r:>9.0f} | {1000 / r:>8.3f} |")


if __name__ == "__main__":
    main()
