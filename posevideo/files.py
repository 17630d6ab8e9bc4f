"""Writing files so that a killed run never leaves a partial file that looks complete."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from posevideo.errors import InputError


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed to `path`, on error removed.

    The temporary name keeps the suffix (`.x.tmp-123.mp4`) so libraries that pick a format by
    extension still work, and starts with a dot so globbing `*.mp4` never sees it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.tmp-", suffix=path.suffix, dir=path.parent)
    os.fchmod(fd, _mode(0o666))  # mkstemp makes 0600; the result should read like any file the user writes
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        if error.errno == 28:  # ENOSPC
            raise InputError(path, "the disk is full, nothing was written", "Free some space and run again.") from error
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Like `atomic_output` for a folder: built under a temporary name, renamed when complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    tmp.chmod(_mode(0o777))
    try:
        yield tmp
        for item in tmp.rglob("*"):  # some writers (safetensors) make their files 0600
            if item.is_file():
                item.chmod(_mode(0o666))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _mode(full: int) -> int:
    """`full` (0o666 files, 0o777 folders) less the process umask, as open() and mkdir() would give."""
    umask = os.umask(0)
    os.umask(umask)
    return full & ~umask


def write_json(path: str | Path, obj) -> None:
    """Write JSON atomically (indented, keys in the order given)."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")
