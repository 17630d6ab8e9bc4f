"""Where the renderer loses the hands that its painting keeps, from a `benchmarks/real.py --painter`
folder: every (frame, hand) the input had, by the wrist's place (above the shoulder line, chest,
lower), by the other wrist's distance and by the wrist's speed, renderer vs painting; with
`--train-poses`, also by how far the hand's shape is from every hand the renderer was trained on.

    python benchmarks/real_breakdown.py DIR [--train-poses FILE ...]   (DIR: real.py --painter 0 --out DIR)

FILE: the training poses, `.pose` files or a `pack-frames` bank's `train.meta.npz` (its pose_xy).
A hand's shape: its 21 points about the wrist, turned so the wrist -> middle knuckle points up and
scaled by that length (a left hand mirrored); its novelty: the RMS point distance to the nearest
training hand's shape, in those lengths. The own speaker's unseen sentences (the ceiling row of
real.py) are shown alike as the reference. Prints the tables that BENCHMARKS.md holds (MediaPipe
runs again on the painted videos: ~2 minutes).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from posevideo.pose import arrays, point_groups, point_index, read_pose
from posevideo.renderer.consistency import consistency

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("dir")
parser.add_argument("--train-poses", nargs="*", default=[])
args = parser.parse_args()
if not os.path.isfile(os.path.join(args.dir, "real.json")):
    sys.exit(f"error: {args.dir}/real.json: missing. Pass a benchmarks/real.py --painter 0 --out DIR folder.")
D = args.dir
table = json.load(open(f"{D}/real.json"))
W = {s: point_index("reduced", "POSE_LANDMARKS", f"{s}_WRIST") for s in ("LEFT", "RIGHT")}
S = {s: point_index("reduced", "POSE_LANDMARKS", f"{s}_SHOULDER") for s in ("LEFT", "RIGHT")}
HANDS = point_groups("reduced")
KNUCKLE, INDEX_KNUCKLE, PINKY_KNUCKLE = 9, 5, 17  # MIDDLE / INDEX / PINKY_MCP within a hand's 21 points (0: the wrist)
SHAPE, WHOLE, DIRECTION = slice(5, 45), 45, 46     # hand_frames' columns after the first five


def hand_shapes(xy: np.ndarray, conf: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 40) shapes of one side's hands (about the wrist, wrist -> middle knuckle turned up and of
    length 1, a left hand mirrored), whether each hand was drawn whole, and the direction of that
    bone in the image (degrees, 0: fingers up, 90: fingers to the hand's outside)."""
    hand = xy[:, HANDS[f"{side}_hand"]].astype(np.float64)
    rel = hand - hand[:, :1]
    bone = rel[:, KNUCKLE]
    length = np.linalg.norm(bone, axis=-1)
    seen = (conf[:, HANDS[f"{side}_hand"]].min(axis=1) > 0) & (length > 1e-6)
    up = bone / np.maximum(length, 1e-6)[:, None]                     # unit wrist -> knuckle
    # Rotate so `up` becomes (0, -1) (image y down): x' = -uy x + ux y, y' = -ux x - uy y.
    ux, uy = up[:, :1], up[:, 1:]
    turned = np.stack([-uy * rel[..., 0] + ux * rel[..., 1], -ux * rel[..., 0] - uy * rel[..., 1]], axis=-1)
    turned /= np.maximum(length, 1e-6)[:, None, None]
    direction = np.degrees(np.arctan2(up[:, 0], -up[:, 1]))          # 0: up, +90: image right
    if side == "left":
        turned[..., 0] *= -1
        direction = -direction
    return turned[:, 1:].reshape(len(hand), -1), seen, direction


def training_shapes(paths: list[str]) -> np.ndarray:
    """Every whole hand of the training poses (.pose or a pack-frames meta .npz with pose_xy)."""
    found = []
    for path in paths:
        if path.endswith(".npz"):
            z = np.load(path)
            if "pose_xy" not in z:
                sys.exit(f"error: {path}: holds no pose_xy. Pass the bank's meta as pack-frames wrote it, or .pose files.")
            xy, conf = z["pose_xy"].astype(np.float32), z["pose_conf"].astype(np.float32)
        else:
            from posevideo.pose import to_layout
            xy, conf = arrays(to_layout(read_pose(path), "reduced", path=path))
        for side in ("left", "right"):
            shapes, seen, _ = hand_shapes(xy, conf, side)
            found.append(shapes[seen])
    return np.concatenate(found)


def novelty(shapes: np.ndarray, train: np.ndarray) -> np.ndarray:
    """RMS point distance of each shape to its nearest training shape, in wrist-to-knuckle lengths."""
    import torch
    t = torch.from_numpy(train).float()
    chunks = np.array_split(shapes, max(1, len(shapes) // 256))
    out = [torch.cdist(torch.from_numpy(chunk).float(), t).min(dim=1).values for chunk in chunks]
    return torch.cat(out).numpy() / np.sqrt(shapes.shape[1] / 2)


def hand_frames(stem: str, row: dict) -> np.ndarray:
    """One row per (frame, hand) the input had: height, other wrist, speed, renderer found, painting
    found, hand shape (40), drawn whole, direction."""
    if not os.path.isfile(f"{D}/{stem}.painted.mp4"):
        sys.exit(f"error: {D}/{stem}.painted.mp4: missing. Run real.py with --painter 0.")
    pf = row["per_frame"]
    paint = consistency(f"{D}/{stem}.painted.mp4", f"{D}/{stem}.drawn.pose", progress=False)["per_frame"]
    drawn = read_pose(f"{D}/{stem}.drawn.pose")
    xy, conf = arrays(drawn)
    fps = float(drawn.body.fps)
    sh_y = (xy[:, S["LEFT"], 1] + xy[:, S["RIGHT"], 1]) / 2
    sw = np.linalg.norm(xy[:, S["LEFT"]] - xy[:, S["RIGHT"]], axis=-1)
    found = []
    for side, other in (("left", "RIGHT"), ("right", "LEFT")):
        w = xy[:, W[side.upper()]]
        present = np.asarray(pf[f"{side}_hand_present"], bool)
        r_found = np.asarray(pf[f"{side}_hand_found"], bool)
        p_found = np.asarray(paint[f"{side}_hand_found"], bool)
        height = (w[:, 1] - sh_y) / sw                        # shoulder widths below the shoulder line
        near = np.linalg.norm(w - xy[:, W[other]], axis=-1) / sw
        speed = np.r_[0, np.linalg.norm(np.diff(w, axis=0), axis=-1)] / sw * fps
        shapes, whole, direction = hand_shapes(xy, conf, side)
        found.append(np.column_stack([height, near, speed, r_found, p_found, shapes, whole, direction])[present])
    return np.concatenate(found).astype(float)


a = np.concatenate([hand_frames(os.path.splitext(name)[0], row) for name, row in table["rows"].items()
                    if "per_frame" in row])  # a refused input has none
h, n, s, r, p = a[:, :5].T


def line(label, m, r=r, p=p):
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


def palm_spread(shapes: np.ndarray) -> np.ndarray:
    """Degrees between the wrist -> index knuckle and wrist -> pinky knuckle of (N, 40) hand shapes."""
    points = shapes.reshape(-1, 20, 2)
    index, pinky = points[:, INDEX_KNUCKLE - 1], points[:, PINKY_KNUCKLE - 1]   # the wrist is not in a shape
    return np.degrees(np.abs(np.arctan2(index[:, 0], -index[:, 1]) - np.arctan2(pinky[:, 0], -pinky[:, 1])))


if args.train_poses:
    train = training_shapes(args.train_poses)
    whole = a[:, WHOLE] > 0
    real, nov = a[whole], novelty(a[whole, SHAPE], train)
    rr, pp = real[:, 3], real[:, 4]
    print(f"\nHand shapes: {len(train)} whole training hands; novelty = RMS distance to the nearest one "
          "(wrist-to-knuckle lengths); the own speaker's unseen sentences as the reference.\n")
    print("| hand-frames | n | renderer found % | painted found % |\n| --- | ---: | ---: | ---: |")
    ceiling = table.get("ceiling")
    if ceiling:
        own = hand_frames(os.path.splitext(os.path.basename(ceiling["video"]))[0], ceiling)
        own = own[own[:, WHOLE] > 0]
        own_nov = novelty(own[:, SHAPE], train)
        line(f"own speaker (ceiling): median novelty {np.median(own_nov):.3f}", np.ones(len(own), bool), own[:, 3], own[:, 4])
    line(f"inputs: drawn whole, median novelty {np.median(nov):.3f}", np.ones(len(real), bool), rr, pp)
    edges = np.quantile(nov, [0, 0.25, 0.5, 0.75, 1])
    for lo, hi in zip(edges[:-1], edges[1:]):
        line(f"inputs, novelty {lo:.3f}-{hi:.3f}", (nov >= lo) & (nov <= hi), rr, pp)
    spread, wide = palm_spread(real[:, SHAPE]), np.quantile(palm_spread(train), 0.99)
    line(f"inputs, palm within the training's (index-pinky knuckles <= {wide:.0f} degrees)", spread <= wide, rr, pp)
    line("inputs, palm wider than all but 1 % of the training hands", spread > wide, rr, pp)
    turn = np.abs(real[:, DIRECTION])
    for lo, hi, what in ((0, 45, "fingers up (within 45 degrees)"), (45, 135, "fingers sideways"),
                         (135, 181, "fingers down")):
        line(f"inputs, {what}", (turn >= lo) & (turn < hi), rr, pp)
