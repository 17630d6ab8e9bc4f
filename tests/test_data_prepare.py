"""Data part, end to end: `posevideo prepare` and `posevideo index` on generated videos."""
import json
import os
import signal
import struct
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from posevideo.cli import cli
from posevideo.data.index import AUDIO_SAMPLES, WINDOW


def _run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output + (result.stderr if hasattr(result, "stderr") else "")


def _cli_subprocess(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "posevideo", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.fixture(scope="module")
def speaker60(tmp_path_factory):
    """One 60-second synthetic speaker (video + ground-truth .pose)."""
    from posevideo.synthetic import synth_speaker

    out = tmp_path_factory.mktemp("syn60")
    synth_speaker(seed=5, seconds=60, out_dir=out)
    return out


@pytest.fixture(scope="module")
def speakers_short(tmp_path_factory):
    from posevideo.synthetic import synth_speaker

    out = tmp_path_factory.mktemp("syn_short")
    for seed in (1, 2, 3):
        synth_speaker(seed=seed, seconds=6, out_dir=out, fps=25)
    return out


@pytest.fixture(scope="module")
def prepared60(speaker60, tmp_path_factory):
    data = tmp_path_factory.mktemp("data60")
    code, output = _run("prepare", speaker60, "--speaker", "syn", "--data", data, "--poses-from", speaker60,
                        "--size", 128)
    assert code == 0, output
    return data, output


def _files(data: Path) -> dict:
    return {str(p.relative_to(data)): p.stat().st_mtime_ns for p in sorted(data.rglob("*")) if p.is_file()}


def test_60s_synthetic_gives_train_dev_test_and_a_rerun_does_no_work(speaker60, prepared60):
    from posevideo.renderer.data import bank_from_data

    data, output = prepared60
    train = pd.read_csv(data / "train.csv")
    assert set(train["dataset"]) == {"train", "dev", "test"}
    intervals = pd.read_csv(data / "intervals.csv")
    assert len(intervals) == 6 and (intervals["end_time"] - intervals["start_time"]).max() <= 10.0 + 1e-6
    # No sample crosses an interval; splits never share an interval.
    assert train.groupby("interval_id")["dataset"].nunique().max() == 1
    frames = pd.read_csv(data / "frames.csv", keep_default_na=False)
    assert len(frames) == 1800 and frames["pose_valid"].all()
    # A sample: normalized pose, 64/15 s of audio that matches the source at its start time.
    row = train.iloc[len(train) // 2]
    with np.load(data / row["pose_fn"], allow_pickle=False) as z:
        assert z["pose"].shape == (WINDOW, 178, 2) and z["conf"].shape == (WINDOW, 178)
        assert z["audio"].shape == (AUDIO_SAMPLES,) and str(z["layout"]) == "reduced"
        from posevideo.audio import load_audio

        source = load_audio(data / "syn" / "audio" / "synthetic_5.wav")
        a0 = int(round(float(z["start"]) * 16000))
        assert np.allclose(z["audio"], source[a0:a0 + AUDIO_SAMPLES])
        pixels = z["pose"] * z["scale"] + z["center"]  # back to the video's pixels
    from posevideo.pose import arrays, read_pose, to_layout

    truth, conf = arrays(to_layout(read_pose(speaker60 / "synthetic_5.pose"), "reduced"))
    t = int(round(float(row["start"]) * 30))
    seen = conf[t] > 0
    assert np.abs(pixels[0][seen] - truth[t][seen]).max() < 2.0  # smoothing-free ground truth, 2 px
    stats = json.loads((data / "syn" / "stats.json").read_text())
    assert stats["layout"] == "reduced" and np.array(stats["mean"]).shape == (178, 2)
    # What the renderer trainer reads: every valid frame of the split, skeleton drawn beside its crop.
    bank = bank_from_data(data, "syn", 128, "test")
    skeleton, target = bank.batch(torch.arange(1))
    assert skeleton.shape == target.shape == (1, 3, 128, 128) and -1 <= float(target.min()) < float(target.max()) <= 1
    assert len(bank) == (frames["dataset"] == "test").sum()
    # --frames all: every valid frame inside an interval, whatever its split.
    from posevideo.renderer.data import load_frames
    assert len(load_frames(data, "syn", 128, "all")) == (frames["interval_id"] != "").sum() > len(bank)
    # A second run does no work: nothing rewritten.
    before = _files(data)
    code, output = _run("prepare", speaker60, "--speaker", "syn", "--data", data, "--poses-from", speaker60,
                        "--size", 128)
    assert code == 0, output
    assert "1 ok (1 already done)" in output
    assert _files(data) == before


def _astronaut_clip(path: Path, frames=112, size=256, audio=True):
    """A real photo of a person (skimage's astronaut), shifted and scaled a little every frame."""
    from skimage.data import astronaut

    from posevideo.video import write_video

    image = astronaut()
    out = []
    for i in range(frames):
        s = 1 + 0.06 * np.sin(i / 9)
        dx, dy = 12 * np.sin(i / 7), 8 * np.cos(i / 11)
        m = np.array([[s, 0, dx + (1 - s) * 256], [0, s, dy + (1 - s) * 256]], np.float32)
        warped = cv2.warpAffine(image, m, (512, 512), borderMode=cv2.BORDER_REFLECT)
        out.append(cv2.resize(warped, (size, size), interpolation=cv2.INTER_AREA))
    t = np.arange(int(frames / 25 * 16000)) / 16000
    sound = (0.2 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    write_video(path, out, 25, audio=sound if audio else None)


def test_real_photo_clip_and_bad_files_in_one_run(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    _astronaut_clip(videos / "astronaut.mp4")
    whole = (videos / "astronaut.mp4").read_bytes()
    (videos / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    (videos / "notes.mp4").write_text("this is not a video\n")
    data = tmp_path / "data"
    process = _cli_subprocess("prepare", videos, "--speaker", "astro", "--data", data)
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 1, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, stderr
    assert any("truncated.mp4" in e for e in errors) and any("notes.mp4" in e for e in errors)
    assert "Traceback" not in stderr
    # The good clip is complete: the body found in at least 90 % of its frames, index written.
    frames = pd.read_csv(data / "frames.csv", keep_default_na=False)
    assert len(frames) == 112 and frames["pose_valid"].mean() >= 0.9
    assert (data / "astro" / "done" / "astronaut.json").exists()
    assert len(pd.read_csv(data / "intervals.csv")) >= 1
    assert len(pd.read_csv(data / "train.csv")) >= 1
    crops = np.load(data / "astro" / "frames" / "astronaut.256.npy", mmap_mode="r")
    assert crops.shape == (112, 256, 256, 3) and crops[-1].std() > 10
    # Coordinates are pixels of the source video: the shoulders sit where the astronaut's are.
    from posevideo.pose import arrays, read_pose, shoulder_indices, to_layout

    xy, conf = arrays(to_layout(read_pose(data / "astro" / "poses" / "astronaut.pose"), "reduced"))
    right, left = shoulder_indices("reduced")
    mid = (xy[:, right] + xy[:, left]) / 2
    assert 60 < np.median(mid[:, 0]) < 200 and 100 < np.median(mid[:, 1]) < 256
    assert "detection rate" in stdout


def _fake_pose(path: Path, frames: int, fps: float, width: int, height: int, person=True):
    """A holistic .pose with shoulders in the middle of the frame (or nobody)."""
    from posevideo.pose import holistic_pose, write_pose

    rng = np.random.default_rng(frames)
    xyz = np.zeros((frames, 576, 3), np.float32)
    xyz[:, :, 0] = width / 2 + rng.normal(0, 2, (frames, 576))
    xyz[:, :, 1] = height / 2 + rng.normal(0, 2, (frames, 576))
    xyz[:, 11, 0] -= width / 8  # shoulders a quarter of the width apart
    xyz[:, 12, 0] += width / 8
    conf = np.full((frames, 576), 1.0 if person else 0.0, np.float32)
    write_pose(holistic_pose(xyz, conf, fps, width, height), path)


def _vfr_video(path: Path, frames=60, size=128):
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=30)
    stream.width = stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.codec_context.time_base = Fraction(1, 1000)
    pts = 0
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(np.full((size, size, 3), i * 4, np.uint8), format="rgb24")
        frame.pts, frame.time_base = pts, Fraction(1, 1000)
        pts += 33 if i % 2 == 0 else 50  # alternating 30 and 20 fps
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()


def _rotate_90(path: Path):
    """Set the mp4 track's display matrix to a 90 degree turn, as a phone does."""
    data = bytearray(path.read_bytes())
    i = data.find(b"tkhd")
    version = data[i + 4]
    # type, version/flags, times + track id, reserved, duration, reserved, layer/group/volume/reserved
    offset = i + 4 + 4 + (12 if version == 0 else 24) + 4 + (4 if version == 0 else 8) + 8 + 8
    data[offset:offset + 36] = struct.pack(">9I", 0, 0x10000, 0, (-0x10000) & 0xFFFFFFFF, 0, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))


def test_vfr_rotated_no_audio_and_no_person_are_handled(tmp_path):
    from posevideo.video import probe, write_video

    videos, poses = tmp_path / "videos", tmp_path / "poses"
    videos.mkdir(), poses.mkdir()
    _vfr_video(videos / "vfr.mp4")
    info = probe(videos / "vfr.mp4")
    assert info.vfr
    vfr_frames = int(round(info.duration * info.fps))
    _fake_pose(poses / "vfr.pose", vfr_frames, info.fps, 128, 128)
    # Rotated: stored 160x96 landscape, shown 96x160 portrait.
    gradient = np.zeros((96, 160, 3), np.uint8)
    gradient[..., 0] = np.linspace(0, 255, 160)[None].astype(np.uint8)
    write_video(videos / "phone.mp4", [gradient] * 20, 25, audio=np.zeros(12800, np.float32))
    _rotate_90(videos / "phone.mp4")
    _fake_pose(poses / "phone.pose", 20, 25, 96, 160)
    write_video(videos / "empty.mp4", [np.zeros((64, 64, 3), np.uint8)] * 30, 25)
    _fake_pose(poses / "empty.pose", 30, 25, 64, 64, person=False)
    data = tmp_path / "data"
    code, output = _run("prepare", videos, "--speaker", "x", "--data", data, "--poses-from", poses, "--size", 64,
                        "--min-seconds", 0.5)
    assert code == 0, output
    assert "vfr.mp4: variable frame rate, resampled" in output
    assert "phone.mp4: rotated" in output
    assert "vfr.mp4: no audio track" in output and "empty.mp4: no person found" in output
    frames = pd.read_csv(data / "frames.csv", keep_default_na=False)
    assert (frames["video_fn"] == "vfr").sum() == vfr_frames
    vfr_crops = np.load(data / "x" / "frames" / "vfr.64.npy")
    # The 30/20 fps alternation resampled to a constant rate: brightness rises steadily.
    brightness = vfr_crops[:, 32, 32, 0].astype(float)
    assert len(brightness) == vfr_frames and np.all(np.diff(brightness) >= -3)
    phone = json.loads((data / "x" / "videos" / "phone.json").read_text())["probe"]
    assert (phone["width"], phone["height"]) == (96, 160)
    assert set(frames.loc[frames["video_fn"] == "empty", "interval_id"]) == {""}
    # A new crop size later: only the crops are made, the rest is kept.
    pose_time = (data / "x" / "poses" / "vfr.pose").stat().st_mtime_ns
    code, output = _run("prepare", videos, "--speaker", "x", "--data", data, "--poses-from", poses, "--size", 64,
                        "--size", 32, "--min-seconds", 0.5)
    assert code == 0 and np.load(data / "x" / "frames" / "vfr.32.npy").shape == (vfr_frames, 32, 32, 3)
    assert (data / "x" / "poses" / "vfr.pose").stat().st_mtime_ns == pose_time
    assert json.loads((data / "x" / "done" / "vfr.json").read_text())["sizes"] == [32, 64]
    # A .pose whose length is not the video's is refused with one line naming it.
    _fake_pose(poses / "phone.pose", 50, 25, 96, 160)
    code, output = _run("prepare", videos / "phone.mp4", "--speaker", "y", "--data", data, "--poses-from", poses)
    assert code == 1 and "phone.pose: holds 50 frames but its video phone.mp4 has 20" in output
    # Two inputs with one name would write the same files: the second is refused, the first done.
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "empty.mp4").write_bytes((videos / "empty.mp4").read_bytes())
    code, output = _run("prepare", videos / "empty.mp4", tmp_path / "other" / "empty.mp4", "--speaker", "z",
                        "--data", data, "--poses-from", poses)
    assert code == 1 and "has the same name as" in output and (data / "z" / "done" / "empty.json").exists()


def test_resume_after_a_kill_leaves_nothing_half_written(speaker60, prepared60, tmp_path):
    data = tmp_path / "data"
    args = ("prepare", speaker60, "--speaker", "syn", "--data", data, "--poses-from", speaker60, "--size", 128)
    process = _cli_subprocess(*args)
    frames_dir = data / "syn" / "frames"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if frames_dir.is_dir() and any(p.name.startswith(".") for p in frames_dir.iterdir()):
            break  # the crops are being written
        time.sleep(0.002)
    assert process.poll() is None, "prepare ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    # Nothing that looks finished is incomplete: no done marker, no crop file without its temp name.
    assert not (data / "syn" / "done" / "synthetic_5.json").exists()
    assert not (frames_dir / "synthetic_5.128.npy").exists()
    assert not (data / "train.csv").exists()
    assert any(p.name.startswith(".") for p in frames_dir.iterdir())  # the partial file kept its temp name
    # Rerun: completes, removes the leftovers, and equals an uninterrupted run.
    code, output = _run(*args)
    assert code == 0, output
    assert not any(p.name.startswith(".") for p in frames_dir.iterdir())
    reference, _ = prepared60
    assert np.array_equal(np.load(frames_dir / "synthetic_5.128.npy", mmap_mode="r"),
                          np.load(reference / "syn" / "frames" / "synthetic_5.128.npy", mmap_mode="r"))
    for name in ("frames.csv", "intervals.csv", "train.csv"):
        assert (data / name).read_text() == (reference / name).read_text()


def test_shards_merged_equal_one_run(speakers_short, tmp_path):
    one, sharded = tmp_path / "one", tmp_path / "sharded"
    common = ("--speaker", "s", "--poses-from", speakers_short, "--size", 64, "--min-seconds", 2)
    code, output = _run("prepare", speakers_short, "--data", one, "--workers", 2, *common)
    assert code == 0, output
    assert "3 ok" in output
    for i in range(2):
        code, output = _run("prepare", speakers_short, "--data", sharded, "--shard", f"{i}/2", *common)
        assert code == 0, output
        assert "posevideo index --data" in output and not (sharded / "train.csv").exists()
    code, output = _run("index", "--data", sharded, "--min-seconds", 2)
    assert code == 0, output
    for name in ("frames.csv", "intervals.csv", "train.csv", "s/stats.json"):
        assert (one / name).read_text() == (sharded / name).read_text(), name
    train = pd.read_csv(one / "train.csv")
    assert len(train) > 0
    for fn in train["pose_fn"]:
        with np.load(one / fn) as a, np.load(sharded / fn) as b:
            assert all(np.array_equal(a[k], b[k]) for k in a.files)
    code, output = _run("index", "--data", sharded, "--min-seconds", 2)
    assert "unchanged, nothing to do" in output


def test_green_screen_video_is_keyed_back_to_the_person(tmp_path):
    """The synthetic person painted on pure green, prepared with --key auto: the crops equal the
    same person painted on the background colour, on the person's pixels."""
    from posevideo.pose import framing as cropping
    from posevideo.pose import holistic_pose, write_pose
    from posevideo.synthetic import draw, motion
    from posevideo.video import write_video

    size, frames, fps = 128, 24, 25
    painter = draw.Painter(draw.look_for_seed(2, np.random.default_rng(0)), size)
    features = motion.speech_features(np.zeros(16000, np.float32), [], frames, fps)
    xyz, conf = motion.generate(features, [], motion.style_for_seed(np.random.default_rng(1)),
                                np.random.default_rng(2), fps, size)

    def paint(colour):
        painter.background = np.full((size, size, 3), colour, np.uint8)
        return [painter.draw(xyz[t]) for t in range(frames)]

    green, black, white = paint((0, 255, 0)), paint((0, 0, 0)), paint((255, 255, 255))
    videos = tmp_path / "videos"
    write_video(videos / "green.mp4", green, fps, audio=np.zeros(16000, np.float32))
    write_pose(holistic_pose(xyz, conf, fps, size, size), tmp_path / "green.pose")
    data = tmp_path / "data"
    code, output = _run("prepare", videos, "--speaker", "g", "--data", data, "--poses-from", tmp_path,
                        "--key", "auto", "--size", 128, "--min-seconds", 0.5)
    assert code == 0, output
    assert "green screen keyed" in output
    keyed = np.load(data / "g" / "frames" / "green.128.npy")
    boxes = np.load(data / "g" / "frames" / "green.boxes.npy")
    errors = []
    for t in range(frames):
        # a keyed crop's margins repeat the edge without the blur (the green must stay green to be keyed)
        original = cropping.crop(black[t], boxes[t], 128, soften=False)
        person = cropping.crop((np.all(black[t] == white[t], axis=-1) * 255).astype(np.uint8)[..., None].repeat(3, -1),
                               boxes[t], 128, soften=False)[..., 0] == 255  # fully the person, no edge pixel
        person = cv2.erode(person.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        errors.append(np.abs(keyed[t].astype(int) - original.astype(int))[person].mean())
        assert keyed[t][~cv2.dilate(person.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)].mean() < 6
    assert np.mean(errors) < 6, errors  # H.264 (4:2:0 colour) costs a few levels


def test_several_people_in_a_large_frame_take_the_main_one(tmp_path):
    """A 2048x1024 video (downscaled before extraction) with a large person on the left and a
    small one on the right: the pose is the large person's, in the source video's pixels."""
    from skimage.data import astronaut

    from posevideo.data.prepare import PrepareOptions, prepare_video
    from posevideo.pose import arrays, read_pose, shoulder_indices, to_layout
    from posevideo.video import write_video

    person = astronaut()
    frame = np.full((1024, 2048, 3), 90, np.uint8)
    frame[:, :1024] = cv2.resize(person, (1024, 1024))
    frame[640:896, 1500:1756] = cv2.resize(person, (256, 256))
    clip = [np.roll(frame, 4 * i, axis=1) for i in range(16)]
    write_video(tmp_path / "two.mp4", clip, 25)
    result = prepare_video(tmp_path / "two.mp4", tmp_path / "data" / "p", PrepareOptions(sizes=(64,)))
    assert result.status == "done" and result.detected >= 15
    xy, conf = arrays(to_layout(read_pose(tmp_path / "data" / "p" / "poses" / "two.pose"), "reduced"))
    right, left = shoulder_indices("reduced")
    width = np.linalg.norm(xy[:, right] - xy[:, left], axis=-1)
    mid = (xy[:, right] + xy[:, left]) / 2
    assert np.all(mid[:, 0] < 1100) and np.median(width) > 250  # the big one (its shoulders ~600 px apart at 2048)
    assert any("no audio" in w for w in result.warnings)
