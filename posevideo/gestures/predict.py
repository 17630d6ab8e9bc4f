"""Speech of any length -> a .pose at 15 fps in the speaker's pixel frame (and a stick-figure video).

The model sees 64-frame windows (4.27 s). Longer audio is cut into windows every `hop` frames and
the overlapping predictions are cross-faded linearly, so no frame jumps where one window hands over
to the next; shorter audio is padded with silence and the result cut back. All windows go through
the model as one batch on its device.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from posevideo.errors import InputError
from posevideo.gestures.features import (POSE_FPS, SAMPLE_RATE, LogMel, adapt_voice, log_mel_long, mel_frames,
                                         mel_frames_for, mel_start, samples_for)

SILENCE_PEAK = 1e-4  # below this peak amplitude the whole file counts as silent
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "gestures"  # shipped with the package


def pose_frames_of(samples: int) -> int:
    """Pose frames at 15 fps for `samples` audio samples at 16 kHz (7 s -> 105)."""
    return int(round(samples * POSE_FPS / SAMPLE_RATE))


def window_starts(frames: int, window: int, hop: int) -> list[int]:
    """First frames of the windows that cover `frames` frames (the last may run past the end)."""
    starts = list(range(0, max(frames - window, 0) + 1, hop))
    if starts[-1] + window < frames:
        starts.append(starts[-1] + hop)
    return starts


def crossfade_weights(n_windows: int, window: int, hop: int) -> np.ndarray:
    """(n_windows, window) weights: linear ramps over each overlap with a neighbour, 1 elsewhere;
    summed over the windows they are 1 at every frame."""
    overlap = window - hop
    weights = np.ones((n_windows, window), np.float32)
    if overlap > 0 and n_windows > 1:
        ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        weights[1:, :overlap] *= ramp
        weights[:-1, window - overlap:] *= ramp[::-1]
    return weights


@torch.no_grad()
def predict_poses(generator, audio: np.ndarray, hop: int = 48, device: str | torch.device = "cpu",
                  features: LogMel | None = None, batch: int = 8, voice: dict | None = None) -> np.ndarray:
    """16 kHz mono audio (samples,) -> normalized poses (frames, K, 2) at 15 fps.

    Windows of the model's length every `hop` frames, cross-faded over the overlap; `batch`
    windows a forward pass (small batches keep the 2D encoder's activations in cache on a CPU).
    `voice`: the trained speaker's log-mel statistics (checkpoint meta "voice"); given, the audio's
    log-mel is first mapped onto them (`features.adapt_voice`), for speech of another voice."""
    window = generator.cfg.pose_frames
    frames = pose_frames_of(len(audio))
    if frames < 1:
        raise InputError(None, f"the audio lasts {len(audio) / SAMPLE_RATE * 1000:.0f} ms, less than one pose frame",
                         "Give at least 0.1 s of speech.")
    if np.abs(audio).max() < SILENCE_PEAK:  # nothing to gesture to: the speaker's mean (rest) pose
        return np.broadcast_to(generator.pose_mean.cpu().numpy(), (frames, *generator.pose_mean.shape)).copy()
    starts = window_starts(frames, window, hop)
    # Pad with silence so the last window has all its audio (and the first frames of a short clip).
    need = samples_for(starts[-1] + window) + SAMPLE_RATE // POSE_FPS
    padded = np.zeros(max(need, len(audio)), np.float32)
    padded[: len(audio)] = audio
    features = features or LogMel().to(device)
    mel = log_mel_long(padded, features)  # (mel frames, 64) on the device
    if voice is not None:  # the audio's own frames only: the padding stays silence
        own = min(mel_frames(len(audio)), len(mel))
        mel = torch.cat([adapt_voice(mel[:own], voice), mel[own:]])
    index = torch.tensor([mel_start(s) for s in starts], device=mel.device)[:, None] + \
        torch.arange(mel_frames_for(window), device=mel.device)
    pred = np.concatenate([generator.to_pose(generator(mel[index[i:i + batch]], window)).float().cpu().numpy()
                           for i in range(0, len(starts), batch)])  # (windows, 64, K, 2)
    weights = crossfade_weights(len(starts), window, hop)
    total = np.zeros((starts[-1] + window, *pred.shape[2:]), np.float32)
    norm = np.zeros(starts[-1] + window, np.float32)
    for s, p, w in zip(starts, pred, weights):
        total[s:s + window] += p * w[:, None, None]
        norm[s:s + window] += w
    return (total / norm[:, None, None])[:frames]


def to_pixels(pose: np.ndarray, stats: dict) -> np.ndarray:
    """Normalized (T, K, 2) -> pixels of the speaker's video, with the speaker's statistics."""
    return pose * float(stats["scale"]) + np.asarray(stats["center"], np.float32)


def speaker_box(stats: dict) -> tuple[float, float, float]:
    """A square crop (x0, y0, side) around the speaker's upper body for the stick-figure video."""
    cx, cy = stats["center"]
    s = float(stats["scale"])
    return (cx - 1.75 * s, cy - 1.4 * s, 3.5 * s)


def load_model(model: str | Path | None, device: str = "cpu"):
    """(generator in eval mode, checkpoint meta) of a run or checkpoint folder; None: the shipped model."""
    from posevideo.gestures.train import load_generator

    model = DEFAULT_MODEL if model is None else Path(model)
    if not model.exists():
        raise InputError(model, "no such gesture model folder", "Give a run folder of `posevideo train gestures`, "
                                                               "or leave it out for the shipped default.")
    return load_generator(str(model), device)


def gestures(audio_path: str | Path, model: str | Path | None, out: str | Path, video: str | Path | None = None,
             device: str = "cpu", hop: int = 48, size: int = 384, adapt: bool = False) -> dict:
    """The `posevideo gestures` job: audio file -> .pose (and a stick-figure mp4 with the audio).
    `model` None: the default model shipped in posevideo/models/gestures. `adapt`: map the audio's
    log-mel onto the trained speaker's voice first (for another speaker's speech; needs a model
    whose meta holds "voice")."""
    from posevideo.audio import load_audio
    from posevideo.pose.layouts import make_pose
    from posevideo.pose.io import write_pose

    out = Path(out)
    if out.suffix != ".pose":
        raise InputError(out, "the output must end in .pose", "Name it like speech.pose.")
    if video is not None and Path(video).suffix != ".mp4":
        raise InputError(video, "the video must end in .mp4", "Name it like speech.mp4.")
    from posevideo.files import check_writable
    for path in (out, video):  # before any work, and before the .pose is written without its video
        if path is not None:
            check_writable(Path(path).parent)
    generator, meta = load_model(model, device)
    if adapt and "voice" not in meta:
        raise InputError(meta["path"], "holds no voice statistics to adapt to",
                         "Leave out --adapt-voice, or use a model trained since they are stored.")
    audio = load_audio(audio_path, SAMPLE_RATE)
    try:
        pose = predict_poses(generator, audio, hop=hop, device=device, voice=meta.get("voice") if adapt else None)
    except InputError as error:
        raise InputError(audio_path, error.problem, error.fix) from None
    if not np.isfinite(pose).all():  # never write a pose of NaN that looks like a result
        raise InputError(meta["path"], "the model gave NaN or infinite poses for this audio",
                         "The model is damaged or diverged: use another checkpoint of its run.")
    silent = np.abs(audio).max() < SILENCE_PEAK
    if silent:
        print(f"note: {audio_path} is silent: the speaker's rest pose for {len(pose)} frames", file=sys.stderr)
    stats, layout = meta["stats"], meta["layout"]
    xy = to_pixels(pose, stats)
    conf = np.ones(xy.shape[:2], np.float32)
    write_pose(make_pose(layout, xy, conf, POSE_FPS, int(stats["width"]), int(stats["height"])), out)
    result = {"pose": str(out), "frames": len(xy), "seconds": len(audio) / SAMPLE_RATE, "silent": bool(silent)}
    if video is not None:
        from posevideo.skeleton import draw_skeletons
        from posevideo.video import write_video

        frames = draw_skeletons(xy, conf, layout=layout, size=size, box=speaker_box(stats))
        write_video(video, frames, POSE_FPS, audio=audio, sample_rate=SAMPLE_RATE)
        result["video"] = str(video)
    return result
