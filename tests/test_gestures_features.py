"""Log-mel features: the batched torch path equals posevideo.audio.log_mel (speech2gesture's recipe)."""
import numpy as np
import torch

from posevideo.audio import log_mel
from posevideo.gestures.features import LogMel, log_mel_long, mel_frames, mel_frames_for, mel_start, samples_for


def _speechy(seconds, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    tone = np.sin(2 * np.pi * (150 + 40 * np.sin(2 * np.pi * 0.5 * t)) * t)
    return (0.3 * tone * (np.sin(2 * np.pi * 3 * t) > 0) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def test_window_sizes_match_the_data_samples():
    assert samples_for(64) == 68267  # what prepare stores per 64-frame sample
    assert mel_frames_for(64) == 425 == mel_frames(68267)
    assert mel_frames(399) == 0 and mel_frames(400) == 1
    assert mel_start(15) == 100  # one second of pose frames is 100 log-mel frames


def test_torch_log_mel_equals_librosa_path_batched():
    audio = np.stack([_speechy(4.27, seed) for seed in range(3)])  # (3, samples)
    out = LogMel()(torch.from_numpy(audio))
    assert out.shape == (3, mel_frames(audio.shape[1]), 64)
    for row, features in zip(audio, out.numpy()):
        reference = log_mel(row)
        assert reference.shape == features.shape
        assert np.abs(reference - features).max() < 1e-4
    assert out.min() >= np.log(1e-6) - 1e-4  # log(x + 1e-6) floor


def test_long_audio_in_chunks_equals_one_pass():
    audio = _speechy(25.3)
    whole = LogMel()(torch.from_numpy(audio)).numpy()
    chunked = log_mel_long(audio, LogMel(), chunk_seconds=3.0).numpy()
    assert chunked.shape == whole.shape
    assert np.abs(whole - chunked).max() < 1e-5


def test_shorter_than_one_fft_window_gives_no_frames():
    assert LogMel()(torch.zeros(300)).shape == (0, 64)


def test_adapt_voice_maps_pauses_and_band_statistics_onto_the_speaker():
    """Another recording's log-mel: its quietest 30 % of frames become the speaker's pause frame,
    the rest take the speaker's per-band mean and std; the speaker's own statistics are stored by
    `voice_statistics` (what training writes into the checkpoint)."""
    from posevideo.gestures.features import adapt_voice, voice_statistics

    rng = np.random.default_rng(0)
    speaker = np.where(rng.random((3000, 1)) < 0.3, -13.8, rng.normal(-1, 2, (3000, 64))).astype(np.float32)
    voice = voice_statistics(speaker)
    assert voice["pause_fraction"] == 0.3 and np.allclose(voice["pause"], -13.8, atol=1e-3)
    assert np.allclose(voice["speech_mean"], -1, atol=0.2) and np.allclose(voice["speech_std"], 2, atol=0.2)
    other = rng.normal(-6, 0.5, (1000, 64)).astype(np.float32)  # a quieter, flatter voice, no silence
    other[:200] -= 3  # its pauses: room noise, not silence
    out = adapt_voice(torch.from_numpy(other), voice).numpy()
    pauses = (out == np.float32(voice["pause"][0])).all(1)
    assert 0.29 <= pauses.mean() <= 0.31 and pauses[:200].all()
    assert np.allclose(out[~pauses].mean(0), voice["speech_mean"], atol=1e-3)
    assert np.allclose(out[~pauses].std(0, ddof=1), voice["speech_std"], rtol=1e-3)


def test_augment_voice_changes_level_timbre_and_fills_silence_reproducibly():
    """Training's voice augmentation: on the speaker's own log-mel (speech with digital-silence pauses)
    the augmented windows have other levels, a noise floor in the pauses (no longer silence, under the
    speech), band-shifted spectra; the same generator state gives the same batch; p=0 changes nothing."""
    from posevideo.gestures.features import augment_voice

    t = np.arange(int(4.3 * 16000)) / 16000  # syllables of a voiced tone, digital silence between
    voice = (0.3 * np.sin(2 * np.pi * 2000 * t) * (np.sin(2 * np.pi * 2 * t) > 0.3)).astype(np.float32)
    mel = LogMel()(torch.from_numpy(voice)[None].repeat(16, 1))  # (16, F, 64)
    silence = mel.mean(2) < -12  # the gaps between syllables: log(0 + 1e-6) = -13.8
    assert silence.float().mean() > 0.2
    out = augment_voice(mel, torch.Generator().manual_seed(3), p=1.0)
    again = augment_voice(mel, torch.Generator().manual_seed(3), p=1.0)
    assert torch.equal(out, again) and out.shape == mel.shape and torch.isfinite(out).all()
    assert torch.equal(augment_voice(mel, torch.Generator().manual_seed(3), p=0.0), mel)
    pause_level = out.mean(2)[silence]  # per window, the room's noise now fills the pauses ...
    speech_level = torch.quantile(out.mean(2), 0.9, dim=1)
    assert (pause_level > -12).float().mean() > 0.9
    assert (out.mean(2) * silence).sum(1).div(silence.sum(1)).lt(speech_level).all()  # ... under the speech
    levels = speech_level - torch.quantile(mel.mean(2), 0.9, dim=1)  # gains of -20..+6 dB (and timbre)
    assert levels.std() > 0.3 and levels.min() > -3.5 and levels.max() < 1.5
    peak = lambda m: m[:, ~silence[0]].mean(1).argmax(1).float()  # noqa: E731 the loudest band per window
    assert peak(out).std() > 0  # the spectrum moved by different amounts


def test_audio_constants_import_without_pyav_or_soundfile():
    """The GPU machines have neither PyAV nor soundfile: the gesture features, the gesture trainer
    and rendering a pose without audio must import without them (a fresh interpreter in which both
    imports fail), and the 16 kHz rate has one home."""
    import subprocess
    import sys
    script = ("import sys\n"
              "sys.modules['av'] = None; sys.modules['soundfile'] = None  # import av -> ImportError\n"
              "import posevideo.gestures.features, posevideo.gestures.train, posevideo.renderer.predict, posevideo.audio\n"
              "print(posevideo.gestures.features.SAMPLE_RATE is posevideo.audio.SAMPLE_RATE)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "True"
