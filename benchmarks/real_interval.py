"""How sure are `benchmarks/real.py`'s pooled hand figures? A block bootstrap over its per-frame verdicts.

    python benchmarks/real_interval.py DIR [DIR ...]      (each a `real.py --out DIR` with --held-out)

MediaPipe's verdict on a frame leans on its neighbours' (the same hand, a few pixels on), so frames
are not independent draws: each input's frames are cut into blocks of `--block` frames (1 s at 15
frames/s) and the blocks are drawn again with replacement, input by input, `--draws` times. Printed
per DIR, with the 2.5th-97.5th percentiles of the draws: the real hands found (pooled over every real
input's hand-frames), the own held-out poses' (where given) and their ratio, issue 12's "at least 90 %".
With two DIRs or more (the same inputs, e.g. one renderer two ways), also each one's difference from
the first, drawn with the same blocks in both (paired): an interval that holds 0 is no difference
this benchmark can see.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def hand_verdicts(row: dict) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2) bools of one input: was the hand in the input (left, right), was it found in the output."""
    frames = row["per_frame"]
    present = np.stack([np.asarray(frames[f"{s}_hand_present"], bool) for s in ("left", "right")], 1)
    found = np.stack([np.asarray(frames[f"{s}_hand_found"], bool) for s in ("left", "right")], 1)
    return present, found & present


def blocks(rows: dict[str, dict], block: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every input's (hand-frames, found) counts per block of `block` frames: one (B,) pair an input."""
    out = []
    for row in rows.values():
        present, found = hand_verdicts(row)
        edges = np.arange(0, len(present), block)
        out.append((np.add.reduceat(present.sum(1), edges), np.add.reduceat(found.sum(1), edges)))
    return out


def draw(groups: list[tuple[np.ndarray, np.ndarray]], picks: list[np.ndarray]) -> float:
    """The pooled found share with each input's blocks taken at `picks` (one index array an input)."""
    present = sum(int(p[i].sum()) for (p, _), i in zip(groups, picks))
    found = sum(int(f[i].sum()) for (_, f), i in zip(groups, picks))
    return found / present if present else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--block", type=int, default=15, help="frames a block (default 15: 1 s at 15 frames/s)")
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    runs = []
    for d in args.dirs:
        path = d / "real.json"
        if not path.is_file():
            sys.exit(f"error: {path}: missing. Pass `benchmarks/real.py --out DIR` folders.")
        table = json.loads(path.read_text())
        rows = {name: row for name, row in table["rows"].items() if "per_frame" in row}
        runs.append((d, blocks(rows, args.block), blocks(table.get("held_out") or {}, args.block), list(rows)))
    first_inputs = runs[0][3]
    shape = [[len(p) for p, _ in group] for group in runs[0][1:3]]
    for d, real, held, inputs in runs[1:]:
        if inputs != first_inputs or [[len(p) for p, _ in group] for group in (real, held)] != shape:
            sys.exit(f"error: {d}: its inputs or their lengths differ from {runs[0][0]}'s; the paired differences "
                     "need the same inputs (real.py with the same --frames, --drivers and --held-out)")

    rng = np.random.default_rng(args.seed)
    real_sizes, held_sizes = [len(p) for p, _ in runs[0][1]], [len(p) for p, _ in runs[0][2]]
    figures = {d: {"real": [], "held": [], "ratio": []} for d, *_ in runs}
    for _ in range(args.draws):
        real_picks = [rng.integers(0, n, n) for n in real_sizes]   # the same blocks for every DIR (paired)
        held_picks = [rng.integers(0, n, n) for n in held_sizes]
        for d, real, held, _ in runs:
            r = draw(real, real_picks)
            h = draw(held, held_picks) if held else float("nan")   # every DIR's inputs were checked alike
            figures[d]["real"].append(r), figures[d]["held"].append(h), figures[d]["ratio"].append(r / h)

    def span(values, scale=100.0) -> str:
        v = np.asarray(values) * scale
        if np.isnan(v).all():
            return "-"
        lo, hi = np.nanpercentile(v, [2.5, 97.5])
        return f"{lo:.1f} to {hi:.1f}"

    print(f"block bootstrap: blocks of {args.block} frames within each input, {args.draws} draws, seed {args.seed}; "
          "95 % intervals (2.5th-97.5th percentiles)")
    print("| run | real hands % | interval | own held-out % | interval | real / own held-out % | interval |")
    print("| --- | ---: | --- | ---: | --- | ---: | --- |")
    for d, real, held, _ in runs:
        r = draw(real, [np.arange(len(p)) for p, _ in real])
        h = draw(held, [np.arange(len(p)) for p, _ in held]) if held else float("nan")
        f = figures[d]
        held_share, ratio = ("-", "-") if np.isnan(h) else (f"{100 * h:.1f}", f"{100 * r / h:.1f}")
        print(f"| {d.name} | {100 * r:.1f} | {span(f['real'])} | {held_share} | {span(f['held'])} | "
              f"{ratio} | {span(f['ratio'])} |")
    if len(runs) > 1:
        base = figures[runs[0][0]]
        print(f"\ndifferences from {runs[0][0].name}, paired (points):")
        print("| run | real hands | own held-out | real / own held-out |")
        print("| --- | --- | --- | --- |")
        for d, *_ in runs[1:]:
            f = figures[d]
            diff = {k: np.asarray(f[k]) - np.asarray(base[k]) for k in f}
            print(f"| {d.name} | {span(diff['real'])} | {span(diff['held'])} | {span(diff['ratio'])} |")


if __name__ == "__main__":
    main()
