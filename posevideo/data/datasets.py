"""The torch datasets the trainers read (files: docs/INTERFACES.md, "Data").

RendererFrames: (skeleton image, target crop) pairs for pix2pix, one per frame with a valid pose.
GestureSamples: (audio, pose) 64-frame windows for speech2gesture.
Crops are memory-mapped `.npy` files, so random access costs one page read, and DataLoader workers
share the page cache instead of copying arrays.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from posevideo.errors import InputError


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    """(S, S, 3) uint8 -> (3, S, S) float32 in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div_(127.5).sub_(1.0)


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise InputError(path, f"is missing ({what})", "Run `posevideo prepare` (and `posevideo index`) on the videos first.")
    return path


class RendererFrames(torch.utils.data.Dataset):
    """Frames of `speaker` with a valid pose in an interval of `split` (None: every valid frame).

    [i] -> (skeleton, target): float32 (3, S, S) in [-1, 1]; the skeleton drawn with
    `skeleton.draw_skeleton` in `layout` for the frame's crop box, the target the stored crop.
    `jitter` > 0: the same random zoom (1 +- jitter) and aspect change is applied to both
    (everybody-sign-now's augmentation)."""

    def __init__(self, data: str | Path, speaker: str, size: int = 256, split: str | None = "train",
                 layout: str = "reduced", jitter: float = 0.0, seed: int = 0):
        from posevideo.pose import arrays, read_pose, to_layout

        self.data, self.speaker, self.size, self.layout, self.jitter = Path(data), speaker, size, layout, jitter
        frames = pd.read_csv(_need(self.data / "frames.csv", "the frame index"),
                             dtype={"speaker": str, "video_fn": str, "interval_id": str, "dataset": str},
                             keep_default_na=False)
        rows = frames[(frames["speaker"] == speaker) & (frames["pose_valid"] == 1)]
        rows = rows[rows["dataset"] == split] if split is not None else rows[rows["interval_id"] != ""]
        self.frames = rows.reset_index(drop=True)
        sdir = self.data / speaker
        self._crops, self._boxes, self._xy, self._conf = {}, {}, {}, {}
        self._crop_paths = {}
        for video in self.frames["video_fn"].unique():
            self._crop_paths[video] = _need(sdir / "frames" / f"{video}.{size}.npy",
                                            f"crops at {size} px; prepare with --size {size}")
            self._boxes[video] = np.load(_need(sdir / "frames" / f"{video}.boxes.npy", "crop boxes"))
            xy, conf = arrays(to_layout(read_pose(_need(sdir / "poses" / f"{video}.pose", "poses")), layout))
            self._xy[video], self._conf[video] = xy, conf
        self._video = self.frames["video_fn"].to_numpy()
        self._index = self.frames["frame_idx"].to_numpy()
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int):
        from posevideo.skeleton import draw_skeleton

        video, t = self._video[i], int(self._index[i])
        if video not in self._crops:  # opened lazily, so each DataLoader worker maps its own
            self._crops[video] = np.load(self._crop_paths[video], mmap_mode="r")
        target = np.asarray(self._crops[video][t])
        skeleton = draw_skeleton(self._xy[video][t], self._conf[video][t], self.layout, self.size,
                                 box=tuple(float(v) for v in self._boxes[video][t]))
        if self.jitter > 0:
            skeleton, target = self._augment(skeleton, target)
        return _to_tensor(skeleton), _to_tensor(target)

    def __getstate__(self):  # a worker started with spawn gets paths, not copies of the crops
        state = dict(self.__dict__)
        state["_crops"] = {}
        return state

    def _augment(self, *images):
        """One random zoom and aspect change about the centre, the same for every image."""
        zoom = 1.0 + self._rng.uniform(-self.jitter, self.jitter)
        aspect = 1.0 + self._rng.uniform(-self.jitter, self.jitter) / 2
        sx, sy = zoom * aspect ** 0.5, zoom / aspect ** 0.5
        c = self.size / 2
        matrix = np.array([[sx, 0, c - sx * c], [0, sy, c - sy * c]], np.float32)
        return tuple(cv2.warpAffine(im, matrix, (self.size, self.size), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE) for im in images)


class GestureSamples(torch.utils.data.Dataset):
    """The 64-frame gesture samples of `speaker` in `split` (None: all), from train.csv.

    [i] -> dict(audio (68267,) 16 kHz, pose (64, K, 2) normalized, conf (64, K)) float32 tensors.
    `.stats` is the speaker's stats.json, `.layout` the samples' layout, `.rows` the train.csv rows."""

    def __init__(self, data: str | Path, speaker: str, split: str | None = "train"):
        self.data = Path(data)
        table = pd.read_csv(_need(self.data / "train.csv", "the sample index"),
                            dtype={"speaker": str, "video_fn": str, "interval_id": str, "dataset": str})
        rows = table[table["speaker"] == speaker]
        if split is not None:
            rows = rows[rows["dataset"] == split]
        self.rows = rows.reset_index(drop=True)
        stats_path = self.data / speaker / "stats.json"
        self.stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
        self.layout = self.stats.get("layout")

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        with np.load(self.data / self.rows["pose_fn"].iloc[i], allow_pickle=False) as z:
            return {k: torch.from_numpy(np.asarray(z[k], np.float32)) for k in ("audio", "pose", "conf")}
