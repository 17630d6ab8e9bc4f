"""Inference: a .pose file -> video of the person a renderer was trained on.

    posevideo render --pose IN.pose --model RUN_OR_CHECKPOINT --out OUT.mp4 [--audio A.wav]

A pose from any source (another signer, a gesture model, another video) is first rebuilt on the
trained person's body and moved into its frame (`posevideo.pose.retarget`: the body profile and
the shoulder width and position stored in the checkpoint; `--retarget place` moves and scales by
the shoulders only, `none` keeps the pose where it is); then cropped as `prepare` crops (`person_boxes`),
drawn as skeleton images, and run through the generator in batches.
"""
from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import torch

from posevideo.errors import InputError
from posevideo.renderer.model import Generator, RendererConfig, make_generator
from posevideo.training import build_model, load_checkpoint, read_meta, save_checkpoint

DEFAULT_RENDERER = Path(__file__).resolve().parents[1] / "models" / "renderer-small"  # shipped with the package


def pick_device(device: str | None) -> str:
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError(None, "--device cuda was asked for but PyTorch sees no GPU", "Use --device cpu.")
    return device


def load_renderer(model: str | Path | None, device: str = "cpu", size: int | None = None) -> tuple[Generator, dict]:
    """The generator of a run folder or checkpoint folder (None: the shipped small renderer), in
    eval mode, and the checkpoint's meta. `size`: the frame side wanted (None: the model's own); a
    two-stage model (`model.TwoStage`) also makes its first stage's size, by that stage alone (the
    meta's "model" then describes that stage); any other size is an InputError."""
    model = DEFAULT_RENDERER if model is None else Path(model)
    meta = renderer_meta(model)
    cfg = build_model(meta, RendererConfig.from_dict)
    G = make_generator(cfg)
    load_checkpoint(meta["path"], {"G": G})
    if check_size(model, cfg, size) != cfg.size:
        G, meta = G.base, {**meta, "model": cfg.base().to_dict()}                  # the first stage alone
    return G.to(device, memory_format=torch.channels_last).eval(), meta


def renderer_meta(model: Path) -> dict:
    """checkpoint.json of a renderer folder; an InputError when it is missing or not a renderer's."""
    if not model.exists():
        raise InputError(model, "no such renderer folder", "Give a run folder of `posevideo train renderer`, or leave "
                                                          "it out for the shipped small renderer.")
    meta = read_meta(model)
    if meta.get("kind") != "renderer":
        raise InputError(model, f"is a {meta.get('kind', 'unknown')} checkpoint, not a renderer",
                         "Pass a run folder made by `posevideo train renderer`.")
    return meta


def check_size(model: str | Path | None, cfg: RendererConfig | None = None, size: int | None = None) -> int:
    """The frame side a renderer (`model`, or its config `cfg`) makes when `size` is asked for (None:
    its own); an InputError when it cannot make that size (or `model` is no renderer)."""
    if cfg is None:
        meta = renderer_meta(DEFAULT_RENDERER if model is None else Path(model))
        cfg = build_model(meta, RendererConfig.from_dict)
    if size is None or size == cfg.size:
        return cfg.size
    if size not in cfg.sizes:
        made = " and ".join(f"{s}px" for s in cfg.sizes)
        raise InputError(model or DEFAULT_RENDERER, f"makes {made} frames, not {size}px",
                         f"Pass --size {cfg.size} (or leave it out), or a renderer trained at {size}px "
                         f"(`posevideo train renderer --size {size}`; 512 on a 256 run: --upsample-from RUN256).")
    return size


@torch.inference_mode()
def generate(G: Generator, skeletons: np.ndarray, device: str, previous: np.ndarray | None = None,
             hands: np.ndarray | None = None) -> np.ndarray:
    """(B, S, S, 3) uint8 skeleton images -> (B, S, S, 3) uint8 frames (bf16 on a GPU).
    A temporal model (`G.temporal`) makes them one after the other, each from the one before;
    `previous` (S, S, 3) uint8 is the frame before the first (None: the sequence starts here).
    `hands` (B, 2, 4): the skeletons' hand boxes (`hand_boxes`), for a model with a hand refiner
    (`G.needs_hands`); others ignore them."""
    if getattr(G, "temporal", False):
        x = generate_input(skeletons, device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
            last = None if previous is None else generate_input(previous[None], device)
            frames = []
            for i in range(len(x)):
                last = G(x[i:i + 1], last)
                frames.append(last)
            y = torch.cat(frames)
        return ((y.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    x = torch.from_numpy(np.ascontiguousarray(skeletons)).to(device)
    if getattr(G, "needs_hands", False):
        if hands is None:
            raise ValueError("this renderer refines the hands: generate() needs their boxes (hands=, from hand_boxes)")
        return _frames(G, x, device, torch.from_numpy(np.asarray(hands, np.float32)).to(device)).cpu().numpy()
    return _frames(G, x, device).cpu().numpy()


def hand_boxes(xy: np.ndarray, conf: np.ndarray, layout: str = "reduced") -> np.ndarray:
    """(T, K, 2) drawn pose in the skeleton image's pixels -> (T, 2, 4) float32 left and right hand
    boxes (x0, y0, x1, y1), -1 where a hand is not seen: what a hand refiner takes beside the skeleton
    (the same boxes its training crops came from, `data.regions`)."""
    from posevideo.renderer.data import regions
    return regions(xy, conf, layout)[:, :2]


def drawn_hands(xy: np.ndarray, conf: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """`hand_boxes` of a placed pose (T, K, 2) source pixels, drawn by `draw_skeletons` at `size` from the
    crop `boxes` (T, 3) (x0, y0, side): the boxes in the skeleton image's pixels."""
    return hand_boxes((xy - boxes[:, None, :2]) * (size / boxes[:, None, 2:3]), conf)


def _frames(G: Generator, x: torch.Tensor, device: str, hands: torch.Tensor | None = None) -> torch.Tensor:
    """(B, S, S, 3) uint8 skeletons on the device -> (B, S, S, 3) uint8 frames there: [-1, 1] in,
    the generator (autocast bf16 on a GPU), back to uint8. One function for the eager and the
    captured path, so both compute the same. (A generator that also takes its previous output frame
    would get it here, as a second input.) `hands` (B, 2, 4) on the device: a hand refiner's boxes."""
    x = x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).contiguous(memory_format=torch.channels_last)
    # No autocast cache: weights cast inside a CUDA graph capture must not outlive it (PyTorch's
    # CUDA-graph notes); each weight is cast once a forward either way.
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda"), cache_enabled=False):
        y = G(x) if hands is None else G(x, hands=hands)
    return ((y.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


class GraphGenerator:
    """`generate` on a GPU at one fixed batch size, captured once in a CUDA graph and replayed: no
    launch overhead, uint8 in and out of the device (4x less to copy than float). Batches smaller
    than `batch` (the last one) are padded. Warm-up runs under cudnn.benchmark, which picks each
    convolution's fastest algorithm for the fixed shapes the graph then keeps."""

    def __init__(self, G: Generator, batch: int, size: int, device: str):
        self.batch, self.size, self.device = batch, size, device
        stream = torch.cuda.Stream(device)
        with torch.inference_mode(), torch.backends.cudnn.flags(enabled=True, benchmark=True):
            self.x = torch.zeros((batch, size, size, 3), dtype=torch.uint8, device=device)  # the graph's input
            # a hand refiner's second input, the hands' boxes (-1: not seen; the padding's)
            self.hands = torch.full((batch, 2, 4), -1.0, device=device) if getattr(G, "needs_hands", False) else None
            stream.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(stream):  # warm-up off the default stream, as capture wants
                for _ in range(3):
                    _frames(G, self.x, device, self.hands)
            torch.cuda.current_stream(device).wait_stream(stream)
            self.graph = torch.cuda.CUDAGraph()
            # thread_local: this runs in a loader thread while the main thread works (no CUDA there).
            with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
                self.y = _frames(G, self.x, device, self.hands)  # (batch, S, S, 3) uint8, rewritten by each replay
        torch.cuda.synchronize(device)

    def host_buffer(self) -> np.ndarray:
        """A (batch, S, S, 3) uint8 array in pinned memory (from torch's caching host allocator, so
        cheap after the first few): draw skeletons into it and the upload is a plain DMA."""
        return torch.empty((self.batch, self.size, self.size, 3), dtype=torch.uint8, pin_memory=True).numpy()

    @torch.inference_mode()
    def __call__(self, skeletons: np.ndarray, hands: np.ndarray | None = None) -> np.ndarray:
        """(B <= batch, S, S, 3) uint8 skeletons -> (B, S, S, 3) uint8 frames (a new pinned array);
        `hands` (B, 2, 4): their hand boxes, for a model with a hand refiner."""
        n = len(skeletons)
        if n > self.batch:
            raise ValueError(f"a batch of {n} skeletons; this graph takes at most {self.batch}")
        if self.hands is not None:
            if hands is None:
                raise ValueError("this renderer refines the hands: the graph needs their boxes (hands=)")
            self.hands.fill_(-1.0)
            self.hands[:n].copy_(torch.from_numpy(np.asarray(hands, np.float32)))
        source = torch.from_numpy(skeletons)
        self.x[:n].copy_(source, non_blocking=source.is_pinned())
        if n < self.batch:
            self.x[n:].zero_()  # padding: its frames are computed and dropped
        self.graph.replay()
        out = torch.empty((n, self.size, self.size, 3), dtype=torch.uint8, pin_memory=True)
        out.copy_(self.y[:n], non_blocking=True)
        torch.cuda.current_stream(self.device).synchronize()  # the upload is done too: `skeletons` can be reused
        return out.numpy()


def generate_input(images: np.ndarray, device: str) -> torch.Tensor:
    """(B, S, S, 3) uint8 -> (B, 3, S, S) float in [-1, 1] on `device`, channels_last."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2)
    return x.float().div_(127.5).sub_(1.0).contiguous(memory_format=torch.channels_last)


ADAPT_PRIOR = 16.0      # adapt_norm: the trained statistics' weight, in batches of 32 frames
ADAPT_FRAMES = 256      # render_poses(adapt=True): frames of the pose its statistics come from


@torch.no_grad()
def adapt_norm(G: torch.nn.Module, skeletons: np.ndarray, device: str, prior: float = ADAPT_PRIOR) -> torch.nn.Module:
    """Test-time adaptation of G's BatchNorm statistics to one input (Schneider et al. 2020,
    "Improving robustness against common corruptions by covariate shift adaptation"): each
    BatchNorm layer's running mean and variance become the mix of the trained ones, weight `prior`
    (in batches of 32 frames), and those of G's own activations on `skeletons` (B, S, S, 3) uint8,
    the input's skeleton images, weight B / 32. No weight changes; G (on `device`) is changed in
    place and returned in eval mode. Why: another person's pose, retargeted, still gives the
    generator activations its training statistics never saw, and it paints a coloured chequer
    there (BENCHMARKS.md, "Test-time BatchNorm statistics")."""
    norms = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if not norms or len(skeletons) == 0:
        return G
    trained = [(m.running_mean.clone(), m.running_var.clone(), m.momentum) for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None          # a cumulative average over the batches below
        m.train()
    x = generate_input(skeletons, device)
    run = getattr(G, "unrefined", G)  # a hand refiner has no normalisation (and would want the boxes)
    for i in range(0, len(x), 32):
        run(x[i:i + 32])
    share = (len(x) / 32) / (len(x) / 32 + prior)
    for m, (mean, var, momentum) in zip(norms, trained):
        m.running_mean.mul_(share).add_((1 - share) * mean)
        m.running_var.mul_(share).add_((1 - share) * var)
        m.momentum = momentum
        m.eval()
    return G


def adapt_sample(total: int) -> np.ndarray:
    """Indices of the frames of a `total`-frame pose whose skeletons `adapt_norm` sees: up to
    ADAPT_FRAMES, evenly spaced."""
    return np.unique(np.linspace(0, total - 1, min(total, ADAPT_FRAMES)).round().astype(int))


def place(xy: np.ndarray, conf: np.ndarray, fps: float, stats: dict, retarget: str = "full",
          frame_size: tuple[int, int] | None = None, rest: bool = True, path=None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Reduced-layout xy (T, K, 2) pixels of any video and conf (T, K) -> (xy in the trained person's
    video pixels, conf, crop boxes (T, 3), notes). `retarget`: "full" rebuilds the pose on the trained
    person's body (`posevideo.pose.retarget`; needs `stats["profile"]`, else "place" with a note),
    "place" moves and scales it by the shoulders only, "none" keeps it where it is (a pose of the
    trained video; boxes in `frame_size`). Missing hands are then drawn at rest (`rest=False`: left
    missing), in the trained person's rest hand under "full". `Placement` does the same a run of
    frames at a time."""
    placing = Placement(xy, conf, fps, stats, retarget=retarget, frame_size=frame_size, rest=rest, path=path)
    xy, conf = placing.frames(0, len(placing))
    return xy, conf, placing.boxes, placing.notes


class Placement:
    """`place` (same arguments) in two parts: building it does what needs the whole pose (the
    notes, the crop boxes `boxes` (T, 3), `Retargeting`'s whole-sequence part; on a long pose about
    a twentieth of `place`), then `frames(a, b)` gives frames [a, b) placed (xy float32, conf), for any
    run, in any order, from several threads: the same numbers as `place` (a test checks). So
    `render_poses` places the batches in threads ahead of the drawing, and the first frames are
    generated and encoded while later ones are still being placed."""

    def __init__(self, xy: np.ndarray, conf: np.ndarray, fps: float, stats: dict, retarget: str = "full",
                 frame_size: tuple[int, int] | None = None, rest: bool = True, path=None):
        from posevideo.pose import NormStats
        from posevideo.pose.framing import person_boxes
        from posevideo.pose.rest import shoulder_widths
        from posevideo.pose.retarget import BodyProfile, Retargeting
        self.notes = []
        profile = BodyProfile.from_dict(stats["profile"]) if stats.get("profile") else None
        if retarget == "full" and profile is None:
            self.notes.append("the renderer's checkpoint has no body profile (trained before profiles were kept): "
                              "placed by the shoulders only (--retarget place)")
            retarget = "place"
        if retarget == "none":
            width, height = frame_size or (stats["width"], stats["height"])
        else:
            width, height = stats["width"], stats["height"]
        placement = NormStats(center=np.asarray(stats["center"], np.float64), scale=float(stats["scale"]))
        self.retargeting = Retargeting(xy, conf, profile, placement, mode=retarget, fps=fps, path=path)
        self.notes += self.retargeting.notes
        # Hands at rest and boxes need only the shoulders, which are final before the arms are rebuilt.
        base, base_conf = self.retargeting.base(), self.retargeting.conf
        # The renderer was trained on people with hands: without one it draws a stump or a smear.
        self.widths = shoulder_widths(base, base_conf) if rest else None  # None: no hands at rest
        self.shapes = profile.hand_shape if profile is not None and retarget == "full" else None
        self.boxes = person_boxes(base, base_conf, "reduced", fps, int(width), int(height))

    def __len__(self) -> int:
        return len(self.boxes)

    def own(self, conf: np.ndarray) -> np.ndarray:
        """The input's conf (T, K) with the joints drawn as the trained person's in every frame (the
        hips under "full") at 0: what of the drawn pose is the input's, for `drawn_pose`."""
        own = np.array(conf, np.float32)
        own[:, self.retargeting.held] = 0
        return own

    def frames(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Frames [a, b): (xy (b - a, K, 2) float32 in the trained person's video pixels, conf (b - a, K))."""
        from posevideo.pose import rest_hands
        xy, conf = self.retargeting.frames(a, b)
        if self.widths is not None:
            xy, conf = rest_hands(xy, conf, shapes=self.shapes, width=self.widths[a:b])
        return np.asarray(xy, np.float32), conf


def drawn_pose(xy: np.ndarray, conf: np.ndarray, boxes: np.ndarray, size: int,
               input_conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reduced pose as the generator saw it, in the generated frames' pixels: placed xy (T, K, 2)
    cut by `boxes` (T, 3) (x0, y0, side) and scaled to `size`, as `draw_skeletons` maps it (u = (x -
    x0) * size / side). What the input did not have gets conf 0: what the pose consistency metric
    may hold the video to. `input_conf` (T, K) is the input's, before hands at rest or any filling:
    - a part (body, face, each hand) with no point in a frame (a hand drawn at rest);
    - a body point under the drawing threshold there (an arm lost below the picture drawn
      hanging; `Placement.own` puts the joints drawn as the trained person's in every frame, `full`'s
      hips, at 0), but for a wrist whose hand the input had (the hand places it).
    Returns (xy float32, conf float32); conf 0 points at 0."""
    from posevideo.pose import point_groups, wrist_indices
    from posevideo.pose.retarget import DRAWN
    out = (xy - boxes[:, None, :2]) * (size / boxes[:, None, 2:3])
    conf = np.array(conf, np.float32)
    groups = point_groups("reduced")
    for idx in groups.values():
        missing = np.flatnonzero(~(input_conf[:, idx] > 0).any(1))              # frames without the part
        conf[missing[:, None], idx] = 0
    invented = np.zeros(conf.shape, bool)
    invented[:, groups["body"]] = input_conf[:, groups["body"]] < DRAWN
    for side, wrist in zip(("right", "left"), wrist_indices("reduced")):
        invented[:, wrist] &= ~(input_conf[:, groups[f"{side}_hand"]] > 0).any(1)
    conf[invented] = 0
    return np.where(conf[..., None] > 0, out, 0).astype(np.float32), conf


def render_pose(pose_path: str | Path, model: str | Path, out: str | Path, audio: str | Path | None = None,
                device: str | None = None, batch: int | None = None, retarget: str = "full", progress: bool = True,
                drawn_out: str | Path | None = None, workers: int | None = None, cuda_graph: bool = True,
                segments: int | None = None, size: int | None = None, adapt: bool = True) -> Path:
    """Write `out` (mp4, H.264, the pose's fps, audio muxed when given); return its path.
    `drawn_out`: also the pose as drawn (`drawn_pose`), a .pose in the video's pixels. `batch`,
    `workers`, `cuda_graph`, `segments`, `size`, `adapt`: see `render_poses`."""
    check_mp4(out)
    gpu_start = start_gpu(device)  # while the pose is read
    xy, conf, fps, frame_size = read_input(pose_path)
    wave = None
    if audio is not None:
        from posevideo.audio import SAMPLE_RATE, load_audio
        wave = load_audio(audio, SAMPLE_RATE)
    return render_poses(xy, conf, fps, model, out, audio=wave, device=device, batch=batch, retarget=retarget,
                        frame_size=frame_size, progress=progress, path=pose_path, drawn_out=drawn_out,
                        workers=workers, cuda_graph=cuda_graph, segments=segments, size=size, gpu_start=gpu_start,
                        adapt=adapt, source=pose_path)


def read_input(pose_path: str | Path) -> tuple[np.ndarray, np.ndarray, float, tuple[int, int]]:
    """A .pose to render -> reduced xy (T, 178, 2) pixels, conf (T, 178), fps and the frame size
    (width, height) of its header; InputError when it has no frame rate or no frames."""
    from posevideo.pose import arrays, read_pose, to_layout
    pose = read_pose(pose_path)
    fps = float(pose.body.fps)
    if not fps > 0:
        raise InputError(pose_path, "has no frame rate (fps 0)", "Write the .pose with its video's fps.")
    xy, conf = arrays(to_layout(pose, "reduced", path=pose_path))
    if len(xy) == 0:
        raise InputError(pose_path, "has no frames", "Give a .pose with at least one frame.")
    return xy, conf, fps, (pose.header.dimensions.width, pose.header.dimensions.height)


def start_gpu(device: str | None):
    """Start CUDA in a thread when `device` is a GPU (None: the GPU if there is one): its context,
    and cuDNN and cuBLAS loaded by a tiny convolution and product, a second or so that then runs
    while the caller reads the pose. Returns the thread's future (None for a CPU), for
    `render_poses(gpu_start=)`, which waits for it before it uses the GPU (a CUDA graph capture
    must have the GPU to itself). An error surfaces there."""
    if device is not None and not device.startswith("cuda"):
        return None
    from concurrent.futures import ThreadPoolExecutor
    pool = ThreadPoolExecutor(1, thread_name_prefix="gpu-start")
    started = pool.submit(_start_cuda, device)
    pool.shutdown(wait=False)  # the thread ends when its one job does
    return started


@torch.inference_mode()
def _start_cuda(device: str | None) -> None:
    if not torch.cuda.is_available():
        return  # `pick_device` says so, in the caller's thread
    x = torch.zeros((1, 3, 8, 8), device=device or "cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        torch.nn.functional.conv2d(x, x[:, :, :3, :3].expand(3, 3, 3, 3), padding=1).flatten(1).matmul(
            x.flatten(1).T)
    torch.cuda.synchronize(x.device)


def default_batch(device: str) -> int:
    """Frames a generator call: 128 on a GPU (past the launch-bound sizes, a 25 MB upload), 16 on a CPU."""
    return 128 if device.startswith("cuda") else 16


def default_workers(device: str) -> int:
    """Skeleton-drawing threads. On a GPU: half the cores (x264's threads want the rest), at most 8,
    at least 1 (one thread draws ~2,700 frames/s at 256x256: BENCHMARKS.md). On a CPU: 0, one stage
    after another, since the generator takes every core there and threads beside torch's only
    slowed it (300 frames on a busy 2-core CPU: 33 s with 1 worker, 19 s with 0)."""
    if not device.startswith("cuda"):
        return 0
    return max(1, min(8, (os.cpu_count() or 2) // 2))


def default_segments(device: str) -> int:
    """Encoders at once: on a GPU one per 8 cores (x264 uses at most 8 threads on a 256-pixel
    frame), at most 4; on a CPU 1 (the generator is the bottleneck there)."""
    if not device.startswith("cuda"):
        return 1
    return max(1, min(4, (os.cpu_count() or 1) // 8))


def render_poses(xy: np.ndarray, conf: np.ndarray, fps: float, model: str | Path | None, out: str | Path,
                 audio: np.ndarray | None = None, device: str | None = None, batch: int | None = None,
                 retarget: str = "full", frame_size: tuple[int, int] | None = None, progress: bool = True, path=None,
                 preview: str | Path | None = None, drawn_out: str | Path | None = None,
                 workers: int | None = None, cuda_graph: bool = True, segments: int | None = None,
                 size: int | None = None, gpu_start=None, adapt: bool = False,
                 source: str | Path | None = None) -> Path:
    """Reduced-layout xy (T, 178, 2) pixels and conf (T, 178) at `fps` -> `out` (mp4, one video frame
    per pose frame, the first at t = 0), with 16 kHz mono `audio` muxed when given; `preview`: also
    a side-by-side mp4, skeleton (what the generator saw) | video. `retarget`: see `place`. Missing
    hands are drawn at rest (`posevideo.pose.rest_hands`); notes on stderr say what was filled or
    turned. `drawn_out`: also a .pose of the pose as drawn, in the video's pixels (`drawn_pose`; for
    `evaluate consistency`). `path` only names the pose's source in errors. `source`: the .pose file
    that `xy`, `conf`, `fps` and `frame_size` were read from (`read_input`); the video then
    records how it was drawn from it (`drawing_record`), so `evaluate consistency` takes that file.

    Speed: `batch` frames a generator call (None: `default_batch`; another size can move a pixel by
    rounding); `workers` threads draw skeletons while the generator runs and one more thread
    encodes, a few batches queued between them (None: `default_workers`; 0: draw, generate and
    encode one batch after another in this thread, the loop before 2026-12-02; the video is the
    same either way); `cuda_graph`: on a GPU, replay the generator as a CUDA graph
    (`GraphGenerator`); `segments`: that many x264 encoders at once, each on a run of consecutive
    batches, joined into one mp4 without re-encoding (`posevideo.video.join_videos`; None:
    `default_segments`). `size`: the video's side (None: the model's; a two-stage model also makes
    its first stage's, see `load_renderer`). The model loads, moves to the GPU and is captured
    while the pose is placed, and the pose is placed batch by batch ahead of the drawing (by
    `workers` more threads), so the first frames are generated and encoded while later ones are
    still placed.
    `gpu_start`: a `start_gpu` future begun earlier (`render_pose` begins it before it reads the pose).
    `adapt`: the generator's BatchNorm statistics adapted to this pose (`adapt_norm`, on up to
    ADAPT_FRAMES evenly spaced frames, drawn first; the model then loads after the placing starts);
    never for a temporal model."""
    from concurrent.futures import ThreadPoolExecutor
    from posevideo.audio import SAMPLE_RATE
    from posevideo.pose import hand_frames
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
    batch = default_batch(device) if batch is None else int(batch)
    workers = default_workers(device) if workers is None else int(workers)
    segments = default_segments(device) if segments is None else int(segments)
    if batch < 1 or workers < 0 or segments < 1:
        raise ValueError(f"batch and segments must be >= 1 and workers >= 0, got {batch}, {segments}, {workers}")
    meta = renderer_meta(DEFAULT_RENDERER if model is None else Path(model))  # the weights load in `loader`
    cfg = build_model(meta, RendererConfig.from_dict)
    size = check_size(model, cfg, size)
    tags = {} if source is None else drawing_record(source, meta["stats"], retarget, size)
    if cfg.temporal:  # each frame from the one before: one encoder, in order, eager
        segments, cuda_graph = 1, False
        adapt = False  # its generator also takes the previous frame: statistics of skeletons alone would be off
    # Batches in encoder lanes: lane k encodes the k-th of `segments` runs of consecutive batches
    # into its own part file, joined at the end without re-encoding; the batches are drawn and
    # generated round-robin over the lanes so that every encoder has work at once.
    total = len(xy)
    starts = np.arange(0, total, batch)
    lanes = np.array_split(starts, max(1, min(segments, len(starts))))       # batch starts of each lane
    lane_of = {int(start): k for k, lane in enumerate(lanes) for start in lane}
    order = [int(lane[i]) for i in range(len(lanes[0])) for lane in lanes if i < len(lane)]
    seen = hand_frames(conf)
    placed_xy, placed_conf = np.empty((total, *np.shape(xy)[1:]), np.float32), np.empty(np.shape(conf), np.float32)
    with ExitStack() as parts_folder:
        # Nothing waits for a stage it does not need: the GPU's start (CUDA context, weights, cudnn's
        # algorithm search, graph capture: seconds) runs in a thread from here; the pose is placed
        # (numpy: seconds on a long pose) batch by batch in the order the pipeline takes them, by
        # `workers` threads, ahead of the drawing, so the first batches are drawn, generated and
        # encoded while later ones are still being placed (`Placement`: the same numbers as
        # placing all at once). Only the part of placing that needs the whole pose comes first.
        loader = parts_folder.enter_context(ThreadPoolExecutor(1, thread_name_prefix="load"))
        if not adapt:
            loading = loader.submit(_generator, model, device, batch, size, cuda_graph, gpu_start)
        placing = Placement(xy, conf, fps, meta["stats"], retarget=retarget, frame_size=frame_size, path=path)
        for note in placing.notes:
            print(f"note: {path or 'pose'}: {note}", file=sys.stderr)
        boxes = placing.boxes
        input_conf = placing.own(conf)  # before retargeting and hands at rest: what the input had
        if adapt:  # the statistics come from the pose's own skeletons, so these are drawn first
            from posevideo.skeleton import draw_skeletons
            sample = adapt_sample(total)
            runs = [placing.frames(i, i + 1) for i in sample]
            calibration = draw_skeletons(np.concatenate([r[0] for r in runs]), np.concatenate([r[1] for r in runs]),
                                         "reduced", size, box=boxes[sample])
            loading = loader.submit(_generator, model, device, batch, size, cuda_graph, gpu_start, calibration)

        def place_batch(start: int) -> None:
            end = min(start + batch, total)
            placed_xy[start:end], placed_conf[start:end] = placing.frames(start, end)
        if workers:
            placer = ThreadPoolExecutor(workers, thread_name_prefix="place")
            parts_folder.callback(placer.shutdown, cancel_futures=True)  # an error stops the placing too
            placed = {start: placer.submit(place_batch, start) for start in order}

        if len(lanes) == 1:
            targets = [(out, preview)]
        else:
            import tempfile
            folder = Path(parts_folder.enter_context(tempfile.TemporaryDirectory(
                dir=Path(out).parent, prefix=f".{Path(out).name}.parts-")))
            targets = [(folder / f"{k}.mp4", None if preview is None else folder / f"{k}.preview.mp4")
                       for k in range(len(lanes))]
        sound = audio if len(lanes) == 1 else None  # parts have none: the join muxes it
        with ExitStack() as stack:
            writers = [stack.enter_context(VideoWriter(video, fps, size, size, audio=sound, sample_rate=SAMPLE_RATE,
                                                       metadata=tags if len(lanes) == 1 else None))
                       for video, _ in targets]
            sides = [None if side is None else stack.enter_context(
                VideoWriter(side, fps, 2 * size, size, audio=sound, sample_rate=SAMPLE_RATE)) for _, side in targets]

            def draw(start: int) -> np.ndarray:
                from posevideo.skeleton import draw_skeletons
                end = min(start + batch, total)
                placed[start].result() if workers else place_batch(start)
                # Into the generator's own input arrays (pinned) once the GPU has started; before
                # that into plain ones, so drawing (and numba's first load) never waits for the GPU.
                buffer = loading.result()[1] if loading.done() or not workers else None
                return draw_skeletons(placed_xy[start:end], placed_conf[start:end], "reduced", size,
                                      box=boxes[start:end], out=None if buffer is None else buffer()[:end - start])

            def write(start: int, skeletons: np.ndarray, frames: np.ndarray) -> None:
                writer, side = writers[lane_of[start]], sides[lane_of[start]]
                for skeleton, frame in zip(skeletons, frames):
                    writer.write(frame)
                    if side is not None:
                        side.write(np.concatenate([skeleton, frame], axis=1))

            def run(start: int, skeletons: np.ndarray) -> np.ndarray:
                if not cfg.hand_refiner_ngf or size != cfg.size:
                    return loading.result()[0](skeletons)
                end = min(start + batch, total)  # a hand refiner also takes the hands' boxes, from the drawn pose
                return loading.result()[0](skeletons, drawn_hands(placed_xy[start:end], placed_conf[start:end],
                                                                  boxes[start:end], size))

            _pipeline(order, draw, run, write, workers, total, progress, lane=lane_of.get, lanes=len(lanes))
        if len(lanes) > 1:
            from posevideo.video import join_videos
            join_videos([video for video, _ in targets], out, audio=audio, sample_rate=SAMPLE_RATE, metadata=tags)
            if preview is not None:
                join_videos([side for _, side in targets], preview, audio=audio, sample_rate=SAMPLE_RATE)
    if hand_frames(placed_conf) > seen:  # known once every batch is placed
        print(f"note: {path or 'pose'}: {hand_frames(placed_conf) - seen} of {2 * total} hand-frames had no hand "
              "seen; drawn as a hand at rest", file=sys.stderr)
    if drawn_out is not None:
        from posevideo.pose import make_pose, write_pose
        write_pose(make_pose("reduced", *drawn_pose(placed_xy, placed_conf, boxes, size, input_conf), fps, size, size),
                   drawn_out)
    return Path(out)


# How a video was drawn from a .pose file, kept in the video (its mp4 "comment" tag, as JSON under
# "posevideo"): the file's SHA-256, the placement's inputs (the renderer's framing statistics and body
# profile, the retarget mode) and the frame side. With it `evaluate consistency` takes the very .pose
# a user rendered and places it again (`redraw`: numpy, no generator) rather than asking for
# `render --drawn-out`'s file. A few kB.
RECORD_TAG = "comment"


def file_digest(path: str | Path) -> str:
    import hashlib
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def drawing_record(source: str | Path, stats: dict, retarget: str, size: int) -> dict[str, str]:
    """The container tags that record how a video is drawn from the .pose `source` (see RECORD_TAG)."""
    import json
    from posevideo import __version__
    record = {"version": __version__, "drawn_from": {"name": Path(source).name, "sha256": file_digest(source)},
              "retarget": retarget, "size": size, "stats": stats}
    return {RECORD_TAG: json.dumps({"posevideo": record}, separators=(",", ":"))}


def read_record(video: str | Path) -> dict | None:
    """`drawing_record`'s record in a video `render` wrote; None for any other video."""
    import json
    from posevideo.video import video_tags
    try:
        record = json.loads(video_tags(video).get(RECORD_TAG, ""))["posevideo"]
    except (ValueError, KeyError, TypeError):
        return None
    return record if isinstance(record, dict) and {"drawn_from", "retarget", "size", "stats"} <= set(record) else None


def redraw(record: dict, pose_path: str | Path) -> tuple[np.ndarray, np.ndarray, float]:
    """The pose as drawn (`drawn_pose`: xy (T, 178, 2) in the video's pixels, conf (T, 178)) and fps,
    placed again from the .pose file a video was rendered from, as `render_pose` read and placed it."""
    xy, conf, fps, frame_size = read_input(pose_path)
    placing = Placement(xy, conf, fps, record["stats"], retarget=record["retarget"], frame_size=frame_size,
                        path=pose_path)
    placed_xy, placed_conf = placing.frames(0, len(placing))
    return (*drawn_pose(placed_xy, placed_conf, placing.boxes, int(record["size"]), placing.own(conf)), fps)


def _generator(model: str | Path | None, device: str, batch: int, size: int, cuda_graph: bool, gpu_start=None,
               calibration: np.ndarray | None = None):
    """(run: (B, S, S, 3) uint8 skeletons -> frames, buffer: None or a maker of (batch, S, S, 3)
    arrays to draw a batch into) for the renderer `model` making `size` frames (`load_renderer`) on
    `device`, once `gpu_start` (a `start_gpu` future) is done; its BatchNorm statistics adapted to
    the `calibration` skeletons (`adapt_norm`) when given."""
    G, _ = load_renderer(model, "cpu", size)
    if gpu_start is not None:
        gpu_start.result()
    G = G.to(device, memory_format=torch.channels_last)
    if calibration is not None:
        adapt_norm(G, calibration, device)
    if device.startswith("cuda") and cuda_graph:
        graph = GraphGenerator(G, batch, size, device)
        return graph, graph.host_buffer
    if getattr(G, "temporal", False):
        last = [None]  # the frame before the next batch (batches come in order: one lane)

        def run(skeletons):
            frames = generate(G, skeletons, device, last[0])
            last[0] = frames[-1]
            return frames
        return run, None
    if getattr(G, "needs_hands", False):
        return (lambda skeletons, hands: generate(G, skeletons, device, hands=hands)), None
    return (lambda skeletons: generate(G, skeletons, device)), None


def _pipeline(starts, draw, run, write, workers: int, total: int, progress: bool,
              lane=lambda start: 0, lanes: int = 1) -> None:
    """draw(start) -> skeletons, run(start, skeletons) -> frames, write(start, skeletons, frames), for
    each batch start in order. workers 0: one after another here. Else three stages at once:
    `workers` threads draw the next batches (at most 2 x workers ahead), this thread runs the
    generator, one thread per encoder lane (`lane(start)` of `lanes`) writes, in order within its
    lane (at most 4 batches a lane behind), so the GPU, the drawing and the encoders overlap and
    memory stays bounded. An error in any stage ends the others and is raised here."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor
    from itertools import islice
    from tqdm import tqdm
    bar = tqdm(total=total, desc="render", unit="frame", disable=not progress)
    if workers == 0:
        try:
            for start in starts:
                skeletons = draw(start)
                write(start, skeletons, run(start, skeletons))
                bar.update(len(skeletons))
        finally:
            bar.close()  # ends the bar's line, so an error after it starts a line of its own
        return
    drawer = ThreadPoolExecutor(workers, thread_name_prefix="draw")
    encoders = [ThreadPoolExecutor(1, thread_name_prefix=f"encode{k}") for k in range(lanes)]
    try:
        starts = iter(starts)
        submit = lambda start: (start, drawer.submit(draw, start))  # noqa: E731
        drawing = deque(submit(start) for start in islice(starts, 2 * workers))
        writing = deque()
        while drawing:
            start, skeletons = drawing[0][0], drawing.popleft()[1].result()
            for later in islice(starts, 1):
                drawing.append(submit(later))
            frames = run(start, skeletons)
            writing.append(encoders[lane(start)].submit(write, start, skeletons, frames))
            while writing and (len(writing) > 4 * lanes or writing[0].done()):
                writing.popleft().result()  # raises an encoder's error, if any
            bar.update(len(frames))
        while writing:
            writing.popleft().result()
    finally:
        drawer.shutdown(cancel_futures=True)
        for encoder in encoders:
            encoder.shutdown(cancel_futures=True)  # waits for a write under way: the writers close after it
        bar.close()


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
