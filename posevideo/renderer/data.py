"""The renderer's data: a speaker's frames held whole on the device (`FrameBank`), the packed bank
that travels to a GPU machine (`write_bank` / `read_bank`, its H.264 codec), and the face and hand
regions the evaluation and the region discriminators crop.

    bank = load_frames(DATA_OR_BANK, speaker, size=256, split="train", device="cuda")
    skeleton, frame = bank.batch(index, jitter)        # (B, 3, S, S) float in [-1, 1], channels_last
    boxes = bank.boxes(index, jitter)                  # (B, 3, 4) the regions in the batch's pixels
    patches = crop(frame, boxes[:, 2], 64)             # (B, 3, 64, 64) the faces

Sampling, the one scale/aspect jitter and the uint8 -> float conversion all run on the device, so a
training step never waits for disk or for Python (the gesture trainer's twin is gestures/data.py).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from posevideo.errors import InputError

REGIONS = ("left_hand", "right_hand", "face")  # the order of `regions()` / `FrameBank.boxes()` rows


class FrameBank:
    """Every frame of one speaker's split as uint8 on the device: skeleton images and crops.

    `skeletons`, `frames`: (N, S, S, 3) uint8. `batch()` returns float (B, 3, S, S) in [-1, 1],
    channels_last, both jittered by the same random scale/aspect change about the centre.
    `stats`: where the person stands (for `render`); `meta`: per-frame numpy arrays for evaluation,
    `clip` (N,) int (frames of one interval share it, in time order), `regions` (N, 3, 4) float32
    = left hand, right hand, face boxes (x0, y0, x1, y1) in crop pixels, -1 where not seen,
    `pose_xy` (N, 178, 2) float32 and `pose_conf` (N, 178) the drawn reduced pose in crop pixels
    (banks packed before these were kept lack them).
    """

    def __init__(self, skeletons, frames, device: str = "cpu", stats: dict | None = None,
                 meta: dict[str, np.ndarray] | None = None):
        skeletons, frames = torch.as_tensor(skeletons), torch.as_tensor(frames)
        if skeletons.shape != frames.shape or skeletons.dtype != torch.uint8 or skeletons.ndim != 4:
            raise ValueError(f"skeletons {tuple(skeletons.shape)} and frames {tuple(frames.shape)} must be "
                             "equal (N, S, S, 3) uint8 arrays")
        self.skeletons = skeletons.to(device)
        self.frames = frames.to(device)
        self.device = device
        self.stats = stats or {}
        self.meta = meta or {}
        n = len(self.frames)
        # Region boxes on the device, so the region discriminators crop without a trip to the CPU.
        regs = self.meta.get("regions")
        self.regions = (torch.as_tensor(np.asarray(regs, np.float32)) if regs is not None
                        else torch.full((n, len(REGIONS), 4), -1.0)).to(device)
        # Consecutive pairs (t, t + 1) of one interval, for the temporal model: the bank keeps each
        # interval's frames in time order.
        clip = np.asarray(self.meta.get("clip", np.zeros(n, np.int32)))
        self.pair_starts = torch.from_numpy(np.flatnonzero(clip[1:] == clip[:-1])).long()

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def size(self) -> int:
        return self.frames.shape[1]

    def batch(self, index: torch.Tensor, jitter: torch.Tensor | None = None):
        """`index` (B,) frame numbers; `jitter` (B, 2) = (scale, aspect) factors, None for none."""
        index = index.to(self.device)
        pair = torch.cat([self.skeletons[index], self.frames[index]], dim=-1)     # (B, S, S, 6) uint8
        pair = pair.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)             # (B, 6, S, S)
        if jitter is not None:
            zoom = _zoom(jitter.to(self.device))                                   # (B, 2) x, y
            theta = torch.zeros(len(index), 2, 3, device=self.device)
            theta[:, 0, 0], theta[:, 1, 1] = 1.0 / zoom[:, 0], 1.0 / zoom[:, 1]  # output u samples input u / zoom
            grid = F.affine_grid(theta, list(pair.shape), align_corners=False)
            pair = F.grid_sample(pair, grid, mode="bilinear", padding_mode="border", align_corners=False)
        pair = pair.contiguous(memory_format=torch.channels_last)
        return pair[:, :3], pair[:, 3:]

    def boxes(self, index: torch.Tensor, jitter: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 3, 4) boxes (x0, y0, x1, y1) of left hand, right hand, face in the pixels of
        `batch(index, jitter)`'s images (moved by the same zoom about the centre); -1 rows: not seen."""
        boxes = self.regions[index.to(self.device)]                                # (B, 3, 4) crop pixels
        if jitter is None:
            return boxes
        half = self.size / 2
        zoom = _zoom(jitter.to(self.device)).repeat(1, 2)[:, None, :]              # (B, 1, 4): x, y, x, y
        moved = half + (boxes - half) * zoom
        return torch.where(boxes[..., :1] >= -0.5, moved, boxes)


def _zoom(jitter: torch.Tensor) -> torch.Tensor:
    """(B, 2) (scale, aspect) jitter factors -> (B, 2) zoom of x and y about the image centre."""
    scale, aspect = jitter.unbind(1)
    return torch.stack([scale * aspect.sqrt(), scale / aspect.sqrt()], dim=1)


def crop(images: torch.Tensor, boxes: torch.Tensor, out: int) -> torch.Tensor:
    """(B, C, S, S) images and (B, 4) boxes (x0, y0, x1, y1) in pixels -> (B, C, out, out), bilinear,
    float32 on the images' device (pixel edges: the box [8, 24) of a 32 px image at out=16 is rows
    8..23 exactly). Boxes past the border repeat the edge pixels."""
    size = images.shape[-1]
    images, boxes = images.float(), boxes.float()  # float32 grid: bfloat16 would misplace it by ~0.5 px at 256
    centre = (boxes[:, :2] + boxes[:, 2:]) / size - 1                              # [-1, 1]
    half = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1) / size                       # half-side in [-1, 1] units
    theta = torch.zeros(len(boxes), 2, 3, device=images.device)
    theta[:, 0, 0], theta[:, 1, 1] = half[:, 0], half[:, 1]
    theta[:, :, 2] = centre
    with torch.autocast(images.device.type, enabled=False):                       # stays float32 inside autocast
        grid = F.affine_grid(theta, [len(boxes), images.shape[1], out, out], align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def regions(xy: np.ndarray, conf: np.ndarray, layout: str = "reduced") -> np.ndarray:
    """xy (T, K, 2) crop pixels -> (T, 3, 4) boxes of left hand, right hand, face (-1: not seen).

    Hands: the square around the hand's points, 1.4x their extent (fingers reach past the joints);
    face: 1.1x. A region needs at least 3 seen points."""
    from posevideo.pose import point_groups
    groups = point_groups(layout)
    out = np.full((len(xy), len(REGIONS), 4), -1.0, np.float32)
    for g, (name, grow) in enumerate(zip(REGIONS, (1.4, 1.4, 1.1))):
        idx = groups[name]
        seen = (conf[:, idx] > 0) & np.isfinite(xy[:, idx]).all(-1)               # (T, P)
        pts = np.where(seen[..., None], xy[:, idx], np.nan)
        with warnings.catch_warnings():  # all-NaN rows (region not seen) are expected
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanmin(pts, axis=1), np.nanmax(pts, axis=1)               # (T, 2)
        mid, half = (lo + hi) / 2, (hi - lo).max(axis=1) * grow / 2
        ok = seen.sum(axis=1) >= 3
        out[ok, g] = np.concatenate([mid[ok] - half[ok, None], mid[ok] + half[ok, None]], axis=1)
    return out


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise InputError(path, f"is missing ({what})", "Run `posevideo prepare` (and `posevideo index`) on the videos first.")
    return path


def frame_rows(data: str | Path, speaker: str, split: str | None = "train"):
    """frames.csv rows (a DataFrame) of `speaker` with a valid pose inside an interval of `split`
    (None: every valid frame in an interval), in file order: each interval's frames in time order."""
    import pandas as pd
    frames = pd.read_csv(_need(Path(data) / "frames.csv", "the frame index"),
                         dtype={"speaker": str, "video_fn": str, "interval_id": str, "dataset": str},
                         keep_default_na=False)
    rows = frames[(frames["speaker"] == speaker) & (frames["pose_valid"] == 1)]
    rows = rows[rows["dataset"] == split] if split is not None else rows[rows["interval_id"] != ""]
    return rows.reset_index(drop=True)


def bank_from_data(data: str | Path, speaker: str, size: int, split: str | None = "train",
                   device: str = "cpu") -> FrameBank:
    """Draw every skeleton of the split once (`draw_skeletons`) and stack it with its crop, plus the
    statistics that `render` needs and the hand/face regions that evaluation and training crop."""
    import json
    from posevideo.pose import arrays, body_profile, read_pose, to_layout
    from posevideo.skeleton import draw_skeletons
    sdir = Path(data) / speaker
    rows = frame_rows(data, speaker, split)
    if len(rows) == 0:
        raise InputError(sdir, f"has no valid frames in the '{split}' split" if split else "has no valid frames in any interval",
                         "Run `posevideo prepare` on more video of this speaker (each split needs intervals).")
    skeletons, frames, clips, regs, boxes, poses, drawn_xy, drawn_conf = [], [], [], [], [], [], [], []
    clip_ids: dict[str, int] = {}
    for video, part in rows.groupby("video_fn", sort=True):
        t = part["frame_idx"].to_numpy()
        for what, name in (("crops", f"{video}.{size}.npy"), ("crop boxes", f"{video}.boxes.npy")):
            _need(sdir / "frames" / name, f"{what}; prepare with --size {size}")
        xy, conf = arrays(to_layout(read_pose(sdir / "poses" / f"{video}.pose"), "reduced"))
        box = np.load(sdir / "frames" / f"{video}.boxes.npy")[t]                   # (n, 3) source px
        skeletons.append(draw_skeletons(xy[t], conf[t], "reduced", size, box=box))
        frames.append(np.load(sdir / "frames" / f"{video}.{size}.npy", mmap_mode="r")[t])
        crop_xy = (xy[t] - box[:, None, :2]) * (size / box[:, None, 2:3])          # crop pixels
        regs.append(regions(crop_xy, conf[t]))
        drawn_xy.append(np.where(conf[t, :, None] > 0, crop_xy, 0).astype(np.float32))
        drawn_conf.append(conf[t].astype(np.float32))
        clips.append(np.array([clip_ids.setdefault(f"{video}/{i}", len(clip_ids)) for i in part["interval_id"]]))
        boxes.append(box)
        poses.append((xy[t], conf[t]))
    stats = json.loads((sdir / "stats.json").read_text())
    placement = {"speaker": speaker, "layout": "reduced", "center": [float(c) for c in stats["center"]],
                 "scale": float(stats["scale"]), "width": int(stats["width"]), "height": int(stats["height"]),
                 "fps": float(stats.get("fps", 0)) or None,
                 "box": [float(v) for v in np.median(np.concatenate(boxes), axis=0)]}
    # The person's proportions, so `render` can rebuild another person's pose on this body.
    placement["profile"] = body_profile(np.concatenate([p[0] for p in poses]), np.concatenate([p[1] for p in poses]),
                                        path=sdir).to_dict()
    # The drawn poses (crop pixels) let `evaluate renderer --consistency` judge the output without MediaPipe on the targets.
    meta = {"clip": np.concatenate(clips).astype(np.int32), "regions": np.concatenate(regs),
            "pose_xy": np.concatenate(drawn_xy), "pose_conf": np.concatenate(drawn_conf)}
    return FrameBank(np.concatenate(skeletons), np.concatenate(frames), device, placement, meta)


BANK_FILE = "bank.json"
PACKED_HALF = ("pose_xy", "pose_conf")                                         # stored as float16


def write_bank(banks: dict[str, FrameBank], path: str | Path) -> Path:
    """Pack splits into a small folder that travels (to a GPU machine): per split two H.264 videos
    (4:4:4, crf 14: mean error under 1 level, about 3 KB a frame) and an npz of the per-frame metadata.
    Read back with `read_bank`; `train renderer --data BANK` takes it in place of DATA."""
    import json
    import av
    from posevideo.files import atomic_dir, write_npz
    with atomic_dir(path) as tmp:
        info = {"format": "posevideo-renderer-bank-1", "splits": {}}
        for split, bank in banks.items():
            for what, images in (("skeletons", bank.skeletons), ("frames", bank.frames)):
                with av.open(str(tmp / f"{split}.{what}.mp4"), mode="w") as container:
                    stream = container.add_stream("libx264", rate=25)
                    stream.width = stream.height = bank.size
                    stream.pix_fmt = "yuv444p"
                    stream.options = {"crf": "14", "preset": "medium"}
                    for image in images.cpu().numpy():
                        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                            container.mux(packet)
                    for packet in stream.encode(None):
                        container.mux(packet)
            # The drawn poses dominate the file (12k frames: 26 MB as float32); float16 keeps them to
            # 1/8 px at 256 and, compressed, the bank small enough to carry to a GPU machine.
            meta = {k: v.astype(np.float16) if k in PACKED_HALF else v for k, v in bank.meta.items()}
            write_npz(tmp / f"{split}.meta.npz", compressed=True, **meta)
            info["splits"][split] = {"frames": len(bank), "size": bank.size}
        # Where the person stands and their proportions: what the model is trained on.
        info["stats"] = (banks["train"] if "train" in banks else next(iter(banks.values()))).stats
        (tmp / BANK_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return Path(path)


def read_bank(path: str | Path, split: str, device: str = "cpu") -> FrameBank:
    """A split of a folder written by `write_bank` (decoded with OpenCV, which every machine has)."""
    import json
    import cv2
    path = Path(path)
    info = json.loads((path / BANK_FILE).read_text())
    if split not in info["splits"]:
        raise InputError(path, f"holds no '{split}' split (it has {', '.join(info['splits'])})",
                         "Write the bank with that split.")
    arrays = []
    for what in ("skeletons", "frames"):
        video = path / f"{split}.{what}.mp4"
        capture = cv2.VideoCapture(str(video))
        images = []
        while True:
            ok, image = capture.read()
            if not ok:
                break
            images.append(image[..., ::-1])                                       # BGR -> RGB
        capture.release()
        if not images:  # a bank copied in part (a split's files left behind) or a broken video
            raise InputError(video, "is missing or holds no frames, though bank.json lists the "
                             f"'{split}' split", "Copy the bank folder whole, or write it again (posevideo pack-frames).")
        arrays.append(np.stack(images))
    if not len(arrays[0]) == len(arrays[1]) == info["splits"][split]["frames"]:
        raise InputError(path, f"the '{split}' videos hold {len(arrays[0])}/{len(arrays[1])} frames, "
                         f"not {info['splits'][split]['frames']}", "Write the bank again.")
    with np.load(path / f"{split}.meta.npz") as npz:
        meta = {k: npz[k].astype(np.float32) if k in PACKED_HALF else npz[k] for k in npz.files}
    return FrameBank(arrays[0], arrays[1], device, info["stats"], meta)


def halve(bank: FrameBank) -> FrameBank:
    """The bank at half its size: skeletons and frames averaged 2x2 (rounded), regions and drawn
    poses halved. Averaging is what a two-stage model (`model.TwoStage`) does to the skeleton for
    its first stage, so a first stage trained on a halved bank sees what it will see there."""
    def half(images: torch.Tensor) -> torch.Tensor:                                # (N, S, S, 3) uint8
        out = []
        for chunk in images.split(256):                                             # float copies stay small
            x = F.avg_pool2d(chunk.permute(0, 3, 1, 2).float(), 2)
            out.append(x.round().to(torch.uint8).permute(0, 2, 3, 1))
        return torch.cat(out).contiguous()
    meta = dict(bank.meta)
    if "regions" in meta:
        meta["regions"] = np.where(meta["regions"] >= -0.5, meta["regions"] / 2, -1).astype(np.float32)
    if "pose_xy" in meta:
        meta["pose_xy"] = (meta["pose_xy"] / 2).astype(np.float32)
    return FrameBank(half(bank.skeletons), half(bank.frames), bank.device, bank.stats, meta)


def load_frames(data: str | Path, speaker: str | None, size: int, split: str, device: str = "cpu") -> FrameBank:
    """A split from a DATA folder (`posevideo prepare`) or from a bank folder (`write_bank`); a bank
    packed at twice `size` is halved (`halve`: e.g. a 256 first stage from the 512 bank). `split`
    "all": every interval of the speaker (a bank: every split it holds), nothing held out."""
    if (Path(data) / BANK_FILE).exists():
        if split == "all":
            import json
            splits = json.loads((Path(data) / BANK_FILE).read_text())["splits"]
            bank = concat([read_bank(data, s) for s in splits], device)          # joined on the CPU, moved once
        else:
            bank = read_bank(data, split, device)
        return halve(bank) if bank.size == 2 * size else bank
    if not speaker:
        raise InputError(data, "is a DATA folder, so the speaker must be named", "Pass --speaker NAME.")
    return bank_from_data(data, speaker, size, None if split == "all" else split, device)


def concat(banks: list[FrameBank], device: str = "cpu") -> FrameBank:
    """One bank on `device` of several (a bank folder's splits, in order): frames, skeletons and
    per-frame arrays joined, each bank's intervals kept apart (`clip` numbered on), the first bank's
    statistics."""
    meta, clips, first = {}, [], 0
    for bank in banks:
        clip = np.asarray(bank.meta.get("clip", np.zeros(len(bank), np.int32)))
        clips.append(clip + first)
        first += int(clip.max()) + 1 if len(clip) else 0
    meta["clip"] = np.concatenate(clips).astype(np.int32)
    for key in set.intersection(*(set(b.meta) for b in banks)) - {"clip"}:
        meta[key] = np.concatenate([b.meta[key] for b in banks])
    return FrameBank(torch.cat([b.skeletons for b in banks]), torch.cat([b.frames for b in banks]),
                     device, banks[0].stats, meta)
