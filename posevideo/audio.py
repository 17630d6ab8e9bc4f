"""Audio in and out, and speech2gesture's log-mel features.

Everything here is 16 kHz mono float32 in [-1, 1] unless a function says otherwise. PyAV and
soundfile are imported where a file is read or written, so the constants and the log-mel import on
machines without them (the GPU machines: `posevideo.gestures.features`, `render` without audio).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from posevideo.errors import InputError, check_complete
from posevideo.files import atomic_output

SAMPLE_RATE = 16000

# speech2gesture's log-mel (its TensorFlow code: tf.contrib.signal.stft(frame_length=400,
# frame_step=160, fft_length=512), magnitude, linear_to_mel_weight_matrix(64, 257, 16000, 125, 7500),
# log(x + 1e-6)). One feature frame every 10 ms, not centred: frame t covers samples
# [160 t, 160 t + 400).
N_FFT, WIN_LENGTH, HOP_LENGTH, N_MELS, F_MIN, F_MAX, LOG_EPS = 512, 400, 160, 64, 125.0, 7500.0, 1e-6


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode any file that soundfile or PyAV reads (wav, flac, mp3, m4a, a video's audio track)
    to mono float32 at `sample_rate`. Shape (samples,)."""
    import soundfile
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file", "Check the path.")
    if path.stat().st_size == 0:
        raise InputError(path, "the file is empty", "Give an audio file with speech.")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        audio = data.mean(axis=1)
        promised = _wav_promised_frames(path)
        if promised is not None:
            check_complete(path, "audio", len(audio) / rate, promised / rate, "seconds", slack=0.1)
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        audio, rate = _decode_with_pyav(path)
    if audio.size == 0:
        raise InputError(path, "the audio track holds no samples", "Give an audio file with speech.")
    audio = _finite(audio, rate, path)
    if rate != sample_rate:
        import librosa  # imported here: its first import is slow

        audio = librosa.resample(audio, orig_sr=rate, target_sr=sample_rate, res_type="soxr_hq")
    return np.ascontiguousarray(audio, dtype=np.float32)


def _wav_promised_frames(path: Path) -> int | None:
    """The frames a RIFF/WAVE file's header says its data chunk holds (its size over the block
    align), or None for other files and for streamed wavs whose size field was never filled in
    (0 or 0xFFFFFFFF). libsndfile reads a cut wav up to where it stops, without a word."""
    with open(path, "rb") as file:
        head = file.read(1 << 16)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    at, align = 12, 0
    while at + 8 <= len(head):
        chunk, size = head[at:at + 4], int.from_bytes(head[at + 4:at + 8], "little")
        if chunk == b"fmt " and at + 22 <= len(head):
            align = int.from_bytes(head[at + 20:at + 22], "little")  # nBlockAlign: bytes per frame
        if chunk == b"data":
            return size // align if align and size not in (0, 0xFFFFFFFF) else None
        at += 8 + size + (size & 1)
    return None


def _finite(audio: np.ndarray, rate: int, path: Path) -> np.ndarray:
    """Samples that are NaN or infinite (a damaged float wav) become silence, with a note on
    stderr: one NaN would otherwise spread through resampling and the log-mel into every pose
    frame. A file with no finite sample at all is refused."""
    bad = ~np.isfinite(audio)
    if not bad.any():
        return audio
    if bad.all():
        raise InputError(path, "every audio sample is NaN or infinite", "The file is damaged: export it again.")
    import sys

    print(f"note: {path}: {int(bad.sum())} samples ({bad.sum() / rate * 1000:.0f} ms) were NaN or infinite; "
          "treated as silence", file=sys.stderr)
    return np.where(bad, np.float32(0), audio).astype(np.float32)


def _decode_with_pyav(path: Path) -> tuple[np.ndarray, int]:
    import av
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as error:
        raise InputError(path, f"not a readable audio or video file ({error.__class__.__name__})",
                         "Check that the file is complete (wav, flac, mp3, m4a or a video).") from error
    with container:
        if not container.streams.audio:
            raise InputError(path, "has no audio track", "Give a file with speech in it.")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or SAMPLE_RATE
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as error:
            raise InputError(path, f"the audio is corrupt or truncated ({error.__class__.__name__})",
                             "Re-export the file.") from error
        audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        if stream.duration and container.format.name.startswith("mov"):  # mp4 / mov / m4a: an exact length
            promised = float(stream.duration * stream.time_base)
            check_complete(path, "audio", len(audio) / rate, promised, "seconds", slack=0.1)
    return audio.astype(np.float32), rate


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono float audio as 16-bit PCM wav, atomically."""
    import soundfile
    with atomic_output(path) as tmp:
        soundfile.write(str(tmp), np.asarray(audio, dtype=np.float32), sample_rate, subtype="PCM_16", format="WAV")


def _hertz_to_mel(frequencies: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(frequencies, dtype=np.float64) / 700.0)


@lru_cache(maxsize=None)
def mel_matrix(sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """TensorFlow's linear_to_mel_weight_matrix (HTK mel, triangles in mel space, DC bin zeroed),
    the filterbank speech2gesture used. Shape (N_FFT // 2 + 1, N_MELS)."""
    bins = N_FFT // 2 + 1
    spectrogram_mel = _hertz_to_mel(np.linspace(0.0, sample_rate / 2, bins)[1:])[:, None]
    edges = np.linspace(_hertz_to_mel(F_MIN), _hertz_to_mel(F_MAX), N_MELS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    lower_slopes = (spectrogram_mel - lower) / (center - lower)
    upper_slopes = (upper - spectrogram_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(lower_slopes, upper_slopes))
    return np.pad(weights, ((1, 0), (0, 0))).astype(np.float32)


def log_mel(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """speech2gesture's log-mel spectrogram of 16 kHz mono audio: (feature frames, 64) float32,
    one frame per 10 ms, 1 + (samples - 400) // 160 frames (none if shorter than 400 samples)."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"log_mel expects {SAMPLE_RATE} Hz audio, got {sample_rate}")
    audio = np.asarray(audio, dtype=np.float32)
    if len(audio) < WIN_LENGTH:
        return np.zeros((0, N_MELS), np.float32)
    count = 1 + (len(audio) - WIN_LENGTH) // HOP_LENGTH
    frames = np.lib.stride_tricks.sliding_window_view(audio, WIN_LENGTH)[::HOP_LENGTH][:count]
    window = np.hanning(WIN_LENGTH + 1)[:-1].astype(np.float32)  # periodic Hann, as tf.signal
    magnitude = np.abs(np.fft.rfft(frames * window, n=N_FFT, axis=-1)).astype(np.float32)
    return np.log(magnitude @ mel_matrix(sample_rate) + LOG_EPS).astype(np.float32)


def rms_envelope(audio: np.ndarray, fps: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Root-mean-square loudness per video frame at `fps` (frames = ceil(seconds * fps))."""
    hop = sample_rate / fps
    count = int(np.ceil(len(audio) / hop))
    starts = (np.arange(count) * hop).astype(int)
    ends = np.minimum(((np.arange(count) + 1) * hop).astype(int), len(audio))
    squares = np.concatenate([[0.0], np.cumsum(np.asarray(audio, np.float64) ** 2)])
    return np.sqrt((squares[ends] - squares[starts]) / np.maximum(ends - starts, 1)).astype(np.float32)
