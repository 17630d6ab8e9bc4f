"""speech2gesture (Ginosar et al., CVPR 2019) in PyTorch: log-mel -> 2D conv encoder -> 1D U-Net over
pose frames -> keypoints, and the motion discriminator (a 1D PatchGAN on frame-to-frame differences).

Pure modules: no file IO, no logging. Shapes: audio frames at 100 a second (log-mel hop 160 at
16 kHz), pose frames at 15 a second; 64 pose frames (4.27 s) see 425 audio frames. Keypoints are in
normalized coordinates (shoulder midpoint 0, shoulder width 1), flattened as (x0, y0, x1, y1, ...).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from posevideo.gestures.features import N_MELS


@dataclass
class GestureConfig:
    n_points: int = 49  # keypoints out (49: speech2gesture's neck, arms and hands)
    width: int = 256  # channels of the deep 2D layers and of the whole 1D U-Net
    encoder_width: int = 64  # channels of the first 2D audio layers (doubled once)
    encoder_deep: int | None = None  # channels of the deep 2D layers (None: width, as the original)
    unet_depth: int = 5  # downsamplings in the 1D U-Net (64 frames -> 2)
    decoder_layers: int = 4  # 1D conv layers after the U-Net, as the original
    disc_width: int = 64  # discriminator channels at the first layer
    disc_downsampling: int = 2
    disc_spectral: bool = False  # spectral norm on D's convolutions (and no BatchNorm in D)
    disc_poses: bool = False  # D sees the poses as well as their frame-to-frame differences
    pose_frames: int = 64  # window the model is trained on; it runs on any multiple of 2**unet_depth

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, GestureConfig] = {
    # The original: 7.2 M generator parameters for 49 points (the paper says about 7.4 M).
    "s2g": GestureConfig(),
    # Half the U-Net width, an eighth of the encoder's first layers and a quarter of its deep ones:
    # 1.2 M parameters and ~15x less compute a window, the one to ship (inference over 500x real
    # time on a 2-core CPU; the 2D audio encoder is where the time goes, benchmarks/gestures.py).
    "fast": GestureConfig(width=128, encoder_width=8, encoder_deep=64, disc_width=32),
    # For tests: trains in seconds on a CPU.
    "tiny": GestureConfig(width=32, encoder_width=8, disc_width=16, decoder_layers=1),
}


class ConvNormRelu(nn.Sequential):
    """speech2gesture's block: conv (kernel 3, or 4 with stride 2 to halve) + BatchNorm + LeakyReLU(0.2)."""

    def __init__(self, dims: int, cin: int, cout: int, downsample: bool = False,
                 kernel: int | tuple[int, int] | None = None, padding: int | str | None = None):
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        norm = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
        if kernel is None:
            kernel, stride, padding = (4, 2, 1) if downsample else (3, 1, 1)
        else:
            stride = 1
        super().__init__(conv(cin, cout, kernel, stride, padding, bias=False), norm(cout),
                         nn.LeakyReLU(0.2, inplace=True))


class AudioEncoder(nn.Module):
    """(B, audio_frames, 64 mels) -> (B, width, pose_frames): a 2D conv net over time x frequency,
    then a linear resize of the time axis to the pose frames (as the original's resize_bilinear)."""

    def __init__(self, cfg: GestureConfig):
        super().__init__()
        e, d, w = cfg.encoder_width, cfg.encoder_deep or cfg.width, cfg.width
        self.net = nn.Sequential(
            ConvNormRelu(2, 1, e), ConvNormRelu(2, e, e, downsample=True),  # mels 64 -> 32
            ConvNormRelu(2, e, 2 * e), ConvNormRelu(2, 2 * e, 2 * e, downsample=True),  # -> 16
            ConvNormRelu(2, 2 * e, d), ConvNormRelu(2, d, d, downsample=True),  # -> 8
            ConvNormRelu(2, d, d),
            ConvNormRelu(2, d, w, kernel=(3, N_MELS // 8), padding=(1, 0)),  # frequency 8 -> 1
        )

    def forward(self, mel: torch.Tensor, pose_frames: int) -> torch.Tensor:
        x = self.net(mel[:, None])  # (B, w, audio_frames / 8, 1)
        x = x[..., 0]  # (B, w, audio_frames / 8)
        return F.interpolate(x, size=pose_frames, mode="linear", align_corners=False)  # (B, w, pose_frames)


class GestureGenerator(nn.Module):
    """Log-mel (B, audio_frames, 64) -> keypoint z-scores (B, pose_frames, n_points, 2)."""

    def __init__(self, cfg: GestureConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.encoder = AudioEncoder(cfg)
        self.inp = ConvNormRelu(1, w, w)
        self.down = nn.ModuleList(ConvNormRelu(1, w, w, downsample=True) for _ in range(cfg.unet_depth))
        self.up = nn.ModuleList(ConvNormRelu(1, w, w) for _ in range(cfg.unet_depth))
        self.decoder = nn.Sequential(*(ConvNormRelu(1, w, w) for _ in range(cfg.decoder_layers)))
        self.out = nn.Conv1d(w, 2 * cfg.n_points, 1)
        # The speaker's per-point mean and standard deviation of normalized poses: the network works
        # in z-scores (as speech2gesture), `to_pose` maps back. Buffers, so the weights carry them.
        self.register_buffer("pose_mean", torch.zeros(cfg.n_points, 2))
        self.register_buffer("pose_std", torch.ones(cfg.n_points, 2))

    def to_pose(self, z: torch.Tensor) -> torch.Tensor:
        """z-scores (..., K, 2) -> normalized coordinates (shoulder width 1)."""
        return z * self.pose_std + self.pose_mean

    def to_z(self, pose: torch.Tensor) -> torch.Tensor:
        return (pose - self.pose_mean) / self.pose_std

    def forward(self, mel: torch.Tensor, pose_frames: int | None = None) -> torch.Tensor:
        """Log-mel (B, A, 64) -> z-scores (B, pose_frames, K, 2); `to_pose` gives coordinates."""
        if pose_frames is None:
            pose_frames = self.cfg.pose_frames
        x = self.encoder(mel, pose_frames)  # (B, w, T) at 15 fps
        skips = [self.inp(x)]
        for layer in self.down:  # T, T/2, ..., T/2**depth
            skips.append(layer(skips[-1]))
        x = skips.pop()
        for layer in self.up:  # back up, adding the skip of the same length (as the original)
            skip = skips.pop()
            x = layer(F.interpolate(x, size=skip.shape[-1], mode="nearest") + skip)
        x = self.out(self.decoder(x))  # (B, 2K, T)
        return x.transpose(1, 2).reshape(x.shape[0], pose_frames, self.cfg.n_points, 2)


class MotionDiscriminator(nn.Module):
    """speech2gesture's D: a 1D PatchGAN over frame-to-frame differences of the pose.

    (B, T, K, 2) -> (B, patches) scores; LSGAN (real 1, fake 0). Seeing differences, not positions,
    it judges motion: a model that regresses to the mean moves too little, and D sees that.
    Options the GAN literature uses to keep D from winning outright: spectral normalization
    (`disc_spectral`: each layer 1-Lipschitz, BatchNorm dropped as SN-GAN does) and the poses
    themselves beside the differences (`disc_poses`: where the hands are, not only how they move).
    """

    def __init__(self, cfg: GestureConfig):
        super().__init__()
        c = cfg.disc_width
        sn = nn.utils.parametrizations.spectral_norm if cfg.disc_spectral else (lambda m: m)

        def block(cin, cout, kernel=4, stride=2, padding=1):
            if cfg.disc_spectral:
                return nn.Sequential(sn(nn.Conv1d(cin, cout, kernel, stride, padding)), nn.LeakyReLU(0.2, inplace=True))
            return ConvNormRelu(1, cin, cout, downsample=stride == 2, kernel=None if stride == 2 else kernel,
                                padding=None if stride == 2 else padding)

        channels = (4 if cfg.disc_poses else 2) * cfg.n_points
        self.poses = cfg.disc_poses
        layers: list[nn.Module] = [sn(nn.Conv1d(channels, c, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
        for i in range(cfg.disc_downsampling):
            layers.append(block(c * 2 ** i, c * 2 ** (i + 1)))
        top = c * 2 ** cfg.disc_downsampling
        layers += [block(top, top, kernel=4, stride=1, padding=1), sn(nn.Conv1d(top, 1, 4, 1, 1))]
        self.net = nn.Sequential(*layers)

    def forward(self, pose: torch.Tensor, features: bool = False):
        """pose (B, T, K, 2) z-scores -> scores (B, patches); with `features`, also the hidden
        layers' outputs (for feature matching)."""
        motion = pose[:, 1:] - pose[:, :-1]  # (B, T-1, K, 2)
        x = motion.flatten(2)
        if self.poses:
            x = torch.cat([x, pose[:, 1:].flatten(2)], dim=2)  # (B, T-1, 4K)
        x = x.transpose(1, 2)  # (B, channels, T-1)
        hidden = []
        for layer in self.net:
            x = layer(x)
            hidden.append(x)
        scores = x[:, 0]
        return (scores, hidden[1:-1]) if features else scores  # hidden[0]: the first conv before its activation


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
