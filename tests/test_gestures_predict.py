"""Speech -> .pose: any length and format, windows cross-faded without seams, bad input handled."""
import os
import subprocess
import sys
from types import SimpleNamespace

import av
import numpy as np
import pytest
import soundfile
import torch

from posevideo import training
from posevideo.errors import InputError
from posevideo.gestures.features import LogMel
from posevideo.gestures.model import GestureConfig, GestureGenerator
from posevideo.gestures.predict import crossfade_weights, predict_poses, window_starts
from posevideo.pose import read_pose


def _speech(seconds, rate=16000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    syllables = rng.uniform(0, 1, size=int(seconds * 4) + 1) ** 2  # a loudness every 0.25 s, some silent
    gate = syllables[(t * 4).astype(int)]
    return (0.3 * gate * np.sin(2 * np.pi * 180 * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def _model(n_points=178, seed=0):
    """An untrained tiny generator whose output moves with the audio as much as a trained one's:
    BatchNorm statistics measured on speech, a unit-variance output layer."""
    torch.manual_seed(seed)
    g = GestureGenerator(GestureConfig(n_points=n_points, width=32, encoder_width=8, disc_width=16, decoder_layers=1))
    g.pose_std.fill_(0.3)
    for m in g.modules():
        if isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
            m.momentum = None  # cumulative average over the calibration batches
    mel = LogMel()(torch.from_numpy(_speech(20.0, seed=seed)))
    with torch.no_grad():
        g.train()
        for start in range(0, 1500, 300):
            g(mel[None, start:start + 425])
        torch.nn.init.normal_(g.out.weight, std=1.0 / 32 ** 0.5)
    return g.eval()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny untrained model of the reduced layout, saved as `train gestures --export` saves one."""
    path = tmp_path_factory.mktemp("model") / "gestures"
    g = _model()
    stats = {"layout": "reduced", "width": 256, "height": 256, "center": [128.0, 120.0], "scale": 60.0}
    training.save_checkpoint(path, {"generator": g}, None, {"model": g.cfg.to_dict(), "layout": "reduced", "stats": stats,
                                                            "speaker": "test", "kind": "gestures", "step": 0},
                             dtype=torch.float16)
    return path


def test_window_plan_covers_and_weights_sum_to_one():
    assert window_starts(105, 64, 48) == [0, 48]
    assert window_starts(30, 64, 48) == [0]
    weights = crossfade_weights(3, 64, 48)
    total = np.zeros(48 * 2 + 64)
    for i, w in enumerate(weights):
        total[48 * i: 48 * i + 64] += w
    assert np.allclose(total, 1.0)


class _WindowBiased(torch.nn.Module):
    """A stand-in generator with the flaw that makes seams: each window's output carries its own
    offset (here the loudness at its first frames), as a real model's windows disagree where they
    meet. Within a window the output follows the loudness smoothly."""

    cfg = GestureConfig(n_points=2)

    def __init__(self):
        super().__init__()
        self.register_buffer("pose_mean", torch.zeros(2, 2))

    def forward(self, mel, frames):
        loudness = mel.mean(-1)  # (B, mel frames)
        follow = torch.nn.functional.interpolate(loudness[:, None], size=frames, mode="linear")[:, 0]  # (B, frames)
        z = 0.1 * follow + 2 * loudness[:, :10].mean(-1, keepdim=True)  # + the window's own offset
        return z[..., None, None].expand(-1, -1, 2, 2)

    def to_pose(self, z):
        return z


def test_no_seam_at_window_edges():
    g, audio = _WindowBiased(), _speech(20.0)
    pose = predict_poses(g, audio, hop=48)  # windows at 0, 48, 96, ...; 16-frame overlaps cross-faded
    jumps = np.abs(np.diff(pose[..., 0, 0]))  # (frames - 1,) jump from frame t to t + 1
    edges = [e for s in range(48, len(pose), 48) for e in (s - 1, s + 15) if e < len(jumps)]  # overlap ends
    assert jumps[edges].max() <= np.delete(jumps, edges).max()
    # The same model without overlap (hop 64) jumps at every edge: what the cross-fade removes.
    hard = np.abs(np.diff(predict_poses(g, audio, hop=64)[..., 0, 0]))
    hard_edges = list(range(63, len(hard), 64))
    assert hard[hard_edges].mean() > 2 * np.delete(hard, hard_edges).max()


def test_no_seam_with_the_shipped_model():
    """The same check on the trained model, on average over the window edges: without a cross-fade
    (hop 64) its windows disagree where they meet (the jump there is about three times the usual);
    with one (hop 48) the edges move like any other frame."""
    from posevideo.gestures.predict import DEFAULT_MODEL
    from posevideo.gestures.train import load_generator

    g, _ = load_generator(str(DEFAULT_MODEL))
    audio = _speech(30.0)

    def jumps(hop):  # largest point jump per frame; the last window (it sees the padding silence) left out
        return np.abs(np.diff(predict_poses(g, audio, hop=hop), axis=0)).max(axis=(1, 2))[:-64]

    soft = jumps(48)
    edges = [e for s in range(48, len(soft) + 1, 48) for e in (s - 1, s + 15) if e < len(soft)]
    assert soft[edges].mean() <= 1.3 * np.delete(soft, edges).mean()
    hard = jumps(64)
    hard_edges = list(range(63, len(hard), 64))
    assert hard[hard_edges].mean() > 2 * np.delete(hard, hard_edges).mean()


def test_lengths_short_and_silent_audio():
    g = _model(n_points=10)
    assert predict_poses(g, _speech(7.0)).shape == (105, 10, 2)
    assert predict_poses(g, _speech(1.0)).shape == (15, 10, 2)  # shorter than a window: padded, cut back
    rest = predict_poses(g, np.zeros(16000 * 3, np.float32))
    assert rest.shape == (45, 10, 2) and np.allclose(rest, rest[0])  # silence: the rest pose, still
    with pytest.raises(InputError):
        predict_poses(g, np.zeros(500, np.float32))


def _cli(*args):
    """The CLI in a fresh process, as a user runs it (stderr shows any traceback)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # see test_gestures_train.one_thread
    return subprocess.run([sys.executable, "-m", "posevideo", *args], capture_output=True, text=True, env=env)


def _cli_here(*args):
    """The CLI in this process (no start-up cost); exit code and stderr as a user sees them."""
    from click.testing import CliRunner

    from posevideo.cli import cli

    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return SimpleNamespace(returncode=result.exit_code, stderr=result.stderr)


def test_cli_on_seven_seconds_of_stereo_44k_audio_with_the_shipped_model(tmp_path):
    wav = tmp_path / "speech.flac"
    soundfile.write(wav, np.stack([_speech(7.0, 44100), _speech(7.0, 44100, 1)], 1), 44100)
    out, video = tmp_path / "speech.pose", tmp_path / "speech.mp4"
    result = _cli("gestures", "--audio", str(wav), "--out", str(out), "--video", str(video))  # default --model
    assert result.returncode == 0, result.stderr
    pose = read_pose(out)
    assert pose.body.data.shape[:3] == (105, 1, 178) and pose.body.fps == 15
    with av.open(str(video)) as container:
        assert container.streams.video and container.streams.audio
        assert sum(1 for _ in container.decode(video=0)) == 105


def test_cli_bad_inputs(tmp_path, model_dir):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    result = _cli("gestures", "--audio", str(corrupt), "--model", str(model_dir), "--out", str(tmp_path / "a.pose"))
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    tiny = tmp_path / "tiny.wav"
    soundfile.write(tiny, np.zeros(300, np.float32), 16000)
    result = _cli_here("gestures", "--audio", str(tiny), "--model", str(model_dir), "--out", str(tmp_path / "b.pose"))
    assert result.returncode == 2 and "less than one pose frame" in result.stderr
    result = _cli_here("gestures", "--audio", str(tiny), "--model", str(tmp_path), "--out", str(tmp_path / "c.pose"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(16000 * 2, np.float32), 16000)
    result = _cli_here("gestures", "--audio", str(silent), "--model", str(model_dir), "--out", str(tmp_path / "d.pose"))
    assert result.returncode == 0 and "silent" in result.stderr
    data = read_pose(tmp_path / "d.pose").body.data
    assert data.shape[0] == 30 and np.allclose(data, data[0])


def test_s2g49_model_writes_an_s2g49_pose_and_video(tmp_path):
    """A model of speech2gesture's 49 points (data imported with `index --from-s2g`)."""
    from posevideo.gestures.predict import gestures

    g = _model(n_points=49)
    stats = {"layout": "s2g49", "width": 1280, "height": 720, "center": [640.0, 300.0], "scale": 200.0}
    model = tmp_path / "s2g49"
    training.save_checkpoint(model, {"generator": g}, None, {"model": g.cfg.to_dict(), "layout": "s2g49", "stats": stats,
                                                             "speaker": "oliver", "kind": "gestures", "step": 0})
    wav = tmp_path / "a.wav"
    soundfile.write(wav, _speech(2.0), 16000)
    result = gestures(wav, model, tmp_path / "a.pose", tmp_path / "a.mp4", size=128)
    pose = read_pose(tmp_path / "a.pose")
    assert result["frames"] == 30 and pose.body.data.shape[:3] == (30, 1, 49)
    assert [c.name for c in pose.header.components] == ["SPEECH2GESTURE_49"]
    assert (tmp_path / "a.mp4").stat().st_size > 0


@pytest.mark.parametrize("suffix, codec", [(".mp3", "libmp3lame"), (".m4a", "aac")])
def test_cli_reads_compressed_speech(tmp_path, suffix, codec):
    """mp3 and m4a at 44.1 kHz stereo (encoded here with PyAV) give as many 15 fps frames as the wav would."""
    seconds, rate = 3.0, 44100
    wave = np.stack([_speech(seconds, rate), _speech(seconds, rate, 1)])              # (2, samples)
    path = tmp_path / f"speech{suffix}"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "stereo"
        for start in range(0, wave.shape[1], 1152):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, start:start + 1152]), format="fltp",
                                               layout="stereo")
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    out = tmp_path / "speech.pose"
    result = _cli_here("gestures", "--audio", str(path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    frames = read_pose(out).body.data.shape[0]
    assert abs(frames - seconds * 15) <= 1  # encoder padding may add a few ms


def test_adapt_voice_moves_more_on_a_quiet_noisy_voice_and_needs_the_statistics(tmp_path, model_dir):
    """`--adapt-voice` with the shipped model (its checkpoint holds the speaker's voice statistics):
    speech 20 dB quieter over room noise makes the wrists move more once adapted; a model without
    the statistics is refused with one line."""
    from posevideo.gestures.predict import load_model, predict_poses

    rng = np.random.default_rng(1)
    audio = 0.1 * _speech(8.0) + 0.003 * rng.standard_normal(8 * 16000).astype(np.float32)
    g, meta = load_model(None)
    wrists = lambda pose: pose[:, 4:6].std(0).mean()  # noqa: E731  (reduced: points 4, 5)
    assert wrists(predict_poses(g, audio, voice=meta["voice"])) > wrists(predict_poses(g, audio))
    wav = tmp_path / "quiet.wav"
    soundfile.write(wav, audio, 16000)
    result = _cli_here("gestures", "--audio", str(wav), "--out", str(tmp_path / "a.pose"), "--adapt-voice")
    assert result.returncode == 0, result.stderr
    result = _cli_here("gestures", "--audio", str(wav), "--model", str(model_dir), "--out", str(tmp_path / "b.pose"),
                       "--adapt-voice")
    assert result.returncode == 2 and "no voice statistics" in result.stderr
