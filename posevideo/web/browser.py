"""Headless Chromium for the browser tests and the benchmark: Debian's chromium driven by Playwright.

Nothing is downloaded: Playwright (the Python package, dev extra) drives /usr/bin/chromium, which
setup.sh installs with apt. The flags are those FINDINGS.md found to work headless as root, each
launch gets a fresh profile folder, and a video file can stand in for the webcam.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from posevideo.errors import InputError

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         # Timers and frames of a hidden headless page must not be throttled while we measure.
         "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
         "--disable-backgrounding-occluded-windows"]


def chromium_path() -> str:
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        raise InputError(CHROMIUM, "Chromium is not installed", "Run ./setup.sh (it installs Debian's chromium).")
    return path


@contextlib.contextmanager
def chromium(fake_video: str | Path | None = None, extra_flags: tuple[str, ...] = (), playwright=None) -> Iterator:
    """A Playwright BrowserContext on headless Chromium with a fresh --user-data-dir.

    fake_video: a .y4m or .mjpeg file that Chromium plays as the webcam (getUserMedia is granted).
    playwright: a running `sync_playwright()` instance to launch from (Playwright allows one per
    thread); None starts and stops one here.
    """
    if playwright is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as own:
            with chromium(fake_video, extra_flags, own) as context:
                yield context
        return
    flags = list(FLAGS) + list(extra_flags)
    if fake_video is not None:
        flags += ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                  f"--use-file-for-fake-video-capture={Path(fake_video).resolve()}"]
    profile = tempfile.mkdtemp(prefix="posevideo-chromium-")
    try:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium_path(), headless=True, args=flags,
            viewport={"width": 1100, "height": 700})
        try:
            yield context
        finally:
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def write_y4m(path: str | Path, frames: np.ndarray, fps: int = 30) -> Path:
    """Write (T, H, W, 3) uint8 RGB frames as a Y4M (4:2:0, BT.601 full range) for the fake webcam.

    H and W must be even (4:2:0 halves the chroma planes)."""
    frames = np.asarray(frames)
    count, height, width = frames.shape[:3]
    if height % 2 or width % 2:
        raise ValueError(f"y4m 4:2:0 needs even sizes, got {width}x{height}")
    rgb = frames.astype(np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128

    def half(plane):  # (T, H, W) -> (T, H/2, W/2), mean of each 2x2
        return plane.reshape(count, height // 2, 2, width // 2, 2).mean(axis=(2, 4))

    planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, half(u), half(v))]
    path = Path(path)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n".encode())
        for t in range(count):
            f.write(b"FRAME\n")
            for plane in planes:
                f.write(plane[t].tobytes())
    return path
