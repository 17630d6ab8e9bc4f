"""Renderer quality on a held-out split, as trained and after `recalibrate_norm`.

    python benchmarks/renderer_quality.py --model RUN --data BANK_OR_DATA [--speaker NAME] --out DIR

Evaluates the checkpoint (eval mode), then re-measures its BatchNorm statistics with dropout off
over `--batches` batches of training frames, saves that generator to DIR/recalibrated, evaluates it
too, and prints both rows. JSON and contact sheets go to DIR. (An experiment against eval-mode
artifacts; on the 2026-12-02 esn and small runs it lowered PSNR, so training does not do it.)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn as nn

from posevideo.renderer.evaluate import evaluate
from posevideo.renderer.predict import load_renderer, pick_device
from posevideo.renderer.data import load_frames
from posevideo.training import save_checkpoint


@torch.no_grad()
def recalibrate_norm(G: nn.Module, batches) -> int:
    """Measure BatchNorm's running statistics again as inference runs the network: dropout off.

    pix2pix trains with dropout in the first up blocks, so the statistics gathered while training
    describe activations with dropout on; in eval mode (dropout off) the deeper layers then see
    another variance. Each batch of skeleton images (B, 3, S, S) in [-1, 1] adds to a plain average
    (momentum None). Returns the number of BatchNorm layers; 0 (nothing done) for other norms."""
    norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    G.train()
    for m in G.modules():
        if isinstance(m, nn.Dropout):
            m.eval()
    for x in batches:
        G(x)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    G.eval()
    return len(norms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--speaker", default=None)
    parser.add_argument("--out", required=True)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = pick_device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = {"as trained": evaluate(args.model, args.data, out / "eval.json", args.speaker, sheet=out / "sheet.jpg",
                                   batch=64, device=device)["metrics"]}
    G, meta = load_renderer(args.model, device)
    bank = load_frames(args.data, args.speaker or meta["stats"].get("speaker"), meta["model"]["size"], "train", device)
    generator = torch.Generator().manual_seed(0)
    batches = (bank.batch(torch.randint(len(bank), (args.batch,), generator=generator))[0]
               for _ in range(args.batches))
    layers = recalibrate_norm(G, batches)
    keep = {k: meta[k] for k in ("kind", "step", "model", "stats") if k in meta}
    keep["recalibrated"] = {"batches": args.batches, "batch": args.batch, "norm_layers": layers}
    save_checkpoint(out / "recalibrated", {"G": G}, None, keep)
    rows["norm recalibrated"] = evaluate(out / "recalibrated", args.data, out / "eval_recalibrated.json", args.speaker,
                                         sheet=out / "sheet_recalibrated.jpg", batch=64, device=device)["metrics"]
    keys = list(rows["as trained"])
    print("| generator | " + " | ".join(keys) + " |")
    print("| --- |" + " --- |" * len(keys))
    for name, metrics in rows.items():
        print(f"| {name} | " + " | ".join("-" if metrics[k] is None else f"{metrics[k]:.4f}" for k in keys) + " |")
    (out / "rows.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
