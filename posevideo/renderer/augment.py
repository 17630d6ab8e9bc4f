"""Arms where the footage never had them: copies of a short recording's training frames with the
arms turned.

A renderer trained on seconds of one person learns arms only where that footage held them; another
person's pose puts the arms elsewhere, and it draws translucent, clothes-textured shapes there
(BENCHMARKS.md, "`v1` against v2 trained from scratch on a real person"). `warp_arms` makes new
training pairs from the frames it has: an arm is cut out along its bones (inside the person's
segmentation mask), turned at the shoulder and at the elbow, and pasted back in front; the place it
left is filled from around it (OpenCV's inpainting). The same turns move the drawn pose's elbow,
wrist and hand points, and the skeleton image is drawn again from them.

    bank = warp_arms(load_frames(DATA, speaker, 256, "train"), copies=3, seed=0)

Coordinates are the bank's crop pixels (x right, y down); angles in degrees, positive turning
counter-clockwise on screen.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

from posevideo.errors import InputError
from posevideo.renderer.data import FrameBank, concat, regions

# The reduced layout's arm points: shoulder, elbow, wrist, and the hand group that hangs from the wrist.
ARMS = {"left": (0, 2, 4, "left_hand"), "right": (1, 3, 5, "right_hand")}
SHOULDER_DEG = 45.0   # the upper arm turns by up to this much at the shoulder
ELBOW_DEG = 120.0     # the forearm by up to this much at the elbow
# Widths of the cut, as fractions of the shoulder width: every pixel of the person within the first of
# each pair moves; within the second, only pixels of the face's colour (bare skin: an arm in front of
# the body takes no clothes with it).
UPPER_RADIUS, FORE_RADIUS, HAND_RADIUS = (0.09, 0.20), (0.07, 0.16), (0.05, 0.12)
SKIN_DISTANCE = 3.0   # Mahalanobis distance in Lab's a, b from the face's colours that counts as skin
UPPER_FROM = 0.25     # the upper arm's cut starts this far down the bone: the shoulder itself stays


def person_masks(frames: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) uint8 RGB -> (N, S, S) bool, the person: MediaPipe's selfie segmentation (its
    model ships in the mediapipe wheel, nothing is downloaded)."""
    import mediapipe as mp
    from posevideo.pose.extract import QuietStart
    with QuietStart(), mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as model:
        return np.stack([model.process(np.ascontiguousarray(f)).segmentation_mask > 0.5 for f in frames])


@functools.lru_cache(maxsize=4)
def _pixel_centres(size: int) -> np.ndarray:
    """(S, S, 2) float32 x, y of each pixel's centre (made once a size: every cut asks for it)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    return np.stack([xx, yy], -1)


def _distance(size: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(S, S) float32: each pixel's distance from the segment a-b."""
    p = _pixel_centres(size) - a                                                # (S, S, 2)
    ab = (b - a).astype(np.float32)
    t = np.clip((p @ ab) / max(float(ab @ ab), 1e-6), 0, 1)
    return np.linalg.norm(p - t[..., None] * ab, axis=-1)


def skin(frame: np.ndarray, xy: np.ndarray, conf: np.ndarray) -> np.ndarray | None:
    """(S, S) bool: pixels of the face's colour (Lab a, b within SKIN_DISTANCE of the face's), or
    None without a face. The face: the hull of the reduced pose's face points."""
    from posevideo.pose import point_groups
    face = [i for i in point_groups("reduced")["face"] if conf[i] > 0]
    if len(face) < 10:
        return None
    inside = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillConvexPoly(inside, cv2.convexHull(np.round(xy[face]).astype(np.int32)), 1)
    ab = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2LAB)[..., 1:].astype(np.float32)
    sample = ab[inside.astype(bool)]
    if len(sample) < 20:
        return None
    mean, cov = sample.mean(0), np.cov(sample.T) + np.eye(2)
    d = ab - mean
    return np.einsum("...i,ij,...j->...", d, np.linalg.inv(cov), d) <= SKIN_DISTANCE ** 2


def _turn(centre: np.ndarray, degrees: float) -> np.ndarray:
    """(3, 3) the turn about `centre` (cv2's convention, which `cv2.warpAffine` applies to images)."""
    return np.vstack([cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), degrees, 1.0), [0, 0, 1]])


def _moved(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def turned_points(xy: np.ndarray, conf: np.ndarray, side: str, shoulder_deg: float, elbow_deg: float,
                  size: int, margin: float = 2.0):
    """The pose with one arm turned: the upper arm by `shoulder_deg` about the shoulder, then the
    forearm and hand by `elbow_deg` more about the (moved) elbow. xy (K, 2) reduced pose in crop
    pixels, conf (K,). Returns (xy, upper, fore): the moved points and the two (3, 3) turns, or None
    where the shoulders, the elbow or the wrist are not seen or a moved point would leave the
    `size` picture (`margin` pixels inside)."""
    from posevideo.pose import point_groups
    s, e, w, hand = ARMS[side]
    if not (conf[[0, 1, s, e, w]] > 0).all() or np.linalg.norm(xy[0] - xy[1]) < 4:
        return None
    upper = _turn(xy[s], shoulder_deg)
    fore = _turn(_moved(xy[e], upper), elbow_deg) @ upper
    new = xy.copy()
    new[e] = _moved(xy[e], upper)
    moving = [w, *[i for i in point_groups("reduced")[hand] if conf[i] > 0]]
    new[moving] = _moved(xy[moving], fore)
    seen = [e, *moving]
    if not ((new[seen] >= margin) & (new[seen] <= size - 1 - margin)).all():
        return None
    return new, upper, fore


def turn_arm(frame: np.ndarray, person: np.ndarray, xy: np.ndarray, conf: np.ndarray, side: str,
             shoulder_deg: float, elbow_deg: float, margin: float = 2.0):
    """One arm of one frame turned as `turned_points` turns its points: frame (S, S, 3) uint8,
    person (S, S) bool (`person_masks`). Returns (frame, person, xy) turned, or None (see
    `turned_points`)."""
    from posevideo.pose import point_groups
    size = frame.shape[0]
    moved = turned_points(xy, conf, side, shoulder_deg, elbow_deg, size, margin)
    if moved is None:
        return None
    new, upper_m, fore_m = moved
    s, e, w, hand = ARMS[side]
    hand_idx = [i for i in point_groups("reduced")[hand] if conf[i] > 0]
    width = float(np.linalg.norm(xy[0] - xy[1]))
    # What moves: the person's pixels near the bones, and bare skin a little further out (the hand:
    # near its seen points and the wrist, or a hand's length past the wrist where none is seen).
    bare = skin(frame, xy, conf)

    def cut(segments, radii):
        core = np.zeros(person.shape, bool)
        band = np.zeros(person.shape, bool)
        for a, b in segments:
            d = _distance(size, a, b)
            core |= d <= radii[0] * width
            band |= d <= radii[1] * width
        return person & (core | (band & bare) if bare is not None else core)

    upper = cut([(xy[s] + UPPER_FROM * (xy[e] - xy[s]), xy[e])], UPPER_RADIUS)
    reach = xy[w] + 0.45 * width * (xy[w] - xy[e]) / max(float(np.linalg.norm(xy[w] - xy[e])), 1e-6)
    fore = cut([(xy[e], xy[w])], FORE_RADIUS) | cut([(xy[w], xy[i]) for i in hand_idx] or [(xy[w], reach)], HAND_RADIUS)
    # The place the arm leaves, filled from around it; then the turned arm pasted in front, its edge softened.
    left = cv2.dilate((upper | fore).astype(np.uint8), np.ones((5, 5), np.uint8))
    out = cv2.inpaint(np.ascontiguousarray(frame), left, 5, cv2.INPAINT_TELEA).astype(np.float32)
    mask_out = person & ~left.astype(bool)
    for part, m in ((upper, upper_m), (fore, fore_m)):
        image = cv2.warpAffine(frame, m[:2], (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.warpAffine(part.astype(np.float32), m[:2], (size, size), flags=cv2.INTER_LINEAR)
        alpha = cv2.GaussianBlur(alpha, (3, 3), 0)[..., None]
        out = alpha * image + (1 - alpha) * out
        mask_out |= alpha[..., 0] > 0.5
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), mask_out, new


CHUNK = 8  # consecutive frames of an interval turned alike: each copy keeps frame-to-frame pairs


def warp_arms(bank: FrameBank, copies: int, seed: int = 0, tries: int = 20, progress: bool = True) -> FrameBank:
    """`bank` and `copies` turned copies of each of its frames after it (on the bank's device). A copy
    turns runs of CHUNK consecutive frames of an interval alike, so the pair terms and the temporal
    model still find consecutive frames in it (each run a clip of its own): each arm with its
    shoulder, elbow and wrist seen is turned with probability 0.7 (at least one is tried), by angles
    drawn uniformly within SHOULDER_DEG and ELBOW_DEG that keep every frame of the run in the
    picture. The copies' skeletons are drawn again from the moved points. The same seed, the same
    copies."""
    from tqdm import tqdm
    from posevideo.skeleton import draw_skeletons
    if copies <= 0:
        return bank
    if "pose_xy" not in bank.meta or "pose_conf" not in bank.meta:
        raise InputError(None, "the frames carry no drawn poses, so their arms cannot be turned",
                         "Pack the bank again with today's `posevideo pack-frames`, or train on the DATA folder.")
    frames = bank.frames.cpu().numpy()
    size = frames.shape[1]
    xy, conf = bank.meta["pose_xy"].astype(np.float32), bank.meta["pose_conf"].astype(np.float32)
    clip = np.asarray(bank.meta.get("clip", np.zeros(len(frames), np.int32)))
    starts = np.flatnonzero(np.r_[True, clip[1:] != clip[:-1]])
    runs = [list(range(a, b))[i:i + CHUNK] for a, b in zip(starts, np.r_[starts[1:], len(clip)])
            for i in range(0, b - a, CHUNK)]
    people = person_masks(frames)
    rng = np.random.default_rng(seed)
    out_frames, out_xy, source, clips = [], [], [], []
    with tqdm(total=copies * len(frames), desc="turning arms", unit="frame", disable=not progress) as bar:
        for _ in range(copies):
            for run in runs:
                images, persons, points = [frames[i] for i in run], [people[i] for i in run], [xy[i] for i in run]
                for side in [side for side in ARMS if rng.random() < 0.7] or [str(rng.choice(list(ARMS)))]:
                    for _ in range(tries):
                        angles = rng.uniform(-SHOULDER_DEG, SHOULDER_DEG), rng.uniform(-ELBOW_DEG, ELBOW_DEG)
                        if all(turned_points(p, conf[i], side, *angles, size) is not None for p, i in zip(points, run)):
                            turned = [turn_arm(f, m, p, conf[i], side, *angles)
                                      for f, m, p, i in zip(images, persons, points, run)]
                            images, persons, points = (list(t) for t in zip(*turned))
                            break
                out_frames += images
                out_xy += points
                source += run
                clips += [clips[-1] + 1 if clips else 0] * len(run)        # a clip of its own (concat numbers on)
                bar.update(len(run))
    source = np.asarray(source)
    new_xy = np.stack(out_xy).astype(np.float32)
    new_conf = conf[source]
    meta = {k: np.asarray(v)[source] for k, v in bank.meta.items()}
    meta.update(clip=np.asarray(clips, np.int32), pose_xy=new_xy, pose_conf=new_conf,
                regions=regions(new_xy, new_conf))
    skeletons = draw_skeletons(new_xy, new_conf, "reduced", size)
    turned = FrameBank(skeletons, np.stack(out_frames), bank.device, bank.stats, meta)
    return concat([bank, turned], bank.device)
