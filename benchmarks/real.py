"""Real inputs through the renderer, judged by pose consistency (no ground truth needed).

    python benchmarks/real.py [--model RUN] [--frames 150] [--retarget none|place|full] [--painter 0 [--painter-sleeves short]]
        [--drivers DIR] [--held-out DIR] [--out DIR]

Every `.pose` in ../shared/real/ goes through `render`, every video through `transfer`, with the
shipped small renderer (or `--model RUN`), each cut to its first `--frames` frames (0: all). Each
output is judged by `posevideo.renderer.consistency` against the pose as drawn (`--drawn-out`):
body, face and hands found, body error (shoulder widths) and hand-shape error (hand sizes). The
own-speaker ceiling beside them: the same renderer on its own speaker's poses, by default the
synthetic speaker of seed 0 saying sentences it was not trained on (`posevideo synth-speaker --seed 0
--seconds 40 --fps 15 --sentence-bank`, all 600 frames, made in a temp folder: the shipped renderer's
person; before 2026-12-04 it was 20 s of the bundled sentences, the first seconds of its training poses,
cut to `--frames`);
`--ceiling FILE` for a renderer of another person: a
.pose or video of that person (all of it, as the default ceiling), ideally held out from its training
(e.g. the test interval).
`--retarget` is passed to `render_pose` / `transfer` when given (for checkouts that have it).
`--painter SEED` also paints each drawn pose as synthetic speaker SEED (`synthetic.draw.from_reduced`,
DIR/<input>.painted.mp4) and judges the painting: the score of a renderer that had learnt that person
perfectly, so a low figure tells the input's pose apart from the renderer's failing (two more columns).
Below the table, the inputs pooled (issue 12's figures: hands found in all their hand-frames, inputs
with body error <= 0.08) and the pooled hands over the ceiling's. `--held-out DIR` also renders the
renderer's own held-out poses there (`benchmarks/heldout_pose.py`: the test intervals of its bank) and
gives the real hands over their pooled hands too: a second reference, as the issue's "own speaker's
held-out poses" can be read (BENCHMARKS.md "Which own poses make the ceiling").

Writes DIR/real.json (summaries, per-frame arrays, timings, machine, command), DIR/<input>.mp4,
DIR/<input>.drawn.pose and a contact sheet per input, DIR/<input>.png: a few evenly spaced frames,
each a row of generated | drawn skeleton (the parts the input had) | MediaPipe's skeleton of the
generated frame. Prints the table that BENCHMARKS.md holds.
"""
from __future__ import annotations

import argparse
import datetime
import inspect
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from posevideo.errors import InputError
from posevideo.files import atomic_output, write_json
from posevideo.renderer.consistency import consistency, pooled, pooled_line
from posevideo.renderer.predict import DEFAULT_RENDERER, render_pose
from posevideo.transfer import transfer

REAL = Path(__file__).resolve().parents[2] / "shared" / "real"
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi")
SHEET_ROWS = 4


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def retarget_kwargs(function, retarget: str | None) -> dict:
    """{"retarget": mode} when asked for; a clear exit when this checkout's function lacks it."""
    if retarget is None:
        return {}
    if "retarget" not in inspect.signature(function).parameters:
        sys.exit(f"error: --retarget {retarget}: {function.__module__}.{function.__name__} in this checkout takes no "
                 "'retarget' argument (the retargeting change has not landed). Leave --retarget out.")
    return {"retarget": retarget}


def driver_kwargs(path: Path, cut: Path, args) -> dict:
    """{"driver": Pose} with `--drivers DIR`: the extraction of the driver `path` cut to `--frames`
    (`cut`), read from DIR/<stem>.<frames>.pose, or made and kept there the first time, so every run
    and model judged with that DIR sees the same driver pose (MediaPipe's extraction differs from one
    process to the next). {} without `--drivers`; a clear exit where `transfer` cannot take one."""
    if args.drivers is None:
        return {}
    if "driver" not in inspect.signature(transfer).parameters:
        sys.exit("error: --drivers: posevideo.transfer.transfer in this checkout takes no 'driver' argument. "
                 "Leave --drivers out.")
    from posevideo.pose import read_pose, write_pose
    from posevideo.pose.extract import extract_video
    kept = args.drivers / f"{path.stem}.{args.frames}.pose"
    if not kept.exists():
        args.drivers.mkdir(parents=True, exist_ok=True)
        write_pose(extract_video(cut), kept)
    return {"driver": read_pose(kept)}


def cut_pose(path: Path, frames: int, out: Path) -> Path:
    """The first `frames` frames of a .pose (reduced layout, as `render` reads it) -> `out`."""
    from posevideo.pose import arrays, make_pose, read_pose, to_layout, write_pose
    pose = read_pose(path)
    xy, conf = arrays(to_layout(pose, "reduced", path=path))
    if frames:
        xy, conf = xy[:frames], conf[:frames]
    dims = pose.header.dimensions
    write_pose(make_pose("reduced", xy, conf, float(pose.body.fps), dims.width, dims.height), out)
    return out


def cut_video(path: Path, frames: int, out: Path) -> Path:
    """The first `frames` frames of a video (constant rate, no audio) -> `out` (mp4)."""
    from posevideo.video import constant_rate_frames, probe, write_video
    info = probe(path)
    kept = [f for _, f in zip(range(frames or info.frames), constant_rate_frames(path, info))]
    write_video(out, kept, info.fps)
    return out


def contact_sheet(video: Path, report: dict, out: Path) -> None:
    """SHEET_ROWS evenly spaced frames: generated | drawn skeleton | MediaPipe's skeleton."""
    from PIL import Image
    from posevideo.skeleton import draw_skeleton
    from posevideo.video import read_frames
    frames = list(read_frames(video))
    size = frames[0].shape[0]
    rows = []
    for t in np.linspace(0, len(frames) - 1, min(SHEET_ROWS, len(frames))).round().astype(int):
        drawn = draw_skeleton(report["drawn_xy"][t], report["drawn_conf"][t], "reduced", size)
        found = draw_skeleton(report["found_xy"][t], report["found_conf"][t], "reduced", size)
        rows.append(np.concatenate([frames[t], drawn, found], axis=1))
    with atomic_output(out) as tmp:
        Image.fromarray(np.concatenate(rows, axis=0)).save(tmp)


def judge(name: str, video: Path, drawn: Path, out_dir: Path, seconds: float) -> dict:
    start = time.perf_counter()
    report = consistency(video, drawn, progress=False, keep_found=True)
    contact_sheet(video, report, out_dir / f"{name}.png")
    return {"summary": report["summary"], "per_frame": report["per_frame"],
            "seconds": {"generate": round(seconds, 1), "consistency": round(time.perf_counter() - start, 1)},
            "sheet": str(out_dir / f"{name}.png"), "video": str(video)}


def run_input(path: Path, args, out_dir: Path, tmp: Path) -> dict:
    """A .pose through `render`, a video through `transfer`, each with `--drawn-out`; then judged."""
    start = time.perf_counter()
    video, drawn = out_dir / f"{path.stem}.mp4", out_dir / f"{path.stem}.drawn.pose"
    adapting = {} if args.adapt_norm else {"adapt": False}  # checkouts before the option have no `adapt`
    if path.suffix == ".pose":
        render_pose(cut_pose(path, args.frames, tmp / f"{path.stem}.pose"), args.model, video, device=args.device,
                    progress=False, drawn_out=drawn, **retarget_kwargs(render_pose, args.retarget), **adapting)
    else:
        cut = cut_video(path, args.frames, tmp / f"{path.stem}.mp4")
        transfer(cut, args.model, video, device=args.device, progress=False, drawn_out=drawn,
                 **retarget_kwargs(transfer, args.retarget), **adapting, **driver_kwargs(path, cut, args))
    return judge(path.stem, video, drawn, out_dir, time.perf_counter() - start)


def paint(name: str, drawn: Path, seed: int, out_dir: Path, sleeves: str | None = None) -> dict:
    """The drawn pose painted as synthetic speaker `seed` (`posevideo.synthetic.draw.from_reduced`),
    judged like the renderer's video: the score of a renderer that had learnt its person perfectly."""
    from posevideo.pose import arrays, read_pose
    from posevideo.synthetic import look_of
    from posevideo.synthetic.draw import Painter, from_reduced
    from posevideo.video import VideoWriter
    pose = read_pose(drawn)
    size = pose.header.dimensions.width
    painter = Painter(look_of(seed, sleeves), size)
    video = out_dir / f"{name}.painted.mp4"
    with atomic_output(video) as tmp, VideoWriter(tmp, float(pose.body.fps), size, size) as writer:
        for points in from_reduced(*arrays(pose)):
            writer.write(painter.draw(points))
    report = consistency(video, drawn, progress=False)
    return {"summary": report["summary"], "video": str(video)}


def run_ceiling(args, out_dir: Path, tmp: Path) -> dict:
    """The own-speaker row, all of its frames (not cut to --frames): `--ceiling FILE`, or the
    synthetic speaker of seed 0 on sentences from the bank, not the bundled ones its renderers were
    trained on (its own person, in motion it has not seen)."""
    whole = argparse.Namespace(**{**vars(args), "frames": 0})
    if args.ceiling is not None:  # named apart, so the person's own video can also be an input row
        own = tmp / f"own_{args.ceiling.name}"
        own.symlink_to(args.ceiling.resolve())
        return run_input(own, whole, out_dir, tmp)
    from posevideo.synthetic import synth_speaker
    made = synth_speaker(0, args.ceiling_seconds, tmp / "own", fps=15, sentence_bank=True)
    return run_input(Path(made["pose"]), whole, out_dir, tmp)


def run_held_out(args, out_dir: Path, tmp: Path) -> dict[str, dict]:
    """`--held-out DIR`: every .pose there (the renderer's own held-out poses, e.g. made by
    `benchmarks/heldout_pose.py`), all of its frames, through `render` as the real inputs go."""
    whole = argparse.Namespace(**{**vars(args), "frames": 0})
    rows = {}
    for path in sorted(args.held_out.glob("*.pose")):
        print(f"held out: {path.name} ...", file=sys.stderr, flush=True)
        own = tmp / f"held_{path.name}"  # named apart from the input rows' files
        own.symlink_to(path.resolve())
        rows[path.name] = run_input(own, whole, out_dir, tmp)
    return rows


def summary_lines(rows: dict[str, dict], ceiling: dict | None, held_out: dict[str, dict] | None) -> tuple[str, dict]:
    """The inputs pooled (`pooled`: issue 12's hands and body figures), over the ceiling's hands and
    over the own held-out poses' pooled hands when given: lines to print and their figures."""
    pool = pooled({name: row["summary"] for name, row in rows.items() if "summary" in row})
    lines, figures = [pooled_line(pool)], {"pooled": pool}
    share = pool["hands"]["found_share"]
    references = [("the ceiling", ceiling["summary"]["hands"]["found_share"] if ceiling else None)]
    if held_out:
        held = pooled({name: row["summary"] for name, row in held_out.items()})
        figures["held_out_pooled"] = held
        lines.append("own held-out poses " + pooled_line(held))
        references.append(("the own held-out poses pooled", held["hands"]["found_share"]))
    for name, top in references:
        if share is not None and top:
            lines.append(f"real hands / {name}: {100 * share / top:.1f} % ({100 * share:.1f} / {100 * top:.1f})")
    return "\n".join(lines), figures


def with_painter(row: dict, args, out_dir: Path) -> dict:
    """`row` (`run_input`'s) with the painting of its drawn pose judged (`paint`) under "painter"
    when --painter is given."""
    if args.painter is not None:
        name = Path(row["video"]).stem
        row["painter"] = paint(name, out_dir / f"{name}.drawn.pose", args.painter, out_dir, args.painter_sleeves)
    return row


def table(rows: dict[str, dict], ceiling: dict | None, painter: bool = False) -> str:
    def pct(part):
        return "-" if part["found_share"] is None else f"{100 * part['found_share']:.1f}"

    def num(stat):
        return "-" if stat["mean"] is None else f"{stat['mean']:.3f}"

    top = None if ceiling is None else ceiling["summary"]["hands"]["found_share"]
    head = (f"| input | frames | body found % | face found % | hands found % (of hand-frames) | hands / ceiling "
            f"| body error (sw) | hand error (hs) |" + (" painted: hands found % | painted: body error (sw) |" if painter else "")
            + "\n|---|---|---|---|---|---|---|---|" + ("---|---|" if painter else ""))
    lines = [head]
    for name, row in ([("own speaker (ceiling)", ceiling)] if ceiling else []) + list(rows.items()):
        if "error" in row:
            lines.append(f"| {name} | - | {row['error']} | | | | | |" + (" | |" if painter else ""))
            continue
        s = row["summary"]
        share = s["hands"]["found_share"]
        ratio = "-" if share is None or not top else f"{100 * share / top:.0f} %"
        line = (f"| {name} | {s['frames']} | {pct(s['body'])} | {pct(s['face'])} | {pct(s['hands'])} "
                f"({s['hands']['present']}) | {ratio} | {num(s['body_error'])} | {num(s['hand_error'])} |")
        if painter:
            p = row["painter"]["summary"]
            line += f" {pct(p['hands'])} | {num(p['body_error'])} |"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=REAL, help="Folder of real .pose files and videos.")
    parser.add_argument("--model", default=None, help="Renderer run or checkpoint (default: the shipped small one).")
    parser.add_argument("--frames", type=int, default=150, help="First N frames of each input (0: all).")
    parser.add_argument("--retarget", choices=("none", "place", "full"), default=None,
                        help="Passed to render/transfer when given (checkouts with retargeting).")
    parser.add_argument("--out", type=Path, default=Path("real_benchmark"), help="Folder for videos, sheets, JSON.")
    parser.add_argument("--only", nargs="*", default=None, help="Only inputs whose file name starts with one of these.")
    parser.add_argument("--ceiling", type=Path, default=None,
                        help="The renderer's own person (a .pose or video) for the ceiling row "
                             "(default: synthetic speaker 0, the shipped renderer's, on unseen sentences).")
    parser.add_argument("--ceiling-seconds", type=float, default=40.0)
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--held-out", type=Path, default=None, metavar="DIR",
                        help="A folder of the renderer's own held-out poses (.pose, e.g. the test intervals of its "
                             "bank by benchmarks/heldout_pose.py): each goes through render, and the real hands "
                             "are also given over their pooled hands (a second reference beside the ceiling).")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--drivers", type=Path, default=None, metavar="DIR",
                        help="Keep each video's extracted driver pose in DIR and reuse it (runs and models judged "
                             "with one DIR see the same driver poses; MediaPipe's extraction differs between runs).")
    parser.add_argument("--no-adapt-norm", dest="adapt_norm", action="store_false",
                        help="render/transfer without adapting the renderer's BatchNorm statistics to each input "
                             "(the default before 2026-12-04, 09:00 UTC).")
    parser.add_argument("--painter-sleeves", choices=("long", "short", "none"), default=None,
                        help="--painter: paint that person with these sleeves instead of its own "
                             "(synth-speaker --sleeves).")
    parser.add_argument("--painter", type=int, default=None, metavar="SEED",
                        help="Also paint each drawn pose as synthetic speaker SEED (0 with --painter-sleeves short: "
                             "the shipped renderer's person since 2026-12-04, 21:00 UTC) and judge the painting: what "
                             "a renderer that had learnt that person perfectly would score on the same input (two "
                             "more columns).")
    args = parser.parse_args()
    if not args.real.is_dir():
        sys.exit(f"error: {args.real}: no such folder. Pass --real DIR (the shared real footage).")
    if args.held_out is not None and not any(args.held_out.glob("*.pose")):
        sys.exit(f"error: {args.held_out}: no .pose files in it. Make them with benchmarks/heldout_pose.py.")
    if args.ceiling is not None and not args.ceiling.is_file():
        sys.exit(f"error: {args.ceiling}: no such file. Pass --ceiling a .pose or video of the renderer's person.")
    inputs = sorted(p for p in args.real.iterdir() if p.suffix == ".pose" or p.suffix.lower() in VIDEO_SUFFIXES)
    if args.only:
        inputs = [p for p in inputs if any(p.name.startswith(o) for o in args.only)]
    for function in (render_pose, transfer):  # refuse an unknown --retarget now, not after the ceiling
        retarget_kwargs(function, args.retarget)
    args.out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict] = {}
    ceiling = held_out = None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not args.no_ceiling:
            print(f"own speaker ({args.ceiling or 'synthetic seed 0'}) ...", file=sys.stderr, flush=True)
            ceiling = with_painter(run_ceiling(args, args.out, tmp), args, args.out)
        if args.held_out is not None:
            held_out = run_held_out(args, args.out, tmp)
        for path in inputs:
            print(f"{path.name} ...", file=sys.stderr, flush=True)
            try:
                rows[path.name] = with_painter(run_input(path, args, args.out, tmp), args, args.out)
            except InputError as error:  # a refused input is a row of the table, not the end of the run
                rows[path.name] = {"error": str(error)}
    text = table(rows, ceiling, painter=args.painter is not None)
    lines, figures = summary_lines(rows, ceiling, held_out)
    text += "\n\n" + lines
    print(text)
    write_json(args.out / "real.json", {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "cpu": cpu_model(),
        "command": " ".join(["python"] + sys.argv), "model": str(args.model or DEFAULT_RENDERER),
        "retarget": args.retarget, "adapt_norm": args.adapt_norm, "frames": args.frames, "painter": args.painter,
        "painter_sleeves": args.painter_sleeves, "drivers": None if args.drivers is None else str(args.drivers),
        "ceiling_input": str(args.ceiling or "synthetic speaker 0, sentence bank"),
        "ceiling": ceiling, "rows": rows, "table": text, **figures,
        "held_out_input": None if args.held_out is None else str(args.held_out), "held_out": held_out,
        "note": "found %: of frames where the part was drawn; hands / ceiling: hands found % over the own-speaker "
                "ceiling's; body error in shoulder widths after a similarity fit; hand error in hand sizes (wrist "
                "to middle-finger MCP) after each hand's own fit"})
    print(f"wrote {args.out / 'real.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
