"""Train the renderer (pix2pix: skeleton image -> frame of one person) on what `prepare` wrote.

    posevideo train renderer --data DATA --speaker NAME --preset esn --steps N --batch B --out RUN
    torchrun --nproc_per_node G -m posevideo train renderer ...        (one process a GPU, DDP)

The whole split lives on the device as uint8 (skeleton images drawn once, crops as stored), so a
step never waits for disk or for Python: sampling, the scale/aspect jitter and the conversion to
float all run on the GPU. Each step is pix2pix's: a discriminator step, then a generator step.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from posevideo.errors import InputError
from posevideo.renderer.model import (Discriminator, Generator, RendererConfig, d_loss, g_gan_loss,
                                      l1_loss, preset)
from posevideo.training import (Run, StopSignal, check_finite, cleanup_distributed, load_checkpoint,
                                progress_bar, save_checkpoint, seed_everything, setup_distributed,
                                unwrap)


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


# --- data -----------------------------------------------------------------------------------------

class FrameBank:
    """Every training frame of one speaker as uint8 on the device: skeleton images and crops.

    `skeletons`, `frames`: (N, S, S, 3) uint8. `batch()` returns float (B, 3, S, S) in [-1, 1],
    channels_last, both jittered by the same random scale/aspect change about the centre.
    """

    def __init__(self, skeletons: np.ndarray | torch.Tensor, frames: np.ndarray | torch.Tensor,
                 device: str = "cpu", stats: dict | None = None):
        skeletons, frames = torch.as_tensor(skeletons), torch.as_tensor(frames)
        if skeletons.shape != frames.shape or skeletons.dtype != torch.uint8 or skeletons.ndim != 4:
            raise ValueError(f"skeletons {tuple(skeletons.shape)} and frames {tuple(frames.shape)} must be "
                             "equal (N, S, S, 3) uint8 arrays")
        self.skeletons = skeletons.to(device)
        self.frames = frames.to(device)
        self.device = device
        self.stats = stats or {}

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


def load_bank(data: str | Path, speaker: str, size: int, split: str = "train", device: str = "cpu",
              workers: int = 4) -> FrameBank:
    """Draw every skeleton of the split once and stack it with its crop (via the data part's
    `RendererFrames`), plus the statistics that `render` needs to place another person's pose."""
    from posevideo.data.datasets import RendererFrames
    dataset = RendererFrames(data, speaker, size=size, split=split)
    if len(dataset) == 0:
        raise InputError(Path(data) / speaker, f"has no valid frames in the '{split}' split",
                         "Run `posevideo prepare` on at least a few seconds of video of this speaker.")
    loader = torch.utils.data.DataLoader(dataset, batch_size=64, num_workers=workers)
    skeletons, frames = [], []
    from tqdm import tqdm
    for skel, frame in tqdm(loader, desc=f"drawing {split} skeletons", unit="batch"):
        # The dataset gives floats in [-1, 1]; back to the uint8 they came from (exact: x / 127.5 - 1).
        skeletons.append(((skel + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1))
        frames.append(((frame + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1))
    return FrameBank(torch.cat(skeletons), torch.cat(frames), device, placement_stats(data, speaker, dataset))


def placement_stats(data: str | Path, speaker: str, dataset) -> dict:
    """Where the person stands in the training video and how the crops cut it: what `render` needs
    to put a pose from any other source into this person's frame."""
    import json
    stats = json.loads((Path(data) / speaker / "stats.json").read_text())
    boxes = []
    for video_fn, rows in dataset.frames.groupby("video_fn"):
        b = np.load(Path(data) / speaker / "frames" / f"{video_fn}.boxes.npy")
        boxes.append(b[rows["frame_idx"].to_numpy()])
    box = np.median(np.concatenate(boxes), axis=0)
    return {"center": [float(c) for c in stats["center"]], "scale": float(stats["scale"]),
            "width": int(stats["width"]), "height": int(stats["height"]),
            "layout": "reduced", "box": [float(v) for v in box], "speaker": speaker}


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
    model_cfg = model_cfg or preset(cfg.preset, size=cfg.size)
    use_compile = cuda if cfg.compile is None else cfg.compile

    # The run folder; on resume, the stored config must describe the same model.
    config = {"model": model_cfg.to_dict(), "train": asdict(cfg), "seed": cfg.seed,
              "seeds": [cfg.seed + r for r in range(dist.world_size)], "world_size": dist.world_size,
              "kind": "renderer"}
    run = Run(cfg.out, config, resume=cfg.resume, is_main=dist.is_main)
    seed_everything(cfg.seed + dist.rank)

    # Data: the whole split on the device, and a generator of our own for batch order and jitter.
    if bank is None:
        if not cfg.data or not cfg.speaker:
            raise InputError(None, "no training data given", "Pass --data DATA --speaker NAME.")
        bank = load_bank(cfg.data, cfg.speaker, model_cfg.size, "train", device)
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
            sampler.manual_seed(cfg.seed + dist.rank + 1000 * step)
            torch.manual_seed(cfg.seed + dist.rank + 1000 * step)

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
            with autocast:
                fake = G_fwd(skeleton)
                logits = D_step(torch.cat([skeleton, skeleton]), torch.cat([real, fake.detach()]))
                loss_d = d_loss(*logits.float().chunk(2), kind)
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
            stopping = stop.requested(dist) if step % 10 == 0 or step == cfg.steps else False
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
                    bar.write(f"stopped by a signal at step {step}; resume with --resume {run.path}")
                break
    cleanup_distributed()
    return last
