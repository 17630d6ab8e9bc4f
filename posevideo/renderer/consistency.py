"""Pose consistency: does the generated video show the pose that was drawn? No ground truth needed.

    posevideo evaluate consistency --video GENERATED.mp4 --pose INPUT.pose [--json OUT.json]

Everybody Dance Now's pose distance: run a pose detector (here MediaPipe Holistic, as `prepare`
uses) on the generated frames and compare what it finds with the pose the generator was given.
Only what a viewer can judge counts, so the reference is the pose *as drawn*: reduced layout, in
the generated video's pixels (after placement and the person crop), restricted to what the input
had (a hand drawn at rest because the input lost it is not the input's hand, nor are the hips
`full` draws as the trained person's). `render --drawn-out` and `transfer --drawn-out` write exactly
that file (`predict.drawn_pose`). A video `render` wrote records how it was drawn from its .pose
(`predict.drawing_record`), so that .pose itself is taken too: it is placed again as `render` placed it.

Per frame and part (body, face, left hand, right hand):
- present: the part was drawn inside the frame (body: both shoulders; face and hands: at least
  half of their points);
- found: the detector found that part in the generated frame (any of its points);
- body error: the body points drawn inside the frame and found (shoulders, elbows, wrists, hips),
  the found ones fitted onto the drawn ones by a similarity (`posevideo.pose.similarity_fit`),
  mean distance in drawn shoulder widths; `body_error_raw` the same without the fit;
- hand-shape error: each hand found where one was drawn, its 21 points fitted on their own, mean
  distance in hand sizes (hand size = drawn wrist to middle-finger MCP, the palm's length, which
  does not shrink when the fingers curl).
A part counts in its "found" share only in frames where it is present; errors are averaged over
frames where they exist. Per-frame arrays are kept (JSON null where a value does not exist).
MediaPipe costs about 40 ms a frame on a 2-core CPU.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from posevideo.errors import InputError
from posevideo.pose.retarget import DRAWN as DRAWN_CONF  # a point is drawn above this confidence (the skeleton spec's)

PARTS = ("body", "face", "left_hand", "right_hand")
MIDDLE_MCP = 9  # hand point index of MIDDLE_FINGER_MCP (wrist is 0)
MIN_FIT_POINTS = 3  # two points fit any similarity exactly: no error to measure


def detect(frames, fps: float, width: int, height: int, static: bool = False, path=None) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 frames of a `width` x `height` video -> MediaPipe's reduced-layout pose in their
    pixels: xy (T, 178, 2), conf (T, 178). `static`: every frame on its own (frames not in sequence)."""
    from posevideo.pose import arrays, to_layout
    from posevideo.pose.extract import holistic
    pose = holistic(frames, fps, width, height, refine_face=False, static=static, path=path)
    return arrays(to_layout(pose, "reduced", path=path))


def _inside(xy: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return (xy[..., 0] >= 0) & (xy[..., 0] < size[0]) & (xy[..., 1] >= 0) & (xy[..., 1] < size[1])


def compare(drawn_xy: np.ndarray, drawn_conf: np.ndarray, found_xy: np.ndarray, found_conf: np.ndarray,
            size: tuple[int, int]) -> dict:
    """Drawn vs found, both reduced (T, 178, 2) pixels of the generated frames (`size` = (width,
    height)) with conf (T, 178) -> {"summary": {...}, "per_frame": {...}} (see the module doc)."""
    from posevideo.pose import fit_error, point_groups, shoulder_indices
    if drawn_xy.shape != found_xy.shape:
        raise ValueError(f"drawn {drawn_xy.shape} and found {found_xy.shape} poses differ in shape")
    groups = point_groups("reduced")
    right, left = shoulder_indices("reduced")
    drawn = (drawn_conf > DRAWN_CONF) & _inside(drawn_xy, size)                      # (T, K) usable drawn points
    found_pt = found_conf > 0
    count = len(drawn_xy)
    present = {p: drawn[:, groups[p]].sum(1) * 2 >= len(groups[p]) for p in PARTS}
    present["body"] = drawn[:, right] & drawn[:, left]
    found = {p: present[p] & found_pt[:, groups[p]].any(1) for p in PARTS}

    body_error = np.full(count, np.nan)
    body_error_raw = np.full(count, np.nan)
    hand_error = {h: np.full(count, np.nan) for h in ("left_hand", "right_hand")}
    body = np.asarray(groups["body"])
    shoulder_width = np.linalg.norm(drawn_xy[:, right] - drawn_xy[:, left], axis=-1)
    for t in np.flatnonzero(found["body"]):
        use = body[drawn[t, body] & found_pt[t, body]]
        if len(use) >= MIN_FIT_POINTS and shoulder_width[t] > 0:
            body_error[t] = fit_error(found_xy[t, use], drawn_xy[t, use]).mean() / shoulder_width[t]
            body_error_raw[t] = np.linalg.norm(found_xy[t, use] - drawn_xy[t, use], axis=-1).mean() / shoulder_width[t]
    for hand, error in hand_error.items():
        idx = np.asarray(groups[hand])
        palm = np.linalg.norm(drawn_xy[:, idx[0]] - drawn_xy[:, idx[MIDDLE_MCP]], axis=-1)
        palm_seen = (drawn_conf[:, idx[0]] > DRAWN_CONF) & (drawn_conf[:, idx[MIDDLE_MCP]] > DRAWN_CONF)
        for t in np.flatnonzero(found[hand] & palm_seen & (palm > 0)):
            use = idx[(drawn_conf[t, idx] > DRAWN_CONF) & found_pt[t, idx]]
            if len(use) >= MIN_FIT_POINTS:
                error[t] = fit_error(found_xy[t, use], drawn_xy[t, use]).mean() / palm[t]

    def share(p_mask, f_mask):
        n = int(p_mask.sum())
        return {"present": n, "found": int(f_mask.sum()), "found_share": float(f_mask.sum() / n) if n else None}

    def stats(values):
        values = values[np.isfinite(values)]
        return {"mean": float(values.mean()) if len(values) else None,
                "median": float(np.median(values)) if len(values) else None, "frames": int(len(values))}

    summary = {"frames": count, **{p: share(present[p], found[p]) for p in PARTS},
               "hands": share(np.concatenate([present["left_hand"], present["right_hand"]]),
                              np.concatenate([found["left_hand"], found["right_hand"]])),
               "body_error": stats(body_error), "body_error_raw": stats(body_error_raw),
               **{f"{h}_error": stats(hand_error[h]) for h in hand_error},
               "hand_error": stats(np.concatenate(list(hand_error.values())))}
    per_frame = {**{f"{p}_present": present[p] for p in PARTS}, **{f"{p}_found": found[p] for p in PARTS},
                 "body_error": body_error, "body_error_raw": body_error_raw,
                 **{f"{h}_error": hand_error[h] for h in hand_error}}
    return {"summary": summary, "per_frame": per_frame}


def per_frame_json(per_frame: dict) -> dict:
    """Per-frame arrays as JSON lists (bools as 0/1, NaN as null)."""
    out = {}
    for key, values in per_frame.items():
        values = np.asarray(values)
        out[key] = values.astype(int).tolist() if values.dtype == bool else \
            [None if not np.isfinite(v) else round(float(v), 5) for v in values]
    return out


def read_drawn(pose_path: str | Path, video_size: tuple[int, int], frames: int,
               record: dict | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """The drawn pose -> xy (T, 178, 2), conf (T, 178), fps; checked against the generated video's
    size and frame count (InputError naming the file when they disagree). `pose_path` is the drawn
    pose file (`--drawn-out`), or the .pose the video was rendered from when the video's `record`
    (`predict.read_record`) names that file's content: it is then placed again (`predict.redraw`)."""
    from posevideo.pose import arrays, read_pose, to_layout
    from posevideo.renderer.predict import file_digest, redraw
    rendered_from = record is not None and file_digest(pose_path) == record["drawn_from"].get("sha256")
    if rendered_from:
        xy, conf, fps = redraw(record, pose_path)
        size = (int(record["size"]),) * 2
    else:
        pose = read_pose(pose_path)
        xy, conf = arrays(to_layout(pose, "reduced", path=pose_path))
        size, fps = (pose.header.dimensions.width, pose.header.dimensions.height), float(pose.body.fps)
    if len(xy) == 0:
        raise InputError(pose_path, "has no frames", "Give the .pose that `render --drawn-out` wrote for this video.")
    if size != tuple(video_size):
        if record is not None:
            raise InputError(pose_path, f"is a pose of a {size[0]}x{size[1]} video, so it is not the pose drawn into the "
                                        f"{video_size[0]}x{video_size[1]} video, nor the .pose it was rendered from "
                                        f"({record['drawn_from'].get('name')}; this file's content differs)",
                             "Pass the .pose you gave `posevideo render`, or the one `render --drawn-out` wrote.")
        raise InputError(pose_path, f"is a pose of a {size[0]}x{size[1]} video but the generated video is "
                                    f"{video_size[0]}x{video_size[1]}, so it is not the pose drawn into it",
                         "Write the drawn pose with `posevideo render --drawn-out DRAWN.pose` (or `transfer "
                         "--drawn-out`) and pass that.")
    if len(xy) != frames:
        raise InputError(pose_path, f"has {len(xy)} frames but the generated video has {frames}",
                         "Pass the .pose written with this very video (`render --drawn-out`).")
    check_framing(xy, conf, size, pose_path)
    return xy, conf, fps


def check_framing(xy: np.ndarray, conf: np.ndarray, size: tuple[int, int], path=None) -> bool:
    """A note on stderr (returns False) when the shoulders are not where the person crop puts them
    (`posevideo.pose.framing`: 1/SIDE of the side wide, SHOULDER_Y of the way down, medians over
    frames): a pose of the same size that is not the drawn one, e.g. `transfer --pose-out`'s
    (placed but not cropped), would otherwise be judged without a word."""
    import sys
    from posevideo.pose import shoulder_indices
    from posevideo.pose.framing import SHOULDER_Y, SIDE
    right, left = shoulder_indices("reduced")
    both = (conf[:, right] > 0) & (conf[:, left] > 0)
    if not both.any():
        return True
    width = np.median(np.linalg.norm(xy[both, right] - xy[both, left], axis=-1)) / size[0]
    mid = np.median((xy[both, right] + xy[both, left]) / 2, axis=0) / size                  # (x, y) fractions
    # Measured on the 14 drawn poses of benchmarks/real.py: width x SIDE 0.98-1.03, y 0.413-0.422, x 0.498-0.501.
    if abs(width * SIDE - 1) <= 0.08 and abs(mid[1] - SHOULDER_Y) <= 0.02 and abs(mid[0] - 0.5) <= 0.02:
        return True
    print(f"note: {path}: its shoulders are {width:.2f} of the frame wide, centred at {mid[0]:.2f}, {mid[1]:.2f}, not "
          f"{1 / SIDE:.2f} at 0.50, {SHOULDER_Y:.2f} as the person crop draws them: is it the pose `--drawn-out` wrote?",
          file=sys.stderr)
    return False


def consistency(video: str | Path, pose: str | Path, json_out: str | Path | None = None, progress: bool = True,
                keep_found: bool = False) -> dict:
    """The pose-consistency report of a generated `video` against its drawn `pose` (see the module
    doc); written to `json_out` when given. `keep_found`: also return MediaPipe's pose as
    `found_xy`, `found_conf` arrays (not written to the JSON)."""
    from tqdm import tqdm
    from posevideo.files import write_json
    from posevideo.video import probe, read_frames

    info = probe(video)  # missing, empty, not a video: InputError naming it
    if info.frames == 0:
        raise InputError(video, "has no video frames", "Give the video that `render` or `transfer` wrote.")
    from posevideo.renderer.predict import read_record
    drawn_xy, drawn_conf, fps = read_drawn(pose, (info.width, info.height), info.frames, read_record(video))
    frames = tqdm(read_frames(video), total=info.frames, desc="consistency", unit="frame", disable=not progress)
    found_xy, found_conf = detect(frames, fps, info.width, info.height, path=video)
    if len(found_xy) != len(drawn_xy):  # probe counts packets; a damaged file can decode fewer frames
        raise InputError(video, f"decoded {len(found_xy)} frames but its pose has {len(drawn_xy)}",
                         "Render the video again.")
    result = compare(drawn_xy, drawn_conf, found_xy, found_conf, (info.width, info.height))
    report = {"video": str(video), "pose": str(pose), "fps": fps, "size": [info.width, info.height],
              "summary": result["summary"], "per_frame": per_frame_json(result["per_frame"]),
              "note": "found shares of frames where the part was drawn; body error in shoulder widths after a "
                      "similarity fit (raw: without); hand error in hand sizes (wrist to middle-finger MCP) "
                      "after each hand's own similarity fit"}
    if json_out is not None:
        write_json(json_out, report)
    if keep_found:
        report = {**report, "found_xy": found_xy, "found_conf": found_conf,
                  "drawn_xy": drawn_xy, "drawn_conf": drawn_conf}
    return report


def table(rows: dict[str, dict]) -> str:
    """Summaries (name -> `summary` dict) as a fixed-width text table, one row each."""
    def pct(part):
        return "-" if part["found_share"] is None else f"{100 * part['found_share']:.1f}"

    def num(stat):
        return "-" if stat["mean"] is None else f"{stat['mean']:.3f}"

    head = f"{'':<28}{'frames':>7}{'body %':>8}{'face %':>8}{'hands %':>8}{'(of)':>6}{'body err':>9}{'raw':>7}{'hand err':>9}"
    lines = [head]
    for name, s in rows.items():
        lines.append(f"{name[:27]:<28}{s['frames']:>7}{pct(s['body']):>8}{pct(s['face']):>8}{pct(s['hands']):>8}"
                     f"{s['hands']['present']:>6}{num(s['body_error']):>9}{num(s['body_error_raw']):>7}"
                     f"{num(s['hand_error']):>9}")
    return "\n".join(lines)


def pooled(summaries: dict[str, dict], body_target: float = 0.08) -> dict:
    """Several inputs' summaries (name -> `summary`) taken together, as issue 12's targets read them:
    the hands found in all their hand-frames at once, how many inputs have a mean body error within
    `body_target` shoulder widths, and the hand-shape error over every hand it was measured on (issue
    13's "hand-shape error lower than v1's"; an input weighs by its hands, as the hands found do)."""
    present = sum(s["hands"]["present"] for s in summaries.values())
    found = sum(s["hands"]["found"] for s in summaries.values())
    errors = [s["body_error"]["mean"] for s in summaries.values() if s["body_error"]["mean"] is not None]
    shapes = [s["hand_error"] for s in summaries.values() if s["hand_error"]["frames"]]
    hands_judged = sum(h["frames"] for h in shapes)
    return {"hands": {"present": present, "found": found, "found_share": found / present if present else None},
            "body_target": body_target, "body_within": sum(e <= body_target for e in errors), "body_judged": len(errors),
            "hand_error": {"mean": sum(h["mean"] * h["frames"] for h in shapes) / hands_judged if hands_judged else None,
                           "hands": hands_judged}}


def pooled_line(pool: dict) -> str:
    """`pooled`'s figures as one line."""
    hands = pool["hands"]
    shown = (f"{100 * hands['found_share']:.1f} % of {hands['present']} hand-frames ({hands['found']} found)"
             if hands["present"] else "no hand-frames")
    shape = pool["hand_error"]
    return (f"pooled: hands found {shown}; body error <= {pool['body_target']} on {pool['body_within']} "
            f"of {pool['body_judged']} inputs"
            + (f"; hand-shape error {shape['mean']:.3f} hand sizes over {shape['hands']} hands" if shape["hands"] else ""))
