"""`posevideo transfer`: video -> video, the driver's motion performed by the renderer's person.

    posevideo transfer --video DRIVER.mp4 [--renderer RUN] --out OUT.mp4 [--pose-out P.pose] [--drawn-out D.pose]

Everybody Dance Now's "do as I do": the driver's pose is extracted as `prepare` extracts it
(MediaPipe Holistic, frames where it followed someone else dropped, short gaps filled, smoothed),
reduced, smoothed once more, and rendered by `render_poses`, which draws missing hands at rest and
retargets with global pose normalization: the driver's mean shoulder midpoint and width are mapped
onto the trained person's (the renderer checkpoint's `stats`), so the motion keeps its own size
changes and travel but lands where, and as large as, the target stood in training.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

from posevideo.errors import InputError

MIN_PERSON_SECONDS = 0.5  # less than this of a visible person is not worth rendering


def transfer(video: str | Path, renderer: str | Path | None, out: str | Path, pose_out: str | Path | None = None,
             device: str | None = None, batch: int = 16, progress: bool = True,
             drawn_out: str | Path | None = None, retarget: str = "full", size: int | None = None,
             adapt: bool = True, driver=None) -> Path:
    """Write `out` (mp4 at the driver's fps, one frame per driver frame, the driver's audio when it
    has any) showing the renderer's person (None: the shipped small renderer) moving as the person
    in `video`; with `pose_out`, also the retargeted reduced pose (pixels of the renderer's video,
    the hands as seen: rest hands are only drawn); with `drawn_out`, the pose as drawn, in the
    generated video's pixels (`posevideo.renderer.predict.drawn_pose`, for `evaluate consistency`).
    `retarget`: as `render --retarget` (`posevideo.renderer.predict.place`); `size`: the video's side
    (None: the renderer's; see `load_renderer`); `adapt`: `render_poses`'s (BatchNorm statistics
    adapted to this driver); `driver`: the driver's pose as `posevideo.pose.extract.extract_video`
    gave it for this video before (e.g. read back from a .pose), used instead of extracting again:
    the extraction is the slow part, and MediaPipe's is not repeatable from one process to the next,
    so comparing renderers on one driver wants one extraction. Returns `out`."""
    from tqdm import tqdm

    from posevideo.pose import (DEFAULT_CUTOFF_HZ, arrays, make_pose, shoulder_indices, smooth, to_layout,
                                write_pose)
    from posevideo.renderer.predict import check_mp4, check_pose_path, load_renderer, place, render_poses
    from posevideo.pose.extract import extract_video
    from posevideo.video import constant_rate_count, probe

    video, out = Path(video), Path(out)
    # Everything that can be checked before the slow extraction is checked first.
    check_mp4(out)
    check_pose_path(pose_out)
    check_pose_path(drawn_out)
    if out.resolve() == video.resolve():
        raise InputError(out, "is the driver video itself", "Write the result to another file.")
    from posevideo.files import check_writable
    for path in (out, pose_out, drawn_out):
        if path is not None:
            check_writable(Path(path).parent)
    info = probe(video)  # not a video, empty, corrupt, truncated: InputError naming it
    _, meta = load_renderer(renderer, "cpu", size)  # a wrong folder or size fails now, not after the extraction
    stats = meta["stats"]

    # The driver's pose: holistic in its own pixels, one pose frame per video frame at info.fps.
    want = constant_rate_count(info)
    if driver is None:
        with tqdm(total=want, desc="pose", unit="frame", disable=not progress) as bar:
            pose = extract_video(video, info, progress=bar.update)
    else:
        pose, dims = driver, driver.header.dimensions
        if len(pose.body.data) != want or (dims.width, dims.height) != (info.width, info.height):
            raise InputError(video, f"the driver pose given has {len(pose.body.data)} frames of "
                                    f"{dims.width}x{dims.height}, the video {want} of {info.width}x{info.height}",
                             "Give the pose extracted from this video, or none to extract it again.")
    fps = float(pose.body.fps)
    xy, conf = arrays(to_layout(pose, "reduced", path=video))  # (T, 178, 2) driver pixels
    right, left = shoulder_indices("reduced")
    seen = int(((conf[:, right] > 0) & (conf[:, left] > 0)).sum())
    if seen == 0:
        raise InputError(video, f"no person found in any of its {len(xy)} frames",
                         "Give a video where one person's upper body (both shoulders) is in view.")
    if seen < min(len(xy), math.ceil(MIN_PERSON_SECONDS * fps)):
        raise InputError(video, f"a person is in view in only {seen} of its {len(xy)} frames ({seen / fps:.2f} s), "
                                f"too few to render (at least {MIN_PERSON_SECONDS:g} s)",
                         "Give a video where one person's upper body (both shoulders) stays in view.")
    if seen < len(xy):
        print(f"note: {video}: no person in {len(xy) - seen} of {len(xy)} frames; those frames show the target's "
              "empty background", file=sys.stderr)
    # Again after reducing: where a hand was seen its wrist replaced the body's wrist, a step that
    # the first smoothing (on the holistic points) did not see.
    xy, conf = smooth(xy, conf, fps, cutoff_hz=min(DEFAULT_CUTOFF_HZ, fps / 2.5))

    wave = None
    if info.has_audio:
        from posevideo.audio import SAMPLE_RATE, load_audio
        wave = load_audio(video, SAMPLE_RATE)
    render_poses(xy, conf, fps, renderer, out, audio=wave, device=device, batch=batch, retarget=retarget,
                 frame_size=(info.width, info.height), progress=progress, path=video, drawn_out=drawn_out,
                 size=size, adapt=adapt)
    if pose_out is not None:
        placed, placed_conf, _, _ = place(xy, conf, fps, stats, retarget=retarget, rest=False, path=video)
        write_pose(make_pose("reduced", placed, placed_conf, fps, int(stats["width"]), int(stats["height"])), pose_out)
    return out
