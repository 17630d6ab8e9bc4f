"""Speed of `posevideo prepare`, per stage and whole, on generated synthetic-speaker videos.

    .venv/bin/python benchmarks/prepare.py [--videos 2] [--seconds 10] [--size 256]

Each stage runs alone on the same frames (decode, key, extract, crop, index), then whole runs of
`prepare` (--workers 1, --workers 2, --poses-from). Prints one table with wall-clock frames/s and
frames per CPU-second (process CPU time, all threads and child processes): on a shared machine the
CPU figure is the steadier one.
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    self, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return self.ru_utime + self.ru_stime + children.ru_utime + children.ru_stime


def timed(fn):
    wall, cpu = time.perf_counter(), _cpu()
    out = fn()
    return out, time.perf_counter() - wall, _cpu() - cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--size", type=int, default=256, choices=(256, 512), help="synthetic video size")
    args = parser.parse_args()

    import numpy as np
    from pose_format.utils.holistic import load_holistic

    from posevideo.data import keying
    from posevideo.pose import framing as crops
    from posevideo.data.index import build_index
    from posevideo.data.prepare import PrepareOptions, prepare
    from posevideo.pose import arrays, read_pose
    from posevideo.synthetic import synth_speaker
    from posevideo.video import read_frames

    rows = []

    def row(stage, frames, wall, cpu, note=""):
        rows.append((stage, wall, cpu, frames / wall, frames / cpu, note))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        videos = [synth_speaker(seed=s, seconds=args.seconds, out_dir=tmp / "videos", size=args.size)["video"]
                  for s in range(args.videos)]
        video = videos[0]

        # Stages alone, on the first video.
        frames, wall, cpu = timed(lambda: list(read_frames(video)))
        n = len(frames)
        row("decode", n, wall, cpu, f"H.264 {args.size}x{args.size} to RGB")
        _, wall, cpu = timed(lambda: [keying.key_frame(f) for f in frames])
        row("key (source frame)", n, wall, cpu, f"{args.size}x{args.size}, before extraction")
        config = {"model_complexity": 1, "refine_face_landmarks": True}
        pose, wall, cpu = timed(lambda: load_holistic(iter(frames), fps=30, width=args.size, height=args.size,
                                                      additional_holistic_config=config))
        row("extract", n, wall, cpu, "MediaPipe Holistic, complexity 1, refined face")
        truth = read_pose(Path(video).with_suffix(".pose"))
        xy, conf = arrays(truth)

        def crop_all():
            mid, width, valid = crops.shoulder_track(xy, conf, 11, 12)
            boxes = crops.crop_boxes(mid, width, valid, 30, args.size, args.size)
            return [[crops.crop(f, b, s) for s in (256, 512)] for f, b in zip(frames, boxes)]

        cropped, wall, cpu = timed(crop_all)
        row("crop", n, wall, cpu, "boxes + 256 and 512 px crops")
        _, wall, cpu = timed(lambda: [keying.key_frame(c) for pair in cropped for c in pair])
        row("key (crops)", n, wall, cpu, "the 256 and 512 px crops")

        # Whole runs (--key green, --size 256 --size 512) over all videos.
        total = 0
        for label, workers, extra in (("whole, --workers 1", 1, {}), ("whole, --workers 2", 2, {}),
                                      ("whole, --poses-from", 1, {"poses_from": str(tmp / "videos")})):
            options = PrepareOptions(sizes=(256, 512), key="green", **extra)
            data = tmp / f"data-{len(rows)}"
            (results, summary), wall, cpu = timed(lambda: prepare([tmp / "videos"], "bench", data, options,
                                                                  workers=workers, show_progress=False,
                                                                  echo=lambda line: None))
            assert all(r.status == "done" for r in results), [r.error for r in results]
            total = sum(r.frames for r in results)
            row(label, total, wall, cpu, "all stages + index, --key green")
        _, wall, cpu = timed(lambda: build_index(data, show_progress=False, force=True))
        row("index", total, wall, cpu, "csv files, samples, stats (rebuilt)")

    print(f"{args.videos} synthetic videos x {args.seconds:g} s, {args.size}x{args.size}, 30 fps; stages alone "
          f"on one video ({n} frames), whole runs on all ({total} frames)\n")
    print(f"| {'stage':<22} | wall s | CPU s | frames/s | frames/CPU-s | note")
    print(f"| {'-' * 22} | ------ | ----- | -------- | ------------ | ----")
    for stage, wall, cpu, rate, cpu_rate, note in rows:
        print(f"| {stage:<22} | {wall:6.2f} | {cpu:5.1f} | {rate:8.0f} | {cpu_rate:12.0f} | {note}")


if __name__ == "__main__":
    main()
