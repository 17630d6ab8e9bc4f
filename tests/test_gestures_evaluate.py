"""speech2gesture's metrics on hand-made cases, and the evaluation table on a toy speaker."""
import numpy as np
import pytest

from posevideo.gestures.evaluate import diversity, l1_pixels, motion, pck, point_groups


def _truth():
    # Two frames of 4 points; the box of frame 0 is 100 wide and 50 high, of frame 1 40 x 80.
    return np.array([[[0, 0], [100, 0], [100, 50], [0, 50]],
                     [[10, 10], [50, 10], [50, 90], [10, 90]]], np.float32)


def test_ground_truth_scores_one():
    truth = _truth()
    assert pck(truth, truth, 0.1) == 1.0 and pck(truth, truth, 0.2) == 1.0
    assert l1_pixels(truth, truth) == 0.0


def test_known_shift_scores_the_computed_value():
    truth = _truth()
    pred = truth.copy()
    pred[:, :, 0] += 12.0  # 12 px right: thresholds are 10/20 px (frame 0) and 8/16 px (frame 1)
    assert pck(pred, truth, 0.1) == 0.0
    assert pck(pred, truth, 0.2) == 1.0
    assert l1_pixels(pred, truth) == pytest.approx(6.0)  # mean over x and y
    pred = truth.copy()
    pred[0, :2, 1] += 15.0  # two points of frame 0 move 15 px: beyond 10, within 20
    pred[1, 0, 1] += 9.0  # one point of frame 1 moves 9 px: beyond 8, within 16
    assert pck(pred, truth, 0.1) == pytest.approx(5 / 8)
    assert pck(pred, truth, 0.2) == 1.0


def test_motion_and_diversity():
    windows = np.zeros((2, 5, 1, 2), np.float32)
    windows[0, :, 0, 0] = np.arange(5) * 3.0  # 3 px a frame, no acceleration
    speed, accel = motion(windows[:1])
    assert speed == pytest.approx(3.0) and accel == pytest.approx(0.0)
    assert diversity(windows[:1]) == 0.0
    assert diversity(windows) > 0


def test_reduced_points_exclude_face_and_hips():
    groups = point_groups("reduced", 178)
    assert len(groups["body"]) == 48  # speech2gesture's 49 without the neck
    assert len(groups["mouth"]) > 40 and not set(groups["mouth"]) & set(groups["body"])
    assert list(point_groups("s2g49", 49)["body"]) == list(range(1, 49))
