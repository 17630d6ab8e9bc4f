"""The drawn person: an OpenCV painter that turns one holistic pose into a video frame.

Everything is drawn from the pose's own points (so the picture and the ground truth agree), with
anti-aliased polygons, lines and ellipses, back to front: background, hair behind the head, neck,
torso with patterned clothing, head (ears, face, hair, brows, eyes, nose, mouth), then the arms,
the farther arm first, each hand after its arm (a hand in front of the chest hides it).
Light comes from the upper left: shaded parts are darker on the right and below.
Frames are RGB uint8 (H, W, 3); points are pixels of the frame.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from posevideo.synthetic import face as fm
from posevideo.synthetic.motion import BODY, FACE, LEFT_HAND, RIGHT_HAND

SHIFT = 4                   # OpenCV fixed-point bits: 1/16 pixel precision for smooth motion
ONE = 1 << SHIFT
AA = cv2.LINE_AA

# The seed documents use red (255, 200, 200) and blue (200, 200, 255) backgrounds: seeds alternate
# through this palette, so consecutive seeds never share a background.
BACKGROUNDS = ((255, 200, 200), (200, 200, 255), (205, 235, 205), (240, 230, 200), (225, 215, 240), (200, 230, 235))
SKINS = ((238, 200, 170), (224, 172, 138), (198, 144, 108), (160, 110, 80), (112, 76, 56), (244, 214, 190))
HAIRS = ((40, 30, 25), (90, 60, 35), (150, 100, 55), (210, 175, 110), (25, 25, 30), (120, 40, 30), (170, 170, 175))
CLOTHES = ((40, 70, 140), (150, 40, 50), (40, 110, 80), (70, 70, 80), (200, 140, 40), (110, 60, 130), (30, 30, 35), (230, 230, 225))
PATTERNS = ("stripes", "checks", "dots", "diagonal")
IRISES = ((70, 45, 30), (60, 100, 140), (70, 110, 70), (40, 30, 25))


@dataclass(frozen=True)
class Look:
    """How one synthetic person looks; drawn from the seed, recorded in the JSON."""
    background: tuple
    skin: tuple
    hair: tuple
    hair_style: str         # "short", "long" or "bun"
    clothes: tuple
    accent: tuple           # the pattern's second colour
    pattern: str
    sleeves: str            # "long", "short" or "none" (sleeveless: bare upper arms too)
    neckline: str           # "round" or "v"
    iris: tuple
    lips: tuple

    def as_dict(self) -> dict:
        return asdict(self)


DRAWN_SLEEVES = ("long", "short")  # what seeds draw
SLEEVES = DRAWN_SLEEVES + ("none",)


def look_for_seed(seed: int, rng: np.random.Generator, sleeves: str | None = None) -> Look:
    """The look of `seed` (`rng`: its look stream); `sleeves` in place of the drawn ones (None: drawn)."""
    if sleeves is not None and sleeves not in SLEEVES:
        raise ValueError(f"sleeves must be one of {SLEEVES}, got {sleeves!r}")
    pick = lambda options: tuple(int(v) for v in options[rng.integers(len(options))])
    skin = pick(SKINS)
    clothes = pick(CLOTHES)
    accent = tuple(int(v) for v in np.clip(np.array(clothes) * 0.5 + np.array(pick(CLOTHES)) * 0.5 + 40, 0, 255))
    lips = tuple(int(v) for v in np.clip(np.array(skin) * np.array([0.85, 0.55, 0.55]), 0, 255))
    hair = pick(HAIRS)
    if np.abs(np.array(hair) - np.array(skin)).mean() < 60:  # keep the hairline visible
        hair = (22, 18, 18)
    hair_style = ("short", "long", "bun")[rng.integers(3)]
    pattern = PATTERNS[rng.integers(len(PATTERNS))]
    drawn = DRAWN_SLEEVES[rng.integers(2)]            # drawn even when given, so the rest of the look is the seed's
    neckline = ("round", "v")[rng.integers(2)]
    return Look(background=BACKGROUNDS[seed % len(BACKGROUNDS)], skin=skin, hair=hair, hair_style=hair_style,
                clothes=clothes, accent=accent, pattern=pattern, sleeves=sleeves or drawn, neckline=neckline,
                iris=pick(IRISES), lips=lips)


def _shade(color, factor: float) -> tuple:
    return tuple(int(min(255, max(0, c * factor))) for c in color)


def _fixed(points: np.ndarray) -> np.ndarray:
    """Pixels (..., 2) float -> OpenCV fixed point int32 (pixel centres on integers)."""
    return np.rint((np.asarray(points) - 0.5) * ONE).astype(np.int32)


def room_pad(size: int, room: float) -> int:
    """Pixels of picture past a `size` frame on every side for `room` (a share of size): the canvas
    is size + 2 pad square."""
    return int(round(room * size))


class Painter:
    """Draws frames of one look at one size. Precomputes the background and the cloth texture.

    `room`: the picture goes on past the `size` x `size` frame the person is placed in, by `pad =
    round(room * size)` pixels on every side (the canvas is size + 2 pad square): the same person
    at the same scale, with more of the room and of the body around. `draw` then takes points in
    the canvas's pixels (the frame's plus pad), and the frame's part of the canvas is the picture
    without room (to a level: the cloth's blur runs over a larger array)."""

    def __init__(self, look: Look, size: int, room: float = 0.0):
        self.look, self.size = look, size
        self.pad = pad = room_pad(size, room)
        self.canvas = size + 2 * pad
        s = size
        y, x = np.mgrid[-pad:s + pad, -pad:s + pad].astype(np.float32) / s
        # Background: the seed's colour, a little lighter at the top, a soft vignette.
        light = 1.04 - 0.1 * y - 0.08 * ((x - 0.5) ** 2 + (y - 0.45) ** 2)
        self.background = np.clip(np.array(look.background, np.float32) * light[..., None], 0, 255).astype(np.uint8)
        # Cloth: pattern in two colours, darker towards the sides of the torso and downwards. Made
        # with a margin so that it can follow the torso (`draw` cuts it at the shoulders' offset).
        self.margin = m = s // 8
        y, x = np.mgrid[-m - pad:s + m + pad, -m - pad:s + m + pad].astype(np.float32) / s
        base, accent = np.array(look.clothes, np.float32), np.array(look.accent, np.float32)
        period = 0.055
        if look.pattern == "stripes":
            weight = (np.sin(2 * np.pi * y / period) > 0.3).astype(np.float32)
        elif look.pattern == "diagonal":
            weight = (np.sin(2 * np.pi * (x + y) / (1.2 * period)) > 0.4).astype(np.float32)
        elif look.pattern == "checks":
            weight = 0.5 * (np.sin(2 * np.pi * x / (1.6 * period)) > 0.5) + 0.5 * (np.sin(2 * np.pi * y / (1.6 * period)) > 0.5)
        else:  # dots
            gx, gy = (x / period) % 1.4 - 0.7, (y / period + 0.7 * np.floor(x / (1.4 * period))) % 1.4 - 0.7
            weight = (gx ** 2 + gy ** 2 < 0.09).astype(np.float32)
        weight = cv2.GaussianBlur(weight.astype(np.float32), (0, 0), max(0.6, s / 400))
        cloth = base * (1 - weight[..., None]) + accent * weight[..., None]
        shading = np.clip(1.05 - 0.9 * (x - 0.47) ** 2 / 0.12 - 0.25 * np.clip(y - 0.5, 0, 1), 0.55, 1.1)
        self.cloth = np.clip(cloth * shading[..., None], 0, 255).astype(np.float32)

    # --- primitives ---------------------------------------------------------------------------
    def _poly(self, image, points, color):
        cv2.fillPoly(image, [_fixed(points)], color, AA, SHIFT)

    def _line(self, image, a, b, color, width):
        cv2.line(image, tuple(_fixed(a).tolist()), tuple(_fixed(b).tolist()), color, max(1, int(round(width))), AA, SHIFT)

    def _ellipse(self, image, center, axes, angle, color):
        axes = tuple(max(1, int(round(v * ONE))) for v in axes)
        cv2.ellipse(image, tuple(_fixed(center).tolist()), axes, float(angle), 0, 360, color, -1, AA, SHIFT)

    def _limb(self, image, a, b, color, width):
        """A shaded limb: dark body, a lighter stripe toward the light (upper left)."""
        self._line(image, a, b, _shade(color, 0.72), width)
        offset = np.array([-0.16, -0.12]) * width
        self._line(image, a + offset, b + offset, color, width * 0.55)

    # --- the person ---------------------------------------------------------------------------
    def draw(self, xyz: np.ndarray) -> np.ndarray:
        """xyz (576 or 543, 3) pixels of the canvas (z: toward the camera is negative) -> (C, C, 3) RGB,
        C = `canvas` (size + 2 pad)."""
        look = self.look
        p = xyz[:, :2].astype(np.float64)
        body, face = p[BODY:BODY + 33], p[FACE:FACE + 468]
        image = self.background.copy()
        r_sh, l_sh = body[12], body[11]
        width = np.linalg.norm(l_sh - r_sh)                                       # shoulder width, px
        across = (l_sh - r_sh) / width
        down = np.array([-across[1], across[0]])
        mid = (l_sh + r_sh) / 2
        face_center = face[fm.FACE_OVAL].mean(0)
        face_w = np.linalg.norm(face[454] - face[234])
        face_h = np.linalg.norm(face[10] - face[152])
        head_up = _unit2(face[10] - face[152])
        head_angle = np.degrees(np.arctan2(-head_up[0], -head_up[1]))

        # Hair behind the head.
        if look.hair_style == "long":
            # Down to the shoulders behind the neck: a rounded-top slab following the head's tilt.
            side = -np.array([head_up[1], -head_up[0]])
            top = face_center + head_up * face_h * 0.12
            arc = [top + face_w * 0.62 * (np.cos(a) * side) + face_h * 0.6 * np.sin(a) * head_up for a in np.linspace(0, np.pi, 9)]
            bottom = mid - down * width * 0.02
            back = np.array(arc + [bottom - side * face_w * 0.62, bottom - side * face_w * 0.45 + down * width * 0.06,
                                   bottom + side * face_w * 0.45 + down * width * 0.06, bottom + side * face_w * 0.62])
            self._poly(image, back, _shade(look.hair, 0.75))
        self._ellipse(image, face_center + head_up * face_h * 0.12, (face_w * 0.6, face_h * 0.6), head_angle, _shade(look.hair, 0.85))
        if look.hair_style == "bun":
            self._ellipse(image, face_center + head_up * face_h * 0.78, (face_w * 0.25, face_w * 0.22), head_angle, _shade(look.hair, 0.9))

        # Neck: from under the jaw to the torso's neckline.
        jaw_r, jaw_l = face[172], face[397]
        neck = np.array([jaw_r + across * face_w * 0.08, jaw_l - across * face_w * 0.08,
                         mid + across * width * 0.17 + down * width * 0.05, mid - across * width * 0.17 + down * width * 0.05])
        self._poly(image, neck, _shade(look.skin, 0.82))

        # Legs from the hips down (plain trousers), under the torso: seen when the picture has room below.
        hip_r, hip_l = body[24], body[23]
        self._poly(image, np.array([hip_r - across * width * 0.1 - down * width * 0.1, hip_l + across * width * 0.1 - down * width * 0.1,
                                    hip_l + across * width * 0.06 + down * width * 1.5, hip_r - across * width * 0.06 + down * width * 1.5]),
                   _shade(look.clothes, 0.55) if max(look.clothes) > 90 else _shade(look.accent, 0.45))
        # Torso, cut from the cloth texture through an anti-aliased mask.
        torso = np.array([
            r_sh - across * width * 0.1 + down * width * 0.12, r_sh - across * width * 0.02 - down * width * 0.07,
            mid - across * width * 0.2 - down * width * 0.1, mid + across * width * 0.2 - down * width * 0.1,
            l_sh + across * width * 0.02 - down * width * 0.07, l_sh + across * width * 0.1 + down * width * 0.12,
            l_sh + across * width * 0.02 + down * width * 0.7, hip_l + across * width * 0.08,
            hip_r - across * width * 0.08, r_sh - across * width * 0.02 + down * width * 0.7])
        mask = np.zeros(image.shape[:2], np.uint8)
        self._poly(mask, torso, 255)
        for shoulder, side in ((r_sh, -1), (l_sh, 1)):
            self._ellipse(mask, shoulder + across * side * width * 0.02 + down * width * 0.06, (width * 0.15, width * 0.14), 0, 255)
        alpha = mask.astype(np.float32)[..., None] / 255
        m, s, c = self.margin, self.size, self.canvas
        dx, dy = np.clip(np.rint(mid - self.pad - (0.5 * s, 0.47 * s)).astype(int), -m, m)   # the pattern moves with the body
        cloth = self.cloth[m - dy:m - dy + c, m - dx:m - dx + c]
        image[:] = (image * (1 - alpha) + cloth * alpha).astype(np.uint8)
        # Neckline: skin showing below the neck.
        if look.neckline == "v":
            self._poly(image, np.array([mid - across * width * 0.17 - down * width * 0.1, mid + across * width * 0.17 - down * width * 0.1,
                                        mid + down * width * 0.28]), _shade(look.skin, 0.9))
        else:
            self._ellipse(image, mid - down * width * 0.06, (width * 0.19, width * 0.13), 0, _shade(look.skin, 0.9))

        self._head(image, face, body, face_center, face_w, face_h, head_up, head_angle)

        # Arms and hands, the farther arm first (larger z is farther from the camera).
        arms = [("right", 12, 14, 16, RIGHT_HAND), ("left", 11, 13, 15, LEFT_HAND)]
        arms.sort(key=lambda arm: -xyz[BODY + arm[3], 2])
        for name, s_i, e_i, w_i, hand in arms:
            self._arm(image, body[s_i], body[e_i], body[w_i], width)
            self._hand(image, p[hand:hand + 21], xyz[hand:hand + 21, 2], width)
        return image

    def _head(self, image, face, body, center, face_w, face_h, up, angle):
        look = self.look
        skin, shadow = look.skin, _shade(look.skin, 0.8)
        for ear in (body[7], body[8]):
            self._ellipse(image, ear, (face_w * 0.09, face_h * 0.14), angle, shadow)
        oval = face[fm.FACE_OVAL]
        self._poly(image, oval, shadow)
        lit = center + (oval - center) * 0.93 + np.array([-0.025, -0.02]) * face_w
        self._poly(image, lit, skin)
        # Hair on top: between an outer arc above the forehead and a fringe line across it.
        top = oval[np.r_[28:36, 0:9]]                                         # 454 .. 10 .. 234 over the top
        outer = center + (top - center) * 1.1 + up * face_h * 0.06
        fringe = center + (top - center) * np.array([[0.98]]) - up * face_h * 0.05
        fringe = fringe[::-1]
        self._poly(image, np.concatenate([outer, fringe]), look.hair)
        # A sheen on the lit side of the hair.
        sheen = center + (top[9:15] - center) * 1.0 + up * face_h * 0.03
        cv2.polylines(image, [_fixed(sheen)], False, _shade(look.hair, 1.45) if max(look.hair) < 170 else _shade(look.hair, 1.12),
                      max(1, int(round(face_w * 0.05))), AA, SHIFT)
        if look.hair_style == "long":
            for side in (oval[5:12], oval[25:32]):
                self._poly(image, np.concatenate([side, side[::-1] + (side[::-1] - center) * 0.12]), look.hair)
        # Brows, eyes, nose, mouth.
        brow = _shade(look.hair, 0.8)
        for idx in (fm.RIGHT_BROW, fm.LEFT_BROW):
            self._poly(image, face[idx], brow)
        for ring, upper, lower in ((fm.RIGHT_EYE, fm.RIGHT_UPPER_LID, fm.RIGHT_LOWER_LID),
                                   (fm.LEFT_EYE, fm.LEFT_UPPER_LID, fm.LEFT_LOWER_LID)):
            eye = face[ring]
            eye_w = np.linalg.norm(eye[0] - eye[8])
            eye_h = np.linalg.norm(face[upper].mean(0) - face[lower].mean(0))
            if eye_h > 0.18 * eye_w:
                self._poly(image, eye, (245, 245, 240))
                radius = min(0.3 * eye_w, 0.55 * eye_h)
                iris_center = (face[upper].mean(0) + face[lower].mean(0)) / 2
                self._ellipse(image, iris_center, (radius, radius), 0, look.iris)
                self._ellipse(image, iris_center, (radius * 0.45, radius * 0.45), 0, (20, 15, 15))
                self._ellipse(image, iris_center + radius * np.array([-0.35, -0.35]), (radius * 0.2, radius * 0.2), 0, (250, 250, 250))
            lid = np.concatenate([eye[:1], face[upper], eye[8:9]])
            cv2.polylines(image, [_fixed(lid)], False, (35, 25, 25), max(1, int(round(face_w * 0.025))), AA, SHIFT)
        nose = _shade(look.skin, 0.68)
        cv2.polylines(image, [_fixed(face[fm.NOSE_BOTTOM])], False, nose, max(1, int(round(face_w * 0.02))), AA, SHIFT)
        cv2.polylines(image, [_fixed(face[[6, 197, 195, 5]] + np.array([0.04, 0]) * face_w)], False, _shade(look.skin, 0.88),
                      max(1, int(round(face_w * 0.02))), AA, SHIFT)
        self._poly(image, face[fm.LIPS_OUTER], look.lips)
        self._poly(image, face[fm.LIPS_INNER], (70, 20, 25))
        gap = np.linalg.norm(face[fm.LOWER_LIP_INNER] - face[fm.UPPER_LIP_INNER])
        if gap > 0.03 * face_w:
            upper = face[fm.UPPER_INNER]
            teeth = np.concatenate([upper, upper[::-1] - up * min(gap * 0.35, face_w * 0.05)])
            self._poly(image, teeth, (235, 232, 225))

    def _arm(self, image, shoulder, elbow, wrist, width):
        look = self.look
        sleeve, skin = look.clothes, look.skin
        if look.sleeves == "long":
            self._limb(image, shoulder, elbow, sleeve, width * 0.24)
            cuff = elbow + (wrist - elbow) * 0.85
            self._limb(image, cuff, wrist, skin, width * 0.14)
            self._limb(image, elbow, cuff, sleeve, width * 0.2)
        else:
            bare = 0.0 if look.sleeves == "none" else 0.5  # where the upper arm's skin starts
            self._limb(image, elbow, wrist, skin, width * 0.16)
            self._limb(image, shoulder + (elbow - shoulder) * bare, elbow, skin, width * 0.19)
            if bare:
                self._limb(image, shoulder, shoulder + (elbow - shoulder) * bare, sleeve, width * 0.25)

    def _hand(self, image, hand, depth, width):
        """hand (21, 2) pixels, depth (21,) z; palm first, then fingers far to near."""
        skin, outline = self.look.skin, _shade(self.look.skin, 0.62)
        palm = hand[[0, 1, 2, 5, 9, 13, 17]]
        hull = cv2.convexHull(_fixed(palm).reshape(-1, 1, 2))
        cv2.fillPoly(image, [hull], outline, AA, SHIFT)
        cv2.polylines(image, [hull], True, outline, max(1, int(round(width * 0.03))), AA, SHIFT)
        inner = hand[[0, 1, 2, 5, 9, 13, 17]].mean(0)
        hull_lit = cv2.convexHull(_fixed(inner + (palm - inner) * 0.85).reshape(-1, 1, 2))
        cv2.fillPoly(image, [hull_lit], skin, AA, SHIFT)
        fingers = [(1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20)]
        thickness = [0.06, 0.052, 0.054, 0.05, 0.043]
        order = np.argsort([-depth[list(f)].mean() for f in fingers])
        for k in order:
            chain = hand[list(fingers[k])]
            w = width * thickness[k]
            cv2.polylines(image, [_fixed(chain)], False, outline, max(1, int(round(w + width * 0.025))), AA, SHIFT)
            cv2.polylines(image, [_fixed(chain)], False, skin, max(1, int(round(w))), AA, SHIFT)


def _unit2(v: np.ndarray) -> np.ndarray:
    return v / max(np.linalg.norm(v), 1e-9)


def _own_joints(body: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """The reduced body (T, 8, 2) pixels (`REDUCED_BODY_POINTS` order), seen (T, 8) -> the same with
    each joint not seen, in frames with both shoulders seen, put where the synthetic person's is
    (motion.py's proportions, in that frame's shoulder widths, along the picture's axes as
    `posevideo.pose.retarget` puts them): a hip under its shoulder, an elbow and then a wrist hanging
    straight down. What a retargeted pose gets from the trained person there, which `render
    --drawn-out` leaves out."""
    from posevideo.pose.layouts import REDUCED_BODY_POINTS
    from posevideo.synthetic.motion import FOREARM, HIP_HALF_WIDTH, TORSO, UPPER_ARM
    at = {name: REDUCED_BODY_POINTS.index(name) for name in REDUCED_BODY_POINTS}
    body = np.array(body, np.float64)
    left, right = body[:, at["LEFT_SHOULDER"]], body[:, at["RIGHT_SHOULDER"]]
    ok = seen[:, at["LEFT_SHOULDER"]] & seen[:, at["RIGHT_SHOULDER"]]
    width = np.linalg.norm(left - right, axis=-1)[:, None]
    across, down = width * [1.0, 0.0], width * [0.0, 1.0]   # one shoulder width, right and down the picture
    mid = (left + right) / 2
    for side, s in (("LEFT", 1), ("RIGHT", -1)):
        joints = {j: at[f"{side}_{j}"] for j in ("SHOULDER", "ELBOW", "WRIST", "HIP")}
        for joint, place in (("HIP", mid + s * HIP_HALF_WIDTH * across + TORSO * down),
                             ("ELBOW", body[:, joints["SHOULDER"]] + UPPER_ARM * down)):
            lost = ok & ~seen[:, joints[joint]]
            body[lost, joints[joint]] = place[lost]
        lost = ok & ~seen[:, joints["WRIST"]]
        body[lost, joints["WRIST"]] = body[lost, joints["ELBOW"]] + FOREARM * down[lost]
    return body


def from_reduced(xy: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """A reduced-layout pose (T, 178, 2) pixels, conf (T, 178) -> the holistic points `Painter.draw`
    takes, (T, 576, 3) (z 0), so any pose as a renderer is given it (`render --drawn-out`) can be
    painted as the synthetic person: what a renderer that had learnt its person perfectly would make.
    The face's 340 points that the reduced layout drops come from the face template, fitted (affine,
    least squares) to the frame's seen face points; a frame with fewer than 10 keeps the last fitted
    face (the first ones: the template under the shoulders). Ears sit just outside the cheeks; a
    hand not seen is folded into its wrist (a dot). A wrist not seen whose hand is seen is the hand's;
    other body joints not seen, with both shoulders seen, are the synthetic person's own
    (`_own_joints`): hips under the shoulders, an arm hanging."""
    from posevideo.pose.layouts import BODY_POINTS, REDUCED_BODY_POINTS, REDUCED_FACE_IDS, point_groups
    xy, seen = np.array(xy, np.float64), np.array(conf) > 0
    groups = point_groups("reduced")
    body, face, hands = groups["body"], np.array(groups["face"]), (groups["left_hand"], groups["right_hand"])
    for side, hand in zip(("LEFT", "RIGHT"), hands):
        wrist = body[REDUCED_BODY_POINTS.index(f"{side}_WRIST")]
        by_hand = ~seen[:, wrist] & seen[:, hand[0]]
        xy[by_hand, wrist], seen[by_hand, wrist] = xy[by_hand, hand[0]], True
    xy[:, body] = _own_joints(xy[:, body], seen[:, body])
    holistic_body = [BODY + BODY_POINTS.index(name) for name in REDUCED_BODY_POINTS]
    template = np.c_[fm.load_template()[:, :2], np.ones(468)].astype(np.float64)      # (468, 3) affine rows
    ids = np.array(REDUCED_FACE_IDS)
    out = np.zeros((len(xy), 576, 3))
    fitted = None
    for t in range(len(xy)):
        P = out[t]
        P[holistic_body, :2] = xy[t, body]
        ok = seen[t, face]
        if ok.sum() >= 10:
            M, *_ = np.linalg.lstsq(template[ids[ok]], xy[t, face[ok]], rcond=None)
            fitted = template @ M
            fitted[ids[ok]] = xy[t, face[ok]]
        elif fitted is None:  # no face yet: the template, a fifth of the shoulder width per unit, above them
            mid, width = (P[BODY + 11, :2] + P[BODY + 12, :2]) / 2, np.linalg.norm(P[BODY + 11, :2] - P[BODY + 12, :2])
            fitted = template[:, :2] * 0.2 * width + mid - [0, 0.6 * width]
        P[FACE:FACE + 468, :2] = fitted
        left, right = fitted[454], fitted[234]
        P[BODY + 7, :2], P[BODY + 8, :2] = left + 0.08 * (left - right), right + 0.08 * (right - left)
        for start, idx, wrist in ((LEFT_HAND, hands[0], 15), (RIGHT_HAND, hands[1], 16)):
            P[start:start + 21, :2] = xy[t, idx] if seen[t, idx].sum() > 10 else P[BODY + wrist, :2]
    return out
