"""Pixel <-> normalized coordinates: shoulder midpoint to 0, shoulder width to 1.

pose-format's convention (`Pose.normalize(pose_normalization_info(header))`): the centre is the
mean shoulder midpoint and the unit the mean shoulder distance, over the frames where both
shoulders were seen. The statistics are returned, so `denormalize` is the exact inverse, and they
are JSON-able, so a checkpoint can carry the speaker's statistics.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posevideo.errors import InputError
from posevideo.pose.layouts import shoulder_indices


@dataclass(frozen=True, eq=False)  # eq on arrays would be ambiguous
class NormStats:
    """center: (2,) pixels, or (T, 2) per frame; scale: shoulder width in pixels, float or (T,)."""
    center: np.ndarray
    scale: float | np.ndarray

    @property
    def per_frame(self) -> bool:
        return np.ndim(self.center) == 2

    def to_dict(self) -> dict:
        return {"center": np.asarray(self.center, float).tolist(), "scale": np.asarray(self.scale, float).tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "NormStats":
        scale = np.asarray(d["scale"], np.float64)
        return cls(center=np.asarray(d["center"], np.float64), scale=float(scale) if scale.ndim == 0 else scale)


def normalize(xy: np.ndarray, conf: np.ndarray, layout: str, per_frame: bool = False, path=None
              ) -> tuple[np.ndarray, NormStats]:
    """xy (T, K, 2) pixels, conf (T, K) -> (xy_n (T, K, 2) float32 in shoulder widths, NormStats).

    per_frame=False (the default, and what models train on) uses one centre and scale for the whole
    sequence, so motion of the shoulders themselves is kept. per_frame=True uses each frame's own
    shoulders (frames without both shoulders fall back to the sequence values): for retargeting or
    comparing frames of different framing. Points with conf 0 come out as 0. `path` only names
    the file in errors."""
    xy = np.asarray(xy, np.float64)
    stats = shoulder_stats(xy, conf, layout, per_frame, path)
    return _apply(xy, stats, forward=True, valid=np.asarray(conf) > 0), stats


def shoulder_stats(xy: np.ndarray, conf: np.ndarray, layout: str, per_frame: bool = False, path=None) -> NormStats:
    """The NormStats `normalize` uses, without normalizing (the same arguments)."""
    xy = np.asarray(xy, np.float64)
    conf = np.asarray(conf)
    right, left = shoulder_indices(layout)
    seen = (conf[:, right] > 0) & (conf[:, left] > 0)
    if not seen.any():
        raise InputError(path, "has no frame with both shoulders seen, so it cannot be normalized",
                         "Check the video shows the person's upper body, and the pose extraction.")
    mid = (xy[:, right] + xy[:, left]) / 2  # (T, 2)
    width = np.linalg.norm(xy[:, right] - xy[:, left], axis=-1)  # (T,)
    center = mid[seen].mean(axis=0)
    scale = float(width[seen].mean())
    if not scale > 0:
        raise InputError(path, "has both shoulders on the same pixel in every frame, so it cannot be normalized",
                         "Check the pose extraction.")
    if per_frame:
        use = seen & (width > 1e-6 * scale)
        center = np.where(use[:, None], mid, center)
        scale = np.where(use, width, scale)
    return NormStats(center=center, scale=scale)


def denormalize(xy_n: np.ndarray, stats: NormStats) -> np.ndarray:
    """Inverse of `normalize`: xy_n (T, K, 2) shoulder widths -> (T, K, 2) float32 pixels."""
    return _apply(np.asarray(xy_n, np.float64), stats, forward=False)


def place_by_shoulders(xy: np.ndarray, conf: np.ndarray, layout: str, target: NormStats, path=None) -> np.ndarray:
    """Move a motion onto another body's framing (`retarget_pose`'s "place"; named so as not to
    shadow the `posevideo.pose.retarget` module): normalize with its own shoulders, then
    denormalize with `target` (e.g. the statistics of the person a renderer was trained on).
    Points with conf 0 come out at the target's centre; their conf stays 0."""
    xy_n, _ = normalize(xy, conf, layout, path=path)
    return denormalize(xy_n, target)


def _apply(xy: np.ndarray, stats: NormStats, forward: bool, valid: np.ndarray | None = None) -> np.ndarray:
    center = np.asarray(stats.center, np.float64)
    scale = np.asarray(stats.scale, np.float64)
    if stats.per_frame:
        if len(center) != len(xy):
            raise ValueError(f"per-frame statistics for {len(center)} frames, data has {len(xy)}")
        center, scale = center[:, None, :], scale[:, None, None]
    out = (xy - center) / scale if forward else xy * scale + center
    if valid is not None:
        out = np.where(valid[..., None], out, 0)
    return out.astype(np.float32)
