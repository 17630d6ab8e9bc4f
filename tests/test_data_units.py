"""Data part, small pieces: keying, crop boxes, intervals and splits, speech2gesture import."""
import json

import cv2
import numpy as np
import pandas as pd
import pytest

from posevideo.data import keying
from posevideo.pose import framing as crops
from posevideo.data.index import AUDIO_SAMPLES, assign_splits, build_index, cut_intervals, import_s2g
from posevideo.errors import InputError


def _painted_person(size=128, background=(0, 0, 0)):
    """A frame of the synthetic speaker's painter drawn on a flat background, and the person mask
    (pixels that are the same on black and on white backgrounds: no background shows through)."""
    from posevideo.synthetic import draw, motion
    from posevideo.synthetic import speech  # noqa: F401  (import check only)

    rng = np.random.default_rng(0)
    look = draw.look_for_seed(1, rng)
    painter = draw.Painter(look, size)
    style = motion.style_for_seed(np.random.default_rng(1))
    audio = np.zeros(16000, np.float32)
    features = motion.speech_features(audio, [], 4, 25)
    xyz, _ = motion.generate(features, [], style, np.random.default_rng(2), 25, size)

    def on(bg):
        painter.background = np.full((size, size, 3), bg, np.uint8)
        return painter.draw(xyz[0])

    black, white = on((0, 0, 0)), on((255, 255, 255))
    mask = np.all(black == white, axis=-1)
    return on(background), black, mask


def test_keying_recovers_the_person_from_pure_green():
    green, original, mask = _painted_person(background=(0, 255, 0))
    assert 0.1 < mask.mean() < 0.9, "the painted person should cover part of the frame"
    keyed = keying.key_frame(green, background=(0, 0, 0))
    inner = mask & (np.abs(np.diff(mask.astype(int), axis=0, prepend=0)) == 0)
    error = np.abs(keyed.astype(int) - original.astype(int))[inner]
    assert error.mean() < 3.0, error.mean()
    # The screen itself is fully replaced; no green is left around the person.
    screen = ~mask
    assert np.abs(keyed[screen].astype(int)).mean() < 8
    assert keying.green_excess(keyed).max() <= 1.0  # spill suppressed everywhere
    # auto: found on the green frame, not on the painted original on its own background.
    assert keying.looks_green_screen([green])
    assert not keying.looks_green_screen([original])


def test_spill_is_suppressed_on_skin_but_skin_stays():
    skin = np.full((8, 8, 3), (200, 160, 130), np.uint8)
    spilled = skin.copy()
    spilled[..., 1] = 215  # a green cast from the screen
    out = keying.key_frame(spilled, background=(0, 0, 0))
    assert out[..., 1].max() <= 200 and np.abs(out[..., 0].astype(int) - 200).max() <= 1
    assert np.array_equal(keying.key_frame(skin), skin)


def test_crop_boxes_are_stable_and_follow_slow_moves():
    fps, count = 25, 200
    rng = np.random.default_rng(0)
    t = np.arange(count)
    mid = np.stack([300 + 0.5 * t, np.full(count, 200.0)], axis=1) + rng.normal(0, 4, (count, 2))  # slow walk + jitter
    width = 100 + rng.normal(0, 3, count)
    valid = np.ones(count, bool)
    valid[50:55] = False  # a short dropout
    mid[50:55] = 0
    boxes = crops.crop_boxes(mid.astype(np.float32), width.astype(np.float32), valid, fps, 640, 480)
    assert boxes.shape == (count, 3)
    assert np.abs(np.diff(boxes[:, 0])).max() <= 2  # no jump, also across the dropout
    assert np.abs(boxes[:, 2] - 300).max() < 12  # 3 shoulder widths
    centre = boxes[:, 0] + boxes[:, 2] / 2
    assert abs(centre[150] - (300 + 75)) < 8  # followed the walk
    assert np.allclose(boxes[:, 1] + crops.SHOULDER_Y * boxes[:, 2], 200, atol=4)  # shoulders at a fixed height


def test_crop_pads_outside_the_frame_with_the_background():
    frame = np.full((100, 100, 3), 200, np.uint8)
    out = crops.crop(frame, (-50, 0, 100), 50, background=(1, 2, 3))
    assert out.shape == (50, 50, 3)
    assert (out[:, :20] == (1, 2, 3)).all() and (out[:, 30:] == 200).all()


def test_crop_margins_repeat_the_frames_edge_not_black():
    """Regression: crops that reached past the frame were padded black, and the renderer learned to
    draw black margins on every frame. By default the frame's own edge is repeated outwards."""
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[:, :, 1] = np.arange(100)[None, :] + 100  # a horizontal ramp: the left edge is 100
    out = crops.crop(frame, (-50, 0, 100), 50)
    assert (out[:, :20, 1] >= 99).all() and (out[:, :20, 1] <= 101).all() and out[:, -1, 1].mean() > 140
    assert crops.crop(frame, (500, 500, 40), 8).reshape(-1, 3).std(axis=0).max() == 0  # wholly outside: edge colour


def test_crop_margins_turn_into_a_blur_away_from_the_picture_not_streaks():
    """A repeated edge is a band of straight streaks that a renderer learns (liveportrait_s20: a
    striped, flickering background). Away from the picture the margin is a blur of itself; the
    picture and the margin next to it are the frame's own."""
    frame = np.full((128, 128, 3), 90, np.uint8)
    frame[(np.arange(128) // 4) % 2 == 1, :, :] = 200          # horizontal stripes reaching the right edge
    out = crops.crop(frame, (0, 0, 256), 256)                   # the right half of the crop is margin
    inside = out[8:120, :120, 0].astype(float)
    assert abs(inside.std() - frame[8:120, :120, 0].std()) < 1   # the picture: stripes as they were
    near, far = out[8:120, 130, 0].astype(float), out[8:120, 250, 0].astype(float)
    assert near.std() > 40                                      # next to the picture: its edge, repeated
    assert far.std() < 0.2 * near.std()                         # far out: the streaks blurred away
    assert abs(far.mean() - frame[:, -1, 0].mean()) < 10        # ... into the edge's mean colour
    keyed = crops.crop(frame, (0, 0, 256), 256, background=(0, 255, 0))
    assert (keyed[:, 140:] == (0, 255, 0)).all()                # a keyed background is still filled flat


def test_intervals_min_length_and_cut_at_max():
    valid = np.zeros(1000, bool)
    valid[10:20] = True  # too short at 25 fps with min 1 s
    valid[100:900] = True  # 32 s -> 4 pieces of 8 s at max 10 s
    runs = cut_intervals(valid, 25, min_seconds=1.0, max_seconds=10.0)
    assert runs == [(100, 300), (300, 500), (500, 700), (700, 900)]
    # A camera cut at frame 160 splits the run first: 60 frames, then 740 cut into 3 pieces (<= 250).
    runs = cut_intervals(valid, 25, min_seconds=1.0, max_seconds=10.0, breaks=[160])
    assert runs == [(100, 160), (160, 407), (407, 653), (653, 900)]


def test_split_is_deterministic_and_gives_all_three():
    keys = [(f"s/v/{k:03d}", 10.0) for k in range(6)]
    a = assign_splits(keys, 0.1, 0.1)
    assert a == assign_splits(list(reversed(keys)), 0.1, 0.1)
    assert sorted(a.values()).count("train") == 4 and set(a.values()) == {"train", "dev", "test"}
    many = assign_splits([(f"s/v/{k:03d}", 10.0) for k in range(100)], 0.1, 0.1)
    assert list(many.values()).count("test") == 10 and list(many.values()).count("dev") == 10
    assert set(assign_splits(keys[:2], 0.1, 0.1).values()) == {"train"}


@pytest.mark.parametrize("flat", [False, True])
def test_speech2gesture_dataset_is_read_into_the_index(tmp_path, flat):
    """speech2gesture's train.csv + npz (pose (64, 2, 49) or (64, 98) pixels, audio) become samples
    in our format, keeping their split."""
    from posevideo.pose import NUM_POINTS, shoulder_indices

    root = tmp_path / "s2g"
    (root / "oliver" / "train" / "npz").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    right, left = shoulder_indices("s2g49")
    for k, split in enumerate(["train", "train", "dev", "test"]):
        pose = rng.normal(0, 5, (64, 2, 49)).astype(np.float32) + 300
        pose[:, 0, right] -= 50  # shoulders 100 px apart
        pose[:, 0, left] += 50
        name = f"oliver/train/npz/{k}.npz"
        np.savez(root / name, pose=pose.reshape(64, 98) if flat else pose,
                 audio=rng.normal(0, 0.1, AUDIO_SAMPLES - 1).astype(np.float32))
        # As speech2gesture wrote them: absolute paths of the machine that made them, times as timedeltas.
        rows.append({"dataset": split, "start": f"0 days 00:00:{k * 5:02d}.000000", "end": k * 5.0 + 64 / 15,
                     "interval_id": f"i{k // 2}", "pose_fn": f"/elsewhere/Gestures/{name}", "audio_fn": "x.wav",
                     "video_fn": "v1", "speaker": "oliver"})
    pd.DataFrame(rows).to_csv(root / "train.csv", index=False)
    data = tmp_path / "data"
    assert import_s2g(root / "train.csv", data, "oliver", show_progress=False) == {"oliver": 4}
    build_index(data, show_progress=False)
    table = pd.read_csv(data / "train.csv")
    assert sorted(table["dataset"]) == ["dev", "test", "train", "train"]
    assert sorted(table["start"]) == [0.0, 5.0, 10.0, 15.0]
    rows = table[table["dataset"] == "train"]
    assert len(rows) == 2 and json.loads((data / "oliver" / "stats.json").read_text())["layout"] == "s2g49"
    with np.load(data / rows["pose_fn"].iloc[0], allow_pickle=False) as item:
        assert item["pose"].shape == (64, NUM_POINTS["s2g49"], 2) and item["audio"].shape == (AUDIO_SAMPLES,)
        width = np.linalg.norm(item["pose"][:, left] - item["pose"][:, right], axis=-1).mean()
    assert abs(float(width) - 1.0) < 0.2  # normalized: shoulder width 1
    bad = tmp_path / "bad.csv"
    pd.DataFrame([{"dataset": "train"}]).to_csv(bad, index=False)
    with pytest.raises(InputError, match="lacks the columns"):
        import_s2g(bad, data)


def test_crop_box_does_not_glide_across_a_camera_cut():
    fps, count = 25, 200
    rng = np.random.default_rng(1)
    mid = np.zeros((count, 2), np.float32)
    mid[:100] = (200, 200)
    mid[100:] = (500, 260)  # the camera cuts to another framing at frame 100
    mid += rng.normal(0, 2, mid.shape).astype(np.float32)
    mid[40] = (420, 300)  # a one-frame detection outlier is not a cut
    width = np.where(np.arange(count) < 100, 100, 80).astype(np.float32)
    boxes = crops.crop_boxes(mid, width, np.ones(count, bool), fps, 800, 600)
    centre = boxes[:, 0] + boxes[:, 2] / 2
    assert abs(centre[99] - 200) < 5 and abs(centre[100] - 500) < 5
    assert abs(boxes[99, 2] - 300) < 6 and abs(boxes[100, 2] - 240) < 6
    assert np.abs(np.diff(centre[:100])).max() <= 2 and np.abs(np.diff(centre[100:])).max() <= 2


def test_a_brief_detection_of_someone_else_is_dropped():
    fps, count = 25, 150
    rng = np.random.default_rng(2)
    t = np.arange(count)
    mid = np.stack([300 + 0.3 * t, np.full(count, 200.0)], axis=1) + rng.normal(0, 2, (count, 2))
    width = np.full(count, 100.0) + rng.normal(0, 2, count)
    mid[60:66], width[60:66] = (600, 260), 40  # six frames on a small person in the background
    mid[100:104] += (150, 0)  # four frames on someone as large, further along
    valid = np.ones(count, bool)
    keep = crops.main_person(mid.astype(np.float32), width.astype(np.float32), valid, fps)
    assert not keep[60:66].any() and not keep[100:104].any()
    assert keep[:60].all() and keep[66:100].all() and keep[104:].all()


def test_a_dim_uneven_screen_keys_out_with_fitted_thresholds():
    """Darker on one side (green 70 to 150): the default thresholds leave the dim side half visible;
    the thresholds fitted on the border key it all out and keep the person."""
    size = 128
    _, original, mask = _painted_person(size)
    ramp = np.linspace(70, 150, size, dtype=np.float32)[None, :].repeat(size, 0)
    screen = np.stack([ramp * 0.15, ramp, ramp * 0.35], axis=-1).astype(np.uint8)
    dim = np.where(mask[..., None], original, screen)
    low, high = keying.screen_thresholds([dim])
    assert high < keying.HIGH
    assert keying.looks_green_screen([dim])
    default = keying.key_frame(dim, (0, 0, 0))
    fitted = keying.key_frame(dim, (0, 0, 0), low, high)
    far = ~cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert default[far].max() >= 8 and fitted[far].max() <= 1  # the screen: gone only when fitted
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert np.abs(fitted.astype(int) - original.astype(int))[inner].mean() < 3  # the person: kept


def test_picture_area_leaves_out_letterbox_bars():
    """Regression (a real 1280x720 address with black bars on every side): crops repeated the bar,
    and a renderer learned black margins. The bars are found in the sampled frames."""
    frames = []
    rng = np.random.default_rng(0)
    for _ in range(3):
        frame = np.zeros((72, 128, 3), np.uint8)
        frame[3:69, 6:124] = rng.integers(30, 255, (66, 118, 3))
        frames.append(frame)
    assert crops.picture_area(frames) == (6, 3, 124, 69)
    dark = np.full((72, 128, 3), 10, np.uint8)  # a dark scene, not bars: the whole frame
    assert crops.picture_area([dark]) == (0, 0, 128, 72)
    backdrop = np.zeros((72, 128, 3), np.uint8)  # a signer before a black backdrop: it fades, no sharp edge
    backdrop[:, 40:88] = np.linspace(0, 200, 48, dtype=np.uint8)[None, :, None]
    assert crops.picture_area([backdrop])[0] == 0 and crops.picture_area([backdrop])[2] == 128
    frames[0][:, :64] = 0  # one frame black on its left half: a column lit in another frame is picture
    assert crops.picture_area(frames) == (6, 3, 124, 69)
    for frame in frames:  # the codec's soft edge: a near-black line or two inside the bar's edge
        frame[3, 6:124] = frame[68, 6:124] = frame[67, 6:124] = 12
        frame[3:69, 6] = 14
    assert crops.picture_area(frames) == (7, 4, 124, 67)  # margins repeat the first bright line, not black
