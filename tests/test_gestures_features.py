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
