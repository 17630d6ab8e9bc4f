"""Does a clip's audio track belong to the mouth we see? A check of the real speech used in speaker transfer.

    .venv/bin/python benchmarks/mouth_audio.py VIDEO...

For each video: MediaPipe Holistic's face mesh (`posevideo.pose.extract.extract_video`) gives the inner-lip
opening (points 13-14) over the eye-corner distance (33-263) each frame; the audio (`load_audio`) its
loudness in dB at the video's fps. A speaker's own speech opens the mouth as it gets loud (correlation
~0.4-0.5 on a frame basis); a track that is noise, music or someone else gives ~0, and a closed mouth
a tiny mean opening. Prints a Markdown table. Runs on a CPU (about 1 min for 34 s at 30 fps on 2 cores).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def mouth_and_loudness(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """(opening (T,) in eye-corner distances, NaN where no face; loudness (T,) in dB; fps) of a video."""
    from posevideo.audio import load_audio, rms_envelope
    from posevideo.pose.extract import extract_video

    pose = extract_video(path)
    xy = np.asarray(pose.body.data[:, 0, :, :2].filled(np.nan))   # (T, points, 2) source pixels
    point = lambda name: xy[:, pose.header.get_point_index("FACE_LANDMARKS", name)]  # noqa: E731
    opening = np.linalg.norm(point("13") - point("14"), axis=-1) / np.linalg.norm(point("33") - point("263"), axis=-1)
    fps = float(pose.body.fps)
    loudness = 20 * np.log10(rms_envelope(load_audio(path), fps) + 1e-4)
    n = min(len(opening), len(loudness))
    return opening[:n], loudness[:n], fps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", type=Path, nargs="+")
    args = parser.parse_args()
    print("| video | frames | mouth opening mean (p90) | loudness p10 / p50 / p90 (dB) | corr(opening, loudness) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for path in args.videos:
        opening, loudness, _ = mouth_and_loudness(path)
        seen = ~np.isnan(opening)
        corr = np.corrcoef(opening[seen], loudness[seen])[0, 1] if loudness[seen].std() > 0 else float("nan")
        p10, p50, p90 = np.percentile(loudness, [10, 50, 90])
        print(f"| {path.name} | {len(opening)} | {np.nanmean(opening):.3f} ({np.nanpercentile(opening, 90):.3f}) | "
              f"{p10:.1f} / {p50:.1f} / {p90:.1f} | {corr:.2f} |")


if __name__ == "__main__":
    main()
