"""Speech -> video of the person: `posevideo speak`.

    audio (or text through espeak-ng) --gesture model--> poses at 15 fps --resample--> the video's fps
    --renderer--> frames, with the audio muxed

The gesture model writes the full `reduced` layout (body, face contour, hands) in its speaker's
frame; the renderer places it in its own person's frame (`render_poses`), so a gesture model and a
renderer of different people still combine. The video's first frame is at t = 0 and it has
round(seconds x fps) frames: as long as the audio within one frame.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from posevideo.errors import InputError
from posevideo.gestures.features import POSE_FPS, SAMPLE_RATE

MIN_SECONDS = 0.25  # shorter is not even a syllable: an error rather than a few frames of video
TEXT_VOICE_SEED = 0  # --text speaks with the voice of the synthetic speaker the shipped models learned


def speech_from_text(text: str, seed: int = TEXT_VOICE_SEED) -> np.ndarray:
    """16 kHz mono speech of `text` by espeak-ng, in the synthetic speaker `seed`'s voice, with a
    quarter second of silence before and after (the speaker starts and ends at rest)."""
    from posevideo.synthetic import voice_of
    from posevideo.synthetic.speech import speak as espeak

    if not text.strip():
        raise InputError("--text", "is empty", "Give the words to speak, or --audio.")
    audio = espeak(text, voice_of(seed))
    pad = np.zeros(SAMPLE_RATE // 4, np.float32)
    return np.concatenate([pad, audio, pad])


def speech_poses(audio: np.ndarray, gestures_model: str | Path | None, fps: float, device: str = "cpu",
                 path=None, adapt_voice: bool = False) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """16 kHz mono audio -> reduced-layout xy (T, 178, 2) in the gesture speaker's pixels, conf
    (T, 178) at `fps`, T = round(seconds x fps), and that speaker's video size (width, height).
    `path` only names the audio in errors. `adapt_voice`: another person's speech, mapped onto the
    gesture speaker's voice first (`posevideo.gestures.features.adapt_voice`)."""
    from posevideo.gestures.predict import SILENCE_PEAK, load_model, predict_poses, to_pixels
    from posevideo.pose import resample

    generator, meta = load_model(gestures_model, device)
    if meta["layout"] != "reduced":
        raise InputError(meta["path"], f"is a {meta['layout']} gesture model; the renderer needs the reduced layout "
                                "(body, face and hands)", "Train the gesture model on posevideo's own data "
                                                          "(`posevideo prepare`), not on speech2gesture's 49 points.")
    if adapt_voice and "voice" not in meta:
        raise InputError(meta["path"], "holds no voice statistics to adapt to",
                         "Leave out --adapt-voice, or use a gesture model trained since they are stored.")
    voice = meta["voice"] if adapt_voice else None
    try:
        pose = predict_poses(generator, audio, device=device, voice=voice)     # (T15, 178, 2) normalized
    except InputError as error:
        raise InputError(path, error.problem, error.fix) from None
    if np.abs(audio).max() < SILENCE_PEAK:
        print(f"note: {path or 'the audio'} is silent: the speaker stays at rest", file=sys.stderr)
    xy = to_pixels(pose, meta["stats"])
    xy, conf = resample(xy, np.ones(xy.shape[:2], np.float32), POSE_FPS, fps)
    frames = max(1, int(round(len(audio) / SAMPLE_RATE * fps)))
    if len(xy) < frames:  # 15 fps rounding: hold the last pose for the odd frame
        xy = np.concatenate([xy, np.repeat(xy[-1:], frames - len(xy), axis=0)])
        conf = np.concatenate([conf, np.repeat(conf[-1:], frames - len(conf), axis=0)])
    return xy[:frames], conf[:frames], (int(meta["stats"]["width"]), int(meta["stats"]["height"]))


def speak(out: str | Path, audio: str | Path | None = None, text: str | None = None,
          gestures_model: str | Path | None = None, renderer: str | Path | None = None, fps: float = 30.0,
          preview: str | Path | None = None, device: str | None = None, progress: bool = True,
          pose_out: str | Path | None = None, adapt_voice: bool = False, size: int | None = None) -> dict:
    """The `posevideo speak` job. Models None: the shipped ones. `pose_out`: also the gestures as a
    reduced .pose (the gesture speaker's pixels, the video's fps), which `posevideo render --pose`
    renders again with any renderer and `evaluate consistency` takes with the video. `adapt_voice`:
    see `speech_poses`. `size`: the video's side (None: the renderer's; see `load_renderer`).
    Returns {"video", "preview", "pose", "frames", "fps", "seconds"}."""
    from posevideo.audio import load_audio
    from posevideo.renderer.predict import check_mp4, check_size, pick_device, render_poses

    if (audio is None) == (text is None):
        raise InputError(None, "give either --audio or --text (one of them)",
                         "For example: posevideo speak --text 'Hello there' --out hello.mp4")
    from posevideo.files import check_writable
    for video in (out, preview):
        if video is not None:
            check_mp4(video)
            check_writable(Path(video).parent)  # before the speech is synthesized and the gestures predicted
    if pose_out is not None:
        if Path(pose_out).suffix.lower() != ".pose":
            raise InputError(pose_out, "is not a .pose path", "Name the pose output P.pose.")
        check_writable(Path(pose_out).parent)
    check_size(renderer, size=size)  # a size the renderer cannot make: now, not after the gestures
    device = pick_device(device)
    wave = load_audio(audio, SAMPLE_RATE) if audio is not None else speech_from_text(text)
    if len(wave) < MIN_SECONDS * SAMPLE_RATE:
        raise InputError(audio or "--text", f"lasts {len(wave) / SAMPLE_RATE * 1000:.0f} ms, too short to speak",
                         f"Give at least {MIN_SECONDS} s of speech.")
    xy, conf, (width, height) = speech_poses(wave, gestures_model, fps, device, path=audio, adapt_voice=adapt_voice)
    source = None
    if pose_out is not None:  # first, and rendered as read back: the video records how it drew that file
        from posevideo.pose import arrays, make_pose, read_pose, write_pose
        write_pose(make_pose("reduced", xy, conf, fps, width, height), pose_out)
        (xy, conf), source = arrays(read_pose(pose_out)), pose_out
    render_poses(xy, conf, fps, renderer, out, audio=wave, device=device, preview=preview, progress=progress,
                 path=audio, size=size, frame_size=(width, height), source=source)
    return {"video": str(out), "preview": None if preview is None else str(preview),
            "pose": None if pose_out is None else str(pose_out), "frames": len(xy), "fps": fps,
            "seconds": len(wave) / SAMPLE_RATE}
