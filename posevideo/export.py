"""Export a renderer's generator to ONNX for onnxruntime (native and web).

An export folder holds everything a runtime needs and nothing else:

    model.onnx         float32, one file (weights inside), opset 18, input (1, 3, S, S) -> output (1, 3, S, S)
                       (a two-stage model: both stages in this one graph, S its full size);
                       a temporal model (`train renderer --temporal`) has a second input "previous"
                       (1, 3, S, S): its own last output, zeros for the first frame; a model with
                       a hand refiner (`--hand-refiner-ngf`) one named "hands" (1, 2, 4): the hands' boxes
    model.fp16.onnx    the same with float16 weights and arithmetic; inputs and outputs stay float32,
                       so a runtime feeds both files the same way (half the download, see FINDINGS.md)
    model.json         what the inputs and outputs are, the resolution, the pose layout, the skeleton
                       spec the conditioning image must be drawn by, and the parity figures

The parity check runs both files with native onnxruntime on skeleton images and compares them with
the PyTorch generator: the maximum absolute difference, in output units ([-1, 1]), is printed and
stored in model.json.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from posevideo.errors import InputError
from posevideo.files import atomic_dir

OPSET = 18
INPUT_NAME = "skeleton"
PREVIOUS_NAME = "previous"  # the temporal model's second input: its previous output frame
HANDS_NAME = "hands"        # a hand refiner's second input: the left and right hand boxes
OUTPUT_NAME = "frame"
FILES = {"float32": "model.onnx", "float16": "model.fp16.onnx"}
DESCRIPTION = "model.json"


@dataclass
class Parity:
    """Maximum absolute difference between onnxruntime and PyTorch, in output units ([-1, 1])."""

    float32: float
    float16: float

    def __str__(self) -> str:
        return (f"parity with PyTorch (max |onnxruntime - torch| over {PARITY_IMAGES} skeleton images, "
                f"output in [-1, 1]): float32 {self.float32:.2e}, float16 {self.float16:.2e}")


PARITY_IMAGES = 4


def export_run(run: str | Path, out_dir: str | Path, size: int | None = None) -> Parity:
    """Export the generator of a renderer run folder (newest checkpoint) or checkpoint folder.
    A two-stage model (`model.TwoStage`) is one graph, both stages: the skeleton at the full size in,
    the frame at the full size out (the first stage's skeleton is its 2x2 average, made in the graph);
    `size`: its first stage's size exports that stage alone (see `load_renderer`)."""
    from posevideo.renderer.model import RendererConfig, preset_name
    from posevideo.renderer.predict import load_renderer

    generator, meta = load_renderer(run, "cpu", size)
    cfg = RendererConfig.from_dict(meta["model"])
    stats = meta.get("stats") or {}
    name = preset_name(cfg.base().to_dict()) if cfg.base_size else preset_name(meta["model"])
    source = {"checkpoint": str(Path(meta["path"]).resolve()), "step": meta.get("step"),
              "preset": f"{name or 'custom'} two-stage" if cfg.base_size else name, "model": meta["model"],
              "speaker": stats.get("speaker")}
    return export_generator(generator, cfg.size, out_dir, layout=stats.get("layout", "reduced"),
                            placement=_placement(stats), source=source)


def export_untrained(preset: str, out_dir: str | Path, seed: int = 0, size: int = 256,
                     temporal: bool = False, stages: int = 1, enhancer: dict | None = None) -> Parity:
    """Export a freshly initialised generator of a preset: for speed figures and tests, not pictures.
    `stages` 2: a two-stage model (`model.TwoStage`, first stage at size / 2; `enhancer`: its
    RendererConfig fields enhancer_ngf / enhancer_blocks, None: the defaults)."""
    from posevideo.renderer.model import make_generator
    from posevideo.renderer.model import preset as make_preset

    torch.manual_seed(seed)
    cfg = make_preset(preset, size=size, temporal=temporal or None, base_size=size // 2 if stages == 2 else None,
                      **(enhancer or {}))
    source = {"untrained": True, "seed": seed, "preset": preset + (" two-stage" if stages == 2 else ""),
              "model": cfg.to_dict()}
    return export_generator(make_generator(cfg), cfg.size, out_dir, source=source)


def _placement(stats: dict) -> dict | None:
    """Where the trained person stands (checkpoint statistics): what the page needs to put any pose there."""
    keys = ("center", "scale", "box", "width", "height")
    if not all(k in stats for k in keys):
        return None
    placement = {k: stats[k] for k in keys}
    if stats.get("profile"):  # the person's proportions: uploaded poses are rebuilt on this body
        placement["profile"] = stats["profile"]
    return placement


def export_generator(generator: torch.nn.Module, size: int, out_dir: str | Path, *,
                     layout: str = "reduced", skeleton_spec: dict | None = None, placement: dict | None = None,
                     source: dict | None = None, parity_inputs: np.ndarray | None = None) -> Parity:
    """Write `out_dir` (atomically) with both ONNX files and model.json; return the parity figures.

    `generator` maps (B, 3, S, S) float in [-1, 1] (a skeleton image) to (B, 3, S, S) in [-1, 1];
    one with `.temporal` True also takes the previous output frame (B, 3, S, S): ONNX input "previous".
    `parity_inputs` (N, 3, S, S) float32 in [-1, 1]: the images the parity check runs on; skeleton
    images by default (`skeleton_inputs`), since that is what the generator sees in use.
    `placement`: the trained person's centre, scale (pixels) and median crop box, from the
    checkpoint's statistics; the page moves poses from elsewhere there (posevideo/web/poses.py).
    """
    generator = generator.eval().float().cpu()
    temporal = bool(getattr(generator, "temporal", False))
    takes_hands = bool(getattr(generator, "needs_hands", False))
    parity_hands = None
    if parity_inputs is None:
        parity_inputs = skeleton_inputs(size, layout)
        parity_hands = example_hands(size, layout) if takes_hands else None
    inputs = [{
        "name": INPUT_NAME, "dtype": "float32", "shape": [1, 3, size, size],
        "layout": "NCHW, RGB",
        "range": [-1.0, 1.0],
        "meaning": "skeleton image drawn by the skeleton spec below: uint8 RGB / 127.5 - 1",
    }]
    if temporal:
        inputs.append({
            "name": PREVIOUS_NAME, "dtype": "float32", "shape": [1, 3, size, size],
            "layout": "NCHW, RGB",
            "range": [-1.0, 1.0],
            "meaning": "this model's previous output ('frame' of the last call, as it came out); "
                       "zeros for a sequence's first frame",
        })
    if takes_hands:
        inputs.append({
            "name": HANDS_NAME, "dtype": "float32", "shape": [1, 2, 4],
            "layout": "left hand, right hand; x0, y0, x1, y1",
            "meaning": "the hands' boxes in the skeleton image's pixels: the square around each hand's points "
                       "(conf > 0) as drawn, 1.4x their extent; -1s for a hand with fewer than 3 points "
                       "(posevideo.renderer.predict.hand_boxes; the page's Skeleton.handBoxes)",
        })
    with atomic_dir(out_dir) as tmp:
        onnx_path = tmp / FILES["float32"]
        _export_float32(generator, size, onnx_path, temporal, takes_hands)
        _convert_float16(onnx_path, tmp / FILES["float16"])
        parity = parity_check(generator, tmp, parity_inputs, parity_hands)
        description = {
            "format": "posevideo-renderer-onnx",
            "version": 1,
            "files": FILES,
            "opset": OPSET,
            "resolution": size,
            # Frame sides of the stages inside the graph: [256, 512] for a two-stage model, whose
            # first stage sees the skeleton averaged 2x2 (in the graph: one input for both).
            "stages": [size // 2, size] if hasattr(generator, "enhancer") else [size],
            "temporal": temporal,
            "inputs": inputs,
            "outputs": [{
                "name": OUTPUT_NAME, "dtype": "float32", "shape": [1, 3, size, size],
                "layout": "NCHW, RGB",
                "range": [-1.0, 1.0],
                "meaning": "video frame of the person: uint8 RGB = round((x + 1) * 127.5), clipped",
            }],
            "pose_layout": layout,
            "placement": placement,
            "skeleton_spec": skeleton_spec if skeleton_spec is not None else load_skeleton_spec(),
            "parity": {"float32": parity.float32, "float16": parity.float16, "images": len(parity_inputs),
                       "measure": "max absolute difference with PyTorch, native onnxruntime CPU"},
            "source": source or {},
        }
        (tmp / DESCRIPTION).write_text(json.dumps(description, indent=2) + "\n")
    return parity


class _WithHands(torch.nn.Module):
    """A hand refiner's generator with the hands' boxes as its second positional input, for the exporter."""

    def __init__(self, generator: torch.nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, skeleton: torch.Tensor, hands: torch.Tensor) -> torch.Tensor:
        return self.generator(skeleton, hands=hands)


def _export_float32(generator: torch.nn.Module, size: int, path: Path, temporal: bool = False,
                    hands: bool = False) -> None:
    # Two distinct tensors: the exporter must not take one object given twice for one input.
    example = tuple(torch.zeros(1, 3, size, size) for _ in range(2 if temporal else 1))
    names = [INPUT_NAME, PREVIOUS_NAME] if temporal else [INPUT_NAME]
    if hands:
        generator, names = _WithHands(generator), [INPUT_NAME, HANDS_NAME]
        example = (example[0], torch.tensor([[[0.3, 0.5, 0.45, 0.65], [0.55, 0.5, 0.7, 0.65]]]) * size)
    # The dynamo exporter is chatty (progress lines, "torchvision is not installed") about things
    # that do not concern a plain conv net; its real errors still raise.
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(generator, example, dynamo=True, opset_version=OPSET,
                                        input_names=names, output_names=[OUTPUT_NAME],
                                        external_data=False, verbose=False, report=False)
    finally:
        quiet.setLevel(level)
    # important! save() with external_data=False keeps the weights inside: one file to serve.
    program.save(str(path), external_data=False)


def _convert_float16(src: Path, dst: Path) -> None:
    import onnx
    from onnxconverter_common import float16

    model = onnx.load(str(src))
    with warnings.catch_warnings():
        # Weights too small for float16 are clamped to 1e-7 with one warning each: expected, and noise.
        warnings.filterwarnings("ignore", message="the float32 number")
        # keep_io_types: float32 in and out, so runtimes feed both files alike; casts sit at the edges.
        # ScatterElements (a hand refiner's paste, reduction "add") has no float16 kernel in
        # onnxruntime's CPU provider: it stays float32.
        half = float16.convert_float_to_float16(model, keep_io_types=True,
                                                op_block_list=float16.DEFAULT_OP_BLOCK_LIST + ["ScatterElements"])
    onnx.save(half, str(dst))


def parity_check(generator: torch.nn.Module, export_dir: str | Path, inputs: np.ndarray,
                 hands: np.ndarray | None = None) -> Parity:
    """Max |onnxruntime - torch| for each ONNX file of `export_dir` on `inputs` (N, 3, S, S); a
    temporal model gets for "previous" the image before each in `inputs` (zeros for the first); a
    hand refiner `hands` (N, 2, 4), their hands' boxes (None: no hand seen)."""
    import onnxruntime as ort

    inputs = np.ascontiguousarray(inputs, dtype=np.float32)
    temporal = bool(getattr(generator, "temporal", False))
    takes_hands = bool(getattr(generator, "needs_hands", False))
    if takes_hands and hands is None:
        hands = np.full((len(inputs), 2, 4), -1, np.float32)
    previous = np.concatenate([np.zeros_like(inputs[:1]), inputs[:-1]])
    with torch.no_grad():
        args = (torch.from_numpy(inputs),) + ((torch.from_numpy(previous),) if temporal else ())
        extra = {"hands": torch.from_numpy(np.asarray(hands, np.float32))} if takes_hands else {}
        expected = generator.eval()(*args, **extra).numpy()
    figures = {}
    for precision, name in FILES.items():
        session = ort.InferenceSession(str(Path(export_dir) / name), providers=["CPUExecutionProvider"])
        feeds = [{INPUT_NAME: image[None], **({PREVIOUS_NAME: before[None]} if temporal else {}),
                  **({HANDS_NAME: np.asarray(hands[i:i + 1], np.float32)} if takes_hands else {})}
                 for i, (image, before) in enumerate(zip(inputs, previous))]
        got = np.concatenate([session.run(None, feed)[0] for feed in feeds])
        figures[precision] = float(np.abs(got - expected).max())
    return Parity(**figures)


def skeleton_inputs(size: int, layout: str = "reduced", count: int = PARITY_IMAGES, seed: int = 0) -> np.ndarray:
    """(count, 3, S, S) float32 in [-1, 1]: skeletons drawn by `draw_skeleton` from jittered poses.

    The poses are frames of the page's bundled example (the synthetic speaker), so the check runs
    on the kind of image the generator sees in use.
    """
    from posevideo.skeleton import draw_skeleton, example_poses

    xy, conf = example_poses(count, size, layout=layout, seed=seed)
    images = [draw_skeleton(xy[i], conf[i], layout=layout, size=size) for i in range(count)]
    return np.stack([image.transpose(2, 0, 1) for image in images]).astype(np.float32) / 127.5 - 1


def example_hands(size: int, layout: str = "reduced", count: int = PARITY_IMAGES, seed: int = 0) -> np.ndarray:
    """(count, 2, 4) float32: the hands' boxes of `skeleton_inputs`' poses (same arguments)."""
    from posevideo.renderer.predict import hand_boxes
    from posevideo.skeleton import example_poses

    xy, conf = example_poses(count, size, layout=layout, seed=seed)
    return hand_boxes(xy, conf, layout)


def load_skeleton_spec() -> dict:
    """The skeleton spec the generator was trained with (posevideo/skeleton_spec.json)."""
    path = Path(__file__).parent / "skeleton_spec.json"
    if not path.exists():
        raise InputError(path, "the skeleton spec is missing from the package",
                         "Reinstall posevideo (./setup.sh); the export needs the spec to describe the model.")
    return json.loads(path.read_text())


def read_export(model_dir: str | Path) -> dict:
    """model.json of an export folder, checked: InputError naming what is missing."""
    model_dir = Path(model_dir)
    path = model_dir / DESCRIPTION
    if not path.is_file():
        raise InputError(model_dir, f"no {DESCRIPTION} here, so this is not an exported renderer",
                         "Make one with: posevideo export --renderer RUN --out DIR")
    try:
        description = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(path, f"not valid JSON ({error.msg} at line {error.lineno})",
                         "Export again with posevideo export.") from error
    if description.get("format") != "posevideo-renderer-onnx":
        raise InputError(path, "not a posevideo renderer export (its 'format' field is wrong)",
                         "Export again with posevideo export.")
    for name in description["files"].values():
        if not (model_dir / name).is_file():
            raise InputError(model_dir / name, "missing from the export folder", "Export again with posevideo export.")
    return description
