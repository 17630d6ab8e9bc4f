"""Video in and out through PyAV: probe, decode to RGB frames, encode H.264 (+ AAC audio) mp4, join
mp4 parts without re-encoding."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np

from posevideo.audio import SAMPLE_RATE
from posevideo.errors import InputError, check_complete
from posevideo.files import atomic_output


@dataclass(frozen=True)
class VideoInfo:
    path: str
    fps: float  # average frame rate (frames / duration)
    width: int  # as displayed, after rotation metadata is applied
    height: int
    frames: int  # video frames in the file (counted from packets)
    duration: float  # seconds of video
    rotation: int  # degrees counter-clockwise from the display matrix (0, 90, 180, 270)
    has_audio: bool
    audio_sample_rate: int  # 0 when there is no audio
    vfr: bool  # variable frame rate: frame durations differ by more than 10 % of the median

    def to_dict(self) -> dict:
        return asdict(self)


def _open(path: str | Path) -> av.container.InputContainer:
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file", "Check the path.")
    if path.stat().st_size == 0:
        raise InputError(path, "the file is empty", "Copy it again from its source.")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise InputError(path, f"not a readable video or audio file ({error.__class__.__name__})",
                          "Check that the file is complete and in a format FFmpeg reads.") from error


def _video_stream(container, path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise InputError(path, "has no video stream", "Give a video file (mp4, mov, mkv, webm...).")
    return container.streams.video[0]


def probe(path: str | Path) -> VideoInfo:
    """Read a video's properties by demuxing its packets (no decoding except one frame for rotation)."""
    with _open(path) as container:
        stream = _video_stream(container, path)
        pts = []
        try:
            for packet in container.demux(stream):
                if packet.pts is not None and packet.size:
                    pts.append(packet.pts)
        except av.error.FFmpegError as error:
            raise InputError(path, f"the video is corrupt or truncated ({error.__class__.__name__})",
                             "Re-export or re-download the file.") from error
        if not pts:
            raise InputError(path, "the video stream holds no frames", "Re-export the file.")
        check_complete(path, "video", len(pts), stream.frames, "frames", slack=2)
        times = np.sort(np.array(pts, dtype=np.float64)) * float(stream.time_base)
        steps = np.diff(times)
        if len(steps):
            median = float(np.median(steps))
            duration = float(times[-1] - times[0] + median)
            vfr = bool(np.any(np.abs(steps - median) > 0.1 * median))
        else:
            duration = 1.0 / float(stream.average_rate or 30)
            vfr = False
        fps = len(times) / duration
        container.seek(0)
        rotation = 0
        for frame in container.decode(stream):
            rotation = int(round(frame.rotation or 0)) % 360
            break
        width, height = stream.codec_context.width, stream.codec_context.height
        if rotation in (90, 270):
            width, height = height, width
        audio = container.streams.audio[0] if container.streams.audio else None
        return VideoInfo(str(path), fps, width, height, len(times), duration, rotation,
                         audio is not None, audio.codec_context.sample_rate if audio else 0, vfr)


def video_tags(path: str | Path) -> dict[str, str]:
    """The container's metadata tags (e.g. the `comment` that `render` writes)."""
    with _open(path) as container:
        return dict(container.metadata)


def read_frames(path: str | Path, apply_rotation: bool = True) -> Iterator[np.ndarray]:
    """Yield the video's frames as (H, W, 3) uint8 RGB, upright when rotation metadata says so."""
    with _open(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                image = frame.to_ndarray(format="rgb24")
                rotation = int(round(frame.rotation or 0)) % 360 if apply_rotation else 0
                if rotation:
                    # The display matrix rotates counter-clockwise; np.rot90 does too.
                    image = np.ascontiguousarray(np.rot90(image, k=rotation // 90))
                yield image
        except av.error.FFmpegError as error:
            raise InputError(path, f"the video is corrupt or truncated ({error.__class__.__name__})",
                             "Re-export or re-download the file.") from error


def read_frame_times(path: str | Path) -> np.ndarray:
    """Presentation time in seconds of each frame, in decode order (for variable frame rate video)."""
    with _open(path) as container:
        stream = _video_stream(container, path)
        times = [float(p.pts * stream.time_base) for p in container.demux(stream) if p.pts is not None and p.size]
    return np.sort(np.array(times))


def constant_rate_count(info: VideoInfo) -> int:
    """How many frames `constant_rate_frames` yields for the video `info` describes (`probe`'s)."""
    return max(1, int(round(info.duration * info.fps))) if info.vfr else info.frames


def constant_rate_frames(path: str | Path, info: VideoInfo | None = None) -> Iterator[np.ndarray]:
    """Upright RGB frames at the video's average fps (`info` is `probe(path)`). Variable frame rate
    video is resampled to a constant rate (each output time takes the nearest source frame), so
    frame t is at t / fps, as pose frame t of an extraction is."""
    info = info or probe(path)
    repeats = None
    if info.vfr:
        times = read_frame_times(path)
        wanted = times[0] + np.arange(constant_rate_count(info)) / info.fps
        right = np.clip(np.searchsorted(times, wanted), 0, len(times) - 1)
        left = np.clip(right - 1, 0, len(times) - 1)
        pick = np.where(np.abs(times[left] - wanted) <= np.abs(times[right] - wanted), left, right)
        repeats = np.bincount(pick, minlength=len(times))
    for index, frame in enumerate(read_frames(path)):
        for _ in range(1 if repeats is None else int(repeats[index]) if index < len(repeats) else 0):
            yield frame


class VideoWriter:
    """Writes RGB frames to an H.264 mp4, with optional mono audio as AAC, atomically.

        with VideoWriter("out.mp4", fps=30, width=256, height=256, audio=wave) as writer:
            for frame in frames:
                writer.write(frame)  # (H, W, 3) uint8 RGB
    """

    def __init__(self, path: str | Path, fps: float, width: int, height: int,
                 audio: np.ndarray | None = None, sample_rate: int = SAMPLE_RATE, crf: int = 18, preset: str = "veryfast",
                 metadata: dict[str, str] | None = None):
        if width % 2 or height % 2:
            raise ValueError(f"H.264 needs an even frame size, got {width}x{height}")
        self.path, self.fps, self.width, self.height = Path(path), fps, width, height
        self.audio, self.sample_rate, self.crf, self.preset = audio, sample_rate, crf, preset  # x264's
        self.metadata = dict(metadata or {})  # container tags (mp4 keeps the usual ones: title, comment...)
        self.frames = 0

    def __enter__(self) -> "VideoWriter":
        self._atomic = atomic_output(self.path)
        tmp = self._atomic.__enter__()
        try:
            self._container = av.open(str(tmp), mode="w")
        except BaseException as error:
            self._atomic.__exit__(type(error), error, error.__traceback__)  # removes tmp; a full disk becomes an InputError
            raise
        self._container.metadata.update(self.metadata)
        rate = Fraction(self.fps).limit_denominator(1001)
        self._video = self._container.add_stream("libx264", rate=rate)
        self._video.width, self._video.height = self.width, self.height
        self._video.pix_fmt = "yuv420p"
        self._video.options = {"crf": str(self.crf), "preset": self.preset}
        # x264's frame threads, not PyAV's default slices: x264 gives sliced threads at most one per
        # 4 macroblock rows (4 at 256 px), frame threads one per 2 rows (8 at 256 px; x264's
        # encoder.c), 1.5 per core below that. `render --segments` runs more encoders at once.
        self._video.codec_context.thread_type = "FRAME"
        self._video.codec_context.thread_count = 0  # x264 picks
        self._audio = None
        if self.audio is not None:
            self._audio = self._container.add_stream("aac", rate=self.sample_rate)
            self._audio.layout = "mono"
        return self

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"expected a ({self.height}, {self.width}, 3) uint8 frame, got {frame.shape} {frame.dtype}")
        video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        for packet in self._video.encode(video_frame):
            self._container.mux(packet)
        self.frames += 1

    def _write_audio(self) -> None:
        _mux_audio(self._container, self._audio, self.audio, self.sample_rate)

    def __exit__(self, exc_type, exc, tb) -> None:
        # The file is renamed into place only when the encoder was flushed and the container closed
        # without an error: a full disk often shows first at close (the mp4 index is written last),
        # and a file that failed there is unreadable, so it must not take the real name.
        try:
            if exc_type is None:
                for packet in self._video.encode(None):
                    self._container.mux(packet)
                if self._audio is not None:
                    self._write_audio()
            self._container.close()
        except BaseException as error:
            own = exc is None  # the close failed on its own, not after an error in the with-block
            if own:
                exc_type, exc, tb = type(error), error, error.__traceback__
            self._atomic.__exit__(exc_type, exc, tb)  # removes the file; may raise the disk-full InputError
            if own:
                raise
            return  # the with-block's own error goes on (the close failed because of it)
        self._atomic.__exit__(exc_type, exc, tb)


def _mux_audio(container, stream, audio: np.ndarray, sample_rate: int) -> None:
    """Encode mono float `audio` into `stream` (AAC) of `container`, from t = 0, and flush it."""
    samples = np.asarray(audio, dtype=np.float32).reshape(1, -1)
    chunk = 1024  # AAC's frame size
    for start in range(0, samples.shape[1], chunk):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + chunk]),
                                           format="fltp", layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def join_videos(parts: list[str | Path], path: str | Path, audio: np.ndarray | None = None,
                sample_rate: int = SAMPLE_RATE, metadata: dict[str, str] | None = None) -> int:
    """Join mp4s written by VideoWriters of one setting (same size, rate and codec parameters; x264
    starts each on a key frame) into one mp4, one after another, without re-encoding, `audio` muxed
    as VideoWriter does, `metadata` as its container tags; atomic. So several encoders can each write
    a part of one video at once. Returns the frame count."""
    inputs = [_open(part) for part in parts]
    try:
        streams = [_video_stream(container, part) for container, part in zip(inputs, parts)]
        headers = {bytes(stream.codec_context.extradata or b"") for stream in streams}
        if len(headers) != 1 or len({(s.width, s.height, s.codec_context.name) for s in streams}) != 1:
            raise ValueError(f"{parts}: parts of different encoder settings cannot be joined")
        frames = 0
        with atomic_output(path) as tmp, av.open(str(tmp), mode="w") as container:
            container.metadata.update(metadata or {})
            video = container.add_stream_from_template(streams[0])
            sound = None
            if audio is not None:
                sound = container.add_stream("aac", rate=sample_rate)
                sound.layout = "mono"
            offset = 0  # where this part starts, in its stream's time base (all parts share it)
            for part, stream in zip(inputs, streams):
                length = 0
                for packet in part.demux(stream):
                    if packet.dts is None:
                        continue  # the demuxer's end-of-stream marker
                    length += packet.duration
                    # A part's decode times start before 0 by the B-frame delay, which every part
                    # shares, so shifted by the parts before they stay increasing across the seam.
                    packet.pts += offset
                    packet.dts += offset
                    packet.stream = video
                    container.mux(packet)
                    frames += 1
                offset += length
            if sound is not None:
                _mux_audio(container, sound, audio, sample_rate)
    finally:
        for container in inputs:
            container.close()
    return frames


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float,
                audio: np.ndarray | None = None, sample_rate: int = SAMPLE_RATE) -> int:
    """Encode frames ((H, W, 3) uint8 RGB) to an mp4, audio muxed if given. Returns the frame count."""
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError(f"{path}: no frames to write")
    height, width = first.shape[:2]
    with VideoWriter(path, fps, width, height, audio=audio, sample_rate=sample_rate) as writer:
        writer.write(first)
        for frame in frames:
            writer.write(frame)
    return writer.frames
