"""The page as plain files: what `posevideo serve` serves and `posevideo export --web DIR` writes.

One URL layout for both (every URL relative, so the folder can live under any path of any static
host, GitHub Pages included):

    index.html, *.js, style.css    the page (this folder)
    skeleton_spec.json             the skeleton spec the page draws by
    config.json                    constants the page shares with Python (the crop rule)
    rest_hand.json                 the rest hand (posevideo/pose/rest_hand.json)
    example.pose                   the bundled example (the synthetic speaker)
    model/                         the exported renderer (model.json, model.onnx, model.fp16.onnx)
    landmarkers/*.task             MediaPipe Tasks bundles for the webcam, built here (`landmarkers`)
    node_modules/...               the npm files the page loads (onnxruntime-web, tasks-vision)

The webcam's models: MediaPipe Tasks (`@mediapipe/tasks-vision`, which ships the runtime but no
models) reads `.task` bundles, zip files of TFLite models with TFLite metadata. We build them from
models already here: the pose detector, hand (palm) detector and hand landmarks from the mediapipe
0.10.21 wheel (`mediapipe/modules/`), the pose landmarks (lite) from
the npm package `@mediapipe/pose`; the metadata says how each model wants its input scaled (the
ranges of MediaPipe's own graphs for these models), written with the wheel's metadata writer.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from importlib.util import find_spec
from pathlib import Path

from posevideo.errors import InputError
from posevideo.files import cache_dir

WEB = Path(__file__).parent
NODE_MODULES = WEB / "node_modules"
PAGE_FILES = ("index.html", "app.js", "calls.js", "skeleton.js", "worker.js", "webcam.js", "estimator.js", "retarget.js",
              "posefile.js", "style.css")
# Only these npm files are reachable or copied: the page needs nothing else.
NPM_FILES = (
    "onnxruntime-web/dist/ort.wasm.min.mjs", "onnxruntime-web/dist/ort-wasm-simd-threaded.mjs",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm",
    "onnxruntime-web/dist/ort.webgpu.min.mjs", "onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.mjs",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm",
    "@mediapipe/tasks-vision/vision_bundle.js",
    "@mediapipe/tasks-vision/wasm/vision_wasm_internal.js", "@mediapipe/tasks-vision/wasm/vision_wasm_internal.wasm",
    "@mediapipe/tasks-vision/wasm/vision_wasm_nosimd_internal.js",
    "@mediapipe/tasks-vision/wasm/vision_wasm_nosimd_internal.wasm",
)
# Input scaling of each model (mean, std: input = (pixel - mean) / std), as MediaPipe's own graphs
# feed them: the detectors take [-1, 1], the landmark models [0, 1]. Palm detection takes [0, 1].
SIGNED, UNIT = (127.5, 127.5), (0.0, 255.0)
LANDMARKERS = {
    "pose.task": {"pose_detector.tflite": ("wheel", "pose_detection/pose_detection.tflite", SIGNED),
                  "pose_landmarks_detector.tflite": ("npm", "@mediapipe/pose/pose_landmark_lite.tflite", UNIT)},
    "hand.task": {"hand_detector.tflite": ("wheel", "palm_detection/palm_detection_lite.tflite", UNIT),
                  "hand_landmarks_detector.tflite": ("wheel", "hand_landmark/hand_landmark_lite.tflite", UNIT)},
}
# No face landmarker: the wheel's face_landmark.tflite (468 points) in a face_landmarker.task gives
# points scattered over the frame (Tasks' face graph expects its own newer model, which nothing
# here ships; checked on a real frame, 2026-12-02). The live face is the trained person's mean face,
# as `render --retarget full` draws a frame without a face.


def _wheel_modules() -> Path:
    spec = find_spec("mediapipe")  # found without importing it (~1.5 s)
    if spec is None or not spec.submodule_search_locations:
        raise InputError("mediapipe", "is not installed; the webcam's models come from its wheel",
                         "Run ./setup.sh (it installs mediapipe==0.10.21).")
    return Path(list(spec.submodule_search_locations)[0]) / "modules"


def _source(kind: str, rel: str) -> Path:
    path = (_wheel_modules() if kind == "wheel" else NODE_MODULES) / rel
    if not path.is_file():
        raise InputError(path, "missing: a model the webcam needs",
                         "Run ./setup.sh (npm ci in posevideo/web; mediapipe==0.10.21 in the venv).")
    return path


def landmarkers(out_dir: str | Path | None = None) -> Path:
    """A folder holding pose.task and hand.task (see the module docstring); built once
    into a cache folder keyed by the source models when `out_dir` is None."""
    sources = {name: {arc: (_source(kind, rel), norm) for arc, (kind, rel, norm) in parts.items()}
               for name, parts in LANDMARKERS.items()}
    if out_dir is None:
        stamp = json.dumps({n: {a: [str(p), p.stat().st_size, p.stat().st_mtime_ns, norm] for a, (p, norm) in parts.items()}
                            for n, parts in sources.items()}, sort_keys=True)
        key = hashlib.sha1(stamp.encode()).hexdigest()[:16]
        out_dir = cache_dir("landmarkers", key)
        if all((out_dir / name).is_file() for name in LANDMARKERS):
            return out_dir
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, model_asset_bundle_utils, writer_utils

    from posevideo.files import atomic_dir

    def with_metadata(path: Path, norm) -> bytes:
        model = bytearray(path.read_bytes())
        writer = metadata_writer.MetadataWriter.create(model).add_general_info(path.stem)
        writer.add_image_input(norm_mean=[norm[0]], norm_std=[norm[1]])
        for _ in writer_utils.get_output_tensor_names(model):
            writer.add_feature_output()
        return bytes(writer.populate()[0])

    with atomic_dir(out_dir) as tmp:
        for name, parts in sources.items():
            model_asset_bundle_utils.create_model_asset_bundle(
                {arc: with_metadata(path, norm) for arc, (path, norm) in parts.items()}, str(tmp / name))
    return Path(out_dir)


def check_assets() -> None:
    """InputError if setup.sh has not installed the npm files the page loads."""
    for rel in NPM_FILES:
        if not (NODE_MODULES / rel).is_file():
            raise InputError(NODE_MODULES / rel, "the web page's npm assets are not installed",
                             "Run ./setup.sh (it runs npm ci in posevideo/web).")


def page_config_json() -> bytes:
    from posevideo.web.poses import page_config

    return (json.dumps(page_config(), indent=1) + "\n").encode()


def site_files(model_dir: str | Path) -> dict[str, Path | bytes]:
    """URL path (relative, '/'-separated) -> the file to serve there, or its bytes."""
    from posevideo.export import DESCRIPTION, read_export
    from posevideo.skeleton import EXAMPLE

    check_assets()
    model_dir = Path(model_dir)
    description = read_export(model_dir)
    files: dict[str, Path | bytes] = {name: WEB / name for name in PAGE_FILES}
    files.update({f"node_modules/{rel}": NODE_MODULES / rel for rel in NPM_FILES})
    files["skeleton_spec.json"] = WEB.parent / "skeleton_spec.json"
    files["rest_hand.json"] = WEB.parent / "pose" / "rest_hand.json"
    files["example.pose"] = EXAMPLE
    files["config.json"] = page_config_json()
    files[f"model/{DESCRIPTION}"] = model_dir / DESCRIPTION
    files.update({f"model/{name}": model_dir / name for name in description["files"].values()})
    landmarker_dir = landmarkers()
    files.update({f"landmarkers/{name}": landmarker_dir / name for name in LANDMARKERS})
    return files


def export_web(model_dir: str | Path, out: str | Path) -> Path:
    """Write the whole page into `out` (atomically): a folder any static file server hosts."""
    from posevideo.files import atomic_dir

    files = site_files(model_dir)
    with atomic_dir(out) as tmp:
        for rel, source in files.items():
            target = tmp.joinpath(*rel.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, bytes):
                target.write_bytes(source)
            else:
                shutil.copyfile(source, target)
    return Path(out)
