"""Carry a speaker's gesture cache to a GPU machine in fewer bytes, losslessly.

    .venv/bin/python benchmarks/gestures_carry.py pack DATA SPEAKER OUT.xz [--splits train dev]
    python3 benchmarks/gestures_carry.py unpack OUT.xz DATA2 SPEAKER     # there: DATA2/SPEAKER/gesture_clips.npz

`gesture_clips.npz` (data.py) holds float16 log-mel and poses compressed with zlib: 38 MB for 35
minutes. Here each float16 series is stored as the differences of its bit patterns along time
(smooth motion gives small integers), one series after another, and compressed with LZMA; clips of
the splits not named are left out (training needs train, and dev for its log). Unpacking gives the
X
"""
from __future__ import annotations

import argparse
import io
import lzma
from pathlib import Path

import numpy as np

SERIES = ("mel", "pose", "conf")  # (frames, ...) float16 arrays along time


def pack(data: Path, speaker: str, out: Path, splits: list[str]) -> None:
    z = np.load(data / speaker / "gesture_clips.npz", allow_pickle=False)
    keep = np.flatnonzero(np.isin(z["split"], splits))
    arrays = {}
    for key, offsets_key in (("mel", "mel_offsets"), ("pose", "pose_offsets"), ("conf", "pose_offsets")):
        offsets = z[offsets_key]
        parts = [z[key][offsets[i]:offsets[i + 1]] for i in keep]
        whole = np.concatenate(parts).view(np.uint16)  # (frames, ...) float16 bits
        flat = whole.reshape(len(whole), -1)
        arrays[key] = np.ascontiguousarray(np.diff(flat, axis=0, prepend=np.zeros_like(flat[:1])).T)  # (series, frames)
        arrays[key + "_shape"] = np.asarray(whole.shape)
    for key in ("pose_offsets", "mel_offsets"):
        lengths = np.diff(z[key])[keep]
        arrays[key] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    for key in ("center", "scale", "split", "names"):
        arrays[key] = z[key][keep]
    arrays["meta"] = z["meta"]
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(lzma.compress(buffer.getvalue(), preset=6))
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB, {len(keep)} clips ({', '.join(splits)})")


def unpack(packed: Path, data: Path, speaker: str) -> None:
    z = np.load(io.BytesIO(lzma.decompress(packed.read_bytes())), allow_pickle=False)
    out = {k: z[k] for k in ("pose_offsets", "mel_offsets", "center", "scale", "split", "names", "meta")}
    for key in SERIES:
        bits = np.cumsum(z[key].T, axis=0, dtype=np.uint16)  # wraps around as the differences did
        out[key] = bits.reshape(tuple(z[key + "_shape"])).view(np.float16)
    (data / speaker).mkdir(parents=True, exist_ok=True)
    np.savez(data / speaker / "gesture_clips.npz", **out)
    print(f"{data / speaker / 'gesture_clips.npz'}: {len(out['split'])} clips")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("pack")
    p.add_argument("data", type=Path)
    p.add_argument("speaker")
    p.add_argument("out", type=Path)
    p.add_argument("--splits", nargs="+", default=["train", "dev"])
    u = sub.add_parser("unpack")
    u.add_argument("packed", type=Path)
    u.add_argument("data", type=Path)
    u.add_argument("speaker")
    args = parser.parse_args()
    if args.what == "pack":
        pack(args.data, args.speaker, args.out, args.splits)
    else:
        unpack(args.packed, args.data, args.speaker)


if __name__ == "__main__":
    main()
