"""Inference: a .pose file -> video of the person a renderer was trained on.

    posevideo render --pose IN.pose --model RUN_OR_CHECKPOINT --out OUT.mp4 [--audio A.wav]

A pose from any source (another signer, a gesture model, another video) is first rebuilt on the
trained person's body and moved into its frame (`posevideo.pose.retarget`: the body profile and
the shoulder width and position stored in the checkpoint; `--retarget place` moves and scales by
the shoulders only, `none` keeps the pose where it is); then cropped as `prepare` crops (`person_boxes`),
drawn as skeleton images, and run through the generator in batches.
"""
from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import torch

from posevideo.errors import InputError
from posevideo.renderer.model import Generator, RendererConfig
from posevideo.training import build_model, load_checkpoint, read_meta, save_checkpoint

DEFAULT_RENDERER = Path(__file__).resolve().parents[1] / "models" / "renderer-small"  # shipped with the package


def pick_device(device: str | None) -> str:
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError(None, "--device cuda was asked for but PyTorch sees no GPU", "Use --device cpu.")
    return device


def load_renderer(model: str | Path | None, device: str = "cpu") -> tuple[Generator, dict]:
    """The generator of a run folder or checkpoint folder (None: the shipped small renderer), in
    eval mode, and the checkpoint's meta."""
    model = DEFAULT_RENDERER if model is None else Path(model)
    if not model.exists():
        raise InputError(model, "no such renderer folder", "Give a run folder of `posevideo train renderer`, or leave "
                                                          "it out for the shipped small renderer.")
    meta = read_meta(model)
    if meta.get("kind") != "renderer":
        raise InputError(model, f"is a {meta.get('kind', 'unknown')} checkpoint, not a renderer",
                         "Pass a run folder made by `posevideo train renderer`.")
    G = build_model(meta, lambda cfg: Generator(RendererConfig.from_dict(cfg)))
    load_checkpoint(meta["path"], {"G": G})
    return G.to(device, memory_format=torch.channels_last).eval(), meta


@torch.inference_mode()
def generate(G: Generator, skeletons: np.ndarray, device: str, previous: np.ndarray | None = None) -> np.ndarray:
    """(B, S, S, 3) uint8 skeleton images -> (B, S, S, 3) uint8 frames (bf16 on a GPU).
    A temporal model (`G.temporal`) makes them one after the other, each from the one before;
    `previous` (S, S, 3) uint8 is the frame before the first (None: the sequence starts here)."""
    x = generate_input(skeletons, device)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
        if getattr(G, "temporal", False):
            last = None if previous is None else generate_input(previous[None], device)
            frames = []
            for i in range(len(x)):
                last = G(x[i:i + 1], last)
                frames.append(last)
            y = torch.cat(frames)
        else:
            y = G(x)
    return ((y.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def generate_input(images: np.ndarray, device: str) -> torch.Tensor:
    """(B, S, S, 3) uint8 -> (B, 3, S, S) float in [-1, 1] on `device`, channels_last."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2)
    return x.float().div_(127.5).sub_(1.0).contiguous(memory_format=torch.channels_last)


def place(xy: np.ndarray, conf: np.ndarray, fps: float, stats: dict, retarget: str = "full",
          frame_size: tuple[int, int] | None = None, rest: bool = True, path=None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Reduced-layout xy (T, K, 2) pixels of any video and conf (T, K) -> (xy in the trained person's
    video pixels, conf, crop boxes (T, 3), notes). `retarget`: "full" rebuilds the pose on the trained
    person's body (`posevideo.pose.retarget`; needs `stats["profile"]`, else "place" with a note),
    "place" moves and scales it by the shoulders only, "none" keeps it where it is (a pose of the
    trained video; boxes in `frame_size`). Missing hands are then drawn at rest (`rest=False`: left
    missing), in the trained person's rest hand under "full"."""
    from posevideo.pose import NormStats, rest_hands
    from posevideo.pose.retarget import BodyProfile, retarget_pose
    from posevideo.pose.framing import person_boxes
    notes = []
    profile = BodyProfile.from_dict(stats["profile"]) if stats.get("profile") else None
    if retarget == "full" and profile is None:
        notes.append("the renderer's checkpoint has no body profile (trained before profiles were kept): "
                     "placed by the shoulders only (--retarget place)")
        retarget = "place"
    if retarget == "none":
        width, height = frame_size or (stats["width"], stats["height"])
    else:
        width, height = stats["width"], stats["height"]
    placement = NormStats(center=np.asarray(stats["center"], np.float64), scale=float(stats["scale"]))
    xy, conf, more = retarget_pose(xy, conf, profile, placement, mode=retarget, fps=fps, path=path)
    notes += more
    # The renderer was trained on people with hands: without one it draws a stump or a smear.
    if rest:
        shapes = profile.hand_shape if profile is not None and retarget == "full" else None
        xy, conf = rest_hands(xy, conf, shapes=shapes)
    boxes = person_boxes(xy, conf, "reduced", fps, int(width), int(height))
    return np.asarray(xy, np.float32), conf, boxes, notes


def drawn_pose(xy: np.ndarray, conf: np.ndarray, boxes: np.ndarray, size: int,
               input_conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reduced pose as the generator saw it, in the generated frames' pixels: placed xy (T, K, 2)
    cut by `boxes` (T, 3) (x0, y0, side) and scaled to `size`, as `draw_skeletons` maps it (u = (x -
    x0) * size / side). Parts (body, face, each hand) the input had no point of in a frame
    (`input_conf` (T, K), before hands at rest or any filling) get conf 0 there: what the pose
    consistency metric may hold the video to. Returns (xy float32, conf float32); conf 0 points at 0."""
    from posevideo.pose import point_groups
    out = (xy - boxes[:, None, :2]) * (size / boxes[:, None, 2:3])
    conf = np.array(conf, np.float32)
    for idx in point_groups("reduced").values():
        missing = np.flatnonzero(~(input_conf[:, idx] > 0).any(1))              # frames without the part
        conf[missing[:, None], idx] = 0
    return np.where(conf[..., None] > 0, out, 0).astype(np.float32), conf


def render_pose(pose_path: str | Path, model: str | Path, out: str | Path, audio: str | Path | None = None,
                device: str | None = None, batch: int = 16, retarget: str = "full", progress: bool = True,
                drawn_out: str | Path | None = None) -> Path:
    """Write `out` (mp4, H.264, the pose's fps, audio muxed when given); return its path.
    `drawn_out`: also the pose as drawn (`drawn_pose`), a .pose in the video's pixels."""
    from posevideo.pose import arrays, read_pose, to_layout
    check_mp4(out)
    pose = read_pose(pose_path)
    fps = float(pose.body.fps)
    if not fps > 0:
        raise InputError(pose_path, "has no frame rate (fps 0)", "Write the .pose with its video's fps.")
    xy, conf = arrays(to_layout(pose, "reduced", path=pose_path))
    if len(xy) == 0:
        raise InputError(pose_path, "has no frames", "Give a .pose with at least one frame.")
    wave = None
    if audio is not None:
        from posevideo.audio import SAMPLE_RATE, load_audio
        wave = load_audio(audio, SAMPLE_RATE)
    frame_size = (pose.header.dimensions.width, pose.header.dimensions.height)
    return render_poses(xy, conf, fps, model, out, audio=wave, device=device, batch=batch, retarget=retarget,
                        frame_size=frame_size, progress=progress, path=pose_path, drawn_out=drawn_out)


def render_poses(xy: np.ndarray, conf: np.ndarray, fps: float, model: str | Path | None, out: str | Path,
                 audio: np.ndarray | None = None, device: str | None = None, batch: int = 16, retarget: str = "full",
                 frame_size: tuple[int, int] | None = None, progress: bool = True, path=None,
                 preview: str | Path | None = None, drawn_out: str | Path | None = None) -> Path:
    """Reduced-layout xy (T, 178, 2) pixels and conf (T, 178) at `fps` -> `out` (mp4, one video frame
    per pose frame, the first at t = 0), with 16 kHz mono `audio` muxed when given; `preview`: also
    a side-by-side mp4, skeleton (what the generator saw) | video. `retarget`: see `place`. Missing
    hands are drawn at rest (`posevideo.pose.rest_hands`); notes on stderr say what was filled or
    turned. `drawn_out`: also a .pose of the pose as drawn, in the video's pixels (`drawn_pose`; for
    `evaluate consistency`). `path` only names the pose's source in errors."""
    from tqdm import tqdm
    from posevideo.audio import SAMPLE_RATE
    from posevideo.pose import hand_frames
    from posevideo.skeleton import draw_skeletons
    from posevideo.video import VideoWriter
    from posevideo.files import check_writable
    for video in (out, preview):
        if video is not None:
            check_mp4(video)
            check_writable(Path(video).parent)  # now, not after the model is loaded and the frames drawn
    check_pose_path(drawn_out)
    if drawn_out is not None:
        check_writable(Path(drawn_out).parent)
    device = pick_device(device)
    G, meta = load_renderer(model, device)
    size = meta["model"]["size"]
    input_conf = conf  # before retargeting and hands at rest: what the input had
    seen = hand_frames(conf)
    xy, conf, boxes, notes = place(xy, conf, fps, meta["stats"], retarget=retarget, frame_size=frame_size, path=path)
    for note in notes:
        print(f"note: {path or 'pose'}: {note}", file=sys.stderr)
    if hand_frames(conf) > seen:
        print(f"note: {path or 'pose'}: {hand_frames(conf) - seen} of {2 * len(xy)} hand-frames had no hand seen; "
              "drawn as a hand at rest", file=sys.stderr)
    with ExitStack() as stack:
        writer = stack.enter_context(VideoWriter(out, fps, size, size, audio=audio, sample_rate=SAMPLE_RATE))
        side = None if preview is None else stack.enter_context(
            VideoWriter(preview, fps, 2 * size, size, audio=audio, sample_rate=SAMPLE_RATE))
        previous = None  # a temporal model's last frame, carried across batches
        for start in tqdm(range(0, len(xy), batch), desc="render", unit="batch", disable=not progress):
            end = min(start + batch, len(xy))
            skeletons = draw_skeletons(xy[start:end], conf[start:end], "reduced", size, box=boxes[start:end])
            frames = generate(G, skeletons, device, previous)
            previous = frames[-1]
            for skeleton, frame in zip(skeletons, frames):
                writer.write(frame)
                if side is not None:
                    side.write(np.concatenate([skeleton, frame], axis=1))
    if drawn_out is not None:
        from posevideo.pose import make_pose, write_pose
        write_pose(make_pose("reduced", *drawn_pose(xy, conf, boxes, size, input_conf), fps, size, size), drawn_out)
    return Path(out)


def check_mp4(out: str | Path) -> None:
    if Path(out).suffix.lower() != ".mp4":
        raise InputError(out, "is not an .mp4 path", "Name the output OUT.mp4.")


def check_pose_path(out: str | Path | None) -> None:
    if out is not None and Path(out).suffix.lower() != ".pose":
        raise InputError(out, "is not a .pose path", "Name the pose output P.pose.")


def ship(model: str | Path, out: str | Path) -> Path:
    """Write the generator alone in float16 (weights + checkpoint.json): what a repository ships."""
    G, meta = load_renderer(model, "cpu")
    keep = {k: meta[k] for k in ("kind", "step", "model", "stats") if k in meta}
    keep["source"] = str(meta["path"])
    return save_checkpoint(out, {"G": G}, None, keep, dtype=torch.float16)
