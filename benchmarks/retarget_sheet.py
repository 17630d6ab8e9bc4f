"""Contact sheet: a real person's .pose through a renderer with `--retarget place` and `full`.

    .venv/bin/python benchmarks/retarget_sheet.py --pose ../shared/real/signer_mediapipe.pose \
        --out docs/real/signer_mediapipe_retarget.jpg [--model DIR] [--frames 5]

One row per frame (evenly spaced): the input's skeleton in its own crop (`none`), then skeleton |
rendered frame for `place` (shoulders only) and for `full` (rebuilt on the trained person's body).
Exactly what `posevideo render --retarget MODE` draws and generates for those frames (the same
`place`, `draw_skeletons` and generator), on the CPU. Writes a JPEG.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from posevideo.files import atomic_output
from posevideo.pose import arrays, read_pose, to_layout
from posevideo.renderer.predict import generate, load_renderer, place
from posevideo.skeleton import draw_skeletons

TILE = 208  # pixels per tile in the sheet


def sheet(pose_path: str | Path, out: str | Path, model: str | Path | None = None, frames: int = 5) -> list[str]:
    """Write the sheet; return the notes `full` gave."""
    pose = read_pose(pose_path)
    fps = float(pose.body.fps)
    xy, conf = arrays(to_layout(pose, "reduced", path=pose_path))
    G, meta = load_renderer(model, "cpu")
    size = meta["model"]["size"]
    pick = np.linspace(0, len(xy) - 1, frames + 2).round().astype(int)[1:-1]  # away from the ends
    columns, notes = [], []
    frame_size = (pose.header.dimensions.width, pose.header.dimensions.height)
    for mode in ("none", "place", "full"):
        placed, placed_conf, boxes, mode_notes = place(xy, conf, fps, meta["stats"], retarget=mode,
                                                       frame_size=frame_size, path=pose_path)
        if mode == "full":
            notes = mode_notes
        skeletons = draw_skeletons(placed[pick], placed_conf[pick], "reduced", size, box=boxes[pick])
        columns.append((f"input ({Path(pose_path).name})", skeletons))
        if mode != "none":
            columns[-1] = (f"{mode}: skeleton", skeletons)
            columns.append((f"{mode}: rendered", generate(G, skeletons, "cpu")))
    rows = []
    for r, t in enumerate(pick):
        tiles = [cv2.resize(images[r], (TILE, TILE), interpolation=cv2.INTER_AREA) for _, images in columns]
        row = np.concatenate(tiles, axis=1)
        cv2.putText(row, f"frame {t}", (4, TILE - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1, cv2.LINE_AA)
        rows.append(row)
    header = np.zeros((18, TILE * len(columns), 3), np.uint8)
    for c, (title, _) in enumerate(columns):
        cv2.putText(header, title[:30], (c * TILE + 4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    image = np.concatenate([header, *rows], axis=0)
    with atomic_output(out) as tmp:
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        tmp.write_bytes(data.tobytes())
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pose", required=True)
    parser.add_argument("--out", required=True, help="JPEG to write.")
    parser.add_argument("--model", default=None, help="Renderer (default: the shipped small renderer).")
    parser.add_argument("--frames", type=int, default=5)
    args = parser.parse_args()
    for note in sheet(args.pose, args.out, args.model, args.frames):
        print(f"note: {note}")
    print(args.out)


if __name__ == "__main__":
    main()
