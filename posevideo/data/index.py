"""The dataset index: frames.csv, intervals.csv, train.csv, gesture samples and speaker statistics.

Built from every finished video (`DATA/<speaker>/done/<video>.json`) of every speaker in DATA, so
one run, or n shards merged, give the same index. Layout and keys: docs/INTERFACES.md, "Data".
Also reads speech2gesture's own dataset (`import_s2g`) into the same index.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from posevideo.audio import SAMPLE_RATE
from posevideo.errors import InputError
from posevideo.files import atomic_output, write_json, write_npz

FPS = 15  # gesture samples: speech2gesture's 15 fps, 64 frames, windows every 5 frames
WINDOW = 64
HOP = 5
AUDIO_SAMPLES = int(round(WINDOW / FPS * SAMPLE_RATE))  # 68267 samples = 4.27 s
SPLITS = ("train", "dev", "test")
VALID_CONF = 0.5

FRAME_COLUMNS = ["speaker", "video_fn", "frame_idx", "time", "interval_id", "dataset", "pose_valid"]
INTERVAL_COLUMNS = ["speaker", "video_fn", "interval_id", "start_time", "end_time", "start_frame", "end_frame", "dataset"]
TRAIN_COLUMNS = ["audio_fn", "dataset", "start", "end", "pose_fn", "speaker", "video_fn", "interval_id"]


@dataclass(frozen=True)
class IndexOptions:
    min_seconds: float = 1.0  # shorter runs of a visible person are no interval
    max_seconds: float = 10.0  # longer runs are cut into equal pieces no longer than this
    layout: str = "reduced"  # layout of the gesture samples
    dev: float = 0.1  # share of each speaker's interval time in dev and in test
    test: float = 0.1


# --- intervals and splits ---------------------------------------------------------------------------

def valid_runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], valid.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def cut_intervals(valid: np.ndarray, fps: float, min_seconds: float, max_seconds: float,
                  breaks=()) -> list[tuple[int, int]]:
    """Runs of valid frames (also split at the frames in `breaks`: camera cuts) of at least
    `min_seconds`, each cut into the fewest equal pieces of at most `max_seconds`. Frame ranges
    [start, end)."""
    out = []
    runs = []
    for start, end in valid_runs(valid):
        inner = [b for b in sorted(breaks) if start < b < end]
        runs += list(zip([start] + inner, inner + [end]))
    for start, end in runs:
        length = end - start
        if length < min_seconds * fps:
            continue
        pieces = max(1, math.ceil(length / (max_seconds * fps)))
        bounds = np.round(np.linspace(start, end, pieces + 1)).astype(int)
        out += list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    return out


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def assign_splits(intervals: list[tuple[str, float]], dev: float, test: float) -> dict[str, str]:
    """Split by interval, deterministically: intervals in the order of a hash of their key; test,
    then dev, take intervals until each holds its share of the time (at least one interval each
    when there are 3 or more); the rest is train. A new video moves few intervals."""
    total = sum(d for _, d in intervals)
    out, taken = {}, {"test": 0.0, "dev": 0.0}
    for key, duration in sorted(intervals, key=lambda kd: _hash(kd[0])):
        split = "train"
        if len(intervals) >= 3:
            for name, share in (("test", test), ("dev", dev)):
                if taken[name] == 0.0 or taken[name] + duration <= share * total + 1e-9:
                    split = name
                    break
        if split != "train":
            taken[split] += duration
        out[key] = split
    return out


# --- per video ---------------------------------------------------------------------------------------

def _video_arrays(speaker_dir: Path, name: str):
    """(holistic pose, shoulder-valid (T,) bool, camera cuts (frames where a new shot starts)) of
    a finished video; the cuts are the ones its crop boxes were smoothed apart at."""
    from posevideo.pose import arrays, read_pose
    from posevideo.pose.framing import camera_segments, pose_shoulders, shoulder_track

    path = speaker_dir / "poses" / f"{name}.pose"
    pose = read_pose(path)
    xy, conf = arrays(pose)
    right, left = pose_shoulders(pose, path)
    mid, width, valid = shoulder_track(xy, conf, left, right)
    cuts = [a for a, _ in camera_segments(mid, width, valid, float(pose.body.fps))[1:]]
    return pose, valid, cuts


def _samples_of_interval(xy_n, conf, start: int, audio, fps: float):
    """Yield (first 15-fps frame, start seconds, pose (64, K, 2), conf (64, K), audio (68267,))
    for every 64-frame window (hop 5) of an interval that starts at video frame `start`; xy_n,
    conf are the interval's frames at the video's fps."""
    from posevideo.pose import resample

    p15, c15 = resample(xy_n, conf, fps, FPS)
    for j in range(0, len(p15) - WINDOW + 1, HOP):
        t0 = start / fps + j / FPS
        a0 = int(round(t0 * SAMPLE_RATE))
        clip = audio[a0:a0 + AUDIO_SAMPLES]
        if len(clip) < AUDIO_SAMPLES:
            clip = np.pad(clip, (0, AUDIO_SAMPLES - len(clip)))
        yield j, t0, p15[j:j + WINDOW], c15[j:j + WINDOW], clip


class _Moments:
    """Running per-keypoint mean and std over the points seen (conf > 0)."""

    def __init__(self):
        self.n = self.sum = self.sq = None

    def add(self, p: np.ndarray, c: np.ndarray) -> None:
        w = (c > 0).astype(np.float64)[..., None]  # (T, K, 1)
        p = p.astype(np.float64) * w
        n, s, q = w.sum(axis=0), p.sum(axis=0), (p * p).sum(axis=0)
        if self.n is None:
            self.n, self.sum, self.sq = n, s, q
        else:
            self.n, self.sum, self.sq = self.n + n, self.sum + s, self.sq + q

    def result(self):
        n = np.maximum(self.n, 1)
        mean = self.sum / n
        return mean, np.sqrt(np.maximum(self.sq / n - mean ** 2, 0))


def _write_npz(path: Path, **arrays) -> None:
    write_npz(path, **arrays)


# --- the index ---------------------------------------------------------------------------------------

def _fingerprint(speaker_dir: Path, name: str) -> str:
    return _hash((speaker_dir / "done" / f"{name}.json").read_text())


def speakers_in(data: Path) -> list[str]:
    return sorted(p.name for p in Path(data).iterdir()
                  if p.is_dir() and not p.name.startswith(".") and ((p / "done").is_dir() or (p / "imported.csv").exists()))


def build_index(data: str | Path, options: IndexOptions = IndexOptions(), show_progress: bool = True,
                force: bool = False) -> dict:
    """Write frames.csv, intervals.csv, train.csv, samples and stats.json for every speaker in
    DATA; returns the summary also written to DATA/index.json. Does nothing when no video and no
    option changed since the last build (unless `force`)."""
    from tqdm import tqdm

    from posevideo.audio import load_audio
    from posevideo.pose import arrays, normalize, to_layout

    data = Path(data)
    if not data.is_dir():
        raise InputError(data, "is not a folder", "Give the --data folder that `posevideo prepare` wrote.")
    started = time.perf_counter()
    speakers = speakers_in(data)
    fingerprints = {}
    for speaker in speakers:
        sdir = data / speaker
        for done in sorted((sdir / "done").glob("*.json")) if (sdir / "done").is_dir() else []:
            fingerprints[f"{speaker}/{done.stem}"] = _hash(done.read_text())
        if (sdir / "imported.csv").exists():
            fingerprints[f"{speaker}/imported.csv"] = _hash((sdir / "imported.csv").read_text())
    previous = _read_json(data / "index.json")
    state = {"options": asdict(options), "fingerprints": fingerprints}
    if not force and previous and previous.get("state") == state and all(
            (data / f).exists() for f in ("frames.csv", "intervals.csv", "train.csv")):
        summary = dict(previous["summary"], skipped=True)
        return summary
    old_prints = (previous or {}).get("state", {}).get("fingerprints", {})

    frame_tables, interval_rows, sample_rows = [], [], []
    written = 0
    videos = [key.split("/", 1) for key in fingerprints if not key.endswith("/imported.csv")]
    # First pass: which frames hold a person, and the intervals (poses are not kept: hours of
    # holistic poses do not fit in memory).
    per_speaker = {}  # speaker -> [(video, fps, valid, runs, (width, height))]
    for speaker, name in tqdm(videos, desc="   index", unit="video", disable=not show_progress):
        pose, valid, cuts = _video_arrays(data / speaker, name)
        fps = float(pose.body.fps)
        runs = cut_intervals(valid, fps, options.min_seconds, options.max_seconds, breaks=cuts)
        size = (int(pose.header.dimensions.width), int(pose.header.dimensions.height))
        per_speaker.setdefault(speaker, []).append((name, fps, valid, runs, size))

    summary_samples = {s: 0 for s in SPLITS}
    keep_files = set()
    same_options = bool(previous) and previous.get("state", {}).get("options") == asdict(options)
    for speaker in speakers:
        sdir = data / speaker
        videos_of = per_speaker.get(speaker, [])
        keys = [(f"{speaker}/{name}/{k:03d}", (e - s) / fps)
                for name, fps, _, runs, _ in videos_of for k, (s, e) in enumerate(runs)]
        splits = assign_splits(keys, options.dev, options.test)
        moments, framing = _Moments(), []
        for name, fps, valid, runs, size in tqdm(videos_of, desc=f" samples {speaker}", unit="video",
                                                 disable=not show_progress, leave=False):
            count = len(valid)
            interval_of = np.full(count, "", dtype=object)
            split_of = np.full(count, "", dtype=object)
            intervals, split_by_id = [], {}
            for k, (s, e) in enumerate(runs):
                interval_id = f"{name}-{k:03d}"
                split = splits[f"{speaker}/{name}/{k:03d}"]
                interval_of[s:e], split_of[s:e] = interval_id, split
                intervals.append((interval_id, s, e))
                split_by_id[interval_id] = split
                interval_rows.append([speaker, name, interval_id, s / fps, e / fps, s, e, split])
            frame_tables.append(pd.DataFrame({
                "speaker": speaker, "video_fn": name, "frame_idx": np.arange(count),
                "time": np.arange(count) / fps, "interval_id": interval_of, "dataset": split_of,
                "pose_valid": valid.astype(int)}))
            if not intervals:
                continue
            # Second pass over this video: its framing and its samples.
            pose, _, _ = _video_arrays(sdir, name)
            xy, conf = arrays(to_layout(pose, options.layout))
            audio_path = sdir / "audio" / f"{name}.wav"
            audio = load_audio(audio_path, SAMPLE_RATE) if audio_path.exists() else None  # None: renderer data only
            unchanged = same_options and old_prints.get(f"{speaker}/{name}") == fingerprints[f"{speaker}/{name}"]
            for interval_id, start, end in intervals:
                # One centre and scale per interval (one shot): the body's own motion within it is kept.
                xy_n, stats = normalize(xy[start:end], conf[start:end], options.layout)
                framing.append((np.asarray(stats.center, float), float(stats.scale)))
                if audio is None:
                    continue
                for j, t0, p, c, clip in _samples_of_interval(xy_n, conf[start:end], start, audio, fps):
                    split = split_by_id[interval_id]
                    rel = f"{speaker}/samples/{interval_id}-{j:04d}.npz"
                    keep_files.add(rel)
                    if split == "train":
                        moments.add(p, c)
                    if not (unchanged and (data / rel).exists()):
                        _write_npz(data / rel, pose=p, conf=c, audio=clip.astype(np.float32), layout=options.layout,
                                   center=np.asarray(stats.center, np.float32), scale=np.float32(stats.scale),
                                   speaker=speaker, video_fn=name, interval_id=interval_id, dataset=split,
                                   start=np.float64(t0), end=np.float64(t0 + WINDOW / FPS), fps=np.float32(FPS),
                                   sample_rate=np.int32(SAMPLE_RATE), width=np.int32(size[0]), height=np.int32(size[1]))
                        written += 1
                    sample_rows.append([rel, split, t0, t0 + WINDOW / FPS, rel, speaker, name, interval_id])
                    summary_samples[split] += 1

        # Samples imported from speech2gesture's own dataset.
        imported = sdir / "imported.csv"
        imported_layout = None
        if imported.exists():
            table = pd.read_csv(imported, dtype={"interval_id": str, "video_fn": str})
            for row in table.itertuples():
                keep_files.add(row.audio_fn)
                sample_rows.append([row.audio_fn, row.dataset, row.start, row.end, row.audio_fn, speaker,
                                    row.video_fn, row.interval_id])
                summary_samples[row.dataset] = summary_samples.get(row.dataset, 0) + 1
                if row.dataset == "train" and not videos_of:
                    with np.load(data / row.audio_fn) as z:
                        moments.add(z["pose"], z["conf"])
                        imported_layout = str(z["layout"])
        _write_stats(sdir, moments, imported_layout or options.layout, framing,
                     [size for *_, size in videos_of])

        # Samples no longer in the index (a video redone, options changed) are removed.
        for path in (sdir / "samples").glob("*.npz") if (sdir / "samples").is_dir() else []:
            if f"{speaker}/samples/{path.name}" not in keep_files:
                path.unlink()

    frames = pd.concat(frame_tables, ignore_index=True) if frame_tables else pd.DataFrame(columns=FRAME_COLUMNS)
    _write_csv(data / "frames.csv", frames[FRAME_COLUMNS])
    _write_csv(data / "intervals.csv", pd.DataFrame(interval_rows, columns=INTERVAL_COLUMNS))
    _write_csv(data / "train.csv", pd.DataFrame(sample_rows, columns=TRAIN_COLUMNS))
    summary = {"speakers": speakers, "videos": len(videos), "frames": int(len(frames)),
               "intervals": len(interval_rows), "samples": summary_samples, "samples_written": written,
               "seconds": round(time.perf_counter() - started, 3)}
    write_json(data / "index.json", {"summary": summary, "state": state})  # last: the index is complete
    return summary


def _write_stats(sdir: Path, moments: _Moments, layout: str, framing, sizes) -> None:
    """stats.json: the speaker's framing in pixels (median over videos of the shoulder midpoint and
    width) and the per-keypoint mean / std of normalized train poses (speech2gesture z-scores)."""
    stats = {"layout": layout, "fps": FPS}
    if framing:
        stats["center"] = np.median([c for c, _ in framing], axis=0).tolist()
        stats["scale"] = float(np.median([s for _, s in framing]))
    if sizes:
        stats["width"], stats["height"] = max(set(sizes), key=lambda s: (sizes.count(s), s))
    if moments.n is not None:
        mean, std = moments.result()
        stats["points"] = int(mean.shape[0])
        stats["mean"] = np.round(mean, 6).tolist()
        stats["std"] = np.round(np.maximum(std, 1e-6), 6).tolist()
    write_json(sdir / "stats.json", stats)


def _write_csv(path: Path, table: pd.DataFrame) -> None:
    with atomic_output(path) as tmp:
        table.to_csv(tmp, index=False)


def _read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


# --- speech2gesture's dataset --------------------------------------------------------------------------

def _s2g_pose(pose: np.ndarray, path) -> np.ndarray:
    """speech2gesture's pose, (64, 2, 49) or (64, 98) (49 x then 49 y), as (64, 49, 2) pixels."""
    pose = np.asarray(pose, np.float32)
    if pose.ndim == 2 and pose.shape[1] == 98:
        pose = pose.reshape(len(pose), 2, 49)
    if pose.ndim != 3 or pose.shape[1:] != (2, 49):
        raise InputError(path, f"has a pose of shape {pose.shape}, not speech2gesture's (64, 2, 49) or (64, 98)",
                         "Give the npz files of speech2gesture's dataset.")
    return pose.transpose(0, 2, 1)


def _find_npz(name: str, roots: list[Path]) -> Path | None:
    """speech2gesture wrote absolute paths (`<base>/<speaker>/train/npz/<file>.npz`): try the
    name as written, then its last 1-4 parts under the csv's folder and the folder above it,
    so a dataset that moved is still found."""
    parts = Path(name).parts
    candidates = [Path(name)] + [root / Path(*parts[-k:]) for root in roots for k in (4, 3, 2, 1) if len(parts) >= k]
    return next((c for c in candidates if c.is_file()), None)


def _seconds(value) -> float:
    """speech2gesture's start/end: seconds, or a time / timedelta string ("0 days 00:01:02.5")."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return pd.to_timedelta(str(value).split(" days ")[-1] if "days" in str(value) else str(value)).total_seconds()


def import_s2g(csv_path: str | Path, data: str | Path, speaker: str | None = None,
               show_progress: bool = True) -> dict:
    """Read speech2gesture's `train.csv` (columns dataset, start, end, interval_id, pose_fn,
    audio_fn, video_fn, speaker) and its npz samples (`pose` (64, 2, 49) or (64, 98) pixels,
    `audio` 16 kHz) into DATA/<speaker>/samples (our keys, layout s2g49, normalized per video) and
    DATA/<speaker>/imported.csv; `build_index` then lists them in train.csv with their split."""
    from tqdm import tqdm

    from posevideo.pose import normalize

    csv_path, data = Path(csv_path), Path(data)
    if not csv_path.is_file():
        raise InputError(csv_path, "does not exist", "Give speech2gesture's train.csv.")
    try:
        table = pd.read_csv(csv_path, dtype={"interval_id": str, "video_fn": str, "speaker": str})
    except (ValueError, pd.errors.ParserError) as error:
        raise InputError(csv_path, f"is not a readable csv ({error})", "Give speech2gesture's train.csv.") from error
    missing = [c for c in ("dataset", "start", "end", "interval_id", "pose_fn", "speaker") if c not in table]
    if missing:
        raise InputError(csv_path, f"lacks the columns {', '.join(missing)}", "Give speech2gesture's train.csv.")
    if speaker:
        table = table[table["speaker"] == speaker]
    if table.empty:
        raise InputError(csv_path, f"has no rows for speaker {speaker!r}", "Check --speaker against its speaker column.")
    roots = [csv_path.parent, csv_path.parent.parent]
    counts = {}
    for (spk, video), group in tqdm(table.groupby(["speaker", "video_fn"], sort=True), desc="  import",
                                    unit="video", disable=not show_progress):
        loaded = []
        for row in group.itertuples():
            path = _find_npz(str(row.pose_fn), roots)
            if path is None:
                raise InputError(csv_path, f"names {row.pose_fn}, which is not beside it",
                                 "Keep train.csv in speech2gesture's data folder.")
            with np.load(path) as z:
                if "pose" not in z or "audio" not in z:
                    raise InputError(path, "has no 'pose' or no 'audio' array", "Give speech2gesture's npz files.")
                loaded.append((row, _s2g_pose(z["pose"], path), np.asarray(z["audio"], np.float32).reshape(-1)))
        xy = np.concatenate([p for _, p, _ in loaded])
        conf = np.isfinite(xy).all(axis=-1).astype(np.float32)
        xy_n, stats = normalize(np.nan_to_num(xy), conf, "s2g49", path=csv_path)
        rows = []
        for i, (row, _, audio) in enumerate(loaded):
            p = xy_n[i * WINDOW:(i + 1) * WINDOW]
            c = conf[i * WINDOW:(i + 1) * WINDOW]
            audio = np.pad(audio, (0, max(0, AUDIO_SAMPLES - len(audio))))[:AUDIO_SAMPLES]
            rel = f"{spk}/samples/s2g-{_hash(str(row.pose_fn))[:16]}.npz"
            split = {"val": "dev"}.get(str(row.dataset), str(row.dataset))
            _write_npz(data / rel, pose=p, conf=c, audio=audio, layout="s2g49",
                       center=np.asarray(stats.center, np.float32), scale=np.float32(stats.scale), speaker=spk,
                       video_fn=str(video), interval_id=str(row.interval_id), dataset=split,
                       start=np.float64(_seconds(row.start)), end=np.float64(_seconds(row.end)), fps=np.float32(FPS),
                       sample_rate=np.int32(SAMPLE_RATE), width=np.int32(0), height=np.int32(0))
            rows.append([rel, split, _seconds(row.start), _seconds(row.end), str(video), str(row.interval_id)])
        counts.setdefault(spk, []).extend(rows)
    for spk, rows in counts.items():
        _write_csv(data / spk / "imported.csv",
                   pd.DataFrame(rows, columns=["audio_fn", "dataset", "start", "end", "video_fn", "interval_id"]))
    return {spk: len(rows) for spk, rows in counts.items()}
