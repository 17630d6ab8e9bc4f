"""A model soup: the generator weights of several renderers fine-tuned from one starting
model, averaged (Wortsman et al. 2022, "Model soups"), written as a shipped renderer folder.

    python benchmarks/soup.py OUT RUN_OR_SHIPPED_DIR [...] [--weights W ...] [--stats-from DIR] [--source TEXT]

Each input is a `ship-renderer` folder (model.safetensors + checkpoint.json); all must have the same
network (the same weight names and shapes) and body profile (`train renderer --profile-from`), which is checked.
Every floating-point tensor is averaged in float32 and stored in the inputs' dtype, BatchNorm's
running statistics included (`render` adapts them to each input anyway); counters are the first's.
`checkpoint.json` is the first input's with `source` set, and `stats` from `--stats-from` when given
(e.g. the renderer the soup replaces, to keep its framing). `--weights` gives each input its share
(default: equal): a soup of N ingredients given weight N beside k new ones of weight 1 is the uniform
soup of all N + k, though its ingredients are gone. Used for the shipped small renderer of
2026-12-06: docs/default-models.md, BENCHMARKS.md "Soups of fine-tunes".
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from posevideo.files import atomic_dir, write_json


def soup(models: list[Path], weights: list[float] | None = None) -> dict[str, torch.Tensor]:
    tensors = [load_file(str(m / "model.safetensors")) for m in models]
    w = torch.tensor(weights if weights is not None else [1.0] * len(models), dtype=torch.float32)
    w = w / w.sum()
    for m, t in zip(models[1:], tensors[1:]):
        if t.keys() != tensors[0].keys() or any(t[k].shape != tensors[0][k].shape for k in t):
            sys.exit(f"error: {m}: its weights differ in names or shapes from {models[0]}'s. Average renderers of one network only.")
    return {k: (torch.tensordot(w, torch.stack([t[k].float() for t in tensors]), dims=1).to(v.dtype)
                if v.is_floating_point() else v) for k, v in tensors[0].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--weights", type=float, nargs="+", default=None,
                        help="One weight per input (default: equal), e.g. 8 1 1 for an 8-ingredient soup and two more.")
    parser.add_argument("--stats-from", type=Path, default=None, help="A renderer folder whose checkpoint stats to keep.")
    parser.add_argument("--source", default=None, help="The checkpoint's `source` text (default: the inputs' paths).")
    args = parser.parse_args()
    if len(args.models) < 2:
        sys.exit("error: a soup needs two renderers or more.")
    if args.weights is not None and (len(args.weights) != len(args.models) or min(args.weights) <= 0):
        sys.exit(f"error: --weights: give one positive weight per input ({len(args.models)}), not {args.weights}.")
    metas = []
    for m in args.models:
        if not (m / "checkpoint.json").is_file() or not (m / "model.safetensors").is_file():
            sys.exit(f"error: {m}: not a renderer folder (model.safetensors + checkpoint.json). Give `ship-renderer` folders.")
        metas.append(json.loads((m / "checkpoint.json").read_text()))
    for m, meta in zip(args.models[1:], metas[1:]):  # one network: `soup` checks the weights' names and shapes
        if meta["stats"].get("profile") != metas[0]["stats"].get("profile"):
            sys.exit(f"error: {m}: another body profile than {args.models[0]}'s. Train them with one `--profile-from`.")
    meta = dict(metas[0])
    if args.stats_from is not None:
        meta["stats"] = json.loads((args.stats_from / "checkpoint.json").read_text())["stats"]
    kind = "uniform soup" if args.weights is None else f"soup (weights {' '.join(f'{w:g}' for w in args.weights)})"
    meta["source"] = args.source or f"{kind} (benchmarks/soup.py) of " + ", ".join(map(str, args.models))
    weights = soup(args.models, args.weights)
    with atomic_dir(args.out) as tmp:
        save_file(weights, str(tmp / "model.safetensors"))
        write_json(tmp / "checkpoint.json", meta)
    print(f"{args.out}: {len(args.models)} renderers averaged")


if __name__ == "__main__":
    main()
