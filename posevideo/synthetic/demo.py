"""`posevideo demo`, first form: a synthetic speaker clip beside its skeleton, as one video.

(Later the demo becomes speech -> video with trained models; this stays a small function.)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

DEMO_SEED, DEMO_SECONDS = 11, 8


def demo(out_dir: str | Path = ".", seed: int = DEMO_SEED, seconds: float = DEMO_SECONDS) -> list[Path]:
    """Writes synthetic_<seed>.mp4/.pose/.json and posevideo_demo.mp4 (clip | skeleton, with the
    speech) into out_dir; returns their paths."""
    from posevideo.audio import load_audio
    from posevideo.pose.io import arrays, read_pose
    from posevideo.skeleton import draw_skeleton
    from posevideo.synthetic import synth_speaker
    from posevideo.video import VideoWriter, probe, read_frames

    paths = synth_speaker(seed, seconds, out_dir)
    info = probe(paths["video"])
    xy, conf = arrays(read_pose(paths["pose"]))                                  # (T, 576, 2) video pixels
    side = Path(out_dir) / "posevideo_demo.mp4"
    with VideoWriter(side, info.fps, 2 * info.width, info.height, audio=load_audio(paths["video"])) as writer:
        for t, frame in enumerate(read_frames(paths["video"])):
            skeleton = draw_skeleton(xy[t], conf[t], layout="holistic", size=info.width)
            writer.write(np.concatenate([frame, skeleton], axis=1))
    return [paths["video"], paths["pose"], paths["json"], side]
