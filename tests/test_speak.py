"""Speech -> video (`posevideo speak`) and the README's main job (`posevideo demo`), with the
shipped gesture model and small renderer, on the CPU."""
from __future__ import annotations

import av
import numpy as np
import pytest
from click.testing import CliRunner

from posevideo.audio import load_audio, write_wav
from posevideo.cli import cli
from posevideo.demo import DEMO_SPEECH
from posevideo.video import probe, read_frame_times, read_frames

FPS = 30


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """The first 4.3 s of the bundled speech sample, as a 44.1 kHz stereo wav (not the model's rate)."""
    from scipy.signal import resample_poly
    folder = tmp_path_factory.mktemp("speech")
    wave = load_audio(DEMO_SPEECH)[: int(4.3 * 16000)]
    stereo = np.stack([resample_poly(wave, 441, 160)] * 2, axis=1).astype(np.float32)
    path = folder / "speech.wav"
    import soundfile
    soundfile.write(path, stereo, 44100)
    return path, wave


def _motion(path) -> float:
    """Mean absolute change between consecutive frames (0-255)."""
    frames = np.stack(list(read_frames(path))).astype(np.float32)
    return float(np.abs(np.diff(frames, axis=0)).mean())


def _audio_start(path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        packet = next(p for p in container.demux(stream) if p.pts is not None)
        return float(packet.pts * stream.time_base)


def test_speak_audio_gives_video_in_sync_with_the_speech(speech, tmp_path):
    path, wave = speech
    out, preview, drawn = tmp_path / "talk.mp4", tmp_path / "talk_preview.mp4", tmp_path / "talk.pose"
    result = CliRunner().invoke(cli, ["speak", "--audio", str(path), "--out", str(out), "--preview", str(preview),
                                      "--pose-out", str(drawn)])
    assert result.exit_code == 0, result.output
    info = probe(out)
    # --pose-out keeps the gestures it drew: one reduced pose frame per video frame, moving.
    from posevideo.pose import arrays, layout_of, read_pose
    pose = read_pose(drawn)
    xy, conf = arrays(pose)
    assert layout_of(pose) == "reduced" and len(xy) == info.frames and float(pose.body.fps) == FPS
    assert (conf > 0).mean() > 0.9 and np.abs(np.diff(xy, axis=0)).mean() > 0.05
    # The video records how it drew that file, so `evaluate consistency` takes it.
    from posevideo.renderer.predict import file_digest, read_record, redraw
    record = read_record(out)
    assert record["drawn_from"]["sha256"] == file_digest(drawn) and record["retarget"] == "full"
    assert len(redraw(record, drawn)[0]) == info.frames
    seconds = len(wave) / 16000
    assert info.has_audio and info.fps == FPS and (info.width, info.height) == (256, 256)
    assert info.frames == round(seconds * FPS)                                   # as long as the audio, within a frame
    assert abs(info.frames / FPS - seconds) <= 1 / FPS
    times = read_frame_times(out)
    assert times[0] == 0.0 and _audio_start(out) <= 0.0                          # both start at t = 0
    assert np.allclose(np.diff(times), 1 / FPS, atol=1e-3)
    # The speech is there (AAC adds a few ms of padding at the end).
    heard = load_audio(out)
    assert abs(len(heard) / 16000 - seconds) < 0.1 and np.abs(heard).max() > 0.1
    # The person moves while speaking.
    assert _motion(out) > 0.5
    # The preview: skeleton (black background, coloured limbs) | the same video.
    side = list(read_frames(preview))
    video = list(read_frames(out))
    assert len(side) == len(video) and side[0].shape == (256, 512, 3)
    for t in (0, len(video) // 2):
        assert np.abs(side[t][:, 256:].astype(int) - video[t].astype(int)).mean() < 4
        left = side[t][:, :256]
        assert np.median(left) < 20 and left.max() > 150


def test_silence_gives_a_speaker_at_rest(tmp_path, speech):
    """Audio with no speech: a graceful result, the speaker stands at rest (far less motion)."""
    silent = tmp_path / "silent.wav"
    write_wav(silent, np.zeros(3 * 16000, np.float32))
    out = tmp_path / "rest.mp4"
    result = CliRunner().invoke(cli, ["speak", "--audio", str(silent), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "silent" in result.output and probe(out).frames == 3 * FPS
    talk = tmp_path / "talk.mp4"
    CliRunner().invoke(cli, ["speak", "--audio", str(speech[0]), "--out", str(talk)])
    assert _motion(out) < 0.5 * _motion(talk)


def test_speak_text_through_espeak(tmp_path):
    out = tmp_path / "hello.mp4"
    result = CliRunner().invoke(cli, ["speak", "--text", "Hello there, nice to meet you.", "--out", str(out)])
    assert result.exit_code == 0, result.output
    info = probe(out)
    heard = load_audio(out)
    assert info.has_audio and info.frames > 30 and abs(info.frames / FPS - len(heard) / 16000) < 0.1


@pytest.mark.parametrize("args, message", [
    ([], "either --audio or --text"),
    (["--text", "hi", "--audio", "x.wav"], "either --audio or --text"),
    (["--text", "   "], "empty"),
])
def test_speak_asks_for_one_input(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["speak", "--out", str(tmp_path / "o.mp4"), *args])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "o.mp4").exists()


def test_speak_bad_inputs_name_the_file(tmp_path):
    corrupt = tmp_path / "broken.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    short = tmp_path / "short.wav"
    write_wav(short, np.full(800, 0.3, np.float32))  # 50 ms: not even a syllable
    renderer_dir = "posevideo/models/renderer-small"
    cases = [
        (["--audio", str(corrupt)], "broken.wav"),
        (["--audio", str(short)], "short.wav"),
        (["--audio", str(tmp_path / "missing.wav")], "missing.wav"),
        (["--text", "hi", "--gestures", renderer_dir], "not a gesture model"),
        (["--text", "hi", "--renderer", "posevideo/models/gestures"], "not a renderer"),
    ]
    for args, message in cases:
        out = tmp_path / "o.mp4"
        result = CliRunner().invoke(cli, ["speak", *args, "--out", str(out)])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output, (args, result.output)
        assert not out.exists() and not list(tmp_path.glob(".o.tmp-*"))
    result = CliRunner().invoke(cli, ["speak", "--text", "hi", "--out", str(tmp_path / "o.avi")])
    assert result.exit_code == 2 and "o.avi" in result.output


def test_demo_writes_video_and_preview(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    video, preview = tmp_path / "posevideo_demo.mp4", tmp_path / "posevideo_demo_preview.mp4"
    assert result.stdout.split() == [str(video), str(preview)]
    info, side = probe(video), probe(preview)
    speech = load_audio(DEMO_SPEECH)
    assert info.has_audio and side.has_audio and info.frames == side.frames == round(len(speech) / 16000 * FPS)
    assert (side.width, side.height) == (2 * info.width, info.height)
    assert _motion(video) > 0.5
