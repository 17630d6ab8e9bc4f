"""The companion a real person's renderer trains beside (`train renderer --companion signing`): the
synthetic speaker of seed 0 signing as six other seeds move, made here, never downloaded.

    bank = signing_bank(size=256, sleeves="short")       # ~/.cache/posevideo/companions/..., made once
    posevideo train renderer --data DATA --speaker NAME --init-from shipped --companion signing --batch 64 --out RUN

It is the `bank_ms` that BENCHMARKS.md measured ("A real person trained beside the synthetic
speaker"): `synth-speaker --seed 0 --motion-seed S --seconds 60 --fps 15 --signing --room 0.25
--sleeves short` for S = 1..6, `prepare`, `pack-frames` (train split, 4,500 frames; about a minute on
a 2-core CPU). `sleeves` dresses the companion as the person ("none" for bare arms, "long" for a
suit): no patches of its clothes on theirs, fewer of other people's hands read (BENCHMARKS.md).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

SIGNING = "signing"          # --companion's name for this bank
SEEDS = (1, 2, 3, 4, 5, 6)   # the motion seeds (the person is seed 0's)
SECONDS = 60.0
FPS = 15.0
SLEEVES = ("short", "none", "long")


def signing_bank(size: int = 256, sleeves: str = "short", seeds: tuple[int, ...] = SEEDS,
                 seconds: float = SECONDS, root: str | Path | None = None) -> Path:
    """The synthetic speaker's signing as a `pack-frames` bank folder at `size`, made on first use
    under `root` (default: the user's cache) and reused after; written whole or not at all."""
    if sleeves not in SLEEVES:
        raise ValueError(f"sleeves must be one of {SLEEVES}, got {sleeves!r}")
    from posevideo.errors import InputError
    from posevideo.files import cache_dir
    from posevideo.renderer.data import BANK_FILE, bank_from_data, write_bank
    name = f"signing-{size}px-{sleeves}-seeds{''.join(map(str, seeds))}-{seconds:g}s"
    folder = Path(root or cache_dir("companions")) / name
    if (folder / BANK_FILE).exists():
        return folder
    from posevideo.data.prepare import PrepareOptions, prepare
    from posevideo.synthetic import synth_speaker

    print(f"note: making the companion bank {folder} (the synthetic speaker signing; once, about a "
          f"minute on 2 CPU cores)", file=sys.stderr)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        drawn = Path(tmp) / "drawn"
        videos = [synth_speaker(0, seconds, drawn, fps=FPS, signing=True, room=0.25, sleeves=sleeves,
                                motion_seed=seed)["video"] for seed in seeds]
        data = Path(tmp) / "data"
        results, _ = prepare([str(v) for v in videos], "synthetic_0", str(data),
                             PrepareOptions(sizes=(size,), poses_from=str(drawn)), workers=min(2, os.cpu_count() or 1),
                             echo=lambda line: print(line, file=sys.stderr))
        failed = [r for r in results if r.status == "failed"]
        if failed:
            raise InputError(folder, f"could not be made: {failed[0].error}",
                             "Check the disk space under it (or set XDG_CACHE_HOME), then run again.")
        write_bank({"train": bank_from_data(data, "synthetic_0", size, "train")}, folder)
    return folder
