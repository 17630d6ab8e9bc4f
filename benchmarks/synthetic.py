"""How fast the synthetic speaker is made (issue 2: 10 minutes of 256x256 video at 30 fps in under
5 minutes on this 2-core CPU, encoding included), and how well MediaPipe Holistic finds the drawn
person again (a check that the drawing reads as a person to a pose estimator).

    .venv/bin/python benchmarks/synthetic.py [--seconds 600] [--size 256] [--holistic-seconds 20]

Prints a table: the end-to-end `synth_speaker` call, then its stages timed alone (speech,
features, motion, drawing, drawing + H.264/AAC encoding), then Holistic's detection rate and mean
pixel error against the ground truth on a short clip (every 3rd frame, tracking mode).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def timed(fn, *args, **kwargs):
    """(result, (wall seconds, CPU seconds of this process, all its threads))."""
    start, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return result, (time.perf_counter() - start, time.process_time() - cpu)


def holistic_agreement(video: Path, pose: Path, step: int = 3) -> dict[str, tuple[float, float]]:
    """Per part: (share of frames found, mean pixel error of the found points)."""
    import mediapipe as mp

    from posevideo.pose.io import arrays, read_pose
    from posevideo.video import read_frames

    xy, _ = arrays(read_pose(pose))
    parts = {"body (23 upper points)": (0, 23), "face (468)": (33, 468), "left hand (21)": (501, 21), "right hand (21)": (522, 21)}
    found = {name: [] for name in parts}
    errors = {name: [] for name in parts}
    with mp.solutions.holistic.Holistic(model_complexity=1) as holistic:
        for t, frame in enumerate(read_frames(video)):
            if t % step:
                continue
            size = frame.shape[0]
            result = holistic.process(frame)
            marks = (result.pose_landmarks, result.face_landmarks, result.left_hand_landmarks, result.right_hand_landmarks)
            for (name, (offset, count)), lm in zip(parts.items(), marks):
                found[name].append(lm is not None)
                if lm is not None:
                    p = np.array([[m.x * size, m.y * size] for m in lm.landmark])[:count]
                    errors[name].append(np.linalg.norm(p - xy[t, offset:offset + count], axis=1).mean())
    return {name: (float(np.mean(found[name])), float(np.mean(errors[name])) if errors[name] else float("nan")) for name in parts}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--size", type=int, default=256, choices=(256, 512))
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--holistic-seconds", type=float, default=20, help="0 skips the Holistic check")
    args = parser.parse_args()

    from posevideo.synthetic import draw, motion, speech, synth_speaker
    from posevideo.video import VideoWriter

    fps = 30
    rows = []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        paths, total = timed(synth_speaker, args.seed, args.seconds, tmp, size=args.size, fps=fps)
        frames = int(round(args.seconds * fps))
        rows.append(("synth_speaker end to end (mp4 + .pose + json)", total))

        # The stages alone, as synth_speaker runs them.
        rng = np.random.default_rng(args.seed)
        voice = speech.voice_for_seed(rng)
        (audio, sentences), t_speech = timed(speech.make_speech, args.seconds, voice, rng)
        features, t_features = timed(motion.speech_features, audio, sentences, frames, fps)
        (xyz, conf), t_motion = timed(motion.generate, features, sentences, motion.style_for_seed(rng), rng, fps, args.size)
        painter = draw.Painter(draw.look_for_seed(args.seed, rng), args.size)
        _, t_draw = timed(lambda: [painter.draw(xyz[t]) for t in range(frames)])

        def draw_and_encode():
            with VideoWriter(Path(tmp) / "stage.mp4", fps, args.size, args.size, audio=audio) as writer:
                for t in range(frames):
                    writer.write(painter.draw(xyz[t]))
        _, t_encode = timed(draw_and_encode)
        rows += [("  speech: espeak-ng + resampling", t_speech), ("  features: loudness, onsets, YIN pitch", t_features),
                 ("  motion: gestures, face, hands, IK", t_motion), ("  drawing alone", t_draw),
                 ("  drawing + H.264/AAC encoding", t_encode)]

        print(f"synthetic speaker, seed {args.seed}, {args.seconds:g} s at {args.size}x{args.size}, {fps} fps "
              f"({frames} frames)")
        # Other work on a shared machine stretches wall time; CPU time shows what this process used.
        print(f"load average before / after: {load[0]:.1f} / {os.getloadavg()[0]:.1f} (2 cores)")
        print(f"{'stage':<50} {'wall s':>8} {'CPU s':>8} {'x real time':>12} {'wall ms/frame':>14}")
        for name, (wall, cpu) in rows:
            print(f"{name:<50} {wall:8.1f} {cpu:8.1f} {args.seconds / wall:12.1f} {1000 * wall / frames:14.2f}")

        if args.holistic_seconds > 0:
            short = synth_speaker(args.seed, args.holistic_seconds, Path(tmp) / "short", size=args.size, fps=fps)
            print(f"\nMediaPipe Holistic (model_complexity 1) on {args.holistic_seconds:g} s of the drawn video, "
                  f"every 3rd frame, against the ground-truth .pose:")
            print(f"{'part':<24} {'found':>7} {'mean error px':>14}")
            for name, (share, error) in holistic_agreement(short["video"], short["pose"]).items():
                print(f"{name:<24} {100 * share:6.0f}% {error:14.1f}")


if __name__ == "__main__":
    main()
