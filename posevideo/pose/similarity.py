"""Similarity fits: how alike two point sets are once position, size and rotation are set aside.

`similarity_fit` is Umeyama's least-squares similarity (1991, "Least-squares estimation of
transformation parameters between two point patterns"): scale s, rotation R (no reflection) and
shift t minimizing sum ||dst_i - (s R src_i + t)||^2. Used by the pose-consistency metric
(`posevideo evaluate consistency`) to compare a detected pose with the one that was drawn, so
that a body drawn a little larger or off-centre is not an error but a bent elbow is.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Similarity(NamedTuple):
    scale: float
    rotation: np.ndarray  # (2, 2), det +1
    shift: np.ndarray  # (2,)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) -> (..., 2): s R p + t."""
        return self.scale * points @ self.rotation.T + self.shift


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> Similarity:
    """The similarity mapping `src` (N, 2) onto `dst` (N, 2) best in least squares (N >= 2).
    Degenerate `src` (all points equal) gets scale 0: everything maps to dst's centroid."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"similarity_fit needs two (N, 2) arrays with N >= 2, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    var_s = (a ** 2).sum() / len(a)
    cov = b.T @ a / len(a)                                    # (2, 2) = E[(dst - mu_d)(src - mu_s)^T]
    u, d, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, -1.0 if np.linalg.det(u) * np.linalg.det(vt) < 0 else 1.0])  # a rotation, not a mirror
    rotation = u @ sign @ vt
    scale = float((d * np.diag(sign)).sum() / var_s) if var_s > 0 else 0.0
    return Similarity(scale, rotation, mu_d - scale * rotation @ mu_s)


def fit_error(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(N,) distances, in `dst` units, between `dst` and `src` after `src` is fitted onto it."""
    fit = similarity_fit(src, dst)
    return np.linalg.norm(fit.apply(np.asarray(src, np.float64)) - dst, axis=-1)
