"""The chequered patch: frames of `benchmarks/real.py`'s videos where the generator paints its
multicoloured chequer (on some lower bodies of the synthetic speaker's renderers).

    python benchmarks/chequer.py DIR [DIR ...]   (each a `real.py --out DIR`)

Two rules; a frame has the patch when either holds:
- colour: the synthetic speaker never wears green, cyan or blue (pink background, brown skin, black
  and grey clothes): a pixel is off the palette when G > R + 40 or B > R + 60 (0-255), and a frame
  has the patch when over 0.2 % of its pixels (131 at 256x256) are. The rule fits the synthetic
  speaker's renderers only (a real person's renderer may wear blue).
- texture: the chequer alternates every pixel or two, which nothing the speaker wears does; after
  x264's colour subsampling a red-green chequer can come out brown, so the colour rule misses it.
  The mean |Laplacian| of the grey frame over an 8x8 block: a frame has the patch when one block is
  over 150 levels (every frame of the renderer shipped 2026-12-04 stays under 50, the feature-matching
  runs' dotted skin under 106; chequered frames reach up to 370: BENCHMARKS.md, "More L1 where the
  hands are").
Prints per DIR the share of all frames with the patch (either rule), the frames each rule found,
and each input's share.
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from posevideo.video import read_frames

OFF_G, OFF_B, SHARE = 40, 60, 0.002
TEXTURE, BLOCK = 150.0, 8


def off_palette(frame: np.ndarray) -> float:
    """The share of a (H, W, 3) uint8 frame's pixels off the synthetic speaker's palette."""
    v = frame.astype(np.int16)
    return float(((v[..., 1] > v[..., 0] + OFF_G) | (v[..., 2] > v[..., 0] + OFF_B)).mean())


def texture(frame: np.ndarray) -> float:
    """The highest mean |Laplacian| (levels) over the BLOCK x BLOCK blocks of a (H, W, 3) uint8 frame's grey."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = np.abs(cv2.Laplacian(grey, cv2.CV_32F, ksize=1))
    h, w = (s // BLOCK * BLOCK for s in lap.shape)
    return float(lap[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean((1, 3)).max())


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("| run | frames with the patch | colour rule | texture rule | per input (%) |")
    print("| --- | ---: | ---: | ---: | --- |")
    for folder in map(Path, sys.argv[1:]):
        # real.py's renders, not its --painter's
        videos = sorted(p for p in folder.glob("*.mp4") if not p.name.endswith(".painted.mp4"))
        if not videos:
            sys.exit(f"error: {folder}: no .mp4 here. Pass a folder written by benchmarks/real.py --out.")
        colour, textured, per = [], [], {}
        for video in videos:
            c, t = np.array([(off_palette(f) > SHARE, texture(f) > TEXTURE) for f in read_frames(video)]).T
            per[video.stem] = 100 * float((c | t).mean())
            colour.append(c), textured.append(t)
        c, t = np.concatenate(colour), np.concatenate(textured)
        print(f"| {folder.name} | {100 * (c | t).mean():.1f} % of {len(c)} | {c.sum()} | {t.sum()} | "
              + ", ".join(f"{k} {v:.1f}" for k, v in per.items() if v) + " |")


if __name__ == "__main__":
    main()
