"""Turned arms (`renderer/augment.py`): the points and the picture move together, the copies keep
their frame-to-frame pairs, and a training run takes them with `--arm-warps`."""
from __future__ import annotations

import numpy as np
import pytest

from posevideo.errors import InputError
from posevideo.pose import point_groups
from posevideo.renderer.augment import CHUNK, person_masks, turn_arm, turned_points, warp_arms
from posevideo.renderer.data import FrameBank, regions
from posevideo.skeleton import draw_skeletons, example_poses

LEFT_HAND = point_groups("reduced")["left_hand"]
FACE = point_groups("reduced")["face"]


def arm_pose(size: int = 128):
    """A reduced pose in crop pixels: shoulders level, the left arm hanging down then out to the right."""
    xy = np.zeros((178, 2), np.float32)
    conf = np.zeros(178, np.float32)
    xy[[0, 1]] = [[80, 40], [48, 40]]                                     # left, right shoulder
    xy[2], xy[4] = [84, 64], [100, 72]                                    # left elbow, wrist
    xy[LEFT_HAND] = xy[4] + np.stack([np.linspace(0, 8, 21), np.linspace(-3, 3, 21)], 1)
    angle = np.linspace(0, 2 * np.pi, len(FACE), endpoint=False)
    xy[FACE] = np.stack([64 + 9 * np.cos(angle), 18 + 11 * np.sin(angle)], 1)
    conf[[0, 1, 2, 4, *LEFT_HAND, *FACE]] = 1
    return xy, conf


def test_turned_points_keep_the_bones_and_carry_the_hand_with_the_wrist():
    xy, conf = arm_pose()
    new, upper, fore = turned_points(xy, conf, "left", 20.0, 90.0, 128)
    length = lambda p, a, b: np.linalg.norm(p[a] - p[b])
    assert length(new, 0, 2) == pytest.approx(length(xy, 0, 2), abs=1e-3)      # upper arm
    assert length(new, 2, 4) == pytest.approx(length(xy, 2, 4), abs=1e-3)      # forearm
    # The forearm turned 110 degrees in all: the wrist's direction from the elbow turned by that much.
    before, after = xy[4] - xy[2], new[4] - new[2]
    turn = np.degrees(np.arctan2(before[0] * after[1] - before[1] * after[0], before @ after))
    assert abs(turn) == pytest.approx(110.0, abs=1e-3)
    # The hand keeps its shape about the wrist; the face, the shoulders and the other arm stay.
    hand_before, hand_after = xy[LEFT_HAND] - xy[4], new[LEFT_HAND] - new[4]
    assert np.allclose(np.linalg.norm(hand_after, axis=1), np.linalg.norm(hand_before, axis=1), atol=1e-3)
    unmoved = [0, 1, 3, 5, *FACE]
    assert np.array_equal(new[unmoved], xy[unmoved])
    # A turn that would put the hand out of the picture, or an arm not seen: no turn.
    assert turned_points(xy, conf, "left", 0.0, 0.0, 90) is None                   # the hand reaches x 108 > 90
    assert turned_points(xy, conf, "right", 10.0, 10.0, 128) is None               # right elbow and wrist not seen


def test_a_turned_arm_takes_its_pixels_and_leaves_the_background():
    """An arm of the face's colour over a grey background moves where its points go; where it was
    is filled from around it, and its pixels of the person mask move with it."""
    import cv2
    xy, conf = arm_pose()
    skin, grey = (205, 150, 125), (60, 70, 80)
    frame = np.zeros((128, 128, 3), np.uint8) + np.uint8(grey)
    cv2.fillConvexPoly(frame, cv2.convexHull(np.round(xy[FACE]).astype(np.int32)), skin)
    cv2.line(frame, tuple(map(int, xy[0])), tuple(map(int, xy[1])), (90, 40, 40), 6)   # the shoulders (a dark top)
    for a, b in ((0, 2), (2, 4)):
        cv2.line(frame, tuple(map(int, xy[a])), tuple(map(int, xy[b])), skin, 5)
    cv2.circle(frame, tuple(map(int, xy[4] + [4, 0])), 5, skin, -1)
    person = np.any(frame != grey, axis=-1)
    out, person_out, new = turn_arm(frame, person, xy, conf, "left", 0.0, 90.0)
    old_mid, new_mid = ((xy[2] + xy[4]) / 2).astype(int), ((new[2] + new[4]) / 2).astype(int)
    assert np.abs(out[old_mid[1], old_mid[0]].astype(int) - grey).max() < 25       # filled: the background
    assert np.abs(out[new_mid[1], new_mid[0]].astype(int) - skin).max() < 25       # the forearm, moved
    assert person_out[new_mid[1], new_mid[0]] and not person_out[old_mid[1], old_mid[0]]
    assert np.array_equal(out[:30], frame[:30])                                   # the face untouched


@pytest.fixture(scope="module")
def painted_bank():
    """Ten poses of the bundled example painted as the synthetic speaker at 256, two intervals."""
    from posevideo.synthetic import look_of
    from posevideo.synthetic.draw import Painter, from_reduced
    xy, conf = example_poses(10, 256)
    painter = Painter(look_of(0), 256)
    frames = np.stack([painter.draw(points) for points in from_reduced(xy, conf)])
    meta = {"clip": np.repeat([0, 1], 5).astype(np.int32), "regions": regions(xy, conf),
            "pose_xy": np.where(conf[..., None] > 0, xy, 0).astype(np.float32), "pose_conf": conf.astype(np.float32)}
    return FrameBank(draw_skeletons(xy, conf, "reduced", 256), frames, meta=meta,
                     stats={"speaker": "synthetic", "layout": "reduced"})


def test_the_person_mask_is_the_person(painted_bank):
    """MediaPipe's selfie segmentation (in the mediapipe wheel) finds the painted person's chest and
    not the corners."""
    masks = person_masks(painted_bank.frames.numpy()[:3])
    xy = painted_bank.meta["pose_xy"][:3]
    for mask, points in zip(masks, xy):
        chest = ((points[0] + points[1]) / 2 + [0, 20]).astype(int)
        assert mask[chest[1], chest[0]]
        assert not mask[:8, :8].any() and not mask[:8, -8:].any()


def test_warp_arms_adds_turned_copies_with_their_pairs_and_skeletons(painted_bank):
    bank = painted_bank
    n = len(bank)
    out = warp_arms(bank, copies=2, seed=0, progress=False)
    assert len(out) == 3 * n
    assert np.array_equal(out.frames[:n].numpy(), bank.frames.numpy())          # the frames it had, first
    copy_xy, copy_conf = out.meta["pose_xy"][n:], out.meta["pose_conf"][n:]
    # Each copy's skeleton is drawn from its moved points, and its regions follow them.
    assert np.array_equal(out.skeletons[n:].numpy(), draw_skeletons(copy_xy, copy_conf, "reduced", 256))
    assert np.allclose(out.meta["regions"][n:], regions(copy_xy, copy_conf))
    source = np.tile(np.arange(n), 2)
    moved = np.abs(copy_xy - bank.meta["pose_xy"][source]).max(axis=(1, 2)) > 1
    assert moved.mean() > 0.5                                                     # most copies turned an arm
    kept = [0, 1, 6, 7, *FACE]                                                    # shoulders, hips, face stay
    assert np.array_equal(copy_xy[:, kept], bank.meta["pose_xy"][source][:, kept])
    changed = np.abs(out.frames[n:].numpy().astype(int) - bank.frames.numpy()[source]).mean(axis=(1, 2, 3))
    assert (changed[moved] > 1).all() and (changed[~moved] == 0).all()            # the picture moved with them
    # Runs of consecutive frames turned alike keep their pairs: each interval of 5 is one run (CHUNK >= 5).
    assert CHUNK >= 5
    assert len(out.pair_starts) == 3 * len(bank.pair_starts)
    # The same seed, the same copies; another seed, others.
    again, other = warp_arms(bank, 2, seed=0, progress=False), warp_arms(bank, 2, seed=1, progress=False)
    assert np.array_equal(again.frames.numpy(), out.frames.numpy())
    assert not np.array_equal(other.meta["pose_xy"], out.meta["pose_xy"])


def test_warp_arms_needs_the_drawn_poses(painted_bank):
    bare = FrameBank(painted_bank.skeletons, painted_bank.frames, meta={"clip": painted_bank.meta["clip"]})
    with pytest.raises(InputError, match="carry no drawn poses"):
        warp_arms(bare, 1, progress=False)
    assert warp_arms(bare, 0) is bare


def test_a_run_trains_on_the_turned_copies_and_resumes_only_with_them(tmp_path, painted_bank, monkeypatch):
    """`train renderer --arm-warps N`: the bank it trains on is the frames and N turned copies (made
    from --seed, again on resume); a resume that asks for other copies is refused."""
    from posevideo.renderer.model import RendererConfig
    from posevideo.renderer.train import TrainConfig, train
    seen = []
    real_warp = warp_arms

    def spy(bank, copies, seed, progress=True):
        out = real_warp(bank, copies, seed, progress=False)
        seen.append(len(out))
        return out

    monkeypatch.setattr("posevideo.renderer.augment.warp_arms", spy)
    cfg = RendererConfig(size=256, ngf=4, ndf=4)

    def run(steps, **kw):
        return TrainConfig(out=str(tmp_path / "run"), steps=steps, batch=2, device="cpu", jitter=0.0, log_every=1,
                           image_every=10 ** 6, checkpoint_every=1, arm_warps=kw.pop("arm_warps", 1), **kw)

    train(run(1), painted_bank, cfg)
    assert seen == [2 * len(painted_bank)]
    train(run(2, resume=True), painted_bank, cfg)
    assert seen == [2 * len(painted_bank)] * 2
    with pytest.raises(InputError, match="was started with --arm-warps 1, not 2"):
        train(run(3, resume=True, arm_warps=2), painted_bank, cfg)


def test_cli_trains_with_turned_arms_and_resumes_with_them(tmp_path, painted_bank):
    """`train renderer --arm-warps 1` from the CLI on a packed bank; `--resume RUN` alone keeps it (the
    run's config says so)."""
    import json
    from click.testing import CliRunner
    from posevideo.cli import cli
    from posevideo.renderer.data import write_bank
    write_bank({"train": painted_bank}, tmp_path / "bank")
    result = CliRunner().invoke(cli, ["train", "renderer", "--data", str(tmp_path / "bank"), "--preset", "small", "--ngf", "4",
                                      "--batch", "2", "--steps", "1", "--device", "cpu", "--jitter", "0", "--arm-warps", "1",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["arm_warps"] == 1
    result = CliRunner().invoke(cli, ["train", "renderer", "--resume", str(tmp_path / "run"), "--steps", "2"])
    assert result.exit_code == 0 and (tmp_path / "run" / "checkpoints" / "step-0000002").is_dir(), result.output
