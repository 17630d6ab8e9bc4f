"""Hands at rest: a plausible hand where a pose has none.

MediaPipe often loses a hand (motion blur, the hand out of view, a hand extraction that was not
kept), and a renderer trained on seen hands draws a stump without one. Where a frame's hand is
missing but the body's elbow and wrist are seen, `rest_hands` puts a hand at rest there: a mean
hand (the renderer's own person's, from its body profile, when given; else `rest_hand.json`),
attached to the wrist, turned with the forearm and scaled by the shoulder width.
"""
from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path

import numpy as np

from posevideo.pose.layouts import point_groups, point_index, shoulder_indices

SIDES = ("left", "right")


@functools.lru_cache(maxsize=1)
def rest_hand_shapes() -> dict[str, np.ndarray]:
    """{"left", "right"}: (21, 2) the rest hand in its forearm's frame, in shoulder widths: the hand's
    wrist at 0, x along the forearm (elbow -> wrist), y that direction turned by +90 degrees.
    Stored beside this module (made once by `measure_rest_hands`), so the pose core reads no model file."""
    with resources.files("posevideo.pose").joinpath("rest_hand.json").open() as f:
        stored = json.load(f)
    return {side: np.asarray(stored[side], np.float64) for side in SIDES}


def measure_rest_hands(gesture_checkpoint: str | Path) -> dict[str, np.ndarray]:
    """The rest hands of a gesture model's checkpoint.json: its speaker statistics hold the mean pose
    of its training frames (reduced layout, normalized: shoulder midpoint 0, shoulder width 1), whose
    hands are an average hand, open and relaxed. How `rest_hand.json` was made (from the shipped
    posevideo/models/gestures/checkpoint.json)."""
    mean = np.asarray(json.loads(Path(gesture_checkpoint).read_text())["stats"]["mean"], np.float64)  # (178, 2)
    groups = point_groups("reduced")
    shapes = {}
    for side in SIDES:
        elbow, wrist = (mean[point_index("reduced", "POSE_LANDMARKS", f"{side.upper()}_{joint}")]
                        for joint in ("ELBOW", "WRIST"))
        hand = mean[groups[f"{side}_hand"]]
        along = (wrist - elbow) / np.linalg.norm(wrist - elbow)
        across = np.array([-along[1], along[0]])
        shapes[side] = np.stack([(hand - hand[0]) @ along, (hand - hand[0]) @ across], axis=-1)
    return shapes


def rest_hands(xy: np.ndarray, conf: np.ndarray, layout: str = "reduced",
               shapes: dict | None = None, width: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """xy (T, K, 2) pixels and conf (T, K) -> copies where every missing hand (all 21 points at conf
    0) whose body elbow and wrist are seen holds the rest hand: its wrist on the body wrist, turned
    as the forearm, scaled by the frame's shoulder width (the sequence's mean where a shoulder is
    missing). The filled points get the confidence of the less sure of elbow and wrist. Frames
    without the arm, or poses without any frame with both shoulders, are left as they are. `shapes`:
    {"left", "right"} -> (21, 2) rest hands in `rest_hand_shapes`' convention (e.g. a BodyProfile's
    hand_shape); a side given as None, or no `shapes`, takes the stored rest hand. `width`: these
    frames' rows of `shoulder_widths` of the whole sequence, when xy is a run of frames of a longer
    one (None: measured on these frames)."""
    xy, conf = np.array(xy, np.float32), np.array(conf, np.float32)
    if width is None:
        width = shoulder_widths(xy, conf, layout)
        if width is None:
            return xy, conf
    groups = point_groups(layout)
    for side, shape in rest_hand_shapes().items():
        if shapes is not None and shapes.get(side) is not None:
            shape = np.asarray(shapes[side], np.float64)
        hand = groups[f"{side}_hand"]
        elbow, wrist = (point_index(layout, "POSE_LANDMARKS", f"{side.upper()}_{j}") for j in ("ELBOW", "WRIST"))
        forearm = xy[:, wrist] - xy[:, elbow]  # (T, 2)
        length = np.linalg.norm(forearm, axis=-1)
        fill = ~(conf[:, hand] > 0).any(axis=1) & (conf[:, wrist] > 0) & (conf[:, elbow] > 0) & (length > 0)
        if not fill.any():
            continue
        along = forearm[fill] / length[fill, None]  # (F, 2)
        across = np.stack([-along[:, 1], along[:, 0]], axis=-1)
        # (F, 21, 2): the wrist plus the shape's x along the forearm and y across it, in pixels.
        offset = shape[None, :, :1] * along[:, None] + shape[None, :, 1:] * across[:, None]
        placed = xy[fill, wrist][:, None] + width[fill, None, None] * offset
        rows = np.flatnonzero(fill)
        xy[np.ix_(rows, hand)] = placed
        conf[np.ix_(rows, hand)] = np.minimum(conf[fill, wrist], conf[fill, elbow])[:, None]
    return xy, conf


def shoulder_widths(xy: np.ndarray, conf: np.ndarray, layout: str = "reduced") -> np.ndarray | None:
    """(T,) each frame's shoulder width in xy's units (pixels), the sequence's mean where a shoulder
    is missing; None when no frame has both shoulders. What `rest_hands` scales its hands by."""
    xy = np.asarray(xy, np.float32)
    right, left = shoulder_indices(layout)
    both = (conf[:, right] > 0) & (conf[:, left] > 0)
    if not both.any():
        return None
    width = np.linalg.norm(xy[:, right] - xy[:, left], axis=-1)  # (T,) pixels
    return np.where(both, width, width[both].mean())


def hand_frames(conf: np.ndarray, layout: str = "reduced") -> int:
    """How many (frame, hand) pairs have at least one hand point seen: before and after `rest_hands`
    this counts the hands it filled."""
    groups = point_groups(layout)
    return int(sum((np.asarray(conf)[:, groups[f"{side}_hand"]] > 0).any(axis=1).sum() for side in SIDES))
