"""speech2gesture's metrics on hand-made cases, and the evaluation table on a toy speaker."""
import numpy as np
import pytest

from posevideo.gestures.data import scored_groups as point_groups
from posevideo.gestures.evaluate import diversity, l1_pixels, motion, pck


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


# --- does it move like the speaker: distributions, beats, FGD ------------------------------------

def test_wrist_speed_distance_is_the_gap_in_pixels_a_frame():
    from posevideo.gestures.evaluate import distribution_distance, wrist_kinematics

    t = np.arange(20, dtype=np.float32)
    truth, slow = np.zeros((1, 20, 3, 2), np.float32), np.zeros((1, 20, 3, 2), np.float32)
    truth[0, :, 1, 0], slow[0, :, 1, 0] = 5 * t, 3 * t  # wrist 1 moves 5 px a frame, or 3
    speed, accel = wrist_kinematics(truth, (1, 2))
    assert speed.shape == (38,) and accel.shape == (36,) and accel.max() == 0
    assert distribution_distance(wrist_kinematics(slow, (1, 2))[0], speed) == pytest.approx(1.0)  # half the values 2 px off
    assert distribution_distance(speed, speed) == 0.0


def _beats(onsets, frames=64, shift=0.0, still=False):
    """A log-mel (100 fps) silent but for bursts at `onsets` s, and a wrist whose speed peaks at each onset + shift."""
    from posevideo.gestures.features import mel_frames_for

    mel = np.full((mel_frames_for(frames), 64), -13.8, np.float32)
    for o in onsets:
        mel[int(o * 100): int(o * 100) + 15] = 0.0
    px = np.zeros((frames, 2, 2), np.float32)
    if not still:
        t = np.arange(frames) / 15
        for o in onsets:  # a stroke: position steps by 20 px around o + shift, so speed peaks there
            px[:, 0, 1] += 20 / (1 + np.exp(-(t - o - shift) * 40))
    return px, mel


def test_beat_alignment_scores_motion_on_the_onsets():
    from posevideo.gestures.evaluate import audio_onsets, beat_alignment

    onsets = [0.5, 1.3, 2.2, 3.0, 3.8]
    px, mel = _beats(onsets)
    assert np.abs(audio_onsets(mel) - np.array(onsets)).max() < 0.02
    aligned, peaks = beat_alignment(px[None], mel[None], (0, 1))
    late, _ = beat_alignment(_beats(onsets, shift=0.3)[0][None], mel[None], (0, 1))
    still, none = beat_alignment(_beats(onsets, still=True)[0][None], mel[None], (0, 1))
    assert peaks == len(onsets) and aligned > 0.8 > 0.2 > late
    assert still == 0.0 and none == 0


def test_frechet_distance_of_gaussians():
    from posevideo.gestures.fgd import frechet_distance

    rng = np.random.default_rng(0)
    a = rng.standard_normal((4000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a + 2.0, a) == pytest.approx(12.0, rel=1e-3)  # |mu|^2 = 3 x 2^2
    assert frechet_distance(3 * a, a) == pytest.approx(3 * (3 - 1) ** 2, rel=0.1)  # sum (s1 - s2)^2


def test_fgd_encoder_trains_caches_and_ranks_a_still_pose_far(tmp_path):
    from posevideo.gestures.data import toy_clips
    from posevideo.gestures.fgd import features_for, frechet_distance, load_features, train_features

    clips = toy_clips(seconds=60, n_points=4, clips=3, seed=5)
    points = np.arange(4)
    features = train_features(clips, points, steps=40, show_progress=False)
    rows = clips.windows("test", 64, hop=8)
    truth = clips.pose[rows[:, 1:2] + np.arange(64)]  # (W, 64, 4, 2)
    codes = features.codes(truth)
    assert codes.shape == (len(rows) * 5, 32)  # five 32-frame stretches every 8 frames of a 64-frame window
    still = np.broadcast_to(np.median(truth, axis=(0, 1)), truth.shape)
    train_rows = clips.windows("train", 64, hop=8)
    other = clips.pose[train_rows[:len(rows), 1:2] + np.arange(64)]  # real motion, other moments
    assert frechet_distance(features.codes(other), codes) < frechet_distance(features.codes(still), codes)
    # Cached beside the data as safetensors + JSON, reused while the train split is the same.
    stem = tmp_path / "gesture_fgd"
    first = features_for(clips, points, stem, show_progress=False, steps=40)
    assert stem.with_suffix(".safetensors").exists() and stem.with_suffix(".json").exists()
    again = features_for(clips, points, stem, show_progress=False, steps=40)
    np.testing.assert_allclose(again.codes(truth), first.codes(truth), atol=1e-5)
    assert load_features(stem).meta["fingerprint"] == first.meta["fingerprint"]


def test_other_models_in_one_table_and_the_trajectory_figure(tmp_path):
    """`--also`: more generators scored on the same windows; the figures take a window from each of
    several test clips (each de-normalized with its own clip's scale: the regression of a first
    version, which broadcast every window's scale over the examples)."""
    from dataclasses import replace

    from posevideo.gestures.data import toy_clips
    from posevideo.gestures.evaluate import evaluate, table, trajectory_figure
    from posevideo.gestures.model import PRESETS, GestureGenerator

    clips = toy_clips(seconds=60, n_points=4, clips=4, seed=3)
    clips.split[:] = ["train", "train", "test", "test"]
    clips.scale[:] = [100, 100, 90, 110]
    cfg = replace(PRESETS["tiny"], n_points=4, pose_frames=32, unet_depth=4, width=16, encoder_width=4)
    a, b = GestureGenerator(cfg).eval(), GestureGenerator(cfg).eval()
    results = evaluate(a, clips, "test", extra={"other": b})
    assert {"model", "other"} <= set(results["methods"]) and "| other |" in table(results)
    for name in ("model", "other"):
        row = results["methods"][name]
        assert {"l1", "speed_dist", "accel_dist", "beat_align", "wrist_std"} <= set(row)
    example = results["_example"]
    assert example["truth"].shape[0] == 2  # one window of each test clip
    scale = clips.scale[[2, 3]][:, None, None, None]
    first = clips.pose_offsets[2]
    np.testing.assert_allclose(example["truth"][0], clips.pose[first:first + 32] * scale[0] + clips.center[2], rtol=1e-5)
    trajectory_figure(results | {"model": "run/L1-only"}, tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 10_000
