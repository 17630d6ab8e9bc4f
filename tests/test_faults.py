"""Faults a user meets, for every command that writes: damaged models, NaN inputs, a full disk,
read-only folders, what a kill leaves, videos too short or too small, hostile URLs (issue 16).

What each must give: one `error:` line naming the file or folder, what is wrong and what to do;
exit code 2 (prepare: 1 when some videos failed and the rest went on); no traceback; and nothing
left under the output's name that looks finished. A new command that writes gets its line in
COMMANDS_THAT_WRITE below.

Two kinds of fault are real here and two are injected:
- a full disk is a real 256 KB tmpfs filled to the last byte (tests run as root; skipped where
  `mount` is not permitted), plus an injected ENOSPC at the close of a video or .pose file, which
  runs everywhere and is the case that used to rename a broken mp4 into place;
- a read-only folder is a real read-only tmpfs (root ignores chmod, not a read-only mount), and,
  everywhere, an injected EROFS from os.open / os.mkdir for paths under the folder (what the
  kernel answers on a read-only file system).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import struct
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
import torch
from click.testing import CliRunner

from posevideo.cli import cli
from posevideo.errors import InputError
from posevideo.gestures.model import GestureConfig, GestureGenerator
from posevideo.renderer.model import Generator, RendererConfig
from posevideo.training import save_checkpoint

TINY_RENDERER = RendererConfig(size=32, ngf=8, ndf=8)
STATS = {"speaker": "dot", "layout": "reduced", "center": [128.0, 120.0], "scale": 60.0,
         "width": 256, "height": 256, "box": [0.0, 0.0, 256.0]}


# --- helpers ---------------------------------------------------------------------------------------

@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: on a small CPU shared with other jobs, OpenMP threads that spin waiting
    for each other make these tiny models many times slower (tests/test_gestures_train.py)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run(*args) -> tuple[int, str]:
    """The CLI in this process: (exit code, stdout + stderr). An exception that is not a clean
    exit is a traceback for the user: it fails the test with its own traceback."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def one_error(output: str, *words: str) -> str:
    """The single `error:` line of `output`, checked to hold every one of `words`."""
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert "Traceback" not in output, output
    for word in words:
        assert word in errors[0], (word, errors[0])
    return errors[0]


def nothing_finished(*paths: Path) -> None:
    """Neither the outputs nor a hidden temporary file beside them."""
    for path in paths:
        assert not path.exists(), path
        if path.parent.is_dir():
            assert not list(path.parent.glob(".*tmp-*")), list(path.parent.iterdir())


def _reduced_pose(path: Path, frames: int = 6) -> Path:
    from posevideo.pose import make_pose, write_pose
    from posevideo.pose.layouts import point_groups

    k = sum(len(v) for v in point_groups("reduced").values())
    rng = np.random.default_rng(1)
    xy = rng.uniform(90, 170, (frames, k, 2))
    xy[:, 0], xy[:, 1] = (160, 120), (100, 120)  # left, right shoulder (pixels)
    write_pose(make_pose("reduced", xy.astype(np.float32), np.ones((frames, k), np.float32), 10.0, 256, 256), path)
    return path


def _bank(n: int = 8):
    """Renderer training frames: a white dot for a skeleton, a red disc for the person."""
    from posevideo.renderer.data import FrameBank

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:32, :32]
    skeletons = np.zeros((n, 32, 32, 3), np.uint8)
    frames = np.full((n, 32, 32, 3), 40, np.uint8)
    for i, (cx, cy) in enumerate(rng.integers(8, 24, (n, 2))):
        skeletons[i][(abs(xx - cx) < 2) & (abs(yy - cy) < 2)] = 255
        frames[i][(xx - cx) ** 2 + (yy - cy) ** 2 < 36] = (200, 60, 60)
    meta = {"clip": np.repeat([0, 1], n // 2).astype(np.int32),
            "regions": np.tile(np.array([[2, 2, 14, 14], [-1, -1, -1, -1], [10, 10, 30, 30]], np.float32), (n, 1, 1))}
    return FrameBank(skeletons, frames, stats=STATS, meta=meta)


def _fake_pose(path: Path, frames: int, fps: float, width: int, height: int):
    """A holistic .pose with a person's shoulders in the middle of the frame."""
    from posevideo.pose import holistic_pose, write_pose

    xyz = np.zeros((frames, 576, 3), np.float32)
    xyz[:, :, 0], xyz[:, :, 1] = width / 2, height / 2
    xyz[:, 11, 0] -= width / 8  # shoulders a quarter of the width apart
    xyz[:, 12, 0] += width / 8
    path.parent.mkdir(parents=True, exist_ok=True)
    write_pose(holistic_pose(xyz, np.ones((frames, 576), np.float32), fps, width, height), path)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A tiny renderer and gesture model (checkpoint folders), a .pose, a second of speech."""
    root = tmp_path_factory.mktemp("inputs")
    torch.manual_seed(0)
    save_checkpoint(root / "renderer", {"G": Generator(TINY_RENDERER)}, None,
                    {"kind": "renderer", "step": 0, "model": TINY_RENDERER.to_dict(), "stats": STATS})
    g = GestureGenerator(GestureConfig(n_points=178, width=32, encoder_width=8, disc_width=16, decoder_layers=1)).eval()
    save_checkpoint(root / "gestures", {"generator": g}, None,
                    {"kind": "gestures", "step": 0, "model": g.cfg.to_dict(), "layout": "reduced", "speaker": "t",
                     "stats": {"layout": "reduced", "width": 256, "height": 256, "center": [128.0, 120.0], "scale": 60.0}},
                    dtype=torch.float16)
    t = np.arange(16000) / 16000
    soundfile.write(root / "speech.wav", (0.3 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32), 16000)
    _reduced_pose(root / "in.pose")
    return root


# --- 1, 2: damaged model files ---------------------------------------------------------------------

def _truncate(ckpt: Path):
    data = (ckpt / "model.safetensors").read_bytes()
    (ckpt / "model.safetensors").write_bytes(data[: len(data) // 2])


def _bad_header(ckpt: Path):
    data = bytearray((ckpt / "model.safetensors").read_bytes())
    data[8:40] = b"\xff" * 32  # the JSON header's first bytes
    (ckpt / "model.safetensors").write_bytes(bytes(data))


def _bad_length(ckpt: Path):
    data = bytearray((ckpt / "model.safetensors").read_bytes())
    data[0:8] = struct.pack("<Q", 10 ** 12)  # the header's length field
    (ckpt / "model.safetensors").write_bytes(bytes(data))


def _bad_json(ckpt: Path):
    (ckpt / "checkpoint.json").write_text('{"format": "posevideo-checkpoint-1", "kind": ')


def _pickle_instead(ckpt: Path):
    for name in ("model.safetensors", "checkpoint.json"):
        (ckpt / name).unlink()
    (ckpt / "model.pt").write_bytes(b"PK\x03\x04 a torch.save zip")


def _nan_weights(ckpt: Path):
    """Bytes inside the tensor data turned to 0xFF: NaN in float16 and float32, header intact."""
    path = ckpt / "model.safetensors"
    data = bytearray(path.read_bytes())
    header_len = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + header_len])
    start, end = next(v["data_offsets"] for k, v in header.items() if k != "__metadata__" and v["dtype"].startswith("F"))
    base = 8 + header_len
    data[base + start: base + min(end, start + 64)] = b"\xff" * min(end - start, 64)
    path.write_bytes(bytes(data))


DAMAGES = {  # name: (damage, the file the line must name, a word it must say)
    "truncated": (_truncate, "model.safetensors", "damaged"),
    "header bytes": (_bad_header, "model.safetensors", "damaged"),
    "length field": (_bad_length, "model.safetensors", "damaged"),
    "invalid checkpoint.json": (_bad_json, "checkpoint.json", "damaged"),
    ".pt instead": (_pickle_instead, "model.pt", "not a posevideo model"),
    "NaN weights": (_nan_weights, "model.safetensors", "NaN"),
}

# Every command that loads a model: (which model it is given damaged, arguments; {m} the damaged
# model, {r}/{g} the good renderer/gesture model, {i} inputs, {o} an output folder).
MODEL_COMMANDS = {
    "render": ("renderer", ["render", "--pose", "{i}/in.pose", "--model", "{m}", "--out", "{o}/x.mp4", "--device", "cpu"]),
    "export": ("renderer", ["export", "--renderer", "{m}", "--out", "{o}/x"]),
    "ship-renderer": ("renderer", ["ship-renderer", "--model", "{m}", "--out", "{o}/x"]),
    "speak --renderer": ("renderer", ["speak", "--audio", "{i}/speech.wav", "--gestures", "{g}", "--renderer", "{m}",
                                      "--out", "{o}/x.mp4", "--device", "cpu"]),
    "gestures": ("gestures", ["gestures", "--audio", "{i}/speech.wav", "--model", "{m}", "--out", "{o}/x.pose",
                              "--video", "{o}/x.mp4"]),
    "speak --gestures": ("gestures", ["speak", "--audio", "{i}/speech.wav", "--gestures", "{m}", "--renderer", "{r}",
                                      "--out", "{o}/x.mp4", "--device", "cpu"]),
}


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("command", MODEL_COMMANDS)
def test_damaged_model_is_one_line_naming_the_file(inputs, tmp_path, damage, command):
    kind, args = MODEL_COMMANDS[command]
    damaged = tmp_path / "model"
    shutil.copytree(inputs / kind, damaged)
    spoil, name, word = DAMAGES[damage]
    spoil(damaged)
    out = tmp_path / "out"
    fill = {"m": damaged, "r": inputs / "renderer", "g": inputs / "gestures", "i": inputs, "o": out}
    code, output = run(*(a.format(**fill) for a in args))
    assert code == 2, output
    one_error(output, str(damaged / name), word)
    nothing_finished(out / "x", out / "x.mp4", out / "x.pose")


@pytest.mark.parametrize("damage", DAMAGES)
def test_serve_refuses_a_damaged_renderer_before_serving(inputs, tmp_path, monkeypatch, damage):
    from posevideo.web.serve import resolve_model

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    damaged = tmp_path / "model"
    shutil.copytree(inputs / "renderer", damaged)
    spoil, name, word = DAMAGES[damage]
    spoil(damaged)
    with pytest.raises(InputError) as caught:
        resolve_model(damaged, echo=lambda line: None)
    message = str(caught.value)
    assert word in message and (str(damaged / name) in message or (name == "model.pt" and str(damaged) in message))
    assert not list((tmp_path / "cache").rglob("model.json"))


def test_resume_from_a_damaged_training_state_names_it(tmp_path):
    from posevideo.renderer.train import TrainConfig, train

    cfg = dict(out=str(tmp_path / "run"), batch=4, device="cpu", jitter=0.0, log_every=1, image_every=10 ** 6,
               checkpoint_every=10 ** 6)
    last = train(TrainConfig(steps=1, **cfg), _bank(), TINY_RENDERER)
    _truncate_file(last / "train.safetensors")
    with pytest.raises(InputError, match="train.safetensors: is damaged"):
        train(TrainConfig(steps=2, resume=True, **cfg), _bank(), TINY_RENDERER)
    (tmp_path / "run" / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="config.json: is damaged: not valid JSON"):
        train(TrainConfig(steps=2, resume=True, **cfg), _bank(), TINY_RENDERER)


def _truncate_file(path: Path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


# --- 3: NaN in audio -------------------------------------------------------------------------------

def test_nan_audio_is_silence_with_a_note_and_never_a_nan_pose(inputs, tmp_path):
    from posevideo.pose import arrays, read_pose

    wave, _ = soundfile.read(inputs / "speech.wav", dtype="float32")
    wave[4000:5000] = np.nan  # 62 ms
    wave[6000] = np.inf
    soundfile.write(tmp_path / "nan.wav", wave, 16000, subtype="FLOAT")
    code, output = run("gestures", "--audio", tmp_path / "nan.wav", "--model", inputs / "gestures",
                       "--out", tmp_path / "x.pose", "--video", tmp_path / "x.mp4")
    assert code == 0, output
    assert "1001 samples (63 ms) were NaN or infinite; treated as silence" in output
    xy, conf = arrays(read_pose(tmp_path / "x.pose"))
    assert np.isfinite(xy).all() and (conf == 1).all() and len(xy) == 15
    assert (tmp_path / "x.mp4").exists()

    soundfile.write(tmp_path / "all_nan.wav", np.full(16000, np.nan, np.float32), 16000, subtype="FLOAT")
    code, output = run("gestures", "--audio", tmp_path / "all_nan.wav", "--model", inputs / "gestures",
                       "--out", tmp_path / "y.pose")
    assert code == 2
    one_error(output, "all_nan.wav", "NaN")
    nothing_finished(tmp_path / "y.pose")


def test_load_audio_replaces_nan_and_keeps_the_rest(tmp_path, capsys):
    from posevideo.audio import load_audio

    wave = np.linspace(-0.5, 0.5, 8000).astype(np.float32)
    wave[100:200] = np.nan
    soundfile.write(tmp_path / "a.wav", wave, 8000, subtype="FLOAT")  # 8 kHz: resampled after the cleaning
    audio = load_audio(tmp_path / "a.wav", 16000)
    assert np.isfinite(audio).all() and len(audio) == 16000
    assert "100 samples (12 ms)" in capsys.readouterr().err


# --- 4: a full disk ------------------------------------------------------------------------------

class _FullAtClose:
    """A PyAV output container whose close() fails as FFmpeg's does on a full disk: the frames
    went out, the mp4 index (written at close) did not."""

    def __init__(self, container):
        self._container = container

    def __getattr__(self, name):
        return getattr(self._container, name)

    def close(self):
        self._container.close()
        raise av.error.OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def full_at_close(monkeypatch):
    real_open = av.open

    def open_(path, mode="r", *args, **kwargs):
        container = real_open(path, mode, *args, **kwargs)
        return _FullAtClose(container) if mode == "w" else container

    monkeypatch.setattr(av, "open", open_)


VIDEO_COMMANDS = {  # every command that writes a video; {o}: the output folder
    "render": ["render", "--pose", "{i}/in.pose", "--model", "{i}/renderer", "--out", "{o}/x.mp4", "--device", "cpu"],
    "gestures --video": ["gestures", "--audio", "{i}/speech.wav", "--model", "{i}/gestures", "--out", "{i}/../g.pose",
                         "--video", "{o}/x.mp4"],
    "skeleton": ["skeleton", "--pose", "{i}/in.pose", "--out", "{o}/x.mp4"],
    "speak": ["speak", "--audio", "{i}/speech.wav", "--gestures", "{i}/gestures", "--renderer", "{i}/renderer",
              "--out", "{o}/x.mp4", "--device", "cpu"],
}


@pytest.mark.parametrize("command", VIDEO_COMMANDS)
def test_video_that_fails_at_close_is_not_renamed_into_place(inputs, tmp_path, full_at_close, command):
    """The regression of issue 16: VideoWriter.__exit__ renamed the unreadable partial file."""
    out = tmp_path / "out"
    code, output = run(*(a.format(i=inputs, o=out) for a in VIDEO_COMMANDS[command]))
    assert code == 2, output
    one_error(output, str(out / "x.mp4"), "the disk is full")
    nothing_finished(out / "x.mp4")


def test_pose_file_that_fails_at_close_is_not_renamed_into_place(inputs, tmp_path, monkeypatch):
    import posevideo.pose.io as pose_io

    class FullFile:
        def __init__(self, *args):
            self.file = open(*args)

        def __getattr__(self, name):
            return getattr(self.file, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pose_io, "open", FullFile, raising=False)
    code, output = run("gestures", "--audio", inputs / "speech.wav", "--model", inputs / "gestures",
                       "--out", tmp_path / "x.pose")
    assert code == 2, output
    one_error(output, str(tmp_path / "x.pose"), "the disk is full")
    nothing_finished(tmp_path / "x.pose")


def _mount_tmpfs(folder: Path, options: str) -> None:
    """A real tmpfs at `folder` (root only); the test is skipped where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")


@pytest.fixture
def full_disk(tmp_path):
    """A 256 KB file system with not one byte free."""
    folder = tmp_path / "full"
    _mount_tmpfs(folder, "size=256k")
    try:
        fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError as error:
            assert error.errno == errno.ENOSPC
        finally:
            os.close(fd)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.parametrize("command", VIDEO_COMMANDS)
def test_video_on_a_real_full_disk(inputs, full_disk, command):
    code, output = run(*(a.format(i=inputs, o=full_disk / "out") for a in VIDEO_COMMANDS[command]))
    assert code == 2, output
    one_error(output, "the disk is full")
    nothing_finished(full_disk / "out" / "x.mp4")


def test_every_writer_on_a_real_full_disk(inputs, full_disk):
    """.pose, JSON, checkpoint (safetensors), npz and npy writers: an InputError, nothing left."""
    from posevideo.files import atomic_output, write_json, write_npz

    code, output = run("gestures", "--audio", inputs / "speech.wav", "--model", inputs / "gestures",
                       "--out", full_disk / "x.pose")
    assert code == 2 and "the disk is full" in one_error(output, str(full_disk / "x.pose"))
    with pytest.raises(InputError, match="the disk is full"):
        write_json(full_disk / "x.json", {"a": list(range(100000))})
    with pytest.raises(InputError, match="the disk is full"):
        save_checkpoint(full_disk / "ckpt", {"G": Generator(TINY_RENDERER)}, None, {"step": 1})
    with pytest.raises(InputError, match="the disk is full"):
        write_npz(full_disk / "x.npz", pose=np.zeros((64, 178, 2)))  # the index's samples
    with pytest.raises(InputError, match="the disk is full"):
        with atomic_output(full_disk / "x.npy") as tmp:
            np.save(tmp, np.zeros(100000))
    nothing_finished(*(full_disk / n for n in ("x.pose", "x.json", "ckpt", "x.npz", "x.npy")))


def test_prepare_crops_on_a_real_full_disk_are_an_error_line_not_a_crash(tmp_path, request):
    """The crops are memory-mapped: without their blocks reserved, a full disk killed `prepare`
    with SIGBUS and no message. In a subprocess, so a regression cannot take pytest down."""
    import sys

    full_disk = tmp_path / "full"
    _mount_tmpfs(full_disk, "size=1m")  # the pose (~230 KB) and small files fit, the crops (5.9 MB) do not
    request.addfinalizer(lambda: subprocess.run(["umount", "-l", str(full_disk)], check=False))
    _tiny_video(tmp_path / "v" / "clip.mp4", 30, 64)
    _fake_pose(tmp_path / "p" / "clip.pose", 30, 30.0, 64, 64)
    done = subprocess.run([sys.executable, "-m", "posevideo", "prepare", str(tmp_path / "v"), "--speaker", "s",
                           "--data", str(full_disk / "data"), "--poses-from", str(tmp_path / "p"), "--size", "256"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 1, done.stderr
    one_error(done.stderr, "clip.256.npy", "the disk is full")
    nothing_finished(full_disk / "data" / "s" / "frames" / "clip.256.npy", full_disk / "data" / "s" / "done" / "clip.json")


# --- 5: read-only output folders ---------------------------------------------------------------------

def _inject_read_only(monkeypatch, folder: Path) -> None:
    """os.open for writing and os.mkdir under `folder` fail with EROFS, as on a read-only mount
    (every posevideo writer makes its temporary file or folder through these first)."""
    folder = folder.resolve()
    real_open, real_mkdir = os.open, os.mkdir
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def under(path) -> bool:
        path = Path(os.fsdecode(path)).resolve()
        return path == folder or folder in path.parents

    def open_(path, flags, *args, **kwargs):
        if flags & writing and under(path):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    def mkdir(path, *args, **kwargs):
        if under(path):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "mkdir", mkdir)


@pytest.fixture(params=["mounted", "injected"])
def read_only(request, tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    if request.param == "mounted":
        _mount_tmpfs(folder, "size=64k,ro")
        request.addfinalizer(lambda: subprocess.run(["umount", "-l", str(folder)], check=False))
    else:
        folder.mkdir()
        _inject_read_only(monkeypatch, folder)
    return folder


def _tiny_video(path: Path, frames: int, side: int) -> Path:
    from posevideo.video import write_video

    rng = np.random.default_rng(0)
    write_video(path, (rng.integers(0, 255, (side, side, 3), dtype=np.uint8) for _ in range(frames)), 30)
    return path


COMMANDS_THAT_WRITE = {  # {o}: an output place under the read-only folder
    "render": VIDEO_COMMANDS["render"],
    "skeleton": VIDEO_COMMANDS["skeleton"],
    "speak": VIDEO_COMMANDS["speak"],
    "gestures": ["gestures", "--audio", "{i}/speech.wav", "--model", "{i}/gestures", "--out", "{o}/x.pose"],
    "gestures --video": VIDEO_COMMANDS["gestures --video"],
    "export": ["export", "--renderer", "{i}/renderer", "--out", "{o}/x"],
    "ship-renderer": ["ship-renderer", "--model", "{i}/renderer", "--out", "{o}/x"],
    "prepare": ["prepare", "{i}/clip.mp4", "--speaker", "s", "--data", "{o}/data"],
    "index": ["index", "--data", "{ro}"],
    "synth-speaker": ["synth-speaker", "--seed", "1", "--seconds", "1", "--out", "{o}"],
    "demo": ["demo", "--out", "{o}", "--device", "cpu"],
    "transfer": ["transfer", "--video", "{i}/clip.mp4", "--renderer", "{i}/renderer", "--out", "{o}/x.mp4"],
    "train gestures": ["train", "gestures", "--data", "{i}", "--speaker", "s", "--out", "{o}/run"],
    "train renderer": ["train", "renderer", "--data", "{i}", "--speaker", "s", "--out", "{o}/run"],
}


@pytest.mark.parametrize("command", COMMANDS_THAT_WRITE)
def test_read_only_output_is_one_line_naming_the_folder(inputs, read_only, command):
    if not (inputs / "clip.mp4").exists():
        _tiny_video(inputs / "clip.mp4", 3, 64)
    args = [a.format(i=inputs, o=read_only / "sub", ro=read_only) for a in COMMANDS_THAT_WRITE[command]]
    code, output = run(*args)
    assert code == 2, output
    line = one_error(output, str(read_only), "read-only file system")
    assert "cannot write output in this folder" in line or "the disk is full" not in line
    assert not (read_only / "sub").exists()


# --- 6: leftovers of a kill during a checkpoint save ---------------------------------------------------

def test_resume_removes_what_a_kill_while_saving_left(tmp_path, monkeypatch):
    import posevideo.files as files
    import posevideo.training as training
    from posevideo.renderer.train import TrainConfig, train

    cfg = dict(out=str(tmp_path / "run"), batch=4, device="cpu", jitter=0.0, log_every=1, image_every=10 ** 6,
               checkpoint_every=1)
    train(TrainConfig(steps=1, **cfg), _bank(), TINY_RENDERER)

    # The kill: saving step 2 stops after the weights were written, and (SIGKILL) nothing cleans up.
    real_save = training.save_file

    def save_then_die(tensors, path):
        real_save(tensors, path)
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "save_file", save_then_die)
    monkeypatch.setattr(files.shutil, "rmtree", lambda *a, **k: None)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(steps=2, resume=True, **cfg), _bank(), TINY_RENDERER)
    monkeypatch.undo()
    checkpoints = tmp_path / "run" / "checkpoints"
    left = [p.name for p in checkpoints.iterdir() if p.name.startswith(".")]
    assert len(left) == 1 and left[0].startswith(".step-0000002.tmp-"), left

    last = train(TrainConfig(steps=3, resume=True, **cfg), _bank(), TINY_RENDERER)
    assert last.name == "step-0000003"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["step-0000002", "step-0000003"]


# --- 7, 8: prepare says why a video gives nothing, and one bad input is one line and exit 1 -------------

def test_prepare_says_why_a_video_gives_nothing(tmp_path):
    _tiny_video(tmp_path / "v" / "short.mp4", 3, 64)
    _fake_pose(tmp_path / "p" / "short.pose", 3, 30.0, 64, 64)
    code, output = run("prepare", tmp_path / "v", "--speaker", "s", "--data", tmp_path / "data",
                       "--poses-from", tmp_path / "p", "--size", 32)
    assert code == 0, output
    assert "short.mp4: lasts 0.10 s (3 frames), shorter than --min-seconds 1: no intervals" in output
    assert "error:" not in output

    _tiny_video(tmp_path / "small" / "small.mp4", 30, 16)
    code, output = run("prepare", tmp_path / "small", "--speaker", "s", "--data", tmp_path / "data")
    assert code == 1, output
    one_error(output, "small.mp4", "frames of 16x16 are too small for pose extraction")


def test_prepare_one_rejected_input_is_one_line_and_exit_1(tmp_path):
    (tmp_path / "notes.mp4").write_text("not a video\n")
    code, output = run("prepare", tmp_path / "notes.mp4", "--speaker", "s", "--data", tmp_path / "data")
    assert code == 1, output  # some videos failed (here: all); README "What happens on bad input"
    one_error(output, "notes.mp4", "not a readable video")
    assert "is not a folder" not in output
    code, output = run("prepare", tmp_path / "missing.mp4", "--speaker", "s", "--data", tmp_path / "data")
    assert code == 2  # the command itself refused: nothing was tried
    one_error(output, "missing.mp4", "does not exist")


# --- 9: the server -----------------------------------------------------------------------------------

def test_server_answers_400_to_a_nul_byte_and_keeps_serving(tmp_path):
    from posevideo.web.serve import NODE_MODULES, NPM_ASSETS, make_server

    if not all((NODE_MODULES / asset).is_dir() for asset in NPM_ASSETS):
        pytest.skip("npm assets not installed (./setup.sh)")
    (tmp_path / "model.json").write_text(json.dumps({"format": "posevideo-renderer-onnx",
                                                     "files": {"float32": "model.onnx"}}))
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    server = make_server(tmp_path, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    def fetch(path, data=None, headers=None):
        request = urllib.request.Request(url + path, data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    try:
        assert fetch("/model/%00") == 400
        assert fetch("/%00.js") == 400
        assert fetch("/api/pose", b"x", {"X-Filename": ".."}) == 400
        assert fetch("/api/pose", b"x", {"X-Filename": "a.pose", "Content-Length": "lots"}) == 400
        assert fetch("/model/model.json") == 200
    finally:
        server.shutdown()
        server.server_close()
