"""Train a speech2gesture model for one speaker: L1 + lambda x LSGAN motion loss, Adam.

The adversarial options (BENCHMARKS.md "Gestures" measures them): the GAN weight and a warm-up of
L1 alone; spectral normalization of D; a two-time-scale learning rate (D's own `d_lr`); feature
matching (L1 between D's hidden layers on real and generated motion, pix2pixHD's stabilizer); D
on the poses as well as their differences.

`train(TrainConfig(...))` is the whole loop; the CLI (`posevideo train gestures`) only fills the
config. The run folder, checkpoints, exact resume, signals and DDP come from posevideo/training.py.
Data are held on the training device whole (about 20 MB for 30 minutes of speech) and windows are
cut out by index arithmetic: no data loader, nothing for the GPU to wait on.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from posevideo import training
from posevideo.errors import InputError
from posevideo.gestures.data import Clips, gather, load_clips
from posevideo.gestures.features import augment_voice, voice_statistics
from posevideo.gestures.model import PRESETS, GestureConfig, GestureGenerator, MotionDiscriminator, count_parameters

MIN_STD = 0.02  # shoulder widths: floor of a point's standard deviation (a still point must not blow up z)


@dataclass
class TrainConfig:
    data: str
    speaker: str
    out: str
    preset: str = "s2g"
    steps: int = 10000
    batch: int = 32
    lr: float = 1e-4  # speech2gesture's Adam learning rate
    lambda_gan: float = 1.0  # speech2gesture's weight of the motion GAN loss (0: plain L1 regression)
    gan_start: int = 0  # steps of L1 alone before the discriminator joins
    d_lr: float | None = None  # the discriminator's learning rate (two time scales); None: lr
    feature_matching: float = 0.0  # weight of the L1 between D's hidden layers on real and generated motion
    lambda_motion: float = 0.0  # weight of the L1 between generated and real velocity and acceleration (against jitter)
    spectral_norm: bool = False  # spectral norm on D (GestureConfig.disc_spectral)
    d_poses: bool = False  # D sees the poses as well as their differences (GestureConfig.disc_poses)
    voice_augment: float = 0.0  # share of windows heard as another voice, room and microphone (features.augment_voice)
    seed: int = 0
    device: str | None = None  # None: cuda when there is one
    bf16: bool = True  # autocast on a GPU
    compile: bool = False
    log_every: int = 100
    checkpoint_every: int = 2000
    resume: bool = False
    max_minutes: float | None = None  # a fixed time budget: stop (and checkpoint) when spent
    export: str | None = None  # also write the generator alone, float16, here (what ships)
    model: dict = field(default_factory=dict)  # overrides of the preset's fields; filled in with the result


# --- losses -------------------------------------------------------------------------------------

def l1_loss(pred_z: torch.Tensor, real_z: torch.Tensor, conf: torch.Tensor) -> torch.Tensor:
    """Mean absolute error in z-scores over visible points (conf > 0). (B, T, K, 2), (B, T, K)."""
    mask = (conf > 0).to(pred_z.dtype)[..., None]
    return ((pred_z - real_z).abs() * mask).sum() / (mask.sum() * 2).clamp(min=1)


def motion_loss(pred_z: torch.Tensor, real_z: torch.Tensor, conf: torch.Tensor) -> torch.Tensor:
    """L1 between the generated and the real frame-to-frame velocity, plus the same for the
    acceleration (first and second differences over time, z-scores a frame), each over the points
    visible in every frame it spans. A GAN on motion differences adds frame-to-frame jitter that the
    L1 on poses does not see; this term does."""
    loss = torch.zeros((), device=pred_z.device)
    seen = conf > 0
    for _ in range(2):
        pred_z, real_z, seen = pred_z.diff(dim=1), real_z.diff(dim=1), seen[:, 1:] & seen[:, :-1]
        loss = loss + l1_loss(pred_z, real_z, seen)
    return loss


def lsgan_d_loss(score_real: torch.Tensor, score_fake: torch.Tensor) -> torch.Tensor:
    """Least-squares GAN, discriminator side: real -> 1, fake -> 0."""
    return 0.5 * ((score_real - 1) ** 2).mean() + 0.5 * (score_fake ** 2).mean()


def lsgan_g_loss(score_fake: torch.Tensor) -> torch.Tensor:
    """Least-squares GAN, generator side: make the discriminator say 1."""
    return ((score_fake - 1) ** 2).mean()


def feature_matching_loss(hidden_fake: list[torch.Tensor], hidden_real: list[torch.Tensor]) -> torch.Tensor:
    """Mean over D's hidden layers of the L1 between generated and real activations (real ones fixed)."""
    return sum((f - r.detach()).abs().mean() for f, r in zip(hidden_fake, hidden_real)) / len(hidden_fake)


# --- the loop -----------------------------------------------------------------------------------

def speaker_std(clips: Clips) -> tuple[np.ndarray, np.ndarray]:
    """Per-point mean and std (K, 2) of the train split's visible poses (speech2gesture z-scoring)."""
    train_frames = np.concatenate([np.arange(clips.pose_offsets[i], clips.pose_offsets[i + 1])
                                   for i in np.flatnonzero(clips.split == "train")])
    pose, conf = clips.pose[train_frames], clips.conf[train_frames]
    weight = (conf > 0).astype(np.float64)[..., None]  # (T, K, 1)
    count = np.maximum(weight.sum(0), 1)
    mean = (pose * weight).sum(0) / count
    std = np.sqrt((((pose - mean) ** 2) * weight).sum(0) / count)
    return mean.astype(np.float32), np.maximum(std, MIN_STD).astype(np.float32)


def train(cfg: TrainConfig, clips: Clips | None = None) -> str:
    """Train; return the path of the last checkpoint."""
    dist = training.setup_distributed(cfg.device)
    device = torch.device(dist.device)
    if clips is None:
        clips = load_clips(cfg.data, cfg.speaker)
    if cfg.preset not in PRESETS:
        raise InputError(None, f"unknown preset {cfg.preset!r}", f"Use one of {', '.join(PRESETS)}.")
    # The preset, with any field overridden by `cfg.model` (tests use smaller windows), for the data's points.
    model_cfg = GestureConfig(**{**asdict(PRESETS[cfg.preset]), **cfg.model, "n_points": clips.n_points,
                                 **({"disc_spectral": True} if cfg.spectral_norm else {}),
                                 **({"disc_poses": True} if cfg.d_poses else {})})
    cfg.model = model_cfg.to_dict()
    rows = clips.windows("train", model_cfg.pose_frames)
    dev_rows = clips.windows("dev", model_cfg.pose_frames, hop=16)
    if len(dev_rows) == 0:
        dev_rows = clips.windows("test", model_cfg.pose_frames, hop=16)
    if len(rows) == 0:
        raise InputError(cfg.data, f"speaker {cfg.speaker!r} has no train window of {model_cfg.pose_frames} frames",
                         "Prepare more video of the speaker (at least a few minutes).")
    config = training.run_config("gestures", model_cfg.to_dict(), asdict(cfg), dist.world_size,
                                 train_windows=len(rows), train_seconds=clips.seconds("train"), layout=clips.layout)
    run = training.Run(cfg.out, config, resume=cfg.resume, is_main=dist.is_main,
                       upgrade=training.model_defaults(lambda model: GestureConfig(**model)))
    training.seed_everything(cfg.seed + dist.rank)

    # Models, speaker statistics, optimizers.
    generator = GestureGenerator(model_cfg)
    mean, std = speaker_std(clips)
    generator.pose_mean.copy_(torch.from_numpy(mean))
    generator.pose_std.copy_(torch.from_numpy(std))
    discriminator = MotionDiscriminator(model_cfg)
    generator.to(device), discriminator.to(device)
    fused = device.type == "cuda"
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr, betas=(0.5, 0.999), fused=fused)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=cfg.d_lr or cfg.lr, betas=(0.5, 0.999), fused=fused)
    sampler = training.rank_sampler(cfg.seed, dist.rank)  # window order, resumed exactly
    train_mel = np.concatenate([clips.mel[clips.mel_offsets[i]:clips.mel_offsets[i + 1]]
                                for i in np.flatnonzero(clips.split == "train")])
    meta = {"kind": "gestures", "model": model_cfg.to_dict(), "train": asdict(cfg), "stats": clips.stats,
            "world_size": dist.world_size, "preset": cfg.preset, "layout": clips.layout,
            "voice": voice_statistics(train_mel),  # for other voices' speech (predict.adapt_voice)
            "speaker": cfg.speaker, "seed": cfg.seed}
    step = 0
    if cfg.resume:
        state = training.load_checkpoint(run.latest(), {"G": generator, "D": discriminator},
                                         {"G": opt_g, "D": opt_d}, {"sampler": sampler})
        step = state["step"]
        run.truncate_metrics(step)
        if dist.world_size > 1:  # every rank loaded rank 0's sampler: give each its own stream again
            training.reseed_resumed_rank(sampler, cfg.seed, dist.rank, step)
    g_train, d_train = generator, discriminator
    if dist.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        ids = [device.index] if device.type == "cuda" else None
        if device.type == "cuda":  # BatchNorm statistics over the global batch (SyncBatchNorm is CUDA-only);
            # it swaps the BN layers inside `generator` itself, so checkpoints keep the same keys
            torch.nn.SyncBatchNorm.convert_sync_batchnorm(generator)
            torch.nn.SyncBatchNorm.convert_sync_batchnorm(discriminator)
        g_train = DDP(generator, device_ids=ids)
        d_train = DDP(discriminator, device_ids=ids)
    if cfg.compile:
        g_train, d_train = torch.compile(g_train), torch.compile(d_train)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16 and device.type == "cuda")

    # The whole data set on the device; windows are index rows into it.
    mel_all = torch.from_numpy(clips.mel).to(device, torch.float16 if device.type == "cuda" else torch.float32)
    pose_all = torch.from_numpy(clips.pose).to(device)
    conf_all = torch.from_numpy(clips.conf).to(device)
    rows_all = torch.from_numpy(rows).to(device)
    dev_rows = torch.from_numpy(dev_rows).to(device)
    if dist.is_main:
        print(f"gestures: {clips.seconds('train') / 60:.1f} min of train speech, {len(rows)} windows, "
              f"{clips.n_points} points ({clips.layout}), generator {count_parameters(generator) / 1e6:.2f} M "
              f"parameters, on {device}", flush=True)

    started, last_log, seen = time.time(), time.time(), 0
    sums = {"l1": 0.0, "gan_g": 0.0, "gan_d": 0.0, "fm": 0.0, "motion": 0.0, "d_real": 0.0, "d_fake": 0.0}
    with training.StopSignal() as stop, training.progress_bar(cfg.steps, step, disable=not dist.is_main) as bar:
        while step < cfg.steps:
            # Draw a batch of windows.
            pick = torch.randint(len(rows_all), (cfg.batch,), generator=sampler).to(device)
            mel, pose, conf = gather(mel_all, pose_all, conf_all, rows_all[pick], model_cfg.pose_frames)
            if cfg.voice_augment > 0:
                mel = augment_voice(mel, sampler, cfg.voice_augment)
            real_z = generator.to_z(pose)
            use_gan = cfg.lambda_gan > 0 and step >= cfg.gan_start

            # Discriminator step: real motion -> 1, generated motion -> 0.
            with autocast:
                fake_z = g_train(mel)
            loss_d = d_real = d_fake = torch.zeros((), device=device)
            if use_gan:
                with autocast:
                    score_real, score_fake = d_train(real_z), d_train(fake_z.detach().float())
                    loss_d = lsgan_d_loss(score_real, score_fake)
                d_real, d_fake = score_real.detach().float().mean(), score_fake.detach().float().mean()  # 1 and 0: D wins
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()

            # Generator step: L1 to the real pose + lambda x fooling the discriminator (+ feature matching).
            with autocast:
                loss_l1 = l1_loss(fake_z.float(), real_z, conf)
                loss_gan = loss_fm = torch.zeros((), device=device)
                if use_gan:
                    score, hidden_fake = d_train(fake_z.float(), features=True)
                    loss_gan = lsgan_g_loss(score)
                    if cfg.feature_matching > 0:
                        loss_fm = feature_matching_loss(hidden_fake, d_train(real_z, features=True)[1])
                loss_g = loss_l1 + cfg.lambda_gan * loss_gan + cfg.feature_matching * loss_fm
                loss_motion = (motion_loss(fake_z.float(), real_z, conf) if cfg.lambda_motion > 0
                               else torch.zeros((), device=device))
                loss_g = loss_g + cfg.lambda_motion * loss_motion
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            step += 1
            bar.update(1)
            for k, v in (("l1", loss_l1), ("gan_g", loss_gan), ("gan_d", loss_d), ("fm", loss_fm),
                         ("motion", loss_motion), ("d_real", d_real), ("d_fake", d_fake)):
                sums[k] += v.detach()
            seen += 1

            # Log, checkpoint, stop.
            out_of_time = cfg.max_minutes is not None and time.time() - started > cfg.max_minutes * 60
            if cfg.max_minutes is not None and dist.world_size > 1:  # every rank must stop at the same step
                flag = torch.tensor([1.0 if out_of_time else 0.0], device=device)
                torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
                out_of_time = bool(flag.item())
            stopping = stop.requested(dist) or out_of_time or step == cfg.steps
            if step % cfg.log_every == 0 or stopping:
                means = {k: float(v) / seen for k, v in sums.items()}
                training.check_finite(step, run, **means)
                dev = evaluate_l1(generator, mel_all, pose_all, conf_all, dev_rows, model_cfg.pose_frames, autocast)
                now = time.time()
                run.log(step, **means, dev_l1=dev, steps_per_s=seen / (now - last_log))
                bar.set_postfix(l1=f"{means['l1']:.3f}", dev=f"{dev:.3f}")
                sums, seen, last_log = {k: 0.0 for k in sums}, 0, now
            if dist.is_main and (step % cfg.checkpoint_every == 0 or stopping) and len(dev_rows):
                run.save_image(f"step-{step:07d}", progress_image(generator, mel_all, pose_all, conf_all, dev_rows,
                                                                 model_cfg.pose_frames, clips.layout))
            if dist.is_main and (step % cfg.checkpoint_every == 0 or stopping):
                training.save_checkpoint(run.checkpoint_dir(step), {"G": generator, "D": discriminator},
                                         {"G": opt_g, "D": opt_d}, {**meta, "step": step},
                                         {"sampler": sampler})
                run.prune(keep=2)
            if stopping:
                break
    training.cleanup_distributed()
    if dist.is_main and cfg.export:
        export_generator(run.latest(), cfg.export)
    return str(run.latest()) if dist.is_main else ""


def export_generator(checkpoint: str, out: str) -> str:
    """The generator alone in float16 safetensors + checkpoint.json: enough to predict (a few MB)."""
    generator, meta = load_generator(str(checkpoint))
    keep = {k: v for k, v in meta.items() if k not in ("optimizers", "rng", "path", "format")}
    training.save_checkpoint(out, {"G": generator}, None, keep, dtype=torch.float16)
    return out


@torch.no_grad()
def evaluate_l1(generator: GestureGenerator, mel_all, pose_all, conf_all, rows, frames: int, autocast,
                batch: int = 256) -> float:
    """Mean L1 in z-scores over the given windows, in eval mode (running BatchNorm statistics)."""
    if len(rows) == 0:
        return math.nan
    was_training = generator.training
    generator.eval()
    total, count = 0.0, 0
    for first in range(0, len(rows), batch):
        mel, pose, conf = gather(mel_all, pose_all, conf_all, rows[first:first + batch], frames)
        with autocast:
            pred = generator(mel).float()
        total += float(l1_loss(pred, generator.to_z(pose), conf)) * len(mel)
        count += len(mel)
    generator.train(was_training)
    return total / count


@torch.no_grad()
def progress_image(generator: GestureGenerator, mel_all, pose_all, conf_all, rows, frames: int, layout: str) -> np.ndarray:
    """(H, W, 3) uint8: the true and predicted height of each wrist over one held-out window."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    was_training = generator.training
    generator.eval()
    mel, pose, _ = gather(mel_all, pose_all, conf_all, rows[:1], frames)
    pred = generator.to_pose(generator(mel.float())).float()
    generator.train(was_training)
    wrists = {"reduced": (4, 5), "s2g49": (6, 3)}.get(layout, (0, min(1, pose.shape[2] - 1)))
    fig, ax = plt.subplots(figsize=(6, 2.6), dpi=80)
    for i, (point, color) in enumerate(zip(wrists, ("C0", "C3"))):
        ax.plot(pose[0, :, point, 1].cpu(), color=color, label=f"truth {i}")
        ax.plot(pred[0, :, point, 1].cpu(), color=color, linestyle="--", label=f"model {i}")
    ax.invert_yaxis()  # image y grows downwards: up is up
    ax.set_xlabel("pose frame (15 fps)")
    ax.set_ylabel("wrist y (shoulder widths)")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return image


def load_generator(path: str, device: str = "cpu") -> tuple[GestureGenerator, dict]:
    """A trained generator (eval mode) and its checkpoint meta, from a run folder or a checkpoint."""
    meta = training.read_meta(path)
    if meta.get("kind") != "gestures":
        raise InputError(path, "is not a gesture model checkpoint", "Give a run folder of `posevideo train gestures`.")
    generator = training.build_model(meta, lambda cfg: GestureGenerator(GestureConfig(**cfg)))
    training.load_checkpoint(meta["path"], {"G": generator})  # "generator" in older files: still loads
    return generator.to(device).eval(), meta
