"""`posevideo prepare`: videos -> audio, poses and person-centred crops per video, then the index.

Per video, in `DATA/<speaker>/` (layout in docs/INTERFACES.md, "Data"):
    videos/<v>.json    probe + options          (stage "probe")
    audio/<v>.wav      16 kHz mono              (stage "audio")
    poses/<v>.pose     holistic, source pixels  (stage "extract", or copied with --poses-from)
    frames/<v>.<S>.npy crops (T, S, S, 3) uint8 and frames/<v>.boxes.npy (T, 3)  (stage "crop")
    done/<v>.json      written last: the video is finished
Every file is written under a temporary name and renamed, so a killed run leaves nothing that
looks finished; a rerun redoes only what is missing.
"""
from __future__ import annotations

import multiprocessing
import queue
import sys
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from posevideo.data import keying
from posevideo.pose import extract, framing
from posevideo.errors import InputError
from posevideo.files import atomic_output, check_writable, reserve, write_json

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg")
# Pixels on the frame's shorter side below which pose extraction is refused: MediaPipe Holistic
# found the body in a real photo (skimage's astronaut, head and shoulders) scaled to 48x48 and
# not at 32x32 (measured 2026-12-02, mediapipe 0.10.21).
MIN_EXTRACT_SIDE = 48
STAGES = ("probe", "audio", "decode", "key", "extract", "crop")


@dataclass(frozen=True)
class PrepareOptions:
    sizes: tuple[int, ...] = (256,)
    key: str = "none"  # none | green | auto
    background: tuple[int, int, int] = (0, 0, 0)
    poses_from: str | None = None  # folder of <video stem>.pose files used instead of extraction
    refine_face: bool = True  # Holistic's refined face (478 points: irises)
    extract_side: int = extract.MAX_SIDE  # frames larger than this (longest side) are downscaled before extraction

    def pose_key(self) -> dict:
        """What the pose and crops depend on: when any of it changes, the video is redone."""
        return {"key": self.key, "background": list(self.background), "poses_from": self.poses_from,
                "refine_face": self.refine_face, "margin": "picture-edge"}


@dataclass
class VideoResult:
    source: str
    name: str
    status: str  # done | skipped | failed
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    frames: int = 0
    duration: float = 0.0
    detected: int = 0
    seconds: dict = field(default_factory=dict)


def find_videos(inputs: list[str | Path]) -> list[Path]:
    """Files as given (whatever their suffix: a wrong one gets its own error line), folders
    searched recursively for video suffixes. Sorted, duplicates removed."""
    found = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found += [p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                      and not p.name.startswith(".")]
        else:
            found.append(item)
    return sorted({p.resolve(): p for p in found}.values(), key=lambda p: str(p.resolve()))


def take_shard(videos: list[Path], shard: tuple[int, int] | None) -> list[Path]:
    """The i-th (0-based) of n interleaved parts: every machine gets a similar mix."""
    if shard is None:
        return videos
    i, n = shard
    # Ordered by file name, not full path: machines that mount the inputs at different places
    # still agree on who does what.
    return sorted(videos, key=lambda p: (p.name, str(p)))[i::n]


# --- frames ---------------------------------------------------------------------------------------

class _Timer:
    def __init__(self):
        self.seconds = {}

    def add(self, stage: str, seconds: float):
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds


def _frames(path: Path, info, timer: _Timer, progress: Callable) -> Iterator[np.ndarray]:
    """`constant_rate_frames`, with the decoding time and progress counted."""
    from posevideo.video import constant_rate_frames

    source = constant_rate_frames(path, info)
    while True:
        start = time.perf_counter()
        frame = next(source, None)
        timer.add("decode", time.perf_counter() - start)
        if frame is None:
            return
        progress("decode", 1)
        yield frame


# --- stages ---------------------------------------------------------------------------------------

def _paths(speaker_dir: Path, name: str, sizes=()) -> dict:
    d = speaker_dir
    paths = {"meta": d / "videos" / f"{name}.json", "audio": d / "audio" / f"{name}.wav",
             "pose": d / "poses" / f"{name}.pose", "boxes": d / "frames" / f"{name}.boxes.npy",
             "done": d / "done" / f"{name}.json"}
    for size in sizes:
        paths[f"crop{size}"] = d / "frames" / f"{name}.{size}.npy"
    return paths


def _remove_outputs(speaker_dir: Path, name: str) -> None:
    for path in _paths(speaker_dir, name).values():
        path.unlink(missing_ok=True)
    for path in (speaker_dir / "frames").glob(f"{name}.*.npy"):
        path.unlink(missing_ok=True)


def _read_json(path: Path):
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _extract(src: Path, info, options: PrepareOptions, key, timer: _Timer, progress: Callable):
    """MediaPipe Holistic on the (downscaled if large, keyed) frames, cleaned; source pixels."""
    def frames():
        for frame in _frames(src, info, timer, progress):
            start = time.perf_counter()
            frame = extract.downscale(frame, options.extract_side)
            timer.add("decode", time.perf_counter() - start)
            if key:
                start = time.perf_counter()
                frame = keying.key_frame(frame, options.background, *key)
                timer.add("key", time.perf_counter() - start)
            progress("extract", 1)
            yield frame

    start = time.perf_counter()
    before = dict(timer.seconds)
    pose = extract.holistic(frames(), info.fps, info.width, info.height, refine_face=options.refine_face, path=src)
    spent = time.perf_counter() - start
    timer.add("extract", spent - sum(timer.seconds.get(k, 0) - before.get(k, 0) for k in ("decode", "key")))
    return extract.clean(pose, info.fps, src)


def _pose_from_folder(src: Path, name: str, info, options: PrepareOptions):
    from posevideo.pose import arrays, read_pose, replace_arrays, resample

    # <video>.pose (pose-to-video, the synthetic speaker) or <video>.holistic.pose (everybody-sign-now).
    folder, stem = Path(options.poses_from), Path(src).stem
    path = next((p for p in (folder / f"{stem}.pose", folder / f"{stem}.holistic.pose") if p.exists()), None)
    if path is None:
        raise InputError(src, f"--poses-from has no {stem}.pose (or {stem}.holistic.pose) for this video (looked in "
                              f"{options.poses_from})",
                         "Name each .pose like its video, or leave out --poses-from to extract poses.")
    pose = read_pose(path)
    dims = pose.header.dimensions
    if (dims.width, dims.height) != (info.width, info.height) and dims.width > 0 and dims.height > 0:
        # Made on a resized copy of the video: bring the points to this video's pixels.
        xy, conf = arrays(pose)
        pose = replace_arrays(pose, xy * np.array([info.width / dims.width, info.height / dims.height], np.float32), conf)
        pose.header.dimensions.width, pose.header.dimensions.height = info.width, info.height
    fps = float(pose.body.fps)
    if abs(fps - info.fps) > 0.01 * info.fps:
        xy, conf = arrays(pose)
        xy, conf = resample(xy, conf, fps, info.fps)
        pose = replace_arrays(pose, xy, conf, fps=info.fps)
    expected = int(round(info.duration * info.fps)) if info.vfr else info.frames
    if abs(len(pose.body.data) - expected) > max(2, 0.01 * expected):
        raise InputError(path, f"holds {len(pose.body.data)} frames but its video {src.name} has {expected}",
                         "Give the .pose made from this very video.")
    return pose


def _crop_all(src: Path, info, pose, paths: dict, sizes, options: PrepareOptions, key, area,
              timer: _Timer, progress: Callable) -> tuple[int, int]:
    """Crops for every size in one decoding pass, cut from the picture `area` (x0, y0, x1, y1; the
    frame without letterbox bars). Returns (frames, frames with a valid pose)."""
    from posevideo.pose import arrays

    xy, conf = arrays(pose)
    right, left = framing.pose_shoulders(pose, paths["pose"])
    count = len(xy)
    start = time.perf_counter()
    mid, width, valid = framing.shoulder_track(xy, conf, left, right)
    boxes = framing.crop_boxes(mid, width, valid, info.fps, info.width, info.height)
    todo = [s for s in sizes if not paths[f"crop{s}"].exists()]
    x0, y0, x1, y1 = area
    shift = np.array([x0, y0, 0], np.float32)
    timer.add("crop", time.perf_counter() - start)
    if todo:
        with _atomic_many([paths[f"crop{s}"] for s in todo]) as tmps:
            arrays_out = [np.lib.format.open_memmap(t, mode="w+", dtype=np.uint8, shape=(count, s, s, 3))
                          for t, s in zip(tmps, todo)]
            for tmp in tmps:
                reserve(tmp)  # a full disk: an error line now, not a SIGBUS while cropping
            decoded = 0
            for t, frame in enumerate(_frames(src, info, timer, progress)):
                if t >= count:  # a frame or two more than the pose: not cropped
                    break
                decoded = t + 1
                picture = frame[y0:y1, x0:x1]
                for out, size in zip(arrays_out, todo):
                    start = time.perf_counter()
                    image = framing.crop(picture, boxes[t] - shift, size, soften=not key)  # margins: the edge repeated (+ blurred)
                    timer.add("crop", time.perf_counter() - start)
                    if key:
                        start = time.perf_counter()
                        image = keying.key_frame(image, options.background, *key)
                        timer.add("key", time.perf_counter() - start)
                    out[t] = image
                progress("crop", 1)
            if decoded < count - max(2, 0.01 * count):
                raise InputError(src, f"only {decoded} of {count} frames could be decoded (truncated?)",
                                 "Re-export or re-download the video.")
            for out in arrays_out:  # a frame or two short at the end: repeat the last one
                out[max(decoded, 1):] = out[max(decoded - 1, 0)]
                out.flush()
            del arrays_out
    if not paths["boxes"].exists():
        with atomic_output(paths["boxes"]) as tmp:
            np.save(tmp, boxes)
    return count, int(valid.sum())


class _atomic_many:
    """Several atomic outputs that all appear together (or none)."""

    def __init__(self, paths):
        self.contexts = [atomic_output(p) for p in paths]

    def __enter__(self):
        return [c.__enter__() for c in self.contexts]

    def __exit__(self, *exc):
        for c in self.contexts:
            c.__exit__(*exc)


def prepare_video(src: Path, speaker_dir: Path, options: PrepareOptions,
                  progress: Callable = lambda stage, n: None) -> VideoResult:
    """All stages for one video; each skipped when its output exists. Raises InputError."""
    from posevideo.video import probe

    src = Path(src)
    name = src.stem
    paths = _paths(speaker_dir, name, options.sizes)
    result = VideoResult(str(src), name, "done")
    timer = _Timer()
    stat = src.stat() if src.exists() else None
    # The file's name and size say whether outputs were made from it (not its full path: a data
    # folder made on a cluster stays valid where the inputs are mounted elsewhere).
    source_id = {"name": src.name, "bytes": stat.st_size if stat else 0}

    # Finished before with the same inputs and options: nothing to do.
    done = _read_json(paths["done"])
    if done and done.get("source") == source_id and done.get("options") == options.pose_key() \
            and set(options.sizes) <= set(done.get("sizes", [])):
        result.status = "skipped"
        for k in ("frames", "duration", "detected"):
            setattr(result, k, done.get(k, 0))
        result.warnings = done.get("warnings", [])
        return result

    # Probe. Outputs made from another source or other options are stale: remove them.
    start = time.perf_counter()
    info = probe(src)
    if info.frames < 1 or info.width < 16 or info.height < 16:
        raise InputError(src, f"holds no usable picture ({info.frames} frames of {info.width}x{info.height})",
                         "Give a video of a person.")
    if min(info.width, info.height) < MIN_EXTRACT_SIDE and not options.poses_from:
        raise InputError(src, f"frames of {info.width}x{info.height} are too small for pose extraction "
                              f"(under {MIN_EXTRACT_SIDE} pixels a side MediaPipe finds no one)",
                         "Give the video at its original size, or its poses with --poses-from.")
    # A killed run leaves hidden temporary files (never mistaken for outputs); clear this video's.
    for folder in ("videos", "audio", "poses", "frames", "done"):
        for stale in (speaker_dir / folder).glob(f".{name}.*tmp-*"):
            stale.unlink(missing_ok=True)
    meta = _read_json(paths["meta"])
    if meta and (meta.get("source") != source_id or meta.get("options") != options.pose_key()):
        _remove_outputs(speaker_dir, name)
    if info.vfr:
        result.warnings.append(f"variable frame rate, resampled to a constant {info.fps:.3f} fps")
    if info.rotation:
        result.warnings.append(f"rotated {info.rotation} degrees by its metadata, turned upright")
    timer.add("probe", time.perf_counter() - start)

    # Audio.
    if info.has_audio and not paths["audio"].exists():
        from posevideo.audio import SAMPLE_RATE, load_audio, write_wav

        start = time.perf_counter()
        write_wav(paths["audio"], load_audio(src, SAMPLE_RATE))
        timer.add("audio", time.perf_counter() - start)
    if not info.has_audio:
        result.warnings.append("no audio track: kept for the renderer, no gesture samples")

    # Keying: asked for, or detected, on a few frames from the first seconds, which also fit the
    # key's thresholds to this screen's green. key = (low, high), or None: no keying.
    # The same sample gives the picture area: letterbox bars are not picture (crops repeat the
    # picture's edge outwards, not a bar).
    key = None
    start = time.perf_counter()
    sample = []
    for i, frame in enumerate(_frames(src, info, _Timer(), lambda *a: None)):
        if i % max(1, int(info.fps / 2)) == 0:
            sample.append(frame)
        if len(sample) >= 5:
            break
    area = framing.picture_area(sample) if sample else (0, 0, info.width, info.height)
    if area != (0, 0, info.width, info.height):
        result.warnings.append(f"black bars around the picture: crops use x {area[0]}-{area[2]}, y {area[1]}-{area[3]}")
    timer.add("probe", time.perf_counter() - start)
    if options.key in ("green", "auto"):
        start = time.perf_counter()
        sample = [frame[::4, ::4] for frame in sample]
        if options.key == "green" or keying.looks_green_screen(sample):
            key = keying.screen_thresholds(sample)
        timer.add("key", time.perf_counter() - start)
    keyed = key is not None
    if keyed:
        result.warnings.append(f"green screen keyed (green excess {key[0]:.0f}-{key[1]:.0f})")
    write_json(paths["meta"], {"source": source_id, "probe": info.to_dict(), "options": options.pose_key(),
                               "keyed": keyed, "key_thresholds": list(key) if keyed else None,
                               "picture_area": list(area)})

    # Pose: existing file, or extraction + cleaning.
    from posevideo.pose import read_pose, write_pose

    if paths["pose"].exists():
        pose = read_pose(paths["pose"])
    else:
        if options.poses_from:
            pose = _pose_from_folder(src, name, info, options)
        else:
            pose = _extract(src, info, options, key, timer, progress)
        write_pose(pose, paths["pose"])

    # Crops at every size, and the boxes.
    result.frames, result.detected = _crop_all(src, info, pose, paths, options.sizes, options, key, area, timer, progress)
    result.duration = result.frames / info.fps
    if result.detected == 0:
        result.warnings.append("no person found in any frame: no intervals, no samples")
    result.seconds = timer.seconds

    sizes = set(options.sizes) | {int(p.name.split(".")[-2]) for p in (speaker_dir / "frames").glob(f"{name}.*.npy")
                                  if p.name.split(".")[-2].isdigit()}
    write_json(paths["done"], {"source": source_id, "options": options.pose_key(), "sizes": sorted(sizes),
                               "video": name, "frames": result.frames, "fps": info.fps,
                               "duration": result.duration, "detected": result.detected,
                               "has_audio": info.has_audio, "keyed": keyed, "warnings": result.warnings,
                               "seconds": timer.seconds})
    return result


# --- many videos ----------------------------------------------------------------------------------

def _worker(src: str, speaker_dir: str, options: PrepareOptions, events) -> VideoResult:
    pending, last = {}, [time.perf_counter()]

    def progress(stage, n):  # batched: a queue message per frame would cost more than cropping it
        pending[stage] = pending.get(stage, 0) + n
        if events is not None and time.perf_counter() - last[0] > 0.2:
            flush()

    def flush():
        for stage, count in pending.items():
            events.put((stage, count))
        pending.clear()
        last[0] = time.perf_counter()

    try:
        result = prepare_video(Path(src), Path(speaker_dir), options, progress)
        if events is not None:
            flush()
        return result
    except InputError as error:
        return VideoResult(src, Path(src).stem, "failed", error=str(error))
    except Exception as error:  # one broken video must not stop the others
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        return VideoResult(src, Path(src).stem, "failed",
                           error=f"{src}: unexpected failure ({detail}). This is a bug in posevideo: please report it "
                                 "with the file")


def prepare_videos(videos: list[Path], speaker_dir: Path, options: PrepareOptions, workers: int = 1,
                   report: Callable[[VideoResult], None] = lambda r: None, show_progress: bool = True) -> list[VideoResult]:
    """Run `prepare_video` over `videos`, `workers` processes at a time, with a progress bar per
    stage (frames) and one for videos. `report` is called as each video ends."""
    from tqdm import tqdm

    # Two inputs with one stem would write the same files: the second is refused.
    seen, jobs, results = {}, [], []
    for src in videos:
        if src.stem in seen:
            results.append(VideoResult(str(src), src.stem, "failed",
                                       error=str(InputError(src, f"has the same name as {seen[src.stem]}",
                                                            "Rename one: outputs are named by the file's stem."))))
            report(results[-1])
        else:
            seen[src.stem] = src
            jobs.append(src)
    bars = {stage: tqdm(desc=f"{stage:>8} frames", unit="fr", position=i + 1, disable=not show_progress, leave=False)
            for i, stage in enumerate(("decode", "extract", "crop"))}
    vbar = tqdm(total=len(jobs), desc="  videos", unit="video", position=0, disable=not show_progress)

    def on_event(stage, n):
        if stage in bars:
            bars[stage].update(n)

    def finish(result):
        results.append(result)
        vbar.update(1)
        report(result)

    try:
        if workers <= 1 or len(jobs) <= 1:
            for src in jobs:
                finish(_worker_inline(src, speaker_dir, options, on_event))
        else:
            ctx = multiprocessing.get_context("spawn")  # MediaPipe's threads do not survive fork
            with ctx.Manager() as manager:
                events = manager.Queue()
                stop = threading.Event()

                def pump():
                    while not stop.is_set():
                        try:
                            on_event(*events.get(timeout=0.2))
                        except queue.Empty:
                            pass
                        except (EOFError, OSError):
                            return

                thread = threading.Thread(target=pump, daemon=True)
                thread.start()
                with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                    futures = {pool.submit(_worker, str(src), str(speaker_dir), options, events): src for src in jobs}
                    for future in as_completed(futures):
                        try:
                            finish(future.result())
                        except BrokenProcessPool as error:  # a worker died (killed, out of memory, a crash)
                            src = futures[future]
                            finish(VideoResult(str(src), src.stem, "failed", error=str(InputError(
                                src, f"its worker process died ({error.__class__.__name__})",
                                "Run again (finished videos are skipped); with fewer --workers if memory ran out."))))
                stop.set()
                thread.join()
    finally:
        for bar in (*bars.values(), vbar):
            bar.close()
    return results


def _worker_inline(src, speaker_dir, options, on_event) -> VideoResult:
    class _Direct:
        def put(self, item):
            on_event(*item)

    return _worker(str(src), str(speaker_dir), options, _Direct())


def check_speaker(name: str) -> str:
    if not name or name.startswith(".") or any(c in name for c in "/\\:*?\"<>| ") or name in ("samples",):
        raise InputError(None, f"speaker name {name!r} cannot be a folder name",
                         "Use letters, digits, '-' and '_' only (for example --speaker oliver).")
    return name


def summary_table(results: list[VideoResult], index_summary: dict | None, index_seconds: float) -> str:
    """The table `prepare` prints at the end."""
    done = [r for r in results if r.status in ("done", "skipped")]
    frames = sum(r.frames for r in done)
    detected = sum(r.detected for r in done)
    seconds = {}
    for r in done:
        for k, v in r.seconds.items():
            seconds[k] = seconds.get(k, 0.0) + v
    rows = [("videos", f"{len(done)} ok ({sum(r.status == 'skipped' for r in done)} already done), "
                       f"{sum(r.status == 'failed' for r in results)} failed"),
            ("hours", f"{sum(r.duration for r in done) / 3600:.3f}"),
            ("frames", f"{frames}"),
            ("detection rate", f"{detected / frames:.1%}" if frames else "-")]
    if index_summary:
        splits = index_summary.get("samples", {})
        rows.append(("samples", ", ".join(f"{k} {splits.get(k, 0)}" for k in ("train", "dev", "test"))))
        rows.append(("intervals", str(index_summary.get("intervals", 0))))
    for stage in STAGES:
        if stage in seconds:
            rate = f" ({frames / seconds[stage]:.0f} frames/s)" if stage in ("decode", "key", "extract", "crop") \
                and seconds[stage] > 0 and frames else ""
            rows.append((f"time {stage}", f"{seconds[stage]:.1f} s{rate}"))
    if index_summary is not None:
        rows.append(("time index", f"{index_seconds:.1f} s"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def prepare(inputs: list[str | Path], speaker: str, data: str | Path, options: PrepareOptions,
            workers: int = 1, shard: tuple[int, int] | None = None, index_options=None,
            show_progress: bool = True, echo: Callable[[str], None] = print) -> tuple[list[VideoResult], dict | None]:
    """The whole `posevideo prepare`: every video, then (unless sharded) the index. Problems with
    one video are reported through `echo` as one line each and the others go on; the caller
    decides the exit code from the results."""
    from posevideo.data.index import IndexOptions, build_index

    check_speaker(speaker)
    data = Path(data)
    for item in inputs:
        if not Path(item).exists():
            raise InputError(item, "does not exist", "Give video files or folders of them.")
    if data.exists() and not data.is_dir():
        raise InputError(data, "is a file, not a folder", "Give --data a folder (it is made if missing).")
    videos = take_shard(find_videos(inputs), shard)
    if not videos:
        raise InputError(", ".join(map(str, inputs)), "holds no video files (" + ", ".join(VIDEO_SUFFIXES) + ")",
                         "Give video files or folders of them.")
    if options.poses_from and not Path(options.poses_from).is_dir():
        raise InputError(options.poses_from, "is not a folder", "--poses-from takes a folder of <video>.pose files.")
    check_writable(data / speaker)  # a read-only DATA: one line now, not one per video

    def report(result: VideoResult):
        from tqdm import tqdm

        lines = [f"error: {result.error}"] if result.status == "failed" else []
        lines += [f"note: {result.source}: {w}" for w in (result.warnings if result.status == "done" else [])]
        with tqdm.external_write_mode(file=sys.stderr):  # a whole line, not glued to a progress bar
            for line in lines:
                echo(line)

    results = prepare_videos(videos, data / speaker, options, workers, report, show_progress)
    summary = None
    index_options = index_options or IndexOptions()
    # With no video of this run usable the index has nothing new: building it would only add a
    # second, misleading line (or rebuild what is already there).
    if shard is None and any(r.status in ("done", "skipped") for r in results):
        summary = build_index(data, index_options, show_progress=show_progress)
        for result in results:
            for reason in _why_nothing(result, data, speaker, index_options):
                echo(f"note: {result.source}: {reason}")
    return results, summary


def _why_nothing(result: VideoResult, data: Path, speaker: str, index_options) -> list[str]:
    """Why a finished video gave no interval (so no frames for training and no samples), or
    nothing when it gave some."""
    import pandas as pd

    if result.status not in ("done", "skipped") or not (data / "intervals.csv").exists():
        return []
    intervals = pd.read_csv(data / "intervals.csv", usecols=["speaker", "video_fn"], dtype=str, keep_default_na=False)
    if ((intervals["speaker"] == speaker) & (intervals["video_fn"] == result.name)).any():
        return []
    if result.detected == 0:
        return []  # its own note already said: no person found in any frame
    if result.duration < index_options.min_seconds:
        return [f"lasts {result.duration:.2f} s ({result.frames} frames), shorter than --min-seconds "
                f"{index_options.min_seconds:g}: no intervals, nothing to train on"]
    return [f"the person is in view for under --min-seconds {index_options.min_seconds:g} at a stretch "
            f"({result.detected} of {result.frames} frames): no intervals, nothing to train on"]
