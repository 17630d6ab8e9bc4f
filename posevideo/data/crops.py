"""Person-centred square crops whose box is stable over time.

The box is `SIDE` shoulder widths wide (everybody-sign-now cropped about 3x the shoulder width),
centred on the shoulder midpoint horizontally, with the shoulders `SHOULDER_Y` of the way down, so
the body sits in the same place in every crop. Centre and width are low-passed over seconds, so the
box glides with the person instead of jumping with each frame's detection noise.
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d, median_filter

SIDE = 3.0  # box side in shoulder widths
SHOULDER_Y = 0.42  # shoulder midpoint's height in the box, from the top (head room above)
CENTER_SIGMA_S = 0.5  # seconds; the centre follows slow moves of the person
SIDE_SIGMA_S = 2.0  # seconds; the size changes only when the person comes nearer or goes away
VALID_CONF = 0.5


def shoulder_track(xy: np.ndarray, conf: np.ndarray, left: int, right: int):
    """Per pose frame: shoulder midpoint (T, 2), shoulder width (T,), valid (T,) bool (both seen)."""
    valid = (conf[:, left] > VALID_CONF) & (conf[:, right] > VALID_CONF)
    mid = (xy[:, left] + xy[:, right]) / 2
    width = np.linalg.norm(xy[:, left] - xy[:, right], axis=-1)
    valid &= width > 1.0
    return mid.astype(np.float32), width.astype(np.float32), valid


def _fill(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Linear interpolation over invalid frames, held at the ends."""
    t = np.arange(len(values))
    return np.interp(t, t[valid], values[valid])


def crop_boxes(mid: np.ndarray, width: np.ndarray, valid: np.ndarray, fps: float,
               frame_w: int, frame_h: int) -> np.ndarray:
    """Smoothed square boxes (T, 3) float32 = (x0, y0, side) in source pixels, integers.

    Frames without a valid pose take the box of their neighbours; a video without any valid pose
    gets the largest centred square."""
    count = len(valid)
    if not valid.any():
        side = min(frame_w, frame_h)
        box = [(frame_w - side) // 2, (frame_h - side) // 2, side]
        return np.tile(np.asarray(box, np.float32), (count, 1))
    cx, cy, w = (_fill(a, valid) for a in (mid[:, 0], mid[:, 1], width))
    # A running median first removes single-frame detection outliers, then a Gaussian low-pass.
    k = max(1, int(round(fps / 2)) | 1)
    cx, cy, w = (median_filter(a, size=k, mode="nearest") for a in (cx, cy, w))
    cx = gaussian_filter1d(cx, CENTER_SIGMA_S * fps, mode="nearest")
    cy = gaussian_filter1d(cy, CENTER_SIGMA_S * fps, mode="nearest")
    w = gaussian_filter1d(w, SIDE_SIGMA_S * fps, mode="nearest")
    side = np.maximum(np.round(SIDE * w), 8)
    x0 = np.round(cx - side / 2)
    y0 = np.round(cy - SHOULDER_Y * side)
    return (np.stack([x0, y0, side], axis=1) + 0.0).astype(np.float32)  # + 0.0: no -0


def crop(frame: np.ndarray, box, size: int, background=(0, 0, 0)) -> np.ndarray:
    """The square `box` = (x0, y0, side) of `frame` resized to (size, size, 3) uint8; where the box
    reaches outside the frame, `background` fills in."""
    x0, y0, side = (int(v) for v in box)
    h, w = frame.shape[:2]
    region = frame[max(y0, 0):min(y0 + side, h), max(x0, 0):min(x0 + side, w)]
    pad = (max(-y0, 0), max(y0 + side - h, 0), max(-x0, 0), max(x0 + side - w, 0))
    if region.size == 0:
        return np.full((size, size, 3), background, np.uint8)
    if any(pad):
        region = cv2.copyMakeBorder(region, *pad, cv2.BORDER_CONSTANT, value=tuple(int(c) for c in background))
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(region, (size, size), interpolation=interpolation)
