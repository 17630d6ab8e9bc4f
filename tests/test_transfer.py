"""Video -> video (`posevideo transfer`) with the shipped small renderer, and hands at rest
(`rest_hands`, hand-less .pose files through `posevideo render`), on the CPU."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from posevideo.cli import cli
from posevideo.pose import (arrays, hand_frames, point_groups, point_index, read_pose, rest_hands, shoulder_indices,
                            to_layout, wrist_indices, write_pose)
from posevideo.renderer.predict import DEFAULT_RENDERER
from posevideo.video import probe, read_frames, write_video

FPS = 15  # the driver's frame rate: half the frames of a 30 fps clip, half the test's time


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def speaker(tmp_path_factory):
    """A 2 s synthetic speaker at 15 fps: video with speech, and its ground-truth holistic .pose."""
    from posevideo.synthetic import synth_speaker
    return synth_speaker(5, 2, tmp_path_factory.mktemp("speaker"), fps=FPS)


@pytest.fixture(scope="module")
def driver(speaker, tmp_path_factory):
    """The speaker framed unlike the renderer's person: shrunk to 0.75 and moved right and down in
    a 320x256 frame, so retargeting has to move and scale (shoulders ~78 px wide around x ~203)."""
    from posevideo.audio import load_audio
    frames = []
    for frame in read_frames(speaker["video"]):
        small = cv2.resize(frame, (192, 192), interpolation=cv2.INTER_AREA)
        frames.append(np.pad(small, ((40, 24), (112, 16), (0, 0)), mode="edge"))
    path = tmp_path_factory.mktemp("driver") / "driver.mp4"
    write_video(path, frames, FPS, audio=load_audio(speaker["video"]))
    return path


@pytest.fixture(scope="module")
def transferred(driver, tmp_path_factory):
    out = tmp_path_factory.mktemp("transfer")
    result = _run("transfer", "--video", driver, "--out", out / "out.mp4", "--pose-out", out / "out.pose",
                  "--device", "cpu")
    assert result.exit_code == 0, result.output
    return out / "out.mp4", out / "out.pose"


def _shoulders(xy, conf):
    right, left = shoulder_indices("reduced")
    both = (conf[:, right] > 0) & (conf[:, left] > 0)
    mid = (xy[:, right] + xy[:, left]) / 2
    width = np.linalg.norm(xy[:, right] - xy[:, left], axis=-1)
    return mid[both].mean(axis=0), width[both].mean(), both


def test_transfer_writes_a_frame_per_driver_frame_with_its_audio(driver, transferred):
    from posevideo.audio import load_audio
    video, _ = transferred
    got, want = probe(video), probe(driver)
    assert got.frames == want.frames == 2 * FPS
    assert got.fps == pytest.approx(FPS) and (got.width, got.height) == (256, 256)
    assert got.has_audio
    assert abs(len(load_audio(video)) - len(load_audio(driver))) < 0.1 * 16000  # AAC priming/padding only
    frames = np.stack(list(read_frames(video))).astype(np.float32)
    assert np.abs(np.diff(frames, axis=0)).mean() > 0.5  # the person moves


def test_a_driver_pose_extracted_before_stands_in_for_extracting(driver, tmp_path, monkeypatch):
    """`transfer(driver=...)`: the pose `extract_video` gave for this video, read back from a .pose,
    is used instead of extracting again (extraction is not called), and two runs on it give the same
    frames; a pose with other frames than the video is refused with one line naming the video."""
    import posevideo.pose.extract as extract
    from posevideo.errors import InputError
    from posevideo.pose.io import replace_arrays
    from posevideo.transfer import transfer
    write_pose(extract.extract_video(driver), tmp_path / "driver.pose")

    def no_extraction(*args, **kwargs):
        raise AssertionError("extracted again")
    monkeypatch.setattr(extract, "extract_video", no_extraction)
    videos = []
    for name in ("a", "b"):
        transfer(driver, None, tmp_path / f"{name}.mp4", driver=read_pose(tmp_path / "driver.pose"), device="cpu",
                 progress=False)
        videos.append(np.stack(list(read_frames(tmp_path / f"{name}.mp4"))))
    assert videos[0].shape == (2 * FPS, 256, 256, 3) and np.array_equal(*videos)
    pose = read_pose(tmp_path / "driver.pose")
    short = replace_arrays(pose, *(a[:10] for a in arrays(pose)))
    with pytest.raises(InputError, match="driver pose given has 10 frames of 320x256, the video 30 of 320x256"):
        transfer(driver, None, tmp_path / "c.mp4", driver=short, device="cpu", progress=False)


def test_transfer_retargets_onto_the_renderers_shoulders(speaker, transferred):
    stats = json.loads((DEFAULT_RENDERER / "checkpoint.json").read_text())["stats"]
    _, pose_path = transferred
    pose = read_pose(pose_path)
    assert (pose.header.dimensions.width, pose.header.dimensions.height) == (stats["width"], stats["height"])
    assert float(pose.body.fps) == pytest.approx(FPS)
    xy, conf = arrays(pose)
    assert xy.shape == (2 * FPS, 178, 2)
    mid, width, both = _shoulders(xy, conf)
    assert both.all()
    np.testing.assert_allclose(mid, stats["center"], atol=2)
    assert width == pytest.approx(stats["scale"], abs=2)
    # ... from a driver framed elsewhere, at another size (so the match is the retargeting's doing):
    # the speaker's ground truth, shrunk and moved as the `driver` fixture does.
    smid, swidth, _ = _shoulders(*arrays(to_layout(read_pose(speaker["pose"]), "reduced")))
    assert np.linalg.norm(smid * 0.75 + (112, 40) - mid) > 40 and abs(swidth * 0.75 - width) > 15


def test_a_video_without_a_person_is_refused_by_name(tmp_path):
    blank = tmp_path / "empty_room.mp4"
    write_video(blank, [np.full((128, 128, 3), 200, np.uint8)] * 6, FPS)
    result = _run("transfer", "--video", blank, "--out", tmp_path / "out.mp4")
    assert result.exit_code == 2, result.output
    assert "error: " in result.output and "empty_room.mp4: no person found in any of its 6 frames" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out.mp4").exists()


def test_a_person_in_too_few_frames_is_refused(tmp_path, driver):
    frames = [f for _, f in zip(range(2), read_frames(driver))] + [np.full((256, 320, 3), 200, np.uint8)] * 12
    path = tmp_path / "glimpse.mp4"
    write_video(path, frames, FPS)
    result = _run("transfer", "--video", path, "--out", tmp_path / "out.mp4")
    assert result.exit_code == 2, result.output
    assert "glimpse.mp4: a person is in view in only" in result.output and "too few to render" in result.output


def test_broken_drivers_and_outputs_give_one_clear_line(tmp_path, driver):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(driver.read_bytes()[: driver.stat().st_size // 2])
    (tmp_path / "empty.mp4").write_bytes(b"")
    for bad, message in [(junk, "not a readable video"), (cut, "not a readable video"),
                         (tmp_path / "empty.mp4", "the file is empty"), (tmp_path / "missing.mp4", "no such file")]:
        result = _run("transfer", "--video", bad, "--out", tmp_path / "out.mp4")
        assert result.exit_code == 2, result.output
        assert f"{bad}: {message}" in result.output and "Traceback" not in result.output
    result = _run("transfer", "--video", driver, "--out", tmp_path / "out.avi")
    assert result.exit_code == 2 and "out.avi: is not an .mp4 path" in result.output
    result = _run("transfer", "--video", driver, "--out", tmp_path / "out.mp4", "--renderer", tmp_path / "nope")
    assert result.exit_code == 2 and "nope: no such renderer folder" in result.output


# --- hands at rest --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def handless(speaker, tmp_path_factory):
    """The speaker's ground-truth .pose without its hand components, and the full one reduced."""
    pose = read_pose(speaker["pose"])
    path = tmp_path_factory.mktemp("handless") / "handless.pose"
    write_pose(pose.remove_components(["LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"]), path)
    return path, arrays(to_layout(pose, "reduced"))


def test_a_pose_without_hand_components_reduces_with_hands_missing(handless):
    path, (full_xy, full_conf) = handless
    xy, conf = arrays(to_layout(read_pose(path), "reduced", path=path))
    groups = point_groups("reduced")
    assert hand_frames(conf) == 0 and (conf[:, groups["body"]] > 0).all()
    np.testing.assert_array_equal(xy[:, groups["face"]], full_xy[:, groups["face"]])


def test_rest_hands_hang_from_the_wrists(handless):
    path, (full_xy, _) = handless
    xy, conf = arrays(to_layout(read_pose(path), "reduced"))
    conf[0, point_index("reduced", "POSE_LANDMARKS", "LEFT_ELBOW")] = 0  # no forearm: the left hand stays missing
    filled_xy, filled_conf = rest_hands(xy, conf)
    groups, wrists = point_groups("reduced"), wrist_indices("reduced")
    assert hand_frames(filled_conf) == 2 * len(xy) - 1
    assert not (filled_conf[0, groups["left_hand"]] > 0).any()
    np.testing.assert_array_equal(filled_xy[:, groups["body"] + groups["face"]], xy[:, groups["body"] + groups["face"]])
    _, width, _ = _shoulders(xy, conf)
    for side, wrist in (("left", wrists.left), ("right", wrists.right)):
        hand = groups[f"{side}_hand"]
        rows = filled_conf[:, hand[0]] > 0
        np.testing.assert_allclose(filled_xy[rows, hand[0]], xy[rows, wrist], atol=1e-4)
        reach = np.linalg.norm(filled_xy[rows][:, hand] - xy[rows, wrist][:, None], axis=-1)
        assert 0.1 * width < reach.max() < 1.5 * width
        # Near the real hand the speaker held there (the rest shape is a mean hand, not a pose).
        off = np.linalg.norm(filled_xy[rows][:, hand].mean(1) - full_xy[rows][:, hand].mean(1), axis=-1)
        assert off.mean() < 0.3 * width


def test_rest_hands_turn_with_the_forearm(handless):
    path, _ = handless
    xy, conf = arrays(to_layout(read_pose(path), "reduced"))
    turn = np.array([[0.0, -1.0], [1.0, 0.0]], np.float32)  # 90 degrees
    turned, _ = rest_hands(xy @ turn.T, conf)
    straight, _ = rest_hands(xy, conf)
    np.testing.assert_allclose(turned, straight @ turn.T, atol=1e-3)


def test_render_draws_a_handless_pose_with_hands_at_rest(handless, tmp_path):
    """Also: `render` without --model uses the shipped small renderer, as `speak` and `transfer` do."""
    path, _ = handless
    out = tmp_path / "out.mp4"
    result = _run("render", "--pose", path, "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "60 of 60 hand-frames had no hand seen; drawn as a hand at rest" in result.output
    assert probe(out).frames == 2 * FPS


def test_render_names_an_openpose_file(tmp_path):
    from pose_format.utils.generic import fake_openpose_pose
    path = tmp_path / "body25.pose"
    pose = fake_openpose_pose(4)  # OpenPose's BODY_25 body, 70 face points, two hands of 21
    assert [len(c.points) for c in pose.header.components] == [25, 70, 21, 21]
    with open(path, "wb") as f:
        pose.write(f)
    result = _run("render", "--pose", path, "--model", DEFAULT_RENDERER, "--out", tmp_path / "out.mp4")
    assert result.exit_code == 2, result.output
    assert "body25.pose: is an OpenPose skeleton" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out.mp4").exists()
