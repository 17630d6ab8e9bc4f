"""Retargeting onto the trained person's body (posevideo.pose.retarget), on the CPU: the body
profile, bone lengths, contacts, upright, missing parts, and where `render` uses it."""
from __future__ import annotations

import ast
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from posevideo.errors import InputError
from posevideo.pose import (BodyProfile, NormStats, arrays, body_profile, point_groups, point_index, read_pose,
                            retarget_pose, to_layout)
from posevideo.pose.retarget import HAND_BONES, HEAD_SLACK

ROOT = Path(__file__).resolve().parents[1]
FPS = 15
G = point_groups("reduced")
FACE = G["face"]
CHIN = point_index("reduced", "FACE_LANDMARKS", 152)
BODY = {f"{s}_{j}": point_index("reduced", "POSE_LANDMARKS", f"{s.upper()}_{j.upper()}")
        for s in ("left", "right") for j in ("shoulder", "elbow", "wrist", "hip")}
RIGHT_HAND = G["right_hand"]
INDEX_TIP = RIGHT_HAND[8]


@pytest.fixture(scope="module")
def speaker(tmp_path_factory):
    """8 s of synthetic speaker 0 (the shipped renderer's person) at 15 fps: reduced xy (120, 178, 2)
    pixels of a 256x256 video, conf."""
    from posevideo.synthetic import synth_speaker
    paths = synth_speaker(0, 8, tmp_path_factory.mktemp("speaker"), fps=FPS)
    return arrays(to_layout(read_pose(paths["pose"]), "reduced"))


@pytest.fixture(scope="module")
def profile(speaker):
    return body_profile(*speaker)


def _normalized(xy, conf):
    """Each frame in its own shoulder widths around its shoulder midpoint (the profile's units)."""
    from posevideo.pose import normalize
    return normalize(xy, conf, "reduced", per_frame=True)[0]


def _other_person(profile: BodyProfile) -> BodyProfile:
    """Proportions like the real signers in ../shared/real: longer forearms, shorter upper arms,
    bigger hands, a shorter torso, a face higher and smaller."""
    face = profile.face
    centre = face.mean(axis=0)
    return dataclasses.replace(
        profile, upper_arm={s: v * 0.9 for s, v in profile.upper_arm.items()},
        forearm={s: v * 1.5 for s, v in profile.forearm.items()},
        hand_bones={s: v * 1.3 for s, v in profile.hand_bones.items()}, torso=profile.torso * 0.88,
        hips=profile.hips * [1.0, 0.88],
        face=(face - centre) * 0.8 + centre + [0.0, -0.15], face_size=profile.face_size * 0.8)


def test_profile_of_the_synthetic_speaker(profile):
    # posevideo.synthetic.motion: hips 1.6 below the shoulder line and 0.68 apart, in shoulder widths.
    assert profile.torso == pytest.approx(1.6, abs=0.05) and profile.hip_width == pytest.approx(0.68, abs=0.03)
    for side in ("left", "right"):
        assert 0.6 < profile.upper_arm[side] < 1.0 and 0.25 < profile.forearm[side] < 0.6
        assert profile.hand_bones[side].shape == (20,) and (profile.hand_bones[side] > 0).all()
        shape = profile.hand_shape[side]
        assert shape.shape == (21, 2) and np.allclose(shape[0], 0)
        assert shape[12, 0] > 0.1  # the middle fingertip lies ahead of the wrist along the forearm
    assert profile.face.shape == (128, 2) and profile.face[:, 1].max() < 0  # the face above the shoulders
    assert profile.hips.shape == (2, 2) and profile.hips[0, 0] > 0 > profile.hips[1, 0]  # left hip at +x
    assert profile.frames == 120
    assert np.array_equal(profile.opacity, np.ones(8))  # the drawn speaker's joints are all sure


def test_drawn_body_joints_get_the_targets_usual_opacity(speaker, profile):
    """A real recording's half-sure hips and elbows drew a faint torso (the renderer, which only saw
    sure joints, filled it with holes): in `full` each drawn body joint takes the target's usual
    confidence; `place` keeps the input's. Joints under the drawing threshold stay undrawn."""
    from posevideo.pose.retarget import DRAWN
    from posevideo.skeleton import load_spec
    assert DRAWN == load_spec()["confidence"]["threshold"]
    xy, conf = speaker
    conf = conf.copy()
    hips = [BODY["left_hip"], BODY["right_hip"]]
    conf[:, hips] = 0.5
    conf[:, BODY["left_elbow"]] = 0.75
    conf[:10, BODY["right_wrist"]] = 0.05
    measured = body_profile(xy, conf)
    assert measured.opacity[hips] == pytest.approx([0.5, 0.5]) and measured.opacity[BODY["left_elbow"]] == pytest.approx(0.75)
    _, out_conf, _ = retarget_pose(xy, conf, profile, mode="full", fps=FPS)
    assert (out_conf[:, :8][conf[:, :8] >= DRAWN] == 1).all()
    assert np.array_equal(out_conf[:10, BODY["right_wrist"]], conf[:10, BODY["right_wrist"]])
    _, onto_real, _ = retarget_pose(xy, speaker[1], measured, mode="full", fps=FPS)  # a person with faint hips
    assert (onto_real[:, hips] == 0.5).all() and (onto_real[:, BODY["left_shoulder"]] == 1).all()
    _, placed, _ = retarget_pose(xy, conf, profile, mode="place", fps=FPS)
    assert np.array_equal(placed, conf)
    old = BodyProfile.from_dict({k: v for k, v in profile.to_dict().items() if k != "opacity"})
    assert old.opacity is None
    assert np.array_equal(retarget_pose(xy, conf, old, mode="full", fps=FPS)[1], out_conf)


def test_profile_round_trips_through_json(profile, speaker):
    again = BodyProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    for field in ("upper_arm", "forearm", "hand_bones", "hand_shape"):
        for side in ("left", "right"):
            assert np.allclose(getattr(again, field)[side], getattr(profile, field)[side], atol=1e-6)
    assert np.allclose(again.face, profile.face, atol=1e-6) and np.allclose(again.hips, profile.hips, atol=1e-6)
    assert again.torso == pytest.approx(profile.torso, abs=1e-6) and again.frames == profile.frames
    # Parts never seen stay None through JSON.
    xy, conf = speaker
    conf = conf.copy()
    conf[:, G["left_hand"]] = 0
    conf[:, FACE] = 0
    blind = BodyProfile.from_dict(json.loads(json.dumps(body_profile(xy, conf).to_dict())))
    assert blind.hand_bones["left"] is None and blind.face is None and blind.face_size is None
    assert blind.hand_bones["right"] is not None


def test_onto_its_own_profile_changes_little(speaker, profile):
    """The speaker onto its own body: each frame as it was about its own shoulders (`full` holds the
    shoulders in one place, so it is compared with each frame normalized by its own)."""
    xy, conf = speaker
    full, _, notes = retarget_pose(xy, conf, profile, mode="full", fps=FPS)
    moved = np.linalg.norm(full - _normalized(xy, conf), axis=-1)[conf > 0]  # shoulder widths
    assert moved.mean() < 0.01 and np.percentile(moved, 99) < 0.05
    assert not any("turned" in n for n in notes)


def test_onto_other_proportions_gives_the_targets_bone_lengths(speaker, profile):
    xy, conf = speaker
    other = _other_person(profile)
    out, out_conf, _ = retarget_pose(xy, conf, other, mode="full", fps=FPS)
    got = body_profile(out, out_conf)
    for side in ("left", "right"):
        assert got.upper_arm[side] == pytest.approx(other.upper_arm[side], rel=1e-3)
        assert got.forearm[side] == pytest.approx(other.forearm[side], rel=1e-3)
        assert np.allclose(got.hand_bones[side], other.hand_bones[side], rtol=1e-3)
    # The hips are the target's in every frame: the torso is as long as theirs in all of them.
    assert got.torso == pytest.approx(np.linalg.norm(other.hips.mean(axis=0)), rel=1e-3)
    assert got.face_size == pytest.approx(other.face_size, rel=0.02)
    assert np.abs(got.face.mean(0) - other.face.mean(0)).max() < 0.01  # the face where the target's sits
    # ... and the shoulders are in one place in every frame (a fixed body position), the mean of
    # those `place` moves as the input's.
    place, _, _ = retarget_pose(xy, conf, other, mode="place", fps=FPS)
    shoulders = [BODY["left_shoulder"], BODY["right_shoulder"]]
    assert np.allclose(out[:, shoulders], [[0.5, 0.0], [-0.5, 0.0]], atol=1e-5)
    assert np.allclose(place[:, shoulders].mean(axis=0), [[0.5, 0.0], [-0.5, 0.0]], atol=0.02)


def test_full_holds_the_body_in_one_place_while_place_follows_the_sway(speaker, profile):
    """A fixed body position: the renderer saw its person's shoulders within 0.016 shoulder widths of
    one place in every crop, and a real person swaying by 0.2 left them off it, where it painted a
    hole through the torso. `full` puts every frame's shoulders at the input's mean shoulders (the
    shoulder line still tilts as the input's); `place` moves them with the input."""
    xy, conf = speaker
    T = len(xy)
    sw = np.median(np.linalg.norm(xy[:, BODY["left_shoulder"]] - xy[:, BODY["right_shoulder"]], axis=-1))
    sway = np.stack([0.3 * sw * np.sin(np.arange(T) / 5), 0.1 * sw * np.cos(np.arange(T) / 7)], -1)
    swaying = xy + sway[:, None] * (conf[..., None] > 0)
    stats = NormStats(np.array([128.0, 107.0]), 85.0)
    shoulders = [BODY["left_shoulder"], BODY["right_shoulder"]]
    full, _, _ = retarget_pose(swaying, conf, profile, stats, mode="full", fps=FPS)
    place, _, _ = retarget_pose(swaying, conf, profile, stats, mode="place", fps=FPS)
    mid = full[:, shoulders].mean(axis=1)
    assert np.abs(mid - mid.mean(axis=0)).max() < 1e-3 and np.allclose(mid.mean(axis=0), [128, 107], atol=0.5)
    width = np.linalg.norm(full[:, shoulders[0]] - full[:, shoulders[1]], axis=-1)
    assert np.allclose(width, 85.0, atol=1e-3)
    moving = place[:, shoulders].mean(axis=1)
    assert np.ptp(moving[:, 0]) > 0.5 * 85 and np.ptp(moving[:, 1]) > 0.15 * 85  # 0.6 and 0.2 shoulder widths of sway
    # The tilt of the shoulder line is the input's.
    tilt = lambda p: np.arctan2(*(p[:, shoulders[0]] - p[:, shoulders[1]])[:, ::-1].T)
    assert np.allclose(tilt(full), tilt(swaying), atol=1e-4)


def _ik(shoulder, wrist, l1, l2, elbow_side):
    """Elbow for a wanted wrist (all (2,)): the test's own two-bone solve."""
    v = wrist - shoulder
    d = np.linalg.norm(v)
    a = (l1 ** 2 - l2 ** 2 + d ** 2) / (2 * d)
    h = np.sqrt(max(l1 ** 2 - a ** 2, 0))
    u = v / d
    return shoulder + a * u + elbow_side * h * np.array([-u[1], u[0]])


def test_a_hand_at_the_chin_stays_at_the_targets_chin(speaker, profile):
    """The bug FINDINGS.md names: joint angles at the target's bone lengths moved a hand signed at the
    chin down to the shoulder. Here another person (longer forearms, a higher, smaller face) touches
    the chin with the right index fingertip; on the target the fingertip must be at its chin."""
    xy, conf = speaker
    other = _other_person(profile)
    signer, signer_conf, _ = retarget_pose(xy, conf, other, mode="full", fps=FPS)  # (T, 178, 2) normalized
    signer = signer.astype(np.float64)
    touching = np.arange(40, 60)
    for t in touching:
        sh, el, wr = (signer[t, BODY[f"right_{j}"]] for j in ("shoulder", "elbow", "wrist"))
        l1, l2 = np.linalg.norm(el - sh), np.linalg.norm(wr - el)
        # Turn the hand so the index finger points up and inward, its tip on the chin.
        hand = signer[t, RIGHT_HAND] - signer[t, RIGHT_HAND[0]]
        now, want = hand[8] / np.linalg.norm(hand[8]), np.array([0.5, -1.0]) / np.hypot(0.5, 1.0)
        c, s = now @ want, now[0] * want[1] - now[1] * want[0]
        hand = hand @ np.array([[c, -s], [s, c]]).T
        signer[t, RIGHT_HAND] = signer[t, CHIN] - hand[8] + hand
        signer[t, BODY["right_wrist"]] = signer[t, RIGHT_HAND[0]]
        signer[t, BODY["right_elbow"]] = _ik(sh, signer[t, RIGHT_HAND[0]], l1, l2, -1.0)
    assert np.allclose(signer[touching, INDEX_TIP], signer[touching, CHIN])
    full, _, _ = retarget_pose(signer, signer_conf, profile, mode="full", fps=FPS)
    place, _, _ = retarget_pose(signer, signer_conf, profile, mode="place", fps=FPS)
    mid = (full[touching, BODY["left_shoulder"]] + full[touching, BODY["right_shoulder"]]) / 2
    chin = full[touching, CHIN]
    assert np.abs(chin - mid - profile.face[FACE.index(CHIN)]).max() < 0.06  # the target's chin (+ head motion)
    gap = np.linalg.norm(full[touching, INDEX_TIP] - chin, axis=-1)  # shoulder widths
    assert gap.max() < 0.02, gap
    # Placed by the shoulders alone, the fingertip stays at the other person's chin, above the target's.
    assert np.linalg.norm(place[touching, INDEX_TIP] - chin, axis=-1).min() > 0.08


def test_a_rotated_recording_is_turned_upright_with_a_note(speaker, profile):
    xy, conf = speaker
    upright_out, _, notes = retarget_pose(xy, conf, profile, mode="full", fps=FPS)
    assert not any("turned" in n for n in notes)
    for degrees in (90, 180):
        a = np.radians(degrees)
        turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        turned = (xy - 128) @ turn.T + 300
        out, _, notes = retarget_pose(turned, conf, profile, mode="full", fps=FPS)
        assert any("turned upright" in n for n in notes), notes
        if degrees == 180:
            assert any("upside down" in n for n in notes), notes
        # Upright again: the shoulder line level, the face above it, close to the original's result.
        line = out[:, BODY["left_shoulder"]] - out[:, BODY["right_shoulder"]]
        assert np.degrees(np.abs(np.median(np.arctan2(line[:, 1], line[:, 0])))) < 5
        assert np.median(out[:, FACE, 1]) < np.median(out[:, BODY["left_shoulder"], 1])
        assert np.median(np.linalg.norm(out - upright_out, axis=-1)[conf > 0]) < 0.05


def test_missing_hips_and_face_come_from_the_target(speaker, profile):
    xy, conf = speaker
    conf = conf.copy()
    conf[:60, [BODY["left_hip"], BODY["right_hip"]]] = 0
    conf[30:50, FACE] = 0
    conf[:, G["left_hand"]] = 0
    out, out_conf, notes = retarget_pose(xy, conf, profile, mode="full", fps=FPS)
    assert (out_conf[:60, [BODY["left_hip"], BODY["right_hip"]]] > 0).all()
    assert (out_conf[30:50][:, FACE] > 0).all()
    mid = (out[:, BODY["left_shoulder"]] + out[:, BODY["right_shoulder"]]) / 2
    assert np.allclose(out[:, BODY["left_hip"]] - mid, profile.hips[0], atol=1e-5)  # seen or not: the target's
    face = out[30:50][:, FACE] - ((out[30:50, BODY["left_shoulder"]] + out[30:50, BODY["right_shoulder"]]) / 2)[:, None]
    assert np.abs(face - profile.face).max() < 0.05
    assert (out_conf[:, G["left_hand"]] == 0).all()  # a lost hand stays lost here (rest_hands fills it)
    text = " ".join(notes)
    assert "no face in 20 of 120" in text
    assert "left hand not seen in 120 of 120" in text


def _head_on_the_shoulder(xy, conf, frames=slice(40, 70), by=0.3, tilt=40.0):
    """The speaker's face moved `by` shoulder widths towards its left shoulder and down, and turned
    `tilt` degrees that way, in `frames` (a woman leaning her head onto her shoulder, as
    ../shared/real/talking_woman.mp4 does)."""
    xy = xy.copy()
    sh = xy[:, BODY["left_shoulder"]] - xy[:, BODY["right_shoulder"]]
    toward = sh + [0.0, 0.5 * np.linalg.norm(sh, axis=-1).mean()]
    face = xy[frames][:, FACE]
    centre = face.mean(axis=1, keepdims=True)
    a = np.radians(tilt)  # image axes (y down): positive turns the top of the head towards +x, the left shoulder
    face = (face - centre) @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]]) + centre
    xy[frames, FACE] = face + (toward[frames] / np.linalg.norm(toward[frames], axis=-1, keepdims=True)
                               * np.linalg.norm(sh[frames], axis=-1, keepdims=True) * by)[:, None]
    return xy


def test_a_head_far_from_its_usual_place_is_eased_into_the_targets_reach(speaker, profile):
    """The renderer has seen the face only where its own person's head goes and as far as it tilts
    (head_reach, head_tilt: 0.07 shoulder widths and 5 degrees for the synthetic speaker), and a
    tilted face put on the shoulder came out a smear. A head moved or tilted further is drawn at most
    HEAD_SLACK times the target's reach from its usual place, the same way, with notes; frames
    within the reach are as before; a profile without a reach keeps the move and the tilt."""
    xy, conf = speaker
    assert 0.03 < profile.head_reach < 0.12 and 1 < profile.head_tilt < 10
    leaning = _head_on_the_shoulder(xy, conf)
    before, _, _ = retarget_pose(xy, conf, profile, mode="full", fps=FPS)
    out, _, notes = retarget_pose(leaning, conf, profile, mode="full", fps=FPS)

    def head_move(pose):
        mid = (pose[:, BODY["left_shoulder"]] + pose[:, BODY["right_shoulder"]]) / 2
        return pose[:, FACE].mean(axis=1) - mid - profile.face.mean(axis=0)

    def head_tilt(pose):  # degrees from the mean face's
        from posevideo.pose.retarget import _head_pose
        mid = (pose[:, BODY["left_shoulder"]] + pose[:, BODY["right_shoulder"]]) / 2
        X = pose[:, FACE] - mid[:, None]
        return np.degrees(np.angle(_head_pose(X[..., 0] + 1j * X[..., 1], profile.face)[1][:, 0]))
    placed = retarget_pose(leaning, conf, None, mode="place", fps=FPS)[0]
    move = np.linalg.norm(head_move(out), axis=-1)
    tilt, lean_tilt = head_tilt(out)[40:70], head_tilt(placed)[40:70]
    assert (np.sign(tilt) == np.sign(lean_tilt)).all() and np.abs(lean_tilt).min() > 35
    # (+0.2 degrees: the expression carried over turns the fit a little)
    assert np.abs(tilt).max() <= HEAD_SLACK * profile.head_tilt + 0.2 and np.abs(tilt).min() > profile.head_tilt
    assert move[40:70].max() <= HEAD_SLACK * profile.head_reach + 1e-6 and move[40:70].min() > profile.head_reach
    lean = head_move(placed)[40:70]
    assert (np.sum(head_move(out)[40:70] * lean, axis=-1) > 0).all()  # the same way as the input leant
    # Elsewhere as before, but for the input's own mean face, which the leaning frames move a little.
    assert np.abs(out[:35] - before[:35]).max() < 0.02 and np.abs(out[75:] - before[75:]).max() < 0.02
    for what in ("head moves further from its usual place", "head tilts further"):
        noted = [n for n in notes if what in n]
        # The 30 leaning frames, and a few of its own beyond its 99th percentile (and the moved mean face).
        assert len(noted) == 1 and 30 <= int(re.search(r"in (\d+) of 120 frames", noted[0]).group(1)) <= 36, notes
        assert "drawn at most" in noted[0]
    unlimited = dataclasses.replace(profile, head_reach=None, head_tilt=None)
    free, _, free_notes = retarget_pose(_head_on_the_shoulder(xy, conf), conf, unlimited, mode="full", fps=FPS)
    assert np.linalg.norm(head_move(free), axis=-1)[40:70].min() > 0.25 and np.abs(head_tilt(free)[40:70]).min() > 35
    assert not any("the head" in n for n in free_notes)
    old = BodyProfile.from_dict({k: v for k, v in profile.to_dict().items() if k not in ("head_reach", "head_tilt")})
    assert old.head_reach is None and old.head_tilt is None


def test_an_arm_lost_below_the_picture_hangs_at_the_targets_lengths(speaker, profile):
    """A head-and-shoulders shot: the right wrist under the drawing threshold (MediaPipe still guesses
    it, at visibility ~0.05) and no right hand in frames 20-50. The forearm is drawn hanging straight
    down from the elbow at the target's forearm length, with a note, so the renderer gets a whole arm
    and not a stump; frames with the wrist seen keep the input's forearm, and the first and last 3
    frames of the run (0.2 s at 15 fps) go there step by step from the wrist MediaPipe guessed, below
    the elbow. A wrist guessed above its elbow is a raised hand lost in front of the body, not below
    the picture: left alone. With the elbow lost too (left arm, frames 60-80) the whole arm hangs
    from the shoulder."""
    from posevideo.pose.retarget import DRAWN
    xy, conf = speaker
    xy, lost = xy.copy(), conf.copy()
    elbow, wrist = BODY["right_elbow"], BODY["right_wrist"]
    xy[20:50, wrist] = xy[20:50, elbow] + [8.0, 40.0]                   # MediaPipe's guess, low
    lost[20:50, wrist] = 0.05
    lost[20:50, G["right_hand"]] = 0
    out, out_conf, notes = retarget_pose(xy, lost, profile, mode="full", fps=FPS)
    width = np.linalg.norm(out[:, BODY["left_shoulder"]] - out[:, BODY["right_shoulder"]], axis=-1)
    forearm = (out[:, BODY["right_wrist"]] - out[:, BODY["right_elbow"]]) / width[:, None]
    assert (out_conf[20:50, BODY["right_wrist"]] >= DRAWN).all()
    assert np.abs(forearm[23:47, 0]).max() < 1e-4                      # straight down
    assert np.allclose(forearm[23:47, 1], profile.forearm["right"], rtol=1e-3)
    off = np.linalg.norm(forearm - [0.0, profile.forearm["right"]], axis=-1)  # from hanging
    assert off[19] > off[20] > off[21] > off[22] > off[23] and off[50] > off[49] > off[48] > off[47] > off[46]
    assert (out_conf[20:50][:, G["right_hand"]] == 0).all()              # the hand is rest_hands' to draw
    assert np.abs(forearm[:20, 0]).max() > 0.05                          # the input's own forearm elsewhere
    assert "right forearm not seen in 30 of 120 frames" in " ".join(notes)
    raised = xy.copy()
    raised[30:40, wrist] = raised[30:40, elbow] - [0.0, 40.0]          # guessed above the elbow
    _, raised_conf, notes = retarget_pose(raised, lost, profile, mode="full", fps=FPS)
    assert "right forearm not seen in 20 of 120 frames" in " ".join(notes)
    assert (raised_conf[30:40, wrist] < DRAWN).all() and (raised_conf[20:30, wrist] >= DRAWN).all()
    unguessed = lost.copy()
    unguessed[20:50, BODY["right_wrist"]] = 0                          # no guess to start from: hung at once
    out, _, _ = retarget_pose(xy, unguessed, profile, mode="full", fps=FPS)
    forearm = (out[20:50, BODY["right_wrist"]] - out[20:50, BODY["right_elbow"]]) / width[20:50, None]
    assert np.abs(forearm[:, 0]).max() < 1e-4 and np.allclose(forearm[:, 1], profile.forearm["right"], rtol=1e-3)
    _, _, notes = retarget_pose(xy, conf, profile, mode="full", fps=FPS)
    assert not any("forearm" in n or "arm not seen" in n for n in notes)
    lost[60:80, [BODY["left_elbow"], BODY["left_wrist"]]] = 0.03
    lost[60:80, G["left_hand"]] = 0
    out, out_conf, notes = retarget_pose(xy, lost, profile, mode="full", fps=FPS)
    width = np.linalg.norm(out[:, BODY["left_shoulder"]] - out[:, BODY["right_shoulder"]], axis=-1)[60:80, None]
    upper = (out[60:80, BODY["left_elbow"]] - out[60:80, BODY["left_shoulder"]]) / width
    lower = (out[60:80, BODY["left_wrist"]] - out[60:80, BODY["left_elbow"]]) / width
    assert (out_conf[60:80][:, [BODY["left_elbow"], BODY["left_wrist"]]] >= DRAWN).all()
    assert np.abs(upper[3:17, 0]).max() < 1e-4 and np.allclose(upper[3:17, 1], profile.upper_arm["left"], rtol=1e-3)
    assert np.abs(lower[3:17, 0]).max() < 1e-4 and np.allclose(lower[3:17, 1], profile.forearm["left"], rtol=1e-3)
    assert "left arm not seen in 20 of 120 frames: hung from the shoulder" in " ".join(notes)
    lost[20:50, G["right_hand"][:5]] = conf[20:50, G["right_hand"][:5]]  # a hand seen without its wrist
    _, _, notes = retarget_pose(xy, lost, profile, mode="full", fps=FPS)
    assert not any("forearm" in n for n in notes)


def test_the_hips_are_the_targets_in_every_frame_seen_or_not(speaker, profile):
    """`full` draws the target's hips under the shoulders in every frame. MediaPipe places hips it
    cannot see (a seated woman, a close shot) at visibility 0.002-0.07; the skeleton would leave them
    out, a torso without sides that the renderer painted with holes (../shared/real/writing_woman.mp4),
    so those are drawn at the target's hips at its opacity. Seen hips that lean or bend (a dancer)
    came out as a ragged hem and dark streaks under the body: the renderer's person never moves its
    hips. The input's own hips, seen, still measure its torso (for the chest and belly hands touch)."""
    from posevideo.pose.retarget import DRAWN, Retargeting
    xy, conf = speaker
    conf = conf.copy()
    hips = [BODY["left_hip"], BODY["right_hip"]]
    guessed = xy.copy()
    guessed[:, hips] += [0.0, -40.0]                               # guessed far too high
    conf[:, hips] = 0.01
    out, out_conf, notes = retarget_pose(guessed, conf, profile, mode="full", fps=FPS)
    assert (out_conf[:, hips] >= DRAWN).all()                     # drawn now
    mid = (out[:, BODY["left_shoulder"]] + out[:, BODY["right_shoulder"]]) / 2
    assert np.allclose(out[:, BODY["left_hip"]] - mid, profile.hips[0], atol=1e-5)
    assert body_profile(guessed, conf).torso is None
    leaning = xy.copy()
    leaning[:, hips] += [30.0, -20.0]                              # seen, leaning and short
    out, out_conf, _ = retarget_pose(leaning, speaker[1], profile, mode="full", fps=FPS)
    mid = (out[:, BODY["left_shoulder"]] + out[:, BODY["right_shoulder"]]) / 2
    assert np.allclose(out[:, hips] - mid[:, None], profile.hips, atol=1e-5)
    assert body_profile(leaning, speaker[1]).torso is not None
    assert Retargeting(leaning, speaker[1], profile, mode="full", fps=FPS).held == hips
    assert Retargeting(leaning, speaker[1], profile, mode="place", fps=FPS).held == []
    place, _, _ = retarget_pose(leaning, speaker[1], profile, mode="place", fps=FPS)  # `place` keeps them
    assert not np.allclose(place[:, hips] - place[:, [BODY["left_shoulder"], BODY["right_shoulder"]]].mean(1)[:, None],
                           profile.hips, atol=0.05)


def test_place_and_none_modes(speaker, profile):
    xy, conf = speaker
    from posevideo.pose import place_by_shoulders
    target = NormStats(center=np.array([500.0, 300.0]), scale=80.0)
    placed, _, notes = retarget_pose(xy, conf, profile, target, mode="place", fps=FPS)
    assert np.allclose(placed[conf > 0], place_by_shoulders(xy, conf, "reduced", target)[conf > 0], atol=1e-3) and notes == []
    same, same_conf, notes = retarget_pose(xy, conf, profile, target, mode="none")
    assert np.array_equal(same, xy) and np.array_equal(same_conf, conf) and notes == []


def test_contacts_in_threads_give_the_same_pose(speaker, profile, monkeypatch):
    """The contact search runs its frame chunks in threads: the result is the one-thread result,
    exactly (regression guard for the render path's speed-up)."""
    import posevideo.pose.retarget as retarget
    xy, conf = speaker
    xy, conf = np.concatenate([xy] * 5), np.concatenate([conf] * 5)       # 600 frames: 3 chunks of 256
    other = _other_person(profile)
    results = []
    for cores in (1, 8):
        monkeypatch.setattr(retarget.os, "cpu_count", lambda: cores)
        results.append(retarget_pose(xy, conf, other, mode="full", fps=FPS))
    assert np.array_equal(results[0][0], results[1][0]) and np.array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("mode", ["full", "place", "none"])
def test_placing_in_runs_of_frames_gives_what_placing_all_at_once_gives(speaker, mode):
    """`Placement.frames` (how `render` places a long pose: batch by batch, in threads, ahead of the
    drawing) over runs of 1, 7 and 32 frames taken in shuffled order: the same xy, conf and boxes as
    `place` all at once, bit for bit. What crosses run boundaries is on the pose: a left arm whose
    elbow is never seen (its bend side comes from the first frame), the elbows' bend smoothed over
    time, hands lost for a while (hands at rest scaled by the sequence's mean shoulder width, a
    shoulder missing in some frames), hips out of view, no face for a while, the boxes' smoothing."""
    from posevideo.renderer.predict import DEFAULT_RENDERER, Placement, place
    stats = json.loads((DEFAULT_RENDERER / "checkpoint.json").read_text())["stats"]
    xy, conf = speaker
    conf = conf.copy()
    conf[:, BODY["left_elbow"]] = 0
    conf[10:40][:, RIGHT_HAND] = 0
    conf[::9, BODY["right_shoulder"]] = 0
    conf[50:70][:, [BODY["left_hip"], BODY["right_hip"]]] = 0
    conf[80:90][:, FACE] = 0
    want_xy, want_conf, want_boxes, want_notes = place(xy, conf, FPS, stats, retarget=mode)
    rng = np.random.default_rng(0)
    for run in (1, 7, 32):
        placing = Placement(xy, conf, FPS, stats, retarget=mode)
        got_xy, got_conf = np.full_like(want_xy, np.nan), np.full_like(want_conf, np.nan)
        for start in rng.permutation(np.arange(0, len(xy), run)):
            got_xy[start:start + run], got_conf[start:start + run] = placing.frames(start, min(start + run, len(xy)))
        assert np.array_equal(got_xy, want_xy) and np.array_equal(got_conf, want_conf)
        assert np.array_equal(placing.boxes, want_boxes) and placing.notes == want_notes
    if mode == "full":
        assert np.ndim(placing.retargeting.bend["left"]) == 0 and np.ndim(placing.retargeting.bend["right"]) == 1
        assert placing.retargeting.held == [BODY["left_hip"], BODY["right_hip"]]
        assert any("right hand not seen" in n for n in want_notes)


def test_the_elbow_never_flips_on_a_near_straight_arm(speaker, profile):
    """A near-straight arm whose elbow jitters across the shoulder-wrist line: the solved elbow keeps
    one side, so it moves smoothly."""
    xy, conf = speaker
    P = _normalized(xy, conf).astype(np.float64)
    rng = np.random.default_rng(0)
    sh = P[:, BODY["left_shoulder"]]
    wrist = sh + [0.3, 1.05]
    along = (wrist - sh) / np.linalg.norm(wrist - sh, axis=-1, keepdims=True)
    across = np.stack([-along[:, 1], along[:, 0]], -1)
    P[:, BODY["left_wrist"]] = wrist
    P[:, BODY["left_elbow"]] = sh + 0.55 * (wrist - sh) + rng.normal(0, 0.02, (len(P), 1)) * across
    P[:, G["left_hand"]] += (wrist - P[:, G["left_hand"][0]])[:, None]
    out, _, _ = retarget_pose(P, conf, profile, mode="full", fps=FPS)
    el, s, w = out[:, BODY["left_elbow"]], out[:, BODY["left_shoulder"]], out[:, BODY["left_wrist"]]
    a, b = w - s, el - s
    side = np.sign(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
    assert len(set(side[np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]) > 1e-6])) == 1
    assert np.abs(np.diff(el, axis=0)).max() < 0.1


def test_render_placement_uses_the_profile_and_falls_back_without_one(speaker):
    from posevideo.renderer.predict import DEFAULT_RENDERER, place
    stats = json.loads((DEFAULT_RENDERER / "checkpoint.json").read_text())["stats"]
    assert stats["profile"]["frames"] > 0  # the shipped renderer carries its person's profile
    xy, conf = speaker
    full, full_conf, boxes, notes = place(xy, conf, FPS, stats, retarget="full")
    assert full.shape == xy.shape and boxes.shape == (len(xy), 3) and not any("no body profile" in n for n in notes)
    old = {k: v for k, v in stats.items() if k != "profile"}
    fallback, _, _, notes = place(xy, conf, FPS, old, retarget="full")
    placed, _, _, _ = place(xy, conf, FPS, stats, retarget="place")
    assert any("no body profile" in n for n in notes) and np.allclose(fallback, placed)
    kept, _, _, _ = place(xy, conf, FPS, stats, retarget="none", frame_size=(256, 256))
    seen = conf > 0
    assert np.allclose(kept[seen], xy[seen])


def test_rest_hand_is_stored_in_the_pose_core_and_equals_its_source():
    from posevideo.pose.rest import measure_rest_hands, rest_hand_shapes
    source = ROOT / "posevideo" / "models" / "gestures" / "checkpoint.json"
    if not source.exists():
        pytest.skip("the shipped gesture model is not in this checkout")
    measured, stored = measure_rest_hands(source), rest_hand_shapes()
    for side in ("left", "right"):
        assert np.allclose(stored[side], measured[side], atol=1e-6)


def test_retarget_imports_nothing_above_the_pose_core():
    tree = ast.parse((ROOT / "posevideo" / "pose" / "retarget.py").read_text())
    names = [a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names]
    names += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    for name in names:
        top = name.split(".")[0]
        assert top in ("__future__", "dataclasses", "os", "concurrent", "numpy", "scipy") or name.startswith(
            ("posevideo.pose.", "posevideo.errors")), name
    # And at run time: importing it (and so the pose core) loads nothing from the layers above.
    code = ("import sys, posevideo.pose.retarget; print(sorted(m for m in sys.modules if m.startswith(("
            "'posevideo.data', 'posevideo.renderer', 'posevideo.gestures', 'posevideo.training', 'posevideo.models'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "[]"


def test_hand_bones_are_a_tree_of_the_mediapipe_fingers():
    assert len(HAND_BONES) == 20 and sorted(c for _, c in HAND_BONES) == list(range(1, 21))
    assert all(a < c for a, c in HAND_BONES)


def test_a_renderer_bank_carries_its_persons_profile(tmp_path):
    """`bank_from_data` measures the profile on the split's poses, and a packed bank keeps it (so
    every renderer trained from a bank has `meta["stats"]["profile"]`)."""
    from click.testing import CliRunner
    from posevideo.cli import cli
    from posevideo.renderer.data import bank_from_data, read_bank, write_bank
    from posevideo.synthetic import synth_speaker
    paths = synth_speaker(0, 12, tmp_path / "syn", fps=FPS)
    result = CliRunner().invoke(cli, ["prepare", str(paths["video"]), "--speaker", "s", "--data", str(tmp_path / "DATA"),
                                      "--poses-from", str(tmp_path / "syn"), "--size", "32", "--min-seconds", "2"])
    assert result.exit_code == 0, result.output
    bank = bank_from_data(tmp_path / "DATA", "s", 32, split="train")
    profile = BodyProfile.from_dict(bank.stats["profile"])
    assert profile.frames == len(bank.skeletons)
    assert profile.torso == pytest.approx(1.6, abs=0.06) and profile.face.shape == (128, 2)
    packed = read_bank(write_bank({"train": bank}, tmp_path / "bank"), "train")
    assert packed.stats["profile"] == json.loads(json.dumps(bank.stats["profile"]))
    # The drawn poses travel as float16 (a 12k-frame bank must fit a GPU carry) and come back float32.
    with np.load(tmp_path / "bank" / "train.meta.npz") as npz:
        assert npz["pose_xy"].dtype == np.float16 and npz["clip"].dtype == np.int32
    assert packed.meta["pose_xy"].dtype == np.float32 and packed.meta["pose_conf"].dtype == np.float32
    np.testing.assert_allclose(packed.meta["pose_xy"], bank.meta["pose_xy"], atol=32 / 2 ** 11)
    np.testing.assert_allclose(packed.meta["pose_conf"], bank.meta["pose_conf"], atol=1e-3)
    np.testing.assert_array_equal(packed.meta["regions"], bank.meta["regions"])
    # A bank copied without a split's videos: one line naming the file, not numpy's "need at least one array".
    (tmp_path / "bank" / "train.frames.mp4").unlink()
    with pytest.raises(InputError, match="train.frames.mp4.*missing or holds no frames"):
        read_bank(tmp_path / "bank", "train")


NODE = """
import {retargetPose} from "./retarget.mjs";
import {readFileSync} from "node:fs";
const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = cases.map((c) => {
  const r = retargetPose(Float64Array.from(c.xy), Float32Array.from(c.conf), c.T, c.profile, c.placement, c.mode, c.fps);
  return {xy: Array.from(r.xy), conf: Array.from(r.conf), notes: r.notes};
});
console.log(JSON.stringify(out));
"""


def _folded(xy):
    """The speaker with its right hand brought up before its right shoulder in frames 40-59 and the
    elbow hanging straight below (a signer's hand at the shoulder): the forearm folded back up along
    the upper arm."""
    xy = xy.copy()
    t = slice(40, 60)
    sh = xy[t, BODY["right_shoulder"]]
    sw = np.linalg.norm(xy[t, BODY["left_shoulder"]] - sh, axis=-1)[:, None]
    wrist = sh + sw * [0.0, 0.1]
    xy[t, RIGHT_HAND] += (wrist - xy[t, BODY["right_wrist"]])[:, None]
    xy[t, BODY["right_elbow"]], xy[t, BODY["right_wrist"]] = sh + sw * [0.0, 0.9], wrist
    return xy


def _shorter_forearms(profile: BodyProfile) -> BodyProfile:
    return dataclasses.replace(profile, forearm={s: v * 0.8 for s, v in profile.forearm.items()})


def test_a_folded_arm_keeps_its_elbow_below_the_shoulder(speaker, profile):
    """A hand at the shoulder with the elbow hanging below it, onto a person whose forearm is
    shorter: the bones cannot close the triangle, and the elbow keeps the input's place below the
    shoulder (the upper arm shortened toward the camera), not swung out to a right angle, on one
    side into the torso. The wrist stays where it was asked."""
    xy, conf = speaker
    out, out_conf, _ = retarget_pose(_folded(xy), conf, _shorter_forearms(profile), None, mode="full", fps=FPS)
    rel = out - out[:, [BODY["right_shoulder"]]]                                # shoulder widths, shoulder at 0
    elbow, wrist = rel[40:60, BODY["right_elbow"]], rel[40:60, BODY["right_wrist"]]
    assert (elbow[:, 1] > 0.3).all() and (np.abs(elbow[:, 0]) < 0.1).all(), elbow
    assert np.abs(wrist - [0.0, 0.1]).max() < 0.05, wrist
    forearm = np.linalg.norm(wrist - elbow, axis=-1)
    assert (forearm <= max(_shorter_forearms(profile).forearm.values()) * 1.16).all()


def test_the_elbow_goes_to_the_side_the_input_shows():
    """Two-bone IK given a bend side, and the input's upper arm clearly on the other side of the line
    shoulder -> wrist (a contact moved the wrist across): the elbow goes where the input's was; an
    input elbow near the line, or none seen, leaves the bend side."""
    from posevideo.pose.retarget import _two_bone
    sh, wr = np.zeros((3, 2)), np.array([[0.0, 1.0]] * 3)                       # the wrist straight below
    l1, l2 = np.full(3, 0.7), np.full(3, 0.6)
    up = np.array([[-0.6, 0.8], [0.05, 1.0] / np.hypot(0.05, 1.0), [0.0, 0.0]])  # clearly to -x; near the line; unseen
    elbow, wrist = _two_bone(sh, wr, l1, l2, (0.7, 0.6), -1.0, up)               # bend side -1: toward +x here
    assert elbow[0, 0] < -0.2 and elbow[1, 0] > 0.2 and elbow[2, 0] > 0.2, elbow
    assert np.allclose(wrist, wr, atol=1e-3) and np.allclose(np.linalg.norm(elbow, axis=-1), 0.7, atol=1e-6)


def test_the_javascript_twin_gives_pythons_output(speaker, profile, tmp_path):
    """posevideo/web/retarget.js (for the page) and retarget_pose on the same poses: the same points
    to float32 rounding (1e-3 px here, at ~105 px a shoulder width), the same confidences and notes.
    Cases: another person's proportions with a hand at the chin, missing hips, face, a hand, a
    forearm and an arm; the speaker turned by 120 degrees; its head leant onto its shoulder; `place`; the speaker onto its own profile."""
    import shutil
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node on PATH")
    xy, conf = speaker
    target_dict = json.loads(json.dumps(profile.to_dict()))
    target_dict["opacity"][6:8] = [0.55, 0.6]                   # a target whose hips were half seen
    target = BodyProfile.from_dict(target_dict)
    placement = {"center": [123.66, 118.92], "scale": 104.6}
    other, other_conf, _ = retarget_pose(xy, conf, _other_person(profile), NormStats(np.array([300.0, 200.0]), 80.0),
                                         mode="full", fps=FPS)
    other_conf = other_conf.copy()
    other_conf[:30, [BODY["left_hip"], BODY["right_hip"]]] = 0
    other_conf[90:100, [BODY["left_hip"], BODY["right_hip"]]] = 0.02  # MediaPipe's hips out of view
    other_conf[50:60, FACE] = 0
    other_conf[70:, G["left_hand"]] = 0
    other_conf[:, BODY["left_elbow"]] = 0.7                      # a half-sure elbow, and one undrawn
    other_conf[40:45, BODY["right_elbow"]] = 0.05
    other_conf[20:35, BODY["right_wrist"]] = 0.04                 # a forearm lost with its hand
    other_conf[20:35, G["right_hand"]] = 0
    other_conf[100:110, [BODY["right_elbow"], BODY["right_wrist"]]] = 0.03  # and a whole arm
    other_conf[100:110, G["right_hand"]] = 0
    a = np.radians(120)
    turned = (xy - 128) @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]).T + 200
    shorter = _shorter_forearms(target)
    cases = [(other, other_conf, "full", placement, target), (turned, conf, "full", None, target),
             (_head_on_the_shoulder(xy, conf), conf, "full", placement, target),
             (other, other_conf, "place", placement, target), (xy, conf, "full", placement, target),
             (_folded(xy), conf, "full", placement, shorter)]
    payload = [{"xy": np.asarray(x, np.float64).ravel().tolist(), "conf": np.asarray(c, np.float64).ravel().tolist(),
                "T": len(x), "profile": json.loads(json.dumps(t.to_dict())), "placement": p, "mode": m, "fps": FPS}
               for x, c, m, p, t in cases]
    (tmp_path / "cases.json").write_text(json.dumps(payload))
    shutil.copy(ROOT / "posevideo" / "web" / "retarget.js", tmp_path / "retarget.mjs")
    (tmp_path / "run.mjs").write_text(NODE)
    result = subprocess.run([node, "run.mjs", "cases.json"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for (x, c, mode, p, t), js in zip(cases, json.loads(result.stdout)):
        stats = None if p is None else NormStats(np.asarray(p["center"], np.float64), p["scale"])
        py_xy, py_conf, py_notes = retarget_pose(x, c, t, stats, mode=mode, fps=FPS)
        js_xy = np.asarray(js["xy"], np.float32).reshape(py_xy.shape)
        js_conf = np.asarray(js["conf"], np.float32).reshape(py_conf.shape)
        assert np.array_equal(js_conf > 0, py_conf > 0) and np.allclose(js_conf, py_conf, atol=1e-6), mode
        unit = 1e-3 if p is not None else 1e-5  # pixels, or shoulder widths
        error = np.abs(js_xy - py_xy)[py_conf > 0].max()
        assert error < unit, (mode, error)
        assert js["notes"] == py_notes
