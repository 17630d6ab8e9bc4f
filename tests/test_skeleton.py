"""The skeleton image (posevideo/skeleton.py, docs/skeleton-spec.md)."""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from posevideo.errors import InputError
from posevideo.skeleton import draw_skeleton, draw_skeletons, load_spec

GOLDEN = Path(__file__).parent / "golden"
BOX = (0.0, 0.0, 512.0)  # the fixture is in 512x512 source pixels


def fixture_pose():
    """178-point reduced pose: face and shoulders from MediaPipe Holistic on skimage's astronaut
    photo, arms and hands placed by hand; the left hip has conf 0.5."""
    data = np.load(GOLDEN / "pose_reduced.npz")
    return data["xy"].astype(np.float64), data["conf"].astype(np.float64)


def point(layout, component, name):
    return [tuple(p) for p in load_spec()["layouts"][layout]].index((component, name))


def one_limb(x0, y0, x1, y1, conf=1.0):
    """A reduced pose with only the shoulder line (a body limb, red (255, 0, 0)) present."""
    xy = np.zeros((178, 2))
    c = np.zeros(178)
    left, right = point("reduced", "POSE_LANDMARKS", "LEFT_SHOULDER"), point("reduced", "POSE_LANDMARKS", "RIGHT_SHOULDER")
    xy[left], xy[right] = (x0, y0), (x1, y1)
    c[left] = c[right] = conf
    return xy, c


def test_golden_image():
    """The fixture drawn at 256 equals the stored PNG pixel for pixel.
    After an intended change of the drawing (and a `version` bump in the spec), regenerate with
    `POSEVIDEO_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_skeleton.py -k golden`
    and look at tests/golden/skeleton_256.png before committing it."""
    image = draw_skeleton(*fixture_pose(), size=256, box=BOX)
    path = GOLDEN / "skeleton_256.png"
    if os.environ.get("POSEVIDEO_REGENERATE_GOLDEN"):
        cv2.imwrite(str(path), image[..., ::-1])
    golden = cv2.imread(str(path))[..., ::-1]
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    assert np.array_equal(image, golden)


def reference_draw(xy, conf, size, box, background):
    """The spec (docs/skeleton-spec.md) read literally, in numpy, limb by limb, over each limb's
    bounding box widened by its reach (coverage is 0 beyond it)."""
    spec = load_spec()
    index = {tuple(p): i for i, p in enumerate(spec["layouts"]["reduced"])}
    bg = np.array(background, dtype=np.float64)
    image = np.empty((size, size, 3))
    image[:] = bg
    uv = (xy - box[:2]) * (size / box[2])
    for group in spec["groups"]:
        half = spec["widths"][group["kind"]][str(size)] / 2
        for p, q in group["limbs"]:
            i, j = index[(group["component"], p)], index[(group["component"], q)]
            a = min(np.clip(conf[i], 0, 1), np.clip(conf[j], 0, 1))
            if a < spec["confidence"]["threshold"]:
                continue
            color = np.floor(bg + (np.array(group["color"]) - bg) * a + 0.5)
            (x0, y0), (x1, y1) = uv[i], uv[j]
            lo = np.floor(np.minimum(uv[i], uv[j]) - half - 2).astype(int).clip(0, size)
            hi = np.ceil(np.maximum(uv[i], uv[j]) + half + 2).astype(int).clip(0, size)
            cy, cx = np.mgrid[lo[1]:hi[1], lo[0]:hi[0]] + 0.5  # pixel centres
            dx, dy = x1 - x0, y1 - y0
            t = np.clip(((cx - x0) * dx + (cy - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
            ex, ey = cx - (x0 + t * dx), cy - (y0 + t * dy)
            coverage = np.clip(half + 0.5 - np.sqrt(ex * ex + ey * ey), 0.0, 1.0)[..., None]
            region = image[lo[1]:hi[1], lo[0]:hi[0]]
            image[lo[1]:hi[1], lo[0]:hi[0]] = np.floor(region + (color - region) * coverage + 0.5)
    return image.astype(np.uint8)


@pytest.mark.parametrize("size", [256, 512])
def test_matches_literal_reading_of_spec(size):
    xy, conf = fixture_pose()
    conf[point("reduced", "LEFT_HAND_LANDMARKS", "INDEX_FINGER_TIP")] = 0.3
    got = draw_skeleton(xy, conf, size=size, box=BOX, background=(255, 200, 200))
    assert np.array_equal(got, reference_draw(xy, conf, size, np.array(BOX), (255, 200, 200)))


def test_deterministic_and_sequence_helper():
    xy, conf = fixture_pose()
    first = draw_skeleton(xy, conf, size=256, box=BOX)
    assert np.array_equal(first, draw_skeleton(xy, conf, size=256, box=BOX))
    seq = draw_skeletons(np.stack([xy, xy + 10]), np.stack([conf, conf]), size=256, box=BOX)
    assert seq.shape == (2, 256, 256, 3)
    assert np.array_equal(seq[0], first)
    assert np.array_equal(seq[1], draw_skeleton(xy + 10, conf, size=256, box=BOX))


def test_sequences_drawn_in_threads_or_into_a_buffer_are_the_same_pixels():
    """draw_skeletons(threads=N) splits the frames over threads (the numba rasterizer runs without
    the GIL); `out` draws into a given array (the pinned buffer of a GPU upload). Same pixels as
    draw_skeleton, frame by frame, with per-frame boxes, NaN points and a holistic pose too."""
    from posevideo.skeleton import example_poses
    xy, conf = example_poses(13, 256)
    xy[3, 40] = np.nan
    boxes = np.stack([np.arange(13.0) - 6, np.zeros(13), np.full(13, 256.0) + np.arange(13.0)], axis=1)
    want = np.stack([draw_skeleton(xy[t], conf[t], size=128, box=boxes[t], background=(9, 8, 7)) for t in range(13)])
    for threads in (1, 3, 32):
        got = draw_skeletons(xy, conf, size=128, box=boxes, background=(9, 8, 7), threads=threads)
        assert np.array_equal(got, want), threads
    into = np.zeros((15, 128, 128, 3), np.uint8)
    assert draw_skeletons(xy, conf, size=128, box=boxes, background=(9, 8, 7), out=into[1:14], threads=2) is not None
    assert np.array_equal(into[1:14], want) and not into[0].any() and not into[14].any()
    with pytest.raises(ValueError, match="out must be"):
        draw_skeletons(xy, conf, size=128, out=np.zeros((13, 128, 128, 3), np.float32))
    with pytest.raises(ValueError, match="box side"):
        draw_skeletons(xy, conf, size=128, box=np.where(np.arange(13)[:, None] == 5, 0, boxes))
    holistic = np.zeros((2, 543, 2)), np.zeros((2, 543))
    assert draw_skeletons(*holistic, layout="holistic", size=64, threads=2).shape == (2, 64, 64, 3)


def test_zero_confidence_draws_background_only():
    xy, conf = fixture_pose()
    image = draw_skeleton(xy, np.zeros_like(conf), size=256, box=BOX, background=(200, 200, 255))
    assert (image == (200, 200, 255)).all()
    # NaN coordinates or confidences count as missing too.
    nan = draw_skeleton(np.full_like(xy, np.nan), conf, size=256, box=BOX)
    assert (nan == 0).all()


def test_half_confidence_is_dimmer():
    full = draw_skeleton(*one_limb(50, 128, 200, 128, conf=1.0))
    half = draw_skeleton(*one_limb(50, 128, 200, 128, conf=0.5))
    below = draw_skeleton(*one_limb(50, 128, 200, 128, conf=0.05))  # under the 0.1 threshold
    assert full[128, 120].tolist() == [255, 0, 0]
    assert half[128, 120].tolist() == [128, 0, 0]  # floor(255 * 0.5 + 0.5)
    assert (below == 0).all()


def test_box_centre_lands_on_image_centre():
    box = (100.0, 40.0, 400.0)  # centre (300, 240) in source pixels
    for size in (256, 512):
        image = draw_skeleton(*one_limb(280, 240, 320, 240), size=size, box=box)[..., 0].astype(float)
        rows, cols = np.indices(image.shape)
        # Pixel k has its centre at k + 0.5, so the weighted centroid of indices should be S/2 - 0.5.
        centre = (np.sum(cols * image) / image.sum(), np.sum(rows * image) / image.sum())
        assert centre == pytest.approx((size / 2 - 0.5, size / 2 - 0.5), abs=0.05)


def test_512_doubles_thickness():
    def ink(size):  # (body, hand, face) stroke width in pixels: a column's summed coverage across a limb
        widths = []
        for component, p, q in [("POSE_LANDMARKS", "LEFT_SHOULDER", "RIGHT_SHOULDER"),
                                ("LEFT_HAND_LANDMARKS", "INDEX_FINGER_PIP", "INDEX_FINGER_DIP"),
                                ("FACE_LANDMARKS", "0", "267")]:  # lips: 0-267 is a face limb
            xy, conf = np.zeros((178, 2)), np.zeros(178)
            i, j = point("reduced", component, p), point("reduced", component, q)
            xy[i], xy[j] = (0.2 * size, 0.5 * size + 0.3), (0.8 * size, 0.5 * size + 0.3)
            conf[i] = conf[j] = 1.0
            image = draw_skeleton(xy, conf, size=size).astype(float)
            widths.append(image[:, size // 2].max(axis=1).sum() / 255)
        return widths
    assert ink(256) == pytest.approx([3, 2, 1], abs=0.02)
    assert ink(512) == pytest.approx([6, 4, 2], abs=0.02)


def test_holistic_and_s2g49_layouts():
    xy, conf = fixture_pose()
    spec = load_spec()
    # A holistic pose holding the fixture's points where reduce_holistic takes them from.
    hol_index = {tuple(p): i for i, p in enumerate(spec["layouts"]["holistic"])}
    hxy, hconf = np.zeros((576, 2)), np.zeros(576)
    for k, p in enumerate(spec["layouts"]["reduced"]):
        hxy[hol_index[tuple(p)]], hconf[hol_index[tuple(p)]] = xy[k], conf[k]
    # The body wrist sits elsewhere; the hand's wrist wins (pose-format's correct_wrists).
    body_wrist = hol_index[("POSE_LANDMARKS", "LEFT_WRIST")]
    hxy[body_wrist] += 40
    reduced = draw_skeleton(xy, conf, size=256, box=BOX)
    assert np.array_equal(draw_skeleton(hxy, hconf, "holistic", size=256, box=BOX), reduced)
    assert np.array_equal(draw_skeleton(hxy[:543], hconf[:543], "holistic", size=256, box=BOX), reduced)

    s2g = spec["layouts"]["s2g49"]
    sxy, sconf = np.zeros((49, 2)), np.zeros(49)
    red_index = {tuple(p): i for i, p in enumerate(spec["layouts"]["reduced"])}
    for k, p in enumerate(s2g):
        if tuple(p) in red_index:
            sxy[k], sconf[k] = xy[red_index[tuple(p)]], conf[red_index[tuple(p)]]
    image = draw_skeleton(sxy, sconf, "s2g49", size=256, box=BOX)
    # Arms and hands are drawn; face and hips are not.
    assert (image != 0).any(axis=2).sum() > 500
    assert not (image[:60] != 0).any()  # the face region (rows 32-90) is empty above the fingers


def test_bad_input_names_expected_and_got():
    with pytest.raises(InputError, match=r"K 178.*got xy \(100, 2\)"):
        draw_skeleton(np.zeros((100, 2)), np.ones(100))
    with pytest.raises(ValueError, match=r"K 178.*got xy \(100, 2\)"):  # also a ValueError
        draw_skeleton(np.zeros((100, 2)), np.ones(100))
    with pytest.raises(InputError, match=r"\(T, K, 2\).*got xy \(178, 2\)"):
        draw_skeletons(np.zeros((178, 2)), np.ones(178))
    with pytest.raises(InputError, match=r"543 or 576"):
        draw_skeleton(np.zeros((178, 2)), np.ones(178), layout="holistic")
    with pytest.raises(InputError, match=r"conf \(177,\)"):
        draw_skeleton(np.zeros((178, 2)), np.ones(177))
    with pytest.raises(ValueError, match="layout"):
        draw_skeleton(np.zeros((178, 2)), np.ones(178), layout="openpose")
    with pytest.raises(ValueError, match="side"):
        draw_skeleton(np.zeros((178, 2)), np.ones(178), box=(0, 0, 0))


def test_spec_point_order_matches_pose_core():
    """The spec's layouts (which the JavaScript twin reads) list points in posevideo.pose's order, and
    the reduced face is what pose-format's reduce_holistic keeps. Built from names, so that the
    test does not import mediapipe (seconds)."""
    from pose_format.pose_header import PoseHeader, PoseHeaderComponent
    from pose_format.utils.generic import reduce_holistic

    from posevideo.pose import pose_from_arrays
    from posevideo.pose.io import header_dimensions
    from posevideo.pose.layouts import BODY_POINTS, HAND_POINTS, REDUCED_BODY_POINTS, S2G49_SOURCES

    names = {"POSE_LANDMARKS": list(BODY_POINTS), "FACE_LANDMARKS": [str(i) for i in range(468)],
             "LEFT_HAND_LANDMARKS": list(HAND_POINTS), "RIGHT_HAND_LANDMARKS": list(HAND_POINTS),
             "POSE_WORLD_LANDMARKS": list(BODY_POINTS)}
    holistic = [[c, p] for c, points in names.items() for p in points]
    components = [PoseHeaderComponent(c, points, [], [(0, 0, 0)], "XYC") for c, points in names.items()]
    header = PoseHeader(0.2, header_dimensions(1, 1), components)
    empty = pose_from_arrays(header, np.zeros((1, 1, len(holistic), 2)), np.zeros((1, 1, len(holistic))), 1)
    face = [p for c in reduce_holistic(empty).header.components if c.name == "FACE_LANDMARKS" for p in c.points]
    reduced = ([["POSE_LANDMARKS", p] for p in REDUCED_BODY_POINTS] + [["FACE_LANDMARKS", p] for p in face]
               + [[c, p] for c in ("LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS") for p in HAND_POINTS])
    spec = load_spec()["layouts"]
    assert spec["holistic"] == holistic
    assert spec["reduced"] == reduced
    assert spec["s2g49"] == [["POSE_LANDMARKS", "NECK"] if s is None else list(s) for s in S2G49_SOURCES]


def test_skeleton_video_from_pose_file(tmp_path):
    from posevideo.pose import make_pose, write_pose
    from posevideo.skeleton import write_skeleton_video
    from posevideo.video import probe, read_frames

    xy, conf = fixture_pose()
    frames = 6
    seq = np.stack([xy + (2.0 * t, 0.0) for t in range(frames)]).astype(np.float32)
    write_pose(make_pose("reduced", seq, np.tile(conf, (frames, 1)).astype(np.float32), 15, 512, 512), tmp_path / "a.pose")
    assert write_skeleton_video(tmp_path / "a.pose", tmp_path / "a.mp4", crop="frame") == frames
    info = probe(tmp_path / "a.mp4")
    assert (info.frames, info.width, info.height) == (frames, 256, 256) and info.fps == pytest.approx(15)
    first = next(iter(read_frames(tmp_path / "a.mp4"))).astype(float)
    expected = draw_skeleton(seq[0], conf, size=256, box=BOX).astype(float)
    assert np.abs(first - expected).mean() < 3  # H.264 at crf 18: close, not equal

    # The person crop is found from the shoulders of whatever layout comes in.
    from posevideo.pose import arrays, read_pose, to_layout
    from posevideo.pose.framing import person_boxes
    pose = read_pose(tmp_path / "a.pose")
    boxes = {name: person_boxes(*arrays(to_layout(pose, name)), name, 15, 512, 512) for name in ("reduced", "holistic", "s2g49")}
    assert np.array_equal(boxes["reduced"], boxes["holistic"]) and np.array_equal(boxes["reduced"], boxes["s2g49"])

    (tmp_path / "bad.pose").write_bytes(b"not a pose")
    with pytest.raises(InputError, match="bad.pose"):
        write_skeleton_video(tmp_path / "bad.pose", tmp_path / "b.mp4")
    with pytest.raises(InputError, match="mp4"):
        write_skeleton_video(tmp_path / "a.pose", tmp_path / "b.avi")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_exact_javascript_port_in_spec_matches(tmp_path):
    """The JavaScript in docs/skeleton-spec.md ("An exact JavaScript port"), run by node, draws the
    same pixels as draw_skeleton: the spec is precise enough to be reproduced exactly."""
    doc = (Path(__file__).parents[1] / "docs" / "skeleton-spec.md").read_text()
    code = doc.split("<!-- exact-js -->", 1)[1].split("```js", 1)[1].split("```", 1)[0]
    spec = load_spec()
    index = {tuple(p): i for i, p in enumerate(spec["layouts"]["reduced"])}
    plan = [{"kind": g["kind"], "color": g["color"],
             "limbs": [[index[(g["component"], p)], index[(g["component"], q)]] for p, q in g["limbs"]]}
            for g in spec["groups"]]
    xy, conf = fixture_pose()
    conf[point("reduced", "LEFT_HAND_LANDMARKS", "INDEX_FINGER_TIP")] = 0.3
    cases = [(256, list(BOX), [0, 0, 0]), (512, [20.5, -10.0, 480.0], [255, 200, 200])]
    (tmp_path / "input.json").write_text(json.dumps({
        "plan": plan, "xy": xy.ravel().tolist(), "conf": conf.tolist(), "threshold": spec["confidence"]["threshold"],
        "cases": [{"size": s, "box": b, "background": bg, "widths": {k: spec["widths"][k][str(s)] for k in spec["widths"]}}
                  for s, b, bg in cases]}))
    (tmp_path / "run.mjs").write_text(code + """
import fs from "fs";
const input = JSON.parse(fs.readFileSync(process.argv[2]));
const out = input.cases.map((c) => Buffer.from(rasterize(input.plan, input.xy, input.conf, c.size, c.box,
  c.background, c.widths, input.threshold)).toString("base64"));
fs.writeFileSync(process.argv[3], JSON.stringify(out));
""")
    subprocess.run(["node", str(tmp_path / "run.mjs"), str(tmp_path / "input.json"), str(tmp_path / "out.json")],
                   check=True, timeout=60)
    for (size, box, bg), data in zip(cases, json.loads((tmp_path / "out.json").read_text())):
        rgba = np.frombuffer(base64.b64decode(data), np.uint8).reshape(size, size, 4)
        assert np.array_equal(rgba[..., :3], draw_skeleton(xy, conf, size=size, box=box, background=bg))
