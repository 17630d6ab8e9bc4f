"""The synthetic speaker: speech (espeak-ng), gestures that follow it, and a drawn person, with the
ground-truth pose. The project's own subject for tests, benchmarks and the demo.

    synth_speaker(seed=11, seconds=20, out_dir="X")  ->  X/synthetic_11.mp4, .pose, .json

Modules: `speech` (voice and sentences), `motion` (the generative gesture process, documented
there), `face` (the 468-point face template and its animation), `draw` (the painter).
"""
from __future__ import annotations

import dataclasses
import math
from importlib import metadata
from pathlib import Path

import numpy as np

from posevideo.errors import InputError

SIZES = (256, 512)


def synth_speaker(seed: int, seconds: float, out_dir: str | Path, size: int = 256, fps: float = 30,
                  progress: bool = False, sentence_bank: bool = False, draw: bool = True,
                  signing: bool = False, room: float = 0.0, sleeves: str | None = None,
                  wide: float = 0.0, motion_seed: int | None = None) -> dict[str, Path]:
    """Write `synthetic_<seed>.mp4` (H.264 + AAC 16 kHz mono), `.pose` (holistic, pixels of the
    video, frames = round(seconds * fps)) and `.json` (how it was made) into `out_dir`.
    Returns {"video", "pose", "json"} paths. Same arguments, same files (frames and pose).

    sentence_bank: read the 497-sentence bank, each sentence at most once, in blocks that end
    where `posevideo prepare` cuts the recording into intervals (`interval_bounds`), so a
    dataset's test and dev intervals hold only sentences its train intervals never spoke.
    Without it, the 67 bundled sentences in a cycle (what the shipped models were trained on).
    draw=False: the video's frames are one flat grey (the speech and the .pose are the same as
    drawn, bit for bit): gesture data need only those, and drawing is most of the time.
    signing=True: the same person (look and voice of the seed) signs instead of gesturing (hands at
    the face, across the body, many handshapes; `motion._signs`), written as
    `synthetic_<seed>_signing.*`: renderer training data for other people's sign-language poses.
    room: the picture goes on `room * size` pixels (rounded) past the `size` frame on every side,
    the person at the same place and scale within it (`draw.Painter`), so the video and its .pose
    are size + 2 pad square. The person crop that `prepare` cuts (3 shoulder widths, about 1.2
    sizes here) then stays inside the picture, hands that hang low or reach out wide included;
    without room its bottom and sides run past the frame and are filled by repeating the frame's
    edge (vertical streaks under the body, a hand at the bottom smeared down).
    sleeves: "long", "short" or "none" in place of the seed's (None: the seed's), all else of the look kept.
    With short sleeves the forearms are bare, so an arm across the dress stays visible; seed 0's long
    dark sleeves on its dark dress hide it (BENCHMARKS.md "Whose look can be read").
    wide: with signing, the share of signing holds in which a hand reaches out wide or above the head
    (arms spread, waving), poses some drivers make and signing never does (BENCHMARKS.md "Arms spread
    wide and above the head"); 0: none, the motion as before.
    motion_seed: the person of `seed` (look, body size and place in the frame, head size) says and
    does what `motion_seed` would (voice, sentences, gesture or signing style, every random choice
    of the motion), drawn as `seed` is drawn; written as `synthetic_<seed>_motion<motion_seed>*`.
    More of one person's frames in other people's styles: renderer training data whose target is
    drawn exactly as the person's own recordings are (BENCHMARKS.md "The other seeds' signing at GPU
    scale…")."""
    from posevideo.files import check_writable, write_json
    from posevideo.pose import holistic_pose, write_pose
    from posevideo.synthetic import draw as drawing, motion, speech
    from posevideo.video import VideoWriter

    if size not in SIZES:
        raise InputError(None, f"--size {size} is not supported", f"Use one of {', '.join(map(str, SIZES))}")
    if not 1 <= seconds <= 3600:
        raise InputError(None, f"--seconds {seconds} is out of range", "Use 1 to 3600 seconds")
    if not 0 <= room <= 0.5:
        raise InputError(None, f"--room {room} is out of range", "Use 0 (the frame alone) to 0.5; 0.25 holds the person crop")
    if not 0 <= wide <= 1 or (wide and not signing):
        raise InputError(None, f"--wide-arms {wide} needs --signing and a share from 0 to 1",
                         "Give --signing --wide-arms 0.1, say, or leave --wide-arms out")
    if not 1 <= fps <= 120:
        raise InputError(None, f"--fps {fps} is out of range", "Use 1 to 120 frames per second")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(out_dir, "exists and is not a folder", "Pass a folder for --out")
    check_writable(out_dir)  # a read-only folder: one line now, not after the speech is made

    rng_voice, rng_motion, rng_look, rng_style = _streams(seed)
    style = motion.style_for_seed(rng_style)
    if motion_seed is not None:  # another seed's voice, sentences and motion; the person's size and place kept
        rng_voice, rng_motion, _, rng_other = _streams(motion_seed)
        style = dataclasses.replace(motion.style_for_seed(rng_other), scale=style.scale, shift=style.shift,
                                    head=style.head)
    voice = speech.voice_for_seed(rng_voice)
    bounds = interval_bounds(seconds, fps) if sentence_bank else None
    if sentence_bank:
        audio, sentences = speech.make_speech_in_blocks(bounds, voice, rng_voice, speech.load_sentences(bank=True))
    else:
        audio, sentences = speech.make_speech(seconds, voice, rng_voice)      # (seconds * 16000,)
    frames = int(round(seconds * fps))
    look = drawing.look_for_seed(seed, rng_look, sleeves)
    features = motion.speech_features(audio, sentences, frames, fps)
    xyz, conf = motion.generate(features, sentences, style, rng_motion, fps, size, signing=signing,
                                wide=wide)                                                  # (T, 576, 3) px
    painter = drawing.Painter(look, size, room) if draw else None
    pad = drawing.room_pad(size, room)
    side = size + 2 * pad
    xyz[:, :motion.WORLD, :2] += pad * (conf[:, :motion.WORLD, None] > 0)   # image points: not the world landmarks (metres) nor absent ones

    stem = out_dir / (f"synthetic_{seed}" + (f"_motion{motion_seed}" if motion_seed is not None else "")
                      + ("_signing" if signing else ""))
    paths = {"video": stem.with_suffix(".mp4"), "pose": stem.with_suffix(".pose"), "json": stem.with_suffix(".json")}
    blank = np.full((side, side, 3), 128, np.uint8)
    steps = range(frames)
    if progress:
        from tqdm import tqdm
        steps = tqdm(steps, desc=f"synthetic speaker {seed}", unit="frame")
    with VideoWriter(paths["video"], fps, side, side, audio=audio, sample_rate=speech.SAMPLE_RATE) as writer:
        for t in steps:
            writer.write(painter.draw(xyz[t]) if painter else blank)
    write_pose(holistic_pose(xyz, conf, fps, side, side), paths["pose"])
    write_json(paths["json"], {
        "seed": seed, **({"motion_seed": motion_seed} if motion_seed is not None else {}),
        "seconds": seconds, "fps": fps, "frames": frames, "width": side, "height": side,
        "size": size, "room": room, "pad": pad,
        "sample_rate": speech.SAMPLE_RATE, "audio_samples": len(audio),
        "files": {k: v.name for k, v in paths.items()},
        "drawn": draw, "signing": signing, **({"wide_arms": wide} if wide else {}), "voice": voice.as_dict(), "sentence_bank": sentence_bank,
        **({"interval_bounds": bounds} if sentence_bank else {}), "sentences": sentences, "style": style.as_dict(), "look": look.as_dict(),
        "onsets": [round(float(t), 3) for t in features.onsets],
        "process": "posevideo.synthetic.motion (module docstring): hands rise into gesture space while "
                   "speaking, higher and wider with loudness and pitch, swinging outward over each phrase and "
                   "reaching out with an open palm on its strongest onset; "
                   "beat strokes, finger flicks, nods and raised brows on onsets; the jaw follows the loudness "
                   "envelope; both hands on high-pitched phrases, else the dominant hand; breathing, sway, "
                   "hand drift and blinks as idle motion",
        "pose": "holistic (POSE 33, FACE 468, LEFT_HAND 21, RIGHT_HAND 21, POSE_WORLD 33); pixels of the "
                "video; legs (knees, ankles, feet) absent (confidence 0)",
        "versions": {"posevideo": _version("posevideo"), "espeak-ng": speech.espeak_version(),
                     "pose-format": _version("pose-format"), "av": _version("av"), "numpy": np.__version__},
    })
    return paths


def interval_bounds(seconds: float, fps: float, max_seconds: float = 10.0) -> list[float]:
    """Where the dataset index cuts a synthetic recording into intervals, in seconds (0 and the
    length included). The person is in view in every frame, so `posevideo.data.index.cut_intervals`
    makes one run of all frames and cuts it into the fewest equal pieces of at most `max_seconds`
    (IndexOptions' 10 s); the same arithmetic here (a test holds the two together)."""
    frames = int(round(seconds * fps))
    pieces = max(1, math.ceil(frames / (max_seconds * fps)))
    return [float(f) / fps for f in np.round(np.linspace(0, frames, pieces + 1)).astype(int)]


def _streams(seed: int) -> list[np.random.Generator]:
    """One generator per concern (voice, motion, look, style), so that changing one leaves the others."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]


def voice_of(seed: int):
    """The espeak-ng voice of synthetic speaker `seed` (what `synth_speaker` draws first)."""
    from posevideo.synthetic import speech
    return speech.voice_for_seed(_streams(seed)[0])


def look_of(seed: int, sleeves: str | None = None):
    """How synthetic speaker `seed` looks (`draw.Look`), as `synth_speaker` draws it (`sleeves`: its
    argument of that name)."""
    from posevideo.synthetic import draw
    return draw.look_for_seed(seed, _streams(seed)[2], sleeves)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"
