"""Two-stage 256 -> 512 renderer (issue 14): speed on this CPU, the choice of one input, and the
GPU comparison's table and hand/face contact sheet.

    python benchmarks/upsampler.py speed [--repeats 3] [--seconds 3]
        ONNX Runtime CPU ms per 512 frame (float32, batch 1, every core), one graph for both stages,
        against the plain 512 `small` and `esn`; params and GMACs. Untrained weights (speed only).
    python benchmarks/upsampler.py input [--frames 64]
        One input or two: the first stage's 256 skeleton made in the graph (2x2 mean of the 512
        drawing) against one drawn at 256: pixel difference and what the shipped small renderer
        (a 256 model) makes of each (PSNR between its two outputs); and the ms the in-graph mean costs.
    python benchmarks/upsampler.py sheet --data BANK --runs A B [--names plain two-stage] --out SHEET.jpg
        Left hand, right hand and face crops (128x128 from 512 frames) of evenly spaced test frames:
        a row per frame, columns target | each run's output.
    python benchmarks/upsampler.py summary RUNS_DIR NAME...
        The table (markdown) from RUNS_DIR/NAME.eval.json and NAME.metrics.jsonl.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

# name -> (preset, RendererConfig overrides) at 512
MODELS = {
    "plain small": ("small", {}),
    "plain esn": ("esn", {}),
    "two-stage small, enhancer 8x1": ("small", dict(base_size=256, enhancer_ngf=8, enhancer_blocks=1)),
    "two-stage small, enhancer 16x1": ("small", dict(base_size=256, enhancer_ngf=16, enhancer_blocks=1)),
    "two-stage small, enhancer 32x3": ("small", dict(base_size=256, enhancer_ngf=32)),
    "two-stage esn, enhancer 32x3 (the default until 2026-12-06)": ("esn", dict(base_size=256, enhancer_ngf=32)),
    "two-stage esn, enhancer 64x3 (default)": ("esn", dict(base_size=256)),
    "plain medium": ("medium", {}),
    "two-stage medium, enhancer 8x1": ("medium", dict(base_size=256, enhancer_ngf=8, enhancer_blocks=1)),
}


def load_line() -> str:
    return "load average (1 min) {:.2f}".format(os.getloadavg()[0])


def speed(args) -> None:
    from renderer import ort_speed
    from posevideo.renderer.model import count_macs, count_params, make_generator, preset
    threads = os.cpu_count()
    print(f"# ONNX Runtime CPU, 512x512, batch 1, float32, {threads} threads; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"{load_line()} at start")
    print("| model | params | GMAC/frame | ms/frame (median) | runs, ms | load before / after |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    for name, (base, overrides) in MODELS.items():
        if args.only and not any(o in name for o in args.only):
            continue
        torch.manual_seed(0)
        G = make_generator(preset(base, size=512, **overrides)).eval()
        macs = count_macs(G, (1, 3, 512, 512)) / 1e9
        before = os.getloadavg()[0]
        runs = [1000 / ort_speed(G, 512, threads, seconds=args.seconds) for _ in range(args.repeats)]
        print(f"| {name} | {count_params(G) / 1e6:.1f} M | {macs:.2f} | {statistics.median(runs):.1f} | "
              f"{', '.join(f'{r:.1f}' for r in runs)} | {before:.2f} / {os.getloadavg()[0]:.2f} |", flush=True)


class TwoInputs(torch.nn.Module):
    """A two-stage model fed its 256 skeleton as a second input (the alternative to the in-graph mean)."""

    def __init__(self, G):
        super().__init__()
        self.G = G

    def forward(self, skeleton, small):
        return self.G.enhancer(skeleton, self.G.base(small))


def one_input(args) -> None:
    import torch.nn.functional as F
    from renderer import ort_speed
    from posevideo.renderer.evaluate import psnr
    from posevideo.renderer.model import make_generator, preset
    from posevideo.renderer.predict import generate, load_renderer
    from posevideo.skeleton import draw_skeleton, example_poses
    xy, conf = example_poses(args.frames, 512, seed=1)
    drawn512 = np.stack([draw_skeleton(xy[i], conf[i], size=512) for i in range(args.frames)])
    drawn256 = np.stack([draw_skeleton(xy[i] / 2, conf[i], size=256) for i in range(args.frames)])
    pooled = F.avg_pool2d(torch.from_numpy(drawn512).permute(0, 3, 1, 2).float(), 2)
    pooled = pooled.round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    diff = np.abs(pooled.astype(int) - drawn256)
    G, _ = load_renderer(None)                                            # the shipped small 256 renderer
    a, b = generate(G, drawn256, "cpu"), generate(G, pooled, "cpu")
    to = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2).float()  # noqa: E731
    p = psnr(to(a), to(b)).numpy()
    print(f"# one input or two ({args.frames} example poses, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    print(f"- skeleton: 2x2 mean of the 512 drawing vs drawn at 256: mean |difference| {diff.mean():.3f} levels, "
          f"{(diff.max(axis=-1) > 0).mean() * 100:.1f} % of pixels differ, max {diff.max()}")
    print(f"- the shipped small renderer on each: PSNR between its two outputs {np.median(p):.1f} dB median "
          f"(min {p.min():.1f}; for scale, 1 level of difference at every pixel is 48.1 dB)")
    torch.manual_seed(0)
    two = make_generator(preset("small", size=512, base_size=256, enhancer_ngf=16, enhancer_blocks=1)).eval()
    threads = os.cpu_count()
    one = [1000 / ort_speed(two, 512, threads, seconds=args.seconds) for _ in range(args.repeats)]
    both = [1000 / ort_speed(TwoInputs(two), 512, threads, seconds=args.seconds, sizes=(512, 256))
            for _ in range(args.repeats)]
    print(f"- ONNX Runtime ms/frame, two-stage small (enhancer 16x1), {load_line()}: one input (mean in the graph) "
          f"{statistics.median(one):.1f} ({', '.join(f'{r:.1f}' for r in one)}); two inputs "
          f"{statistics.median(both):.1f} ({', '.join(f'{r:.1f}' for r in both)})")


def sheet(args) -> None:
    from PIL import Image
    from posevideo.renderer.data import crop, read_bank
    from posevideo.renderer.predict import generate, load_renderer
    bank = read_bank(args.data, "test")
    regions = bank.meta["regions"]
    seen = np.flatnonzero((regions[:, :, 0] >= -0.5).all(axis=1))             # both hands and the face
    pick = seen[np.linspace(0, len(seen) - 1, min(args.frames, len(seen))).round().astype(int)]
    skeletons, targets = bank.skeletons.numpy()[pick], bank.frames.numpy()[pick]
    outputs = []
    for run in args.runs:
        G, _ = load_renderer(run, args.device)
        outputs.append(np.concatenate([generate(G, skeletons[i:i + 16], args.device, hands=regions[pick][i:i + 16, :2])
                                       for i in range(0, len(pick), 16)]))
    boxes = torch.from_numpy(regions[pick])
    side = args.crop

    def cut(images: np.ndarray, i: int, r: int) -> np.ndarray:
        """Region r of frame i of (N, S, S, 3) uint8 images -> (side, side, 3) uint8."""
        x = torch.from_numpy(images[i:i + 1]).permute(0, 3, 1, 2).float()
        return crop(x, boxes[i:i + 1, r], side).round().clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()

    rows = []
    for i in range(len(pick)):
        cells = []
        for r in (0, 1, 2):                                                   # left hand, right hand, face
            cells += [cut(targets, i, r)] + [cut(out, i, r) for out in outputs]
            cells.append(np.full((side, 8, 3), 255, np.uint8))                # a white gap between regions
        rows.append(np.concatenate(cells[:-1], axis=1))
    image = np.concatenate(rows, axis=0)
    Image.fromarray(image).save(args.out, quality=90)
    names = args.names or [Path(r).name for r in args.runs]
    print(f"{args.out}: {len(pick)} test frames; per region (left hand | right hand | face): target | "
          + " | ".join(names))


def summary(args) -> None:
    keys = ("psnr_frame", "ssim_frame", "psnr_hands", "ssim_hands", "psnr_face", "ssim_face", "flicker")
    print("| run | steps | images/s | " + " | ".join(keys) + " |")
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in keys) + " |")
    for name in args.names:
        folder = Path(args.runs_dir)
        lines = [json.loads(l) for l in (folder / f"{name}.metrics.jsonl").read_text().splitlines() if l.strip()] \
            if (folder / f"{name}.metrics.jsonl").exists() else []
        steps = lines[-1]["step"] if lines else "-"
        ips = statistics.median(l["images_per_s"] for l in lines[1:]) if len(lines) > 1 else float("nan")
        path = folder / f"{name}.eval.json"
        metrics = json.loads(path.read_text())["metrics"] if path.exists() else {}
        cells = [f"{metrics[k]:.4f}" if metrics.get(k) is not None else "-" for k in keys]
        print(f"| {name} | {steps} | {ips:.0f} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="job", required=True)
    p = sub.add_parser("speed")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--only", nargs="*", default=None, help="substrings of the model names to run")
    p = sub.add_parser("input")
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seconds", type=float, default=3.0)
    p = sub.add_parser("sheet")
    p.add_argument("--data", required=True)
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--names", nargs="*", default=None)
    p.add_argument("--out", required=True)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p = sub.add_parser("summary")
    p.add_argument("runs_dir")
    p.add_argument("names", nargs="+")
    args = parser.parse_args()
    {"speed": speed, "input": one_input, "sheet": sheet, "summary": summary}[args.job](args)


if __name__ == "__main__":
    main()
