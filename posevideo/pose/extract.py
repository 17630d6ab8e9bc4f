"""Pose extraction: video frames -> a MediaPipe Holistic pose in the video's pixels.

MediaPipe Holistic through pose-format (`load_holistic`), `model_complexity=1`: mediapipe 0.10.21
carries that model in its wheel, so nothing is downloaded (complexity 0 and 2 would download).
Used by `prepare` (which keys green screens between decoding and extraction), `transfer` (a
driver video) and `evaluate consistency` (the renderer's own output).
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from posevideo.errors import InputError
from posevideo.pose.framing import main_person, pose_shoulders, shoulder_track
from posevideo.pose.motion import DEFAULT_CUTOFF_HZ, fill_gaps, smooth

MAX_SIDE = 960  # frames larger than this (longest side, pixels) are downscaled before extraction
# What MediaPipe 0.10.21's C++ side writes to file descriptor 2 as Holistic starts, eleven lines a
# process, which no environment variable silences (`GLOG_minloglevel`, `ABSL_MIN_LOG_LEVEL` tried):
#   INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
#   WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
#   W0000 00:00:1796613401.828757    5771 inference_feedback_manager.cc:114] Feedback manager requires ...
#   W0000 00:00:1796613401.903840    5770 landmark_projection_calculator.cc:186] Using NORM_RECT without ...
# Each match runs to the end of its line and may start inside one: a progress bar written in the same
# window has no newline of its own (each update starts with "\r"), so the warning after it shares its line.
STARTUP_NOISE = re.compile(rb"(?:INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
                           rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
                           rb"|[WI]\d{4} [\d:.]+ +\d+ (?:inference_feedback_manager|landmark_projection_calculator)\.cc:\d+\] )"
                           rb"[^\n]*\n?")


def downscale(frame: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """`frame` shrunk so that its longest side is at most `max_side` (MediaPipe gives normalized
    coordinates, so the pose of a smaller copy is the same pose; it costs a fraction of the time)."""
    h, w = frame.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return frame
    return cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def holistic(frames: Iterable[np.ndarray], fps: float, width: int, height: int, refine_face: bool = True,
             path=None, static: bool = False):
    """RGB frames (H, W, 3) uint8 of a `width` x `height` video at `fps` (any scale of it) -> a
    holistic Pose (one person, points in `width` x `height` pixels, one pose frame per frame),
    raw: no cleaning. `static`: detect afresh in every frame (frames that are not a sequence; slower)
    instead of tracking from the previous frame. `path` only names the source in errors."""
    from pose_format.utils.holistic import load_holistic  # imports mediapipe (~1.5 s): only when needed

    config = {"model_complexity": 1, "refine_face_landmarks": refine_face, "static_image_mode": static}
    quiet = QuietStart()

    def counted():
        for i, frame in enumerate(frames):
            # pose-format asks for frame i + 1 before it waits for frame i: at frame 2, frame 0 is
            # through, and with it the graph's and its models' start
            if i == 2:
                quiet.stop()
            yield frame

    try:
        with quiet:
            # Landmarks come normalized to [0, 1]; width/height scale them back to source pixels.
            return load_holistic(counted(), fps=fps, width=width, height=height, additional_holistic_config=config)
    except ValueError as error:  # "need at least one array to stack": no frame at all
        raise InputError(path, "no frame could be decoded", "Re-export the video.") from error


class QuietStart:
    """While active, what is written to file descriptor 2 (C++ and Python alike) goes to a temporary
    file; on `stop()` or exit it is written to stderr after all, less what STARTUP_NOISE matches.
    Held over Holistic's start only (graph and models, the first frame), so a progress bar or an
    error that comes later is not delayed. A process killed inside that window loses what it wrote
    there."""

    def __init__(self):
        self._saved = self._caught = None

    def __enter__(self) -> "QuietStart":
        sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:     # no file descriptor 2 (a detached process): nothing to filter
            return self
        self._caught = tempfile.TemporaryFile()
        self._saved = saved
        os.dup2(self._caught.fileno(), 2)
        return self

    def stop(self) -> None:
        if self._saved is None:
            return
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._saved = None
        self._caught.seek(0)
        kept = STARTUP_NOISE.sub(b"", self._caught.read())
        self._caught.close()
        if kept:
            sys.stderr.write(kept.decode(errors="replace"))
            sys.stderr.flush()

    def __exit__(self, *exc) -> None:
        self.stop()


def clean(pose, fps: float, path=None):
    """Frames where MediaPipe briefly followed someone else are dropped (conf 0); then gap filling
    (dropouts of a hand or the face up to 0.2 s) and a light low-pass against jitter."""
    from posevideo.pose.io import arrays, replace_arrays

    xy, conf = arrays(pose)
    right, left = pose_shoulders(pose, path)
    mid, width, valid = shoulder_track(xy, conf, left, right)
    conf[valid & ~main_person(mid, width, valid, fps)] = 0
    xy, conf = fill_gaps(xy, conf, max_gap=max(1, int(round(fps / 5))))
    xy, conf = smooth(xy, conf, fps, cutoff_hz=min(DEFAULT_CUTOFF_HZ, fps / 2.5))
    return replace_arrays(pose, xy, conf)


def extract_video(path: str | Path, info=None, refine_face: bool = True, max_side: int = MAX_SIDE,
                  progress: Callable[[int], None] | None = None):
    """A video file's cleaned holistic Pose: source pixels, the video's average fps, one pose frame
    per (constant-rate) video frame. `info` is `posevideo.video.probe(path)`; `progress(n)` is
    called as frames are done."""
    from posevideo.video import constant_rate_frames, probe

    info = info or probe(path)

    def frames():
        for frame in constant_rate_frames(path, info):
            if progress is not None:
                progress(1)
            yield downscale(frame, max_side)

    return clean(holistic(frames(), info.fps, info.width, info.height, refine_face, path), info.fps, path)
