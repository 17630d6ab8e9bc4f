"""speech2gesture's log-mel spectrogram, computed in batches with torch on the model's device.

The same features as `posevideo.audio.log_mel` (speech2gesture's TensorFlow recipe: frames of 400
samples every 160, not centred, a periodic Hann window, |FFT| at 512 points, TensorFlow's mel matrix
of 64 bands from 125 to 7500 Hz, log(x + 1e-6)); the mel matrix is that module's `mel_matrix()`, so
both paths use one filterbank (tests/test_gestures_features.py checks they agree). It is a buffer
of the module, so code on a training machine without the audio libraries can still build features
from a stored matrix.

Units: audio at 16 kHz; 100 log-mel frames a second (frame t covers samples [160 t, 160 t + 400));
pose frames at 15 a second. A 64-frame pose window (4.27 s, 68267 samples) has 425 log-mel frames.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from posevideo.audio import HOP_LENGTH, LOG_EPS, N_FFT, N_MELS, SAMPLE_RATE, WIN_LENGTH, mel_matrix  # noqa: F401

POSE_FPS = 15
AUDIO_FPS = SAMPLE_RATE // HOP_LENGTH  # 100 log-mel frames a second


def mel_filters() -> np.ndarray:
    """(257, 64) TensorFlow mel matrix, the one `posevideo.audio.log_mel` uses."""
    return mel_matrix(SAMPLE_RATE)


def samples_for(pose_frames: int) -> int:
    """Audio samples under `pose_frames` pose frames: 64 -> 68267 (as the data's samples)."""
    return int(np.ceil(pose_frames * SAMPLE_RATE / POSE_FPS))


def mel_frames(samples: int) -> int:
    """Log-mel frames of `samples` samples: 1 + (samples - 400) // 160, none under 400."""
    return 0 if samples < WIN_LENGTH else 1 + (samples - WIN_LENGTH) // HOP_LENGTH


def mel_frames_for(pose_frames: int) -> int:
    """Log-mel frames the model sees for `pose_frames` pose frames (64 -> 425)."""
    return mel_frames(samples_for(pose_frames))


def mel_start(pose_frame: int) -> int:
    """First log-mel frame of a window that starts at `pose_frame` (pose frame f is at f/15 s)."""
    return int(round(pose_frame * AUDIO_FPS / POSE_FPS))


class LogMel(nn.Module):
    """(B, samples) float audio at 16 kHz -> (B, mel_frames(samples), 64) log-mel, on the audio's device."""

    def __init__(self, filters: np.ndarray | None = None):
        super().__init__()
        filters = mel_filters() if filters is None else np.asarray(filters, dtype=np.float32)
        self.register_buffer("filters", torch.from_numpy(filters))  # (257, 64)
        window = 0.5 - 0.5 * torch.cos(2 * torch.pi * torch.arange(WIN_LENGTH, dtype=torch.float64) / WIN_LENGTH)
        self.register_buffer("window", window.float(), persistent=False)  # periodic Hann, as tf.signal

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        squeeze = audio.dim() == 1
        if squeeze:
            audio = audio[None]
        if audio.shape[-1] < WIN_LENGTH:
            out = audio.new_zeros(audio.shape[0], 0, N_MELS)
            return out[0] if squeeze else out
        frames = audio.float().unfold(-1, WIN_LENGTH, HOP_LENGTH)  # (B, mel frames, 400), a view
        magnitude = torch.fft.rfft(frames * self.window, n=N_FFT).abs()  # (B, mel frames, 257)
        out = torch.log(magnitude @ self.filters + LOG_EPS)  # (B, mel frames, 64)
        return out[0] if squeeze else out


@torch.no_grad()
def log_mel_long(audio: np.ndarray | torch.Tensor, module: LogMel, chunk_seconds: float = 60.0) -> torch.Tensor:
    """Log-mel of one long recording in chunks (memory stays bounded), on `module`'s device.

    (samples,) -> (mel_frames(samples), 64); equal to one pass over the whole recording: chunks
    start on a hop boundary and overlap by the window.
    """
    device = module.filters.device
    audio = torch.as_tensor(np.asarray(audio, dtype=np.float32) if isinstance(audio, np.ndarray) else audio)
    total = mel_frames(audio.shape[-1])
    step = int(chunk_seconds * AUDIO_FPS)  # mel frames a chunk
    pieces = []
    for first in range(0, total, step):
        last = min(total, first + step)  # exclusive
        piece = audio[first * HOP_LENGTH: (last - 1) * HOP_LENGTH + WIN_LENGTH].to(device)
        pieces.append(module(piece))
    return torch.cat(pieces) if pieces else torch.zeros(0, N_MELS, device=device)


# --- another voice into a speaker's model ----------------------------------------------------

PAUSE_FRACTION = 0.3  # share of log-mel frames taken as pauses when matching a voice


def voice_statistics(mel: np.ndarray, pause_fraction: float = PAUSE_FRACTION) -> dict:
    """The trained speaker's log-mel statistics that `adapt_voice` maps other voices onto: per band
    mean and std of the speech frames and the median pause frame. mel (F, 64), the train split's.
    Speech: frames whose mean over the bands is above the `pause_fraction` quantile."""
    energy = mel.mean(1)
    speech = energy > np.quantile(energy, pause_fraction)
    return {"pause_fraction": pause_fraction, "speech_mean": mel[speech].mean(0).round(4).tolist(),
            "speech_std": mel[speech].std(0).round(4).tolist(), "pause": np.median(mel[~speech], axis=0).round(4).tolist()}


def adapt_voice(mel: torch.Tensor, voice: dict) -> torch.Tensor:
    """Another recording's log-mel (F, 64) mapped onto the trained speaker's statistics: its quietest
    frames (the same share as the speaker's pauses) become the speaker's pause frame, and the other
    frames get the speaker's per-band mean and std (mean and variance normalization toward the
    speaker). Why: a model trained on one clean voice whose pauses are digital silence hears a real
    room's noise floor as speech and another voice's spectrum as unfamiliar, and moves far less
    (BENCHMARKS.md "Gestures", real speech)."""
    energy = mel.mean(1)
    speech = energy > torch.quantile(energy.float(), voice["pause_fraction"])
    out = mel.clone()
    if speech.sum() > 1:
        x = mel[speech]
        target = [torch.tensor(voice[k], dtype=mel.dtype, device=mel.device) for k in ("speech_mean", "speech_std")]
        out[speech] = (x - x.mean(0)) / (x.std(0) + 1e-6) * target[1] + target[0]
    out[~speech] = torch.tensor(voice["pause"], dtype=mel.dtype, device=mel.device)
    return out


# --- other voices, rooms and microphones in training ------------------------------------------

LN10_20 = float(np.log(10) / 20)  # dB -> natural log of a magnitude


def augment_voice(mel: torch.Tensor, generator: torch.Generator, p: float = 0.8) -> torch.Tensor:
    """A batch of the trained speaker's log-mel windows (B, F, 64), each (with probability `p`) heard
    as another voice in another room through another microphone might give it; the motion target is
    unchanged, so the model learns to follow the speech's rhythm and stress rather than one clean
    voice's absolute spectrum. Why: trained on one clean synthetic voice, the model's motion collapses
    on real speech (BENCHMARKS.md "Gestures", real speech). Per window, all in the log-magnitude domain:
    - level: a gain of -20 to +6 dB;
    - timbre: the bands warped by a factor 0.88 to 1.12 (vocal tract length perturbation, as ASR
      training does) and a smooth tilt of up to +-6 dB across the bands (another microphone);
    - room: a noise floor 5 to 45 dB under the window's speech level (its loud frames), coloured by
      its own tilt and fluctuating frame to frame, added in power: pauses stop being digital silence.
    Random numbers come from `generator` (a CPU generator, saved with the checkpoint) so a resumed run
    draws the same augmentations."""
    b, frames, bands = mel.shape
    draw = lambda *shape: torch.rand(shape, generator=generator).to(mel.device)  # noqa: E731
    on = (draw(b, 1, 1) < p).to(mel.dtype)
    gain, warp, tilt, snr, noise_tilt = (draw(b, 1, 1) for _ in range(5))
    seed = int(torch.randint(2 ** 62, (1,), generator=generator))  # the big draw on the device, seeded from ours
    jitter = torch.randn((b, frames, bands), generator=torch.Generator(mel.device).manual_seed(seed), device=mel.device)
    position = torch.linspace(-1, 1, bands, device=mel.device)  # band position, low to high
    # Timbre: sample band i at i * warp (linear interpolation, clamped to the edge bands).
    where = (torch.arange(bands, device=mel.device) * (0.88 + 0.24 * warp)).clamp(max=bands - 1)  # (B, 1, 64)
    low = where.floor().long()
    high = (low + 1).clamp(max=bands - 1)
    frac = where - low
    take = lambda index: torch.gather(mel, 2, index.expand(b, frames, bands))  # noqa: E731
    out = take(low) * (1 - frac) + take(high) * frac
    out = out + ((gain * 26 - 20) + (tilt * 12 - 6) * position) * LN10_20
    # Room: noise under the speech level of the window (the 90th percentile of its frames' mean band).
    level = torch.quantile(out.float().mean(2), 0.9, dim=1)[:, None, None].to(mel.dtype)
    noise = level - (5 + 40 * snr) * LN10_20 + (noise_tilt * 12 - 6) * position * LN10_20 + 0.4 * jitter
    out = 0.5 * torch.logaddexp(2 * out, 2 * noise)  # magnitudes add in power
    return on * out + (1 - on) * mel
