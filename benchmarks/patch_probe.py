"""What sets off the chequered patch (`benchmarks/chequer.py`'s colour rule) on real `.pose` files, by
generating their frames directly (no video encoding, so shares run higher than chequer.py's on mp4s):

    python benchmarks/patch_probe.py POSE... [--model RUN] [--frames 150] [--pin-hips] [--bank-meta BANK/train.meta.npz]
    python benchmarks/patch_probe.py POSE --ablate 0 4 8 28

Default: per pose, the share of the first --frames frames with the patch under the generator's
trained BatchNorm statistics, each batch's own statistics (batches of 32) and the statistics
adapted to its first --frames frames (`renderer.predict.adapt_norm`, as `render` does on up to 256 of all). `--pin-hips`: also with
every frame's hips put at the trained person's place (its profile's hips under the shoulder
midpoint), trained statistics. The drawn hips' height (y px, min-max) is listed beside; `--bank-meta`
(a pack-frames meta with pose_xy) prints the training frames' (1st-99th percentile). `--ablate FRAME...`: for those frames of the first pose, the share
of patch pixels (%) as drawn, without each part, and with the hips or the whole figure moved.
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from chequer import SHARE, off_palette  # noqa: E402

from posevideo.pose import arrays, point_groups, point_index, read_pose, to_layout  # noqa: E402
from posevideo.renderer.predict import adapt_norm, drawn_pose, generate, load_renderer, place  # noqa: E402
from posevideo.skeleton import draw_skeletons  # noqa: E402

HIPS = [point_index("reduced", "POSE_LANDMARKS", f"{s}_HIP") for s in ("LEFT", "RIGHT")]
SHOULDERS = [point_index("reduced", "POSE_LANDMARKS", f"{s}_SHOULDER") for s in ("LEFT", "RIGHT")]


def placed(path: str, frames: int, stats: dict, size: int, pin_hips: bool = False):
    """The pose's first `frames` frames as `render` draws them: (xy, conf) in the `size` px frame's pixels."""
    pose = read_pose(path)
    xy, conf = arrays(to_layout(pose, "reduced", path=path))
    xy, conf, boxes, _ = place(xy[:frames], conf[:frames], float(pose.body.fps), stats)
    if pin_hips:
        mid = xy[:, SHOULDERS].mean(axis=1)
        width = np.linalg.norm(xy[:, SHOULDERS[0]] - xy[:, SHOULDERS[1]], axis=-1)[:, None]
        for hip, place_ in zip(HIPS, stats["profile"]["hips"]):
            xy[:, hip] = mid + np.asarray(place_) * width
        conf[:, HIPS] = np.maximum(conf[:, HIPS], conf[:, SHOULDERS].min(axis=1, keepdims=True))
    return drawn_pose(xy, conf, boxes, size, conf)


def frames_of(G, xy, conf, size: int) -> np.ndarray:
    skeletons = draw_skeletons(xy, conf, "reduced", size)
    return np.concatenate([generate(G, skeletons[i:i + 32], "cpu") for i in range(0, len(skeletons), 32)])


def patched(frames: np.ndarray) -> float:
    return 100 * float(np.mean([off_palette(f) > SHARE for f in frames]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("poses", nargs="+")
    parser.add_argument("--model", default=None)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--pin-hips", action="store_true")
    parser.add_argument("--ablate", type=int, nargs="*", default=None, metavar="FRAME")
    parser.add_argument("--bank-meta", default=None)
    args = parser.parse_args()
    G, meta = load_renderer(args.model, "cpu")
    stats, size = meta["stats"], meta["model"]["size"]
    if args.ablate is not None:
        xy, conf = placed(args.poses[0], max(args.frames, max(args.ablate) + 1), stats, size)
        xy, conf = xy[args.ablate], conf[args.ablate]
        groups = point_groups("reduced")
        variants = {"as drawn": (xy, conf)}
        for part in ("face", "left_hand", "right_hand"):
            c = conf.copy()
            c[:, groups[part]] = 0
            variants[f"without {part}"] = (xy, c)
        c = conf.copy()
        c[:, HIPS] = 0
        variants["without hips"] = (xy, c)
        up = xy.copy()
        up[:, HIPS, 1] -= 20
        variants["hips 20 px higher"] = (up, conf)
        variants["everything 15 px higher"] = (xy - [0, 15], conf)
        centre = xy[:, groups["body"]].mean(axis=1, keepdims=True)
        variants["scaled 0.9 about the body"] = ((xy - centre) * 0.9 + centre, conf)
        print(f"patch pixels (%) in frames {args.ablate} of {args.poses[0]}")
        for label, (a, c) in variants.items():
            print(f"{label:28s}", " ".join(f"{100 * off_palette(f):5.2f}" for f in frames_of(G, a, c, size)))
        return
    if args.bank_meta:
        hips_y = np.load(args.bank_meta)["pose_xy"][:, HIPS, 1].astype(np.float32).mean(axis=1)
        print(f"training hips y: {np.quantile(hips_y, 0.01):.1f}-{np.quantile(hips_y, 0.99):.1f} px (1st-99th percentile)")
    print("| pose | drawn hips y (px) | trained statistics | batch statistics | adapted | hips pinned (trained) |\n"
          "| --- | --- | ---: | ---: | ---: | ---: |")
    for path in args.poses:
        xy, conf = placed(path, args.frames, stats, size)
        batch = copy.deepcopy(G)
        for m in batch.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.train()
                m.track_running_stats = False
        adapted = adapt_norm(copy.deepcopy(G), draw_skeletons(xy, conf, "reduced", size), "cpu")
        cells = [patched(frames_of(model, xy, conf, size)) for model in (G, batch, adapted)]
        pinned = placed(path, args.frames, stats, size, pin_hips=True) if args.pin_hips else None
        cells.append(patched(frames_of(G, *pinned, size)) if pinned else float("nan"))
        hy = xy[:, HIPS, 1].mean(axis=1)
        print(f"| {Path(path).name} ({len(xy)} frames) | {hy.min():.1f}-{hy.max():.1f} | "
              + " | ".join(f"{c:.1f} %" for c in cells) + " |")


if __name__ == "__main__":
    main()
