"""pose image -> person image: everybody-sign-now's pix2pix U-Net generator and 70x70 PatchGAN.

Pure modules configured by `RendererConfig`; presets in `PRESETS`. Images are float (B, 3, S, S)
in [-1, 1]: the generator takes the skeleton image and returns the frame; the discriminator takes
(skeleton, frame) concatenated on channels and returns a (B, 1, S/8 - 2, S/8 - 2) grid of logits,
one per 70x70 patch.

The v2 options (issue 13), all off in the presets but the crop L1 (`face_l1` 1, `hand_l1` 5), the
weight average (`ema` 0.999) and the L1 weighed at 1,000 (`l1_weight`; pix2pix's 100 is the default of
a config built without a preset):
- `temporal`: the generator also takes the previous output frame (zeros for a sequence's first),
  as Everybody Dance Now / vid2vid; a temporal discriminator scores (skeleton, frame) pairs of two
  consecutive frames (12 channels).
- `face_d`, `hand_d`: small PatchGANs on crops of the face and of each hand (the left one mirrored,
  so one network learns one kind of hand), each with its own GAN loss weight.
- `feature_matching`: pix2pixHD's discriminator feature matching loss, at this weight, for every
  discriminator (`Discriminator.forward(..., features=True)` gives the inner features).
- `face_l1`, `hand_l1`: more L1 where a person is read: on the same face and hand crops (at
  `region_size`), each at this weight times `l1_weight`, beside the whole frame's.
- `pair_l1`: L1 on the change between two consecutive frames (the output's from t - 1 to t against
  the truth's), at this weight times `l1_weight`: trained on pairs, as `temporal` is, but for any
  generator, one stage or two, with nothing new to export or run.
- `pair_d`: the frame-pair discriminator (the temporal model's, 12 channels) for a generator without
  the previous frame, at this GAN loss weight: it judges how two consecutive generated frames change
  together, where the L1s judge each frame or each change pixel by pixel. Trained on pairs, any
  generator, nothing new to export.
- `pair_energy`: L1 between how much the output and the truth change from t - 1 to t in each patch
  (`energy_patch` pixels a side: 8 at 256), at this weight times `l1_weight`. `pair_l1` asks each
  pixel's change to be the truth's; where the model cannot place a moving edge exactly, the change that
  costs it least is a smaller one, and the output changes less than the truth (measured: 0.96-0.97x at
  `pair_l1` 3). This term asks only for as much change in each patch as the truth has, wherever in
  the patch it falls. Trained on pairs, any generator, nothing new to export.

Two stages (issue 14, pix2pixHD's coarse-to-fine generator): with `base_size` (e.g. 256 for a 512
model) the generator is `TwoStage`: the U-Net above at `base_size` on the skeleton averaged 2x2,
then an `Enhancer` that takes the full-size skeleton and that frame to the full size. The
discriminators judge the full-size frame, as with one stage.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

NORMS = ("batch", "instance", "none")
GAN_LOSSES = ("vanilla", "lsgan", "hinge")


@dataclass(frozen=True)
class RendererConfig:
    size: int = 256            # square image side in pixels; levels = log2(size): 8 at 256, 9 at 512
    ngf: int = 64              # generator width of the first level (pix2pix's ngf)
    ndf: int = 64              # discriminator width (pix2pix's ndf)
    d_layers: int = 3          # 3 = the 70x70 PatchGAN
    norm: str = "batch"        # pix2pix's default; "instance" or "none" are options
    dropout: float = 0.5       # in the three innermost up blocks (pix2pix's noise)
    gan_loss: str = "vanilla"  # "vanilla" (BCE, pix2pix), "lsgan", "hinge"
    l1_weight: float = 100.0   # loss = GAN + l1_weight * L1 (pix2pix's lambda)
    lr: float = 2e-4           # Adam, every network
    beta1: float = 0.5
    temporal: bool = False     # the generator also sees the previous output frame (input "previous")
    temporal_d: float = 1.0    # with temporal: weight of the frame-pair discriminator's GAN loss (0: none)
    face_d: float = 0.0        # weight of the face discriminator's GAN loss (0: no face discriminator)
    hand_d: float = 0.0        # weight of the hands discriminator's GAN loss (0: none)
    # pix2pixHD's feature matching: the generator also pulls each discriminator's inner features of
    # its frame toward those of the real frame (L1, mean over layers). It keeps teaching after D wins.
    feature_matching: float = 0.0  # its weight (0: off)
    # L1 on the face and hand crops the region discriminators see, each x l1_weight, beside the frame's:
    # a hand is ~2 % of the frame's pixels, so the frame's L1 hardly asks for fingers (0: off).
    face_l1: float = 0.0
    hand_l1: float = 0.0
    # L1 between the output's and the truth's change from frame t - 1 to t, x l1_weight (0: off). The
    # frame's L1 asks each frame to be near its truth; this asks its error to stay where it was the
    # frame before, which is what a viewer sees as flicker. Batches become batch / 2 pairs of
    # consecutive frames of one interval.
    pair_l1: float = 0.0
    # The temporal model's frame-pair discriminator (skeletons and frames t - 1 and t) for a generator
    # that does not take its previous frame: its GAN loss weight (0: none; a temporal model: temporal_d).
    pair_d: float = 0.0
    # L1 between the output's and the truth's mean absolute change from t - 1 to t in each patch of
    # `energy_patch` pixels, x l1_weight (0: off): as much change as the truth's, placed anywhere in the patch.
    pair_energy: float = 0.0
    # An exponential moving average of the generator's weights over training (decay a step, e.g.
    # 0.999: about the last 1,000 steps); the checkpoint's "G" is then the average, what every
    # user of the renderer loads, and "G_train" the weights being trained (0: off).
    ema: float = 0.0
    # Two stages (issue 14): the U-Net runs at base_size (size / 2), an Enhancer brings it to size.
    base_size: int = 0         # 0: one stage (the U-Net at `size`)
    # The Enhancer's width (all of it runs at size / 2 but its first and last layer): 64 since 2026-12-06
    # (32 before): on one H100, 320 s a lane, its hands led the plain 512 `esn` by 1.34-1.52 dB over three
    # seeds, 32's by 0.83-1.17 (BENCHMARKS.md "A wider Enhancer"). Checkpoints keep the width they were made with.
    enhancer_ngf: int = 64
    enhancer_blocks: int = 3   # its residual blocks (pix2pixHD's local enhancer: 3)
    # A hand refiner (`HandRefiner`, Everybody Dance Now's face residual for hands) on the last stage:
    # each hand's box of the frame, cut at region_size, refined by a residual network of this width at
    # half that side and pasted back (0: none). It puts width where the hands are, at the cost of two
    # small crops, not of the whole frame; the model then also takes the hands' boxes (input "hands").
    hand_refiner_ngf: int = 0
    hand_refiner_blocks: int = 3
    # 2: the residual network works at half the crop's side (a 4x4/2 conv in, a transposed conv out);
    # 1: at its full side (3x3 convs in and out), 4x the MACs of the same width. At equal MACs (32 wide at
    # full side against 64 at half, under the `small` stage) on one H100, 320 s: 2.2 dB worse on hands at
    # 512 (BENCHMARKS.md "The hand refiner at the crop's full side"), so 2 stays the default.
    hand_refiner_stride: int = 2
    # Trained beside a companion person (another person's frames in every batch, `train renderer
    # --companion`): the generator's first block and pix2pix's discriminator also take a person plane,
    # 1 for this person, 0 for the companion. Every user of the renderer gets this person: the plane is
    # 1 unless the trainer says otherwise, so export and the page run it with the one skeleton input.
    companion: bool = False

    @property
    def region_size(self) -> int:
        """Side of the face and hand crops the region discriminators see: 64 at 256 (a hand is ~40-50 px);
        at least 32, so that the 2-layer PatchGAN still has an output."""
        return max(32, self.size // 4)

    @property
    def energy_patch(self) -> int:
        """Side of the patches `pair_energy` compares: size / 32, 8 at 256 (a hand is ~40-50 px there)."""
        return max(1, self.size // 32)

    @property
    def on_pairs(self) -> bool:
        """Trained on pairs of consecutive frames: a temporal model, or any pair term (`pair_l1`,
        `pair_d`, `pair_energy`)."""
        return bool(self.temporal or self.pair_l1 or self.pair_d or self.pair_energy)

    @property
    def d_temporal_weight(self) -> float:
        """The GAN weight of the frame-pair discriminator ("D_temporal"): `temporal_d` for a temporal
        model, `pair_d` for any other (0: none)."""
        return self.temporal_d if self.temporal else self.pair_d

    @property
    def levels(self) -> int:
        return int(round(math.log2(self.size)))

    def __post_init__(self):
        if self.size < 32 or 2 ** self.levels != self.size:
            raise ValueError(f"size must be a power of two >= 32, got {self.size}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.gan_loss not in GAN_LOSSES:
            raise ValueError(f"gan_loss must be one of {GAN_LOSSES}, got {self.gan_loss!r}")
        for name in ("temporal_d", "face_d", "hand_d", "feature_matching", "face_l1", "hand_l1", "pair_l1", "pair_d",
                     "pair_energy", "l1_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0: off), got {getattr(self, name)}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1) (0: off), got {self.ema}")
        if self.base_size and self.base_size * 2 != self.size:
            raise ValueError(f"a two-stage model's base_size must be size / 2 ({self.size // 2}), got {self.base_size}")
        if self.base_size and self.temporal:
            raise ValueError("a two-stage model cannot be temporal (not implemented)")
        if self.companion and (self.base_size or self.on_pairs):
            raise ValueError("a renderer trained beside a companion cannot be two-stage, temporal or trained "
                             "on pairs (pair_l1, pair_d, pair_energy) (not implemented)")
        if self.pair_d and self.temporal:
            raise ValueError("pair_d is the frame-pair discriminator of a generator without the previous frame; "
                             "a temporal model has its own (temporal_d)")
        if self.hand_refiner_ngf and self.temporal:
            raise ValueError("a hand refiner cannot be temporal (not implemented)")
        if self.hand_refiner_ngf < 0 or self.hand_refiner_blocks < 0:
            raise ValueError(f"hand_refiner_ngf and hand_refiner_blocks must be >= 0, got {self.hand_refiner_ngf}, "
                             f"{self.hand_refiner_blocks}")
        if self.hand_refiner_stride not in (1, 2):
            raise ValueError(f"hand_refiner_stride must be 1 (the crop's full side) or 2 (half), got {self.hand_refiner_stride}")
        if self.enhancer_ngf < 1 or self.enhancer_blocks < 0:
            raise ValueError(f"enhancer_ngf must be >= 1 and enhancer_blocks >= 0, got {self.enhancer_ngf}, "
                             f"{self.enhancer_blocks}")

    @property
    def sizes(self) -> tuple[int, ...]:
        """The frame sides this model makes: (size,), or (base_size, size) for two stages (the first
        stage alone makes base_size frames)."""
        return (self.base_size, self.size) if self.base_size else (self.size,)

    def base(self) -> "RendererConfig":
        """A two-stage model's first stage: this config at base_size, one stage."""
        return replace(self, size=self.base_size, base_size=0, hand_refiner_ngf=0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RendererConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown renderer config keys {sorted(unknown)}")
        return cls(**d)


# The seed's model exactly, and smaller ones for CPUs and browsers; any of them at 512 with
# `preset(name, size=512)` (one more level). GMACs per frame in `posevideo presets`
# (small: 0.41 at 256, within the 1 GMAC browser budget).
# Every preset trains with the L1 of the hand and face crops (`hand_l1` 5, `face_l1` 1): on one H200
# at 5,000 steps, two seeds, it beat the same training without on every held-out measure (hands
# +3.0-3.2 dB, face +2.0-4.3 dB, less flicker) and 1.6x the real signers' hands were found
# (BENCHMARKS.md "The pix2pix peer beside v1 and v2"). Data without the boxes trains without it, with a note.
# And every preset's renderer is its generator's weights averaged over training (`ema` 0.999): where
# the learning rate had decayed to 0 (5,000 steps) it scored as the trained weights did (within
# 0.4 dB); in runs cut by a time budget, at full learning rate, it took a 512 two-stage model from
# 30.5 to 38.8 dB on the frame and removed the background blotches and chequered patches
# (BENCHMARKS.md "The generator's weights averaged").
# And every preset weighs the L1 terms at 1,000 (`l1_weight`, pix2pix's lambda, 100 in pix2pix): on one
# H100, `esn` at 4,000 steps, seeds 0 and 1, it raised the held-out frame by 0.65 and 0.89 dB (hands
# and face +0.07-0.08 dB) and removed a speckled patch that lambda 100 painted beside an elbow in 19 %
# of seed 1's frames of real poses; the real signers' hands found were level or lower within MediaPipe's
# spread (35.0 against 38.6 %, 39.7 against 39.9 %). `small` at seeds 0 and 1: +0.12 and +0.96 dB;
# `medium` was not measured (BENCHMARKS.md "Pixels over texture, as the presets train").
CROP_L1 = dict(hand_l1=5.0, face_l1=1.0)
TRAINING = dict(CROP_L1, ema=0.999, l1_weight=1000.0)   # what every preset trains with beyond pix2pix
PRESETS: dict[str, RendererConfig] = {
    "esn": RendererConfig(**TRAINING),                  # everybody-sign-now: unet_256, ngf 64, 54.4 M, 6.0 GMAC
    "medium": RendererConfig(ngf=32, ndf=32, **TRAINING),  # 13.6 M, ~1.5 GMAC: a laptop CPU in real time
    "small": RendererConfig(ngf=16, ndf=32, **TRAINING),   # 3.4 M, ~0.4 GMAC: the browser default
}


# The fields that shape the generator (what export and the page run); the rest only train it.
ENHANCER_FIELDS = ("enhancer_ngf", "enhancer_blocks")  # shape a two-stage model's Enhancer; nothing in one stage
# the hand refiner, on the last stage of either
REFINER_FIELDS = ("hand_refiner_ngf", "hand_refiner_blocks", "hand_refiner_stride")
GENERATOR_FIELDS = ("ngf", "norm", "dropout", "temporal", "base_size") + ENHANCER_FIELDS + REFINER_FIELDS  # companion: a constant plane in the graph


def preset_name(model: dict) -> str | None:
    """The preset whose generator a model config (checkpoint.json's "model") has, at any size; None
    if custom. Training options (discriminators, losses, learning rate) do not change the answer."""
    try:
        model = RendererConfig.from_dict(model).to_dict()  # fields added since the file was written: defaults
    except (TypeError, ValueError):
        return None
    # A one-stage model's Enhancer fields shape nothing (stored all the same, at that day's defaults).
    keys = [k for k in GENERATOR_FIELDS if model["base_size"] or k not in ENHANCER_FIELDS]
    for name, cfg in PRESETS.items():
        if all(cfg.to_dict()[key] == model[key] for key in keys):
            return name
    return None


def preset(name: str, **overrides) -> RendererConfig:
    """A preset, with fields replaced (e.g. size=512)."""
    base = PRESETS[name].to_dict()
    base.update({k: v for k, v in overrides.items() if v is not None})
    return RendererConfig.from_dict(base)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels)
    return nn.Identity()


class Generator(nn.Module):
    """The pix2pix U-Net: `levels` stride-2 down blocks to 1x1, mirrored up blocks, skip connections.

    Down block i: LeakyReLU(0.2) -> Conv 4x4/2 -> norm (none on the first and the innermost).
    Up block i: ReLU -> ConvTranspose 4x4/2 -> norm (+ dropout in the 3 innermost but one) and the
    input of every up block but the innermost is [its down block's output, the block below's output].
    Conv biases only without BatchNorm, and on the last layer (pix2pix's use_bias rule).
    With `cfg.temporal` the first block takes 6 channels: the skeleton and the previous output frame
    (zeros where there is none: a sequence's first frame). With `cfg.companion` it also takes the
    person plane (1: this person, the default; 0: the companion it was trained beside).
    """

    def __init__(self, cfg: RendererConfig):
        super().__init__()
        bias = cfg.norm != "batch"
        widths = [cfg.ngf * min(2 ** i, 8) for i in range(cfg.levels)]  # 64, 128, 256, 512, 512, ...
        self.down = nn.ModuleList()
        for i, out in enumerate(widths):
            inner = i == cfg.levels - 1
            layers = [] if i == 0 else [nn.LeakyReLU(0.2, inplace=True)]
            cin = (6 if cfg.temporal else 3) + int(cfg.companion) if i == 0 else widths[i - 1]
            layers.append(nn.Conv2d(cin, out, 4, 2, 1, bias=bias))
            if 0 < i and not inner:
                layers.append(_norm(cfg.norm, out))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()  # up[i] mirrors down[i]; run from the innermost out
        for i, out in enumerate(widths):
            inner = i == cfg.levels - 1
            outer = i == 0
            cin = widths[i] * (1 if inner else 2)
            layers = [nn.ReLU(inplace=True),
                      nn.ConvTranspose2d(cin, 3 if outer else widths[i - 1], 4, 2, 1, bias=bias or outer)]
            if outer:
                layers.append(nn.Tanh())
            else:
                layers.append(_norm(cfg.norm, widths[i - 1]))
                # pix2pix: dropout in the ngf*8 blocks just outside the innermost (3 at 256, 4 at 512)
                if not inner and cfg.dropout > 0 and i >= 4:
                    layers.append(nn.Dropout(cfg.dropout))
            self.up.append(nn.Sequential(*layers))
        self.temporal = cfg.temporal
        self.companion = cfg.companion
        self.apply(_init_weights)
        self.refiner = HandRefiner(cfg) if cfg.hand_refiner_ngf else None

    @property
    def needs_hands(self) -> bool:
        return self.refiner is not None

    def forward(self, x: torch.Tensor, previous: torch.Tensor | None = None,
                person: torch.Tensor | None = None, hands: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, 3, S, S) skeleton images; previous: (B, 3, S, S) the previous output frames (temporal
        models only; None = zeros, a sequence's first frame); person: (B,) 1 for this person, 0 for the
        companion (companion models only; None = this person); hands: (B, 2, 4) the hands' boxes (a
        model with a hand refiner only, which needs them)."""
        if self.refiner is None:
            return self.unrefined(x, previous, person)
        if hands is None:
            raise ValueError("this renderer refines the hands: pass their boxes (hands=, from hand_boxes)")
        return torch.tanh(self.refiner(x, self.unrefined(x, previous, person, logits=True), hands))

    def unrefined(self, x: torch.Tensor, previous: torch.Tensor | None = None, person: torch.Tensor | None = None,
                  logits: bool = False) -> torch.Tensor:
        """The U-Net's frame (without a hand refiner, which has no normalisation: what `adapt_norm`
        runs); `logits`: before its tanh."""
        if self.temporal:
            x = torch.cat([x, torch.zeros_like(x) if previous is None else previous], dim=1)
        if self.companion:
            x = torch.cat([x, person_plane(x, person)], dim=1)
        skips = []                           # (B, widths[i], S / 2^(i+1), same)
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = self.up[-1](skips[-1])          # innermost: 1x1 -> 2x2
        for i in range(len(self.up) - 2, 0, -1):
            x = self.up[i](torch.cat([skips[i], x], dim=1))
        outer = self.up[0]                   # ReLU, ConvTranspose, Tanh
        x = torch.cat([skips[0], x], dim=1)
        return outer[:-1](x) if logits else outer(x)   # (B, 3, S, S) in [-1, 1] (logits: before the tanh)


def person_plane(x: torch.Tensor, person: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 1, H, W) the person plane for a batch `x` (B, C, H, W): `person` (B,) per image, None = 1."""
    plane = x.new_ones(x.shape[0], 1, *x.shape[2:])
    return plane if person is None else plane * person.to(plane.dtype).view(-1, 1, 1, 1)


def load_widened(model: nn.Module, trained: nn.Module) -> None:
    """`model` takes `trained`'s weights, where a weight of `model` has one input channel more (the person
    plane of a companion model, `cfg.companion`) with 0 for it: a one-person renderer's generator and
    discriminator start a companion model that draws, for either plane, as they did."""
    state = trained.state_dict()
    for key, weight in model.state_dict().items():
        if key in state and state[key].ndim == 4 and weight.shape[1] == state[key].shape[1] + 1:
            old = state[key]  # the plane is input channel 3, after the skeleton's (both G and D)
            state[key] = torch.cat([old[:, :3], old.new_zeros(old.shape[0], 1, *old.shape[2:]), old[:, 3:]], dim=1)
    model.load_state_dict(state)


class ResidualBlock(nn.Module):
    """pix2pixHD's ResnetBlock: x + (conv 3x3 -> norm -> ReLU -> conv 3x3 -> norm)(x), same width."""

    def __init__(self, channels: int, norm: str):
        super().__init__()
        bias = norm != "batch"
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1, bias=bias), _norm(norm, channels),
                                  nn.ReLU(inplace=True),
                                  nn.Conv2d(channels, channels, 3, 1, 1, bias=bias), _norm(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _atanh(x: torch.Tensor) -> torch.Tensor:
    """atanh from log (ONNX Atanh is not in every onnxruntime-web kernel set), |x| held below 1."""
    x = x.clamp(-0.999, 0.999)
    return 0.5 * torch.log((1 + x) / (1 - x))


class Enhancer(nn.Module):
    """pix2pixHD's local enhancer on the first stage's frame: (B, 3, S, S) skeleton and (B, 3, S/2, S/2)
    first-stage frame -> (B, 3, S, S) frame in [-1, 1].

    The skeleton goes down once (conv 4x4/2) and meets the first-stage frame (conv 3x3) at S/2, where
    `enhancer_blocks` residual blocks of `enhancer_ngf` channels run (pix2pixHD adds its global
    generator's features to its local branch at this resolution); a transposed conv brings the
    result to S as a correction of the frame upsampled (bilinear), in tanh's argument. Its last layer
    starts at zero, so an untrained Enhancer returns the first stage's frame upsampled: the two-stage
    model starts where the 256 model is and training only adds detail.
    """

    def __init__(self, cfg: RendererConfig):
        super().__init__()
        c, bias = cfg.enhancer_ngf, cfg.norm != "batch"
        self.skeleton = nn.Conv2d(3, c, 4, 2, 1, bias=bias)                 # (B, 3, S, S) -> (B, c, S/2, S/2)
        self.frame = nn.Conv2d(3, c, 3, 1, 1, bias=bias)                    # (B, 3, S/2, S/2) -> the same
        self.merge = nn.Sequential(_norm(cfg.norm, c), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(*[ResidualBlock(c, cfg.norm) for _ in range(cfg.enhancer_blocks)])
        self.out = nn.Sequential(nn.ReLU(inplace=True), nn.ConvTranspose2d(c, 3, 4, 2, 1))
        self.apply(_init_weights)
        nn.init.zeros_(self.out[1].weight)
        nn.init.zeros_(self.out[1].bias)

    def forward(self, skeleton: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.logits(skeleton, frame))                      # (B, 3, S, S) float32

    def logits(self, skeleton: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        """The frame before its tanh: (B, 3, S, S) float32."""
        x = self.blocks(self.merge(self.skeleton(skeleton) + self.frame(frame)))   # (B, c, S/2, S/2)
        # important! float32 here under autocast: in bfloat16 the clamp at 0.999 rounds to 1, atanh
        # to infinity, and a saturated frame (a black background is -1) sends NaN gradients back.
        up = F.interpolate(frame.float(), scale_factor=2, mode="bilinear", align_corners=False)
        return _atanh(up) + self.out(x).float()


def _cells(n: int, device) -> torch.Tensor:
    """(n,) the centres of n pixels in [-1, 1] units (grid_sample's align_corners=False)."""
    return (2 * torch.arange(n, device=device, dtype=torch.float32) + 1) / n - 1


def _grid(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(B, W) x and (B, H) y sample positions -> (B, H, W, 2) a grid_sample grid."""
    return torch.stack([u[:, None, :].expand(-1, v.shape[1], -1), v[:, :, None].expand(-1, -1, u.shape[1])], dim=-1)


class HandRefiner(nn.Module):
    """Everybody Dance Now's face residual, for the hands: (B, 3, S, S) skeleton, (B, 3, S, S) frame
    logits and (B, 2, 4) left and right hand boxes (x0, y0, x1, y1) in pixels, -1 where a hand is not
    seen -> the logits with each seen hand's box refined.

    Each box is cut from the skeleton and the frame at `side` px (the left hand mirrored, so one network
    learns right hands: the region discriminator's convention); a residual network (conv 4x4/2 of each,
    summed, `hand_refiner_blocks` residual blocks of `hand_refiner_ngf` channels at side / 2 without
    normalisation, as EDSR's, a transposed conv back to side; with `hand_refiner_stride` 1, 3x3 convs
    in and out and the blocks at the full side) makes a correction, faded to 0 over the
    box's outer fifth and pasted back into the frame's logits. Crops and paste are bilinear samples
    (grid_sample on grids built here, so ONNX has no AffineGrid to need). The last layer starts at 0:
    an untrained refiner changes nothing."""

    FADE = 0.2  # the share of the box's half-side over which the correction fades out

    def __init__(self, cfg: RendererConfig):
        super().__init__()
        c, self.side = cfg.hand_refiner_ngf, cfg.region_size
        stride = cfg.hand_refiner_stride
        kernel = 2 + stride                                                       # 4x4/2 down, or 3x3/1
        self.skeleton = nn.Conv2d(3, c, kernel, stride, 1)
        self.frame = nn.Conv2d(3, c, kernel, stride, 1)
        self.blocks = nn.Sequential(*[ResidualBlock(c, "none") for _ in range(cfg.hand_refiner_blocks)])
        back = nn.ConvTranspose2d(c, 3, 4, 2, 1) if stride == 2 else nn.Conv2d(c, 3, 3, 1, 1)   # to the crop's side
        self.out = nn.Sequential(nn.ReLU(inplace=True), back)
        self.apply(_init_weights)
        nn.init.zeros_(self.out[1].weight)
        nn.init.zeros_(self.out[1].bias)
        fade = (1 - _cells(self.side, None).abs()).div(self.FADE).clamp(max=1)    # (side,) 0 at the edge, 1 inside
        self.register_buffer("window", (fade[:, None] * fade[None, :])[None, None], persistent=False)

    def forward(self, skeleton: torch.Tensor, logits: torch.Tensor, hands: torch.Tensor) -> torch.Tensor:
        n, size = skeleton.shape[0], skeleton.shape[-1]
        with torch.autocast(skeleton.device.type, enabled=False):                # grids in float32
            centre, half, seen = self.frames_of(hands, size)
            sk = self.cut(torch.cat([skeleton, skeleton]).float(), centre, half)
            frame = torch.tanh(logits.float())
            fr = self.cut(torch.cat([frame, frame]), centre, half)
        correction = self.out(self.blocks(self.skeleton(sk) + self.frame(fr)))   # (2B, 3, side, side), autocast's type
        with torch.autocast(skeleton.device.type, enabled=False):
            correction = torch.where(seen, correction.float() * self.window, 0.0)
            values, index = self.paste(correction, centre, half, size)            # about each box
            values = torch.cat([values[:n], values[n:]], dim=-1).flatten(2)       # (B, 3, 2 W W): both hands
            index = torch.cat([index[:n], index[n:]], dim=-1).flatten(1)[:, None].expand_as(values)
            out = logits.float().flatten(2).scatter_add(2, index, values)         # added where the boxes are
            return out.view_as(logits)

    @staticmethod
    def frames_of(hands: torch.Tensor, size: int):
        """(B, 2, 4) hand boxes in pixels -> each crop's centre and half-sides in [-1, 1] units, (2B, 2),
        left hands first, their x half-side negative (mirrored), and (2B, 1, 1, 1) True where seen."""
        n = hands.shape[0]
        boxes = torch.cat([hands[:, 0], hands[:, 1]]).float()                     # (2B, 4)
        seen = (boxes[:, 0] >= -0.5)[:, None, None, None]
        centre = (boxes[:, :2] + boxes[:, 2:]) / size - 1
        half = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1) / size
        sign = torch.cat([-torch.ones(n, 1, device=half.device), torch.ones(n, 1, device=half.device)])
        return centre, torch.cat([half[:, :1] * sign, half[:, 1:]], dim=1), seen

    def cut(self, images: torch.Tensor, centre: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
        """(N, C, S, S) -> (N, C, side, side): each image's box, resampled (edges repeated past the border)."""
        cells = _cells(self.side, images.device)
        grid = _grid(centre[:, :1] + half[:, :1] * cells, centre[:, 1:] + half[:, 1:] * cells)
        return F.grid_sample(images, grid, "bilinear", "border", False)

    def paste(self, crops: torch.Tensor, centre: torch.Tensor, half: torch.Tensor,
              size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(2B, 3, side, side) crops of B images (left hands, then right) -> each crop resampled onto a
        window of the frame's pixels about its box: (2B, 3, W, W) values and (2B, W, W) flat pixel
        indices (row * S + col). The window (W = 3/8 of S: a box 1.4x a large hand's extent at 512
        is under 150 px) starts at the box's first pixel, moved to stay inside the frame; a box larger
        than it is corrected in its first W x W pixels only. Resampling the whole frame instead took
        most of the refiner's time (ONNX Runtime's GridSample on 2 x 512 x 512 points)."""
        window = self.window_side(size)
        cells = torch.arange(window, device=crops.device, dtype=torch.float32)
        first = ((centre - half.abs() + 1) * size / 2).floor().clamp(0, size - window)   # (2B, 2) x, y pixel
        x, y = first[:, :1] + cells, first[:, 1:] + cells                                # (2B, W) pixel columns, rows
        grid = _grid(((2 * x + 1) / size - 1 - centre[:, :1]) / half[:, :1],
                     ((2 * y + 1) / size - 1 - centre[:, 1:]) / half[:, 1:])
        values = F.grid_sample(crops, grid, "bilinear", "zeros", False)                  # (2B, 3, W, W)
        index = (y[:, :, None] * size + x[:, None, :]).long()                             # (2B, W, W)
        return values, index

    @staticmethod
    def window_side(size: int) -> int:
        return -(-3 * size // 8)


class TwoStage(nn.Module):
    """The two-stage generator: (B, 3, S, S) skeleton -> (B, 3, S, S) frame. The first stage (`base`, a
    `Generator` at S/2) sees the skeleton averaged 2x2, made here so that one input serves both
    stages (and one ONNX graph); `enhancer` refines its frame at S; `refiner` (with
    `cfg.hand_refiner_ngf`, else None) then the hands, whose boxes the model takes as a second input
    (`hands`, (B, 2, 4): `hand_boxes` of the drawn pose).

    `freeze_base(True)`: the first stage runs as at inference (eval mode, no gradients) while the
    Enhancer trains alone; its weights then get no gradient, so the optimizer leaves them as they are."""

    temporal = False

    def __init__(self, cfg: RendererConfig):
        super().__init__()
        self.base = Generator(cfg.base())
        self.enhancer = Enhancer(cfg)
        self.refiner = HandRefiner(cfg) if cfg.hand_refiner_ngf else None
        self.base_frozen = False

    def freeze_base(self, frozen: bool) -> None:
        self.base_frozen = frozen
        self.train(self.training)

    def train(self, mode: bool = True) -> "TwoStage":
        super().train(mode)
        if self.base_frozen:
            self.base.eval()
        return self

    @property
    def needs_hands(self) -> bool:
        return self.refiner is not None

    def forward(self, x: torch.Tensor, previous: torch.Tensor | None = None,
                hands: torch.Tensor | None = None) -> torch.Tensor:
        """hands: (B, 2, 4) the left and right hand boxes in pixels (-1: not seen); a model with a hand
        refiner needs them (a ValueError without), others ignore them."""
        if self.refiner is not None and hands is None:
            raise ValueError("this renderer refines the hands: pass their boxes (hands=, from hand_boxes)")
        small = F.avg_pool2d(x, 2)                                           # (B, 3, S/2, S/2)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.base_frozen):
            frame = self.base(small)
        logits = self.enhancer.logits(x, frame)
        if self.refiner is not None:
            logits = self.refiner(x, logits, hands)
        return torch.tanh(logits)

    def unrefined(self, x: torch.Tensor) -> torch.Tensor:
        """The frame without the hand refiner (which has no normalisation): what `adapt_norm` runs."""
        return self.enhancer(x, self.base(F.avg_pool2d(x, 2)))


def make_generator(cfg: RendererConfig) -> nn.Module:
    """The generator a config describes: a `Generator`, or a `TwoStage` when it has a base_size."""
    return TwoStage(cfg) if cfg.base_size else Generator(cfg)


class Discriminator(nn.Module):
    """pix2pix's NLayerDiscriminator: with d_layers=3 each output sees a 70x70 patch of the input.

    `pair=True`: the temporal discriminator, on two consecutive (skeleton, frame) pairs (12 channels);
    `layers`: other depths (the region discriminators use 2: 34x34 patches of a 64x64 crop).
    A companion model's pix2pix D (not the region ones) takes the skeleton with its person plane (4
    channels): it judges whether the frame is that person's."""

    def __init__(self, cfg: RendererConfig, pair: bool = False, layers: int | None = None):
        super().__init__()
        bias = cfg.norm != "batch"
        depth = cfg.d_layers if layers is None else layers
        cin = 12 if pair else 6 + int(cfg.companion and layers is None)  # pix2pix's D sees the person plane
        net = [nn.Conv2d(cin, cfg.ndf, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        mult = 1
        for n in range(1, depth + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < depth else 1
            net += [nn.Conv2d(cfg.ndf * prev, cfg.ndf * mult, 4, stride, 1, bias=bias),
                    _norm(cfg.norm, cfg.ndf * mult), nn.LeakyReLU(0.2, inplace=True)]
        net.append(nn.Conv2d(cfg.ndf * mult, 1, 4, 1, 1))
        self.net = nn.Sequential(*net)
        self.apply(_init_weights)

    def forward(self, skeleton: torch.Tensor, image: torch.Tensor, features: bool = False):
        """(B, 3, H, W) each ((B, 6, H, W) each for a pair: frame t - 1 then t) -> (B, 1, h, w) logits;
        `features`: the list of every block's output (after its LeakyReLU), the logits last."""
        x = torch.cat([skeleton, image], dim=1)
        if not features:
            return self.net(x)
        found = []
        for layer in self.net:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                found.append(x)
        return found + [x]


REGION_LAYERS = 2  # the face and hand PatchGANs: 64x64 crops -> 14x14 logits, each seeing 34x34 pixels


def discriminators(cfg: RendererConfig) -> dict[str, Discriminator]:
    """Every discriminator `cfg` asks for, by checkpoint name: "D" (pix2pix's, always), "D_temporal"
    (the frame pairs' of `temporal_d` or `pair_d`), "D_face", "D_hand" (each only when its weight is > 0)."""
    found = {"D": Discriminator(cfg)}
    if cfg.d_temporal_weight > 0:
        found["D_temporal"] = Discriminator(cfg, pair=True)
    if cfg.face_d > 0:
        found["D_face"] = Discriminator(cfg, layers=REGION_LAYERS)
    if cfg.hand_d > 0:
        found["D_hand"] = Discriminator(cfg, layers=REGION_LAYERS)
    return found


def _init_weights(m: nn.Module) -> None:
    """pix2pix's 'normal' init: conv weights N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


# --- losses ---------------------------------------------------------------------------------------

def _mean(loss: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean of a (B, ...) loss map; with `weight` (B,) the weighted mean over items (a region the pose
    does not show weighs 0: no crop of nothing is judged)."""
    if weight is None:
        return loss.mean()
    return (loss.flatten(1).mean(1) * weight).sum() / weight.sum().clamp(min=1)


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str,
           weight: torch.Tensor | None = None) -> torch.Tensor:
    """Discriminator loss on real and fake patches (pix2pix halves it to slow D down)."""
    if kind == "vanilla":
        loss = (_mean(F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits), reduction="none"), weight)
                + _mean(F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits), reduction="none"), weight))
    elif kind == "lsgan":
        loss = _mean((real_logits - 1) ** 2, weight) + _mean(fake_logits ** 2, weight)
    else:  # hinge
        loss = _mean(F.relu(1 - real_logits), weight) + _mean(F.relu(1 + fake_logits), weight)
    return 0.5 * loss


def g_gan_loss(fake_logits: torch.Tensor, kind: str, weight: torch.Tensor | None = None) -> torch.Tensor:
    """The generator's adversarial loss: make D call the fake patches real."""
    if kind == "vanilla":
        return _mean(F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits), reduction="none"), weight)
    if kind == "lsgan":
        return _mean((fake_logits - 1) ** 2, weight)
    return _mean(-fake_logits, weight)


def feature_matching_loss(fake_features: list[torch.Tensor], real_features: list[torch.Tensor],
                          weight: torch.Tensor | None = None) -> torch.Tensor:
    """pix2pixHD's feature matching: L1 between a discriminator's inner features of the generated and
    the real frame (the real side a fixed target), mean over the layers; the logits (last) not used."""
    losses = [_mean((f.float() - r.detach().float()).abs(), weight) for f, r in zip(fake_features[:-1], real_features[:-1])]
    return torch.stack(losses).mean()


def l1_loss(fake: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute difference; with `weight` (B,) the weighted mean over items (crops of a region
    the pose does not show weigh 0)."""
    return _mean((fake - target).abs(), weight)


def pair_l1_loss(fake: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between the generated and the real change from frame t - 1 to t: the batch is frames t - 1
    then frames t (`torch.cat([first, second])`, as the trainer samples pairs). 0 when the output's
    error is the same in both frames of every pair, however large."""
    (fake0, fake1), (real0, real1) = fake.chunk(2), target.chunk(2)
    return ((fake1 - fake0) - (real1 - real0)).abs().mean()


def pair_energy_loss(fake: torch.Tensor, target: torch.Tensor, patch: int) -> torch.Tensor:
    """L1 between the generated and the real amount of change from frame t - 1 to t in each patch of
    `patch` pixels a side (the mean absolute change over its pixels and channels); the batch is
    frames t - 1 then frames t, as for `pair_l1_loss`. 0 when every patch changes as much as the
    truth's, wherever in the patch the change falls."""
    def amount(frames: torch.Tensor) -> torch.Tensor:
        first, second = frames.chunk(2)
        return F.avg_pool2d((second - first).abs().mean(1, keepdim=True), patch)
    return (amount(fake) - amount(target)).abs().mean()


# --- size -------------------------------------------------------------------------------------------

def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_macs(module: nn.Module, *inputs_shapes: tuple[int, ...], device: str = "meta") -> int:
    """Multiply-accumulates of one forward pass, counted by torch's FLOP counter on meta tensors
    (no memory, no time): FLOPs / 2, convolutions and matrix products only. `device` "cpu" for a
    module that meta tensors cannot run (a hand refiner: autocast has no meta device); inputs zeros."""
    from torch.utils.flop_counter import FlopCounterMode
    import copy
    meta = copy.deepcopy(module).to(device).eval()  # eval: BatchNorm at 1x1 with batch 1
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        meta(*[torch.zeros(s, device=device) for s in inputs_shapes])
    return counter.get_total_flops() // 2
