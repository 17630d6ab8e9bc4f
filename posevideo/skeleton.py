"""Pose -> skeleton image: the conditioning image the renderer learns from.

What is drawn (groups of limbs, colours, widths, order, the confidence rule) lives in
`skeleton_spec.json`, which the JavaScript twin in `posevideo/web/` loads too; `docs/skeleton-spec.md`
explains it. This file only turns that spec into OpenCV calls, fast enough for 1,000+ images/s.

Coordinates are continuous pixels: pixel i covers [i, i+1), its centre is i + 0.5, so the centre of
a 256 image is 128.0, as on a canvas.

Why not cv2.line(LINE_AA): its thick anti-aliased lines are about 1.3 px wider than asked and
thickness 3 draws the same as 4, so a canvas could not match its widths. Instead each limb is a
round-capped stroke whose pixel coverage is clamp(w/2 + 0.5 - d, 0, 1) (d: distance from the pixel
centre to the segment), a formula that a canvas approximates and JavaScript can copy exactly.
numba compiles the loop (a dependency of librosa already): ~5x faster than the OpenCV path.
"""
from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numba
import numpy as np

from posevideo.errors import InputError

SPEC_PATH = Path(__file__).with_name("skeleton_spec.json")
LAYOUTS = ("reduced", "holistic", "s2g49")
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


_KINDS = ("body", "hand", "face")


@functools.lru_cache(maxsize=None)
def _plan(layout: str):
    """Every limb of a layout in draw order, flattened across groups: a, b (L,) endpoint indices into
    its points, colors (L, 3) float RGB, kinds (L,) index into _KINDS. Limbs whose points the layout
    lacks (hips in s2g49) are dropped. Holistic poses are drawn through the reduced plan."""
    spec = load_spec()
    index = {tuple(p): i for i, p in enumerate(spec["layouts"][layout])}
    a, b, colors, kinds = [], [], [], []
    for group in spec["groups"]:
        for p, q in group["limbs"]:
            i, j = index.get((group["component"], p)), index.get((group["component"], q))
            if i is not None and j is not None:
                a.append(i), b.append(j), colors.append(group["color"]), kinds.append(_KINDS.index(group["kind"]))
    return (np.array(a, dtype=np.intp), np.array(b, dtype=np.intp), np.array(colors, dtype=np.float64),
            np.array(kinds, dtype=np.intp))


@numba.njit(cache=True, nogil=True)
def _rasterize(image, p, q, opacity, colors, widths, bg, threshold):
    """Stroke limbs p[n] -> q[n] ((L, 2) continuous pixels) in order onto image (S, S, 3) uint8, each a
    round-capped line of width widths[n]; colour mixed towards bg by opacity[n]; skipped under threshold."""
    size_y, size_x = image.shape[0], image.shape[1]
    color = np.empty(3)
    for n in range(p.shape[0]):
        if not opacity[n] >= threshold:
            continue
        for c in range(3):
            color[c] = np.floor(bg[c] + (colors[n, c] - bg[c]) * opacity[n] + 0.5)
        x0, y0, x1, y1 = p[n, 0], p[n, 1], q[n, 0], q[n, 1]
        half = widths[n] * 0.5
        reach = half + 0.5  # coverage is 0 from here on
        dx, dy = x1 - x0, y1 - y0
        length2 = dx * dx + dy * dy
        ylo, yhi = min(y0, y1), max(y0, y1)
        row0 = max(int(np.floor(ylo - reach - 0.5)), 0)
        row1 = min(int(np.ceil(yhi + reach - 0.5)), size_y - 1)
        for row in range(row0, row1 + 1):
            cy = row + 0.5
            # The columns this row can touch: the segment's x over rows within `reach`, widened by it.
            ya, yb = max(cy - reach, ylo), min(cy + reach, yhi)
            if abs(dy) < 1e-9:
                xa, xb = min(x0, x1), max(x0, x1)
            else:
                xa, xb = x0 + (ya - y0) * dx / dy, x0 + (yb - y0) * dx / dy
                if xa > xb:
                    xa, xb = xb, xa
            col0 = max(int(np.floor(xa - reach - 0.5)), 0)
            col1 = min(int(np.ceil(xb + reach - 0.5)), size_x - 1)
            for col in range(col0, col1 + 1):
                cx = col + 0.5
                t = 0.0
                if length2 > 0.0:
                    t = min(max(((cx - x0) * dx + (cy - y0) * dy) / length2, 0.0), 1.0)
                ex, ey = cx - (x0 + t * dx), cy - (y0 + t * dy)
                coverage = min(reach - np.sqrt(ex * ex + ey * ey), 1.0)
                if coverage <= 0.0:
                    continue
                for c in range(3):
                    v = image[row, col, c]
                    image[row, col, c] = np.uint8(np.floor(v + (color[c] - v) * coverage + 0.5))


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
    if xy.ndim != 2 or xy.shape[1:] != (2,) or xy.shape[0] not in expected or conf.shape != (xy.shape[0],):
        raise InputError(None, f"a {layout!r} pose needs xy of shape (K, 2) and conf (K,) with K "
                         f"{' or '.join(map(str, expected))}; got xy {xy.shape} and conf {conf.shape}",
                         "Convert the pose to that layout (posevideo.pose.to_layout) or pass its layout name")
    size = int(size)
    if not 16 <= size <= 4096:
        raise ValueError(f"skeleton size must be 16..4096 pixels, got {size}")
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (3,) or not ((0 <= bg) & (bg <= 255)).all():
        raise ValueError(f"skeleton background must be 3 values in 0..255 (RGB), got {background!r}")
    if layout == "holistic":
        xy, conf = _to_reduced(xy, conf)
        layout = "reduced"

    # Source pixels -> output pixels (continuous: the image spans [0, size]).
    if box is not None:
        x0, y0, side = (float(v) for v in box)
        if not side > 0:
            raise ValueError(f"skeleton box side must be > 0, got {side}")
        uv = (xy - (x0, y0)) * (size / side)
    else:
        uv = xy
    ok = np.isfinite(uv).all(axis=1)
    conf = np.where(ok & np.isfinite(conf), np.clip(conf, 0.0, 1.0), 0.0)  # (K,) missing -> 0
    # Clipped only so that absurd coordinates cannot make the rasterizer loop for ever.
    uv = np.clip(np.where(ok[:, None], uv, 0.0), -4.0 * size, 5.0 * size)

    a, b, colors, kinds = _plan(layout)
    widths = np.array([limb_width(k, size) for k in ("body", "hand", "face")], dtype=np.float64)[kinds]  # (L,)
    image = np.empty((size, size, 3), dtype=np.uint8)
    image[:] = bg.astype(np.uint8)
    _rasterize(image, uv[a], uv[b], np.minimum(conf[a], conf[b]), colors, widths, bg,
               float(load_spec()["confidence"]["threshold"]))
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
