"""Retargeting: any person's pose -> the same motion on another person's body (the person a renderer
was trained on), before the skeleton is drawn.

A renderer only ever saw one body. Another person's pose placed by the shoulders alone (`place`)
brings that person's proportions along (a face higher and smaller than the renderer's, longer
forearms, other hands), and the renderer, far from its training data, draws holes, no neck, a tiny
face and smeared hands. `full` rebuilds the pose on the target's body:

- body: the input's shoulders (their sway and shrug); each bone keeps the input's direction and its
  length relative to the input's own length (so foreshortening stays), at the target's length.
  Sign language means things by contacts, which joint angles alone lose (a hand at the
  chin lands at the shoulder when the forearm is shorter), so each wrist is then placed relative to
  the landmark it is near (the face, the shoulders, chest and belly, the other hand) in the
  target's proportions, and the elbow is solved by two-bone inverse kinematics at the target's
  upper-arm and forearm lengths, on the side of the line shoulder -> wrist where the input's elbow
  clearly lies, else on the input's bend side (with hysteresis, so it never flips frame to frame on
  a near-straight arm). A wrist nearer the shoulder than the two bones can fold (a hand at the
  shoulder, the elbow hanging below) keeps the input's upper-arm direction, foreshortened.
- hands: each of the 20 finger bones keeps the input's direction at the target's length, rooted
  at the new wrist.
- face: the target's mean face plus the input's expression (its face minus its own mean face, after
  removing head motion), scaled by the face-size ratio, moved, turned and scaled as the input's head.
  A head that moves or tilts further than the target's does (`BodyProfile.head_reach` and
  `head_tilt`, 99th percentiles) is eased to at most HEAD_SLACK times that: a woman who leans her
  head onto her shoulder put a tilted face where the renderer had never seen one, and it painted a
  smear over the shoulder (the renderer cannot draw a head tilted further than its own person's
  anyway). Moves and tilts within the reach are kept as they are; the expression is read from the
  input's head as it is.
- missing parts: a frame without a face gets the target's mean face; a lost hand stays missing
  (`rest_hands` draws it at rest later); a forearm or a whole arm lost below the picture hangs
  straight down at the target's lengths, sinking there over 0.2 s. Each gives a note.
- a recording turned far from upright (shoulder line > 30 degrees from level, or the face below
  the shoulders) is turned upright about the shoulder midpoint, with a note.
- opacity: a limb is drawn as sure as its joints' confidences, and a renderer learned the opacities
  of its own person's poses (the synthetic speaker's: all 1). Another recording's half-sure hips and
  elbows (MediaPipe's visibility: 0.5-0.8 on real signers) drew a faint torso that the renderer
  filled with holes, so each drawn body joint gets the target's usual confidence there
  (`BodyProfile.opacity`).
- a fixed body position (everybody-sign-now's to-do): in `full` every frame's shoulders are where
  the input's are on average, the midpoint and the width the same in every frame. The renderer
  was trained on crops that hold its person's shoulders within 0.016 shoulder widths of one place.
  A real person who sways or steps left the shoulders up to 0.21 shoulder widths off that place in
  the crop, which follows the shoulders only over half a second. The renderer then painted a hole
  through the torso (liveportrait_s13). The shoulder line still tilts as the input's does. The
  hips are the target's in every frame, seen or not (the renderer's person never moves its hips
  against its shoulders; a leaning or bending torso came out with a ragged hem and dark streaks
  under the body), while the input's own hips still place the chest and belly that hands touch.

Coordinates: `retarget_pose` takes pixels of any video and gives pixels of the target's video
(its `NormStats` placement), or normalized coordinates without one. Inside, each frame is
normalized by its own shoulders (midpoint 0, width 1: the units of `BodyProfile`). In `place` the
result is then moved and scaled back as the input's shoulders moved and scaled over the sequence;
in `full` it is only put at the sequence's mean shoulders (the fixed body position). Layout:
reduced only (178 points).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from posevideo.errors import InputError
from posevideo.pose.layouts import point_groups, point_index
from posevideo.pose.normalize import NormStats, denormalize, normalize, shoulder_stats

SIDES = ("left", "right")
MODES = ("full", "place", "none")
# The hand as a tree rooted at its wrist: MediaPipe's finger chains (thumb, index, middle, ring,
# pinky), with the palm's knuckle row replaced by wrist -> knuckle bones so every point has one
# parent. Parents come before children.
HAND_BONES = tuple((0 if j % 4 == 0 else f + j, f + j + 1) for f in (0, 4, 8, 12, 16) for j in range(4))
PALM = HAND_BONES.index((0, 9))  # wrist -> middle knuckle: the hand's size (the palm does not bend)
# Shoulder widths. How much the nearest landmark holds a hand at distance d: exp(-(d / REACH)^4 / 2),
# flat near a contact (0.08 away: 96 %), 61 % at 0.15, 2 % at 0.25. Where the hand goes: what the
# landmarks about as near as the nearest say, weighted exp(-((d - nearest) / NEAREST)^2 / 2).
CONTACT_REACH = 0.15
CONTACT_NEAREST = 0.03
TILT_LIMIT = 30.0      # degrees: a shoulder line (or face) turned further than this is turned upright
LENGTH_PERCENTILE = 90  # BodyProfile's lengths
HEAD_PERCENTILE = 99  # BodyProfile.head_reach and head_tilt: of the head's moves and tilts from its mean face
HEAD_SLACK = 1.25  # a head move (or tilt) beyond the target's is eased towards this many times it, never past (`_eased`)
HANG_RAMP_S = 0.2  # seconds over which an arm lost below the picture sinks to hanging (`_hang_weights`)
BEND_HYSTERESIS = 0.1  # sin of the elbow angle: a bend side changes only when the arm bends clearly the other way
# The input's upper arm this far off the line shoulder -> the wrist as placed (sin of the angle): the
# elbow goes to that side, whatever the bend side; nearer the line, the bend side (no flips on a
# near-straight arm).
SIDE_CLEAR = 0.25
DRAWN = 0.1  # the skeleton spec's confidence threshold: a joint under it is not drawn (a test checks they agree)


def _points() -> dict:
    body = lambda name: point_index("reduced", "POSE_LANDMARKS", name)
    groups = point_groups("reduced")
    out = {"face": groups["face"], "chin": point_index("reduced", "FACE_LANDMARKS", 152)}
    for side in SIDES:
        s = side.upper()
        out[side] = {"shoulder": body(f"{s}_SHOULDER"), "elbow": body(f"{s}_ELBOW"), "wrist": body(f"{s}_WRIST"),
                     "hip": body(f"{s}_HIP"), "hand": groups[f"{side}_hand"]}
    return out


# --- the profile of one person ---------------------------------------------------------------------

@dataclass(frozen=True, eq=False)  # eq on arrays would be ambiguous
class BodyProfile:
    """One person's proportions, in shoulder widths around the shoulder midpoint (image axes: x right,
    y down), over the frames where each part was seen; None where it never was. A length is the 90th
    percentile of the bone's 2D length: its true length, which a median undercounts for a bone that
    often points at the camera (the synthetic speaker's forearms: medians 0.37 and 0.41, 90th
    percentiles 0.45 and 0.47, longest 0.55 and 0.56); the rest (face, hips, hand shape, face size) are medians.

    upper_arm, forearm: {"left", "right"} -> float. torso: shoulder midpoint -> hip midpoint.
    hip_width: float. hips: (2, 2) [left hip, right hip]. hand_bones: side -> (20,) the lengths of
    HAND_BONES. hand_shape: side -> (21, 2) the mean hand in its forearm's frame (wrist at 0, x along
    elbow -> wrist, y that turned by +90 degrees; `rest_hands`' convention). face: (128, 2) the mean
    face. face_size: the face points' RMS distance from their centroid. frames: how many frames.
    opacity: (8,) the body joints' (point_groups' "body") median confidence where drawn (>= DRAWN),
    1 where never drawn; None (profiles measured before it) reads as all 1. head_reach, head_tilt:
    the HEAD_PERCENTILE-th percentiles of how far the face's centre is from the mean face's, and of
    how far the face is turned from it in the picture (degrees; `_head_pose`): how far this person's
    head moves and tilts (the synthetic speaker's: 0.07 and 5 degrees); None (no face, or profiles
    measured before them): not limited."""
    upper_arm: dict
    forearm: dict
    torso: float | None
    hip_width: float | None
    hips: np.ndarray | None
    hand_bones: dict
    hand_shape: dict
    face: np.ndarray | None
    face_size: float | None
    frames: int
    opacity: np.ndarray | None = None
    head_reach: float | None = None
    head_tilt: float | None = None

    def hand_size(self, side: str) -> float | None:
        bones = self.hand_bones.get(side)
        return None if bones is None else float(bones[PALM])

    def to_dict(self) -> dict:
        def plain(v):
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if v is None or isinstance(v, int):
                return v
            return np.round(np.asarray(v, np.float64), 6).tolist()
        return {"units": "shoulder widths; shoulder midpoint at 0; x right, y down",
                **{k: plain(getattr(self, k)) for k in self.__dataclass_fields__}}

    @classmethod
    def from_dict(cls, d: dict) -> "BodyProfile":
        arr = lambda v: None if v is None else np.asarray(v, np.float64)
        num = lambda v: None if v is None else float(v)
        return cls(upper_arm={s: num(d["upper_arm"].get(s)) for s in SIDES},
                   forearm={s: num(d["forearm"].get(s)) for s in SIDES},
                   torso=num(d["torso"]), hip_width=num(d["hip_width"]), hips=arr(d["hips"]),
                   hand_bones={s: arr(d["hand_bones"].get(s)) for s in SIDES},
                   hand_shape={s: arr(d["hand_shape"].get(s)) for s in SIDES},
                   face=arr(d["face"]), face_size=num(d["face_size"]), frames=int(d["frames"]),
                   opacity=arr(d.get("opacity")), head_reach=num(d.get("head_reach")),
                   head_tilt=num(d.get("head_tilt")))


def body_profile(xy: np.ndarray, conf: np.ndarray, layout: str = "reduced", path=None,
                 normalized: np.ndarray | None = None) -> BodyProfile:
    """xy (T, 178, 2) in any units (pixels) and conf (T, 178) of one person -> their BodyProfile,
    measured on each frame normalized by its own shoulders (`normalized`: that, when the caller
    has it: `normalize(xy, conf, per_frame=True)`'s). Frames without both shoulders are not used;
    InputError (naming `path`) if there is none."""
    if layout != "reduced":
        raise ValueError(f"body profiles are measured on the reduced layout, not {layout!r}")
    P = normalize(xy, conf, layout, per_frame=True, path=path)[0] if normalized is None else normalized  # (T, 178, 2)
    conf = np.asarray(conf)
    ix = _points()
    seen = conf > 0
    ok = seen[:, ix["left"]["shoulder"]] & seen[:, ix["right"]["shoulder"]]  # frames with a frame of reference
    seen = seen & ok[:, None]

    def long(values, mask):  # a bone's length (class docstring)
        return float(np.percentile(values[mask], LENGTH_PERCENTILE)) if mask.any() else None

    def length(a, b):
        return np.linalg.norm(P[:, a] - P[:, b], axis=-1)

    upper_arm, forearm, hand_bones, hand_shape = {}, {}, {}, {}
    for side in SIDES:
        p = ix[side]
        sh, el, wr, hand = p["shoulder"], p["elbow"], p["wrist"], p["hand"]
        upper_arm[side] = long(length(sh, el), seen[:, sh] & seen[:, el])
        forearm[side] = long(length(el, wr), seen[:, el] & seen[:, wr])
        whole = seen[:, hand].all(axis=1)
        if whole.any():
            H = P[whole][:, hand]                                                     # (F, 21, 2)
            hand_bones[side] = np.array([np.percentile(np.linalg.norm(H[:, c] - H[:, a], axis=-1), LENGTH_PERCENTILE)
                                         for a, c in HAND_BONES])
        else:
            hand_bones[side] = None
        arm = whole & seen[:, el] & seen[:, wr] & (length(el, wr) > 1e-6)
        if arm.any():
            along = (P[arm, wr] - P[arm, el]) / length(el, wr)[arm, None]                 # (F, 2)
            across = np.stack([-along[:, 1], along[:, 0]], axis=-1)
            rel = P[arm][:, hand] - P[arm][:, hand][:, :1]                              # (F, 21, 2)
            hand_shape[side] = np.median(np.stack([(rel * along[:, None]).sum(-1), (rel * across[:, None]).sum(-1)],
                                                  axis=-1), axis=0)
        else:
            hand_shape[side] = None
    lh, rh = ix["left"]["hip"], ix["right"]["hip"]
    hips_seen = (conf[:, lh] >= DRAWN) & (conf[:, rh] >= DRAWN) & ok  # not MediaPipe's guesses out of view
    hip_mid = (P[:, lh] + P[:, rh]) / 2
    face_seen = seen[:, ix["face"]].all(axis=1)
    F = P[face_seen][:, ix["face"]]                                                         # (F, 128, 2)
    body = conf[:, point_groups(layout)["body"]]
    drawn = (body >= DRAWN) & ok[:, None]
    opacity = [float(np.median(body[drawn[:, k], k])) if drawn[:, k].any() else 1.0 for k in range(body.shape[1])]
    face = np.median(F, axis=0) if face_seen.any() else None
    head_reach, head_tilt = (None, None) if face is None else \
        (float(np.percentile(v, HEAD_PERCENTILE)) for v in _head_offsets(F[..., 0] + 1j * F[..., 1], face))
    return BodyProfile(
        upper_arm=upper_arm, forearm=forearm,
        torso=long(np.linalg.norm(hip_mid, axis=-1), hips_seen), hip_width=long(length(lh, rh), hips_seen),
        hips=np.median(P[hips_seen][:, [lh, rh]], axis=0) if hips_seen.any() else None,
        hand_bones=hand_bones, hand_shape=hand_shape,
        face=face, face_size=float(np.median(_rms_radius(F))) if face is not None else None,
        frames=int(ok.sum()), opacity=np.array(opacity),
        head_reach=head_reach, head_tilt=head_tilt)


def _rms_radius(points: np.ndarray) -> np.ndarray:
    """(..., N, 2) -> (...,) RMS distance of the points from their centroid."""
    return np.sqrt(((points - points.mean(axis=-2, keepdims=True)) ** 2).sum(-1).mean(-1))


# --- upright ----------------------------------------------------------------------------------------

def upright(xy: np.ndarray, conf: np.ndarray, path=None) -> tuple[np.ndarray, str | None]:
    """Reduced xy (T, 178, 2) pixels -> (xy turned upright about the mean shoulder midpoint, a note),
    or (xy unchanged, None) when the person already stands within TILT_LIMIT degrees of upright.

    Up is the shoulder line's normal (person's right shoulder -> left shoulder, turned by -90 degrees:
    up for a person facing the camera), flipped to the face's side when the face is seen (a person
    seen from the back). A recording turned by 90 or 180 degrees thus reads as turned, and a face
    below the shoulders as upside down."""
    xy, conf = np.asarray(xy, np.float64), np.asarray(conf)
    ix = _points()
    ls, rs = ix["left"]["shoulder"], ix["right"]["shoulder"]
    both = (conf[:, ls] > 0) & (conf[:, rs] > 0)
    if not both.any():
        raise InputError(path, "has no frame with both shoulders seen, so it cannot be retargeted",
                         "Check the video shows the person's upper body, and the pose extraction.")
    line = xy[both, ls] - xy[both, rs]                                                      # (F, 2)
    normal = np.stack([line[:, 1], -line[:, 0]], axis=-1)
    mid = (xy[both, ls] + xy[both, rs]) / 2
    face = (conf[both][:, ix["face"]] > 0).all(axis=1)
    if face.any():
        to_face = xy[both][face][:, ix["face"]].mean(axis=1) - mid[face]
        if np.median((normal[face] * to_face).sum(-1)) < 0:
            normal = -normal
    up = (normal / np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-9)).mean(axis=0)
    angle = np.degrees(np.arctan2(up[0], -up[1]))  # 0 when up is (0, -1); positive leaning to +x
    if abs(angle) <= TILT_LIMIT:
        return xy.astype(np.float32), None
    face_below = face.any() and np.median(to_face[:, 1]) > 0
    what = "the face is below the shoulders (upside down)" if face_below else \
        f"the shoulder line is {abs(angle):.0f} degrees from level"
    # Turn by -angle about the mean shoulder midpoint: up -> (0, -1).
    c, s = np.cos(np.radians(-angle)), np.sin(np.radians(-angle))
    turn = np.array([[c, -s], [s, c]])
    centre = mid.mean(axis=0)
    out = (xy - centre) @ turn.T + centre
    return out.astype(np.float32), (f"{what} (the recording is turned by {angle:.0f} degrees); turned upright "
                                    "about the shoulder midpoint")


# --- retargeting ------------------------------------------------------------------------------------

def retarget_pose(xy: np.ndarray, conf: np.ndarray, target: BodyProfile | None, placement: NormStats | None = None,
                  mode: str = "full", fps: float = 25.0, layout: str = "reduced", path=None
                  ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Reduced xy (T, 178, 2) pixels of any video and conf (T, 178) at `fps` -> (xy (T, 178, 2)
    float32, conf (T, 178) float32, notes).

    mode "none": the pose as it is (no notes). "place": moved and scaled by the shoulders onto
    `placement` (what `normalize.place_by_shoulders` does), turned upright if needed. "full": rebuilt on the
    body of `target` (module docstring), then placed the same way. Output is in the pixels of
    `placement`'s video, or in normalized coordinates (shoulder widths, mean shoulder midpoint 0)
    when `placement` is None. `path` only names the pose in errors. `Retargeting` does the same a
    run of frames at a time."""
    retargeting = Retargeting(xy, conf, target, placement, mode, fps, layout, path)
    out, out_conf = retargeting.frames(0, len(retargeting))
    return out, out_conf, retargeting.notes


class Retargeting:
    """`retarget_pose` in two parts, so that a long pose can be drawn and rendered while its later
    frames are still being rebuilt. Building it does what needs the whole sequence: upright, the
    mean shoulders, the input's own profile, the hips, the elbows' bend sides (smoothed over time,
    with hysteresis), the notes: under a tenth of the work on a long pose. `frames(a, b)` then
    rebuilds the face, arms and hands of frames [a, b) (the face fit, forward kinematics, the
    contact search, IK: the rest), for any run of frames, in any order, from several threads at
    once. Each frame's arithmetic is the same as all at once, so the numbers are the same (a test
    checks). Arguments: `retarget_pose`'s.

    `base()`: (T, 178, 2) every frame's output before the face, arms and hands are rebuilt; its
    shoulders are final (what crop boxes and hands at rest are measured on); `conf` (T, 178)
    float32 likewise (which points are there is final; the elbows' values and, in `full`, the body's
    opacities still change)."""

    def __init__(self, xy: np.ndarray, conf: np.ndarray, target: BodyProfile | None,
                 placement: NormStats | None = None, mode: str = "full", fps: float = 25.0,
                 layout: str = "reduced", path=None):
        if mode not in MODES:
            raise ValueError(f"unknown retarget mode {mode!r}; one of {MODES}")
        if layout != "reduced":
            raise ValueError(f"retargeting needs the reduced layout, not {layout!r}")
        self.mode, self.placement, self.target, self.fps = mode, placement, target, fps
        self.xy, self.conf = np.asarray(xy, np.float32), np.asarray(conf, np.float32)
        self.notes = []
        self.held = []  # joints drawn as the target's in every frame, never the input's (the hips in `full`)
        if mode == "none":
            return
        if mode == "full" and target is None:
            raise ValueError("mode 'full' needs a target BodyProfile")
        xy, turned = upright(self.xy, self.conf, path=path)
        self.notes += [turned] if turned else []
        whole = shoulder_stats(xy, self.conf, layout, path=path)                      # the sequence's mean shoulders
        self.P, each = normalize(xy, self.conf, layout, per_frame=True, path=path)  # (T, 178, 2) each frame's shoulders
        # Back to the input's shoulder motion over the sequence, in its mean shoulder widths (`_out`).
        self.scale, self.shift = each.scale / whole.scale, (each.center - whole.center) / whole.scale  # (T,), (T, 2)
        if mode == "full":
            self._rebuild_body(body_profile(xy, self.conf, layout, path=path, normalized=self.P))
            self.body = point_groups(layout)["body"]                                  # drawn at the target's opacity
            self.opacity = (np.ones(len(self.body)) if target.opacity is None else target.opacity).astype(np.float32)

    def __len__(self) -> int:
        return len(self.xy)

    def base(self) -> np.ndarray:
        return self.xy.copy() if self.mode == "none" else self._out(self.P, 0, len(self))

    def frames(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Frames [a, b): (xy (b - a, 178, 2) float32, conf (b - a, 178) float32)."""
        if self.mode == "none":
            return self.xy[a:b].copy(), self.conf[a:b].copy()
        P, conf = self.P[a:b].copy(), self.conf[a:b].copy()
        if self.mode == "full":
            self._rebuild_arms(P, conf, a, b, self._landmarks(P, a, b))
            conf[:, self.body] = np.where(conf[:, self.body] >= DRAWN, self.opacity, conf[:, self.body])
        return self._out(P, a, b), conf

    def _out(self, P: np.ndarray, a: int, b: int) -> np.ndarray:
        """P (b - a, 178, 2), each frame in its own shoulder widths -> the output's units: moved and
        scaled as the input's shoulders were in `place`, at the mean shoulders in `full` (module
        docstring: a fixed body position)."""
        if self.mode == "place":
            P = P * self.scale[a:b, None, None] + self.shift[a:b, None]
        return P.astype(np.float32) if self.placement is None else denormalize(P, self.placement)

    def _rebuild_body(self, source: BodyProfile) -> None:
        """self.P, each frame normalized by its own shoulders: hips put on the target's body (in
        place), and what the face and arms need from the whole sequence; `source` is the input's
        own profile."""
        target = self.target
        self.source = source
        P, conf = np.array(self.P, np.float64), np.array(self.conf, np.float32)
        T = len(P)
        ix = _points()
        seen = conf > 0
        notes = self.notes
        mid = (P[:, ix["left"]["shoulder"]] + P[:, ix["right"]["shoulder"]]) / 2             # (T, 2), 0 where both seen
        sh_conf = np.minimum(conf[:, ix["left"]["shoulder"]], conf[:, ix["right"]["shoulder"]])

        # Face (rebuilt a run at a time, `_landmarks`): the target's mean face, the input's
        # expression and head motion.
        face_seen = seen[:, ix["face"]].all(axis=1)
        self.face_ratio = _face_ratio(face_seen, target, source)
        if target.face is None:
            notes.append("the target has no face measured: the face is kept as it is")
        else:
            if (~face_seen).any():
                notes.append(f"no face in {int((~face_seen).sum())} of {T} frames: drawn as the trained person's "
                             "mean face")
            conf[np.ix_(~face_seen, ix["face"])] = sh_conf[~face_seen, None]
            if self.face_ratio is not None:
                X = P[face_seen][:, ix["face"]] - mid[face_seen][:, None]
                moves, tilts = _head_offsets(X[..., 0] + 1j * X[..., 1], source.face)
                moves = moves * self.face_ratio                                        # the target's shoulder widths
                for what, values, reach, unit, form in (("moves further from its usual place", moves, target.head_reach,
                                                         " shoulder widths", ".2f"),
                                                        ("tilts further", tilts, target.head_tilt, " degrees", ".1f")):
                    far = values > reach if reach else np.zeros(len(values), bool)
                    if far.any():
                        notes.append(f"the head {what} than the trained person's ({reach:{form}}{unit}) in "
                                     f"{int(far.sum())} of {T} frames (up to {values.max():{form}}): drawn at most "
                                     f"{HEAD_SLACK * reach:{form}}")

        # Hips: the target's, under the shoulders, in every frame (the fixed body position). The
        # renderer's person never moves its hips against its shoulders (lean under 1.5 degrees, the
        # torso's length fixed), and a real person's leaning, bending or shorter-looking torso, drawn,
        # came out as a ragged hem and dark streaks under the body (BENCHMARKS.md, "Hips held").
        # Hips out of view (under the drawing threshold: MediaPipe still guesses them, at visibility
        # 0.002-0.07) would leave a torso without sides, which the renderer fills with holes. The
        # input's own hips, where seen, still place its chest and belly for the hands' contacts.
        lh, rh = ix["left"]["hip"], ix["right"]["hip"]
        hips_seen = (conf[:, lh] >= DRAWN) & (conf[:, rh] >= DRAWN)
        hip_mid_in = np.where(hips_seen[:, None], (P[:, lh] + P[:, rh]) / 2,
                              mid + [0, _first(source.torso, target.torso, 1.5)])
        if target.hips is not None:
            P[:, lh], P[:, rh] = mid + target.hips[0], mid + target.hips[1]
            self.held = [lh, rh]
            conf[~hips_seen, lh] = conf[~hips_seen, rh] = sh_conf[~hips_seen]
        hip_mid_out = (P[:, lh] + P[:, rh]) / 2

        # Landmarks a hand can touch, in the input and where they are now: the face, the shoulders,
        # chest and belly (on the line shoulder midpoint -> hip midpoint).
        body_in = np.stack([P[:, ix["left"]["shoulder"]], P[:, ix["right"]["shoulder"]],
                            mid + 0.3 * (hip_mid_in - mid), mid + 0.65 * (hip_mid_in - mid)], axis=1)
        body_out = np.stack([body_in[:, 0], body_in[:, 1],
                             mid + 0.3 * (hip_mid_out - mid), mid + 0.65 * (hip_mid_out - mid)], axis=1)
        self.body_landmarks = (body_in, body_out)
        self.P, self.conf, self.seen, self.sh_conf, self.mid, self.face_seen = P, conf, seen, sh_conf, mid, face_seen

        # The elbows' bend sides (over time), which hands are missing where, and how far lost arms hang.
        self.bend, self.lost, self.hang = {}, {}, {}
        for side in SIDES:
            p = ix[side]
            e_ok = seen[:, p["elbow"]] & seen[:, p["shoulder"]]
            self.bend[side] = _bend_sides(P[:, p["shoulder"]], P[:, p["elbow"]], P[:, p["wrist"]], e_ok, self.fps)
            hand_ok = seen[:, p["hand"]]
            if not hand_ok.any(axis=1).all():
                notes.append(f"{side} hand not seen in {int((~hand_ok.any(axis=1)).sum())} of {T} frames: kept missing "
                             "(drawn at rest by the renderer)")
            fore, whole = self.lost[side] = _lost_arms(conf, P, p)
            self.hang[side] = _hang_weights(fore | whole, seen[:, p["wrist"]] & seen[:, p["shoulder"]], self.fps)
            if fore.any():
                notes.append(f"{side} forearm not seen in {int(fore.sum())} of {T} frames: hung from the elbow "
                             "at the trained person's length")
            if whole.any():
                notes.append(f"{side} arm not seen in {int(whole.sum())} of {T} frames: hung from the shoulder "
                             "at the trained person's lengths")
        if any(sides is None for sides in self.bend.values()):
            # An arm that never bends clearly takes the side that puts its elbow outward in the first
            # frame, where its wrist went: the first frames' arms, as `frames` would rebuild them.
            first = P[:min(T, 256)].copy()
            arms = self._wrists(first, 0, min(T, 256), self._landmarks(first, 0, min(T, 256)))
            for side in SIDES:
                if self.bend[side] is None:
                    a = arms[side]
                    self.bend[side] = _outward_side(a["sh"][:1], a["wr_new"][:1], 1.0 if side == "left" else -1.0)

    def _landmarks(self, P: np.ndarray, a: int, b: int) -> list:
        """Frames [a, b) (P their rows): the face put on the target's body (in P), and the
        landmarks a hand can touch, as `_contacts` takes them: in the input and where they are
        now, the shoulders, chest and belly, and the face."""
        face = _points()["face"]
        body_in, body_out = (lm[a:b] for lm in self.body_landmarks)
        landmarks = [(body_in, body_out, np.ones((b - a, 4), bool), 1.0)]
        if self.target.face is not None:
            face_in, seen = P[:, face].copy(), self.face_seen[a:b]
            P[:, face] = _face(face_in, seen, self.target, self.source, self.mid[a:b], self.face_ratio)
            if self.face_ratio is not None:
                landmarks.append((face_in, P[:, face], np.repeat(seen[:, None], len(face), 1), self.face_ratio))
        return landmarks

    def _wrists(self, P: np.ndarray, a: int, b: int, landmarks: list) -> dict:
        """For frames [a, b) (P their rows, `landmarks` theirs): each arm's input joints, bone
        lengths and where its wrist goes (forward kinematics, then contacts)."""
        target, source = self.target, self.source
        ix = _points()
        seen = self.seen[a:b]
        T = b - a
        arms = {}
        for side in SIDES:
            p = ix[side]
            sh, el, wr, hand = (P[:, p[k]].copy() for k in ("shoulder", "elbow", "wrist", "hand"))  # the input's
            s_ok = seen[:, p["shoulder"]]
            e_ok, w_ok = seen[:, p["elbow"]] & s_ok, seen[:, p["wrist"]] & s_ok
            L1 = _first(target.upper_arm[side], source.upper_arm[side], 1.0)
            L2 = _first(target.forearm[side], source.forearm[side], 1.0)
            r1 = _ratio(target.upper_arm[side], source.upper_arm[side])
            r2 = _ratio(target.forearm[side], source.forearm[side])
            l1 = np.where(e_ok, np.linalg.norm(el - sh, axis=-1) * r1, L1)          # (T,) this frame's 2D lengths
            l2 = np.where(e_ok & w_ok, np.linalg.norm(wr - el, axis=-1) * r2, L2)
            el_fk = sh + (el - sh) * r1
            wr_fk = np.where(e_ok[:, None], el_fk + (wr - el) * r2, sh + (wr - sh) * (L1 + L2) / (L1 / r1 + L2 / r2))
            hand_ok = seen[:, p["hand"]]                                              # (T, 21)
            # (T, 21, 2) from the wrist
            offsets = _hand_offsets(hand, wr, target.hand_bones[side], source.hand_bones[side])
            # Contact points: the body wrist and the hand's points, with their offsets from the new wrist.
            points_in = np.concatenate([wr[:, None], hand], axis=1)                 # (T, 22, 2)
            points_ok = np.concatenate([w_ok[:, None], hand_ok & w_ok[:, None]], axis=1)
            points_off = np.concatenate([np.zeros((T, 1, 2)), offsets], axis=1)
            _, up = _direction(sh, el_fk)                                              # the input's upper arm
            up = np.where(e_ok[:, None], up, 0.0)
            arms[side] = dict(sh=sh, el=el, wr=wr, e_ok=e_ok, w_ok=w_ok, l1=l1, l2=l2, L=(L1, L2), el_fk=el_fk,
                              wr_fk=wr_fk, up=up, offsets=offsets, points_in=points_in, points_ok=points_ok,
                              points_off=points_off, hand_ok=hand_ok)
        for side in SIDES:
            arm = arms[side]
            arm["wr_new"], arm["held"] = _contacts(arm["wr_fk"], arm["points_in"], arm["points_ok"],
                                                   arm["points_off"], landmarks)
        _hands_together(arms, target, source)
        return arms

    def _rebuild_arms(self, P: np.ndarray, conf: np.ndarray, a: int, b: int, landmarks: list) -> None:
        """Frames [a, b) (P, conf: their rows, changed in place; `landmarks` theirs): arms and hands
        on the target's body: forward (bone directions at the target's lengths), then contacts,
        then IK."""
        ix = _points()
        arms = self._wrists(P, a, b, landmarks)
        for side in SIDES:
            arm, p = arms[side], ix[side]
            bend = self.bend[side]
            elbow, wrist = _two_bone(arm["sh"], arm["wr_new"], arm["l1"], arm["l2"], arm["L"],
                                     bend if np.ndim(bend) == 0 else bend[a:b], arm["up"])
            use = arm["w_ok"]
            P[use, p["wrist"]] = wrist[use]
            P[use, p["elbow"]] = elbow[use]
            missing_elbow = use & ~arm["e_ok"]
            conf[missing_elbow, p["elbow"]] = np.minimum(self.sh_conf[a:b], conf[:, p["wrist"]])[missing_elbow]
            P[:, p["hand"]] = np.where(arm["hand_ok"][..., None], P[:, p["wrist"]][:, None] + arm["offsets"],
                                       P[:, p["hand"]])
            # What the input lost of the arm with its hand (`_lost_arms`) hangs at the target's lengths,
            # reached over the first frames of each lost run (`_hang_weights`).
            fore, whole = (m[a:b] for m in self.lost[side])
            (L1, L2), down = arm["L"], np.array([0.0, 1.0])
            hang = fore | whole
            elbow = np.where(whole[:, None], arm["sh"] + L1 * down, arm["el_fk"])[hang]
            w = self.hang[side][a:b][hang, None]                                      # under 1: a guess to start from
            for joint, to in ((p["elbow"], elbow), (p["wrist"], elbow + L2 * down)):
                P[hang, joint] = np.where(w < 1, P[hang, joint] + w * (to - P[hang, joint]), to)
            conf[whole, p["elbow"]] = conf[whole, p["shoulder"]]
            conf[hang, p["wrist"]] = conf[hang, p["elbow"]]


def _lost_arms(conf, P, p) -> tuple[np.ndarray, np.ndarray]:
    """Frames whose arm the input lost below the picture, as in a head-and-shoulders shot (MediaPipe
    still guesses the joints there, under the drawing threshold, as it does hips): (forearm (T,),
    arm (T,)), from conf (T, K) and the input's points P (T, K, 2) (y down) of one arm (`p`:
    `_points()[side]`). A forearm is lost where the shoulder and the elbow are drawn (confidence at
    least DRAWN) and the wrist not, a whole arm where neither elbow nor wrist is; in both, no hand
    point seen, and the joint's guess, if any, not above the one it hangs from (a raised hand lost in
    front of the body is not below the picture). Drawn as they are, the arm would end in a stump, or
    the shoulder in nothing; `_rebuild_arms` hangs what is lost straight down at the target's
    lengths, and `rest_hands` puts a hand at rest at the wrist. A wrist lost while its hand is seen
    keeps the hand's placing."""
    shoulder, elbow, wrist = (conf[:, p[k]] for k in ("shoulder", "elbow", "wrist"))
    y = {k: P[:, p[k], 1] for k in ("shoulder", "elbow", "wrist")}
    lost = (shoulder >= DRAWN) & (wrist < DRAWN) & ~(conf[:, p["hand"]] > 0).any(axis=1)
    fore = lost & (elbow >= DRAWN) & ~((wrist > 0) & (y["wrist"] < y["elbow"]))
    whole = lost & (elbow < DRAWN) & ~((elbow > 0) & (y["elbow"] < y["shoulder"]))
    return fore, whole


def _hang_weights(lost, guessed, fps: float) -> np.ndarray:
    """(T,) how far each frame's lost arm (`lost` (T,), `_lost_arms`) hangs: 0 outside the lost
    runs, rising by 1 / (k + 1) a frame from the run's edges (k frames of HANG_RAMP_S) to 1, so an
    arm leaving the picture sinks from where MediaPipe still guesses its wrist (`guessed` (T,):
    shoulder and wrist with some confidence) instead of jumping; 1 where there is no guess."""
    k = max(1, int(np.floor(HANG_RAMP_S * fps + 0.5)))
    t = np.arange(len(lost))
    last = np.maximum.accumulate(np.where(lost, -len(lost) - k - 1, t))   # the last frame not lost, at or before t
    following = np.minimum.accumulate(np.where(lost, 2 * len(lost) + k + 1, t)[::-1])[::-1]
    distance = np.minimum(t - last, following - t)
    return np.where(lost, np.where(guessed, np.minimum(1.0, distance / (k + 1)), 1.0), 0.0)


def _first(*values):
    return next(v for v in values if v is not None)


def _ratio(target, source) -> float:
    """target / source length, 1 when either was never measured."""
    return 1.0 if target is None or source is None or source <= 0 else float(target) / float(source)


def _face_ratio(seen, target: BodyProfile, source: BodyProfile) -> float | None:
    """The target's face size over the input's, or None when there is no expression to carry: no
    target or input mean face, or no frame of the sequence with the whole face `seen` (T,)."""
    if target.face is None or source.face is None or not seen.any():
        return None
    return target.face_size / source.face_size


def _face(face_in, seen, target: BodyProfile, source: BodyProfile, mid, ratio: float | None) -> np.ndarray:
    """(T, 128, 2) input faces, seen (T,) -> (T, 128, 2) faces on the target (which has a mean
    face); `ratio` from `_face_ratio` (None: the target's mean face in every frame). Per frame, a
    2D similarity (complex a = scale * e^(i angle)) fits the input's mean face onto its face; what
    it leaves is the expression."""
    to_c = lambda v: v[..., 0] + 1j * v[..., 1]
    tgt = to_c(target.face)                                                           # (128,) relative to mid
    out = np.broadcast_to(tgt, seen.shape + tgt.shape).copy() + to_c(mid)[:, None]
    if ratio is None or not seen.any():
        return np.stack([out.real, out.imag], -1)
    mean_in = to_c(source.face)
    mean_c = mean_in - mean_in.mean()
    X = to_c(face_in[seen] - mid[seen][:, None])                                      # (F, 128)
    c, a = _head_pose(X, source.face)
    expression = (X - c) / a - mean_c                                                 # in the input's mean-face frame
    move = (c - mean_in.mean()) * ratio                                               # head motion, scaled
    r, angle = np.abs(move), np.angle(a)
    move = move * (_eased(r, target.head_reach) / np.where(r > 0, r, 1.0))          # 0 stays 0
    tilt = np.radians(_eased(np.degrees(np.abs(angle)), target.head_tilt)) * np.sign(angle)
    out[seen] = to_c(mid[seen])[:, None] + tgt.mean() + move + \
        np.abs(a) * np.exp(1j * tilt) * (tgt - tgt.mean() + ratio * expression)
    return np.stack([out.real, out.imag], -1)


def _head_pose(X, mean_face) -> tuple[np.ndarray, np.ndarray]:
    """Faces X (F, 128) complex (x + iy, around the shoulder midpoint) and a mean face (128, 2) ->
    (c, a), each (F, 1): the face's centre, and the similarity a = scale x e^(i angle) that best fits
    the mean face, centred, onto the face, centred (its angle: how far the head is tilted from the
    mean face in the picture)."""
    mean_c = mean_face[:, 0] + 1j * mean_face[:, 1]
    mean_c = mean_c - mean_c.mean()
    c = X.mean(axis=1, keepdims=True)
    return c, (np.conj(mean_c)[None] * (X - c)).sum(1, keepdims=True) / (np.abs(mean_c) ** 2).sum()


def _head_offsets(X, mean_face) -> tuple[np.ndarray, np.ndarray]:
    """Faces X (F, 128) complex (around the shoulder midpoint) and a mean face (128, 2) -> (F,) how
    far each face's centre is from the mean face's (X's units) and (F,) how far the face is turned
    from it (degrees): the head's move and tilt, what `BodyProfile.head_reach` / `head_tilt` measure."""
    centre, turn = _head_pose(X, mean_face)
    mean_centre = mean_face[:, 0].mean() + 1j * mean_face[:, 1].mean()
    return np.abs(centre[:, 0] - mean_centre), np.degrees(np.abs(np.angle(turn[:, 0])))


def _eased(r: np.ndarray, reach: float | None) -> np.ndarray:
    """Sizes r >= 0 (a head's move or tilt) -> r where within `reach`, beyond it reach + slack
    tanh((r - reach) / slack), slack = (HEAD_SLACK - 1) x reach: it rises as r does at the reach and
    never passes HEAD_SLACK x reach. `reach` None: r."""
    if reach is None or reach <= 0:
        return r
    slack = (HEAD_SLACK - 1) * reach
    return np.where(r > reach, reach + slack * np.tanh((r - reach) / slack), r)


def _hand_offsets(hand, wrist, target_bones, source_bones) -> np.ndarray:
    """(T, 21, 2) hand points -> (T, 21, 2) offsets from the body wrist of the same hand rebuilt bone
    by bone: each bone the input's vector scaled to the target's length."""
    scale = np.ones(len(HAND_BONES)) if target_bones is None or source_bones is None else \
        np.asarray(target_bones) / np.maximum(np.asarray(source_bones), 1e-9)
    out = np.zeros_like(hand)
    out[:, 0] = (hand[:, 0] - wrist) * scale[PALM]
    for (a, c), k in zip(HAND_BONES, scale):
        out[:, c] = out[:, a] + (hand[:, c] - hand[:, a]) * k
    return out


def _contacts(wr_fk, points_in, points_ok, points_off, landmarks, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Where the wrist goes: the forward-kinematics wrist, pulled toward keeping the hand's contact
    with the landmarks it is near. Each group of landmarks comes as (where they are in the input
    (T, N, 2), where they are now, which exist (T, N), the group's size ratio). Every (landmark,
    hand point) pair proposes a wrist: the hand point keeps its offset from the landmark (scaled by
    the ratio) and the wrist follows at the rebuilt hand's offset. The proposals blend by how close
    each pair is compared with the closest (CONTACT_NEAREST: smooth as the closest pair changes),
    and how close that one is decides how much they override the forward wrist (CONTACT_REACH). A
    contact (distance 0) is kept exactly. Returns the wrist (T, 2) and how much a landmark holds
    it (T,), 0..1. Works `chunk` frames at a time ((chunk, N, 22, 2) arrays)."""
    wrist, held = np.array(wr_fk, np.float64), np.zeros(len(wr_fk))

    def one(start: int) -> None:  # frames [start, start + chunk): writes only their rows
        at = slice(start, start + chunk)
        dist, wanted = [], []
        for lm_in, lm_out, lm_ok, ratio in landmarks:
            offset = points_in[at, None] - lm_in[at, :, None]                               # (C, N, 22, 2)
            ok = lm_ok[at, :, None] & points_ok[at, None]
            dist.append(np.where(ok, np.linalg.norm(offset, axis=-1), 1e3).reshape(len(offset), -1))
            wanted.append((lm_out[at, :, None] + offset * ratio - points_off[at, None]).reshape(len(offset), -1, 2))
        dist, wanted = np.concatenate(dist, 1), np.concatenate(wanted, 1)                  # (C, M), (C, M, 2)
        nearest = dist.min(axis=1)
        w = np.exp(-0.5 * ((dist - nearest[:, None]) / CONTACT_NEAREST) ** 2)              # 1 at the closest pair
        contact = (w[..., None] * wanted).sum(1) / w.sum(1)[:, None]
        held[at] = _hold(nearest)
        wrist[at] = (1 - held[at, None]) * wrist[at] + held[at, None] * contact

    # Chunks are independent and numpy lets go of the GIL on arrays this size, so threads share the
    # work (the same arithmetic per chunk: the same result): this was most of `render`'s start on a
    # long pose (10,000 frames: 14 s of `place` on a 2-core CPU, 80 % of it here). Half the cores:
    # on 2 busy cores two threads were no faster (BENCHMARKS.md "Render path").
    starts = range(0, len(wr_fk), chunk)
    threads = max(1, min(len(starts), 8, (os.cpu_count() or 1) // 2))
    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(threads, thread_name_prefix="contacts") as pool:
            list(pool.map(one, starts))
    else:
        for start in starts:
            one(start)
    return wrist, held


def _hold(distance: np.ndarray) -> np.ndarray:
    """How much a landmark at `distance` (shoulder widths) holds a hand, 0..1 (CONTACT_REACH)."""
    return np.exp(-0.5 * (distance / CONTACT_REACH) ** 4)


def _hands_together(arms: dict, target: BodyProfile, source: BodyProfile) -> None:
    """Hands near each other keep their contact: the nearest pair of their points keeps its offset
    (scaled by the hand-size ratio). The hand a landmark holds less moves more (a hand at the chin
    stays there and the other comes to it); two held hands keep the places their landmarks give."""
    a, b = arms["left"], arms["right"]
    d = np.linalg.norm(a["points_in"][:, :, None] - b["points_in"][:, None], axis=-1)    # (T, 22, 22)
    d = np.where(a["points_ok"][:, :, None] & b["points_ok"][:, None], d, np.inf)
    flat = d.reshape(len(d), -1).argmin(axis=1)
    i, j = np.unravel_index(flat, d.shape[1:])
    t = np.arange(len(d))
    dist = d[t, i, j]
    ratio = np.mean([_ratio(target.hand_size(s), source.hand_size(s)) for s in SIDES])
    wanted = (a["points_in"][t, i] - b["points_in"][t, j]) * ratio
    now = (a["wr_new"] + a["points_off"][t, i]) - (b["wr_new"] + b["points_off"][t, j])
    w = _hold(np.where(np.isfinite(dist), dist, 1e3))[:, None]
    free_a, free_b = (1 - a["held"])[:, None], (1 - b["held"])[:, None]
    share = 1 / np.maximum(free_a + free_b, 1e-9)
    a["wr_new"] = a["wr_new"] + w * (wanted - now) * free_a * share
    b["wr_new"] = b["wr_new"] - w * (wanted - now) * free_b * share


def _bend_sides(sh, el_in, wr_in, e_ok, fps) -> np.ndarray | None:
    """The side (T,) +1 or -1 each elbow bends to, from the input's shoulder, elbow and wrist (T, 2):
    which side of shoulder -> wrist its elbow lies, smoothed over 0.1 s and kept until the arm bends
    clearly the other way (BEND_HYSTERESIS); frames before the first clear bend take its side. None
    when the arm never bends clearly (`_outward_side` then). Needs the whole sequence (smoothing,
    hysteresis): `Retargeting` computes it once."""
    # The input's bend: sin of the angle between shoulder -> wrist and shoulder -> elbow.
    a_in, b_in = wr_in - sh, el_in - sh
    cross = (a_in[:, 0] * b_in[:, 1] - a_in[:, 1] * b_in[:, 0]) / np.maximum(
        np.linalg.norm(a_in, axis=-1) * np.linalg.norm(b_in, axis=-1), 1e-9)
    cross = np.where(e_ok, cross, 0.0)
    if len(cross) > 1:
        cross = gaussian_filter1d(cross, max(0.1 * fps, 1e-3), mode="nearest")
    clear = np.flatnonzero(np.abs(cross) > BEND_HYSTERESIS)
    if not len(clear):
        return None
    side = np.empty(len(cross))
    current = np.sign(cross[clear[0]])
    for t, c in enumerate(cross):
        if abs(c) > BEND_HYSTERESIS:
            current = np.sign(c)
        side[t] = current
    return side


def _direction(sh, wr) -> tuple[np.ndarray, np.ndarray]:
    """(distance (T,), unit direction (T, 2)) from shoulder to wrist; straight down where they meet."""
    v = wr - sh
    d = np.linalg.norm(v, axis=-1)
    return d, np.where(d[:, None] > 1e-9, v / np.maximum(d, 1e-9)[:, None], [0.0, 1.0])


def _outward_side(sh, wr, outward) -> float:
    """The bend side (+1 or -1) that puts the elbow of the arm shoulder (1, 2) -> wrist (1, 2) outward
    (`outward` +1: toward +x)."""
    _, u = _direction(sh, wr)
    return float(np.where(-u[:, 1] * outward >= 0, 1.0, -1.0)[0])


def _two_bone(sh, wr, l1, l2, L, side, up=None) -> tuple[np.ndarray, np.ndarray]:
    """Elbow by two-bone IK: shoulder (T, 2), wanted wrist (T, 2), this frame's bone lengths l1, l2
    (T,) -> (elbow, wrist), the wrist pulled in only where out of reach. Lengths grow (up to 1.15 x
    the target's, L) before the wrist is moved; a wrist too near the shoulder shortens a bone.
    `side`: the bend side, (T,) or one for all (`_bend_sides`). `up`: (T, 2) the input's upper-arm
    direction, a unit vector (zeros where its elbow was not seen): where the input's elbow lies
    clearly to one side of the line shoulder -> wrist as placed (SIDE_CLEAR), the elbow goes there
    (contacts can move the wrist across the input's bend)."""
    d, u = _direction(sh, wr)
    normal = np.stack([-u[:, 1], u[:, 0]], axis=-1)
    side = np.broadcast_to(side, d.shape)
    seen = np.zeros(d.shape, bool) if up is None else np.abs(up).sum(-1) > 0
    if seen.any():
        off = np.einsum("ti,ti->t", up, normal)                 # sin of the input's upper arm off the line
        side = np.where(seen & (np.abs(off) > SIDE_CLEAR), np.sign(off), side)
    grow = np.clip(d / np.maximum(l1 + l2, 1e-9), 1.0, 1.15 * (L[0] + L[1]) / np.maximum(l1 + l2, 1e-9))
    l1, l2 = l1 * grow, l2 * grow
    near = d < np.abs(l1 - l2)
    folded = near & seen
    if folded.any():
        # A wrist nearer the shoulder than the bones allow, the input's elbow seen (a signer's hand at
        # the shoulder or chin, the elbow hanging below it): the upper arm keeps the input's
        # direction, shortened (toward the camera) until the forearm, its own length, reaches back
        # to the wrist; or at its length, the forearm shortened. Not the right angle below, which
        # would swing the elbow out of the input's place (into the torso, on one side).
        along = np.einsum("ti,ti->t", up, u) * d
        reach = along + np.sqrt(np.maximum(along ** 2 - d ** 2 + l2 ** 2, 0.0))     # |u d - up x| = l2
        upper = np.clip(np.minimum(l1, reach), 1e-6, None)
        folded_elbow = sh + up * upper[:, None]
    # Otherwise the longer bone points at the camera (foreshortened) until the two meet at a right angle.
    fold = np.sqrt(np.minimum(l1, l2) ** 2 + d ** 2)
    l1, l2 = np.where(near & (l1 > l2), fold, l1), np.where(near & (l2 >= l1), fold, l2)
    d = np.clip(d, np.abs(l1 - l2) * 1.0001 + 1e-6, (l1 + l2) * 0.9999)
    wrist = sh + u * d[:, None]
    along = (l1 ** 2 - l2 ** 2 + d ** 2) / (2 * d)
    height = np.sqrt(np.maximum(l1 ** 2 - along ** 2, 0))
    elbow = sh + u * along[:, None] + (side * height)[:, None] * normal
    if folded.any():
        elbow = np.where(folded[:, None], folded_elbow, elbow)
        wrist = np.where(folded[:, None], wr, wrist)
    return elbow, wrist
