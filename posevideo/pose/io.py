""".pose files in and out (pose-format), and the step between a Pose and plain arrays.

A `Pose` here is pose-format's own object (`pose_format.Pose` with a `NumPyPoseBody`), so anything
we write opens with `pose_format.Pose.read` and anything pose-format writes opens here.
Data inside a Pose: `body.data` (frames, people, points, dims) masked where confidence is 0,
`body.confidence` (frames, people, points). Coordinates are pixels of the source video.
"""
from __future__ import annotations

import copy
import math
import struct
from pathlib import Path

import numpy as np
import numpy.ma as ma
from pose_format import Pose
from pose_format.numpy import NumPyPoseBody
from pose_format.pose_header import PoseHeader, PoseHeaderDimensions
from pose_format.utils.reader import BufferReader

from posevideo.errors import InputError
from posevideo.files import atomic_output

_MAKE_POSE = "Make it again with pose-format (`video_to_pose --format mediapipe`) or `posevideo prepare`."


def read_pose(path: str | Path) -> Pose:
    """Read a .pose file; any file pose-format cannot read gives one InputError naming it and why."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "does not exist" if not path.exists() else "is not a file", "Check the path.")
    buffer = path.read_bytes()
    if not buffer:
        raise InputError(path, "is empty (0 bytes), not a .pose file", _MAKE_POSE)
    _check_bytes(path, buffer)
    try:
        pose = Pose.read(buffer)
    except Exception as error:  # any other failure inside pose-format: still the file's fault
        raise InputError(path, f"could not be read by pose-format ({type(error).__name__}: {error})", _MAKE_POSE) from error
    # pose-format caches the last header it parsed and hands the same object to every later read of
    # an identical header: a caller that changes its pose's header (prepare rescales dimensions)
    # would change the next file's too. Each pose gets its own.
    pose.header = copy.deepcopy(pose.header)
    return pose


def _check_bytes(path: Path, buffer: bytes) -> None:
    """Parse the header and the body's size fields ourselves, so that a wrong or cut file gets a
    message saying what is wrong instead of a struct/numpy error from deep inside pose-format."""
    (version,) = struct.unpack("<f", buffer[:4]) if len(buffer) >= 4 else (math.nan,)
    if not any(abs(version - v) < 1e-6 for v in (0.0, 0.1, 0.2)):
        raise InputError(path, f"is not a .pose file (pose-format could not parse its header: version field reads {version:.4g}, "
                               "expected 0.0, 0.1 or 0.2)", _MAKE_POSE)
    reader = BufferReader(buffer)
    try:
        header = PoseHeader.read(reader)
    except Exception as error:
        raise InputError(path, f"is not a .pose file, or its header is cut short (pose-format could not parse its header: "
                               f"{type(error).__name__})", _MAKE_POSE) from error
    formats_ok = all(c.format[-1:] == "C" and 3 <= len(c.format) <= 5 and c.format.isalpha() for c in header.components)
    if not header.components or not formats_ok or any(not c.points for c in header.components):
        raise InputError(path, "is not a .pose file (pose-format could not parse its header: no components, or a point "
                               "format other than XYC/XYZC)", _MAKE_POSE)
    points, dims = header.total_points(), header.num_dims()
    if round(version, 3) == 0.2:
        if reader.bytes_left() < 10:
            raise InputError(path, "is truncated: it ends inside the header (no frame count)", _MAKE_POSE)
        fps, frames, people = struct.unpack_from("<fIH", buffer, reader.read_offset)
        left = reader.bytes_left() - 10
        if not (math.isfinite(fps) and fps > 0):
            raise InputError(path, f"has an invalid frame rate in its header ({fps})", _MAKE_POSE)
        frame_bytes = people * points * (dims + 1) * 4  # float32 coordinates then float32 confidence
        if frame_bytes and left < frames * frame_bytes:
            raise InputError(path, f"is truncated: header says {frames} frames but body holds {left // frame_bytes}", _MAKE_POSE)
        if left > frames * frame_bytes:
            raise InputError(path, f"has {left - frames * frame_bytes} bytes after its {frames} frames (corrupt, or two files "
                                   "joined)", _MAKE_POSE)
    elif version == 0.0:  # pose-format's first files: each frame and person carries its own header
        _check_v0_0(path, buffer, reader.read_offset, [len(c.points) * len(c.format) for c in header.components])
    else:  # 0.1 stores no usable frame count: the body must hold whole frames
        if reader.bytes_left() < 6:
            raise InputError(path, "is truncated: it ends inside the header (no frame count)", _MAKE_POSE)
        (people,) = struct.unpack_from("<H", buffer, reader.read_offset + 4)
        frame_bytes = people * points * (dims + 1) * 4
        if frame_bytes and (reader.bytes_left() - 6) % frame_bytes:
            raise InputError(path, "is truncated: its body does not hold a whole number of frames", _MAKE_POSE)


def _check_v0_0(path: Path, buffer: bytes, at: int, floats: list[int]) -> None:
    """Walk a version 0.0 body (fps, frames as uint16; per frame a uint16 person count; per person
    an int16 id and every component's points with confidence as float32) without reading it."""
    if len(buffer) - at < 4:
        raise InputError(path, "is truncated: it ends inside the header (no frame count)", _MAKE_POSE)
    fps, frames = struct.unpack_from("<HH", buffer, at)
    if fps == 0:
        raise InputError(path, "has an invalid frame rate in its header (0)", _MAKE_POSE)
    at += 4
    person_bytes = 2 + 4 * sum(floats)
    for frame in range(frames):
        if len(buffer) - at < 2:
            raise InputError(path, f"is truncated: header says {frames} frames but body holds {frame}", _MAKE_POSE)
        (people,) = struct.unpack_from("<H", buffer, at)
        at += 2 + people * person_bytes
        if at > len(buffer):
            raise InputError(path, f"is truncated: header says {frames} frames but body holds {frame}", _MAKE_POSE)
    if at < len(buffer):
        raise InputError(path, f"has {len(buffer) - at} bytes after its {frames} frames (corrupt, or two files joined)",
                         _MAKE_POSE)


def write_pose(pose: Pose, path: str | Path) -> None:
    """Write atomically (a killed run leaves no half file). The suffix must be .pose."""
    path = Path(path)
    if path.suffix != ".pose":
        raise InputError(path, "does not end in .pose", "Name the output <name>.pose.")
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        pose.write(f)


def pose_from_arrays(header: PoseHeader, data: np.ndarray, conf: np.ndarray, fps: float) -> Pose:
    """A Pose from full arrays: data (T, P, K, D), conf (T, P, K). Points with conf 0 or a NaN are
    masked and stored as 0, so the file never carries stale coordinates under a mask."""
    data = np.asarray(data, dtype=np.float32)
    conf = np.asarray(conf, dtype=np.float32).copy()
    if data.shape[:3] != conf.shape or data.ndim != 4:
        raise ValueError(f"data (T, P, K, D) and conf (T, P, K) disagree: {data.shape} vs {conf.shape}")
    if data.shape[2] != header.total_points() or data.shape[3] != header.num_dims():
        raise ValueError(f"header has {header.total_points()} points x {header.num_dims()} dims, data {data.shape}")
    conf[~np.isfinite(data).all(axis=-1) | ~np.isfinite(conf)] = 0
    conf = np.clip(conf, 0, 1)
    mask = np.repeat((conf == 0)[..., None], data.shape[-1], axis=-1)
    data = np.where(mask, 0, data).astype(np.float32)
    return Pose(header, NumPyPoseBody(fps=float(fps), data=ma.masked_array(data, mask=mask), confidence=conf))


def arrays(pose: Pose) -> tuple[np.ndarray, np.ndarray]:
    """(xy (T, K, 2) float32 pixels, conf (T, K) float32) of the first person; masked points have
    conf 0 and xy 0. A pose with no person gives conf 0 everywhere."""
    data, conf = pose.body.data, np.asarray(pose.body.confidence, dtype=np.float32)
    frames, people, points = conf.shape
    if people == 0:
        return np.zeros((frames, points, 2), np.float32), np.zeros((frames, points), np.float32)
    mask = ma.getmaskarray(data[:, 0, :, :2]).any(axis=-1)
    xy = np.asarray(ma.getdata(data[:, 0, :, :2]), dtype=np.float32)
    c = conf[:, 0].copy()
    invalid = mask | (c <= 0) | ~np.isfinite(xy).all(axis=-1) | ~np.isfinite(c)
    c[invalid] = 0
    xy = np.where(invalid[..., None], 0, xy).astype(np.float32)
    return xy, c


def replace_arrays(pose: Pose, xy: np.ndarray, conf: np.ndarray, fps: float | None = None) -> Pose:
    """A one-person copy of `pose` (same header) holding new xy (T, K, 2) pixels and conf (T, K);
    z, where the layout has it, is kept from the old pose when T is unchanged, else 0."""
    xy = np.asarray(xy, np.float32)
    dims = pose.header.num_dims()
    data = np.zeros((len(xy), 1, xy.shape[1], dims), np.float32)
    data[:, 0, :, :2] = xy
    if dims > 2 and len(xy) == len(pose.body.data) and pose.body.data.shape[1] > 0:
        data[:, 0, :, 2:] = ma.getdata(pose.body.data[:, 0, :, 2:])
    return pose_from_arrays(pose.header, data, np.asarray(conf, np.float32)[:, None], pose.body.fps if fps is None else fps)


def header_dimensions(width: int, height: int) -> PoseHeaderDimensions:
    # depth 0, as pose-format's `video_to_pose` writes it for video.
    return PoseHeaderDimensions(width=int(width), height=int(height), depth=0)
