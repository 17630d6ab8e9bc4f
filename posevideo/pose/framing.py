"""Framing: where the person is in each frame, and the square crop the renderer sees.

One crop rule for everything that cuts or draws a person (`prepare`'s crops, `render`, `transfer`,
`posevideo skeleton`, the browser page through `page_config`): the box is `SIDE` shoulder widths wide (everybody-sign-now cropped about 3x the shoulder width),
centred on the shoulder midpoint horizontally, with the shoulders `SHOULDER_Y` of the way down, so
the body sits in the same place in every crop. Centre and width are low-passed over seconds, so the
box glides with the person instead of jumping with each frame's detection noise.
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d, median_filter

from posevideo.errors import InputError
from posevideo.pose.layouts import Pair, shoulder_indices

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


def main_person(mid: np.ndarray, width: np.ndarray, valid: np.ndarray, fps: float) -> np.ndarray:
    """Frames (T,) bool where the detection is the person followed through the video: MediaPipe
    tracks one person, but when it loses them it may pick up someone else for a moment. Against a
    running median over 2 s, a detection much smaller (under 0.6x the shoulder width) or more than
    a shoulder width away is someone else. Medians keep real camera cuts (steps) intact."""
    index = np.flatnonzero(valid)
    keep = valid.copy()
    if len(index) < 3:
        return keep
    k = max(3, int(round(2 * fps)) | 1)
    ref_w = median_filter(width[index], size=k, mode="nearest")
    ref = np.stack([median_filter(mid[index, d], size=k, mode="nearest") for d in (0, 1)], axis=1)
    away = np.linalg.norm(mid[index] - ref, axis=1) > ref_w
    keep[index[(width[index] < 0.6 * ref_w) | away]] = False
    return keep


def _fill(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Linear interpolation over invalid frames, held at the ends."""
    t = np.arange(len(values))
    return np.interp(t, t[valid], values[valid])


def camera_segments(mid: np.ndarray, width: np.ndarray, valid: np.ndarray, fps: float) -> list[tuple[int, int]]:
    """Frame ranges [a, b) smoothed apart: a cut (the person jumps by more than half a shoulder
    width from one frame to the next, after a running median removed single-frame outliers) or a
    gap of more than a second without a person. A box never glides across a camera cut."""
    count = len(valid)
    index = np.flatnonzero(valid)
    if len(index) < 2:
        return [(0, count)]
    k = max(1, int(round(fps / 2)) | 1)
    mx, my, w = (median_filter(a[index], size=k, mode="nearest") for a in (mid[:, 0], mid[:, 1], width))
    step = np.hypot(np.diff(mx), np.diff(my))
    cut = (step > 0.5 * np.minimum(w[1:], w[:-1])) | (np.diff(index) > fps)
    bounds = [0] + [int(index[c] + index[c + 1] + 1) // 2 for c in np.flatnonzero(cut)] + [count]
    return list(zip(bounds[:-1], bounds[1:]))


def crop_boxes(mid: np.ndarray, width: np.ndarray, valid: np.ndarray, fps: float,
               frame_w: int, frame_h: int) -> np.ndarray:
    """Smoothed square boxes (T, 3) float32 = (x0, y0, side) in source pixels, integers.

    Frames without a valid pose take the box of their neighbours; a video without any valid pose
    gets the largest centred square. Each stretch between camera cuts is smoothed on its own."""
    count = len(valid)
    if not valid.any():
        side = min(frame_w, frame_h)
        box = [(frame_w - side) // 2, (frame_h - side) // 2, side]
        return np.tile(np.asarray(box, np.float32), (count, 1))
    out = np.zeros((count, 3), np.float64)
    for a, b in camera_segments(mid, width, valid, fps):
        seg_valid = valid[a:b]
        if not seg_valid.any():  # cannot happen (bounds sit between valid frames); kept safe
            seg_valid = valid
            a, b = 0, count
        cx, cy, w = (_fill(v[a:b], seg_valid) for v in (mid[:, 0], mid[:, 1], width))
        # A running median first removes single-frame detection outliers, then a Gaussian low-pass.
        k = max(1, int(round(fps / 2)) | 1)
        cx, cy, w = (median_filter(v, size=k, mode="nearest") for v in (cx, cy, w))
        cx = gaussian_filter1d(cx, CENTER_SIGMA_S * fps, mode="nearest")
        cy = gaussian_filter1d(cy, CENTER_SIGMA_S * fps, mode="nearest")
        w = gaussian_filter1d(w, SIDE_SIGMA_S * fps, mode="nearest")
        side = np.maximum(np.round(SIDE * w), 8)
        out[a:b] = np.stack([np.round(cx - side / 2), np.round(cy - SHOULDER_Y * side), side], axis=1)
    return (out + 0.0).astype(np.float32)  # + 0.0: no -0


def person_boxes(xy: np.ndarray, conf: np.ndarray, layout: str, fps: float, width: int, height: int) -> np.ndarray:
    """(T, 3) boxes (x0, y0, side) in source pixels for xy (T, K, 2) pixels of `layout`: the stable
    person-centred crop that `prepare` cuts the renderer's frames with."""
    right, left = shoulder_indices(layout)
    mid, shoulder_width, valid = shoulder_track(xy, conf, left, right)
    return crop_boxes(mid, shoulder_width, valid, fps, width, height)


def pose_shoulders(pose, path=None) -> Pair:
    """(right, left) shoulder indices of a holistic-named Pose; InputError for other skeletons."""
    try:
        return Pair(pose.header._get_point_index("POSE_LANDMARKS", "RIGHT_SHOULDER"),
                    pose.header._get_point_index("POSE_LANDMARKS", "LEFT_SHOULDER"))
    except (ValueError, KeyError, AttributeError) as error:
        raise InputError(path, "has no POSE_LANDMARKS shoulders (not a MediaPipe holistic layout)",
                         "Give holistic .pose files (pose-format's video_to_pose --format mediapipe).") from error


BAR_MEAN, BAR_PEAK = 8, 40  # a letterbox bar line: nearly black on average, no bright pixel (codec noise allowed)
BAR_EDGE = 48  # ... and the bar ends at a sharp edge: one of the first 3 picture lines is this bright on average
BAR_MAX = 0.25  # a bar covers at most this share of the frame's height (or width) on one side


def picture_area(frames: list[np.ndarray]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the frame without its letterbox or pillarbox bars: lines at the edges that
    are black in every sampled frame and end at a sharp edge (a dark backdrop fades; a bar does
    not). Crops take their margins from the picture's edge, not from a bar: a renderer trained on
    bars draws them on every frame."""
    brightest = np.max([f.max(axis=-1) if f.ndim == 3 else f for f in frames], axis=0).astype(np.float32)  # (H, W)

    def span(mean: np.ndarray, peak: np.ndarray) -> tuple[int, int]:
        n = len(mean)
        picture = np.flatnonzero((mean >= BAR_MEAN) | (peak >= BAR_PEAK))
        if len(picture) == 0:
            return 0, n
        a, b = int(picture[0]), int(picture[-1]) + 1
        a = a if a <= BAR_MAX * n and mean[a:a + 3].max() >= BAR_EDGE else 0
        b = b if n - b <= BAR_MAX * n and mean[max(b - 3, 0):b].max() >= BAR_EDGE else n
        # The codec smears the bar's edge into a line or two of near-black picture (the Obama address:
        # 2 lines of mean 9-11 under a picture of 84-93): crops repeat the edge line outwards, so it
        # must be the first bright one, or the margin is black again.
        if a > 0:
            a += int(np.argmax(mean[a:a + 3] >= BAR_EDGE))
        if b < n:
            b -= int(np.argmax(mean[max(b - 3, 0):b][::-1] >= BAR_EDGE))
        return a, b

    y0, y1 = span(brightest.mean(axis=1), brightest.max(axis=1))
    x0, x1 = span(brightest.mean(axis=0), brightest.max(axis=0))
    return x0, y0, x1, y1


def crop(frame: np.ndarray, box, size: int, background=None, soften: bool = True) -> np.ndarray:
    """The square `box` = (x0, y0, side) of `frame` resized to (size, size, 3) uint8.

    Where the box reaches outside the frame, the frame's own edge is repeated outwards and, away
    from the picture, blurred (background None, the default; `soften=False`: repeated only, for a
    green screen that is keyed after), or `background` (R, G, B) fills in (a keyed video, whose background is that
    colour). Never black by default: a renderer trained on black margins draws them on every frame."""
    x0, y0, side = (int(v) for v in box)
    h, w = frame.shape[:2]
    region = frame[max(y0, 0):min(y0 + side, h), max(x0, 0):min(x0 + side, w)]
    pad = (max(-y0, 0), max(y0 + side - h, 0), max(-x0, 0), max(x0 + side - w, 0))
    if region.size == 0:
        if background is None:  # the box lies wholly outside: the nearest edge pixel, repeated
            cy, cx = min(max(y0 + side // 2, 0), h - 1), min(max(x0 + side // 2, 0), w - 1)
            return np.full((size, size, 3), frame[cy, cx], np.uint8)
        return np.full((size, size, 3), background, np.uint8)
    if any(pad):
        if background is None:
            region = cv2.copyMakeBorder(region, *pad, cv2.BORDER_REPLICATE)
        else:
            region = cv2.copyMakeBorder(region, *pad, cv2.BORDER_CONSTANT, value=tuple(int(c) for c in background))
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    out = cv2.resize(region, (size, size), interpolation=interpolation)
    if background is None and soften and any(pad):
        return _soften_margins(out, [p * size / side for p in pad])
    return out


MARGIN_BLUR = 1 / 12   # _soften_margins: the blur's sigma, a share of the crop's side
MARGIN_RAMP = 1 / 12   # and the distance from the picture over which the margin turns to it


def _soften_margins(image: np.ndarray, pad) -> np.ndarray:
    """A crop whose margins repeat the picture's edge (`pad` = top, bottom, left, right, in the
    crop's pixels) -> the same with the margins turned, away from the picture, into a blur of
    themselves. A repeated edge is a band of straight streaks; they move with the crop from frame
    to frame, and a renderer trained on them paints a striped, flickering background (the
    liveportrait_s20 footage, BENCHMARKS.md "Margins that do not streak"). The picture itself is
    unchanged."""
    size = image.shape[0]
    top, bottom, left, right = pad
    centres = np.arange(size, dtype=np.float32) + 0.5                            # pixel centres
    dy = np.maximum(np.maximum(top - centres, centres - (size - bottom)), 0)[:, None]   # (S, 1)
    dx = np.maximum(np.maximum(left - centres, centres - (size - right)), 0)[None, :]   # (1, S)
    alpha = np.clip(np.hypot(dx, dy) / max(size * MARGIN_RAMP, 1), 0, 1)[..., None]
    small = max(size // 4, 8)  # a blur this wide, done at a quarter of the size: the same to the eye, 10x faster
    blurred = cv2.GaussianBlur(cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA), (0, 0),
                               max(small * MARGIN_BLUR, 0.5))
    blurred = cv2.resize(blurred, (size, size), interpolation=cv2.INTER_LINEAR)
    return (image * (1 - alpha) + blurred * alpha).round().astype(np.uint8)


def page_config() -> dict:
    """The crop rule's constants, for the browser page's live path (which never reaches Python)."""
    return {"side": SIDE, "shoulder_y": SHOULDER_Y, "center_sigma_s": CENTER_SIGMA_S,
            "side_sigma_s": SIDE_SIGMA_S, "valid_conf": VALID_CONF}
