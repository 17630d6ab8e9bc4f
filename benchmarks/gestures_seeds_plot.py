"""Setups of the gesture model over several seeds, from one `posevideo evaluate gestures --json` table
whose runs are named SETUP_sSEED (the first, `--model`, is listed as "model": pass its name):

    python benchmarks/gestures_seeds_plot.py all16.json docs/gestures/gan-seeds.png [--model-name l1_s0]

One panel per realism measure (FGD, wrist speed and acceleration distances to the truth, beat
alignment) against L1: a point per run, a colour per setup, so that the spread between seeds shows
beside the difference between setups. The truth's beat alignment is drawn as a line.
"""
from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict

MEASURES = (("fgd", "FGD (lower is better)"), ("speed_dist", "wrist speed distance (lower is better)"),
            ("accel_dist", "wrist acceleration distance (lower is better)"), ("beat_align", "beat alignment"))


def setups(methods: dict, model_name: str) -> dict[str, list[dict]]:
    """The runs of the table grouped by setup (the name without its _sSEED)."""
    grouped = defaultdict(list)
    for name, row in methods.items():
        name = model_name if name == "model" else name
        found = re.fullmatch(r"(.+)_s\d+", name)
        if found:
            grouped[found.group(1)].append(row)
    return dict(grouped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table")
    parser.add_argument("out")
    parser.add_argument("--model-name", default="l1_s0", help="Name of the table's --model run.")
    args = parser.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = json.load(open(args.table))
    grouped = setups(table["methods"], args.model_name)
    fig, axes = plt.subplots(1, len(MEASURES), figsize=(4.2 * len(MEASURES), 3.8))
    for ax, (key, label) in zip(axes, MEASURES):
        for setup, rows in grouped.items():
            ax.scatter([r["l1"] for r in rows], [r[key] for r in rows], label=f"{setup} ({len(rows)} seeds)", s=28)
        if key == "beat_align":
            ax.axhline(table["methods"]["truth"]["beat_align"], color="k", lw=0.8, ls="--", label="truth")
        ax.set_xlabel("L1 (px, lower is better)")
        ax.set_ylabel(label)
    axes[-1].legend(fontsize=8)
    fig.suptitle(f"Gesture setups over seeds: {table['split']} split, {table['windows']} windows")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}: {', '.join(f'{k} x{len(v)}' for k, v in grouped.items())}")


if __name__ == "__main__":
    main()
