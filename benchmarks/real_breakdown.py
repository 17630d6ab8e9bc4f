"""Where the renderer loses the hands that its painting keeps, from a `benchmarks/real.py --painter`
folder: every (frame, hand) the input had, by the wrist's place (above the shoulder line, chest,
lower), by the other wrist's distance and by the wrist's speed, renderer vs painting.

    python benchmarks/real_breakdown.py DIR        (DIR: real.py --painter 0 --out DIR)

Prints the table that BENCHMARKS.md holds (MediaPipe runs again on the painted videos: ~2 minutes).
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

from posevideo.pose import arrays, point_index, read_pose
from posevideo.renderer.consistency import consistency

if len(sys.argv) != 2 or not os.path.isfile(os.path.join(sys.argv[1], "real.json")):
    sys.exit("usage: python benchmarks/real_breakdown.py DIR   (a benchmarks/real.py --painter 0 --out DIR folder)")
D = sys.argv[1]
rows = json.load(open(f"{D}/real.json"))["rows"]
W = {s: point_index("reduced", "POSE_LANDMARKS", f"{s}_WRIST") for s in ("LEFT", "RIGHT")}
S = {s: point_index("reduced", "POSE_LANDMARKS", f"{s}_SHOULDER") for s in ("LEFT", "RIGHT")}
acc = []
for name, row in rows.items():
    stem = os.path.splitext(name)[0]
    if "per_frame" not in row:  # a refused input
        continue
    if not os.path.isfile(f"{D}/{stem}.painted.mp4"):
        sys.exit(f"error: {D}/{stem}.painted.mp4: missing. Run real.py with --painter 0.")
    pf = row["per_frame"]
    paint = consistency(f"{D}/{stem}.painted.mp4", f"{D}/{stem}.drawn.pose", progress=False)["per_frame"]
    drawn = read_pose(f"{D}/{stem}.drawn.pose")
    xy, _ = arrays(drawn)
    fps = float(drawn.body.fps)
    sh_y = (xy[:, S["LEFT"], 1] + xy[:, S["RIGHT"], 1]) / 2
    sw = np.linalg.norm(xy[:, S["LEFT"]] - xy[:, S["RIGHT"]], axis=-1)
    for side, other in (("left", "RIGHT"), ("right", "LEFT")):
        w = xy[:, W[side.upper()]]
        present = np.asarray(pf[f"{side}_hand_present"], bool)
        r_found = np.asarray(pf[f"{side}_hand_found"], bool)
        p_found = np.asarray(paint[f"{side}_hand_found"], bool)
        height = (w[:, 1] - sh_y) / sw                        # shoulder widths below the shoulder line
        near = np.linalg.norm(w - xy[:, W[other]], axis=-1) / sw
        speed = np.r_[0, np.linalg.norm(np.diff(w, axis=0), axis=-1)] / sw * fps
        acc.append(np.stack([height, near, speed, r_found, p_found], axis=1)[present])
a = np.concatenate(acc).astype(float)
h, n, s, r, p = a.T


def line(label, m):
    print(f"| {label} | {int(m.sum())} | {100 * r[m].mean():.1f} | {100 * p[m].mean():.1f} |")


print("| hand-frames | n | renderer found % | painted found % |\n| --- | ---: | ---: | ---: |")
line("all", np.ones(len(a), bool))
line("wrist above the shoulder line", h < 0)
line("wrist 0-1 shoulder width below it (chest)", (h >= 0) & (h < 1))
line("wrist more than 1 below it (belly, lap)", h >= 1)
line("the other wrist within 0.5 shoulder widths", n < 0.5)
line("the other wrist farther", n >= 0.5)
line("wrist slower than 1 shoulder width/s", s < 1)
line("wrist 1-3 shoulder widths/s", (s >= 1) & (s < 3))
line("wrist 3 or more shoulder widths/s", s >= 3)
