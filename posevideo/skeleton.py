"""Pose -> skeleton image: the conditioning image the renderer learns from.

What is drawn (groups of limbs, colours, widths, order, the confidence rule) lives in
`skeleton_spec.json`, which the JavaScript twin in `posevideo/web/` loads too; `docs/skeleton-spec.md`
explains it. This file only turns that spec into pixels, fast enough for 1,000+ images/s a core.

Coordinates are continuous pixels: pixel i covers [i, i+1), its centre is i + 0.5, so the centre of
a 256 image is 128.0, as on a canvas.

Why not cv2.line(LINE_AA): its thick anti-aliased lines are about 1.3 px wider than asked and
thickness 3 draws the same as 4, so a canvas could not match its widths. Instead each limb is a
round-capped stroke whose pixel coverage is clamp(w/2 + 0.5 - d, 0, 1) (d: distance from the pixel
centre to the segment), a formula that a canvas approximates and JavaScript can copy exactly.
numba compiles the loop (librosa needs numba anyway): about twice as fast as the OpenCV path was
(BENCHMARKS.md, "Skeleton image").
"""
from __future__ import annotations

import functools
import json
import math
import os
from pathlib import Path

import numba
import numpy as np

from posevideo.errors import InputError
from posevideo.pose.layouts import reduce_arrays

SPEC_PATH = Path(__file__).with_name("skeleton_spec.json")
EXAMPLE = Path(__file__).with_name("example.pose")  # 8 s of the synthetic speaker of seed 0, reduced, 30 fps
LAYOUTS = ("reduced", "holistic", "s2g49")
_HOLISTIC_POINTS = (543, 576)  # without / with POSE_WORLD_LANDMARKS (ignored: world metres)


class PoseShapeError(InputError, ValueError):
    """Arrays that do not fit the layout: the CLI prints it as any InputError, and code that checks
    arguments with `except ValueError` catches it too."""


@functools.lru_cache(maxsize=None)
def load_spec() -> dict:
    """The parsed skeleton_spec.json, shared (cached): read it, do not modify it."""
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
def _rasterize(image, xy, conf, a, b, colors, widths, bg, x0, y0, scale, threshold):
    """Fill image (S, S, 3) uint8 with bg, then stroke limbs xy[a[n]] -> xy[b[n]] onto it in order.
    xy (K, 2) source pixels, mapped by (x - x0) * scale; conf (K,). Each limb is a round-capped line
    of width widths[n], its colour colors[n] mixed towards bg by its opacity; see the spec."""
    size_y, size_x = image.shape[0], image.shape[1]
    limit = 4.0 * max(size_x, size_y)  # absurd coordinates are clipped so the loops stay bounded
    color = np.empty(3)
    fill = np.empty(3, dtype=np.uint8)
    for c in range(3):
        fill[c] = np.uint8(bg[c])
    for row in range(size_y):  # here, not numpy: image[:] = (3,) broadcasting costs ~0.2 ms at 256
        for col in range(size_x):
            for c in range(3):
                image[row, col, c] = fill[c]
    for n in range(a.shape[0]):
        i, j = a[n], b[n]
        x0_, y0_ = (xy[i, 0] - x0) * scale, (xy[i, 1] - y0) * scale
        x1, y1 = (xy[j, 0] - x0) * scale, (xy[j, 1] - y0) * scale
        if not (np.isfinite(x0_) and np.isfinite(y0_) and np.isfinite(x1) and np.isfinite(y1)):
            continue  # a missing point
        ci, cj = conf[i], conf[j]
        if not (ci >= threshold and cj >= threshold):  # also NaN
            continue
        opacity = min(min(ci, cj), 1.0)  # a limb is as sure as its less sure end
        for c in range(3):
            color[c] = np.floor(bg[c] + (colors[n, c] - bg[c]) * opacity + 0.5)
        x0_, y0_ = min(max(x0_, -limit), limit), min(max(y0_, -limit), limit)
        x1, y1 = min(max(x1, -limit), limit), min(max(y1, -limit), limit)
        half = widths[n] * 0.5
        reach = half + 0.5  # coverage is 0 from here on
        reach2 = reach * reach
        inner2 = (half - 0.5) * (half - 0.5) if half >= 0.5 else -1.0  # within: coverage 1
        dx, dy = x1 - x0_, y1 - y0_
        length2 = dx * dx + dy * dy
        ylo, yhi = min(y0_, y1), max(y0_, y1)
        row0 = max(int(np.floor(ylo - reach - 0.5)), 0)
        row1 = min(int(np.ceil(yhi + reach - 0.5)), size_y - 1)
        for row in range(row0, row1 + 1):
            cy = row + 0.5
            # The columns this row can touch: the segment's x over rows within `reach`, widened by it.
            ya, yb = max(cy - reach, ylo), min(cy + reach, yhi)
            if abs(dy) < 1e-9:
                xa, xb = min(x0_, x1), max(x0_, x1)
            else:
                xa, xb = x0_ + (ya - y0_) * dx / dy, x0_ + (yb - y0_) * dx / dy
                if xa > xb:
                    xa, xb = xb, xa
            col0 = max(int(np.floor(xa - reach - 0.5)), 0)
            col1 = min(int(np.ceil(xb + reach - 0.5)), size_x - 1)
            for col in range(col0, col1 + 1):
                cx = col + 0.5
                t = 0.0
                if length2 > 0.0:
                    t = min(max(((cx - x0_) * dx + (cy - y0_) * dy) / length2, 0.0), 1.0)
                ex, ey = cx - (x0_ + t * dx), cy - (y0_ + t * dy)
                d2 = ex * ex + ey * ey
                if d2 >= reach2:  # coverage 0 (sqrt is monotone and exact on these, so same as below)
                    continue
                if d2 <= inner2:  # coverage 1: the blend gives the colour itself
                    for c in range(3):
                        image[row, col, c] = np.uint8(color[c])
                    continue
                coverage = min(reach - np.sqrt(d2), 1.0)
                for c in range(3):
                    v = image[row, col, c]
                    image[row, col, c] = np.uint8(np.floor(v + (color[c] - v) * coverage + 0.5))


@numba.njit(cache=True, nogil=True)
def _rasterize_many(images, xy, conf, a, b, colors, widths, bg, mapping, threshold):
    """_rasterize over a sequence in one call, without the GIL: images (T, S, S, 3) uint8, xy (T, K, 2),
    conf (T, K), mapping (T, 3) rows (x0, y0, scale). Frame t is exactly `_rasterize` of frame t;
    threads can each take a slice of T (`draw_skeletons(threads=...)`)."""
    for t in range(images.shape[0]):
        _rasterize(images[t], xy[t], conf[t], a, b, colors, widths, bg, mapping[t, 0], mapping[t, 1], mapping[t, 2],
                   threshold)


def expected_points(layout: str) -> tuple[int, ...]:
    if layout == "holistic":
        return _HOLISTIC_POINTS
    return (len(load_spec()["layouts"][layout]),)


def _check(xy, conf, layout, size, background, sequence=False):
    """Validated float64 arrays and parameters, or one clear error naming expected vs got."""
    if layout not in LAYOUTS:
        raise ValueError(f"skeleton layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    xy = np.ascontiguousarray(xy, dtype=np.float64)
    conf = np.ascontiguousarray(conf, dtype=np.float64)
    expected = expected_points(layout)
    if (xy.ndim != 2 + sequence or xy.shape[-1] != 2 or xy.shape[-2] not in expected
            or conf.shape != xy.shape[:-1]):
        want = "(T, K, 2) and conf (T, K)" if sequence else "(K, 2) and conf (K,)"
        raise PoseShapeError(None, f"a {layout!r} pose needs xy of shape {want} with K "
                         f"{' or '.join(map(str, expected))}; got xy {xy.shape} and conf {conf.shape}",
                         "Convert the pose to that layout (posevideo.pose.to_layout) or pass its layout name")
    size = int(size)
    if not 16 <= size <= 4096:
        raise ValueError(f"skeleton size must be 16..4096 pixels, got {size}")
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (3,) or not ((0 <= bg) & (bg <= 255)).all():
        raise ValueError(f"skeleton background must be 3 values in 0..255 (RGB), got {background!r}")
    return xy, conf, size, bg


def _mapping(box, size):
    """(x0, y0, scale): source pixels -> output pixels, u = (x - x0) * scale."""
    if box is None:
        return 0.0, 0.0, 1.0
    x0, y0, side = (float(v) for v in box)
    if not side > 0:
        raise ValueError(f"skeleton box side must be > 0, got {side}")
    return x0, y0, size / side


def _draw_into(image, xy, conf, layout, size, box, bg):
    if layout == "holistic":
        xy, conf = reduce_arrays(xy, conf)
        layout = "reduced"
    a, b, colors, kinds = _plan(layout)
    _rasterize(image, xy, conf, a, b, colors, _widths(size)[kinds], bg, *_mapping(box, size),
               float(load_spec()["confidence"]["threshold"]))


@functools.lru_cache(maxsize=None)
def _widths(size: int) -> np.ndarray:
    return np.array([limb_width(k, size) for k in _KINDS], dtype=np.float64)  # (3,) by kind index


def draw_skeleton(xy, conf, layout: str = "reduced", size: int = 256, box=None,
                  background=(0, 0, 0)) -> np.ndarray:
    """Draw one pose. xy (K, 2) float pixels of the source frame, conf (K,) in [0, 1] (NaN or a
    non-finite xy counts as missing). box = (x0, y0, side): the square crop, in those pixels, that
    becomes the image; None: xy are already pixels of the (size, size) output.
    Returns (size, size, 3) uint8 RGB."""
    xy, conf, size, bg = _check(xy, conf, layout, size, background)
    image = np.empty((size, size, 3), dtype=np.uint8)
    _draw_into(image, xy, conf, layout, size, box, bg)
    return image


def draw_skeletons(xy, conf, layout: str = "reduced", size: int = 256, box=None,
                   background=(0, 0, 0), threads: int = 1, out: np.ndarray | None = None) -> np.ndarray:
    """A sequence: xy (T, K, 2), conf (T, K); box None, one (x0, y0, side), or (T, 3) boxes.
    Returns (T, size, size, 3) uint8, frame t equal to draw_skeleton of frame t. `threads` > 1
    splits T over that many threads (the rasterizer runs without the GIL; same pixels); `out`: a
    (T, size, size, 3) uint8 array to draw into (e.g. pinned memory for a GPU upload)."""
    xy, conf, size, bg = _check(xy, conf, layout, size, background, sequence=True)
    if layout == "holistic":
        xy, conf = reduce_arrays(xy, conf)
        layout = "reduced"
    mapping = np.tile([0.0, 0.0, 1.0], (len(xy), 1))  # (T, 3) x0, y0, scale: u = (x - x0) * scale
    if box is not None:
        boxes = np.broadcast_to(np.asarray(box, dtype=np.float64), (len(xy), 3))
        if not (boxes[:, 2] > 0).all():
            raise ValueError(f"skeleton box side must be > 0, got {boxes[~(boxes[:, 2] > 0), 2][0]}")
        mapping[:, :2], mapping[:, 2] = boxes[:, :2], size / boxes[:, 2]
    if out is None:
        out = np.empty((len(xy), size, size, 3), dtype=np.uint8)
    elif out.shape != (len(xy), size, size, 3) or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous ({len(xy)}, {size}, {size}, 3) uint8 array, "
                         f"got {out.shape} {out.dtype}")
    a, b, colors, kinds = _plan(layout)
    args = (a, b, colors, _widths(size)[kinds], bg)
    threshold = float(load_spec()["confidence"]["threshold"])
    cuts = np.linspace(0, len(xy), max(1, min(int(threads), len(xy))) + 1).astype(int)
    jobs = [slice(i, j) for i, j in zip(cuts[:-1], cuts[1:])]
    run = lambda s: _rasterize_many(out[s], xy[s], conf[s], *args, mapping[s], threshold)  # noqa: E731
    if len(jobs) == 1:
        run(jobs[0])
    else:
        for future in [_pool().submit(run, s) for s in jobs]:
            future.result()
    return out


@functools.lru_cache(maxsize=None)
def _pool():
    """Threads for draw_skeletons(threads=N), made once (they idle between calls)."""
    from concurrent.futures import ThreadPoolExecutor
    return ThreadPoolExecutor(max(1, (os.cpu_count() or 1)), thread_name_prefix="skeleton")


def write_skeleton_video(pose_path, out_path, size: int = 256, crop: str = "person",
                         background=(0, 0, 0)) -> int:
    """Draw a .pose file (any posevideo layout) to a stick-figure mp4 at the pose's fps.
    crop "person": the stable person-centred box (person_boxes); "frame": the whole video frame,
    letterboxed into the square. Returns the number of frames written."""
    from posevideo.pose import arrays, layout_of, read_pose, to_layout
    from posevideo.pose.framing import person_boxes
    from posevideo.video import write_video

    if crop not in ("person", "frame"):
        raise ValueError(f"crop must be 'person' or 'frame', got {crop!r}")
    if Path(out_path).suffix.lower() != ".mp4":
        raise InputError(out_path, "is not an .mp4 path", "Name the output file OUT.mp4.")
    pose = read_pose(pose_path)
    layout = layout_of(pose, pose_path)
    if layout == "holistic":
        pose, layout = to_layout(pose, "reduced", pose_path), "reduced"
    xy, conf = arrays(pose)  # (T, K, 2) source pixels, (T, K)
    fps = float(pose.body.fps)
    width, height = int(pose.header.dimensions.width), int(pose.header.dimensions.height)
    if len(xy) == 0:
        raise InputError(pose_path, "has no frames", "Give a .pose file with at least one frame.")
    if not fps > 0 or width <= 0 or height <= 0:
        raise InputError(pose_path, f"has fps {fps} and frame size {width}x{height} in its header",
                         "Write the .pose with its video's fps and size (pose-format's header dimensions).")
    if crop == "person":
        boxes = person_boxes(xy, conf, layout, fps, width, height)
    else:
        side = max(width, height)
        boxes = np.tile([(width - side) / 2, (height - side) / 2, side], (len(xy), 1))
    frames = (draw_skeleton(xy[t], conf[t], layout, size, boxes[t], background) for t in range(len(xy)))
    return write_video(out_path, frames, fps)


def example_poses(count: int, size: int, layout: str = "reduced", seed: int = 0):
    """(xy (count, K, 2) in pixels of a (size, size) skeleton image, conf (count, K)): frames of the
    bundled example (`EXAMPLE`, made by `posevideo.web.poses.make_example`) spread over its length,
    each cut by its person box; the seed picks the offset. For export checks and tests."""
    from posevideo.pose import arrays, read_pose
    from posevideo.pose.framing import person_boxes

    if layout != "reduced":
        raise ValueError(f"example poses are in the 'reduced' layout, not {layout!r}")
    pose = read_pose(EXAMPLE)
    xy, conf = arrays(pose)
    boxes = person_boxes(xy, conf, layout, float(pose.body.fps), pose.header.dimensions.width,
                         pose.header.dimensions.height)
    rng = np.random.default_rng(seed)
    frames = (np.linspace(0, len(xy), count, endpoint=False).astype(int) + rng.integers(len(xy))) % len(xy)
    box = boxes[frames]
    uv = (xy[frames] - box[:, None, :2]) * (size / box[:, None, 2:3])
    return uv.astype(np.float32), conf[frames]
