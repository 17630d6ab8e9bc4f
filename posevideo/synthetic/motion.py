"""The synthetic speaker's gestures: a generative process from speech features to a holistic pose.

The process, frame by frame (video frames at `fps`; all audio features are computed from the audio
alone, so a model that listens can recover most of the motion):

- speech activity `active` (0..1): the sentence intervals, widened by 0.25 s before and 0.3 s after
  and smoothed (sigma 0.2 s): hands rise into gesture space when a phrase starts and sink back to
  rest in the pauses.
- loudness `loud` (0..1, 0.25 s smoothing) spreads the hands wider and higher and opens the fingers;
  pitch `pitch` (semitones from the voice's median / 4, smoothed 0.15 s) lifts the hands and the chin.
- beats: peaks of the loudness rise (onsets, at least 0.22 s apart) each give a quick downward
  and outward stroke of the hands (a 70 ms Gaussian bump centred 40 ms after the onset, scaled by
  the onset's strength), a finger flick, a head nod and raised brows (brows also rise with pitch).
- over each phrase the hands swing outward and back (half a sine over the sentence's duration);
  on the phrase's strongest onset the leading hand reaches out with an open palm (0.25 s bump).
- mouth: the jaw opens with the fast loudness envelope (one-frame smoothing) - near deterministic.
- per phrase: both hands gesture when the phrase's mean pitch is above the style's threshold,
  else the per-seed dominant hand leads (the other stays low); a small random offset of the
  gesture's place (the only per-phrase randomness).
- idle, always: breathing (shoulders, ~0.25 Hz), slow sway of the body and head, small hand drift,
  and blinks at random times (Poisson, per-seed rate).
- a per-seed `Style` scales all of this (amplitude, beat strength, pitch lift, nod, finger
  openness, pointing habit, mouth gain...) and places the body in the frame.

Geometry is 3D in "body units" (shoulder width = 1; x to the image's right, y down, z away from
the camera, origin at the shoulder midpoint), projected orthographically to pixels. Output points
follow MediaPipe Holistic: POSE_LANDMARKS 33, FACE_LANDMARKS 468, LEFT_HAND 21, RIGHT_HAND 21,
POSE_WORLD_LANDMARKS 33 (576). "Left" is the person's left: the image's right.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from posevideo.audio import SAMPLE_RATE
from posevideo.synthetic import face as facemesh

# Offsets of the components in the 576-point holistic layout.
BODY, FACE, LEFT_HAND, RIGHT_HAND, WORLD = 0, 33, 501, 522, 543
POINTS = 576
SHOULDER_METRES = 0.38  # a body unit in metres, for POSE_WORLD_LANDMARKS
UPPER_ARM, FOREARM = 0.79, 0.68  # body units (0.30 m and 0.26 m)
HIP_HALF_WIDTH, TORSO = 0.34, 1.6  # each hip's distance out from the body's middle, and down from the shoulders
FEATURE_RATE = 100  # audio feature frames per second (hop 10 ms at 16 kHz)


@dataclass(frozen=True)
class Style:
    """How one synthetic person moves; drawn from the seed, recorded in the JSON."""
    dominant: str          # "right" or "left": the hand that leads most phrases
    both_hands_pitch: float  # phrases whose mean pitch is above this use both hands
    amplitude: float       # size of the gesture space
    beat: float            # stroke size of beat gestures
    pitch_lift: float      # how much pitch raises the hands
    nod: float             # head nod on beats (radians)
    openness: float        # how far the fingers open when speaking
    pointing: float        # 0: open hand, 1: index finger extended, others curled
    mouth_gain: float      # jaw opening for a given loudness
    sway: float            # idle sway of body and head
    blink_per_minute: float
    scale: float           # body size in the frame (shoulder width / frame side)
    shift: float           # horizontal placement (fraction of the frame side)
    head: float            # head size relative to the shoulders

    def as_dict(self) -> dict:
        return asdict(self)


def style_for_seed(rng: np.random.Generator) -> Style:
    return Style(
        dominant="right" if rng.random() < 0.75 else "left",
        both_hands_pitch=float(rng.uniform(-0.15, 0.15)), amplitude=float(rng.uniform(0.85, 1.2)),
        beat=float(rng.uniform(0.8, 1.3)), pitch_lift=float(rng.uniform(0.6, 1.4)),
        nod=float(rng.uniform(0.05, 0.12)), openness=float(rng.uniform(0.6, 1.0)),
        pointing=float(rng.uniform(0.0, 0.8)), mouth_gain=float(rng.uniform(0.9, 1.3)),
        sway=float(rng.uniform(0.6, 1.4)), blink_per_minute=float(rng.uniform(10, 22)),
        scale=float(rng.uniform(0.37, 0.42)), shift=float(rng.uniform(-0.03, 0.03)),
        head=float(rng.uniform(0.94, 1.08)))


@dataclass
class Features:
    """Speech features per video frame, each (T,)."""
    active: np.ndarray     # 0..1 speech activity (phrases)
    loud: np.ndarray       # 0..1 slow loudness
    mouth: np.ndarray      # 0..1 fast loudness envelope
    pitch: np.ndarray      # about -1.5..1.5: semitones from the median / 4
    beat: np.ndarray       # 0..~1 sum of stroke bumps at onsets
    onsets: np.ndarray     # onset times in seconds
    strengths: np.ndarray  # onset strengths, 0..1.5


def speech_features(audio: np.ndarray, sentences: list[dict], frames: int, fps: float,
                    sample_rate: int = SAMPLE_RATE) -> Features:
    import librosa

    hop = sample_rate // FEATURE_RATE
    # Loudness in dB on a 10 ms grid, mapped to 0..1 over the 40 dB below the speaker's loud level.
    padded = np.pad(audio, (hop, hop))
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * hop)[::hop]   # (F, 320)
    db = 10 * np.log10(np.mean(windows.astype(np.float64) ** 2, axis=1) + 1e-10)
    speech = db > db.max() - 50
    top = np.percentile(db[speech], 95) if speech.any() else 0.0
    env = np.clip((db - (top - 40)) / 40, 0, 1)                                   # (F,)
    times = np.arange(len(env)) / FEATURE_RATE
    # Onsets: peaks of the rise of a lightly smoothed envelope.
    rise = np.maximum(np.diff(gaussian_filter1d(env, 2), prepend=env[0]), 0)
    peaks, props = find_peaks(rise, height=0.02, distance=int(0.22 * FEATURE_RATE))
    strength = np.clip(props["peak_heights"] / 0.06, 0, 1.5)
    onsets = times[peaks]
    # Pitch (YIN) on voiced frames, in semitones from the median, held across unvoiced gaps.
    f0 = librosa.yin(audio.astype(np.float32), fmin=70, fmax=400, sr=sample_rate, frame_length=1024,
                     hop_length=hop, center=True)[:len(env)]
    f0 = np.pad(f0, (0, len(env) - len(f0)), mode="edge")
    voiced = env > 0.45
    semis = np.zeros_like(env)
    if voiced.sum() > 10:
        tones = 12 * np.log2(f0 / np.median(f0[voiced]))
        semis = np.interp(times, times[voiced], np.clip(tones[voiced], -12, 12))
    pitch = np.clip(gaussian_filter1d(semis, 0.15 * FEATURE_RATE) / 4, -1.5, 1.5)

    t = np.arange(frames) / fps                                                    # (T,) seconds
    inside = np.zeros(frames)
    for s in sentences:
        inside[(t >= s["start"] - 0.25) & (t <= s["end"] + 0.3)] = 1
    active = np.clip(gaussian_filter1d(inside, 0.2 * fps), 0, 1)
    loud = np.interp(t, times, gaussian_filter1d(env, 0.25 * FEATURE_RATE))
    mouth = np.interp(t, times, gaussian_filter1d(env, 0.02 * FEATURE_RATE))
    beat = np.zeros(frames)
    for onset, s in zip(onsets, strength):
        beat += s * np.exp(-0.5 * ((t - onset - 0.04) / 0.07) ** 2)
    return Features(active=active, loud=loud / max(loud.max(), 1e-6), mouth=mouth,
                    pitch=np.interp(t, times, pitch), beat=np.clip(beat, 0, 1.5), onsets=onsets,
                    strengths=strength)


def _slow_noise(rng: np.random.Generator, t: np.ndarray, low: float = 0.05, high: float = 0.35) -> np.ndarray:
    """Smooth noise in about -1..1: a few sinusoids with seeded frequencies and phases."""
    freqs, phases = rng.uniform(low, high, 4), rng.uniform(0, 2 * np.pi, 4)
    return np.sin(2 * np.pi * freqs[:, None] * t[None] + phases[:, None]).sum(0) / 2


def _rotation(yaw, pitch, roll) -> np.ndarray:
    """(T, 3, 3): roll about z, then pitch about x (positive: chin down), yaw about y."""
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    one, zero = np.ones_like(yaw), np.zeros_like(yaw)
    ry = np.stack([np.stack([cy, zero, sy], -1), np.stack([zero, one, zero], -1), np.stack([-sy, zero, cy], -1)], -2)
    rx = np.stack([np.stack([one, zero, zero], -1), np.stack([zero, cp, -sp], -1), np.stack([zero, sp, cp], -1)], -2)
    rz = np.stack([np.stack([cr, -sr, zero], -1), np.stack([sr, cr, zero], -1), np.stack([zero, zero, one], -1)], -2)
    return rz @ rx @ ry


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _elbow(shoulder: np.ndarray, wrist: np.ndarray, pole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-bone IK. shoulder, wrist (T, 3); pole (3,) or (T, 3) where the elbow points. Returns
    (elbow, wrist) with the wrist pulled in if it was out of reach."""
    d = wrist - shoulder
    dist = np.clip(np.linalg.norm(d, axis=-1, keepdims=True), 0.3, UPPER_ARM + FOREARM - 1e-3)
    direction = _unit(d)
    wrist = shoulder + direction * dist
    cos_a = np.clip((UPPER_ARM ** 2 + dist ** 2 - FOREARM ** 2) / (2 * UPPER_ARM * dist), -1, 1)
    pole = np.broadcast_to(pole, d.shape)
    side = _unit(pole - (direction * pole).sum(-1, keepdims=True) * direction)
    return shoulder + UPPER_ARM * (cos_a * direction + np.sqrt(1 - cos_a ** 2) * side), wrist


# Fingers: MCP place on the palm (along, across toward the thumb), spread angle, segment lengths.
_FINGERS = (
    ((0.25, 0.075), 0.14, (0.105, 0.065, 0.055)),   # index
    ((0.27, 0.022), 0.0, (0.115, 0.075, 0.06)),     # middle
    ((0.255, -0.03), -0.12, (0.11, 0.07, 0.055)),   # ring
    ((0.225, -0.075), -0.26, (0.085, 0.055, 0.05)), # pinky
)
_THUMB = ((0.05, 0.06), (0.095, 0.07, 0.06))


def _hand(wrist, along, palm, thumb_side, curls, thumb_curl, spread) -> np.ndarray:
    """21 MediaPipe hand points (T, 21, 3). along: wrist to fingers; palm: the way the palm faces;
    thumb_side: across the palm to the thumb (all (T, 3) unit vectors). curls (T, 4) 0..1 for
    index..pinky; thumb_curl, spread (T,)."""
    out = np.zeros((len(wrist), 21, 3))
    out[:, 0] = wrist
    for f, ((a, c), angle, lengths) in enumerate(_FINGERS):
        base = wrist + a * along + c * thumb_side
        ang = (angle * spread)[:, None]
        direction = np.cos(ang) * along + np.sin(ang) * thumb_side               # in the palm plane
        bends = (1.3, 1.6, 1.0)                                                  # radians at curl 1
        point, total = base, np.zeros(len(wrist))
        out[:, 5 + 4 * f] = base
        for j, (length, bend) in enumerate(zip(lengths, bends)):
            total = total + bend * curls[:, f]
            # Fingers curl towards the palm side (the way the palm faces).
            segment = np.cos(total)[:, None] * direction + np.sin(total)[:, None] * palm
            point = point + length * segment
            out[:, 6 + 4 * f + j] = point
    (a, c), lengths = _THUMB
    point = wrist + a * along + c * thumb_side
    out[:, 1] = point
    rest = _unit(0.55 * along + 0.75 * thumb_side + 0.35 * palm)
    across = _unit(0.6 * along - 0.3 * thumb_side + 0.75 * palm)                 # over the palm
    total = np.zeros(len(wrist))
    for j, length in enumerate(lengths):
        total = total + 0.45 * thumb_curl
        direction = _unit(np.cos(total)[:, None] * rest + np.sin(total)[:, None] * across)
        point = point + length * direction
        out[:, 2 + j] = point
    return out


# Handshapes of signed languages as finger curls (index, middle, ring, pinky; 0 straight, 1 curled),
# thumb curl and spread: flat B, fist A/S, index 1, V, W, Y, I, claw, bent B, O, C, L (with the thumb out).
_HANDSHAPES = np.array([
    (0.0, 0.0, 0.0, 0.0, 0.6, 0.2), (1.0, 1.0, 1.0, 1.0, 0.8, 0.2), (0.0, 1.0, 1.0, 1.0, 0.9, 0.3),
    (0.0, 0.0, 1.0, 1.0, 0.9, 1.2), (0.0, 0.0, 0.0, 1.0, 0.9, 1.1), (1.0, 1.0, 1.0, 0.0, 0.0, 1.3),
    (1.0, 1.0, 1.0, 0.0, 0.9, 0.6), (0.55, 0.55, 0.55, 0.55, 0.3, 1.3), (0.6, 0.6, 0.6, 0.6, 0.6, 0.1),
    (0.7, 0.7, 0.75, 0.8, 0.7, 0.3), (0.35, 0.35, 0.35, 0.35, 0.2, 0.5), (0.0, 1.0, 1.0, 1.0, 0.0, 0.4),
])


def _signs(rng: np.random.Generator, T: int, fps: float, side: int, active: float,
           hang: float = 0.5, wide: float = 0.0) -> dict[str, np.ndarray]:
    """One hand's signing, as holds and moves: every 0.3-0.9 s a new place in the signing space (face
    to waist, across the midline), palm direction and handshape, smoothed into moves of about 0.15 s.
    side -1 right hand, +1 left; `active`: the share of holds in which this hand signs (else it rests:
    low in front, or with the share `hang` of the rests the arm hanging straight at the side, the
    hand by the hip at the bottom of the person crop, as signers stand between signs); `wide`: the
    share of signing holds in which the hand reaches out wide or above the head instead, the elbow
    out and up (arms spread, waving: what some drivers do and signing space never asks; 0, the
    default, draws nothing more from `rng`, so the motion is as before). Returns per frame: target (T, 3) body units from the shoulder midpoint, palm roll (T,)
    (0 palm to the midline, pi/2 to the camera), fingers-up tilt (T,), curls (T, 4), thumb, spread (T,),
    elbow raise (T,) (0 elbow down, 1 out to the side, the forearm level across the chest).
    Why: the speech gestures keep the hands low and open; a renderer trained on them alone has never
    seen a hand at the face, across the body or in a fist, which is what signers' poses ask for."""
    keys = {k: np.zeros((T,) + shape) for k, shape in
            (("target", (3,)), ("roll", ()), ("tilt", ()), ("curls", (4,)), ("thumb", ()), ("spread", ()),
             ("raise", ()))}
    start = 0
    while start < T:
        length = int(rng.uniform(0.3, 0.9) * fps) + 1
        hold = slice(start, min(T, start + length))
        if rng.random() < active:
            x = side * rng.uniform(-0.35, 0.8)                    # across the midline to out wide
            y = rng.uniform(-0.55, 1.2)                            # forehead to waist
            keys["target"][hold] = (x, y, rng.uniform(-0.65, -0.25))
            reach = wide > 0 and rng.random() < wide               # out wide or above the head
            if reach:
                keys["target"][hold] = (side * rng.uniform(0.9, 1.5), rng.uniform(-1.5, 0.3), rng.uniform(-0.4, -0.1))
            keys["roll"][hold] = rng.uniform(-0.6, 2.2)
            keys["tilt"][hold] = rng.uniform(0.0, 1.6)
            shape = _HANDSHAPES[rng.integers(len(_HANDSHAPES))]
            keys["curls"][hold] = np.clip(shape[:4] + rng.normal(0, 0.08, 4), 0, 1)
            keys["thumb"][hold], keys["spread"][hold] = shape[4], shape[5]
            keys["raise"][hold] = rng.uniform(0.6, 1) if reach else rng.uniform(0, 1) ** 2  # mostly down, now and then out wide
        elif rng.random() < hang:                                  # at rest, the arm hanging at the side
            keys["target"][hold] = (side * rng.uniform(0.5, 0.62), rng.uniform(1.3, 1.42), rng.uniform(-0.15, -0.05))
            keys["roll"][hold], keys["tilt"][hold] = 0.0, 0.0
            keys["curls"][hold] = (0.3, 0.35, 0.4, 0.45)
            keys["thumb"][hold], keys["spread"][hold] = 0.4, 0.4
        else:                                                      # at rest, low in front
            keys["target"][hold] = (side * rng.uniform(0.15, 0.3), rng.uniform(1.0, 1.15), -0.3)
            keys["roll"][hold], keys["tilt"][hold] = 0.0, 0.0
            keys["curls"][hold] = (0.45, 0.5, 0.55, 0.6)
            keys["thumb"][hold], keys["spread"][hold] = 0.5, 0.5
        start += length
    return {k: gaussian_filter1d(v, 0.06 * fps, axis=0, mode="nearest") for k, v in keys.items()}


def _together(rng: np.random.Generator, T: int, fps: float, share: float = 0.35,
              side_share: float = 0.3) -> dict[str, np.ndarray]:
    """Two-handed signs: holds of 0.4-1.2 s in which, with probability `share`, both hands go to one
    place in front of the body (face to waist, from the midline to in front of either shoulder),
    side by side or one over the other, touching, overlapping or clasped with the wrists up to half a
    shoulder width apart, one nearer the camera; the share `side_share` of them clasped low, off to
    one side. Returns per frame: weight (T,) 0..1 (how far the hands have moved there), the place
    (T, 3) body units from the shoulder midpoint, and the offset (T, 3) of the left hand from the
    place (the right hand takes minus it).
    Why: signers' hands meet in front of the chest (clasped, stacked, one tapping the other) in many
    signs; one-handed holds drawn apart almost never put them there, and a renderer that never saw
    two hands together paints them as one blob. Real people also hold them clasped off to one side at
    the waist (liveportrait_s29: the pair's middle 0.38 shoulder widths off the midline, 0.93 below the
    shoulders) or clasped with the fingers laced (liveportrait_s20: wrists 0.5 apart)."""
    weight, place, offset = np.zeros(T), np.zeros((T, 3)), np.zeros((T, 3))
    start = 0
    while start < T:
        hold = slice(start, min(T, start + int(rng.uniform(0.4, 1.2) * fps) + 1))
        if rng.random() < share:
            weight[hold] = 1.0
            if rng.random() < side_share:                                  # clasped off to one side, low
                place[hold] = (rng.choice((-1.0, 1.0)) * rng.uniform(0.25, 0.45), rng.uniform(0.75, 1.15),
                               rng.uniform(-0.5, -0.3))
            else:
                place[hold] = (rng.uniform(-0.45, 0.45), rng.uniform(-0.5, 1.2), rng.uniform(-0.6, -0.35))
            gap = rng.uniform(0.03, 0.24)                                  # half the wrists' distance, body units
            angle = rng.uniform(-np.pi / 2, np.pi / 2)                     # side by side .. stacked
            depth = rng.choice((-1.0, 1.0)) * rng.uniform(0.02, 0.08)
            offset[hold] = (gap * np.cos(angle), gap * np.sin(angle), depth)
        start = hold.stop
    smooth = lambda v: gaussian_filter1d(v, 0.06 * fps, axis=0, mode="nearest")
    return {"weight": smooth(weight), "place": smooth(place), "offset": smooth(offset)}


def generate(features: Features, sentences: list[dict], style: Style, rng: np.random.Generator,
             fps: float, size: int, signing: bool = False, wide: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The holistic pose of the speaker: xyz (T, 576, 3) pixels (z in pixels too, toward the camera
    negative) and conf (T, 576). World landmarks are metres around the hip midpoint.
    signing: the hands sign (`_signs`: places from face to waist, across the body, many handshapes,
    elbows now and then out to the side; `_together`: both hands meeting in front of the body)
    instead of gesturing to the speech; face, head and trunk move as before. wide: with signing,
    the share of signing holds that reach out wide or above the head (`_signs`)."""
    f = features
    T = len(f.active)
    t = np.arange(T) / fps
    sway = style.sway

    # Per phrase: which hands gesture follows the phrase's melody (both when its mean pitch is above
    # the style's threshold, else the dominant hand leads); a small random place offset.
    lead = {"right": np.zeros(T), "left": np.zeros(T)}
    offset = np.zeros((T, 2))
    arc = np.zeros(T)                                                             # body units, outward swing
    present = np.zeros(T)                                                         # 0..1 open-palm reach
    other = "left" if style.dominant == "right" else "right"
    for s in sentences:
        window = (t >= s["start"] - 0.6) & (t <= s["end"] + 0.6)
        spoken = (t >= s["start"]) & (t <= s["end"])
        high = f.pitch[spoken].mean() > style.both_hands_pitch if spoken.any() else False
        hands = (style.dominant, other) if high else (style.dominant,)
        for hand in (style.dominant, other):
            lead[hand][window] = 1.0 if hand in hands else 0.5
        offset[window] = rng.normal(0, 0.03, 2)
        # Over a phrase the hands open outward and come back: a slow arc tied to the phrase's timing.
        progress = np.clip((t - s["start"]) / max(s["end"] - s["start"], 0.1), 0, 1)
        arc += 0.08 * style.amplitude * np.sin(np.pi * progress) * ((t >= s["start"]) & (t <= s["end"]))
        # On the phrase's strongest onset the leading hand reaches out, palm open to the listener.
        inside = (f.onsets >= s["start"]) & (f.onsets <= s["end"])
        if inside.any():
            peak = f.onsets[inside][np.argmax(f.strengths[inside])]
            present = np.maximum(present, np.exp(-0.5 * ((t - peak - 0.1) / 0.25) ** 2))
    for hand in lead:
        lead[hand] = gaussian_filter1d(lead[hand], 0.25 * fps)
    offset = gaussian_filter1d(offset, 0.3 * fps, axis=0)
    arc = gaussian_filter1d(arc, 0.1 * fps)

    # Trunk: breathing, slow sway; shoulders rise a little while gesturing.
    breath = np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 2 * np.pi))
    lean_x = 0.03 * sway * _slow_noise(rng, t)
    center = np.stack([lean_x, -0.01 * breath, np.zeros(T)], -1)                 # (T, 3) shoulder midpoint
    shrug = 0.02 * f.active * f.loud + 0.008 * breath
    shoulders = {s: center + np.stack([np.full(T, 0.5 * s), -shrug, np.zeros(T)], -1) for s in (-1, 1)}
    hips = {s: np.stack([np.full(T, HIP_HALF_WIDTH * s) + 0.3 * lean_x, np.full(T, TORSO), np.zeros(T)], -1)
            for s in (-1, 1)}

    # Head: nods on beats, lifts with pitch, sways; looks a little toward the leading hand.
    yaw = 0.12 * sway * _slow_noise(rng, t) + 0.08 * (lead["left"] - lead["right"]) * f.active
    pitch = style.nod * f.beat * f.active - 0.05 * f.pitch * f.active + 0.03 * _slow_noise(rng, t)
    roll = 0.05 * sway * _slow_noise(rng, t)
    rotation = _rotation(yaw, pitch, roll)                                        # (T, 3, 3)
    pivot = center + np.array([0.0, -0.42, 0.1])

    # Face: the real template animated, placed on the head.
    blink = np.zeros(T)
    for when in np.cumsum(rng.exponential(60 / style.blink_per_minute, int(t[-1] * style.blink_per_minute / 20) + 5)):
        blink = np.maximum(blink, np.clip(1 - np.abs(t - when) / 0.1, 0, 1))
    jaw = np.clip(style.mouth_gain * f.mouth, 0, 1) ** 0.8
    smile = np.full(T, 0.3) + 0.2 * f.loud
    template = facemesh.load_template()
    brows = np.clip(0.6 * np.maximum(f.pitch, 0) + 0.4 * f.beat, 0, 1) * f.active  # raised on high pitch and stress
    faces = facemesh.animate(template, jaw.astype(np.float32), blink.astype(np.float32), smile.astype(np.float32),
                             brows.astype(np.float32))
    face_scale = 0.33 * style.head                                                # body units per template unit
    local = faces * face_scale + np.array([0.0, -0.17, -0.28])                   # relative to the pivot
    face_pts = pivot[:, None] + np.einsum("tij,tkj->tki", rotation, local)       # (T, 468, 3)

    # Hands: wrist targets from the features, arms by IK.
    hands_out, elbows, wrists, signs = {}, {}, {}, {}
    for name, s in (("right", -1), ("left", 1)):
        engage = f.active * lead[name] * style.amplitude
        reach = present * f.active * (name == style.dominant)
        lift = engage * (0.38 + 0.25 * f.loud + 0.14 * style.pitch_lift * f.pitch)
        stroke = engage * style.beat * 0.13 * f.beat
        drift = 0.02 * _slow_noise(rng, t, 0.1, 0.5)
        x = s * (0.2 + engage * (0.1 + 0.2 * f.loud + arc + 0.04 * f.beat) + 0.22 * reach) + engage * offset[:, 0] + drift
        y = 1.02 - lift + stroke + engage * offset[:, 1] + 0.5 * drift - 0.12 * reach
        z = -0.3 - 0.3 * engage - 0.15 * reach
        target = center + np.stack([x, y, np.broadcast_to(z, (T,))], -1)
        elbow, wrist = _elbow(shoulders[s], target, np.array([0.6 * s, 1.0, 0.4]))
        elbows[name], wrists[name] = elbow, wrist
        forearm = _unit(wrist - elbow)
        along = _unit(forearm + np.stack([-0.5 * s * np.ones(T), -0.9 * engage, -0.3 * engage], -1))
        # Palm faces the body at rest, turns toward the midline when gesturing, toward the camera
        # when loud. roll 0: palm to the midline; pi/2: palm to the camera.
        roll_h = np.clip(engage * (0.4 + 0.9 * f.loud) + 1.2 * reach, 0, 1.5)
        midline = np.stack([-s * np.ones(T), np.zeros(T), np.zeros(T)], -1)
        toward_camera = np.stack([np.zeros(T), np.zeros(T), -np.ones(T)], -1)
        rest_palm = np.array([0.0, 0.0, 1.0]) * (1 - np.clip(engage, 0, 1))[:, None]
        palm = midline * np.cos(roll_h)[:, None] + toward_camera * np.sin(roll_h)[:, None] + rest_palm
        palm = _unit(palm - (palm * along).sum(-1, keepdims=True) * along)
        chirality = 1.0 if name == "right" else -1.0
        thumb_side = chirality * np.cross(along, palm)
        opened = np.clip(engage * style.openness * (0.35 + 0.6 * f.loud) + reach, 0, 1)
        flick = 0.3 * np.clip(f.beat, 0, 1) * engage
        relaxed = np.array([0.45, 0.5, 0.55, 0.6])
        curls = np.clip(relaxed[None] * (1 - opened[:, None]) + flick[:, None], 0, 1)
        point = np.clip(style.pointing * engage * (1 - reach), 0, 1)[:, None]
        curls = curls * (1 - point) + point * np.array([0.05, 0.85, 0.9, 0.9])[None]
        thumb, spread = 0.6 * (1 - opened) + 0.3, 0.5 + 0.8 * opened
        if signing:  # the arm and hand come after the loop (`_signing_arm`)
            signs[name] = _signs(rng, T, fps, s, active=0.9 if name == style.dominant else 0.55, wide=wide)
        else:
            hands_out[name] = _hand(wrist, along, palm, thumb_side, curls, thumb, spread)
    if signing:  # the arms again, each hand at its own place or at the two hands' shared one
        both = _together(rng, T, fps)
        for name, s in (("right", -1), ("left", 1)):
            sign, w = signs[name], both["weight"][:, None]
            target = (1 - w) * sign["target"] + w * (both["place"] + s * both["offset"])
            raised = sign["raise"][:, None]
            pole = (1 - raised) * np.array([0.7 * s, 1.0, 0.3]) + raised * np.array([1.0 * s, -0.1, 0.3])
            elbows[name], wrists[name], hands_out[name] = _signing_arm(shoulders[s], center + target, pole, sign, s)

    # Assemble the 33 body points (MediaPipe order).
    body = np.zeros((T, 33, 3))
    fp = lambda i: face_pts[:, i]
    ring = lambda idx: face_pts[:, idx].mean(1)
    body[:, 0] = fp(facemesh.NOSE_TIP)
    body[:, 1], body[:, 2], body[:, 3] = fp(362), ring(facemesh.LEFT_EYE), fp(263)
    body[:, 4], body[:, 5], body[:, 6] = fp(133), ring(facemesh.RIGHT_EYE), fp(33)
    outward = np.einsum("tij,j->ti", rotation, [0.06, 0.0, 0.12])
    body[:, 7] = fp(454) + outward
    body[:, 8] = fp(234) + outward * np.array([-1, 1, 1])
    body[:, 9], body[:, 10] = fp(facemesh.MOUTH_LEFT), fp(facemesh.MOUTH_RIGHT)
    body[:, 11], body[:, 12] = shoulders[1], shoulders[-1]
    body[:, 13], body[:, 14] = elbows["left"], elbows["right"]
    body[:, 15], body[:, 16] = wrists["left"], wrists["right"]
    # Pinky, index, thumb: MediaPipe's pose model puts them near the knuckles and the thumb tip.
    for name, k in (("left", 0), ("right", 1)):
        hand = hands_out[name]
        body[:, 17 + k], body[:, 19 + k], body[:, 21 + k] = hand[:, 17], hand[:, 5], hand[:, 4]
    body[:, 23], body[:, 24] = hips[1], hips[-1]
    body[:, 25:] = np.nan  # knees, ankles, feet: not in the picture

    # Project to pixels: orthographic, shoulder width = style.scale * size pixels.
    unit = style.scale * size
    origin = np.array([(0.5 + style.shift) * size, 0.47 * size, 0.0])
    parts = [body, face_pts, hands_out["left"], hands_out["right"]]
    xyz = np.concatenate(parts, axis=1) * unit + origin                            # (T, 543, 3)
    world = (body - (hips[1] + hips[-1])[:, None] / 2) * SHOULDER_METRES
    xyz = np.concatenate([xyz, world], axis=1).astype(np.float32)                  # (T, 576, 3)
    conf = np.isfinite(xyz).all(-1).astype(np.float32)
    return np.nan_to_num(xyz), conf


def _signing_arm(shoulder, target, pole, sign: dict, s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One signing arm (`_signs` keys of hand side s: -1 right, +1 left) reaching for target (T, 3)
    with the elbow toward pole (T, 3): (elbow, wrist, 21 hand points)."""
    T = len(target)
    elbow, wrist = _elbow(shoulder, target, pole)
    up = np.stack([np.zeros(T), -np.ones(T), np.zeros(T)], -1)  # fingers toward the sky
    along = _unit(_unit(wrist - elbow) + sign["tilt"][:, None] * up)
    midline = np.stack([-s * np.ones(T), np.zeros(T), np.zeros(T)], -1)
    toward_camera = np.stack([np.zeros(T), np.zeros(T), -np.ones(T)], -1)
    palm = midline * np.cos(sign["roll"])[:, None] + toward_camera * np.sin(sign["roll"])[:, None]
    palm = _unit(palm - (palm * along).sum(-1, keepdims=True) * along)
    thumb_side = (1.0 if s < 0 else -1.0) * np.cross(along, palm)  # chirality: right +1, left -1
    return elbow, wrist, _hand(wrist, along, palm, thumb_side, sign["curls"], sign["thumb"], sign["spread"])
