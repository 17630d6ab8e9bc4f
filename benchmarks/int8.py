"""Would int8 make the browser's generator faster? The shipped small renderer exported to ONNX
(`posevideo export`), quantized statically (onnxruntime.quantization: QDQ, per-channel int8
weights, uint8 activations, calibrated on 30 skeletons of the bundled example), then native ONNX
Runtime CPU ms a frame at 1 and 2 threads, float32 against int8, the same in onnxruntime-web's WASM
backend as the page runs it (Node, the page's own node_modules: `./setup.sh` installs both), and the
PSNR between their outputs on 17 other skeletons (BENCHMARKS.md, browser page).

    .venv/bin/python benchmarks/int8.py [WORK_DIR] [RENDERER]   (default /tmp/posevideo-int8, the shipped renderer)
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's posevideo, not an installed one


def skeletons(frames: int = 120) -> np.ndarray:
    """(N, 256, 256, 3) uint8: the bundled example placed on the shipped renderer's person and drawn."""
    from posevideo.pose import arrays, read_pose, to_layout
    from posevideo.renderer.predict import load_renderer, place
    from posevideo.skeleton import EXAMPLE, draw_skeletons
    _, meta = load_renderer(None, "cpu")
    pose = read_pose(EXAMPLE)
    xy, conf = arrays(to_layout(pose, "reduced"))
    placed, placed_conf, boxes, _ = place(xy, conf, float(pose.body.fps), meta["stats"])
    return draw_skeletons(placed[:frames], placed_conf[:frames], "reduced", 256, box=boxes[:frames])


def model_input(image: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8 -> (1, 3, S, S) float32 in [-1, 1], as the page feeds the model."""
    return (image.astype(np.float32) / 127.5 - 1).transpose(2, 0, 1)[None]


def session(path: Path, threads: int = 0) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ms_a_frame(path: Path, images: np.ndarray, threads: int, seconds: float = 4.0) -> float:
    s = session(path, threads)
    name = s.get_inputs()[0].name
    for image in images[:3]:                                                      # warm-up
        s.run(None, {name: model_input(image)})
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        s.run(None, {name: model_input(images[n % len(images)])})
        n += 1
    return (time.perf_counter() - start) / n * 1000


WASM = r"""
import * as ort from %s;
import fs from 'fs';
const [threads, seconds, ...paths] = process.argv.slice(2);
ort.env.wasm.numThreads = Number(threads);
for (const path of paths) {
  const s = await ort.InferenceSession.create(fs.readFileSync(path), {executionProviders: ['wasm'], graphOptimizationLevel: 'all'});
  const x = new ort.Tensor('float32', new Float32Array(3 * 256 * 256).fill(-1), [1, 3, 256, 256]);  // an empty skeleton
  for (let i = 0; i < 3; i++) await s.run({[s.inputNames[0]]: x});
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < Number(seconds) * 1000) { await s.run({[s.inputNames[0]]: x}); n++; }
  console.log(JSON.stringify({path, threads: Number(threads), ms: (performance.now() - start) / n}));
}
"""


def wasm_rows(paths: list[Path], work: Path, seconds: float = 4.0) -> list[tuple[str, str, float]]:
    """ms a frame of each model in onnxruntime-web's WASM backend (Node; the page's threads), or []
    with a line saying why (no Node, or the page's assets not installed)."""
    import json
    import shutil
    ort_web = Path(__file__).resolve().parents[1] / "posevideo/web/node_modules/onnxruntime-web/dist/ort.node.min.mjs"
    if not shutil.which("node") or not ort_web.exists():
        print(f"no WASM rows: needs node and {ort_web} (./setup.sh installs both)")
        return []
    script = work / "wasm.mjs"
    script.write_text(WASM % json.dumps(str(ort_web)))
    rows = []
    for threads in (1, 2):
        done = subprocess.run(["node", str(script), str(threads), str(seconds), *map(str, paths)],
                              capture_output=True, text=True)
        if done.returncode:
            lines = done.stderr.strip().splitlines()
            said = [line for line in lines if line.lstrip().startswith("Error")][:2] or lines[-4:]  # not the minified source
            print(f"no WASM rows at {threads} thread(s): node {script} failed: " + " / ".join(l[:200] for l in said))
            continue
        rows += [(Path(r["path"]).name, f"WASM {r['threads']}", r["ms"]) for r in map(json.loads, done.stdout.splitlines())]
    return rows


def main(work: Path, renderer: Path | None = None) -> None:
    from posevideo.renderer.predict import DEFAULT_RENDERER
    subprocess.run([sys.executable, "-m", "posevideo", "export", "--renderer", str(renderer or DEFAULT_RENDERER),
                    "--out", str(work)], check=True)
    fp32, int8 = work / "model.onnx", work / "model.int8.onnx"
    images = skeletons()
    name = session(fp32).get_inputs()[0].name

    class Calibration(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter([{name: model_input(image)} for image in images[::4]])

        def get_next(self):
            return next(self.feeds, None)

    quantize_static(str(fp32), str(int8), Calibration(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    rows = [(path.name, f"native {threads}", ms_a_frame(path, images, threads)) for threads in (1, 2) for path in (fp32, int8)]
    rows += wasm_rows([fp32, int8], work)
    a, b = session(fp32), session(int8)
    psnr = []
    for image in images[1::7]:
        x, y = ((s.run(None, {name: model_input(image)})[0] + 1) * 127.5 for s in (a, b))
        psnr.append(10 * np.log10(255 ** 2 / np.mean((x.clip(0, 255) - y.clip(0, 255)) ** 2)))
    print("| model | runtime, threads | ms a frame |\n| --- | --- | ---: |")
    for model, threads, ms in rows:
        print(f"| {model} | {threads} | {ms:.1f} |")
    print(f"PSNR of int8 against float32 outputs: median {np.median(psnr):.2f} dB, min {np.min(psnr):.2f} "
          f"over {len(psnr)} frames")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/posevideo-int8"), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
