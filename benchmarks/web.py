"""Frames/s of the browser page, end to end, in headless Chromium (Debian's, through Playwright).

    .venv/bin/python benchmarks/web.py [--runs 3] [--rows example upload webcam] [--frames 300] [--seconds 20]

Each row is measured `--runs` times (a fresh browser each) and the median is printed, with every
run's figure and the 1-minute load average before and after (the machine is shared: say so).
The model is the shipped small renderer (posevideo/models/renderer-small) or `--model` (an export
folder, e.g. a two-stage 512 one: the page takes its size from model.json), exported once, served
by `posevideo serve` (COOP/COEP headers: onnxruntime-web on WASM threads) or, with `--static`, by
a plain static server on the folder `posevideo export --web` writes (one generator thread).

Rows:
- example: every frame of the bundled example pose in order, as fast as the pipeline goes, two
  frames in flight. One frame = skeleton drawn (main thread) -> worker -> onnxruntime-web -> both
  canvases. frames/s = frames shown / wall time.
- upload: the same with a real `.pose` read in the page as an upload is (`--upload`, default
  ../shared/real/signer_mediapipe.pose: a real signer, retargeted onto the trained body in the page).
- webcam: Chromium's fake camera plays `--video` (default ../shared/real/liveportrait_s20.mp4, a real
  woman, half body, both hands; converted here to a temporary .y4m, the format Chromium reads) and
  the page runs camera -> landmarks (MediaPipe Tasks, estimator.js worker) -> smoothing, placing,
  retargeting -> skeleton -> generator (worker) -> screen for `--seconds` after a warm-up. frames/s =
  generated frames shown a second; also landmark results a second and each stage's mean ms.
"""
from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posevideo.web.browser import chromium, write_y4m  # noqa: E402
from posevideo.web.serve import resolve_model, start_in_background  # noqa: E402

REAL = ROOT.parent / "shared" / "real"
STAGES = ("grab", "pose", "hands", "estimate", "place", "skeleton", "generate", "latency")


def video_to_y4m(video: Path, out: Path, box: tuple[int, int] = (640, 480)) -> tuple[Path, int, tuple[int, int]]:
    """Decode `video` (PyAV) into a .y4m for Chromium's fake camera, scaled to fit `box` (a webcam's
    640x480: Chromium crops a larger fake frame to that, which would cut the person)."""
    import av
    import numpy as np

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        fps = int(round(float(stream.average_rate or 30)))
        w, h = stream.codec_context.width, stream.codec_context.height
        scale = min(1.0, box[0] / w, box[1] / h)
        size = (int(w * scale) // 2 * 2, int(h * scale) // 2 * 2)
        frames = [f.to_ndarray(format="rgb24", width=size[0], height=size[1]) for f in container.decode(stream)]
    return write_y4m(out, np.stack(frames), fps=fps), len(frames), size


def browser_cpu_seconds() -> float:
    """CPU seconds (user + system) used so far by the running headless Chromium, all its processes:
    its browser process (the one with our profile folder) and every descendant. Over a measured
    window this is the page's CPU cost, which, unlike its wall time, the machine's other jobs hardly
    change."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), b"posevideo-chromium-" in cmdline)
    tree = {pid for pid, (_, _, ours) in stats.items() if ours}
    grew = True
    while grew:
        more = {pid for pid, (ppid, _, _) in stats.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(stats[pid][1] for pid in tree) / os.sysconf("SC_CLK_TCK")


def plain_server(folder: Path):
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                "--directory", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    return process, url


def measure(url: str, row: str, args, playwright, fake_video: Path | None) -> dict:
    with chromium(fake_video=fake_video, playwright=playwright) as context:
        page = context.new_page()
        page.goto(url)
        page.evaluate("window.posevideo.ready")
        cpu = browser_cpu_seconds()
        if row == "example":
            result = page.evaluate("(n) => window.posevideo.benchmark({frames: n, warmup: 30})", args.frames)
        elif row == "upload":
            pose = {"name": args.upload.name, "base64": base64.b64encode(args.upload.read_bytes()).decode()}
            result = page.evaluate("([n, pose]) => window.posevideo.benchmark({frames: n, warmup: 30, pose})",
                                   [args.frames, pose])
        else:
            page.evaluate("([n, h]) => window.posevideo.startWebcam({threads: n, handsEvery: h})",
                          [args.webcam_threads, args.hands_every])
            page.wait_for_function("window.posevideo.stats().detections > 0", timeout=300_000)
            page.wait_for_timeout(5000)  # warm-up
            cpu = browser_cpu_seconds()
            result = page.evaluate("([s, stop]) => window.posevideo.webcamWindow({seconds: s, stop})",
                                   [args.seconds, not args.screenshots])
        # CPU seconds of the browser a shown frame (pose rows: warm-up frames included, 30 of them).
        frames = result["frames"] + (30 if row != "webcam" else 0)
        result["cpuPerFrame"] = (browser_cpu_seconds() - cpu) / max(frames, 1)
        if args.screenshots:  # the page as it stands after the run: the last frames, the meters
            args.screenshots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.screenshots / f"web-{row}.png"), full_page=True)
        return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", nargs="+", default=["example", "upload", "webcam"], choices=["example", "upload", "webcam"])
    parser.add_argument("--frames", type=int, default=300, help="pose rows: frames measured")
    parser.add_argument("--seconds", type=float, default=20, help="webcam row: seconds measured")
    parser.add_argument("--upload", type=Path, default=REAL / "signer_mediapipe.pose")
    parser.add_argument("--video", type=Path, default=REAL / "liveportrait_s20.mp4")
    parser.add_argument("--model", type=Path, default=None, help="export or renderer run folder (default: the shipped small)")
    parser.add_argument("--static", action="store_true", help="serve `export --web` with a plain static server")
    parser.add_argument("--webcam-threads", type=int, default=0,
                        help="webcam row: generator WASM threads (0: as many as the page would use)")
    parser.add_argument("--hands-every", type=int, default=0,
                        help="webcam row: the hand landmarker on one camera frame in N (0: as the page would)")
    parser.add_argument("--screenshots", type=Path, default=None, help="folder for a screenshot of each row's page")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    results = {}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        model = resolve_model(args.model, echo=lambda *_: None)
        fake, frames, size = (None, 0, None)
        if "webcam" in args.rows:
            fake, frames, size = video_to_y4m(args.video, Path(tmp) / "camera.y4m")
        if args.static:
            from posevideo.web.static import export_web
            process, url = plain_server(export_web(model, Path(tmp) / "site"))
            stop = process.kill
        else:
            server, url = start_in_background(model)
            stop = server.shutdown
        try:
            for row in args.rows:
                for run in range(args.runs):
                    before = os.getloadavg()[0]
                    result = measure(url, row, args, playwright, fake if row == "webcam" else None)
                    result["load"] = (before, os.getloadavg()[0])
                    results.setdefault(row, []).append(result)
                    print(f"  {row} run {run + 1}: {result['fps']:.1f} frames/s, load {before:.2f} -> "
                          f"{result['load'][1]:.2f}", file=sys.stderr, flush=True)
        finally:
            stop()

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    import json
    described = json.loads((model / "model.json").read_text())
    what = ("shipped small renderer" if args.model is None
            else f"{described.get('source', {}).get('preset') or 'renderer'} ({args.model})")
    side = described["resolution"]
    print(f"browser page, {what}, {side}x{side}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"headless Debian chromium, {os.cpu_count()} CPUs ({cpu}), {'plain static server' if args.static else 'posevideo serve'}; "
          f"median of {args.runs} runs")
    print("| source | frames/s (median) | runs | backend | generate ms | browser CPU ms a frame | load before / after |")
    print("| --- | ---: | --- | --- | ---: | ---: | --- |")
    names = {"example": "example pose (synthetic speaker)", "upload": f"uploaded real .pose ({args.upload.name})",
             "webcam": f"fake-camera webcam ({args.video.name}, {size[0]}x{size[1]} y4m, camera "
                       f"{'x'.join(map(str, results['webcam'][0]['camera']))})" if "webcam" in results else "webcam"}
    for row, runs in results.items():
        fps = [r["fps"] for r in runs]
        infer = statistics.median(r["stages"]["generate"] if row == "webcam" else r["inferMs"] for r in runs)
        loads = ", ".join(f"{a:.2f} / {b:.2f}" for a, b in (r["load"] for r in runs))
        cpu = statistics.median(r["cpuPerFrame"] for r in runs) * 1000
        print(f"| {names[row]} | {statistics.median(fps):.1f} | {', '.join(f'{f:.1f}' for f in fps)} | "
              f"{runs[0]['backend']} x{runs[0]['threads']} | {infer:.1f} | {cpu:.0f} | {loads} |")
    if "webcam" in results:
        runs = results["webcam"]
        print(f"\nwebcam stages, ms (median over runs of each run's mean; landmarks on the {runs[0]['delegate']} delegate): "
              f"landmark results/s "
              f"{statistics.median(r['estimates'] for r in runs):.1f}")
        print("| " + " | ".join(STAGES) + " |")
        print("| " + " | ".join("---:" for _ in STAGES) + " |")
        print("| " + " | ".join(f"{statistics.median(r['stages'].get(s, float('nan')) for r in runs):.1f}" for s in STAGES) + " |")


if __name__ == "__main__":
    main()
