"""Green-screen keying: the green background replaced by a plain colour, soft edges, spill removed.

Works on (H, W, 3) uint8 RGB frames. The key is the green excess g - max(r, b): large on a green
screen, near zero or negative on skin, hair and clothes. Between `low` and `high` the pixel is
part person, part screen (soft edge); everything is despilled (green limited to max(r, b)) so that
the green glow the screen casts on hair and skin goes.
"""
from __future__ import annotations

import cv2
import numpy as np

# Green excess (0-255 scale) below which a pixel is all person, above which it is all screen.
LOW, HIGH = 24.0, 64.0


def green_excess(frame: np.ndarray) -> np.ndarray:
    """g - max(r, b) as float32 (H, W)."""
    rgb = frame.astype(np.float32)
    return rgb[..., 1] - np.maximum(rgb[..., 0], rgb[..., 2])


def _alpha_lut(low: float, high: float) -> np.ndarray:
    excess = np.arange(256, dtype=np.float32)
    return np.round(255 * (1.0 - np.clip((excess - low) / (high - low), 0.0, 1.0))).astype(np.uint8)


def alpha_matte(frame: np.ndarray, low: float = LOW, high: float = HIGH, soften: float = 0.7) -> np.ndarray:
    """Opacity of the person, float32 (H, W) in [0, 1]; `soften` is the edge blur in pixels (sigma)."""
    return _alpha_u8(frame, low, high, soften)[0].astype(np.float32) / 255.0


def _alpha_u8(frame: np.ndarray, low: float, high: float, soften: float):
    """(alpha uint8 (H, W), r, g, b, max(r, b)). In OpenCV's saturating uint8 arithmetic: a
    negative green excess is 0, which is all person anyway."""
    r, g, b = cv2.split(np.ascontiguousarray(frame))
    strongest = cv2.max(r, b)
    alpha = cv2.LUT(cv2.subtract(g, strongest), _alpha_lut(low, high))
    if soften > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), soften)
    return alpha, r, g, b, strongest


def key_frame(frame: np.ndarray, background=(0, 0, 0), low: float = LOW, high: float = HIGH) -> np.ndarray:
    """The frame with its green screen replaced by `background` (RGB), uint8 (H, W, 3)."""
    alpha, r, g, b, strongest = _alpha_u8(frame, low, high, 0.7)
    # Spill suppression: no pixel of the person is greener than its strongest other channel.
    person = cv2.merge([r, cv2.min(g, strongest), b])
    weight = alpha.astype(np.float32) * (1.0 / 255.0)
    plate = np.empty_like(person)
    plate[:] = np.asarray(background, np.uint8)
    return cv2.blendLinear(person, plate, weight, 1.0 - weight)


def _ring(frame: np.ndarray, border: float) -> np.ndarray:
    h, w = frame.shape[:2]
    bh, bw = max(1, int(h * border)), max(1, int(w * border))
    return np.concatenate([frame[:bh].reshape(-1, 3), frame[-bh:].reshape(-1, 3),
                           frame[:, :bw].reshape(-1, 3), frame[:, -bw:].reshape(-1, 3)])


def screen_thresholds(frames: list[np.ndarray], border: float = 0.08) -> tuple[float, float]:
    """(low, high) fitted to this recording's screen: a dim or unevenly lit screen is less green
    than the defaults assume, and would stay half visible. Measured on the frames' border, where
    the screen is; the defaults when the border shows little screen."""
    excess = np.concatenate([green_excess(_ring(f, border)[None])[0] for f in frames]) if frames else np.zeros(0)
    screen = excess[excess > 16]
    if screen.size < 100:
        return LOW, HIGH
    level = float(np.percentile(screen, 10))  # the dimmest tenth of the screen must still key out
    return float(np.clip(0.35 * level, 10, LOW)), float(np.clip(0.8 * level, 24, HIGH))


def looks_green_screen(frames: list[np.ndarray], border: float = 0.08, share: float = 0.6) -> bool:
    """True when most of the frames' border (the outer `border` of each side) is screen green:
    `--key auto` uses this on a few frames from the start of the video."""
    votes = []
    for frame in frames:
        votes.append(float(np.mean(green_excess(_ring(frame, border)[None])[0] > 40)))
    return bool(votes) and float(np.median(votes)) >= share
