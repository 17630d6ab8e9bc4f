"""The gesture data as the trainer and the evaluator use it: continuous clips of log-mel and pose.

`posevideo prepare` writes 64-frame samples every 5 frames (docs/INTERFACES.md "Data"); neighbours
overlap by 59 frames, so the samples of one interval are stitched back into one continuous clip
(13x less to hold), its log-mel computed once, and any 64-frame window of it drawn at train time.
The clips are cached in `DATA/<speaker>/gesture_clips.npz` (log-mel in float16, about 13 KB a
second), rebuilt when `train.csv` is newer; the cache alone is enough to train (what travels to a
GPU machine).

Units: pose frames at 15 fps, normalized coordinates (shoulder midpoint 0, shoulder width 1);
log-mel frames at 100 fps (features.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from posevideo.errors import InputError
from posevideo.files import write_npz
from posevideo.gestures.features import (AUDIO_FPS, POSE_FPS, SAMPLE_RATE, LogMel, log_mel_long, mel_frames,
                                         mel_frames_for, mel_start)

CACHE_NAME = "gesture_clips.npz"
SPLITS = ("train", "dev", "test")


@dataclass
class Clips:
    """Continuous clips of one speaker, concatenated. Clip i holds pose frames
    `pose_offsets[i]:pose_offsets[i+1]` and log-mel frames `mel_offsets[i]:mel_offsets[i+1]`."""

    mel: np.ndarray  # (total mel frames, 64) float32, 100 fps
    pose: np.ndarray  # (total pose frames, K, 2) float32, normalized, 15 fps
    conf: np.ndarray  # (total pose frames, K) float32 in [0, 1]
    pose_offsets: np.ndarray  # (clips + 1,) int64
    mel_offsets: np.ndarray  # (clips + 1,) int64
    center: np.ndarray  # (clips, 2) NormStats centre, pixels: xy = pose * scale + center
    scale: np.ndarray  # (clips,) NormStats scale, pixels per shoulder width
    split: np.ndarray  # (clips,) str: train / dev / test
    names: np.ndarray  # (clips,) str: "<video>/<interval>"
    layout: str
    stats: dict  # the speaker's stats.json (layout, width, height, center, scale, mean, std, points)

    def __len__(self) -> int:
        return len(self.split)

    @property
    def n_points(self) -> int:
        return self.pose.shape[1]

    def seconds(self, split: str | None = None) -> float:
        frames = np.diff(self.pose_offsets)
        return float(frames[self.split == split].sum() if split else frames.sum()) / POSE_FPS

    def windows(self, split: str, length: int = 64, hop: int = 1) -> np.ndarray:
        """Every `length`-frame window of the split's clips every `hop` frames, as rows
        (clip, first pose frame, first mel frame) in global (concatenated) indices. (N, 3) int64."""
        need = mel_frames_for(length)
        rows = []
        for i in np.flatnonzero(self.split == split):
            p0, p1 = self.pose_offsets[i], self.pose_offsets[i + 1]
            m0, m1 = self.mel_offsets[i], self.mel_offsets[i + 1]
            for f in range(0, p1 - p0 - length + 1, hop):
                if mel_start(f) + need <= m1 - m0:
                    rows.append((i, p0 + f, m0 + mel_start(f)))
        return np.asarray(rows, dtype=np.int64).reshape(-1, 3)



# MediaPipe face-mesh indices of the lips (FACEMESH_LIPS) and the lower face oval (jaw and chin).
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409,
        78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415)
JAW = (152, 148, 176, 149, 150, 136, 172, 58, 132, 377, 400, 378, 379, 365, 397, 288, 361)
UPPER_LIP, LOWER_LIP = 13, 14  # inner lip midpoints: their distance is the mouth opening


def wrist_points(layout: str, n_points: int) -> tuple[int, int]:
    """The two body wrists of a layout, lower index first (the pose hub's `wrist_indices`)."""
    from posevideo.pose import wrist_indices
    if layout in ("reduced", "s2g49"):
        return tuple(sorted(wrist_indices(layout)))
    return 0, min(1, n_points - 1)


def scored_groups(layout: str, n_points: int) -> dict[str, np.ndarray]:
    """Indices of the points a gesture model is scored on: 'body' (arms and hands, no neck, no hips)
    and, for `reduced`, 'mouth' (lips and jaw) and 'lips' (the two inner lip midpoints), from the
    pose hub's point groups and face-mesh ids."""
    from posevideo.pose import face_mesh_ids, point_groups
    if layout == "reduced":
        groups = point_groups(layout)
        body = groups["body"][:-2] + groups["left_hand"] + groups["right_hand"]  # the body without the hips
        face = face_mesh_ids(layout)
        start = groups["face"][0]
        mouth = [start + face.index(i) for i in LIPS + JAW if i in face]
        lips = (start + face.index(UPPER_LIP), start + face.index(LOWER_LIP))
        return {"body": np.asarray(body), "mouth": np.asarray(mouth), "lips": np.asarray(lips)}
    if layout == "s2g49":
        return {"body": np.arange(1, 49)}  # point 0 is the neck
    return {"body": np.arange(n_points)}

def gather(mel: torch.Tensor, pose: torch.Tensor, conf: torch.Tensor, rows: torch.Tensor, length: int = 64):
    """Cut a batch of windows out of the concatenated tensors (all on one device, no loader).

    rows (B, 3) from `Clips.windows` -> mel (B, 425, 64), pose (B, 64, K, 2), conf (B, 64, K)."""
    frames = rows[:, 1:2] + torch.arange(length, device=rows.device)  # (B, 64) pose frames
    mels = rows[:, 2:3] + torch.arange(mel_frames_for(length), device=rows.device)  # (B, 425) mel frames
    return mel[mels].float(), pose[frames], conf[frames]


# --- building the clips from prepared samples ---------------------------------------------------

def load_clips(data: str | Path, speaker: str, rebuild: bool = False, device: str = "cpu") -> Clips:
    """The speaker's clips, from the cache when it is newer than train.csv, else built and cached."""
    data = Path(data)
    if not speaker or not (data / speaker).is_dir():
        have = sorted(p.name for p in data.iterdir() if p.is_dir()) if data.is_dir() else []
        raise InputError(data, f"has no speaker folder '{speaker}'" + (f" (it has {', '.join(have)})" if have else ""),
                         "Pass --speaker with a speaker that `posevideo prepare` wrote into DATA.")
    cache = data / speaker / CACHE_NAME
    index = data / "train.csv"
    if cache.exists() and not rebuild and (not index.exists() or cache.stat().st_mtime >= index.stat().st_mtime):
        return read_clips(cache)
    clips = build_clips(data, speaker, device=device)
    write_clips(clips, cache)
    return clips


def build_clips(data: Path, speaker: str, device: str = "cpu") -> Clips:
    """Stitch the speaker's train.csv samples into one clip per (video, interval)."""
    import pandas as pd

    index = data / "train.csv"
    if not index.exists():
        raise InputError(data, "has no train.csv", "Run `posevideo prepare` on the videos first.")
    rows = pd.read_csv(index)
    rows = rows[rows["speaker"].astype(str) == speaker]
    if rows.empty:
        known = sorted(set(pd.read_csv(index)["speaker"].astype(str)))
        raise InputError(index, f"has no samples of speaker {speaker!r} (speakers: {', '.join(known) or 'none'})",
                         "Pass --speaker with one of them.")
    stats_path = data / speaker / "stats.json"
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    module = LogMel().to(device)
    mels, poses, confs, centers, scales, splits, names = [], [], [], [], [], [], []
    for (video, interval), group in rows.groupby(["video_fn", "interval_id"], sort=True):
        group = group.sort_values("start")
        origin = float(group["start"].iloc[0])
        samples = [np.load(data / fn, allow_pickle=False) for fn in group["pose_fn"]]
        length = samples[0]["pose"].shape[0]
        firsts = [int(round((float(s) - origin) * POSE_FPS)) for s in group["start"]]
        frames = firsts[-1] + length
        points = samples[0]["pose"].shape[1]
        pose = np.zeros((frames, points, 2), np.float32)
        conf = np.zeros((frames, points), np.float32)
        audio = np.zeros(int(np.ceil(frames * SAMPLE_RATE / POSE_FPS)) + 1, np.float32)
        for first, sample in zip(firsts, samples):
            pose[first:first + length] = sample["pose"]
            conf[first:first + length] = sample["conf"]
            a0 = int(round(first * SAMPLE_RATE / POSE_FPS))
            piece = sample["audio"][: len(audio) - a0]
            audio[a0:a0 + len(piece)] = piece
        mel = log_mel_long(audio, module).cpu().numpy()
        assert mel.shape[0] == mel_frames(len(audio))
        mels.append(mel), poses.append(pose), confs.append(conf)
        centers.append(np.asarray(samples[0]["center"], np.float32)), scales.append(float(samples[0]["scale"]))
        splits.append(str(group["dataset"].iloc[0])), names.append(f"{video}/{interval}")
        if not stats:
            stats = {"layout": str(samples[0]["layout"]), "width": int(samples[0]["width"]),
                     "height": int(samples[0]["height"])}
    if "layout" not in stats:
        stats["layout"] = str(np.load(data / rows["pose_fn"].iloc[0], allow_pickle=False)["layout"])

    stats["groups"] = {k: v.tolist() for k, v in scored_groups(stats["layout"], poses[0].shape[1]).items()}
    offsets = lambda arrays: np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)  # noqa: E731
    return Clips(np.concatenate(mels), np.concatenate(poses), np.concatenate(confs), offsets(poses), offsets(mels),
                 np.stack(centers), np.asarray(scales, np.float32), np.asarray(splits), np.asarray(names),
                 stats["layout"], stats)


def write_clips(clips: Clips, path: str | Path) -> None:
    """Compressed, float16 (0.002 shoulder widths, a tenth of a pixel): ~25 MB for 30 minutes."""
    meta = {"layout": clips.layout, "stats": clips.stats, "pose_fps": POSE_FPS, "mel_fps": AUDIO_FPS}
    write_npz(path, compressed=True, mel=clips.mel.astype(np.float16), pose=clips.pose.astype(np.float16),
              conf=clips.conf.astype(np.float16),
              pose_offsets=clips.pose_offsets, mel_offsets=clips.mel_offsets, center=clips.center,
              scale=clips.scale, split=clips.split.astype("U8"), names=clips.names.astype("U200"),
              meta=np.asarray(json.dumps(meta)))


def read_clips(path: str | Path) -> Clips:
    path = Path(path)
    try:
        z = np.load(path, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        return Clips(z["mel"].astype(np.float32), z["pose"].astype(np.float32), z["conf"].astype(np.float32),
                     z["pose_offsets"], z["mel_offsets"], z["center"], z["scale"], z["split"], z["names"],
                     meta["layout"], meta["stats"])
    except (OSError, KeyError, ValueError) as error:
        raise InputError(path, f"is not a readable gesture cache ({error})", "Delete it; it is rebuilt from train.csv.")


# --- a toy speaker for tests and benchmarks ----------------------------------------------------

def toy_clips(seconds: float = 60.0, n_points: int = 8, clips: int = 4, seed: int = 0) -> Clips:
    """Speech-like bursts of tone whose loudness drives the points (arm raises with the voice).

    For tests and benchmarks, where no prepared data exists: the pose is a deterministic function
    of the recent loudness, so a model that listens beats every baseline.
    """
    rng = np.random.default_rng(seed)
    mels, poses, splits = [], [], []
    module = LogMel()
    direction = rng.standard_normal((n_points, 2)).astype(np.float32)
    rest = rng.standard_normal((n_points, 2)).astype(np.float32)
    per_clip = seconds / clips
    for i in range(clips):
        samples = int(per_clip * SAMPLE_RATE)
        t = np.arange(samples) / SAMPLE_RATE
        # Syllables: on/off bursts of 0.1-0.5 s with pauses, pitch varying.
        gate = np.zeros(samples, np.float32)
        pos = 0
        while pos < samples:
            on, off = rng.uniform(0.1, 0.5), rng.uniform(0.05, 0.6)
            gate[pos:pos + int(on * SAMPLE_RATE)] = rng.uniform(0.3, 1.0)
            pos += int((on + off) * SAMPLE_RATE)
        pitch = 150 + 50 * np.sin(2 * np.pi * 0.3 * t + i)
        audio = (gate * 0.3 * np.sin(2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE)).astype(np.float32)
        audio += 0.003 * rng.standard_normal(samples).astype(np.float32)
        frames = int(per_clip * POSE_FPS)
        hop = SAMPLE_RATE / POSE_FPS
        loud = np.array([gate[int(f * hop): int((f + 1) * hop)].mean() for f in range(frames)], np.float32)
        smooth = np.convolve(loud, np.ones(3) / 3, mode="same")  # the arm follows the voice within 0.2 s
        poses.append(rest + smooth[:, None, None] * direction)
        mels.append(log_mel_long(audio, module).numpy())
        splits.append("test" if i == clips - 1 else "train")
    pose = np.concatenate(poses).astype(np.float32)
    offsets = lambda arrays: np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)  # noqa: E731
    stats = {"layout": "toy", "width": 640, "height": 480, "center": [320.0, 200.0], "scale": 100.0,
             "points": n_points, "mean": pose.mean(0).tolist(), "std": pose.std(0).tolist()}
    return Clips(np.concatenate(mels), pose, np.ones(pose.shape[:2], np.float32), offsets(poses), offsets(mels),
                 np.tile(np.float32([[320.0, 200.0]]), (clips, 1)), np.full(clips, 100.0, np.float32),
                 np.asarray(splits), np.asarray([f"toy/{i}" for i in range(clips)]), "toy", stats)
