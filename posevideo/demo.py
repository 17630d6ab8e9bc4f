"""`posevideo demo`, the README's main job: a bundled speech sample -> the shipped gesture model ->
the shipped small renderer -> a video of the synthetic speaker (seed 0) with the speech, and a
side-by-side preview (skeleton | video).

The speech sample is espeak-ng in synthetic speaker 0's voice reading `DEMO_TEXT`, made once with
`make_demo_speech()` and shipped, so the demo needs neither espeak-ng nor anything downloaded.
"""
from __future__ import annotations

from pathlib import Path

DEMO_SPEECH = Path(__file__).resolve().parent / "models" / "demo_speech.flac"
DEMO_TEXT = ("Hello! I am a synthetic speaker. Everything you see here is made from my voice: "
             "one model turns the speech into gestures, and another paints me from them.")


def demo(out_dir: str | Path = ".", device: str | None = None, progress: bool = True) -> list[Path]:
    """Write posevideo_demo.mp4 (video with the speech) and posevideo_demo_preview.mp4 (skeleton |
    video) into `out_dir`; return their paths."""
    from posevideo.files import check_writable
    from posevideo.speak import speak

    out_dir = check_writable(out_dir)  # a read-only folder: one line naming it
    out_dir.mkdir(parents=True, exist_ok=True)
    video, preview = out_dir / "posevideo_demo.mp4", out_dir / "posevideo_demo_preview.mp4"
    speak(video, audio=DEMO_SPEECH, preview=preview, device=device, progress=progress)
    return [video, preview]


def make_demo_speech(out: str | Path = DEMO_SPEECH) -> Path:
    """(Re)make the bundled speech sample: `python -c "from posevideo.demo import make_demo_speech; make_demo_speech()"`."""
    import soundfile

    from posevideo.audio import SAMPLE_RATE
    from posevideo.files import atomic_output
    from posevideo.speak import speech_from_text

    with atomic_output(out) as tmp:
        soundfile.write(tmp, speech_from_text(DEMO_TEXT), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return Path(out)
