"""Frames/s of the browser demo, end to end, in headless Chromium (Debian's, through Playwright).

    .venv/bin/python benchmarks/web.py [--frames 300] [--presets small esn] [--precisions float32 float16]

For each renderer preset at 256x256 it exports a generator to ONNX (untrained weights unless the
shipped posevideo/models/renderer-small exists, which is then measured too: speed does not depend
on what the weights are, except for denormals, which the shipped row shows), serves the page and
calls `window.posevideo.benchmark()`: every frame of the bundled example pose in order, as fast as
the pipeline goes, with two frames in flight. One frame = JS skeleton drawing (main thread) ->
postMessage to the worker -> float conversion -> onnxruntime-web (WASM SIMD, threads) -> RGBA ->
postMessage back -> putImageData of skeleton and generated frame. frames/s = frames shown / wall
time. Also printed: mean inference ms inside the worker and skeleton ms on the main thread.

The machine is shared: the 1-minute load average before and after each row is printed with it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posevideo.export import export_run, export_untrained  # noqa: E402
from posevideo.renderer.model import Generator, RendererConfig, count_macs, preset  # noqa: E402
from posevideo.web.browser import chromium  # noqa: E402
from posevideo.web.serve import start_in_background  # noqa: E402

SHIPPED = ROOT / "posevideo" / "models" / "renderer-small"


def measure(export_dir: Path, precision: str, frames: int, playwright) -> dict:
    server, url = start_in_background(export_dir)
    try:
        with chromium(playwright=playwright) as context:
            page = context.new_page()
            page.goto(url)
            page.evaluate("window.posevideo.ready")
            page.evaluate("(p) => window.posevideo.loadModel(p)", precision)
            return page.evaluate("(n) => window.posevideo.benchmark({frames: n, warmup: 30})", frames)
    finally:
        server.shutdown()
        server.server_close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--presets", nargs="+", default=["small", "esn"])
    parser.add_argument("--precisions", nargs="+", default=["float32"], choices=["float32", "float16"])
    parser.add_argument("--renderer", action="append", default=[], metavar="RUN",
                        help="Also measure this renderer run or checkpoint folder (repeatable).")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        models = []
        runs = ([(SHIPPED, "shipped")] if SHIPPED.exists() else []) + [(Path(r), Path(r).name) for r in args.renderer]
        for i, (run, name) in enumerate(runs):
            out = Path(tmp) / f"run{i}"
            export_run(run, out)
            description = json.loads((out / "model.json").read_text())
            source = description["source"]
            models.append((f"{source['preset'] or 'custom'} ({name}, step {source['step']})",
                           RendererConfig.from_dict(source["model"]), out))
        for name in args.presets:
            out = Path(tmp) / name
            export_untrained(name, out)
            models.append((f"{name} (untrained)", preset(name), out))
        for label, cfg, out in models:
            gmac = count_macs(Generator(cfg), (1, 3, 256, 256)) / 1e9
            for precision in args.precisions:
                load_before = os.getloadavg()[0]
                result = measure(out, precision, args.frames, playwright)
                rows.append((label, gmac, precision, f"{result['backend']} x{result['threads']}", result["fps"],
                             result["inferMs"], result["skeletonMs"], result["frames"], load_before, os.getloadavg()[0]))
                print(f"  measured {label} {precision}: {result['fps']:.1f} frames/s", file=sys.stderr, flush=True)

    print(f"web demo, end to end at 256x256, {time.strftime('%Y-%m-%d')}, headless Debian chromium, "
          f"{os.cpu_count()} CPUs, {args.frames} frames each")
    print(f"| model | GMAC | weights | backend | frames/s | inference ms | skeleton ms | frames | load before/after |")
    print("| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | --- |")
    for label, gmac, precision, backend, fps, infer, skeleton, frames, before, after in rows:
        print(f"| {label} | {gmac:.2f} | {precision} | {backend} | {fps:.1f} | {infer:.1f} | {skeleton:.2f} | "
              f"{frames} | {before:.1f} / {after:.1f} |")


if __name__ == "__main__":
    main()
