"""A renderer's own held-out poses as one `.pose`: the frames of one video's test intervals (as
`posevideo prepare` split them) cut from the video's pose and put end to end, in the reduced layout,
for `benchmarks/real.py --ceiling FILE` or `--real DIR` (the own-speaker ceiling on the very
intervals the renderer was not trained on).

    python benchmarks/heldout_pose.py DATA/intervals.csv VIDEO.pose OUT.pose [--split test]

VIDEO.pose: the pose of the video the intervals were cut from (its `video_fn` is the file's stem,
e.g. `synth-speaker`'s synthetic_0_signing.pose). Frame numbers are the video's own.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from posevideo.pose import arrays, make_pose, read_pose, to_layout, write_pose


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("intervals", type=Path)
    parser.add_argument("pose", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    video = args.pose.stem
    rows = [r for r in csv.DictReader(args.intervals.open()) if r["dataset"] == args.split and r["video_fn"] == video]
    if not rows:
        sys.exit(f"error: {args.intervals}: no {args.split} interval of video {video!r}. Pass the pose of a video "
                 "the intervals name (video_fn).")
    pose = read_pose(args.pose)
    xy, conf = arrays(to_layout(pose, "reduced", path=args.pose))
    keep = np.concatenate([np.arange(int(r["start_frame"]), int(r["end_frame"])) for r in rows])
    if keep.max() >= len(xy):
        sys.exit(f"error: {args.pose}: {len(xy)} frames, but the intervals reach frame {keep.max()}. Pass the "
                 "pose of the whole video the intervals were cut from.")
    dims = pose.header.dimensions
    write_pose(make_pose("reduced", xy[keep], conf[keep], float(pose.body.fps), dims.width, dims.height), args.out)
    print(f"{args.out}: {len(keep)} frames of {len(rows)} {args.split} intervals of {video}")


if __name__ == "__main__":
    main()
