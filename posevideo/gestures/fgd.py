"""The Fréchet Gesture Distance (Yoon et al., SIGGRAPH Asia 2020): the Fréchet distance between
Gaussians fitted to the features of real and generated motion, the features coming from a small
pose autoencoder trained on the speaker's train split (no pretrained network exists for our points).

- Input: 32-frame stretches (2.1 s at 15 fps, Yoon's 34 frames at 15 fps) of the scored points
  (arms and hands), normalized coordinates z-scored with the train split's per-point mean and std.
- Autoencoder: 1D convolutions over time, 32 -> 4 frames, a 32-number code; trained with L1
  reconstruction (1000 steps of 64 stretches: 233 CPU s on a 2-core AMD EPYC,
  2026-12-02); saved as safetensors + JSON beside the gesture cache
  (`DATA/<speaker>/gesture_fgd.safetensors`, `.json`), keyed by the train split it saw, so every
  evaluation of the speaker uses the same encoder.
- FGD = |mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)) over the codes of every 32-frame
  stretch (hop 8) of the evaluated windows. Units: squared code units (comparable only between
  methods scored with the same encoder).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

FRAMES = 32  # pose frames a stretch
HOP = 8  # stretches every 8 frames inside an evaluated window


@dataclass
class AEConfig:
    n_points: int
    frames: int = FRAMES
    width: int = 64
    latent: int = 32


class PoseAutoencoder(nn.Module):
    """(B, frames, K, 2) z-scores -> code (B, latent) -> (B, frames, K, 2)."""

    def __init__(self, cfg: AEConfig):
        super().__init__()
        self.cfg = cfg
        w, c = cfg.width, 2 * cfg.n_points
        act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        self.encoder = nn.Sequential(
            nn.Conv1d(c, w, 3, 1, 1), act(),
            nn.Conv1d(w, w, 4, 2, 1), act(),   # 32 -> 16 frames
            nn.Conv1d(w, w, 4, 2, 1), act(),   # -> 8
            nn.Conv1d(w, w, 4, 2, 1), act(),   # -> 4
            nn.Flatten(), nn.Linear(w * cfg.frames // 8, cfg.latent))
        self.decoder = nn.Sequential(
            nn.Linear(cfg.latent, w * cfg.frames // 8), nn.Unflatten(1, (w, cfg.frames // 8)), act(),
            nn.ConvTranspose1d(w, w, 4, 2, 1), act(),
            nn.ConvTranspose1d(w, w, 4, 2, 1), act(),
            nn.ConvTranspose1d(w, w, 4, 2, 1), act(),
            nn.Conv1d(w, c, 3, 1, 1))

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        return self.encoder(z.flatten(2).transpose(1, 2))  # (B, latent)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.decoder(self.encode(z))  # (B, 2K, frames)
        return out.transpose(1, 2).reshape(z.shape)


class GestureFeatures:
    """The trained encoder with its z-scoring: `codes(windows)` for any (W, T, K, 2) normalized poses."""

    def __init__(self, model: PoseAutoencoder, mean: np.ndarray, std: np.ndarray, meta: dict):
        self.model, self.mean, self.std, self.meta = model.eval(), mean, std, meta

    @torch.no_grad()
    def codes(self, windows: np.ndarray) -> np.ndarray:
        """windows (W, T, K, 2) normalized -> codes (W * stretches, latent) of every 32-frame stretch."""
        starts = range(0, windows.shape[1] - FRAMES + 1, HOP)
        stretches = np.concatenate([windows[:, s:s + FRAMES] for s in starts])  # (N, 32, K, 2)
        z = torch.from_numpy(((stretches - self.mean) / self.std).astype(np.float32))
        return np.concatenate([self.model.encode(z[i:i + 1024]).numpy() for i in range(0, len(z), 1024)])


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of codes (N, D) each.
    Tr((S_a S_b)^(1/2)) as the sum of the square roots of the eigenvalues of S_a^(1/2) S_b S_a^(1/2)
    (symmetric, so stable where a still method's covariance is singular)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def _train_frames(clips, points: np.ndarray) -> np.ndarray:
    """(frames, K, 2) of the train split's scored points, clip by clip (list of arrays)."""
    return [clips.pose[clips.pose_offsets[i]:clips.pose_offsets[i + 1]][:, points]
            for i in np.flatnonzero(clips.split == "train")]


def _fingerprint(clips, points: np.ndarray) -> str:
    train = np.flatnonzero(clips.split == "train")
    text = json.dumps([clips.layout, points.tolist(), clips.names[train].tolist(),
                       np.diff(clips.pose_offsets)[train].tolist()])
    return hashlib.sha1(text.encode()).hexdigest()


def train_features(clips, points: np.ndarray, steps: int = 1000, batch: int = 64, seed: int = 0,
                   show_progress: bool = True) -> GestureFeatures:
    """Train the autoencoder on random 32-frame stretches of the train split (CPU, about a minute)."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    pieces = [p for p in _train_frames(clips, points) if len(p) >= FRAMES]
    allframes = np.concatenate(pieces)
    mean, std = allframes.mean(0), np.maximum(allframes.std(0), 0.02)  # (K, 2); 0.02: still points
    lengths = np.array([len(p) for p in pieces])
    model = PoseAutoencoder(AEConfig(n_points=len(points)))
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    losses = []
    for step in tqdm(range(steps), desc="  FGD encoder", unit="step", disable=not show_progress, leave=False):
        which = rng.integers(len(pieces), size=batch)
        firsts = rng.integers(0, lengths[which] - FRAMES + 1)
        x = np.stack([pieces[w][f:f + FRAMES] for w, f in zip(which, firsts)])
        z = torch.from_numpy(((x - mean) / std).astype(np.float32))
        loss = (model(z) - z).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    meta = {"config": asdict(model.cfg), "points": points.tolist(), "steps": steps, "batch": batch, "seed": seed,
            "final_l1_z": float(np.mean(losses[-100:])), "fingerprint": _fingerprint(clips, points)}
    return GestureFeatures(model, mean.astype(np.float32), std.astype(np.float32), meta)


def save_features(features: GestureFeatures, stem: Path) -> None:
    from safetensors.torch import save_file

    from posevideo.files import atomic_output, write_json

    tensors = {k: v.contiguous() for k, v in features.model.state_dict().items()}
    tensors |= {"z_mean": torch.from_numpy(features.mean), "z_std": torch.from_numpy(features.std)}
    with atomic_output(stem.with_suffix(".safetensors")) as tmp:
        save_file(tensors, str(tmp))
    write_json(stem.with_suffix(".json"), features.meta)


def load_features(stem: Path) -> GestureFeatures:
    from safetensors.torch import load_file

    meta = json.loads(stem.with_suffix(".json").read_text())
    tensors = load_file(str(stem.with_suffix(".safetensors")))
    mean, std = tensors.pop("z_mean").numpy(), tensors.pop("z_std").numpy()
    model = PoseAutoencoder(AEConfig(**meta["config"]))
    model.load_state_dict(tensors)
    return GestureFeatures(model, mean, std, meta)


def features_for(clips, points: np.ndarray, cache: Path | None, show_progress: bool = True,
                 steps: int = 1000) -> GestureFeatures:
    """The speaker's encoder: from `cache` (a path stem) when it was trained on this train split,
    else trained now and saved there (if the folder can be written: a read-only copy of the data
    still evaluates, it only trains the encoder again next time)."""
    if cache is not None and cache.with_suffix(".json").exists():
        loaded = load_features(cache)
        if loaded.meta.get("fingerprint") == _fingerprint(clips, points):
            return loaded
    features = train_features(clips, points, steps=steps, show_progress=show_progress)
    if cache is not None:
        try:
            save_features(features, cache)
        except OSError as error:
            print(f"warning: the FGD encoder could not be cached at {cache} ({error}); it is retrained next time")
    return features
