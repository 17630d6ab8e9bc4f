"""Video and audio IO: round trips, the log-mel against its definition, and bad files."""
from pathlib import Path

import numpy as np
import pytest

from posevideo.audio import SAMPLE_RATE, load_audio, log_mel, mel_matrix, rms_envelope, write_wav
from posevideo.errors import InputError
from posevideo.video import probe, read_frames, write_video


def _tone(seconds, hz=220.0, rate=SAMPLE_RATE):
    t = np.arange(int(seconds * rate)) / rate
    return (0.2 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_video_round_trip_with_audio(tmp_path):
    frames = [np.full((64, 96, 3), (i * 8) % 256, np.uint8) for i in range(30)]
    path = tmp_path / "clip.mp4"
    assert write_video(path, frames, fps=15, audio=_tone(2.0)) == 30
    info = probe(path)
    assert (info.width, info.height, info.frames, info.has_audio, info.vfr) == (96, 64, 30, True, False)
    assert info.fps == pytest.approx(15.0)
    decoded = list(read_frames(path))
    assert len(decoded) == 30
    # H.264 at crf 18 keeps flat grey levels within a few steps.
    assert np.abs(decoded[10].astype(int) - frames[10].astype(int)).mean() < 3
    audio = load_audio(path)
    assert abs(len(audio) / SAMPLE_RATE - 2.0) < 0.07


def test_no_partial_file_on_error(tmp_path):
    path = tmp_path / "broken.mp4"

    def frames():
        yield np.zeros((32, 32, 3), np.uint8)
        raise RuntimeError("the producer died")

    with pytest.raises(RuntimeError):
        write_video(path, frames(), fps=10)
    assert list(tmp_path.iterdir()) == []


def test_audio_resampled_to_mono_16k(tmp_path):
    stereo = np.stack([_tone(1.0, rate=44100), _tone(1.0, rate=44100)], axis=1)
    import soundfile

    soundfile.write(tmp_path / "s.flac", stereo, 44100)
    audio = load_audio(tmp_path / "s.flac")
    assert audio.ndim == 1 and abs(len(audio) - SAMPLE_RATE) < 10


def test_log_mel_matches_its_definition():
    audio = _tone(1.0, hz=1000.0)
    features = log_mel(audio)
    assert features.shape == (1 + (SAMPLE_RATE - 400) // 160, 64)
    # The 1 kHz tone peaks in the mel band whose centre is nearest 1 kHz.
    centres = np.argmax(mel_matrix(), axis=0) * SAMPLE_RATE / 512
    assert abs(centres[features[5].argmax()] - 1000) < 60
    # A frame computed by hand: periodic Hann over 400 samples, 512-point FFT magnitude, mel, log.
    frame = audio[160 * 7:160 * 7 + 400] * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400))
    expected = np.log(np.abs(np.fft.rfft(frame, 512)) @ mel_matrix() + 1e-6)
    # float32 FFT rounding shows in the log of the quietest bands only.
    np.testing.assert_allclose(features[7], expected, rtol=0, atol=0.02)
    assert log_mel(np.zeros(300, np.float32)).shape == (0, 64)


def test_rms_envelope_follows_loudness():
    audio = np.concatenate([np.zeros(SAMPLE_RATE, np.float32), _tone(1.0)])
    envelope = rms_envelope(audio, fps=15)
    assert envelope.shape == (30,)
    assert envelope[:15].max() == 0 and envelope[16:].min() > 0.1


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 100])
def test_bad_files_name_the_file(tmp_path, content):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    for read in (probe, load_audio, lambda p: list(read_frames(p))):
        with pytest.raises(InputError, match="bad.mp4"):
            read(path)


def test_error_lines_name_the_file_as_given():
    """The path as the user typed it, `..` included (it used to come out as `./t.pose`), and one full
    stop after the problem whether or not it has its own."""
    assert str(InputError("../t.pose", "is empty", "Copy it again.")) == "../t.pose: is empty. Copy it again."
    assert str(InputError("a/../b.mp4", "no frames.", "Re-export it.")) == "a/../b.mp4: no frames. Re-export it."
    assert str(InputError(None, "--text: is empty")) == "--text: is empty."
    assert str(InputError("x.mp4", "no video stream", "Give a video (mp4, webm...).")).endswith("(mp4, webm...).")


def test_truncated_video(tmp_path):
    path = tmp_path / "full.mp4"
    write_video(path, [np.random.default_rng(i).integers(0, 255, (64, 64, 3), np.uint8) for i in range(40)], fps=10)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputError, match="cut.mp4"):
        probe(cut)


def _faststart(path: Path, out: Path) -> None:
    """`path` rewritten with its index first (`movflags=faststart`), as most web videos are: such a
    file cut short still opens, and FFmpeg reads its first part without an error."""
    import av
    with av.open(str(path)) as source, av.open(str(out), "w", options={"movflags": "faststart"}) as target:
        streams = {s.index: target.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                target.mux(packet)


def test_a_cut_short_video_is_refused_not_read_in_part(tmp_path):
    """A web video cut off mid-download opens and decodes up to the cut without any FFmpeg error:
    its header's frame count and audio length tell, and the error names the file and both figures."""
    whole, fast = tmp_path / "whole.mp4", tmp_path / "fast.mp4"
    frames = [np.random.default_rng(i).integers(0, 255, (64, 64, 3), np.uint8) for i in range(60)]
    write_video(whole, frames, fps=10, audio=_tone(6.0), sample_rate=SAMPLE_RATE)
    _faststart(whole, fast)
    assert probe(fast).frames == 60 and abs(len(load_audio(fast)) / SAMPLE_RATE - 6.0) < 0.1  # whole: read
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fast.read_bytes()[: fast.stat().st_size // 2])
    assert len(list(read_frames(cut))) < 60  # what FFmpeg alone makes of it: the first part, no error
    with pytest.raises(InputError, match=r"cut.mp4: is cut short: its header promises 60 frames of video, only \d+ are"):
        probe(cut)
    with pytest.raises(InputError, match=r"cut.mp4: is cut short: its header promises 6 seconds of audio"):
        load_audio(cut)


def test_a_cut_short_wav_is_refused(tmp_path):
    write_wav(tmp_path / "a.wav", _tone(4.0))
    cut = tmp_path / "cut.wav"
    cut.write_bytes((tmp_path / "a.wav").read_bytes()[:-SAMPLE_RATE * 2])  # the last second of 16-bit samples
    with pytest.raises(InputError, match=r"cut.wav: is cut short: its header promises 4 seconds of audio, only 3 are"):
        load_audio(cut)
    # A streamed wav whose size fields were never filled in (0xFFFFFFFF) is read as far as it goes.
    data = bytearray((tmp_path / "a.wav").read_bytes())
    at = data.index(b"data")
    data[at + 4:at + 8] = b"\xff\xff\xff\xff"
    (tmp_path / "streamed.wav").write_bytes(bytes(data))
    assert abs(len(load_audio(tmp_path / "streamed.wav")) - 4 * SAMPLE_RATE) <= 1


def test_video_without_audio_track(tmp_path):
    path = tmp_path / "silent.mp4"
    write_video(path, [np.zeros((32, 32, 3), np.uint8)] * 5, fps=5)
    assert not probe(path).has_audio
    with pytest.raises(InputError, match="no audio track"):
        load_audio(path)


def test_wav_round_trip(tmp_path):
    write_wav(tmp_path / "a.wav", _tone(0.5))
    np.testing.assert_allclose(load_audio(tmp_path / "a.wav"), _tone(0.5), atol=1e-3)


def test_atomic_outputs_get_the_usual_file_mode(tmp_path):
    """Temporary files are 0600 (mkstemp, safetensors); what lands must read like any file the user
    writes: 0666 / 0777 less the umask."""
    import os
    from safetensors.numpy import save_file
    from posevideo.files import atomic_dir, atomic_output, write_json

    umask = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        with atomic_output(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"x")
        with atomic_dir(tmp_path / "ckpt") as tmp:
            save_file({"w": np.zeros(3, np.float32)}, str(tmp / "model.safetensors"))
    finally:
        os.umask(umask)
    for path, mode in ((tmp_path / "a.json", 0o644), (tmp_path / "b.bin", 0o644), (tmp_path / "ckpt", 0o755),
                       (tmp_path / "ckpt" / "model.safetensors", 0o644)):
        assert path.stat().st_mode & 0o777 == mode, (path, oct(path.stat().st_mode))
