"""Pose -> skeleton image: the conditioning image the renderer learns from.

What is drawn (groups of limbs, colours, widths, order, the confidence rule) lives in
`skeleton_spec.json`, which the JavaScript twin in `posevideo/web/` loads too; `docs/skeleton-spec.md`
explains it. This file only turns that spec into OpenCV calls, fast enough for 1,000+ images/s.

Coordinates are continuous pixels: pixel i covers [i, i+1), so the image centre of a 256 image is
128.0. OpenCV puts pixel centres on integers, hence the -0.5 below; a canvas uses u as-is.
"""
from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import cv2
import numpy as np

from posevideo.errors import InputError

SPEC_PATH = Path(__file__).with_name("skeleton_spec.json")
LAYOUTS = ("reduced", "holistic", "s2g49")
_SHIFT = 4  # OpenCV fixed-point bits: points are drawn to 1/16 pixel
_HOLISTIC_POINTS = (543, 576)  # without / with POSE_WORLD_LANDMARKS (ignored: world metres)


@functools.lru_cache(maxsize=None)
def load_spec() -> dict:
    return json.loads(SPEC_PATH.read_text())


def limb_width(kind: str, size: int) -> int:
    """Stroke width in output pixels for a group kind ("body", "hand", "face") at this image size."""
    widths = load_spec()["widths"][kind]
    if str(size) in widths:
        return int(widths[str(size)])
    return max(1, math.floor(widths["256"] * size / 256 + 0.5))


@functools.lru_cache(maxsize=None)
def _plan(layout: str):
    """For a layout: [(kind, colour (3,), a (L,), b (L,))] limb endpoint indices into its points, in
    draw order. Limbs whose points the layout lacks (hips in s2g49) are dropped. Holistic poses are
    drawn through the reduced layout, so a holistic plan is the reduced one."""
    spec = load_spec()
    index = {tuple(p): i for i, p in enumerate(spec["layouts"][layout])}
    plan = []
    for group in spec["groups"]:
        pairs = [(index.get((group["component"], p)), index.get((group["component"], q))) for p, q in group["limbs"]]
        pairs = [(i, j) for i, j in pairs if i is not None and j is not None]
        if pairs:
            a, b = np.array(pairs, dtype=np.intp).T
            plan.append((group["kind"], np.array(group["color"], dtype=np.float64), a, b))
    return plan


@functools.lru_cache(maxsize=None)
def _holistic_to_reduced():
    """Index arrays that turn a holistic (K=543/576) pose into the reduced one (178 points), with
    pose-format's `correct_wrists`: the body wrist takes the hand's wrist where the hand was found."""
    spec = load_spec()
    holistic = {tuple(p): i for i, p in enumerate(spec["layouts"]["holistic"])}
    select = np.array([holistic[tuple(p)] for p in spec["layouts"]["reduced"]], dtype=np.intp)
    reduced = {tuple(p): i for i, p in enumerate(spec["layouts"]["reduced"])}
    wrists = [(reduced[("POSE_LANDMARKS", f"{s}_WRIST")], holistic[(f"{s}_HAND_LANDMARKS", "WRIST")])
              for s in ("LEFT", "RIGHT")]
    return select, wrists


def _to_reduced(xy: np.ndarray, conf: np.ndarray):
    select, wrists = _holistic_to_reduced()
    out_xy, out_conf = xy[select], conf[select]
    for body_wrist, hand_wrist in wrists:
        if conf[hand_wrist] > 0:
            out_xy[body_wrist], out_conf[body_wrist] = xy[hand_wrist], conf[hand_wrist]
    return out_xy, out_conf


def expected_points(layout: str) -> tuple[int, ...]:
    if layout == "holistic":
        return _HOLISTIC_POINTS
    return (len(load_spec()["layouts"][layout]),)


def draw_skeleton(xy, conf, layout: str = "reduced", size: int = 256, box=None,
                  background=(0, 0, 0)) -> np.ndarray:
    """Draw one pose. xy (K, 2) float pixels of the source frame, conf (K,) in [0, 1] (NaN or a
    non-finite xy counts as missing). box = (x0, y0, side): the square crop, in those pixels, that
    becomes the image; None: xy are already pixels of the (size, size) output.
    Returns (size, size, 3) uint8 RGB."""
    if layout not in LAYOUTS:
        raise ValueError(f"skeleton layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    xy = np.asarray(xy, dtype=np.float64)
    conf = np.asarray(conf, dtype=np.float64)
    expected = expected_points(layout)
    if xy.ndim != 2 or xy.shape[1] != 2 or xy.shape[0] not in expected or conf.shape != (xy.shape[0],):
        raise InputError(None, f"a {layout!r} pose needs xy of shape (K, 2) and conf (K,) with K "
                         f"{' or '.join(map(str, expected))}; got xy {xy.shape} and conf {conf.shape}",
                         "Convert the pose to that layout (posevideo.pose.to_layout) or pass its layout name")
    if not 16 <= int(size) <= 4096:
        raise ValueError(f"skeleton size must be 16..4096 pixels, got {size}")
    size = int(size)
    if layout == "holistic":
        xy, conf = _to_reduced(xy, conf)
        layout = "reduced"

    # Source pixels -> output pixels (continuous), then OpenCV fixed point with centres on integers.
    if box is not None:
        x0, y0, side = (float(v) for v in box)
        if not side > 0:
            raise ValueError(f"skeleton box side must be > 0, got {side}")
        uv = (xy - (x0, y0)) * (size / side)
    else:
        uv = xy
    ok = np.isfinite(uv).all(axis=1)
    conf = np.where(ok & np.isfinite(conf), np.clip(conf, 0.0, 1.0), 0.0)
    # Clipped only so that absurd coordinates cannot overflow int32; real ones are far inside.
    fixed = np.rint(np.clip(np.where(ok[:, None], uv, 0.0) - 0.5, -2**22, 2**22) * (1 << _SHIFT)).astype(np.int32)

    background = np.asarray(background, dtype=np.float64)
    image = np.empty((size, size, 3), dtype=np.uint8)
    image[:] = background.astype(np.uint8)
    threshold = load_spec()["confidence"]["threshold"]
    for kind, color, a, b in _plan(layout):
        opacity = np.minimum(conf[a], conf[b])  # (L,) a limb is as sure as its less sure end
        keep = opacity >= threshold
        if not keep.any():
            continue
        width = limb_width(kind, size)
        segments = np.stack([fixed[a[keep]], fixed[b[keep]]], axis=1)  # (L', 2, 2)
        # Opacity mixes the colour towards the background; strokes are then drawn opaque (anti-aliased
        # edges still blend over what is below). A canvas reproduces this exactly, see the spec.
        mixed = np.floor(background + (color - background) * opacity[keep, None] + 0.5)  # (L', 3)
        if (mixed == mixed[0]).all():
            # One call for the whole group: same pixels as one cv2.line per segment, in order.
            cv2.polylines(image, list(segments), False, mixed[0].tolist(), width, cv2.LINE_AA, _SHIFT)
        else:
            for (p, q), c in zip(segments, mixed.tolist()):
                cv2.line(image, tuple(p.tolist()), tuple(q.tolist()), c, width, cv2.LINE_AA, _SHIFT)
    return image


def draw_skeletons(xy, conf, layout: str = "reduced", size: int = 256, box=None,
                   background=(0, 0, 0)) -> np.ndarray:
    """A sequence: xy (T, K, 2), conf (T, K), box None, one (x0, y0, side) or (T, 3) boxes.
    Returns (T, size, size, 3) uint8."""
    xy, conf = np.asarray(xy), np.asarray(conf)
    if xy.ndim != 3 or conf.ndim != 2 or len(xy) != len(conf):
        raise InputError(None, f"a pose sequence needs xy (T, K, 2) and conf (T, K); got xy {xy.shape} "
                         f"and conf {conf.shape}", "Pass one array per pose frame")
    boxes = None if box is None else np.broadcast_to(np.asarray(box, dtype=np.float64), (len(xy), 3))
    out = np.empty((len(xy), size, size, 3), dtype=np.uint8)
    for t in range(len(xy)):
        out[t] = draw_skeleton(xy[t], conf[t], layout, size, None if boxes is None else boxes[t], background)
    return out
