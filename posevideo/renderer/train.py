"""Train the renderer (pix2pix: skeleton image -> frame of one person) on what `prepare` wrote.

    posevideo train renderer --data DATA --speaker NAME --preset esn --steps N --batch B --out RUN
    torchrun --nproc_per_node G -m posevideo train renderer ...        (one process a GPU, DDP)

The whole split lives on the device as uint8 (skeleton images drawn once, crops as stored), so a
step never waits for disk or for Python: sampling, the scale/aspect jitter and the conversion to
float all run on the GPU. Each step is pix2pix's: a discriminator step, then a generator step.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from posevideo.errors import InputError
from posevideo.renderer.model import (Discriminator, Generator, RendererConfig, d_loss, g_gan_loss,
                                      l1_loss, preset)
from posevideo.training import (Run, StopSignal, check_finite, cleanup_distributed, load_checkpoint,
                                progress_bar, reseed_resumed_rank, save_checkpoint, seed_everything,
                                setup_distributed, unwrap)


@dataclass
class TrainConfig:
    out: str                       # the run folder
    data: str | None = None        # DATA folder written by `posevideo prepare`
    speaker: str | None = None
    preset: str = "small"
    size: int = 256
    steps: int = 10_000
    batch: int = 8                 # per process
    lr: float | None = None        # None: the preset's (2e-4); linear decay to 0 over the 2nd half
    seed: int = 0                  # global; process r uses seed + r
    jitter: float = 0.05           # scale and aspect jitter, as a fraction (the seed's augmentation)
    log_every: int = 50
    image_every: int = 500
    checkpoint_every: int = 1000
    device: str | None = None      # None: cuda when there is one
    compile: bool | None = None    # None: on CUDA only
    resume: bool = False
    norm: str | None = None        # None: the preset's ("batch"); "instance" or "none"
    gan_loss: str | None = None    # None: the preset's ("vanilla"); "lsgan" or "hinge"
    # How the discriminator step batches reals and fakes: "separate" (pix2pix: two calls) or
    # "joint" (one call). With BatchNorm they differ: joint weakens D (BENCHMARKS.md, renderer
    # quality: on the H200 at step 17,500, joint 0.0139 train L1 and clean frames, separate 0.0231
    # and a textured background). With instance or no norm they are the same.
    d_batch: str = "joint"

    def __post_init__(self):
        if self.d_batch not in ("joint", "separate"):
            raise ValueError(f"d_batch must be 'joint' or 'separate', got {self.d_batch!r}")


# --- data -----------------------------------------------------------------------------------------

class FrameBank:
    """Every frame of one speaker's split as uint8 on the device: skeleton images and crops.

    `skeletons`, `frames`: (N, S, S, 3) uint8. `batch()` returns float (B, 3, S, S) in [-1, 1],
    channels_last, both jittered by the same random scale/aspect change about the centre.
    `stats`: where the person stands (for `render`); `meta`: per-frame numpy arrays for evaluation,
    `clip` (N,) int (frames of one interval share it, in time order), `regions` (N, 3, 4) float32
    = left hand, right hand, face boxes (x0, y0, x1, y1) in crop pixels, -1 where not seen,
    `pose_xy` (N, 178, 2) float32 and `pose_conf` (N, 178) the drawn reduced pose in crop pixels
    (banks packed before these were kept lack them).
    """

    def __init__(self, skeletons, frames, device: str = "cpu", stats: dict | None = None,
                 meta: dict[str, np.ndarray] | None = None):
        skeletons, frames = torch.as_tensor(skeletons), torch.as_tensor(frames)
        if skeletons.shape != frames.shape or skeletons.dtype != torch.uint8 or skeletons.ndim != 4:
            raise ValueError(f"skeletons {tuple(skeletons.shape)} and frames {tuple(frames.shape)} must be "
                             "equal (N, S, S, 3) uint8 arrays")
        self.skeletons = skeletons.to(device)
        self.frames = frames.to(device)
        self.device = device
        self.stats = stats or {}
        self.meta = meta or {}

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def size(self) -> int:
        return self.frames.shape[1]

    def batch(self, index: torch.Tensor, jitter: torch.Tensor | None = None):
        """`index` (B,) frame numbers; `jitter` (B, 2) = (scale, aspect) factors, None for none."""
        index = index.to(self.device)
        pair = torch.cat([self.skeletons[index], self.frames[index]], dim=-1)     # (B, S, S, 6) uint8
        pair = pair.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)             # (B, 6, S, S)
        if jitter is not None:
            scale, aspect = jitter.to(self.device).unbind(1)
            theta = torch.zeros(len(index), 2, 3, device=self.device)
            theta[:, 0, 0] = 1.0 / (scale * aspect.sqrt())                        # x zoom
            theta[:, 1, 1] = 1.0 / (scale / aspect.sqrt())                        # y zoom
            grid = F.affine_grid(theta, list(pair.shape), align_corners=False)
            pair = F.grid_sample(pair, grid, mode="bilinear", padding_mode="border", align_corners=False)
        pair = pair.contiguous(memory_format=torch.channels_last)
        return pair[:, :3], pair[:, 3:]


def regions(xy: np.ndarray, conf: np.ndarray, layout: str = "reduced") -> np.ndarray:
    """xy (T, K, 2) crop pixels -> (T, 3, 4) boxes of left hand, right hand, face (-1: not seen).

    Hands: the square around the hand's points, 1.4x their extent (fingers reach past the joints);
    face: 1.1x. A region needs at least 3 seen points."""
    from posevideo.pose import point_groups
    groups = point_groups(layout)
    out = np.full((len(xy), 3, 4), -1.0, np.float32)
    for g, (name, grow) in enumerate((("left_hand", 1.4), ("right_hand", 1.4), ("face", 1.1))):
        idx = groups[name]
        seen = conf[:, idx] > 0                                                   # (T, P)
        pts = np.where(seen[..., None], xy[:, idx], np.nan)
        with warnings.catch_warnings():  # all-NaN rows (region not seen) are expected
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanmin(pts, axis=1), np.nanmax(pts, axis=1)               # (T, 2)
        mid, half = (lo + hi) / 2, (hi - lo).max(axis=1) * grow / 2
        ok = seen.sum(axis=1) >= 3
        out[ok, g] = np.concatenate([mid[ok] - half[ok, None], mid[ok] + half[ok, None]], axis=1)
    return out


def bank_from_data(data: str | Path, speaker: str, size: int, split: str = "train",
                   device: str = "cpu") -> FrameBank:
    """Draw every skeleton of the split once and stack it with its crop (rows chosen by the data
    part's `RendererFrames`; skeletons by `draw_skeletons`, as that class draws them), plus the
    statistics that `render` needs and the hand/face regions that evaluation needs."""
    import json
    from posevideo.data.datasets import RendererFrames
    from posevideo.pose import arrays, body_profile, read_pose, to_layout
    from posevideo.skeleton import draw_skeletons
    sdir = Path(data) / speaker
    rows = RendererFrames(data, speaker, size=size, split=split).frames
    if len(rows) == 0:
        raise InputError(sdir, f"has no valid frames in the '{split}' split",
                         "Run `posevideo prepare` on more video of this speaker (each split needs intervals).")
    skeletons, frames, clips, regs, boxes, poses, drawn_xy, drawn_conf = [], [], [], [], [], [], [], []
    clip_ids: dict[str, int] = {}
    for video, part in rows.groupby("video_fn", sort=True):
        t = part["frame_idx"].to_numpy()
        xy, conf = arrays(to_layout(read_pose(sdir / "poses" / f"{video}.pose"), "reduced"))
        box = np.load(sdir / "frames" / f"{video}.boxes.npy")[t]                   # (n, 3) source px
        skeletons.append(draw_skeletons(xy[t], conf[t], "reduced", size, box=box))
        frames.append(np.load(sdir / "frames" / f"{video}.{size}.npy", mmap_mode="r")[t])
        crop_xy = (xy[t] - box[:, None, :2]) * (size / box[:, None, 2:3])          # crop pixels
        regs.append(regions(crop_xy, conf[t]))
        drawn_xy.append(np.where(conf[t, :, None] > 0, crop_xy, 0).astype(np.float32))
        drawn_conf.append(conf[t].astype(np.float32))
        clips.append(np.array([clip_ids.setdefault(f"{video}/{i}", len(clip_ids)) for i in part["interval_id"]]))
        boxes.append(box)
        poses.append((xy[t], conf[t]))
    stats = json.loads((sdir / "stats.json").read_text())
    placement = {"speaker": speaker, "layout": "reduced", "center": [float(c) for c in stats["center"]],
                 "scale": float(stats["scale"]), "width": int(stats["width"]), "height": int(stats["height"]),
                 "fps": float(stats.get("fps", 0)) or None,
                 "box": [float(v) for v in np.median(np.concatenate(boxes), axis=0)]}
    # The person's proportions, so `render` can rebuild another person's pose on this body.
    placement["profile"] = body_profile(np.concatenate([p[0] for p in poses]), np.concatenate([p[1] for p in poses]),
                                        path=sdir).to_dict()
    # The drawn poses (crop pixels) let `evaluate renderer --consistency` judge the output without MediaPipe on the targets.
    meta = {"clip": np.concatenate(clips).astype(np.int32), "regions": np.concatenate(regs),
            "pose_xy": np.concatenate(drawn_xy), "pose_conf": np.concatenate(drawn_conf)}
    return FrameBank(np.concatenate(skeletons), np.concatenate(frames), device, placement, meta)


BANK_FILE = "bank.json"


def write_bank(banks: dict[str, FrameBank], path: str | Path) -> Path:
    """Pack splits into a small folder that travels (to a GPU machine): per split two H.264 videos
    (4:4:4, crf 14: mean error under 1 level, about 3 KB a frame) and an npz of the per-frame metadata.
    Read back with `read_bank`; `train renderer --data BANK` takes it in place of DATA."""
    import json
    import av
    from posevideo.files import atomic_dir, write_npz
    with atomic_dir(path) as tmp:
        info = {"format": "posevideo-renderer-bank-1", "splits": {}}
        for split, bank in banks.items():
            for what, images in (("skeletons", bank.skeletons), ("frames", bank.frames)):
                with av.open(str(tmp / f"{split}.{what}.mp4"), mode="w") as container:
                    stream = container.add_stream("libx264", rate=25)
                    stream.width = stream.height = bank.size
                    stream.pix_fmt = "yuv444p"
                    stream.options = {"crf": "14", "preset": "medium"}
                    for image in images.cpu().numpy():
                        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                            container.mux(packet)
                    for packet in stream.encode(None):
                        container.mux(packet)
            write_npz(tmp / f"{split}.meta.npz", **bank.meta)
            info["splits"][split] = {"frames": len(bank), "size": bank.size}
        # Where the person stands and their proportions: what the model is trained on.
        info["stats"] = (banks["train"] if "train" in banks else next(iter(banks.values()))).stats
        (tmp / BANK_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return Path(path)


def read_bank(path: str | Path, split: str, device: str = "cpu") -> FrameBank:
    """A split of a folder written by `write_bank` (decoded with OpenCV, which every machine has)."""
    import json
    import cv2
    path = Path(path)
    info = json.loads((path / BANK_FILE).read_text())
    if split not in info["splits"]:
        raise InputError(path, f"holds no '{split}' split (it has {', '.join(info['splits'])})",
                         "Write the bank with that split.")
    arrays = []
    for what in ("skeletons", "frames"):
        capture = cv2.VideoCapture(str(path / f"{split}.{what}.mp4"))
        images = []
        while True:
            ok, image = capture.read()
            if not ok:
                break
            images.append(image[..., ::-1])                                       # BGR -> RGB
        capture.release()
        arrays.append(np.stack(images))
    if not len(arrays[0]) == len(arrays[1]) == info["splits"][split]["frames"]:
        raise InputError(path, f"the '{split}' videos hold {len(arrays[0])}/{len(arrays[1])} frames, "
                         f"not {info['splits'][split]['frames']}", "Write the bank again.")
    with np.load(path / f"{split}.meta.npz") as npz:
        meta = {k: npz[k] for k in npz.files}
    return FrameBank(arrays[0], arrays[1], device, info["stats"], meta)


def load_frames(data: str | Path, speaker: str | None, size: int, split: str, device: str = "cpu") -> FrameBank:
    """A split from a DATA folder (`posevideo prepare`) or from a bank folder (`write_bank`)."""
    if (Path(data) / BANK_FILE).exists():
        return read_bank(data, split, device)
    if not speaker:
        raise InputError(data, "is a DATA folder, so the speaker must be named", "Pass --speaker NAME.")
    return bank_from_data(data, speaker, size, split, device)


# --- schedule -------------------------------------------------------------------------------------

def learning_rate(step: int, steps: int, base: float) -> float:
    """pix2pix's schedule: constant for the first half, then linearly down to 0."""
    half = steps // 2
    return base if step <= half else base * max(0.0, (steps - step) / max(1, steps - half))


# --- progress image -------------------------------------------------------------------------------

def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 3, S, S) in [-1, 1] -> (B, S, S, 3) uint8."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def progress_image(G: torch.nn.Module, skeleton: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    """Rows of pose | target | output | |difference| (amplified x4) for a fixed set of frames."""
    was_training = G.training
    G.eval()
    output = G(skeleton).float()
    G.train(was_training)
    diff = ((output - target.float()).abs() * 4 - 1).clamp(-1, 1)
    cols = [_to_uint8(t) for t in (skeleton, target, output, diff)]
    return np.concatenate([np.concatenate(row, axis=1) for row in zip(*cols)], axis=0)


# --- the loop -------------------------------------------------------------------------------------

def train(cfg: TrainConfig, bank: FrameBank | None = None, model_cfg: RendererConfig | None = None) -> Path:
    """Train; return the last checkpoint. `bank` and `model_cfg` let tests skip DATA and presets."""
    dist = setup_distributed(cfg.device)
    device = dist.device
    cuda = device.startswith("cuda")
    model_cfg = model_cfg or preset(cfg.preset, size=cfg.size, norm=cfg.norm, gan_loss=cfg.gan_loss)
    use_compile = cuda if cfg.compile is None else cfg.compile
    if cuda:
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels once

    # The run folder; on resume, the stored config must describe the same model.
    config = {"model": model_cfg.to_dict(), "train": asdict(cfg), "seed": cfg.seed,
              "seeds": [cfg.seed + r for r in range(dist.world_size)], "world_size": dist.world_size,
              "kind": "renderer"}
    run = Run(cfg.out, config, resume=cfg.resume, is_main=dist.is_main)
    seed_everything(cfg.seed + dist.rank)

    # Data: the whole split on the device, and a generator of our own for batch order and jitter.
    if bank is None:
        if not cfg.data:
            raise InputError(None, "no training data given", "Pass --data DATA --speaker NAME.")
        bank = load_frames(cfg.data, cfg.speaker, model_cfg.size, "train", device)
    if bank.size != model_cfg.size:
        raise InputError(cfg.data, f"frames are {bank.size}px but the model is {model_cfg.size}px",
                         f"Prepare the data at --size {model_cfg.size}, or pass --size {bank.size}.")
    sampler = torch.Generator().manual_seed(cfg.seed + dist.rank)
    shown = torch.linspace(0, len(bank) - 1, min(4, len(bank))).long()         # fixed progress frames

    # Models and optimizers (pix2pix: Adam 2e-4, beta1 0.5 for both).
    G = Generator(model_cfg).to(device, memory_format=torch.channels_last)
    D = Discriminator(model_cfg).to(device, memory_format=torch.channels_last)
    base_lr = cfg.lr or model_cfg.lr
    betas = (model_cfg.beta1, 0.999)
    opt_g = torch.optim.Adam(G.parameters(), lr=base_lr, betas=betas, fused=cuda)
    opt_d = torch.optim.Adam(D.parameters(), lr=base_lr, betas=betas, fused=cuda)

    step = 0
    if cfg.resume:
        meta = load_checkpoint(run.latest(), {"G": G, "D": D}, {"G": opt_g, "D": opt_d}, {"sampler": sampler})
        step = meta["step"]
        run.truncate_metrics(step)
        if dist.world_size > 1:  # every rank resumes from rank 0's file: give each its own stream again
            reseed_resumed_rank(sampler, cfg.seed, dist.rank, step)

    G_step, D_step = G, D
    if use_compile:
        G_step, D_step = torch.compile(G), torch.compile(D)
    G_fwd, D_fake = G_step, D_step  # in the G step D runs outside DDP (its grads are not wanted)
    if dist.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        G_fwd = DDP(G_step, device_ids=[dist.local_rank] if cuda else None)
        D_step = DDP(D_step, device_ids=[dist.local_rank] if cuda else None)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda)

    def checkpoint(at: int) -> Path:
        meta = {"kind": "renderer", "step": at, "model": model_cfg.to_dict(), "train": asdict(cfg),
                "stats": bank.stats, "world_size": dist.world_size}
        path = run.checkpoint_dir(at)
        if dist.is_main:
            save_checkpoint(path, {"G": G, "D": D}, {"G": opt_g, "D": opt_d}, meta, {"sampler": sampler})
            run.prune(keep=2)
        return path

    sums = torch.zeros(4, device=device)  # loss_d, loss_g_gan, loss_l1, count: summed on the device
    last = run.latest()
    t_log = time.time()
    kind = model_cfg.gan_loss
    with StopSignal() as stop, progress_bar(cfg.steps, step, disable=not dist.is_main) as bar:
        while step < cfg.steps:
            step += 1
            lr = learning_rate(step, cfg.steps, base_lr)
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] = lr

            # Sample a batch: random frames (with replacement), jittered in scale and aspect.
            index = torch.randint(len(bank), (cfg.batch,), generator=sampler)
            jitter = 1 + cfg.jitter * (2 * torch.rand(cfg.batch, 2, generator=sampler) - 1)
            skeleton, real = bank.batch(index, jitter if cfg.jitter > 0 else None)

            # Discriminator step: real pairs -> real, generated pairs -> fake (G not updated).
            # "separate": two calls, as pix2pix. "joint": one call on both, so BatchNorm normalises
            # reals and fakes together; D then tells them apart by the batch statistics, a cue it
            # loses in the generator step (fakes alone): a weaker adversary, L1 leads (see d_batch).
            with autocast:
                fake = G_fwd(skeleton)
                if cfg.d_batch == "joint":
                    logits = D_step(torch.cat([skeleton, skeleton]), torch.cat([real, fake.detach()]))
                    real_logits, fake_logits = logits.chunk(2)
                else:
                    real_logits, fake_logits = D_step(skeleton, real), D_step(skeleton, fake.detach())
                loss_d = d_loss(real_logits.float(), fake_logits.float(), kind)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

            # Generator step: fool the discriminator and stay close to the frame (GAN + 100 x L1).
            D.requires_grad_(False)
            with autocast:
                loss_gan = g_gan_loss(D_fake(skeleton, fake).float(), kind)
            loss_l1 = l1_loss(fake.float(), real)
            loss_g = loss_gan + model_cfg.l1_weight * loss_l1
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            D.requires_grad_(True)

            sums += torch.stack([loss_d.detach(), loss_gan.detach(), loss_l1.detach(), torch.ones((), device=device)])
            bar.update(1)

            # Log: averages since the last line; a NaN stops here, before anything is saved.
            # A signal stops after this step (under DDP all ranks agree, checked every 10 steps).
            stopping = stop.requested(dist) if dist.world_size == 1 or step % 10 == 0 else False
            if step % cfg.log_every == 0 or step == cfg.steps or stopping:
                if dist.world_size > 1:
                    torch.distributed.all_reduce(sums)
                d, gan, l1, n = (sums / sums[3].clamp(min=1)).tolist()[:3] + [sums[3].item()]
                check_finite(step, run, loss_d=d, loss_g_gan=gan, loss_l1=l1)
                seconds = time.time() - t_log
                images_s = n * cfg.batch / max(seconds, 1e-9)
                run.log(step, loss_d=d, loss_g_gan=gan, loss_l1=l1, lr=lr, images_per_s=images_s)
                bar.set_postfix(l1=f"{l1:.4f}", d=f"{d:.3f}", img_s=f"{images_s:.0f}")
                sums.zero_()
                t_log = time.time()
            if dist.is_main and (step % cfg.image_every == 0 or step == cfg.steps):
                sk, fr = bank.batch(shown)
                run.save_image(f"step-{step:07d}", progress_image(G, sk, fr))
            if step % cfg.checkpoint_every == 0 or step == cfg.steps or stopping:
                check_finite(step, run, loss_d=loss_d.item(), loss_g=loss_g.item())
                last = checkpoint(step)
            if stopping:
                if dist.is_main:
                    bar.write(f"stopped by a signal at step {step}; continue with: posevideo train renderer "
                              f"--resume {run.path}")
                break
    cleanup_distributed()
    return last
