"""Speaker transfer: a gesture model trained on the synthetic speaker, driven by real people's speech.

    PYTHONPATH=. .venv/bin/python benchmarks/gestures_real.py --data DATA --speaker synth0 [--model M]
        [--adapt-voice] [--speak DIR]

For each audio (default: ../shared/real/obama_weekly_address.mp4 and talking_woman.mp4, skipped
when absent) and, as the reference, the speaker's own held-out test intervals (their audio cut from
DATA/<speaker>/audio/<video>.wav), the model's poses (`predict_poses`, as `posevideo gestures`) give:
- wrist std (px): each wrist's x and y standard deviation over all frames, averaged (as `evaluate
  gestures`' "wrist std", but over whole intervals), and its ratio to the truth's on the test intervals;
  also the truth's over chunks of the real clip's length (`wrist_std_at`) and the ratio to that, since
  a short clip moves less about its own mean than 200 s pooled do;
- wrist speed (px/frame, 15 fps), mean;
- mouth: correlation of the predicted inner-lip opening with the audio's loudness in dB at 15 fps;
- on the test intervals, the model's L1 (px, arms and hands) against the truth.
`--adapt-voice` maps each audio's log-mel onto the speaker's voice first (`features.adapt_voice`,
what `posevideo gestures --adapt-voice` does). Prints a Markdown table. With `--speak DIR`, also
runs `speak` (shipped renderer) on the first `--speak-seconds` of each real audio and writes a
contact sheet per video into DIR.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REAL = Path(__file__).resolve().parents[2] / "shared" / "real"
DEFAULT_AUDIO = [REAL / "obama_weekly_address.mp4", REAL / "talking_woman.mp4"]


def motion_figures(xy: np.ndarray, audio: np.ndarray, wrists, lips) -> dict:
    """xy (T, K, 2) pixels at 15 fps; audio 16 kHz."""
    from posevideo.audio import rms_envelope

    w = xy[:, list(wrists)]  # (T, 2, 2)
    opening = np.linalg.norm(xy[:, lips[0]] - xy[:, lips[1]], axis=-1)
    loud = 20 * np.log10(rms_envelope(audio, 15)[:len(xy)] + 1e-4)
    n = min(len(opening), len(loud))
    return {"seconds": len(audio) / 16000, "wrist_std": float(w.std(0).mean()),
            "wrist_speed": float(np.linalg.norm(np.diff(w, axis=0), axis=-1).mean()),
            "mouth_loudness_corr": float(np.corrcoef(opening[:n], loud[:n])[0, 1])}


def wrist_std_at(xy: np.ndarray, frames: int, wrists) -> float:
    """The wrists' std (as `motion_figures`) over consecutive chunks of `frames` frames of `xy`, averaged:
    what the speaker's own motion gives over a clip of that length (a 4 s clip moves less about its own
    mean than 200 s pooled do, so short clips are compared with this, not with the pooled figure)."""
    frames = max(2, min(frames, len(xy)))
    chunks = [xy[s:s + frames][:, list(wrists)] for s in range(0, len(xy) - frames + 1, frames)]
    return float(np.mean([c.std(0).mean() for c in chunks]))


def test_intervals(data: Path, speaker: str):
    """(audio, truth pixels (T, K, 2) at 15 fps) of each test interval of the speaker, from the clips cache
    for the pose and the speaker's audio (DATA/<speaker>/audio/<video>.wav, what prepare writes)."""
    import pandas as pd

    from posevideo.audio import load_audio
    from posevideo.gestures.data import load_clips

    clips = load_clips(data, speaker)
    intervals = pd.read_csv(data / "intervals.csv", dtype={"video_fn": str, "interval_id": str})
    audio_of = {}
    for i in np.flatnonzero(clips.split == "test"):
        video, interval = str(clips.names[i]).split("/", 1)
        row = intervals[(intervals.video_fn == video) & (intervals.interval_id == interval)].iloc[0]
        if video not in audio_of:
            audio_of[video] = load_audio(data / speaker / "audio" / f"{video}.wav")
        pose = clips.pose[clips.pose_offsets[i]:clips.pose_offsets[i + 1]]
        a0 = int(round(row.start_time * 16000))
        audio = audio_of[video][a0:a0 + int(round(len(pose) / 15 * 16000))]
        yield audio, pose * clips.scale[i] + clips.center[i]


def contact_sheet(video: Path, out: Path, columns: int = 4, rows: int = 2) -> None:
    """Evenly spaced frames of `video` in a grid, each stamped with its time."""
    from PIL import Image, ImageDraw

    from posevideo.files import atomic_output
    from posevideo.video import read_frames

    frames = list(read_frames(video))
    picks = np.linspace(0, len(frames) - 1, columns * rows).round().astype(int)
    h, w = frames[0].shape[:2]
    sheet = Image.new("RGB", (columns * w, rows * h))
    for n, i in enumerate(picks):
        tile = Image.fromarray(frames[i])
        ImageDraw.Draw(tile).text((4, 4), f"{i / 30:.1f} s", fill=(255, 255, 0))
        sheet.paste(tile, ((n % columns) * w, (n // columns) * h))
    with atomic_output(out) as tmp:
        sheet.save(tmp, format="JPEG", quality=85)


def main():
    import torch

    from posevideo.audio import load_audio
    from posevideo.gestures.data import scored_groups as point_groups, wrist_points
    from posevideo.gestures.predict import load_model, predict_poses, to_pixels

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--speaker", default="synth0")
    parser.add_argument("--model", default=None, help="default: the shipped model")
    parser.add_argument("--audio", type=Path, nargs="*", default=DEFAULT_AUDIO)
    parser.add_argument("--speak", type=Path, default=None, help="folder for the speak videos' contact sheets")
    parser.add_argument("--speak-seconds", type=float, default=12.0)
    parser.add_argument("--adapt-voice", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    generator, meta = load_model(args.model)
    stats, layout = meta["stats"], meta["layout"]
    wrists = wrist_points(layout, generator.cfg.n_points)
    groups = point_groups(layout, generator.cfg.n_points)
    lips, body = groups["lips"], groups["body"]
    voice = meta["voice"] if args.adapt_voice else None

    rows = []
    truth_xy, model_xy, test_audio = [], [], []
    for audio, truth in test_intervals(args.data, args.speaker):
        pred = to_pixels(predict_poses(generator, audio, voice=voice), stats)
        n = min(len(pred), len(truth))
        truth_xy.append(truth[:n]), model_xy.append(pred[:n]), test_audio.append(audio[:int(n / 15 * 16000)])
    # Pooled over the test intervals (the std across them too, as over a long real clip).
    joined, truth = np.concatenate(test_audio), np.concatenate(truth_xy)
    truth_row = motion_figures(truth, joined, wrists, lips)
    rows.append((f"{args.speaker} test intervals: ground truth", truth_row))
    model_row = motion_figures(np.concatenate(model_xy), joined, wrists, lips)
    model_row["l1"] = float(np.abs(np.concatenate(model_xy)[:, body] - truth[:, body]).mean())
    rows.append((f"{args.speaker} test intervals: model", model_row))
    for path in args.audio:
        if not path.exists():
            print(f"skipped (absent): {path}")
            continue
        audio = load_audio(path)
        pred = to_pixels(predict_poses(generator, audio, voice=voice), stats)
        row = motion_figures(pred, audio, wrists, lips)
        row["own_at_length"] = wrist_std_at(truth, len(pred), wrists)
        rows.append((f"{path.name}: model", row))
        if args.speak:
            import soundfile

            from posevideo.speak import speak

            args.speak.mkdir(parents=True, exist_ok=True)
            clip = args.speak / f"{path.stem}_speech.wav"
            soundfile.write(clip, audio[:int(args.speak_seconds * 16000)], 16000)
            video = args.speak / f"{path.stem}_speak.mp4"
            speak(video, audio=clip, gestures_model=args.model, device="cpu", progress=False,
                  adapt_voice=args.adapt_voice)
            contact_sheet(video, args.speak / f"{path.stem}_speak_sheet.jpg")
            clip.unlink()

    print(f"\nmodel: {meta['path']} (step {meta.get('step')}); speaker {args.speaker}; 15 fps, pixels of the "
          f"speaker's {stats['width']}x{stats['height']} video; voice adapted: {args.adapt_voice}")
    print("| speech | seconds | wrist std (px) | ratio to the truth's | truth's at this length (px) | ratio to it | "
          "wrist speed (px/frame) | mouth-loudness corr. | L1 (px) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in rows:
        own = r.get("own_at_length", truth_row["wrist_std"])
        l1 = f"{r['l1']:.2f}" if "l1" in r else ""
        print(f"| {name} | {r['seconds']:.1f} | {r['wrist_std']:.1f} | {r['wrist_std'] / truth_row['wrist_std']:.2f} | "
              f"{own:.1f} | {r['wrist_std'] / own:.2f} | {r['wrist_speed']:.2f} | {r['mouth_loudness_corr']:.2f} | {l1} |")


if __name__ == "__main__":
    main()
