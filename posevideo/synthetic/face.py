"""A real 468-point MediaPipe face, animated (jaw, lips, blinks, head turns).

The template was measured once with MediaPipe Holistic (model_complexity=1) on
`skimage.data.astronaut()` (a real photo) and turned to face the camera; `face_template.npy`
holds it. Measuring again: `python -m posevideo.synthetic.face` (needs mediapipe and scikit-image).
Because the points come from the real face mesh, pose-format's `reduce_holistic` face contour
indices land on the synthetic face's eyes, brows, lips and oval.

Template units: outer-eye-corner distance 1; origin at the midpoint of the outer eye corners;
x to the image's right, y down, z away from the camera (MediaPipe's convention).
"""
from __future__ import annotations

from importlib import resources

import numpy as np

# Closed loops (from mediapipe's face_mesh_connections), in drawing order.
FACE_OVAL = [10, 109, 67, 103, 54, 21, 162, 127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152,
             377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356, 389, 251, 284, 332, 297, 338]
LIPS_OUTER = [0, 37, 39, 40, 185, 61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267]
LIPS_INNER = [13, 82, 81, 80, 191, 78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312]
# Eyes: the person's right eye is on the image's left. Upper lid first, then lower lid.
RIGHT_EYE = [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7]
LEFT_EYE = [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249]
RIGHT_UPPER_LID, RIGHT_LOWER_LID = [246, 161, 160, 159, 158, 157, 173], [7, 163, 144, 145, 153, 154, 155]
LEFT_UPPER_LID, LEFT_LOWER_LID = [466, 388, 387, 386, 385, 384, 398], [249, 390, 373, 374, 380, 381, 382]
RIGHT_BROW = [70, 63, 105, 66, 107, 55, 65, 52, 53, 46]
LEFT_BROW = [300, 293, 334, 296, 336, 285, 295, 282, 283, 276]
NOSE_BRIDGE = [168, 6, 197, 195, 5, 4, 1]
NOSE_BOTTOM = [64, 98, 97, 2, 326, 327, 294]
NOSE_TIP, CHIN, FOREHEAD = 1, 152, 10
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
UPPER_LIP_INNER, LOWER_LIP_INNER = 13, 14
LOWER_LIP_OUTER_CENTER = 17
LOWER_LIP = [146, 91, 181, 84, 17, 314, 405, 321, 375, 95, 88, 178, 87, 14, 317, 402, 318, 324]
UPPER_LIP = [185, 40, 39, 37, 0, 267, 269, 270, 409, 191, 80, 81, 82, 13, 312, 311, 310, 415]
UPPER_INNER = [191, 80, 81, 82, 13, 312, 311, 310, 415]  # pairs, image left to right
LOWER_INNER = [95, 88, 178, 87, 14, 317, 402, 318, 324]
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263


def load_template() -> np.ndarray:
    """(468, 3) float32 in template units (module docstring)."""
    with resources.files("posevideo.synthetic").joinpath("face_template.npy").open("rb") as f:
        return np.load(f).astype(np.float32)


def animate(template: np.ndarray, jaw: np.ndarray, blink: np.ndarray, smile: np.ndarray,
            brows: np.ndarray | None = None) -> np.ndarray:
    """Deform the template per frame. jaw, blink, smile, brows: (T,) in [0, 1]. Returns (T, 468, 3).

    The jaw drops everything below the mouth-corner line, most at the lower lip and chin, fading
    towards the cheeks; the upper inner lip lifts a little. A blink moves the upper lids onto the
    lower lids. A smile widens the mouth corners.
    """
    t = template
    mouth_y = (t[MOUTH_RIGHT, 1] + t[MOUTH_LEFT, 1]) / 2
    mouth_x = (t[MOUTH_RIGHT, 0] + t[MOUTH_LEFT, 0]) / 2
    # How much each point follows the jaw: the lower lip fully, the upper lip not at all, the
    # corners a little, the skin below the mouth more the lower it is; fading towards the jaw angle.
    follow = np.clip((t[:, 1] - mouth_y) / (t[LOWER_LIP_OUTER_CENTER, 1] - mouth_y), 0, 1)
    half = abs(t[MOUTH_LEFT, 0] - t[MOUTH_RIGHT, 0]) / 2
    follow[LOWER_LIP] = 1 - 0.6 * np.clip(np.abs(t[LOWER_LIP, 0] - mouth_x) / half, 0, 1) ** 2  # a rounded opening
    follow[UPPER_LIP] = 0
    follow[[MOUTH_RIGHT, MOUTH_LEFT, 78, 308]] = 0.35
    sideways = np.clip(1 - (np.abs(t[:, 0] - mouth_x) / 0.9) ** 2, 0, 1)
    drop = (follow * sideways)[None, :] * jaw[:, None] * 0.24                    # (T, 468) template units
    out = np.repeat(t[None], len(jaw), axis=0)
    out[:, :, 1] += drop
    lift = np.zeros(len(t), np.float32)
    lift[LIPS_INNER[:5] + LIPS_INNER[15:] + [UPPER_LIP_INNER]] = 0.03
    out[:, :, 1] -= lift[None] * jaw[:, None]
    # Smile: mouth corners out and up.
    for index, side in ((MOUTH_RIGHT, -1), (MOUTH_LEFT, 1), (78, -1), (308, 1)):
        out[:, index, 0] += side * 0.06 * smile
        out[:, index, 1] -= 0.03 * smile
    if brows is not None:
        # Points above the eyes rise with the brows, most at the brows, less towards the hairline.
        above = np.clip(-t[:, 1] / 0.15, 0, 1) * np.clip(1 - (-t[:, 1] - 0.2) / 0.5, 0.3, 1)
        out[:, :, 1] -= 0.07 * above[None] * brows[:, None]
    # Blink: each upper-lid point moves towards its lower-lid partner.
    for upper, lower in ((RIGHT_UPPER_LID, RIGHT_LOWER_LID[::-1]), (LEFT_UPPER_LID, LEFT_LOWER_LID[::-1])):
        upper, lower = np.array(upper), np.array(lower)
        closed = t[lower] * 0.8 + t[upper] * 0.2
        out[:, upper] += (closed - t[upper])[None] * blink[:, None, None]
    return out


def measure_template():
    """Run once offline: Holistic on a real photo, frontalized and scaled; writes face_template.npy."""
    import mediapipe as mp
    from skimage import data

    image = data.astronaut()
    with mp.solutions.holistic.Holistic(static_image_mode=True, model_complexity=1) as holistic:
        face = holistic.process(image).face_landmarks
    h, w = image.shape[:2]
    # MediaPipe's z is in the same scale as x (normalized by the image width).
    points = np.array([[p.x * w, p.y * h, p.z * w] for p in face.landmark], np.float64)
    points -= (points[RIGHT_EYE_OUTER] + points[LEFT_EYE_OUTER]) / 2
    # Turn the face to the camera: remove yaw (eye corners at equal depth), then roll (level eyes).
    eye = points[LEFT_EYE_OUTER] - points[RIGHT_EYE_OUTER]
    yaw = np.arctan2(eye[2], eye[0])
    c, s = np.cos(yaw), np.sin(yaw)
    points = points @ np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]]).T
    eye = points[LEFT_EYE_OUTER] - points[RIGHT_EYE_OUTER]
    roll = np.arctan2(eye[1], eye[0])
    c, s = np.cos(-roll), np.sin(-roll)
    points = points @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T
    # Pitch: forehead and chin at equal depth, so the face looks straight ahead.
    axis = points[CHIN] - points[FOREHEAD]
    pitch = np.arctan2(axis[2], axis[1])
    c, s = np.cos(-pitch), np.sin(-pitch)
    points = points @ np.array([[1, 0, 0], [0, c, -s], [0, s, c]]).T
    points /= np.linalg.norm(points[LEFT_EYE_OUTER] - points[RIGHT_EYE_OUTER])
    # The photo smiles with parted lips: close the mouth (the animation opens it again), lifting
    # the lower lip and chin by the lip gap, fading out towards the cheeks as the jaw does.
    gap = points[LOWER_LIP_INNER, 1] - points[UPPER_LIP_INNER, 1]
    mouth_y = (points[MOUTH_RIGHT, 1] + points[MOUTH_LEFT, 1]) / 2
    weight = np.clip((points[:, 1] - mouth_y) / (points[LOWER_LIP_INNER, 1] - mouth_y), 0, 1)
    points[:, 1] -= gap * weight * 0.97
    for upper, lower in zip(UPPER_INNER, LOWER_INNER):
        points[lower, 1] = max(points[lower, 1], points[upper, 1] + 0.005)
    path = resources.files("posevideo.synthetic").joinpath("face_template.npy")
    np.save(str(path), points.astype(np.float32))
    return points


if __name__ == "__main__":
    measure_template()
