"""The three point layouts posevideo uses, how to tell them apart, and conversions between them.

- `holistic` (576 points): MediaPipe Holistic as pose-format extracts it: POSE_LANDMARKS 33,
  FACE_LANDMARKS 468 (478 with refined irises), LEFT_HAND_LANDMARKS 21, RIGHT_HAND_LANDMARKS 21,
  POSE_WORLD_LANDMARKS 33.
- `reduced` (178 points): pose-to-video's convention, pose-format's `correct_wrists` then
  `reduce_holistic`: POSE_LANDMARKS 8 (shoulders, elbows, wrists, hips), FACE_LANDMARKS 128
  (the face-mesh contours), two hands of 21.
- `s2g49` (49 points): speech2gesture's keypoints in its order (amirbar/speech2gesture
  common/consts.py: RIGHT_BODY_KEYPOINTS = [1, 2, 3, 28], LEFT_BODY_KEYPOINTS = [4, 5, 6, 7],
  LEFT_HAND_KEYPOINTS(x) = [7] + [8 + 4x + j], RIGHT_HAND_KEYPOINTS(x) = [28] + [29 + 4x + j]):
  0 neck, 1 right shoulder, 2 right elbow, 3 right wrist, 4 left shoulder, 5 left elbow,
  6 left wrist, 7..27 left hand (hand wrist first, then thumb, index, middle, ring, pinky, 4 each),
  28..48 right hand. Left/right are the person's own (OpenPose's RShoulder is the subject's right
  shoulder; in speech2gesture's speaker means point 1 lies at negative x, the image's left, for a
  speaker facing the camera), the same convention as MediaPipe's RIGHT_* names, so names map
  one to one. OpenPose's neck is its own detection; here it is the shoulder midpoint.
  Stored as one pose-format component, SPEECH2GESTURE_49, 2D (XYC).

Conversions keep every person, fps and the video size; points a target needs but the source lacks
get confidence 0.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.ma as ma
from pose_format import Pose
from pose_format.pose_header import PoseHeader, PoseHeaderComponent
from pose_format.utils.generic import correct_wrist, correct_wrists, detect_known_pose_format, reduce_holistic

from posevideo.errors import InputError
from posevideo.pose.io import header_dimensions, pose_from_arrays

LAYOUTS = ("holistic", "reduced", "s2g49")
NUM_POINTS = {"holistic": 576, "reduced": 178, "s2g49": 49}

# MediaPipe's PoseLandmark and HandLandmark names (as in pose_format.utils.holistic, which needs
# mediapipe to import; a test checks these equal it). Kept here so that index look-ups and the s2g49
# header need no mediapipe import (~1.5 s).
BODY_POINTS = (
    "NOSE", "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER", "RIGHT_EYE_INNER", "RIGHT_EYE", "RIGHT_EYE_OUTER",
    "LEFT_EAR", "RIGHT_EAR", "MOUTH_LEFT", "MOUTH_RIGHT", "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW",
    "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_PINKY", "RIGHT_PINKY", "LEFT_INDEX", "RIGHT_INDEX",
    "LEFT_THUMB", "RIGHT_THUMB", "LEFT_HIP", "RIGHT_HIP", "LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE",
    "RIGHT_ANKLE", "LEFT_HEEL", "RIGHT_HEEL", "LEFT_FOOT_INDEX", "RIGHT_FOOT_INDEX",
)
HAND_POINTS = (
    "WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP", "INDEX_FINGER_MCP", "INDEX_FINGER_PIP",
    "INDEX_FINGER_DIP", "INDEX_FINGER_TIP", "MIDDLE_FINGER_MCP", "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP",
    "MIDDLE_FINGER_TIP", "RING_FINGER_MCP", "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP",
    "PINKY_MCP", "PINKY_PIP", "PINKY_DIP", "PINKY_TIP",
)
HAND_LIMBS = (  # MediaPipe HAND_CONNECTIONS: each finger a chain from the wrist, plus the palm
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)
REDUCED_BODY_POINTS = ("LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST",
                       "LEFT_HIP", "RIGHT_HIP")  # what reduce_holistic keeps of POSE_LANDMARKS, in its order
# The face-mesh ids reduce_holistic keeps (its face contours), in its order. Written out so that
# index look-ups need no mediapipe import; a test checks them against pose-format itself.
REDUCED_FACE_IDS = (0, 7, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78, 80, 81, 82, 84,
    87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148, 149, 150, 152, 153, 154,
    155, 157, 158, 159, 160, 161, 162, 163, 172, 173, 176, 178, 181, 185, 191, 234, 246, 249, 251, 263, 267,
    269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300, 308, 310, 311, 312, 314, 317, 318,
    321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382, 384,
    385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454, 466)
HOLISTIC_COMPONENTS = ("POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS")
S2G_COMPONENT = "SPEECH2GESTURE_49"

# Each s2g49 point as the holistic (component, point) it comes from; the neck has none.
S2G49_SOURCES: tuple[tuple[str, str] | None, ...] = (
    None,
    ("POSE_LANDMARKS", "RIGHT_SHOULDER"), ("POSE_LANDMARKS", "RIGHT_ELBOW"), ("POSE_LANDMARKS", "RIGHT_WRIST"),
    ("POSE_LANDMARKS", "LEFT_SHOULDER"), ("POSE_LANDMARKS", "LEFT_ELBOW"), ("POSE_LANDMARKS", "LEFT_WRIST"),
    *(("LEFT_HAND_LANDMARKS", p) for p in HAND_POINTS),
    *(("RIGHT_HAND_LANDMARKS", p) for p in HAND_POINTS),
)
S2G49_POINTS = ("NECK", "RIGHT_SHOULDER", "RIGHT_ELBOW", "RIGHT_WRIST", "LEFT_SHOULDER", "LEFT_ELBOW", "LEFT_WRIST",
                *(f"LEFT_HAND_{p}" for p in HAND_POINTS), *(f"RIGHT_HAND_{p}" for p in HAND_POINTS))
S2G49_LIMBS = (
    (0, 1), (1, 2), (2, 3), (3, 28), (0, 4), (4, 5), (5, 6), (6, 7),  # arms, each wrist joined to its hand
    *((7 + a, 7 + b) for a, b in HAND_LIMBS), *((28 + a, 28 + b) for a, b in HAND_LIMBS),
)
_FINGER_COLORS = ((192, 0, 0), (0, 0, 192), (0, 192, 0), (0, 192, 192), (255, 128, 0))  # thumb..pinky
_HAND_COLORS = ((232, 232, 232), *(c for c in _FINGER_COLORS for _ in range(4)))


class Pair(NamedTuple):
    """Indices of a left/right pair of points, named so nobody has to remember the order."""
    right: int
    left: int


# --- headers -------------------------------------------------------------------------------------

HOLISTIC_HEADER = Path(__file__).with_name("holistic_header.json")


@functools.lru_cache(maxsize=4)
def _holistic_components(point_format: str) -> tuple[PoseHeaderComponent, ...]:
    """pose-format's `holistic_components(point_format)`, read from `holistic_header.json`. pose-format
    builds them from MediaPipe's connection lists, so writing any .pose would import MediaPipe, which
    not every machine that renders has (the GPU machine has none). tests/test_pose.py checks the file
    against pose-format; `write_holistic_header()` writes it again."""
    components = json.loads(HOLISTIC_HEADER.read_text())["components"]
    return tuple(PoseHeaderComponent(c["name"], c["points"], [tuple(limb) for limb in c["limbs"]],
                                     [tuple(color) for color in c["colors"]], point_format) for c in components)


def write_holistic_header(path: str | Path = HOLISTIC_HEADER) -> None:
    """Write pose-format's holistic components (points, limbs, colours) as JSON (imports MediaPipe)."""
    from pose_format.utils.holistic import holistic_components
    components = [{"name": c.name, "points": list(c.points), "limbs": [list(limb) for limb in c.limbs],
                   "colors": [list(color) for color in c.colors]} for c in holistic_components("XYZC")]
    Path(path).write_text(json.dumps({"source": "pose_format.utils.holistic.holistic_components",
                                      "components": components}, separators=(",", ":")) + "\n")


def _subset(component: PoseHeaderComponent, points: list[str]) -> PoseHeaderComponent:
    """The component keeping `points` (in that order) and the limbs between them (as get_components)."""
    where = {component.points.index(p): i for i, p in enumerate(points)}
    limbs = [(where[a], where[b]) for a, b in component.limbs if a in where and b in where]
    return PoseHeaderComponent(component.name, list(points), limbs, component.colors, component.format)


def layout_header(layout: str, width: int, height: int, point_format: str | None = None) -> PoseHeader:
    """A fresh header for `layout` (holistic/reduced default XYZC, s2g49 XYC) for a width x height video."""
    _check_name(layout)
    dims = header_dimensions(width, height)
    if layout == "s2g49":
        colors = [(255, 0, 0)] * 7 + list(_HAND_COLORS) * 2
        component = PoseHeaderComponent(S2G_COMPONENT, list(S2G49_POINTS), list(S2G49_LIMBS), colors, point_format or "XYC")
        return PoseHeader(0.2, dims, [component])
    components = [PoseHeaderComponent(c.name, list(c.points), list(c.limbs), c.colors, c.format)
                  for c in _holistic_components(point_format or "XYZC")]
    if layout == "reduced":
        face_contour = _reduced_face_points()
        components = [_subset(c, list(REDUCED_BODY_POINTS)) if c.name == "POSE_LANDMARKS"
                      else _subset(c, face_contour) if c.name == "FACE_LANDMARKS" else c
                      for c in components if c.name != "POSE_WORLD_LANDMARKS"]
    return PoseHeader(0.2, dims, components)


def _reduced_face_points() -> list[str]:
    """The face-contour point names of the reduced layout (REDUCED_FACE_IDS)."""
    return [str(i) for i in REDUCED_FACE_IDS]


@functools.lru_cache(maxsize=1)
def reduce_holistic_face_points() -> list[str]:
    """The face-contour point names reduce_holistic keeps, taken from pose-format itself (reduce a
    one-frame empty holistic pose and read its header): what REDUCED_FACE_IDS must equal."""
    header = PoseHeader(0.2, header_dimensions(1, 1), [c for c in _holistic_components("XYC")])
    empty = pose_from_arrays(header, np.zeros((1, 1, header.total_points(), 2)), np.zeros((1, 1, header.total_points())), 1)
    face = [c for c in reduce_holistic(empty).header.components if c.name == "FACE_LANDMARKS"][0]
    return list(face.points)


def make_pose(layout: str, xy: np.ndarray, conf: np.ndarray, fps: float, width: int, height: int) -> Pose:
    """A one-person Pose of `layout` from xy (T, K, 2 or 3) pixels and conf (T, K).

    What a model's output becomes before writing: e.g. `make_pose("s2g49", xy, conf, 15, w, h)`.
    2D input to a 3D layout gets z = 0."""
    _check_name(layout)
    xy, conf = np.asarray(xy, np.float32), np.asarray(conf, np.float32)
    if xy.ndim != 3 or xy.shape[1] != NUM_POINTS[layout] or conf.shape != xy.shape[:2]:
        raise ValueError(f"{layout} needs xy (T, {NUM_POINTS[layout]}, 2|3) and conf (T, {NUM_POINTS[layout]}); "
                         f"got {xy.shape} and {conf.shape}")
    header = layout_header(layout, width, height)
    data = np.zeros((len(xy), 1, xy.shape[1], header.num_dims()), np.float32)
    d = min(xy.shape[-1], data.shape[-1])
    data[:, 0, :, :d] = xy[..., :d]
    return pose_from_arrays(header, data, conf[:, None], fps)


# --- which layout is this? -----------------------------------------------------------------------

def holistic_pose(xyz: np.ndarray, conf: np.ndarray, fps: float, width: int, height: int) -> Pose:
    """A MediaPipe Holistic Pose (pose-format's `holistic_components("XYZC")`, 576 points).

    xyz: (T, 576, 3) or (T, 576, 2) pixels of a width x height video (2D gets z = 0); also
    (T, 543, D) without POSE_WORLD_LANDMARKS, which are then added with confidence 0.
    conf: (T, K) in [0, 1]; 0 (or a NaN coordinate) marks a missing point.
    """
    xyz = np.asarray(xyz, dtype=np.float32)
    conf = np.asarray(conf, dtype=np.float32)
    if xyz.ndim != 3 or xyz.shape[-1] not in (2, 3) or xyz.shape[1] not in (543, 576):
        raise ValueError(f"xyz must be (T, 576, 3|2) or (T, 543, 3|2), got {xyz.shape}")
    if xyz.shape[1] == 543:
        xyz = np.concatenate([xyz, np.zeros((len(xyz), 33, xyz.shape[2]), np.float32)], axis=1)
        conf = np.concatenate([conf, np.zeros((len(conf), 33), np.float32)], axis=1)
    if xyz.shape[-1] == 2:
        xyz = np.concatenate([xyz, np.zeros_like(xyz[..., :1])], axis=-1)
    return make_pose("holistic", xyz, conf, fps, width, height)


def layout_of(pose: Pose, path=None) -> str:
    """The layout of `pose`, or an InputError (naming `path` if given) saying what is missing."""
    names = [c.name for c in pose.header.components]
    counts = {c.name: len(c.points) for c in pose.header.components}
    if names == [S2G_COMPONENT]:
        if pose.header.components[0].points != list(S2G49_POINTS):
            raise InputError(path, f"has a {S2G_COMPONENT} component whose points are not speech2gesture's 49",
                             "Write it with posevideo (to_layout(pose, 's2g49')).")
        return "s2g49"
    if "POSE_LANDMARKS" not in names:
        try:
            known = detect_known_pose_format(pose.header)
        except ValueError:
            known = None
        if known in ("openpose", "openpose_135"):
            raise InputError(path, f"is an OpenPose skeleton (components {', '.join(names)}); posevideo needs MediaPipe "
                                   "Holistic points", "Extract poses with MediaPipe Holistic: `video_to_pose --format "
                                   "mediapipe -i VIDEO -o OUT.pose` (pose-format) or `posevideo prepare`.")
        if known is not None:
            raise InputError(path, f"is a {known} skeleton (components {', '.join(names)}); posevideo needs MediaPipe "
                                   "Holistic points", "Extract poses with MediaPipe Holistic (`posevideo prepare`).")
        raise InputError(path, f"has components {', '.join(names)}: not a layout posevideo knows ({', '.join(LAYOUTS)})",
                         "Give a MediaPipe Holistic .pose file (pose-format).")
    for needed in HOLISTIC_COMPONENTS:
        if needed not in names:
            what = "both hands" if "HAND" in needed else "the body, the face and both hands"
            raise InputError(path, f"has no {needed}; posevideo's layouts need {what}",
                             "Extract it again with MediaPipe Holistic keeping all components (pose-format's "
                             "`video_to_pose --format mediapipe`).")
    body = pose.header.components[names.index("POSE_LANDMARKS")].points
    hands_ok = all(pose.header.components[names.index(h)].points == list(HAND_POINTS)
                   for h in ("LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"))
    if not hands_ok:
        raise InputError(path, "has hands without MediaPipe's 21 points", "Extract it again with MediaPipe Holistic.")
    if body == list(BODY_POINTS) and counts["FACE_LANDMARKS"] in (468, 478):
        return "holistic"
    if body == list(REDUCED_BODY_POINTS) and counts["FACE_LANDMARKS"] == 128:
        return "reduced"
    missing = [p for p in ("RIGHT_SHOULDER", "LEFT_SHOULDER", "RIGHT_ELBOW", "LEFT_ELBOW", "RIGHT_WRIST", "LEFT_WRIST")
               if p not in body]
    problem = (f"has POSE_LANDMARKS without {', '.join(missing)}" if missing else
               f"has {counts['POSE_LANDMARKS']} body and {counts['FACE_LANDMARKS']} face points: neither the full "
               "holistic set (33, 468) nor the reduced one (8, 128)")
    raise InputError(path, problem, "Extract it again with MediaPipe Holistic keeping all points.")


# --- conversions ---------------------------------------------------------------------------------

def to_layout(pose: Pose, name: str, path=None) -> Pose:
    """`pose` in layout `name`. holistic -> reduced -> s2g49 lose points; the way back fills what
    exists (s2g49 -> holistic: shoulders, elbows, wrists, hands) and leaves the rest at conf 0.
    `path` only names the file in errors."""
    _check_name(name)
    try:
        source = layout_of(pose, path)
    except InputError:
        # A MediaPipe file with parts stripped (legs by pose-format's pose_hide_legs, the world copy,
        # the face when only s2g49 is wanted) still converts when the target's own needs are there;
        # the points it lacks get conf 0. Otherwise say what the target misses.
        if not set(c.name for c in pose.header.components) & set(HOLISTIC_COMPONENTS):
            raise
        problem = _missing_for(pose, name)
        if problem:
            raise InputError(path, problem, "Extract it again with MediaPipe Holistic keeping all components "
                                            "(pose-format's `video_to_pose --format mediapipe`).") from None
        if name != "holistic":
            for hand in ("LEFT", "RIGHT"):
                if f"{hand}_HAND_LANDMARKS" in (c.name for c in pose.header.components):
                    pose = correct_wrist(pose, hand)
        return _by_names(pose, name)
    if source == name and pose.header.total_points() == NUM_POINTS[name]:
        return Pose(pose.header, pose.body.copy())
    if source == name:  # holistic with refined irises (478 face points): drop them, keep indices standard
        return _by_names(pose, name)
    if source == "holistic" and name in ("reduced", "s2g49"):
        # pose-to-video's convention: a wrist the hand model saw replaces the body model's wrist.
        reduced = reduce_holistic(correct_wrists(pose))
        reduced = pose_from_arrays(reduced.header, ma.getdata(reduced.body.data), reduced.body.confidence, reduced.body.fps)
        return reduced if name == "reduced" else to_layout(reduced, "s2g49", path)
    return _by_names(pose, name)


@functools.lru_cache(maxsize=1)
def _reduce_indices() -> tuple[np.ndarray, tuple[tuple[int, int], ...]]:
    """(select (178,) holistic indices of the reduced points, ((reduced body wrist, holistic hand
    wrist) for left and right))."""
    o = _offsets("holistic")
    select = ([o["POSE_LANDMARKS"] + BODY_POINTS.index(p) for p in REDUCED_BODY_POINTS]
              + [o["FACE_LANDMARKS"] + i for i in REDUCED_FACE_IDS]
              + [o[f"{side}_HAND_LANDMARKS"] + i for side in ("LEFT", "RIGHT") for i in range(21)])
    wrists = tuple((REDUCED_BODY_POINTS.index(f"{side}_WRIST"), o[f"{side}_HAND_LANDMARKS"]) for side in ("LEFT", "RIGHT"))
    return np.asarray(select, np.intp), wrists


def reduce_arrays(xy: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Holistic arrays xy (..., 543 or 576, D), conf (..., K) -> the reduced layout's (..., 178, D),
    (..., 178): `to_layout(pose, "reduced")` on arrays (pose-format's `correct_wrists` then
    `reduce_holistic`: a wrist the hand model saw replaces the body model's wrist)."""
    select, wrists = _reduce_indices()
    out_xy, out_conf = np.take(xy, select, axis=-2), np.take(conf, select, axis=-1)
    for body_wrist, hand_wrist in wrists:
        seen = conf[..., hand_wrist] > 0
        out_xy[..., body_wrist, :] = np.where(seen[..., None], xy[..., hand_wrist, :], out_xy[..., body_wrist, :])
        out_conf[..., body_wrist] = np.where(seen, conf[..., hand_wrist], out_conf[..., body_wrist])
    return out_xy, out_conf


def _keys(header: PoseHeader) -> list[tuple[str, str] | None]:
    """Each point of `header` as its holistic (component, point) name; None where there is none."""
    if [c.name for c in header.components] == [S2G_COMPONENT]:
        return list(S2G49_SOURCES)
    return [(c.name, p) for c in header.components for p in c.points]


def _missing_for(pose: Pose, name: str) -> str | None:
    """What a MediaPipe-named pose lacks that layout `name` needs (arms, both hands but for reduced,
    and but for s2g49 the face), as a problem sentence; None if nothing."""
    components = {c.name: c.points for c in pose.header.components}
    for hand in ("LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"):
        if hand not in components and name == "reduced":
            continue  # converted with the hand at conf 0: the renderer draws it at rest (rest_hands)
        if hand not in components:
            return f"has no {hand}; the {name} layout needs both hands"
        if components[hand] != list(HAND_POINTS):
            return f"has {hand} without MediaPipe's 21 hand points"
    arms = ("RIGHT_SHOULDER", "LEFT_SHOULDER", "RIGHT_ELBOW", "LEFT_ELBOW", "RIGHT_WRIST", "LEFT_WRIST")
    missing = [p for p in arms if p not in components.get("POSE_LANDMARKS", ())]
    if missing:
        return f"has POSE_LANDMARKS without {', '.join(missing)}; the {name} layout needs shoulders, elbows and wrists"
    if name != "s2g49" and "FACE_LANDMARKS" not in components:
        return f"has no FACE_LANDMARKS; the {name} layout needs the face"
    if name == "reduced" and not set(_reduced_face_points()) <= set(components["FACE_LANDMARKS"]):
        return "has FACE_LANDMARKS without the face contour points the reduced layout needs"
    return None


def _by_names(pose: Pose, name: str) -> Pose:
    """Copy every target point from the source point of the same holistic name."""
    dims = pose.header.dimensions
    source_format = pose.header.components[0].format
    target_format = "XYC" if name == "s2g49" else ("XYZC" if source_format == "XYC" else source_format)
    header = layout_header(name, dims.width, dims.height, target_format)
    header.dimensions = dims
    data, conf = ma.getdata(pose.body.data), np.asarray(pose.body.confidence, np.float32)
    frames, people = conf.shape[:2]
    out = np.zeros((frames, people, header.total_points(), header.num_dims()), np.float32)
    out_conf = np.zeros((frames, people, header.total_points()), np.float32)
    where = {key: i for i, key in enumerate(_keys(pose.header)) if key is not None}
    d = min(out.shape[-1], data.shape[-1])
    for i, key in enumerate(_keys(header)):
        if key in where and not key[0] == "POSE_WORLD_LANDMARKS":
            out[:, :, i, :d] = data[:, :, where[key], :d]
            out_conf[:, :, i] = conf[:, :, where[key]]
    if name == "s2g49":  # the neck: shoulder midpoint, as sure as the less sure shoulder
        r, l = where[("POSE_LANDMARKS", "RIGHT_SHOULDER")], where[("POSE_LANDMARKS", "LEFT_SHOULDER")]
        out[:, :, 0, :d] = (data[:, :, r, :d] + data[:, :, l, :d]) / 2
        out_conf[:, :, 0] = np.minimum(conf[:, :, r], conf[:, :, l])
    return pose_from_arrays(header, out, out_conf, pose.body.fps)


def _check_name(name: str) -> None:
    if name not in LAYOUTS:
        raise ValueError(f"unknown layout {name!r}; one of {LAYOUTS}")


# --- index helpers (points in the layout's order) --------------------------------------------------

def _offsets(layout: str) -> dict[str, int]:
    sizes = {"holistic": (("POSE_LANDMARKS", 33), ("FACE_LANDMARKS", 468), ("LEFT_HAND_LANDMARKS", 21),
                          ("RIGHT_HAND_LANDMARKS", 21), ("POSE_WORLD_LANDMARKS", 33)),
             "reduced": (("POSE_LANDMARKS", 8), ("FACE_LANDMARKS", 128), ("LEFT_HAND_LANDMARKS", 21),
                         ("RIGHT_HAND_LANDMARKS", 21))}[layout]
    starts, at = {}, 0
    for component, size in sizes:
        starts[component] = at
        at += size
    return starts


def face_mesh_ids(layout: str) -> list[int]:
    """MediaPipe face-mesh ids (0..467) of the layout's face points, in the layout's order
    (holistic: all 468; reduced: the 128 contour points; s2g49: none)."""
    _check_name(layout)
    if layout == "s2g49":
        return []
    return list(range(468)) if layout == "holistic" else list(REDUCED_FACE_IDS)


def point_index(layout: str, component: str, point: str | int) -> int:
    """Index of a holistic-named point in `layout`, e.g. ("s2g49", "LEFT_HAND_LANDMARKS", "WRIST") -> 7,
    ("reduced", "FACE_LANDMARKS", 13) -> the upper inner lip. ValueError if the layout lacks it."""
    _check_name(layout)
    if layout == "s2g49":
        if (component, point) not in S2G49_SOURCES:
            raise ValueError(f"s2g49 has no {component} {point}")
        return S2G49_SOURCES.index((component, point))
    if component == "FACE_LANDMARKS":
        names = [str(i) for i in face_mesh_ids(layout)]
    else:
        names = {"POSE_LANDMARKS": BODY_POINTS if layout == "holistic" else REDUCED_BODY_POINTS,
                 "LEFT_HAND_LANDMARKS": HAND_POINTS, "RIGHT_HAND_LANDMARKS": HAND_POINTS}.get(component, ())
    if str(point) not in names:
        raise ValueError(f"{layout} has no {component} {point}")
    return _offsets(layout)[component] + list(names).index(str(point))


def shoulder_indices(layout: str) -> Pair:
    """(right, left) shoulder indices: the normalization reference."""
    return Pair(point_index(layout, "POSE_LANDMARKS", "RIGHT_SHOULDER"), point_index(layout, "POSE_LANDMARKS", "LEFT_SHOULDER"))


def wrist_indices(layout: str) -> Pair:
    """(right, left) body wrist indices."""
    return Pair(point_index(layout, "POSE_LANDMARKS", "RIGHT_WRIST"), point_index(layout, "POSE_LANDMARKS", "LEFT_WRIST"))


def point_groups(layout: str) -> dict[str, list[int]]:
    """Index lists: "body" (arms and torso; holistic: all 33 POSE_LANDMARKS, not the world copy),
    "face" (empty in s2g49), "left_hand", "right_hand" (21 each, hand wrist first)."""
    _check_name(layout)
    if layout == "s2g49":
        return {"body": list(range(7)), "face": [], "left_hand": list(range(7, 28)), "right_hand": list(range(28, 49))}
    o = _offsets(layout)
    body, face = (33, 468) if layout == "holistic" else (8, 128)
    return {"body": list(range(o["POSE_LANDMARKS"], o["POSE_LANDMARKS"] + body)),
            "face": list(range(o["FACE_LANDMARKS"], o["FACE_LANDMARKS"] + face)),
            "left_hand": list(range(o["LEFT_HAND_LANDMARKS"], o["LEFT_HAND_LANDMARKS"] + 21)),
            "right_hand": list(range(o["RIGHT_HAND_LANDMARKS"], o["RIGHT_HAND_LANDMARKS"] + 21))}


def limbs(layout: str) -> list[tuple[int, int]]:
    """Every limb as a pair of point indices in the layout (holistic without the world copy and the
    face tesselation: the face's limbs are its contour for reduced, none for holistic)."""
    header = layout_header(layout, 1, 1)
    out, at = [], 0
    for c in header.components:
        if c.name not in ("POSE_WORLD_LANDMARKS",) and not (layout == "holistic" and c.name == "FACE_LANDMARKS"):
            out += [(at + a, at + b) for a, b in c.limbs]
        at += len(c.points)
    return out
