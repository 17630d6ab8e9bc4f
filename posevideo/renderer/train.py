"""Train the renderer (pix2pix: skeleton image -> frame of one person) on what `prepare` wrote.

    posevideo train renderer --data DATA --speaker NAME --preset esn --steps N --batch B --out RUN
        [--face-d W] [--hand-d W] [--temporal [--temporal-d W]]             (the v2 options, issue 13)
        [--gan-loss vanilla|lsgan|hinge] [--feature-matching W]     (pix2pixHD's discriminator feature matching)
        [--face-l1 W] [--hand-l1 W]             (more L1 on the face and hand crops; every preset: 1 and 5)
        [--teacher RUN [--teacher-mix F]]                 (distillation: a trained renderer's frames as the L1 target)
        [--companion BANK|signing [--companion-share F]]   (another person's frames beside these, a person plane)
        [--arm-warps N]          (N copies of each frame with the arms turned at shoulder and elbow: renderer/augment.py)
    posevideo train renderer ... --size 512 --upsample-from RUN256 [--freeze-base N]   (two stages, issue 14)
    torchrun --nproc_per_node G -m posevideo train renderer ...        (one process a GPU, DDP)

The whole split lives on the device as uint8 (posevideo/renderer/data.py), so a step never waits
for disk or for Python. Each step is pix2pix's: a discriminator step, then a generator step; the
face, hand and temporal discriminators, when asked for, join both steps beside pix2pix's.

The temporal model (`--temporal`) trains on pairs of consecutive frames of one interval, batch/2
pairs a step (so a step makes `batch` images, as without it): frame t - 1 is generated with no
previous frame (zeros, as a sequence's first frame at inference) and frame t from the *generated*
frame t - 1, detached (Everybody Dance Now's scheme). Feeding the model its own output, not the
ground truth, is what it sees at inference, so it learns to correct its errors rather than copy a
perfect previous frame; the zeros half keeps the first frame good. The temporal discriminator
judges (skeleton t - 1, skeleton t, frame t - 1, frame t): real pairs against generated ones.
`--pair-l1 W` samples the same pairs for any generator (one stage or two, no previous-frame input)
and adds W x the L1 weight x the L1 between the output's change from t - 1 to t and the truth's;
`--pair-d W` gives such a generator the temporal discriminator on those pairs, at GAN weight W.

Distillation (`--teacher RUN`): a renderer already trained on the same person (typically `esn`)
draws every batch's skeletons, jitter included, and the L1 term pulls the student toward the
teacher's frame (share F, `--teacher-mix`, default 1) and toward the ground truth (1 - F), each with
its own face and hand crop L1 (`face_l1`, `hand_l1`: without the teacher's, a student at F = 1 lost
the crops' weight and its hands, 2.5 dB under the untaught model on 2026-12-06). The
discriminators still see real frames, so the GAN keeps the student honest where the teacher blurs.
A small student copies a large teacher's smooth, pose-consistent output more easily than the noisy
truth it could not fit (knowledge distillation for image-to-image GANs).

A companion (`--companion BANK|signing`): another person's frames fill `companion_share` of each
batch, the generator and pix2pix's discriminator told whose frame it is by a person plane (1: this
person, 0: the companion). A few seconds of a real person never show most of the poses other people
will ask of its renderer; the companion's (the synthetic speaker signing) teach the drawing both
people share, and the renderer draws this person. On Obama's address it raised other people's hands
found from 1.5-3.4 % to 14.5-18.9 % and his held-out frame by about 2 dB (BENCHMARKS.md "A real
person trained beside the synthetic speaker").

Two stages (`--upsample-from RUN256` or `--stages 2`; model.TwoStage): the 256 generator of RUN256
(or a new one) under an Enhancer to 512, trained on 512 frames. For the first `--freeze-base`
steps the first stage is held as it is (as at inference: eval mode, no gradients) while the
Enhancer learns; then both train together, as pix2pixHD's `niter_fix_global`.
"""
from __future__ import annotations

import copy
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from posevideo.errors import InputError
from posevideo.renderer.companion import SIGNING, SLEEVES, signing_bank
from posevideo.renderer.data import BANK_FILE, REGIONS, FrameBank, crop, load_frames
from posevideo.renderer.model import (ENHANCER_FIELDS, REFINER_FIELDS, RendererConfig, d_loss, discriminators,
                                      feature_matching_loss, g_gan_loss, l1_loss, load_widened, make_generator,
                                      pair_energy_loss, pair_l1_loss, person_plane, preset)
from posevideo.training import (Run, StopSignal, average_weights, build_model, check_finite, cleanup_distributed,
                                load_checkpoint, model_defaults, progress_bar, rank_sampler, read_meta,
                                reseed_resumed_rank, run_config, save_checkpoint, seed_everything, setup_distributed,
                                stored_config, train_options)


PAIR_BATCH = 32  # the pair terms helped at this batch (16 pairs a step) and raised flicker at 8 and 16 (BENCHMARKS.md)


@dataclass
class TrainConfig:
    out: str                       # the run folder
    data: str | None = None        # DATA folder written by `posevideo prepare`, or a packed bank
    speaker: str | None = None
    preset: str = "small"
    ngf: int | None = None         # the generator's width (None: the preset's)
    size: int = 256
    steps: int = 10_000
    batch: int = 8                 # images a step, per process (temporal: batch / 2 pairs)
    lr: float | None = None        # None: the preset's (2e-4); linear decay to 0 over the 2nd half
    seed: int = 0                  # global; process r uses seed + r
    jitter: float = 0.05           # scale and aspect jitter, as a fraction (the seed's augmentation)
    # Which frames it learns: "train" (the train split; dev and test stay held out for `evaluate`) or
    # "all" (every interval: the renderer to use once a held-out run has judged the recipe; short
    # footage then keeps its every gesture, and `evaluate` on its test split is no longer held out).
    frames: str = "train"
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
    # The v2 options (RendererConfig's fields of the same names; None: the preset's: off but the crop L1 and ema).
    temporal: bool | None = None
    temporal_d: float | None = None
    face_d: float | None = None
    hand_d: float | None = None
    feature_matching: float | None = None  # pix2pixHD's feature matching weight (None: the preset's, off)
    face_l1: float | None = None   # L1 on the face crops, x the L1 weight (None: the preset's, 1; 0: off)
    hand_l1: float | None = None   # L1 on the hand crops, x the L1 weight (None: the preset's, 5; 0: off)
    pair_l1: float | None = None   # L1 on the frame-to-frame change, x the L1 weight (None: the preset's, off)
    pair_d: float | None = None    # the frame-pair discriminator's weight, any generator (None: the preset's, off)
    pair_energy: float | None = None  # L1 on each patch's amount of change, x the L1 weight (None: the preset's, off)
    ema: float | None = None       # decay of the generator's weight average (None: the preset's, 0.999; 0: off)
    l1_weight: float | None = None # loss = GAN + l1_weight * L1 (None: the preset's, 1,000; pix2pix's: 100)
    # Two stages (issue 14): a first stage at size / 2 under an Enhancer. `upsample_from`: a run (or
    # checkpoint) of a one-stage model at size / 2 whose generator is the first stage (its config
    # replaces the preset's); `stages` 2 without it: a new first stage of the preset.
    stages: int = 1
    upsample_from: str | None = None
    freeze_base: int = 1000        # steps the first stage is held before both train (with upsample_from)
    enhancer_ngf: int | None = None     # None: RendererConfig's (64)
    enhancer_blocks: int | None = None  # None: RendererConfig's (3)
    hand_refiner_ngf: int | None = None     # two stages: the hand refiner's width (None: RendererConfig's, 0: none)
    hand_refiner_blocks: int | None = None  # its residual blocks (None: RendererConfig's, 3)
    hand_refiner_stride: int | None = None  # 2: it works at half the crop's side, 1: at full (None: RendererConfig's, 2)
    max_minutes: float | None = None    # a fixed time budget from the first step: stop (and checkpoint) when spent
    # Fine-tuning: a trained renderer (run or checkpoint folder; "shipped": the shipped small one) whose
    # generator, and discriminators where it has them, are this run's starting weights (its config
    # replaces the preset's); optimizers, schedule and steps start afresh. Another person's renderer
    # already maps skeleton images to a body: on Obama, 600 CPU steps from the shipped one gave +1.7 dB
    # over 600 from scratch (BENCHMARKS.md "Fine-tuning").
    init_from: str | None = None
    # The body profile (`stats.profile`: bone lengths, mean hand and face that `render --retarget full`
    # draws other people's poses with) from this renderer (run, checkpoint folder or "shipped") in place
    # of the one measured on the training frames. For frames added to a person's own (painted on other
    # skeletons, say): their hands and faces would move the person's mean hand, and that alone moved
    # the real-hands figure by up to 5 points (BENCHMARKS.md "The other seeds' signing at GPU scale").
    profile_from: str | None = None
    teacher: str | None = None     # a trained renderer of the same person whose frames are the L1 target
    teacher_mix: float = 1.0       # share of the L1 term toward the teacher (the rest: the ground truth)
    # Another person's frames (a bank folder) in every batch, `companion_share` of it, told apart from this
    # person's by a person plane (RendererConfig.companion): the companion's poses (arms and hands that this
    # person's footage never shows) teach the shared drawing; the renderer draws this person.
    companion: str | None = None   # a bank folder, or "signing": the synthetic speaker's (renderer/companion.py)
    companion_share: float = 0.5
    companion_sleeves: str = "short"  # with companion "signing": the companion's sleeves (short, none, long)
    # Copies of each training frame with the arms turned at shoulder and elbow (renderer/augment.py), made
    # at the start from `seed`: seconds of a real person never show the arms where other people put them.
    arm_warps: int = 0

    def __post_init__(self):
        if self.d_batch not in ("joint", "separate"):
            raise ValueError(f"d_batch must be 'joint' or 'separate', got {self.d_batch!r}")
        if self.stages not in (1, 2):
            raise ValueError(f"stages must be 1 or 2, got {self.stages}")
        if not 0 <= self.teacher_mix <= 1:
            raise ValueError(f"teacher_mix must be in [0, 1], got {self.teacher_mix}")
        if not 0 < self.companion_share < 1:
            raise ValueError(f"companion_share must be in (0, 1), got {self.companion_share}")
        if self.companion_sleeves not in SLEEVES:
            raise ValueError(f"companion_sleeves must be one of {SLEEVES}, got {self.companion_sleeves!r}")
        if self.companion and self.teacher:
            raise ValueError("companion cannot be combined with teacher")
        if self.init_from and (self.upsample_from or self.stages == 2):
            raise ValueError("init_from cannot be combined with upsample_from or stages 2: start a two-stage "
                             "run from a two-stage renderer with init_from alone")

    def model_config(self, stored: dict | None = None) -> RendererConfig:
        """The preset with this run's overrides; with two stages the first stage's config (the
        `upsample_from` run's, or the preset's) at size / 2 under an Enhancer. `stored`: a resumed
        run's own model config (config.json's "model"), the base in place of all that, so a run keeps
        its settings where this command gives none, even where a preset's have changed since."""
        overrides = dict(ngf=self.ngf, norm=self.norm, gan_loss=self.gan_loss, temporal=self.temporal, temporal_d=self.temporal_d,
                         face_d=self.face_d, hand_d=self.hand_d, feature_matching=self.feature_matching,
                         face_l1=self.face_l1, hand_l1=self.hand_l1, pair_l1=self.pair_l1, pair_d=self.pair_d,
                         pair_energy=self.pair_energy, ema=self.ema,
                         l1_weight=self.l1_weight, enhancer_ngf=self.enhancer_ngf,
                         enhancer_blocks=self.enhancer_blocks, hand_refiner_ngf=self.hand_refiner_ngf,
                         hand_refiner_blocks=self.hand_refiner_blocks, hand_refiner_stride=self.hand_refiner_stride,
                         companion=True if self.companion else None)
        if stored is not None:
            return RendererConfig.from_dict({**stored, **{k: v for k, v in overrides.items() if v is not None}})
        if self.init_from:
            start = starting_model(self.init_from, self.size)
            return RendererConfig.from_dict({**start.to_dict(), **{k: v for k, v in overrides.items() if v is not None}})
        if self.upsample_from:
            base = first_stage(self.upsample_from, self.size)
            # A one-stage run stores the Enhancer's fields of its day, which shaped nothing in it: the
            # Enhancer gets this command's, else today's defaults.
            kept = {k: v for k, v in base.to_dict().items() if k not in ENHANCER_FIELDS}
            return RendererConfig.from_dict({**kept, "size": self.size, "base_size": base.size,
                                             **{k: v for k, v in overrides.items() if v is not None}})
        base_size = self.size // 2 if self.stages == 2 else None
        return preset(self.preset, size=self.size, base_size=base_size, **overrides)


def _refiner_shape(cfg: RendererConfig) -> str:
    """A model's hand refiner in words ("32x3 at half side"), "none" without one."""
    if not cfg.hand_refiner_ngf:
        return "none"
    return f"{cfg.hand_refiner_ngf}x{cfg.hand_refiner_blocks} at {'half' if cfg.hand_refiner_stride == 2 else 'full'} side"


def init_path(init_from: str) -> Path:
    """--init-from's folder: "shipped" is the shipped small renderer."""
    from posevideo.renderer.predict import DEFAULT_RENDERER
    return Path(DEFAULT_RENDERER) if init_from == "shipped" else Path(init_from)


def kept_profile(profile_from: str, speaker: str | None, say: bool = True) -> dict:
    """--profile-from's body profile (its checkpoint's `stats.profile`), with a note where that renderer
    was trained on another speaker than this run's frames."""
    from posevideo.renderer.predict import renderer_meta
    path = init_path(profile_from)
    stats = renderer_meta(path).get("stats", {})
    if not stats.get("profile"):
        raise InputError(path, "has no body profile (trained before profiles were kept)",
                         "Pass a renderer trained since, or leave --profile-from out to measure it on the frames.")
    theirs = stats.get("speaker")
    if say and speaker and theirs and speaker != theirs:
        print(f"note: {path}: its profile is speaker '{theirs}''s, these frames are '{speaker}''s: `render "
              f"--retarget full` will draw poses with the other person's proportions", file=sys.stderr)
    return stats["profile"]


def starting_model(init_from: str, size: int) -> RendererConfig:
    """The model config of the renderer a fine-tuning run starts from, checked against --size."""
    from posevideo.renderer.predict import renderer_meta
    path = init_path(init_from)
    start = build_model(renderer_meta(path), RendererConfig.from_dict)
    if start.size != size:
        raise InputError(path, f"makes {start.size}px frames, but this run is {size}px",
                         f"Pass --size {start.size}, or start from a renderer trained at {size}px.")
    return start


def first_stage(run: str, size: int) -> RendererConfig:
    """The model config of `run` (a renderer run or checkpoint folder), checked as a first stage for
    a `size` two-stage model: one stage, at size / 2, not temporal."""
    meta = read_meta(run)
    if meta.get("kind") != "renderer":
        raise InputError(run, f"is a {meta.get('kind', 'unknown')} checkpoint, not a renderer",
                         "Pass --upsample-from a run folder of `posevideo train renderer` at half the --size.")
    base = build_model(meta, RendererConfig.from_dict)
    if base.base_size or base.temporal or base.hand_refiner_ngf or base.size * 2 != size:
        what = ("a two-stage model" if base.base_size else "temporal" if base.temporal else
                "a model with a hand refiner" if base.hand_refiner_ngf else f"{base.size}px")
        raise InputError(run, f"is {what}, so it cannot be the first stage of a {size}px model "
                              f"(one stage at {size // 2}px, not temporal, is needed)",
                         f"Train one with `posevideo train renderer --size {size // 2}`, or pass --stages 2 "
                         "to train both stages from the start.")
    return base


def companion_frames(cfg: TrainConfig, size: int, dist, device: str) -> tuple[FrameBank, str]:
    """--companion's train frames on the device, and the bank folder they came from: a folder as
    given, or "signing" made by rank 0 on first use (the other ranks wait for it)."""
    where = cfg.companion
    if where == SIGNING:
        where = signing_bank(size, cfg.companion_sleeves) if dist.is_main else None
        if dist.world_size > 1:
            box = [where]
            torch.distributed.broadcast_object_list(box, src=0)
            where = box[0]
    if not (Path(where) / BANK_FILE).exists():
        raise InputError(where, f"is not a bank folder (no {BANK_FILE})",
                         "Pack the companion's frames with `posevideo pack-frames --data DATA --speaker NAME "
                         "--out BANK` and pass --companion BANK, or pass --companion signing.")
    frames = load_frames(where, None, size, "train", device)
    if frames.size != size:
        raise InputError(where, f"frames are {frames.size}px but the model is {size}px",
                         f"Pack the companion's frames at --size {size}.")
    return frames, str(where)


# --- schedule -------------------------------------------------------------------------------------

def learning_rate(step: int, steps: int, base: float) -> float:
    """pix2pix's schedule: constant for the first half, then linearly down to 0."""
    half = steps // 2
    return base if step <= half else base * max(0.0, (steps - step) / max(1, steps - half))


# --- what the discriminators see ------------------------------------------------------------------

class PairGenerator(nn.Module):
    """A temporal generator's two frames of a pair in one forward (DDP allows one forward a backward):
    frame t - 1 with no previous frame, then frame t from the generated t - 1, detached."""

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, skeleton_a: torch.Tensor, skeleton_b: torch.Tensor):
        fake_a = self.G(skeleton_a)
        return fake_a, self.G(skeleton_b, fake_a.detach())


REGION_BOXES = {"face": (2,), "hand": (0, 1)}  # which of the bank's boxes (REGIONS) each crop kind stacks


def region_crops(image: torch.Tensor, boxes: torch.Tensor, which: str, side: int) -> torch.Tensor:
    """One image batch's crops of a region, on the device: `which` "face" -> (B, 3, side, side);
    "hand" -> both hands stacked (2B, ...), the left one mirrored so that every crop shows a right hand."""
    return torch.cat([crop(image, boxes[:, r], side).flip(-1) if r == 0 else crop(image, boxes[:, r], side)
                      for r in REGION_BOXES[which]])


def regions(skeleton: torch.Tensor, image: torch.Tensor, boxes: torch.Tensor, which: str, side: int):
    """Crops for a region discriminator (`region_crops` of the skeleton and of the image) and their
    weights: 1 where the pose shows the region, else 0 ((B,) for the face, (2B,) for the hands)."""
    seen = torch.cat([(boxes[:, r, 0] >= -0.5).float() for r in REGION_BOXES[which]])
    return region_crops(skeleton, boxes, which, side), region_crops(image, boxes, which, side), seen


def load_teacher(path: str, model_cfg: RendererConfig, bank: FrameBank, device: str) -> nn.Module:
    """The frozen generator of a renderer run trained on the same person at the same size."""
    from posevideo.renderer.predict import load_renderer
    teacher, meta = load_renderer(path, device)
    taught = RendererConfig.from_dict(meta["model"])
    if taught.size != model_cfg.size:
        raise InputError(path, f"makes {taught.size}px frames but the student is {model_cfg.size}px",
                         f"Use a teacher trained at --size {model_cfg.size}.")
    if taught.temporal:
        raise InputError(path, "is a --temporal renderer, which needs its previous frames: it cannot label "
                               "random training frames", "Use a teacher trained without --temporal.")
    ours, theirs = bank.stats.get("speaker"), meta.get("stats", {}).get("speaker")
    if ours and theirs and ours != theirs:
        raise InputError(path, f"was trained on speaker '{theirs}', but the data is speaker '{ours}'",
                         "Distil from a renderer of the same person.")
    return teacher.requires_grad_(False)


# --- progress image -------------------------------------------------------------------------------

def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 3, S, S) in [-1, 1] -> (B, S, S, 3) uint8."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def progress_image(G: torch.nn.Module, skeleton: torch.Tensor, target: torch.Tensor,
                   hands: torch.Tensor | None = None) -> np.ndarray:
    """Rows of pose | target | output | |difference| (amplified x4) for a fixed set of frames
    (a temporal model: each as a sequence's first frame; `hands`: their hand boxes, for a model with
    a hand refiner)."""
    was_training = G.training
    G.eval()
    output = (G(skeleton) if hands is None else G(skeleton, hands=hands)).float()
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
    chosen = model_cfg is not None  # a caller's own config: every option in it was asked for
    stored = stored_config(cfg.out) if cfg.resume else {}
    try:
        model_cfg = model_cfg or cfg.model_config(stored.get("model"))
    except ValueError as e:  # options that do not go together (say --temporal with --stages 2): one line
        raise InputError(None, f"these options cannot train one renderer: {e}",
                         "Leave out one of the options it names (`posevideo train renderer --help`).") from e
    use_compile = cuda if cfg.compile is None else cfg.compile
    if cuda:
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels once
    asked = [f"--hand-refiner-{name}" for name in ("blocks", "stride") if getattr(cfg, f"hand_refiner_{name}") is not None]
    if asked and not model_cfg.hand_refiner_ngf:
        raise InputError(None, f"{' and '.join(asked)} shape a hand refiner, and this run has none",
                         "Add --hand-refiner-ngf C (its width, e.g. 32), or leave them out.")
    temporal = model_cfg.temporal
    pair_terms = (("--pair-l1", model_cfg.pair_l1), ("--pair-d", model_cfg.pair_d),
                  ("--pair-energy", model_cfg.pair_energy))
    paired = model_cfg.on_pairs  # batches of pairs of consecutive frames
    wants = "--temporal" if temporal else " and ".join(flag for flag, w in pair_terms if w > 0)
    if paired and (cfg.batch < 2 or cfg.batch % 2):
        raise InputError(None, f"--batch {cfg.batch} cannot be cut into pairs of frames ({wants})",
                         "Pass an even --batch of 2 or more.")
    if paired and not temporal and cfg.batch < PAIR_BATCH and dist.is_main:
        poses = f"{cfg.batch // 2} pose{'s' if cfg.batch > 2 else ''}"
        print(f"note: --batch {cfg.batch} with {wants} shows the generator {poses} a step; under "
              f"--batch {PAIR_BATCH} the pair terms raised flicker in every run measured (--pair-l1 at 8 and 16, "
              f"with --pair-energy or --pair-d at 8); at {PAIR_BATCH} --pair-l1 and --pair-energy helped models "
              "trained from scratch on a GPU (BENCHMARKS.md \"`--pair-l1`\", \"`--pair-energy` at four seeds\")",
              file=sys.stderr)

    # Data: the whole split on the device, and a generator of our own for batch order and jitter.
    if bank is None:
        if not cfg.data:
            raise InputError(None, "no training data given", "Pass --data DATA --speaker NAME.")
        if cfg.frames not in ("train", "all"):
            raise ValueError(f"frames must be 'train' or 'all', got {cfg.frames!r}")
        trained_on = train_options(stored).get("frames", "train") if cfg.resume else cfg.frames
        if trained_on != cfg.frames:  # a resume goes on with the frames it started with, or it is not the same run
            raise InputError(cfg.out, f"was started with --frames {trained_on}, not --frames {cfg.frames}",
                             f"Resume with --frames {trained_on}.")
        bank = load_frames(cfg.data, cfg.speaker, model_cfg.size, cfg.frames, device)
    if cfg.arm_warps:
        from posevideo.renderer.augment import warp_arms
        bank = warp_arms(bank, cfg.arm_warps, cfg.seed, progress=dist.is_main)
    if cfg.resume:  # the companion, its share and the turned copies are part of the run, as its frames are
        was = train_options(stored)
        for name, flag in (("companion", "--companion"), ("companion_share", "--companion-share"),
                           ("companion_sleeves", "--companion-sleeves"), ("arm_warps", "--arm-warps")):
            before, now = was.get(name, TrainConfig.__dataclass_fields__[name].default), getattr(cfg, name)
            if before != now:
                raise InputError(cfg.out, f"was started with {flag} {before}, not {now}", f"Resume with {flag} {before}.")
    companion, own = None, cfg.batch  # own: frames of this person a step; the rest are the companion's
    if cfg.companion:
        own = cfg.batch - round(cfg.batch * cfg.companion_share)
        if not 0 < own < cfg.batch:
            raise InputError(None, f"--batch {cfg.batch} at --companion-share {cfg.companion_share} leaves "
                                   f"{own} of this person's frames and {cfg.batch - own} of the companion's a step",
                             "Pass a larger --batch, or a share nearer 0.5.")
        companion, where = companion_frames(cfg, model_cfg.size, dist, device)
    if cfg.profile_from:
        bank.stats = {**bank.stats, "profile": kept_profile(cfg.profile_from, bank.stats.get("speaker"), dist.is_main)}
    if bank.size != model_cfg.size:
        raise InputError(cfg.data, f"frames are {bank.size}px but the model is {model_cfg.size}px",
                         f"Prepare the data at --size {model_cfg.size}, or pass --size {bank.size}.")
    if paired and len(bank.pair_starts) == 0:
        raise InputError(cfg.data, f"holds no two consecutive frames of one interval, so {wants} has nothing to learn",
                         f"Train without {wants}, or on more video.")
    for region in ("face", "hand"):
        rows = [i for i, name in enumerate(REGIONS) if name.endswith(region)]   # the bank's box rows of that region
        if bool((bank.regions[:, rows, 0] >= -0.5).any()):
            if companion is not None and not bool((companion.regions[:, rows, 0] >= -0.5).any()):
                raise InputError(where, f"has no {region} boxes, but this person's frames have: the "
                                 f"{region} crop L1 would be off for the companion alone",
                                 "Pack it again with `posevideo pack-frames` (it writes the boxes).")
            continue
        if region == "hand" and model_cfg.hand_refiner_ngf:
            raise InputError(cfg.data, "has no hand boxes, so the hand refiner would have no hands to refine",
                             "Pack it again with `posevideo pack-frames` (it writes the boxes of the pose's face and "
                             "hands), or train without --hand-refiner-ngf.")
        l1 = f"{region}_l1"
        asked = chosen or getattr(cfg, l1) is not None
        if getattr(model_cfg, f"{region}_d") > 0 or (getattr(model_cfg, l1) > 0 and asked):
            raise InputError(cfg.data,
                             f"has no {region} boxes, so --{region}-d / --{region}-l1 would have nothing to crop",
                             "Pack it again with `posevideo pack-frames` (it writes the boxes of the pose's face and "
                             "hands), or train without those options.")
        if getattr(model_cfg, l1) > 0:  # the preset's (or starting model's) crop L1, not asked for here: off
            model_cfg = replace(model_cfg, **{l1: 0.0})
            if dist.is_main:
                print(f"note: {cfg.data}: has no {region} boxes, so this run trains without the {region} crop L1 "
                      f"(pack the frames again with `posevideo pack-frames` to have it)", file=sys.stderr)

    # The run folder; on resume, the stored config must describe the same model.
    run = Run(cfg.out, run_config("renderer", model_cfg.to_dict(), asdict(cfg), dist.world_size),
              resume=cfg.resume, is_main=dist.is_main,
              upgrade=model_defaults(RendererConfig.from_dict))
    seed_everything(cfg.seed + dist.rank)
    sampler = rank_sampler(cfg.seed, dist.rank)
    teacher = load_teacher(cfg.teacher, model_cfg, bank, device) if cfg.teacher else None
    shown = torch.linspace(0, len(bank) - 1, min(4, len(bank))).long()         # fixed progress frames
    # whose frame each of a batch is: this person's first (1), then the companion's (0); None: no companion
    person = (torch.arange(cfg.batch, device=device) < own).float() if companion is not None else None

    # Models and optimizers (pix2pix: Adam 2e-4, beta1 0.5 for every network). Two stages from a
    # 256 run: its generator is the first stage (a resume reloads it from this run's checkpoint).
    G = make_generator(model_cfg)
    two_stage = bool(model_cfg.base_size)
    if two_stage and cfg.upsample_from and not cfg.resume:
        load_checkpoint(cfg.upsample_from, {"G": G.base}, restore_rng=False)
    Ds = discriminators(model_cfg)
    if cfg.init_from and not cfg.resume:  # fine-tuning: its G, and the Ds it has (the shipped one has none)
        start = starting_model(cfg.init_from, model_cfg.size)
        # Where this run's hand refiner is not the start's (it had none, or one of another shape, or this
        # run asks for none): the rest loads as it is, this run's refiner starts at a correction of 0.
        start_refiner = {name: getattr(start, name) for name in REFINER_FIELDS}
        new_refiner = _refiner_shape(model_cfg) != _refiner_shape(start)
        if new_refiner and start.hand_refiner_ngf:
            ours = (f"this run's is {_refiner_shape(model_cfg)}: it starts afresh at a correction of 0"
                    if model_cfg.hand_refiner_ngf else "this run has none: it is left out")
            print(f"note: {cfg.init_from} has a hand refiner of {_refiner_shape(start)}; {ours}, the rest is kept",
                  file=sys.stderr)
        G_into = make_generator(replace(model_cfg, **start_refiner)) if new_refiner else G
        if model_cfg.companion and not start.companion:  # a one-person start: its weights, the plane's 0
            one = replace(model_cfg, companion=False, **start_refiner)
            G_one, Ds_one = make_generator(one), discriminators(one)
            load_checkpoint(init_path(cfg.init_from), {"G": G_one, **Ds_one}, restore_rng=False, optional=set(Ds))
            load_widened(G_into, G_one)
            for name, D in Ds.items():
                load_widened(D, Ds_one[name])
        else:
            load_checkpoint(init_path(cfg.init_from), {"G": G_into, **Ds}, restore_rng=False, optional=set(Ds))
        if new_refiner:
            kept = {k: v for k, v in G_into.state_dict().items() if not k.startswith("refiner.")}
            refiner = {f"refiner.{k}": v for k, v in G.refiner.state_dict().items()} if G.refiner is not None else {}
            G.load_state_dict({**kept, **refiner})
    G = G.to(device, memory_format=torch.channels_last)
    Ds = {name: D.to(device, memory_format=torch.channels_last) for name, D in Ds.items()}
    base_lr = cfg.lr or model_cfg.lr
    betas = (model_cfg.beta1, 0.999)
    opt_g = torch.optim.Adam(G.parameters(), lr=base_lr, betas=betas, fused=cuda)
    opts_d = {name: torch.optim.Adam(D.parameters(), lr=base_lr, betas=betas, fused=cuda) for name, D in Ds.items()}
    # The weight average (`ema`): saved as "G", what users load; the trained weights as "G_train".
    G_avg = copy.deepcopy(G).requires_grad_(False) if model_cfg.ema else None
    modules = {"G": G_avg, "G_train": G, **Ds} if G_avg is not None else {"G": G, **Ds}
    optimizers = {"G": opt_g, **opts_d}
    weights = {"D": 1.0, "D_temporal": model_cfg.d_temporal_weight, "D_face": model_cfg.face_d, "D_hand": model_cfg.hand_d}

    step = 0
    if cfg.resume:
        meta = load_checkpoint(run.latest(), modules, optimizers, {"sampler": sampler})
        step = meta["step"]
        run.truncate_metrics(step)
        if dist.world_size > 1:  # every rank resumes from rank 0's file: give each its own stream again
            reseed_resumed_rank(sampler, cfg.seed, dist.rank, step)

    G_step, D_step = PairGenerator(G) if temporal else G, dict(Ds)
    if use_compile:
        G_step, D_step = torch.compile(G_step), {name: torch.compile(D) for name, D in Ds.items()}
    G_fwd, D_fake = G_step, dict(D_step)  # in the G step the Ds run outside DDP (their grads are not wanted)
    if dist.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        ids = [dist.local_rank] if cuda else None
        # A held first stage gets no gradient: DDP must not wait for one.
        G_fwd = DDP(G_step, device_ids=ids, find_unused_parameters=two_stage)
        D_step = {name: DDP(D, device_ids=ids) for name, D in D_step.items()}
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda)

    def checkpoint(at: int) -> Path:
        meta = {"kind": "renderer", "step": at, "model": model_cfg.to_dict(), "train": asdict(cfg),
                "stats": bank.stats, "world_size": dist.world_size, "sizes": list(model_cfg.sizes)}
        path = run.checkpoint_dir(at)
        if dist.is_main:
            save_checkpoint(path, modules, optimizers, meta, {"sampler": sampler})
            run.prune(keep=2)
        return path

    # Losses summed on the device between log lines: D, then G's per discriminator, L1, count.
    matching = model_cfg.feature_matching > 0
    # The regions cut from the pose each step: those with a discriminator or an L1 of their own.
    region_l1 = {"face": model_cfg.face_l1, "hand": model_cfg.hand_l1}
    cut = [r for r in ("face", "hand") if f"D_{r}" in Ds or region_l1[r] > 0]
    refined = bool(model_cfg.hand_refiner_ngf)  # the generator also takes the hands' boxes
    names = (["loss_d"] + [f"loss_g_{n[2:] or 'gan'}" for n in Ds] + ["loss_l1"]
             + [f"loss_l1_{r}" for r in cut if region_l1[r] > 0] + (["loss_l1_pair"] if model_cfg.pair_l1 > 0 else [])
             + (["loss_l1_energy"] if model_cfg.pair_energy > 0 else [])
             + (["loss_l1_teacher"] if teacher is not None else []) + (["loss_fm"] if matching else []))
    sums = torch.zeros(len(names) + 1, device=device)
    last = run.latest()
    t_log = started = time.time()
    kind = model_cfg.gan_loss
    side = model_cfg.region_size
    with StopSignal() as stop, progress_bar(cfg.steps, step, disable=not dist.is_main) as bar:
        while step < cfg.steps:
            step += 1
            lr = learning_rate(step, cfg.steps, base_lr)
            for opt in optimizers.values():
                for group in opt.param_groups:
                    group["lr"] = lr
            if two_stage:  # the first stage held for the first freeze_base steps (only when it was trained before)
                G.freeze_base(bool(cfg.upsample_from) and step <= cfg.freeze_base)

            # Sample a batch: random frames (with replacement), jittered in scale and aspect; temporal
            # or pair_l1: random pairs (t - 1, t), both frames of a pair jittered alike (the camera does not jump).
            if paired:
                first = bank.pair_starts[torch.randint(len(bank.pair_starts), (cfg.batch // 2,), generator=sampler)]
                index = torch.cat([first, first + 1])                               # frames t - 1, then t
                jitter = (1 + cfg.jitter * (2 * torch.rand(cfg.batch // 2, 2, generator=sampler) - 1)).repeat(2, 1)
            else:
                index = torch.randint(len(bank), (own,), generator=sampler)
                jitter = 1 + cfg.jitter * (2 * torch.rand(cfg.batch, 2, generator=sampler) - 1)
            jitter = jitter if cfg.jitter > 0 else None
            mine = None if jitter is None else jitter[:own]
            skeleton, real = bank.batch(index, mine)
            boxes = bank.boxes(index, mine) if cut or refined else None  # (B, 3, 4), on the device
            d_skeleton = skeleton  # what pix2pix's D sees: with a companion, the person plane too
            if companion is not None:  # the batch's last frames are the companion's (plane 0)
                theirs = torch.randint(len(companion), (cfg.batch - own,), generator=sampler)
                their_jitter = None if jitter is None else jitter[own:]
                their_skeleton, their_real = companion.batch(theirs, their_jitter)
                skeleton = torch.cat([skeleton, their_skeleton]).contiguous(memory_format=torch.channels_last)
                real = torch.cat([real, their_real]).contiguous(memory_format=torch.channels_last)
                if boxes is not None:
                    boxes = torch.cat([boxes, companion.boxes(theirs, their_jitter)])
                d_skeleton = torch.cat([skeleton, person_plane(skeleton, person)], dim=1)

            # Discriminator step: real pairs -> real, generated pairs -> fake (G not updated).
            # "separate": two calls, as pix2pix. "joint": one call on both, so BatchNorm normalises
            # reals and fakes together; D then tells them apart by the batch statistics, a cue it
            # loses in the generator step (fakes alone): a weaker adversary, L1 leads (see d_batch).
            # The region and temporal discriminators score their crops / frame pairs the same way.
            def judge(D, sk, re, fa, weight=None):
                if cfg.d_batch == "joint":
                    real_logits, fake_logits = D(torch.cat([sk, sk]), torch.cat([re, fa])).chunk(2)
                else:
                    real_logits, fake_logits = D(sk, re), D(sk, fa)
                return d_loss(real_logits.float(), fake_logits.float(), kind, weight)

            with autocast:
                inputs = {**({} if person is None else {"person": person}), **({"hands": boxes[:, :2]} if refined else {})}
                fake = torch.cat(G_fwd(*skeleton.chunk(2))) if temporal else G_fwd(skeleton, **inputs)
                loss_d = judge(D_step["D"], d_skeleton, real, fake.detach())
                # the skeleton and real crops, cut once a step for both steps
                crops = {r: regions(skeleton, real, boxes, r, side) for r in cut}
                for r, (sk, re, seen) in crops.items():
                    if f"D_{r}" in Ds:
                        fa = region_crops(fake.detach(), boxes, r, side)
                        loss_d = loss_d + judge(D_step[f"D_{r}"], sk, re, fa, seen)
                if "D_temporal" in Ds:
                    pairs = [torch.cat(x.chunk(2), dim=1) for x in (skeleton, real, fake.detach())]  # (B/2, 6, S, S)
                    loss_d = loss_d + judge(D_step["D_temporal"], *pairs)
            for opt in opts_d.values():
                opt.zero_grad(set_to_none=True)
            loss_d.backward()
            for opt in opts_d.values():
                opt.step()

            # Generator step: fool every discriminator (each GAN loss at its weight) and stay close
            # to the frame (+ 100 x L1).
            for D in Ds.values():
                D.requires_grad_(False)
            # With feature matching each D sees the real and the generated frames in one call (as in
            # its own "joint" step: BatchNorm shared) and the generator also matches its inner features.
            def fool(D, sk, fa, re, weight=None):
                if not matching:
                    return g_gan_loss(D(sk, fa).float(), kind, weight)
                real_f, fake_f = zip(*(f.chunk(2) for f in D(torch.cat([sk, sk]), torch.cat([re, fa]), features=True)))
                fm.append(feature_matching_loss(fake_f, real_f, weight))
                return g_gan_loss(fake_f[-1].float(), kind, weight)

            gan, fm, region_losses, taught_losses = {}, [], [], []
            if teacher is not None:
                with torch.no_grad(), autocast:
                    taught = teacher(skeleton)                  # the teacher's frames of the same skeletons
            with autocast:
                gan["D"] = fool(D_fake["D"], d_skeleton, fake, real)
                if "D_temporal" in Ds:
                    pairs = [torch.cat(x.chunk(2), dim=1) for x in (skeleton, fake, real)]
                    gan["D_temporal"] = fool(D_fake["D_temporal"], *pairs)
                for r, (sk, re, seen) in crops.items():
                    fa = region_crops(fake, boxes, r, side)
                    if f"D_{r}" in Ds:
                        gan[f"D_{r}"] = fool(D_fake[f"D_{r}"], sk, fa, re, seen)
                    if region_l1[r] > 0:
                        region_losses.append((region_l1[r], l1_loss(fa.float(), re, seen)))
                        if teacher is not None:  # the teacher's crops weigh as much as the truth's
                            ta = region_crops(taught, boxes, r, side)
                            taught_losses.append((region_l1[r], l1_loss(fa.float(), ta.float(), seen)))
            fake32 = fake.float()  # the L1 terms in float32, whatever the autocast gave
            loss_l1 = l1_loss(fake32, real)
            l1_term = loss_l1 + sum(w * loss for w, loss in region_losses)
            if teacher is not None:
                loss_teacher = l1_loss(fake32, taught.float())
                taught_term = loss_teacher + sum(w * loss for w, loss in taught_losses)
                l1_term = (1 - cfg.teacher_mix) * l1_term + cfg.teacher_mix * taught_term
            if model_cfg.pair_l1 > 0:  # toward the truth's change, taught or not
                loss_pair = pair_l1_loss(fake32, real)
                l1_term = l1_term + model_cfg.pair_l1 * loss_pair
            if model_cfg.pair_energy > 0:  # as much change in each patch as the truth's
                loss_energy = pair_energy_loss(fake32, real, model_cfg.energy_patch)
                l1_term = l1_term + model_cfg.pair_energy * loss_energy
            loss_g = sum(weights[name] * loss for name, loss in gan.items()) + model_cfg.l1_weight * l1_term
            if matching:
                loss_fm = sum(weights[name] * loss for name, loss in zip(gan, fm))
                loss_g = loss_g + model_cfg.feature_matching * loss_fm
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            if G_avg is not None:
                average_weights(G_avg, G, model_cfg.ema, step)
            for D in Ds.values():
                D.requires_grad_(True)

            sums += torch.stack([loss_d.detach()] + [gan[n].detach() for n in Ds] + [loss_l1.detach()]
                                + [loss.detach() for _, loss in region_losses]
                                + ([loss_pair.detach()] if model_cfg.pair_l1 > 0 else [])
                                + ([loss_energy.detach()] if model_cfg.pair_energy > 0 else [])
                                + ([loss_teacher.detach()] if teacher is not None else [])
                                + ([loss_fm.detach()] if matching else [])
                                + [torch.ones((), device=device)])
            bar.update(1)

            # Log: averages since the last line; a NaN stops here, before anything is saved.
            # A signal or the spent --max-minutes stops after this step (under DDP all ranks agree,
            # checked every 10 steps).
            if cfg.max_minutes is not None and time.time() - started > cfg.max_minutes * 60:
                stop.flag = True
            stopping = stop.requested(dist) if dist.world_size == 1 or step % 10 == 0 else False
            if step % cfg.log_every == 0 or step == cfg.steps or stopping:
                if dist.world_size > 1:
                    torch.distributed.all_reduce(sums)
                means = dict(zip(names, (sums[:-1] / sums[-1].clamp(min=1)).tolist()))
                n = sums[-1].item()
                check_finite(step, run, **means)
                seconds = time.time() - t_log
                images_s = n * cfg.batch / max(seconds, 1e-9)
                run.log(step, **means, lr=lr, images_per_s=images_s)
                bar.set_postfix(l1=f"{means['loss_l1']:.4f}", d=f"{means['loss_d']:.3f}", img_s=f"{images_s:.0f}")
                sums.zero_()
                t_log = time.time()
            if dist.is_main and (step % cfg.image_every == 0 or step == cfg.steps):
                sk, fr = bank.batch(shown)
                hands = bank.boxes(shown)[:, :2] if refined else None
                run.save_image(f"step-{step:07d}", progress_image(G if G_avg is None else G_avg, sk, fr, hands))
            if step % cfg.checkpoint_every == 0 or step == cfg.steps or stopping:
                check_finite(step, run, loss_d=loss_d.item(), loss_g=loss_g.item())
                last = checkpoint(step)
            if stopping:
                if dist.is_main:
                    bar.write(f"stopped (signal or --max-minutes) at step {step}; continue with: posevideo train renderer "
                              f"--resume {run.path}")
                break
    cleanup_distributed()
    return last
