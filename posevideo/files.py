"""Writing files so that a killed run never leaves a partial file that looks complete.

Every output goes through `atomic_output` (a file) or `atomic_dir` (a folder): written under a
hidden temporary name beside the target and renamed into place only after the writer closed it
cleanly. A full disk or an unwritable folder becomes one `InputError` naming the place, never a
traceback or a half-written file under the real name.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from posevideo.errors import InputError

FULL = (errno.ENOSPC, errno.EDQUOT)
LOW_SPACE = 1 << 20  # bytes: below this a write error with no errno (numpy's) is taken for a full disk


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed to `path`, on error removed.

    The temporary name keeps the suffix (`.x.tmp-123.mp4`) so libraries that pick a format by
    extension still work, and starts with a dot so globbing `*.mp4` never sees it. The body must
    close what it wrote before it ends (a `with open(tmp)` inside, or a writer's own close): the
    rename happens only when the body returns without an exception.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.tmp-", suffix=path.suffix, dir=path.parent)
    except OSError as error:
        raise unwritable(path.parent, error) from error
    os.fchmod(fd, _mode(0o666))  # mkstemp makes 0600; the result should read like any file the user writes
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, Exception):
            _raise_if_disk_problem(error, path)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Like `atomic_output` for a folder: built under a temporary name (`.name.tmp-*`), renamed
    when complete. A kill leaves only that hidden folder; `remove_leftovers` clears it."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    except OSError as error:
        raise unwritable(path.parent, error) from error
    tmp.chmod(_mode(0o777))
    try:
        yield tmp
        for item in tmp.rglob("*"):  # some writers (safetensors) make their files 0600
            if item.is_file():
                item.chmod(_mode(0o666))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException as error:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(error, Exception):
            _raise_if_disk_problem(error, path)
        raise


def unwritable(folder: str | Path, error: OSError) -> InputError:
    """The InputError for a folder that cannot be written in (read-only, no permission, a file
    in the way, full): names the folder and the reason."""
    if error.errno in FULL:
        return InputError(folder, "the disk is full, nothing was written", "Free some space and run again.")
    reason = {errno.EROFS: "it is on a read-only file system",
              errno.EACCES: "no permission to write in it",
              errno.EPERM: "no permission to write in it",
              errno.ENOTDIR: "a file stands where a folder is needed",
              errno.EEXIST: "a file stands where a folder is needed"}.get(error.errno, error.strerror or str(error))
    return InputError(folder, f"cannot write output in this folder: {reason}",
                      "Choose an output location you can write to, or fix the folder's permissions.")


def _raise_if_disk_problem(error: Exception, path: Path) -> None:
    """Raise the InputError for `error` if it says the disk is full or read-only (from the OS, from
    FFmpeg through PyAV, from safetensors' Rust, or numpy's errno-less short write); else return."""
    code = getattr(error, "errno", None)
    text = str(error)
    if code in FULL or "os error 28" in text or "No space left" in text:
        raise InputError(path, "the disk is full, nothing was written", "Free some space and run again.") from error
    if code == errno.EROFS or "os error 30" in text:
        raise unwritable(path.parent, OSError(errno.EROFS, "read-only")) from error
    if isinstance(error, OSError) and code is None and "written" in text:  # numpy: "N requested and M written"
        try:
            free = shutil.disk_usage(path.parent).free
        except OSError:
            return
        if free < LOW_SPACE:
            raise InputError(path, "the disk is full, nothing was written", "Free some space and run again.") from error


def cache_dir(*parts: str) -> Path:
    """posevideo's folder in the user's cache ($XDG_CACHE_HOME, else ~/.cache), `parts` below it."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "posevideo", *parts)


def check_writable(folder: str | Path) -> Path:
    """An InputError naming `folder` now, before hours of work, if outputs cannot go there: a
    nameless test file is made in it, or in its nearest existing parent (where the writers will
    make it). Creates nothing, so a command refused later leaves no empty folder behind."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(existing))
        with tempfile.TemporaryFile(dir=existing, prefix=".write-test-"):
            pass
    except OSError as error:
        raise unwritable(folder, error) from error
    return folder


def remove_leftovers(folder: str | Path) -> list[Path]:
    """Delete the hidden temporary files and folders (`.<name>.tmp-*`) that a killed run left in
    `folder` (not below it). Returns what was removed. Call it where one writer owns the folder
    (a run's checkpoints/, on resume): a temporary name of a writer still running would go too."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for item in folder.glob(".*.tmp-*"):
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink(missing_ok=True)
        removed.append(item)
    return removed


def reserve(path: str | Path) -> None:
    """Allocate a file's blocks now. A memory map (np.lib.format.open_memmap) makes a sparse file:
    writing it past the free space kills the process with SIGBUS, no error, no message; allocating
    first turns a full disk into ENOSPC here, which `atomic_output` reports."""
    with open(path, "r+b") as f:
        try:
            os.posix_fallocate(f.fileno(), 0, os.fstat(f.fileno()).st_size)
        except OSError as error:
            if error.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                return  # a file system without allocation: the map is written as before
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


def write_npz(path: str | Path, compressed: bool = False, **arrays) -> None:
    """Write an .npz atomically. Built in memory first: numpy's savez leaves its zip file open when
    a write fails (a full disk), and its close at garbage collection prints a traceback later."""
    import io

    import numpy as np

    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        f.write(buffer.getbuffer())
