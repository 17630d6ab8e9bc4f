"""Add a body profile to a renderer checkpoint trained before profiles were kept.

    posevideo synth-speaker --seed 0 --seconds 90 --fps 15 --out /tmp/syn0
    .venv/bin/python benchmarks/renderer_profile.py --pose /tmp/syn0/synthetic_0.pose \
        --model posevideo/models/renderer-small

`render --retarget full` rebuilds another person's pose on the body of the person a renderer was
trained on, from the body profile in the checkpoint's `stats["profile"]` (posevideo.pose.retarget).
Renderers trained since profiles were added get it from their frame bank (`bank_from_data`); for
an older one (the shipped small renderer, trained on synthetic speaker seed 0), this measures it
on poses of the same person and writes it into `checkpoint.json` (atomically; the weights are
not touched). Prints the profile's main lengths.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from posevideo.files import write_json
from posevideo.pose import arrays, body_profile, read_pose, to_layout


def add_profile(pose_path: str | Path, model: str | Path) -> dict:
    """Measure the profile on `pose_path` (any layout that converts to reduced) and store it in
    `model`/checkpoint.json's stats; return the profile as a dict."""
    checkpoint = Path(model) / "checkpoint.json"
    meta = json.loads(checkpoint.read_text())
    xy, conf = arrays(to_layout(read_pose(pose_path), "reduced", path=pose_path))
    profile = body_profile(xy, conf, path=pose_path).to_dict()
    meta["stats"]["profile"] = profile
    write_json(checkpoint, meta)
    return profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pose", required=True, help="Poses of the person the renderer was trained on.")
    parser.add_argument("--model", required=True, help="Renderer checkpoint folder (holds checkpoint.json).")
    args = parser.parse_args()
    profile = add_profile(args.pose, args.model)
    print(f"{args.model}: profile of {profile['frames']} frames: upper arm {profile['upper_arm']}, forearm "
          f"{profile['forearm']}, torso {profile['torso']}, face size {profile['face_size']} (shoulder widths)")


if __name__ == "__main__":
    main()
