"""The synthetic speaker's voice: espeak-ng reading the bundled sentences, with pauses between them.

One espeak-ng call per sentence, so every sentence's start and end time is known exactly; the
silence between sentences is ours (seeded), which gives the gesture process clear phrases and
idle stretches. Audio is 16 kHz mono float32 in [-1, 1].

Two sets of sentences: `sentences.txt` (67, read in a cycle: a long recording repeats each one)
and `sentence_bank.txt` (497, each read at most once). With the bank the speech is also laid out
in blocks that end where the dataset index will cut the recording into intervals, so that a test
interval never shares a sentence with a train interval (`make_speech`'s `bounds`).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import soundfile
from scipy.signal import resample_poly

from posevideo.audio import SAMPLE_RATE  # the one 16 kHz constant
from posevideo.errors import InputError

ESPEAK_RATE = 22050  # what espeak-ng writes
# Accents that ship with Debian's espeak-ng (no mbrola) and variants that stay intelligible.
ACCENTS = ("en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc")
VARIANTS = ("m1", "m2", "m3", "m4", "m7", "f1", "f2", "f3", "f4", "f5")


@dataclass(frozen=True)
class Voice:
    name: str       # espeak-ng voice, e.g. "en-us+f3"
    rate: int       # words per minute
    pitch: int      # espeak-ng base pitch, 0-99

    def as_dict(self) -> dict:
        return asdict(self)


def voice_for_seed(rng: np.random.Generator) -> Voice:
    accent = ACCENTS[rng.integers(len(ACCENTS))]
    variant = VARIANTS[rng.integers(len(VARIANTS))]
    return Voice(f"{accent}+{variant}", int(rng.integers(140, 186)), int(rng.integers(35, 66)))


def load_sentences(bank: bool = False) -> list[str]:
    """The bundled sentences (67), or the sentence bank (497, none of them in the bundle)."""
    name = "sentence_bank.txt" if bank else "sentences.txt"
    text = resources.files("posevideo.synthetic").joinpath(name).read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def espeak_version() -> str:
    return _run_espeak(["--version"]).stdout.decode().strip()


def speak(text: str, voice: Voice) -> np.ndarray:
    """One utterance, (samples,) float32 at 16 kHz, leading and trailing silence trimmed."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        _run_espeak(["-v", voice.name, "-s", str(voice.rate), "-p", str(voice.pitch), "-a", "120",
                     "-w", str(wav), text])
        if not wav.exists():  # espeak-ng exits 0 even on a bad option
            raise InputError("espeak-ng", f"wrote no audio for voice {voice.name}", "Check the espeak-ng installation")
        audio, rate = soundfile.read(wav, dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    audio = resample_poly(audio, SAMPLE_RATE // 50, rate // 50).astype(np.float32)  # 22050 -> 16000
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    return audio[loud[0]:loud[-1] + 1] if len(loud) else audio[:0]


def make_speech(seconds: float, voice: Voice, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """Sentences in a seeded order, with seeded pauses, cut to exactly `seconds`.

    Returns the audio (round(seconds * 16000),) float32 and the sentences as dicts
    {text, start, end} in seconds (a sentence cut by the end has `cut: true`).
    """
    sentences = load_sentences()
    order = rng.permutation(len(sentences))
    total = int(round(seconds * SAMPLE_RATE))
    pieces, timeline = [], []
    cursor = int(rng.uniform(0.4, 1.0) * SAMPLE_RATE)  # a breath before the first word
    pieces.append(np.zeros(cursor, np.float32))
    i = 0
    while cursor < total:
        text = sentences[order[i % len(order)]]
        i += 1
        audio = speak(text, voice)
        start, end = cursor, cursor + len(audio)
        timeline.append({"text": text, "start": start / SAMPLE_RATE, "end": min(end, total) / SAMPLE_RATE,
                         **({"cut": True} if end > total else {})})
        # Mostly short pauses between phrases, now and then a long one (idle motion shows there).
        pause = rng.uniform(1.8, 3.0) if rng.random() < 0.15 else rng.uniform(0.35, 1.0)
        silence = np.zeros(int(pause * SAMPLE_RATE), np.float32)
        pieces += [audio, silence]
        cursor = end + len(silence)
    audio = np.concatenate(pieces)[:total]
    audio = np.pad(audio, (0, total - len(audio)))
    return audio, timeline


def make_speech_in_blocks(bounds: list[float], voice: Voice, rng: np.random.Generator,
                          sentences: list[str]) -> tuple[np.ndarray, list[dict]]:
    """`sentences` in a seeded order, each at most once, laid out so that none straddles a bound.

    bounds: block edges in seconds, 0 first and the length last. Each block opens with 0.3-0.7 s
    of silence and ends with at least 0.3 s; a sentence that would run past its block's end waits
    for the next block while a shorter one among the next few takes its place. Returns the audio
    (round(bounds[-1] * 16000),) and the sentences {text, start, end, block}. Raises InputError
    when the sentences run out before the end (a recording must not repeat one).
    """
    order = list(rng.permutation(len(sentences)))
    total = int(round(bounds[-1] * SAMPLE_RATE))
    audio = np.zeros(total, np.float32)
    spoken: dict[int, np.ndarray] = {}  # sentence index -> its audio, spoken once even if it waits
    timeline = []
    for block, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        cursor = int((a + rng.uniform(0.3, 0.7)) * SAMPLE_RATE)
        last = int((b - 0.3) * SAMPLE_RATE)
        while True:
            if not order:
                raise InputError(None, f"the sentence bank ({len(sentences)} sentences) ran out at "
                                       f"{a:.0f} s of {bounds[-1]:.0f} s in voice {voice.name}",
                                 "Make a shorter recording (35 minutes fit every voice), or several seeds.")
            for j, index in enumerate(order[:8]):  # the next sentence, or a shorter one close behind
                if index not in spoken:
                    spoken[index] = speak(sentences[index], voice)
                if cursor + len(spoken[index]) <= last:
                    break
            else:
                break  # none fits: the rest of this block is silence
            piece = spoken.pop(order.pop(j))
            audio[cursor:cursor + len(piece)] = piece
            timeline.append({"text": sentences[index], "start": cursor / SAMPLE_RATE,
                             "end": (cursor + len(piece)) / SAMPLE_RATE, "block": block})
            pause = rng.uniform(1.8, 3.0) if rng.random() < 0.15 else rng.uniform(0.35, 1.0)
            cursor += len(piece) + int(pause * SAMPLE_RATE)
    return audio, timeline


def _run_espeak(args: list[str]) -> subprocess.CompletedProcess:
    if shutil.which("espeak-ng") is None:
        raise InputError("espeak-ng", "is not installed (the synthetic speaker's voice)",
                         "Run ./setup.sh, or: apt-get install espeak-ng")
    try:
        return subprocess.run(["espeak-ng", *args], check=True, capture_output=True)
    except subprocess.CalledProcessError as error:
        raise InputError("espeak-ng", f"failed: {error.stderr.decode().strip()}",
                         "Check that the espeak-ng voice data is installed") from error
