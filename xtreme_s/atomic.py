"""Files that another command reads are written whole or not at all.

A run killed (or a disk filling up) while it writes results.json would otherwise leave half a file: the next command
then refuses the folder as "finished", or `xtreme-s score` reads a damaged number. Each writer here writes a
temporary file in the same folder (same file system, so the rename is atomic), flushes it to the disk, and renames
it over the target with `os.replace`; a reader sees the old file or the new one, never a mixture.

Hand-written: the standard library has no atomic write, and the packages that do (atomicwrites) are unmaintained.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside `path`; on a clean exit it is flushed, synced and renamed over `path`, on an
    error it is removed (and `path` keeps its old content)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself reaches the disk with the folder's entry
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_open(path) as f:
        f.write(text)
    return Path(path)


def disk_full_message(err: BaseException, where: str | os.PathLike | None) -> str | None:
    """One line for a write that failed because the disk is full (errno ENOSPC, or torch's "file write failed"
    with no space left where the run writes), naming the disk and what to free; None for any other error."""
    text = str(err)
    full = getattr(err, "errno", None) == errno.ENOSPC or "No space left on device" in text
    folder = Path(getattr(err, "filename", None) or where or ".")
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not full and "file write failed" in text:  # torch's serializer hides the errno
        with contextlib.suppress(OSError):
            full = shutil.disk_usage(folder).free < 64 * 2**20
    if not full:
        return None
    with contextlib.suppress(OSError):
        usage = shutil.disk_usage(folder)
        mount = folder.resolve()
        while not os.path.ismount(mount) and mount != mount.parent:
            mount = mount.parent
        return (f"the disk holding {folder} (mounted at {mount}) is full: {usage.free / 2**30:.1f} of "
                f"{usage.total / 2**30:.1f} GiB free. Free space there (old checkpoint-* folders, other runs' "
                "outputs, the Hugging Face cache: `hf cache delete`), keep fewer checkpoints (--save_total_limit 2), "
                "or pass an --output_dir on another disk; then rerun the same command to resume.")
    return f"the disk holding {folder} is full. Free space there, then rerun the same command to resume."
