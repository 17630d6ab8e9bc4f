"""Poses for the page, in Python: the reference the page's JavaScript is tested against.

The page reads `.pose` files itself (posevideo/web/posefile.js `preparePose`): per pose frame the
reduced layout's 178 points in pixels of the source, their confidence, and the square crop box
(x0, y0, side) the skeleton image is cut from. `pose_arrays` here does the same steps with the pose
core (`posevideo.pose`: layouts, retargeting, hands at rest, framing); tests/test_web_static.py
checks the two agree. `pose_json` still serves the old `/api/pose` and `/api/example` routes of
`posevideo serve`, and `page_config` the constants the page shares with Python (config.json).

Placement: a renderer learned one person at one place in its crops. When the export carries that
placement (the checkpoint's training statistics), a pose from elsewhere is moved onto it first:
rebuilt on the person's body when the placement holds its body profile (`posevideo.pose.retarget`,
what `render --retarget full` does), else moved by its shoulders (`--retarget place`), and cut with
the person's median training box. Without it (an untrained model), the pose keeps its own framing
and gets person-centred boxes as `prepare` makes them. Missing hands are then drawn at rest.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

LAYOUT = "reduced"


def pose_arrays(path: str | Path, placement: dict | None = None):
    """(xy (T, K, 2) source pixels, conf (T, K), boxes (T, 3), fps, (width, height)) of a .pose file,
    in the reduced layout, placed for the renderer, missing hands at rest. InputError for anything
    the pose core rejects. The page does the same in JavaScript (posefile.js preparePose; tested equal)."""
    from posevideo.errors import InputError
    from posevideo.pose import NormStats, arrays, read_pose, rest_hands, to_layout

    pose = to_layout(read_pose(path), LAYOUT, path=path)
    xy, conf = arrays(pose)
    if len(xy) == 0:
        raise InputError(path, "has no frames", "Pass a .pose file with at least one frame.")
    fps = float(pose.body.fps) or 25.0
    size = (int(pose.header.dimensions.width), int(pose.header.dimensions.height))
    shapes = None
    if placement:
        from posevideo.pose.retarget import BodyProfile, retarget_pose

        target = NormStats(center=np.asarray(placement["center"], np.float64), scale=float(placement["scale"]))
        # Rebuilt on the trained person's body when the export has its profile, as `render` does by
        # default; else moved by the shoulders (render's --retarget place).
        profile = BodyProfile.from_dict(placement["profile"]) if placement.get("profile") else None
        xy, conf, _ = retarget_pose(xy, conf, profile, target, mode="full" if profile else "place", fps=fps, path=path)
        shapes = profile.hand_shape if profile is not None else None
    # The renderer was trained on people with hands: a missing one is drawn at rest (as `render`).
    xy, conf = rest_hands(xy, conf, shapes=shapes)
    xy = np.where(conf[..., None] > 0, xy, 0).astype(np.float32)
    if placement:
        boxes = np.tile(np.asarray(placement["box"], np.float32), (len(xy), 1))
        size = (int(placement["width"]), int(placement["height"]))
    else:
        from posevideo.pose.framing import person_boxes

        boxes = person_boxes(xy, conf, LAYOUT, fps, *size)
    return xy, conf, boxes, fps, size


def pose_json(path: str | Path, placement: dict | None = None, name: str | None = None) -> dict:
    """The page's JSON for a .pose file: flat lists, rounded to 1/100 pixel (drawn at 1/16)."""
    xy, conf, boxes, fps, (width, height) = pose_arrays(path, placement)
    return {
        "name": name or Path(path).name,
        "layout": LAYOUT,
        "fps": fps,
        "frames": int(len(xy)),
        "points": int(xy.shape[1]),
        "width": width,
        "height": height,
        "placed": bool(placement),
        "xy": np.round(xy, 2).ravel().tolist(),       # (T * K * 2,) source pixels
        "conf": np.round(conf, 3).ravel().tolist(),   # (T * K,)
        "boxes": np.round(boxes, 2).ravel().tolist(),  # (T * 3,) x0, y0, side
    }


def example_pose_json(placement: dict | None = None) -> dict:
    """The bundled example (8 s of the synthetic speaker of seed 0, see `make_example`)."""
    from posevideo.skeleton import EXAMPLE

    return pose_json(EXAMPLE, placement, name="example: synthetic speaker (seed 0)")


def page_config() -> dict:
    """Constants the page's live (webcam) path shares with Python: the crop rule and the layout."""
    from posevideo.pose import framing

    return {"layout": LAYOUT, "crop": framing.page_config()}


def make_example(out: str | Path | None = None, seconds: float = 8.0) -> Path:
    """Regenerate the bundled example: `synth_speaker(seed=0)`, reduced layout, 256 px, 30 fps."""
    import tempfile

    from posevideo.files import atomic_output
    from posevideo.pose import read_pose, to_layout
    from posevideo.skeleton import EXAMPLE
    from posevideo.synthetic import synth_speaker

    out = EXAMPLE if out is None else out
    with tempfile.TemporaryDirectory() as tmp:
        made = synth_speaker(seed=0, seconds=seconds, out_dir=tmp, size=256, fps=30)
        pose = to_layout(read_pose(made["pose"]), LAYOUT)
        with atomic_output(out) as path, open(path, "wb") as f:
            pose.write(f)
    return Path(out)
