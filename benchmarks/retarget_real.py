"""Real signers' poses through a renderer with `--retarget place` and `full`, judged by MediaPipe.

    .venv/bin/python benchmarks/retarget_real.py [--model DIR] [--max-frames 300] \
        ../shared/real/signer_mediapipe.pose ../shared/real/signer_example.pose

For each pose and mode: the frames `posevideo render --retarget MODE` would make (the same
`place`, `draw_skeletons` and generator, on the CPU, at most --max-frames), then MediaPipe Holistic
(model_complexity 1, as a video) on them: the share of frames where it finds the body and the
face, and where it finds each hand among the frames where the input had that hand. No ground truth
needed: a readable frame is one MediaPipe reads. Prints a table (markdown).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from posevideo.pose import arrays, point_groups, read_pose, to_layout
from posevideo.renderer.predict import generate, load_renderer, place
from posevideo.skeleton import draw_skeletons


def judge(frames: np.ndarray, fps: float) -> dict[str, np.ndarray]:
    """(T, S, S, 3) uint8 RGB -> {"body", "face", "left_hand", "right_hand"}: (T,) bool found, by the
    consistency metric's detector (MediaPipe Holistic, complexity 1, as a video)."""
    from posevideo.renderer.consistency import detect
    size = frames.shape[1]
    _, conf = detect(frames, fps, size, size)
    return {name: (conf[:, idx] > 0).any(axis=1) for name, idx in point_groups("reduced").items()}


def run(pose_path: str | Path, mode: str, model=None, max_frames: int = 300) -> dict:
    pose = read_pose(pose_path)
    fps = float(pose.body.fps)
    xy, conf = arrays(to_layout(pose, "reduced", path=pose_path))
    xy, conf = xy[:max_frames], conf[:max_frames]
    G, meta = load_renderer(model, "cpu")
    size = meta["model"]["size"]
    groups = point_groups("reduced")
    had = {side: (conf[:, groups[side]] > 0).any(axis=1) for side in ("left_hand", "right_hand")}
    placed, placed_conf, boxes, _ = place(xy, conf, fps, meta["stats"], retarget=mode,
                                          frame_size=(pose.header.dimensions.width, pose.header.dimensions.height))
    frames = []
    for start in range(0, len(xy), 16):
        skeletons = draw_skeletons(placed[start:start + 16], placed_conf[start:start + 16], "reduced", size,
                                   box=boxes[start:start + 16])
        frames.append(generate(G, skeletons, "cpu"))
    found = judge(np.concatenate(frames), fps)
    row = {"frames": len(xy), "body": found["body"].mean(), "face": found["face"].mean()}
    for side in ("left_hand", "right_hand"):
        row[side] = (found[side][had[side]].mean(), int(had[side].sum())) if had[side].any() else (None, 0)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("poses", nargs="+")
    parser.add_argument("--model", default=None)
    parser.add_argument("--max-frames", type=int, default=300)
    args = parser.parse_args()
    pct = lambda v: "-" if v is None else f"{100 * v:.0f} %"
    print("| pose | retarget | frames | body found | face found | left hand found (input had) | right hand found (input had) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for path in args.poses:
        for mode in ("place", "full"):
            r = run(path, mode, args.model, args.max_frames)
            print(f"| {Path(path).name} | {mode} | {r['frames']} | {pct(r['body'])} | {pct(r['face'])} | "
                  f"{pct(r['left_hand'][0])} ({r['left_hand'][1]}) | {pct(r['right_hand'][0])} ({r['right_hand'][1]}) |",
                  flush=True)


if __name__ == "__main__":
    main()
