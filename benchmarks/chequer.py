"""The chequered patch: frames of `benchmarks/real.py`'s videos that hold colours the synthetic
speaker never wears (pink background, brown skin, black and grey clothes, so green, cyan or blue
pixels are the generator's multicoloured chequer, which it paints on some lower bodies).

    python benchmarks/chequer.py DIR [DIR ...]   (each a `real.py --out DIR`)

A pixel is off the palette when G > R + 40 or B > R + 60 (0-255); a frame has the patch when over
0.2 % of its pixels (131 at 256x256) are. Prints per DIR the share of all frames with the patch and
each input's share. The rule fits the synthetic speaker's renderers only (a real person's renderer
may wear blue).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from posevideo.video import read_frames

OFF_G, OFF_B, SHARE = 40, 60, 0.002


def off_palette(frame: np.ndarray) -> float:
    """The share of a (H, W, 3) uint8 frame's pixels off the synthetic speaker's palette."""
    v = frame.astype(np.int16)
    return float(((v[..., 1] > v[..., 0] + OFF_G) | (v[..., 2] > v[..., 0] + OFF_B)).mean())


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("| run | frames with the patch | per input (%) |")
    print("| --- | ---: | --- |")
    for folder in map(Path, sys.argv[1:]):
        videos = sorted(p for p in folder.glob("*.mp4") if not p.name.endswith(".painted.mp4"))  # not real.py --painter's
        if not videos:
            sys.exit(f"error: {folder}: no .mp4 here. Pass a folder written by benchmarks/real.py --out.")
        hit = total = 0
        per = {}
        for video in videos:
            shares = np.array([off_palette(f) for f in read_frames(video)])
            per[video.stem] = 100 * float((shares > SHARE).mean())
            hit, total = hit + int((shares > SHARE).sum()), total + len(shares)
        print(f"| {folder.name} | {100 * hit / total:.1f} % of {total} | "
              + ", ".join(f"{k} {v:.1f}" for k, v in per.items() if v) + " |")


if __name__ == "__main__":
    main()
