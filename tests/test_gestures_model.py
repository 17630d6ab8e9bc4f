"""The speech2gesture generator and motion discriminator: sizes and shapes."""
import torch

from posevideo.cli import _GESTURE_PRESETS
from posevideo.gestures.model import PRESETS, GestureConfig, GestureGenerator, MotionDiscriminator, count_parameters


def test_original_configuration_has_about_7_point_4_million_parameters():
    # The paper's generator for 49 keypoints: about 7.4 M; this one has 7.22 M.
    n = count_parameters(GestureGenerator(GestureConfig(n_points=49)))
    assert 7.0e6 < n < 7.5e6, n


def test_shapes_for_a_window_and_for_longer_input():
    cfg = PRESETS["tiny"]
    g, d = GestureGenerator(cfg), MotionDiscriminator(cfg)
    mel = torch.randn(2, 425, 64)  # 64 pose frames of log-mel (100 fps)
    z = g(mel)
    assert z.shape == (2, 64, 49, 2)
    scores = d(z)
    assert scores.ndim == 2 and scores.shape[0] == 2  # one score a patch of motion
    assert g(torch.randn(1, 850, 64), 128).shape == (1, 128, 49, 2)


def test_pose_statistics_round_trip():
    g = GestureGenerator(GestureConfig(n_points=3))
    g.pose_mean.copy_(torch.tensor([[1.0, 2.0]] * 3))
    g.pose_std.copy_(torch.tensor([[0.5, 0.1]] * 3))
    pose = torch.randn(4, 3, 2)
    assert torch.allclose(g.to_pose(g.to_z(pose)), pose, atol=1e-6)


def test_cli_lists_every_preset():
    assert set(_GESTURE_PRESETS) == set(PRESETS)
