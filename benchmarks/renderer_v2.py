"""Renderer v1 vs v2 (issue 13): the pieces `benchmarks/renderer_v2_gpu.sh` runs (`render` also
serves `benchmarks/real_person_gpu.sh`), and the consistency half that runs back on a CPU machine
(MediaPipe is not on the GPU machine).

    python benchmarks/renderer_v2.py render RUN POSES_DIR OUT_DIR     # GPU side: real poses -> mp4 + drawn arrays
    python benchmarks/renderer_v2.py summary OUT_DIR                  # GPU side: table of the eval JSONs
    python benchmarks/renderer_v2.py trained RUN OUT                  # a run with --ema: its trained weights as a renderer
    python benchmarks/renderer_v2.py consistency DIR [DIR ...]        # CPU side: MediaPipe on the renders (+ a pooled line a run)
    python benchmarks/renderer_v2.py sheet OUT.jpg DIR [DIR ...]      # rows: runs (DIRs), columns: their renders
    python benchmarks/renderer_v2.py zoom OUT.jpg STEM F,F,.. DIR [DIR ...]  # the upper body of frames F of STEM.mp4, 2x

`render` places each .pose on the trained person's body as `posevideo render` does (retarget full,
hands at rest where missing, BatchNorm statistics adapted to the pose), draws it, runs the generator
(a temporal model frame by frame, each from its previous output, carried across batches) and writes
the frames with OpenCV (mp4v: the GPU machine has no PyAV) beside the drawn pose's arrays (`consistency` makes them the .pose that
`render --drawn-out` writes).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's posevideo, not an installed one


def render(run: str, poses: str, out: str) -> None:
    import cv2
    import torch
    from posevideo.pose import arrays, read_pose, to_layout
    from posevideo.renderer.predict import (Placement, adapt_norm, adapt_sample, drawn_hands, drawn_pose, generate,
                                            load_renderer)
    from posevideo.skeleton import draw_skeletons

    device = "cuda" if torch.cuda.is_available() else "cpu"
    G, meta = load_renderer(run, device)
    size = meta["model"]["size"]
    adapt = not meta["model"].get("temporal")  # as `render` does by default (a temporal model: not)
    trained = {k: v.clone() for k, v in G.state_dict().items()}  # each pose adapts from these
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(poses).glob("*.pose")):
        start = time.perf_counter()
        pose = read_pose(path)
        fps = float(pose.body.fps)
        xy, conf = arrays(to_layout(pose, "reduced", path=path))
        placing = Placement(xy, conf, fps, meta["stats"], path=path)
        (placed, placed_conf), boxes = placing.frames(0, len(placing)), placing.boxes
        if adapt:  # each pose from the trained statistics, adapted to its own skeletons
            G.load_state_dict(trained)
            sample = adapt_sample(len(xy))
            adapt_norm(G, draw_skeletons(placed[sample], placed_conf[sample], "reduced", size, box=boxes[sample]), device)
        writer = cv2.VideoWriter(str(out_dir / f"{path.stem}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size, size))
        writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 100)
        previous = None
        for a in range(0, len(xy), 64):
            skeletons = draw_skeletons(placed[a:a + 64], placed_conf[a:a + 64], "reduced", size, box=boxes[a:a + 64])
            frames = generate(G, skeletons, device, previous,
                              drawn_hands(placed[a:a + 64], placed_conf[a:a + 64], boxes[a:a + 64], size))
            previous = frames[-1]
            for frame in frames:
                writer.write(np.ascontiguousarray(frame[..., ::-1]))
        writer.release()
        # The .pose header of the reduced layout comes from pose-format's holistic module, which imports
        # MediaPipe (not on the GPU machine): the arrays go back, `consistency` writes the .pose.
        drawn_xy, drawn_conf = drawn_pose(placed, placed_conf, boxes, size, placing.own(conf))
        np.savez(out_dir / f"{path.stem}.drawn.npz", xy=drawn_xy, conf=drawn_conf, fps=fps, size=size)
        print(f"{Path(run).name} {path.stem}: {len(xy)} frames in {time.perf_counter() - start:.1f} s", flush=True)


def trained(run: str, out: str) -> None:
    """A renderer folder (weights + checkpoint.json) of the weights a run with `--ema` trained
    ("G_train"), not their average ("G", what the run's renderer is): the two side by side."""
    from posevideo.renderer.model import RendererConfig, make_generator
    from posevideo.renderer.predict import renderer_meta
    from posevideo.training import build_model, load_checkpoint, save_checkpoint

    meta = renderer_meta(Path(run))
    G = make_generator(build_model(meta, RendererConfig.from_dict))
    load_checkpoint(meta["path"], {"G_train": G})
    keep = {k: meta[k] for k in ("kind", "step", "model", "stats", "train") if k in meta}
    print(save_checkpoint(out, {"G": G}, None, {**keep, "source": f"{meta['path']} (G_train)"}))


def summary(out: str) -> str:
    """A markdown table of every <run>.eval.json in `out` with the run's last training line."""
    rows = ["| run | steps | PSNR frame / hands / face (dB) | SSIM frame | flicker | change out / truth | "
            "change out − truth: hands / face / rest | warp error out / truth | train images/s (shared GPU) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for path in sorted(Path(out).glob("*.eval.json")):
        run = path.name[:-len(".eval.json")]
        m = json.loads(path.read_text())["metrics"]
        metrics = Path(out) / f"{run}.metrics.jsonl"
        last = json.loads(metrics.read_text().splitlines()[-1]) if metrics.exists() else {}
        ratio = m["change_output"] / m["change_target"] if m.get("change_target") else float("nan")
        by_part = " / ".join(f"{m[f'change_output_{p}'] - m[f'change_target_{p}']:+.3f}" if f"change_output_{p}" in m
                             else "-" for p in ("hands", "face", "rest"))   # evaluations before 2026-12-07: "-"
        rows.append(f"| {run} | {last.get('step', '?')} | {m['psnr_frame']:.2f} / {m['psnr_hands']:.2f} / "
                    f"{m['psnr_face']:.2f} | {m['ssim_frame']:.4f} | {m['flicker']:.3f} | "
                    f"{m['change_output']:.3f} / {m['change_target']:.3f} = {ratio:.2f}x | {by_part} | "
                    f"{m.get('warp_error', float('nan')):.3f} / {m.get('warp_error_target', float('nan')):.3f} | "
                    f"{last.get('images_per_s', float('nan')):.0f} |")
    return "\n".join(rows)


def consistency(dirs: list[str]) -> str:
    """MediaPipe on every <pose>.mp4 beside its <pose>.drawn.pose, a table a folder (a run)."""
    from posevideo.pose import make_pose, write_pose
    from posevideo.renderer.consistency import consistency as judge, pooled, pooled_line, table
    lines = []
    for folder in map(Path, dirs):
        reports = {}
        for video in sorted(folder.glob("*.mp4")):
            drawn = folder / f"{video.stem}.drawn.pose"
            if not drawn.exists():
                with np.load(folder / f"{video.stem}.drawn.npz") as z:
                    size = int(z["size"])
                    write_pose(make_pose("reduced", z["xy"], z["conf"], float(z["fps"]), size, size), drawn)
            reports[video.stem] = judge(video, drawn)["summary"]
        lines += [f"## {folder.name}", table(reports), pooled_line(pooled(reports)), ""]
    return "\n".join(lines)


def sheet(out: str, dirs: list[str], side: int = 256) -> None:
    """A contact sheet of the renders: one row a run folder (named at its left), one column a pose
    (its frame at 40 % of the clip, where signers are mid-sign), every frame scaled to `side`. The
    columns are the poses of every folder; a folder's own held-out interval (`real.py`'s
    own_<name>.mp4, another file for each person) goes in one first column, "own"."""
    import cv2
    found = {p.stem for folder in dirs for p in Path(folder).glob("*.mp4")}
    stems = (["own"] if any(s.startswith("own_") for s in found) else []) + sorted(s for s in found if not s.startswith("own_"))
    rows = []
    for folder in map(Path, dirs):
        tiles = []
        for stem in stems:
            path = next(iter(sorted(folder.glob("own_*.mp4"))), folder / "-") if stem == "own" else folder / f"{stem}.mp4"
            video = cv2.VideoCapture(str(path))
            video.set(cv2.CAP_PROP_POS_FRAMES, int(video.get(cv2.CAP_PROP_FRAME_COUNT) * 0.4))
            ok, frame = video.read()
            video.release()
            tile = cv2.resize(frame, (side, side), interpolation=cv2.INTER_AREA) if ok else np.zeros((side, side, 3), np.uint8)
            tiles.append(tile)
        label = np.full((side, 130, 3), 255, np.uint8)
        cv2.putText(label, folder.name[:11], (4, side // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.hstack([label] + tiles))
    cv2.imwrite(out, np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {out}: rows {', '.join(Path(d).name for d in dirs)}; columns {', '.join(stems)}")


def zoom(out: str, stem: str, frames: str, dirs: list[str], box=(48, 40, 208, 200), scale: int = 2) -> None:
    """The hands up close: one row a run folder, one column a frame of its STEM.mp4 (a render of
    `real.py` or `render`), the box (x0, y0, x1, y1 of the 256 px frame: the upper body where the
    signing hands are) enlarged `scale` times."""
    import cv2
    from posevideo.video import read_frames
    wanted = [int(f) for f in frames.split(",")]
    x0, y0, x1, y1 = box
    side = (x1 - x0) * scale
    rows = []
    for folder in map(Path, dirs):
        video = list(read_frames(folder / f"{stem}.mp4"))
        tiles = [cv2.resize(np.ascontiguousarray(video[min(f, len(video) - 1)][y0:y1, x0:x1, ::-1]), (side, side),
                            interpolation=cv2.INTER_CUBIC) for f in wanted]
        label = np.full((side, 130, 3), 255, np.uint8)
        cv2.putText(label, folder.name[:11], (4, side // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.hstack([label] + tiles))
    cv2.imwrite(out, np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {out}: rows {', '.join(Path(d).name for d in dirs)}; columns frames {frames} of {stem}")


if __name__ == "__main__":
    # each command: its function, how many arguments it takes (None: any number from the given least) and how
    # they are passed: as they are, or the last ones (from index `rest`) as one list of folders
    commands = {"render": (render, 3, 3, None), "trained": (trained, 2, 2, None), "summary": (summary, 1, 1, None),
                "consistency": (consistency, 1, None, 0), "sheet": (sheet, 2, None, 1), "zoom": (zoom, 4, None, 3)}
    what, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if what not in commands:
        raise SystemExit(f"unknown command {what!r}: {', '.join(commands)}\n{__doc__.split(chr(10) * 2)[1]}")
    function, least, most, rest = commands[what]
    if len(args) < least or (most is not None and len(args) > most):
        usage = next(line.strip() for line in __doc__.splitlines() if f"renderer_v2.py {what} " in line)
        raise SystemExit(f"{what}: {len(args)} arguments given; usage: {usage}")
    result = function(*args) if rest is None else function(*args[:rest], args[rest:])
    if result is not None:
        print(result)
