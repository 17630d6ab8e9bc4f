"""Operations along time on pose arrays: frame-rate resampling, low-pass smoothing, gap filling.

All take xy (T, K, 2) (pixels or normalized, either works) and conf (T, K) in [0, 1], where
conf 0 marks a missing point, and return new arrays of the same kinds (float32). T counts pose
frames at the given fps.
"""
from __future__ import annotations

import numpy as np

from posevideo.errors import InputError

DEFAULT_CUTOFF_HZ = 6.0
"""Why 6 Hz: co-speech gesture strokes and finger motion carry their energy below about 4-5 Hz,
while pose-estimator jitter is broadband, so a 6 Hz low-pass keeps the motion and removes the upper
part of the jitter. It also stays below the 7.5 Hz Nyquist limit of the 15 fps gesture models."""


def _neighbours(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each (frame, point): the index of the last valid frame at or before it (-1 if none) and
    of the next valid frame at or after it (T if none). valid: (T, K) bool."""
    frames = len(valid)
    t = np.arange(frames, dtype=np.int32)[:, None]  # int32: half the memory traffic of the default
    prev = np.maximum.accumulate(np.where(valid, t, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(valid, t, np.int32(frames))[::-1], axis=0)[::-1]
    return prev, nxt


def _interpolate(xy, conf, prev, nxt, fill):
    """Linear interpolation between the neighbouring valid frames where `fill` (T, K) is True.
    Only the filled entries are computed: gaps are usually a small part of a long sequence."""
    xy, conf = xy.copy(), conf.copy()
    t, k = np.nonzero(fill)
    a, b = prev[t, k], nxt[t, k]
    w = np.where(b > a, (t - a) / np.maximum(b - a, 1), 0.0)  # weight of the later frame
    xy[t, k] = xy[a, k] * (1 - w)[:, None] + xy[b, k] * w[:, None]
    conf[t, k] = conf[a, k] * (1 - w) + conf[b, k] * w
    return xy, conf


def fill_gaps(xy: np.ndarray, conf: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Fill runs of at most `max_gap` missing frames of a point by linear interpolation between the
    valid frames around the run; the filled conf is interpolated too. Longer runs, and runs at the
    start or end of the sequence (nothing to interpolate towards), stay at conf 0."""
    xy, conf = np.asarray(xy, np.float32), np.asarray(conf, np.float32)
    valid = conf > 0
    prev, nxt = _neighbours(valid)
    gap = nxt - prev - 1  # length of the run of missing frames each frame sits in
    fill = ~valid & (prev >= 0) & (nxt < len(xy)) & (gap <= max_gap)
    xy, conf = _interpolate(xy, conf, prev, nxt, fill)
    return xy.astype(np.float32), conf.astype(np.float32)


def resample(xy: np.ndarray, conf: np.ndarray, fps_in: float, fps_out: float) -> tuple[np.ndarray, np.ndarray]:
    """Resample from fps_in to fps_out (any ratio) by linear interpolation in time.

    Output frame j is at time j / fps_out; there are T * fps_out / fps_in of them, rounded half up, so the
    duration is kept (30 -> 15 -> 30 gives back T frames when T is even). A point is valid where both
    input frames around it are (no bridging of gaps: that is `fill_gaps`' job); conf is interpolated.
    The last output frames may lie past the last input frame's time by under one input frame: they
    hold its value. No anti-alias filter: when downsampling motion faster than fps_out / 2, call
    `smooth` with a cutoff below fps_out / 2 first."""
    if not (fps_in > 0 and fps_out > 0):
        raise ValueError(f"frame rates must be positive, got {fps_in} -> {fps_out}")
    xy, conf = np.asarray(xy, np.float64), np.asarray(conf, np.float64)
    frames = len(xy)
    count = int(np.floor(frames * fps_out / fps_in + 0.5))  # half up (Python's round() would send 300.5 to 300)
    if frames == 0 or count == 0:
        return np.zeros((count, *xy.shape[1:]), np.float32), np.zeros((count, *conf.shape[1:]), np.float32)
    position = np.minimum(np.arange(count) * (fps_in / fps_out), frames - 1)  # in input frames
    a = np.floor(position + 1e-9).astype(int)  # tolerance: 3 * (30/15) must land on frame 6, not 5.999
    a = np.minimum(a, frames - 1)
    b = np.minimum(a + 1, frames - 1)
    w = np.clip(position - a, 0, 1)
    w = np.where(w < 1e-9, 0.0, w)
    out_xy = xy[a] * (1 - w)[:, None, None] + xy[b] * w[:, None, None]
    ok = (conf[a] > 0) & ((conf[b] > 0) | (w[:, None] == 0))
    out_conf = np.where(ok, conf[a] * (1 - w)[:, None] + conf[b] * w[:, None], 0)
    out_xy = np.where(ok[..., None], out_xy, 0)
    return out_xy.astype(np.float32), out_conf.astype(np.float32)


def smooth(xy: np.ndarray, conf: np.ndarray, fps: float, cutoff_hz: float = DEFAULT_CUTOFF_HZ,
           order: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Zero-phase low-pass: a Butterworth filter of `order` run forwards and backwards
    (scipy `sosfiltfilt`, so the effective order is 2 x order and nothing is delayed).

    Missing points are bridged by linear interpolation (held at the ends) only while filtering, so
    a gap does not pull its neighbours towards 0; they stay at conf 0 in the output. conf is
    returned unchanged. Sequences too short to filter (under 3 frames) are returned as they are."""
    if not 0 < cutoff_hz < fps / 2:
        raise InputError(None, f"a smoothing cutoff of {cutoff_hz:g} Hz needs a cutoff between 0 and half the frame "
                               f"rate ({fps / 2:g} Hz at {fps:g} fps)", "Choose a lower cutoff.")
    xy, conf = np.asarray(xy, np.float64), np.asarray(conf, np.float64)
    frames = len(xy)
    if frames < 3:
        return xy.astype(np.float32), conf.astype(np.float32)
    valid = conf > 0
    prev, nxt = _neighbours(valid)
    # Bridge every gap; before the first / after the last valid frame hold that frame's value.
    prev_h = np.where(prev < 0, nxt, prev)
    nxt_h = np.where(nxt >= frames, prev, nxt)
    bridged, _ = _interpolate(xy, conf, prev_h, nxt_h, ~valid & valid.any(axis=0))  # never-seen points stay 0
    from scipy.signal import butter, sosfiltfilt  # here, not at the top: ~1 s to import; `render` never smooths
    sos = butter(order, cutoff_hz, btype="low", fs=fps, output="sos")
    # scipy's default pad length (3 * (2 * sections + 1)) where the sequence allows.
    padlen = min(3 * (2 * len(sos) + 1), frames - 1)
    flat = bridged.reshape(frames, -1)
    out = sosfiltfilt(sos, flat, axis=0, padlen=padlen).reshape(xy.shape)
    out = np.where(valid[..., None], out, 0)
    return out.astype(np.float32), np.where(valid, conf, 0).astype(np.float32)
