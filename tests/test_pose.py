"""The pose core: .pose round trips through pose-format, layouts, normalization, time operations,
and the errors a user sees for bad files."""
import json
import subprocess
import sys

import numpy as np
import pytest
from pose_format import Pose
from pose_format.utils.generic import fake_holistic_pose, fake_openpose_pose

from posevideo.errors import InputError
from posevideo.pose import (
    LAYOUTS, NUM_POINTS, NormStats, arrays, denormalize, fill_gaps, holistic_pose, layout_of, make_pose, normalize,
    point_groups, point_index, read_pose, place_by_shoulders, replace_arrays, resample, shoulder_indices, smooth, to_layout,
    wrist_indices, write_pose,
)
from posevideo.pose import layouts as L


def _holistic_arrays(frames=12, seed=0, missing=0.1):
    """Random 3D holistic data in pixels of a 640x480 video, about `missing` of the points unseen."""
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(0, 480, size=(frames, 576, 3)).astype(np.float32)
    conf = rng.uniform(0.3, 1, size=(frames, 576)).astype(np.float32)
    conf[rng.random((frames, 576)) < missing] = 0
    return xyz, conf


@pytest.fixture(scope="module")
def holistic():
    xyz, conf = _holistic_arrays()
    return holistic_pose(xyz, conf, fps=30, width=640, height=480), xyz, conf


# --- IO ------------------------------------------------------------------------------------------

def test_written_pose_opens_with_pose_format_with_the_same_data(holistic, tmp_path):
    pose, xyz, conf = holistic
    path = tmp_path / "a.pose"
    write_pose(pose, path)
    theirs = Pose.read(path.read_bytes())
    assert [c.name for c in theirs.header.components] == [
        "POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS", "POSE_WORLD_LANDMARKS"]
    assert theirs.header.total_points() == 576
    assert (theirs.header.dimensions.width, theirs.header.dimensions.height) == (640, 480)
    assert theirs.body.fps == 30
    seen = conf > 0
    np.testing.assert_array_equal(theirs.body.confidence[:, 0], conf)
    np.testing.assert_array_equal(np.asarray(theirs.body.data)[:, 0][seen], xyz[seen])
    assert theirs.body.data.mask[:, 0][~seen].all()
    xy, c = arrays(read_pose(path))
    np.testing.assert_array_equal(xy[seen], xyz[..., :2][seen])
    np.testing.assert_array_equal(c, conf)
    assert (xy[~seen] == 0).all()
    assert not list(tmp_path.glob(".*tmp*")), "the atomic write left its temporary file"


def test_pose_format_files_read_back(tmp_path):
    pose = fake_holistic_pose(5, fps=25)
    with open(tmp_path / "fake.pose", "wb") as f:
        pose.write(f)
    ours = read_pose(tmp_path / "fake.pose")
    assert layout_of(ours) == "holistic" and ours.body.data.shape == (5, 1, 576, 3)


def test_2d_and_543_point_input():
    xyz, conf = _holistic_arrays(4)
    pose = holistic_pose(xyz[:, :543, :2], conf[:, :543], fps=15, width=64, height=64)
    data = np.asarray(pose.body.data)
    assert data.shape == (4, 1, 576, 3)
    assert (data[..., 2] == 0).all()
    assert (pose.body.confidence[:, 0, 543:] == 0).all()


def test_nan_coordinates_count_as_missing():
    xyz, conf = _holistic_arrays(3, missing=0)
    xyz[1, 5] = np.nan
    xy, c = arrays(holistic_pose(xyz, conf, 30, 100, 100))
    assert c[1, 5] == 0 and (xy[1, 5] == 0).all() and c[0, 5] > 0


def test_replace_arrays_keeps_header_and_new_fps(holistic, tmp_path):
    pose, xyz, conf = holistic
    xy, c = arrays(pose)
    new = replace_arrays(pose, xy[::2] + 1, c[::2], fps=15)
    write_pose(new, tmp_path / "half.pose")
    back = read_pose(tmp_path / "half.pose")
    assert back.body.fps == 15 and layout_of(back) == "holistic"
    np.testing.assert_allclose(arrays(back)[0][c[::2] > 0], xy[::2][c[::2] > 0] + 1)


def test_names_kept_here_equal_mediapipe_names():
    from pose_format.utils.holistic import BODY_POINTS, HAND_LIMBS, HAND_POINTS
    assert list(L.BODY_POINTS) == list(BODY_POINTS)
    assert list(L.HAND_POINTS) == list(HAND_POINTS)
    assert {tuple(sorted(l)) for l in L.HAND_LIMBS} == {tuple(sorted(l)) for l in HAND_LIMBS}


# --- layouts -------------------------------------------------------------------------------------

def test_layout_point_counts_and_detection_survive_a_file(holistic, tmp_path):
    pose = holistic[0]
    for name in LAYOUTS:
        converted = to_layout(pose, name)
        assert converted.header.total_points() == NUM_POINTS[name]
        write_pose(converted, tmp_path / f"{name}.pose")
        back = Pose.read((tmp_path / f"{name}.pose").read_bytes())
        assert layout_of(back) == name
        np.testing.assert_array_equal(arrays(back)[1], arrays(converted)[1])
    assert NUM_POINTS == {"holistic": 576, "reduced": 178, "s2g49": 49}


def test_reduced_is_pose_formats_reduce_holistic_after_correct_wrists(holistic):
    from pose_format.utils.generic import correct_wrists, reduce_holistic
    pose = holistic[0]
    theirs = reduce_holistic(correct_wrists(pose))
    ours = to_layout(pose, "reduced")
    assert [(c.name, c.points) for c in ours.header.components] == [(c.name, c.points) for c in theirs.header.components]
    valid = ours.body.confidence > 0
    np.testing.assert_array_equal(np.asarray(ours.body.data)[valid], np.asarray(theirs.body.data)[valid])


def test_s2g49_points_are_the_named_holistic_points_and_the_neck_the_shoulder_midpoint(holistic):
    pose = holistic[0]
    hxy, hconf = arrays(pose)
    sxy, sconf = arrays(to_layout(pose, "s2g49"))
    rxy, _ = arrays(to_layout(pose, "reduced"))
    r, l = shoulder_indices("holistic")
    both = (hconf[:, r] > 0) & (hconf[:, l] > 0)
    np.testing.assert_allclose(sxy[both, 0], (hxy[both, r] + hxy[both, l]) / 2, rtol=1e-6)
    assert (sconf[~both, 0] == 0).all()
    # speech2gesture's order: 1 R shoulder, 4 L shoulder, 7 left hand wrist, 28 right hand wrist, 48 right pinky tip.
    assert shoulder_indices("s2g49") == (1, 4) and wrist_indices("s2g49") == (3, 6)
    for s2g, component, point in [(1, "POSE_LANDMARKS", "RIGHT_SHOULDER"), (5, "POSE_LANDMARKS", "LEFT_ELBOW"),
                                  (7, "LEFT_HAND_LANDMARKS", "WRIST"), (12, "LEFT_HAND_LANDMARKS", "INDEX_FINGER_MCP"),
                                  (48, "RIGHT_HAND_LANDMARKS", "PINKY_TIP")]:
        h = point_index("holistic", component, point)
        assert point_index("s2g49", component, point) == s2g
        seen = hconf[:, h] > 0
        np.testing.assert_array_equal(sxy[seen, s2g], hxy[seen, h])
    # holistic -> s2g49 goes through the reduced layout (corrected wrists): both routes agree.
    np.testing.assert_array_equal(sxy, arrays(to_layout(to_layout(pose, "reduced"), "s2g49"))[0])
    assert rxy.shape[1] == 178


def test_body_wrist_takes_the_hand_wrist_when_the_hand_was_seen():
    xyz, conf = _holistic_arrays(2, missing=0)
    left_hand = point_index("holistic", "LEFT_HAND_LANDMARKS", "WRIST")
    conf[1, left_hand] = 0
    xy, c = arrays(to_layout(holistic_pose(xyz, conf, 30, 640, 480), "reduced"))
    wrist = wrist_indices("reduced").left
    np.testing.assert_array_equal(xy[0, wrist], xyz[0, left_hand, :2])
    np.testing.assert_array_equal(xy[1, wrist], xyz[1, wrist_indices("holistic").left, :2])


def test_s2g49_back_to_holistic_fills_what_exists(holistic):
    s2g = to_layout(holistic[0], "s2g49")
    back = to_layout(s2g, "holistic")
    assert layout_of(back) == "holistic" and back.header.total_points() == 576
    xy, conf = arrays(back)
    face = point_groups("holistic")["face"]
    assert (conf[:, face] == 0).all()
    nose = point_index("holistic", "POSE_LANDMARKS", "NOSE")
    assert (conf[:, nose] == 0).all()
    again = to_layout(back, "s2g49")
    np.testing.assert_array_equal(arrays(again)[0], arrays(s2g)[0])
    np.testing.assert_array_equal(arrays(again)[1], arrays(s2g)[1])
    reduced = to_layout(s2g, "reduced")
    assert layout_of(reduced) == "reduced"
    hips = [point_index("reduced", "POSE_LANDMARKS", p) for p in ("LEFT_HIP", "RIGHT_HIP")]
    assert (arrays(reduced)[1][:, hips] == 0).all()


def test_conversions_keep_every_person_and_the_fps():
    pose = fake_holistic_pose(4, num_people=2, fps=12)
    pose.body.confidence = np.abs(pose.body.confidence)
    s2g = to_layout(pose, "s2g49")
    assert s2g.body.data.shape == (4, 2, 49, 2) and s2g.body.fps == 12


def test_index_helpers_agree_with_headers():
    for name in LAYOUTS:
        header = L.layout_header(name, 10, 10)
        flat = [(c.name, p) for c in header.components for p in c.points]
        groups = point_groups(name)
        assert len(flat) == NUM_POINTS[name]
        for side in ("left", "right"):
            hand = groups[f"{side}_hand"]
            assert len(hand) == 21
            expected = ("S2G", f"{side.upper()}_HAND_WRIST") if name == "s2g49" else (f"{side.upper()}_HAND_LANDMARKS", "WRIST")
            got = flat[hand[0]] if name != "s2g49" else ("S2G", flat[hand[0]][1])
            assert got == expected
        r, l = shoulder_indices(name)
        assert "RIGHT_SHOULDER" in flat[r][1] and "LEFT_SHOULDER" in flat[l][1]
        assert all(0 <= a < NUM_POINTS[name] and 0 <= b < NUM_POINTS[name] for a, b in L.limbs(name))


def test_make_pose_for_model_output(tmp_path):
    xy = np.random.default_rng(1).uniform(0, 100, (64, 49, 2))
    pose = make_pose("s2g49", xy, np.ones((64, 49)), 15, 256, 256)
    write_pose(pose, tmp_path / "pred.pose")
    back = read_pose(tmp_path / "pred.pose")
    assert layout_of(back) == "s2g49" and back.body.fps == 15
    np.testing.assert_allclose(arrays(back)[0], xy, rtol=1e-6)


# --- normalization -------------------------------------------------------------------------------

def _moving_person(frames=40, seed=3):
    """A reduced-layout pose with shoulders about 100 px apart swaying around (320, 200)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None]
    xy = rng.uniform(100, 400, (frames, 178, 2))
    r, l = shoulder_indices("reduced")
    xy[:, r] = np.concatenate([270 + 5 * np.sin(t / 5), 200 + 0 * t], axis=1)
    xy[:, l] = np.concatenate([370 + 5 * np.cos(t / 7), 202 + 0 * t], axis=1)
    conf = np.ones((frames, 178), np.float32)
    conf[rng.random((frames, 178)) < 0.05] = 0
    conf[3, l] = 0
    return xy.astype(np.float32), conf


def test_normalize_then_denormalize_is_the_identity_on_seen_points():
    xy, conf = _moving_person()
    for per_frame in (False, True):
        xy_n, stats = normalize(xy, conf, "reduced", per_frame=per_frame)
        back = denormalize(xy_n, stats)
        seen = conf > 0
        np.testing.assert_allclose(back[seen], xy[seen], atol=1e-3)
        assert (xy_n[~seen] == 0).all()
        restored = NormStats.from_dict(json.loads(json.dumps(stats.to_dict())))
        np.testing.assert_allclose(denormalize(xy_n, restored), back, atol=1e-4)


def test_normalize_matches_pose_formats_convention():
    xy, conf = _moving_person()
    r, l = shoulder_indices("reduced")
    conf[:, [r, l]] = 1  # pose-format's masked mean and ours then use the same frames
    pose = make_pose("reduced", xy, conf, 30, 640, 480)
    theirs = Pose(pose.header, pose.body.copy()).normalize()
    ours, stats = normalize(xy, conf, "reduced")
    seen = conf > 0
    np.testing.assert_allclose(ours[seen], np.asarray(theirs.body.data)[:, 0, :, :2][seen], atol=1e-4)
    mid = (ours[:, r] + ours[:, l]) / 2
    np.testing.assert_allclose(mid.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours[:, r] - ours[:, l], axis=-1).mean(), 1, atol=1e-5)
    assert 95 < stats.scale < 105


def test_per_frame_normalization_centres_every_frame_and_retarget_moves_to_the_target():
    xy, conf = _moving_person()
    r, l = shoulder_indices("reduced")
    xy_n, _ = normalize(xy, conf, "reduced", per_frame=True)
    both = (conf[:, r] > 0) & (conf[:, l] > 0)
    np.testing.assert_allclose(((xy_n[:, r] + xy_n[:, l]) / 2)[both], 0, atol=1e-5)
    target = NormStats(center=np.array([100.0, 50.0]), scale=20.0)
    moved = place_by_shoulders(xy, conf, "reduced", target)
    mid = (moved[:, r] + moved[:, l]) / 2
    np.testing.assert_allclose(mid[both].mean(axis=0), [100, 50], atol=1e-3)


def test_normalize_without_shoulders_names_the_file():
    xy, conf = _moving_person(5)
    conf[:, shoulder_indices("reduced").right] = 0
    with pytest.raises(InputError, match="speaker.pose: has no frame with both shoulders"):
        normalize(xy, conf, "reduced", path="speaker.pose")


# --- time ----------------------------------------------------------------------------------------

def _sine(frames, fps, hz=0.7, points=3):
    t = np.arange(frames) / fps
    xy = np.stack([np.sin(2 * np.pi * hz * t + k) for k in range(points)], axis=1)  # (T, K)
    return np.stack([100 + 50 * xy, 80 + 30 * xy], axis=-1).astype(np.float32), np.ones((frames, points), np.float32)


def test_resample_30_to_15_and_back_stays_close_on_smooth_motion():
    xy, conf = _sine(90, 30)
    half, half_conf = resample(xy, conf, 30, 15)
    assert half.shape == (45, 3, 2) and half_conf.shape == (45, 3)
    np.testing.assert_array_equal(half, xy[::2])  # 15 fps frames land exactly on every other 30 fps frame
    back, back_conf = resample(half, half_conf, 15, 30)
    assert back.shape == xy.shape
    # linear interpolation of a 0.7 Hz, 50 px sine sampled at 15 fps errs at most 50 (2 pi 0.7 / 15)^2 / 8 = 0.54 px
    assert np.abs(back[:-1] - xy[:-1]).max() < 0.55
    assert (back_conf == 1).all()


def test_resample_any_ratio_and_missing_frames():
    xy, conf = _sine(100, 25)
    out, out_conf = resample(xy, conf, 25, 30)
    assert out.shape[0] == 120
    truth, _ = _sine(120, 30)
    assert np.abs(out[:-2] - truth[:-2]).max() < 1.0
    conf[50, 0] = 0  # one missing frame of point 0 at t = 2.0 s
    out, out_conf = resample(xy, conf, 25, 30)
    t = np.arange(120) / 30
    near = np.abs(t - 2.0) < 1 / 25
    assert (out_conf[near, 0] == 0).all() and (out_conf[~near, 0] > 0).all() and (out_conf[:, 1] > 0).all()


def test_fill_gaps_fills_short_gaps_and_leaves_long_ones_masked():
    frames = 40
    xy = np.stack([np.arange(frames), 2 * np.arange(frames)], axis=-1)[:, None].astype(np.float32)  # (T, 1, 2) linear
    conf = np.ones((frames, 1), np.float32)
    conf[5:8] = 0     # 3 missing frames: filled
    conf[15:25] = 0   # 10: too long for max_gap 5
    conf[:2] = 0      # at the start: nothing to interpolate from
    filled, filled_conf = fill_gaps(np.where(conf[..., None] > 0, xy, 0), conf, max_gap=5)
    np.testing.assert_allclose(filled[5:8], xy[5:8])
    assert (filled_conf[5:8] == 1).all()
    assert (filled_conf[15:25] == 0).all() and (filled[15:25] == 0).all()
    assert (filled_conf[:2] == 0).all()


def test_smooth_removes_noise_and_keeps_a_slow_sine():
    fps = 30
    clean, conf = _sine(300, fps, hz=1.0)
    noisy = clean + np.random.default_rng(0).normal(0, 3, clean.shape).astype(np.float32)
    smoothed, out_conf = smooth(noisy, conf, fps)
    rms = lambda e: float(np.sqrt(np.mean(np.square(e[10:-10]))))
    # white noise at 30 fps spreads over 0-15 Hz; a 6 Hz low-pass keeps about 6/15 of its power (RMS x 0.63)
    assert rms(smoothed - clean) < 0.72 * rms(noisy - clean)
    kept, _ = smooth(clean, conf, fps)
    assert np.abs(kept - clean)[10:-10].max() < 0.02 * 50
    conf[100:104, 1] = 0  # a gap stays a gap, and does not drag its neighbours towards 0
    gapped, gapped_conf = smooth(np.where(conf[..., None] > 0, clean, 0), conf, fps)
    assert (gapped_conf[100:104, 1] == 0).all() and (gapped[100:104, 1] == 0).all()
    assert np.abs(gapped[95:100, 1] - clean[95:100, 1]).max() < 2
    with pytest.raises(InputError, match="half the frame rate"):
        smooth(clean, conf, 15, cutoff_hz=8)


# --- bad files -----------------------------------------------------------------------------------

def _real_file(tmp_path):
    xyz, conf = _holistic_arrays(6)
    path = tmp_path / "real.pose"
    write_pose(holistic_pose(xyz, conf, 30, 640, 480), path)
    return path


@pytest.mark.parametrize("case, message", [
    ("random", "is not a .pose file"),
    ("empty", "is empty"),
    ("truncated", "truncated: header says 6 frames but body holds 3"),
    ("cut_header", "header is cut short"),
    ("trailing", "bytes after its 6 frames"),
    ("missing", "does not exist"),
])
def test_bad_files_give_one_clear_error_naming_the_file(tmp_path, case, message):
    real = _real_file(tmp_path).read_bytes()
    path = tmp_path / f"{case}.pose"
    content = {"random": np.random.default_rng(0).bytes(5000), "empty": b"", "truncated": real[:len(real) - len(real) // 3],
               "cut_header": real[:200], "trailing": real + b"\0" * 16, "missing": None}[case]
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as error:
        read_pose(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_truncated_message_counts_frames_exactly(tmp_path):
    real = _real_file(tmp_path)
    data = real.read_bytes()
    frame_bytes = 576 * 4 * 4  # one person: xyz + confidence, float32
    cut = tmp_path / "cut.pose"
    cut.write_bytes(data[:len(data) - 2 * frame_bytes - 7])
    with pytest.raises(InputError, match=r"header says 6 frames but body holds 3"):
        read_pose(cut)


def test_openpose_file_is_named_as_such(tmp_path):
    path = tmp_path / "openpose.pose"
    with open(path, "wb") as f:
        fake_openpose_pose(3).write(f)
    pose = read_pose(path)
    with pytest.raises(InputError, match="openpose.pose: is an OpenPose skeleton.*needs MediaPipe Holistic"):
        to_layout(pose, "reduced", path=path)


@pytest.mark.parametrize("component", ["LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS", "FACE_LANDMARKS"])
def test_holistic_without_a_component_names_what_is_missing(tmp_path, holistic, component):
    path = tmp_path / "partial.pose"
    write_pose(holistic[0].remove_components([component]), path)
    pose = read_pose(path)
    with pytest.raises(InputError, match=f"partial.pose: has no {component}"):
        layout_of(pose, path)
    target = "reduced" if component == "FACE_LANDMARKS" else "s2g49"  # s2g49 needs no face
    with pytest.raises(InputError, match=f"partial.pose: has no {component}"):
        to_layout(pose, target, path=path)


def test_body_without_shoulders_is_named(holistic):
    pose = holistic[0].remove_components([], {"POSE_LANDMARKS": ["LEFT_SHOULDER"]})
    with pytest.raises(InputError, match="x.pose: has POSE_LANDMARKS without LEFT_SHOULDER"):
        to_layout(pose, "s2g49", path="x.pose")


def test_write_refuses_a_name_that_is_not_pose(holistic, tmp_path):
    with pytest.raises(InputError, match="does not end in .pose"):
        write_pose(holistic[0], tmp_path / "x.json")


def test_holistic_without_face_or_world_still_gives_s2g49(holistic):
    pose = holistic[0]
    stripped = pose.remove_components(["FACE_LANDMARKS", "POSE_WORLD_LANDMARKS"])
    np.testing.assert_array_equal(arrays(to_layout(stripped, "s2g49"))[0], arrays(to_layout(pose, "s2g49"))[0])
    with pytest.raises(InputError, match="has no FACE_LANDMARKS"):
        to_layout(stripped, "reduced")
    no_world = pose.remove_components(["POSE_WORLD_LANDMARKS"])
    assert layout_of(no_world) == "holistic"
    full = to_layout(no_world, "holistic")
    assert full.header.total_points() == 576
    np.testing.assert_array_equal(arrays(full)[0][:, :543], arrays(pose)[0][:, :543])


def test_a_real_mediapipe_extraction_converts_with_the_persons_own_left_and_right():
    """pose-format's own Holistic extraction of a real photo (skimage's astronaut, facing the camera,
    no hands in view): it reads as holistic, and in s2g49 the right shoulder (point 1) lies on the
    image's left of the neck, as in speech2gesture's speaker statistics (negative x for point 1)."""
    import skimage.data as skimage_data  # dev extra
    from pose_format.utils.holistic import load_holistic
    image = skimage_data.astronaut()
    pose = load_holistic([image], fps=30, width=image.shape[1], height=image.shape[0],
                         additional_holistic_config={"model_complexity": 1})
    assert layout_of(pose) == "holistic"
    xy, conf = arrays(to_layout(pose, "s2g49"))
    assert (conf[0, :7] > 0).all(), "arms of the astronaut not found"
    assert xy[0, 1, 0] < xy[0, 0, 0] < xy[0, 4, 0]
    assert (conf[0, 7:] == 0).all()  # no hands in the photo: both hands missing, not invented
    xy_n, stats = normalize(xy, conf, "s2g49")
    np.testing.assert_allclose(np.linalg.norm(xy_n[0, 1] - xy_n[0, 4]), 1, rtol=1e-5)


def test_face_points_are_found_by_their_mesh_id(holistic):
    pose = holistic[0]
    hxy, hconf = arrays(pose)
    rxy, rconf = arrays(to_layout(pose, "reduced"))
    ids = L.face_mesh_ids("reduced")
    assert len(ids) == 128 and 13 in ids and 14 in ids  # inner lips are on the contour
    for mesh_id in (0, 13, 14, 152):
        h, r = point_index("holistic", "FACE_LANDMARKS", mesh_id), point_index("reduced", "FACE_LANDMARKS", mesh_id)
        assert h == 33 + mesh_id and r == 8 + ids.index(mesh_id)
        np.testing.assert_array_equal(rxy[:, r], hxy[:, h])
    with pytest.raises(ValueError, match="reduced has no FACE_LANDMARKS 1"):
        point_index("reduced", "FACE_LANDMARKS", 1)  # the nose tip is not on a contour
    with pytest.raises(ValueError):
        point_index("s2g49", "POSE_LANDMARKS", "NOSE")


def test_resample_frame_counts_keep_the_duration():
    for frames, fps_in, fps_out, expected in [(601, 30, 15, 301), (600, 30, 15, 300), (64, 15, 30, 128), (100, 25, 30, 120)]:
        xy, conf = _sine(frames, fps_in)
        assert len(resample(xy, conf, fps_in, fps_out)[0]) == expected


def test_a_file_without_legs_still_converts(holistic):
    from pose_format.utils.generic import pose_hide_legs
    pose = holistic[0]
    legless = pose_hide_legs(Pose(pose.header, pose.body.copy()), remove=True)
    with pytest.raises(InputError):
        layout_of(legless)  # not one of the three layouts as it stands ...
    reduced = to_layout(legless, "reduced")  # ... but everything the reduced layout draws is there
    assert layout_of(reduced) == "reduced"
    xy, conf = arrays(reduced)
    ref_xy, ref_conf = arrays(to_layout(pose, "reduced"))
    hips = [point_index("reduced", "POSE_LANDMARKS", p) for p in ("LEFT_HIP", "RIGHT_HIP")]
    assert (conf[:, hips] == 0).all()
    others = [i for i in range(178) if i not in hips]
    np.testing.assert_array_equal(xy[:, others], ref_xy[:, others])
    np.testing.assert_array_equal(arrays(to_layout(legless, "s2g49"))[0], arrays(to_layout(pose, "s2g49"))[0])
    assert to_layout(legless, "holistic").header.total_points() == 576


def test_the_pose_hub_imports_nothing_above_it():
    """posevideo.pose is the hub: importing it (and its framing, extraction and retargeting parts)
    must not pull in data preparation, renderer, gestures or training code."""
    import subprocess
    import sys

    code = ("import sys, importlib, pkgutil, posevideo.pose as p\n"
            "for m in pkgutil.iter_modules(p.__path__): importlib.import_module('posevideo.pose.' + m.name)\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('posevideo.'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    above = [m for m in loaded if m.split(".")[1] in ("data", "renderer", "gestures", "training", "web", "synthetic",
                                                     "export", "speak", "transfer", "demo", "cli", "skeleton")]
    assert "posevideo.pose.framing" in loaded and "posevideo.pose.extract" in loaded
    assert above == [], above


def _version_0_0_file(tmp_path, pose, cut: int = 0):
    """`pose` written as pose-format's first file version (0.0): the header with version 0, then
    fps and frame count as uint16, and per frame a person count, each person an int16 id and its
    points with confidence as float32 (what pose-format's `read_v0_0` reads)."""
    import io
    import struct

    header = io.BytesIO()
    pose.header.write(header)
    data = bytearray(header.getvalue())
    data[:4] = struct.pack("<f", 0.0)
    xyz, conf = np.asarray(pose.body.data.filled(0)), np.asarray(pose.body.confidence)
    data += struct.pack("<HH", int(pose.body.fps), len(xyz))
    for t in range(len(xyz)):
        data += struct.pack("<Hh", 1, 0)
        data += np.concatenate([xyz[t, 0], conf[t, 0][:, None]], axis=-1).astype("<f4").tobytes()
    path = tmp_path / "v00.pose"
    path.write_bytes(bytes(data[:len(data) - cut]))
    return path


def test_version_0_0_files_are_read_as_pose_format_reads_them(tmp_path, holistic):
    """Regression: every .pose that pose-format's Pose.read opens is read; a version 0.0 file was
    refused as 'not a .pose file'."""
    pose, xyz, conf = holistic
    path = _version_0_0_file(tmp_path, pose)
    ours, theirs = read_pose(path), Pose.read(path.read_bytes())
    assert ours.body.data.shape == theirs.body.data.shape == (12, 1, 576, 3)
    assert np.allclose(arrays(ours)[0][conf > 0], xyz[..., :2][conf > 0], atol=1e-3)
    assert layout_of(to_layout(ours, "reduced", path=path)) == "reduced"
    with pytest.raises(InputError, match="v00.pose: is truncated: header says 12 frames but body holds 11"):
        read_pose(_version_0_0_file(tmp_path, pose, cut=100))


def test_one_holistic_to_reduced_rule_for_poses_and_arrays(holistic):
    """The reduced face ids written out in layouts.py are pose-format's, and the array conversion
    (what skeleton drawing uses) equals the Pose conversion (pose-format's correct_wrists +
    reduce_holistic), wrists included."""
    pose, xyz, conf = holistic
    assert L._reduced_face_points() == L.reduce_holistic_face_points()
    want_xy, want_conf = arrays(to_layout(pose, "reduced"))
    got_xy, got_conf = L.reduce_arrays(xyz[..., :2], conf)
    np.testing.assert_array_equal(got_conf, want_conf)
    np.testing.assert_allclose(got_xy[got_conf > 0], want_xy[want_conf > 0], atol=1e-4)
    one_xy, one_conf = L.reduce_arrays(xyz[3, :, :2], conf[3])  # one frame (K, 2) works the same
    np.testing.assert_array_equal(one_conf, want_conf[3])


def test_holistic_header_file_is_pose_formats_and_needs_no_mediapipe(tmp_path):
    """holistic_header.json holds exactly pose-format's holistic components (both point formats),
    and writing a reduced .pose in a fresh interpreter never imports MediaPipe."""
    from pose_format.utils.holistic import holistic_components
    for point_format in ("XYZC", "XYC"):
        want = holistic_components(point_format)
        got = L._holistic_components(point_format)
        assert [(c.name, c.points, [tuple(limb) for limb in c.limbs], [tuple(x) for x in c.colors], c.format)
                for c in want] == [(c.name, c.points, c.limbs, c.colors, c.format) for c in got]
    script = ("import sys, numpy as np\n"
              "from posevideo.pose import make_pose, write_pose\n"
              "write_pose(make_pose('reduced', np.zeros((2, 178, 2)), np.ones((2, 178)), 25.0, 64, 64), sys.argv[1])\n"
              "print('mediapipe' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "r.pose")], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
    assert read_pose(tmp_path / "r.pose").body.data.shape == (2, 1, 178, 3)


def test_a_read_poses_header_is_its_own(tmp_path):
    """pose-format hands the same cached header object to every read of an identical header:
    changing one read pose's header (as prepare rescales dimensions) must not change the next read's."""
    path = tmp_path / "p.pose"
    write_pose(make_pose("reduced", np.zeros((3, 178, 2)), np.ones((3, 178)), 25.0, 640, 360), path)
    first = read_pose(path)
    first.header.dimensions.width, first.header.dimensions.height = 1280, 720
    first.header.version = 0.0
    again = read_pose(path)
    assert (again.header.dimensions.width, again.header.dimensions.height) == (640, 360)
    assert again.body.data.shape == (3, 1, 178, 3)


def test_quiet_start_drops_mediapipes_startup_warnings_and_keeps_everything_else(capfd):
    """`QuietStart`: lines written to file descriptor 2 inside it come out on stop, less the absl
    warnings STARTUP_NOISE names; an error line from the same window is kept, before what follows."""
    import os

    from posevideo.pose.extract import QuietStart
    with QuietStart() as quiet:
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"W0000 00:00:1796613401.828757    5771 inference_feedback_manager.cc:114] Feedback manager\n")
        os.write(2, b"E0000 00:00:1796613401.903840    5770 calculator_graph.cc:928] a real error\n")
        # a progress bar has no newline of its own (each update starts with "\r"): the warning after it shares its line
        os.write(2, b"\rconsistency:   2%| 1/41 [00:00<00:19]WARNING: All log messages before absl::InitializeLog() "
                    b"is called are written to STDERR\n\rconsistency:   5%| 2/41")
        assert "a real error" not in capfd.readouterr().err  # held back while the window is open
        quiet.stop()
        print("after", file=sys.stderr)
    err = capfd.readouterr().err
    assert "inference_feedback_manager" not in err and "XNNPACK" not in err and "absl" not in err
    assert "a real error" in err
    assert "\rconsistency:   2%| 1/41 [00:00<00:19]\rconsistency:   5%| 2/41" in err  # the bar kept, whole
    assert err.index("a real error") < err.index("after")


def test_holistic_starts_without_mediapipes_warning_lines():
    """A fresh process (MediaPipe's graph starts there) extracting three frames: pose-format's own
    `load_holistic` prints the startup warnings on stderr, `posevideo.pose.extract.holistic` does not,
    and its pose has the three frames."""
    script = """
import sys
import skimage.data
image = skimage.data.astronaut()
if sys.argv[1] == "ours":
    from posevideo.pose.extract import holistic
    pose = holistic([image] * 3, 30, image.shape[1], image.shape[0], refine_face=False)
else:
    from pose_format.utils.holistic import load_holistic
    pose = load_holistic([image] * 3, fps=30, width=image.shape[1], height=image.shape[0],
                         additional_holistic_config={"model_complexity": 1})
print(pose.body.data.shape[0])
"""
    theirs, ours = (subprocess.run([sys.executable, "-c", script, which], capture_output=True, text=True, timeout=120)
                    for which in ("theirs", "ours"))
    assert theirs.returncode == 0 and ours.returncode == 0, ours.stderr[-2000:]
    assert "inference_feedback_manager" in theirs.stderr  # else MediaPipe no longer prints it: drop QuietStart
    assert "inference_feedback_manager" not in ours.stderr
    assert ours.stdout.split()[-1] == "3"
