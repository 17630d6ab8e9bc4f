"""Real motion on the trained person: a frame bank of real poses, placed as `render` places them and
painted as the synthetic speaker (issue 12: the renderer loses real hands that the painting of the
same pose keeps, so show it real motion in training).

    python benchmarks/paint_real.py POSE... --base BANK --out BANK_OUT [--model RUN] [--seed 0 --sleeves short]
        [--every 1] [--base-every 1] [--add-bank BANK2 ...]

Each POSE (a real `.pose`, or a video's extraction as `real.py --drivers DIR` keeps it) is placed on
the renderer's person (`posevideo.renderer.predict.Placement`, `--retarget full`, hands at rest: the
exact skeleton `render` would draw for it), cut by its crop boxes, drawn as skeleton images and
painted as synthetic speaker SEED (`synthetic.draw.from_reduced`, the painter of `real.py
--painter`). The frames are added to BASE's train split (its test split is kept as it is), and the
whole is written with `write_bank`: `posevideo train renderer --data BANK_OUT` reads it.
`--base-every N` keeps every N-th of BASE's train frames (a smaller bank that travels, e.g. three
beside each other to a GPU machine); with no POSE, that thinned BASE alone (the control).
`--add-bank BANK2` adds every split of a bank drawn as it is (`pack-frames` of `synth-speaker
--motion-seed` recordings: other motion drawn exactly as the person's own) to the train split too;
`--add-painted BANK2` the same with every target painted anew from the frame's own drawn pose (the
same skeletons, painted targets). `--paint-base` paints BASE's own frames so (its dev split, where
it has one, joins its train split): with nothing added, the person drawn only as the painter draws.
The banks of BENCHMARKS.md "The other seeds' signing at GPU scale" and "Painted frames alone":
    python benchmarks/paint_real.py --base .devcarry/half_old --base-every 2 --add-painted /tmp/ms/bank_ms --out .devcarry/q_msp
    python benchmarks/paint_real.py --base /tmp/ms/bank_ms --paint-base --out .devcarry/allp
`--teacher RUN` draws the added poses' targets with a trained renderer of the person instead of the
painter (each pose's frames as `render` makes them: BatchNorm statistics adapted to that pose): for a
real person, whom no painter draws, a large renderer (`esn`) labels other motion for a small one
(distillation on poses without frames; `benchmarks/distill_gpu.sh` with `LABEL_POSES`). It applies to
POSE and `--add-painted` (whose targets are replaced; their skeletons kept), not to BASE.
Prints how many frames each input gave.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np
import torch

from posevideo.errors import InputError
from posevideo.pose import arrays, read_pose, to_layout
from posevideo.renderer.data import BANK_FILE, FrameBank, concat, load_frames, read_bank, regions, write_bank
from posevideo.renderer.predict import (DEFAULT_RENDERER, Placement, adapt_norm, adapt_sample, generate, load_renderer,
                                        pick_device, renderer_meta)
from posevideo.skeleton import draw_skeletons
from posevideo.synthetic import look_of
from posevideo.synthetic.draw import SLEEVES, Painter, from_reduced


def painted_frames(painter: Painter, crop_xy: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """(T, S, S, 3) uint8: each reduced pose (crop pixels) painted as the synthetic speaker."""
    return np.stack([painter.draw(points) for points in from_reduced(crop_xy, conf)])


class Teacher:
    """A trained renderer as the painter: `draw_all` makes the frames of one input's skeletons."""

    def __init__(self, run: Path, size: int, device: str):
        self.G = load_renderer(run, device, size)[0]
        self.trained = copy.deepcopy(self.G.state_dict())
        self.device = device

    def draw_all(self, skeletons: np.ndarray) -> np.ndarray:
        self.G.load_state_dict(self.trained)                     # each input adapts from the trained statistics
        with torch.inference_mode():
            adapt_norm(self.G, skeletons[adapt_sample(len(skeletons))], self.device)
            return np.concatenate([generate(self.G, skeletons[i:i + 64], self.device)
                                   for i in range(0, len(skeletons), 64)])


def painted_bank(path: Path, stats: dict, size: int, painter: Painter | Teacher, every: int) -> FrameBank:
    """One pose file placed as `render --retarget full` places it, drawn and painted at `size`."""
    pose = to_layout(read_pose(path), "reduced", path=path)
    xy, conf = arrays(pose)                                                        # (T, 178, 2) input pixels, (T, 178)
    xy, conf = xy[::every], conf[::every]
    placing = Placement(xy, conf, float(pose.body.fps) / every, stats, retarget="full", path=path)
    xy, conf = placing.frames(0, len(placing))                                     # the trained person's video pixels
    boxes = placing.boxes                                                          # (T, 3) x0, y0, side
    skeletons = draw_skeletons(xy, conf, "reduced", size, box=boxes)               # (T, S, S, 3) uint8
    crop_xy = ((xy - boxes[:, None, :2]) * (size / boxes[:, None, 2:3])).astype(np.float32)  # crop pixels
    frames = painter.draw_all(skeletons) if isinstance(painter, Teacher) else painted_frames(painter, crop_xy, conf)
    meta = {"clip": np.zeros(len(xy), np.int32), "regions": regions(crop_xy, conf),
            "pose_xy": np.where(conf[..., None] > 0, crop_xy, 0).astype(np.float32),
            "pose_conf": np.asarray(conf, np.float32)}
    return FrameBank(skeletons, frames, "cpu", stats, meta)


def repainted(bank: FrameBank, painter: Painter | Teacher, source: Path) -> FrameBank:
    """`bank` (read from `source`) with each target painted from the frame's own drawn pose, skeletons kept."""
    if isinstance(painter, Teacher):
        skeletons = np.asarray(bank.skeletons)
        clips = np.asarray(bank.meta["clip"]) if "clip" in bank.meta else np.zeros(len(skeletons), int)
        frames = np.empty((len(skeletons), bank.size, bank.size, 3), np.uint8)
        for clip in np.unique(clips):                            # one recording at a time, as `render` adapts
            frames[clips == clip] = painter.draw_all(skeletons[clips == clip])
        return FrameBank(skeletons, frames, "cpu", bank.stats, bank.meta)
    if "pose_xy" not in bank.meta:
        raise SystemExit(f"error: {source}: the bank holds no drawn poses (pose_xy) to paint from; "
                         "pack it again with `posevideo pack-frames`")
    frames = painted_frames(painter, bank.meta["pose_xy"], bank.meta["pose_conf"])
    return FrameBank(np.asarray(bank.skeletons), frames, "cpu", bank.stats, bank.meta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("poses", nargs="*", type=Path)
    parser.add_argument("--base", type=Path, required=True, help="a bank folder (write_bank) to add to")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None,
                        help="whose placement (stats, profile); default: --teacher, else the shipped renderer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sleeves", choices=SLEEVES, default="short", help="the shipped person's: short")
    parser.add_argument("--every", type=int, default=1, help="keep every n-th frame of each POSE")
    parser.add_argument("--base-every", type=int, default=1, help="keep every n-th train frame of BASE")
    parser.add_argument("--add-bank", type=Path, action="append", default=[],
                        help="a bank (write_bank) whose every split joins the train split as it is")
    parser.add_argument("--add-painted", type=Path, action="append", default=[],
                        help="a bank whose every split joins the train split, each target painted from its own pose")
    parser.add_argument("--teacher", type=Path, default=None, metavar="RUN",
                        help="draw the added targets with this trained renderer of the person, not the painter")
    parser.add_argument("--device", default=None, help="with --teacher: cuda or cpu (default: cuda where there is one)")
    parser.add_argument("--paint-base", action="store_true",
                        help="paint BASE's own targets from their poses too (its dev split joins its train split)")
    args = parser.parse_args()
    train, test = read_bank(args.base, "train"), read_bank(args.base, "test")
    if args.paint_base and "dev" in json.loads((args.base / BANK_FILE).read_text())["splits"]:
        train = concat([train, read_bank(args.base, "dev")])
    if args.base_every > 1:
        keep = np.arange(0, len(train), args.base_every)
        train = FrameBank(train.skeletons[keep], train.frames[keep], "cpu", train.stats,
                          {k: np.asarray(v)[keep] for k, v in train.meta.items()})
    stats = renderer_meta(args.model or args.teacher or DEFAULT_RENDERER)["stats"]
    painter = Painter(look_of(args.seed, args.sleeves), train.size)
    if args.teacher is not None:
        if args.paint_base:
            sys.exit("error: --paint-base paints BASE with the painter; with --teacher BASE keeps its own frames")
        painter = Teacher(args.teacher, train.size, pick_device(args.device))
    if args.paint_base:
        train, test = repainted(train, painter, args.base), repainted(test, painter, args.base)
        print(f"{args.base.name}: {len(train)} train and {len(test)} test frames painted")
    added = []
    for path in args.poses:
        try:
            bank = painted_bank(path, stats, train.size, painter, args.every)
        except InputError as error:  # one unreadable pose is left out, the others still go in
            print(f"error: {error}", file=sys.stderr)
            continue
        print(f"{path.name}: {len(bank)} frames")
        added.append(bank)
    if args.poses and not added:
        sys.exit("error: no POSE could be read; nothing written")
    for path in args.add_bank:
        bank = load_frames(path, None, train.size, "all")                          # every split, joined
        print(f"{path.name}: {len(bank)} frames")
        added.append(bank)
    for path in args.add_painted:
        bank = repainted(load_frames(path, None, train.size, "all"), painter, path)
        print(f"{path.name}: {len(bank)} frames {'drawn by ' + str(args.teacher) if args.teacher else 'painted'}")
        added.append(bank)
    write_bank({"train": concat([train, *added]), "test": test}, args.out)
    print(f"{args.out}: {len(train)} + {sum(len(b) for b in added)} train frames, {len(test)} test")


if __name__ == "__main__":
    main()
