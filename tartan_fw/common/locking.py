"""An OS lock on a run directory, so that two processes never write one run.

``flock`` on ``<dir>/.lock``: the kernel releases it when the holder dies, however it dies, so a
killed run never leaves a stale lock; the file holds the holder's pid for the refusal message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from tartan_fw.common.files import file_mode, make_folder, storage_errors
from tartan_fw.errors import RunLocked

LOCK_FILE = ".lock"

_held: dict[Path, int] = {}  # folder -> descriptor, for the life of the process


def lock_folder(folder: Path) -> None:
    """Take the folder's lock until the process ends (again in the same process: a no-op).

    A folder replaced since the lock was taken (deleted and made anew) is locked anew.
    """
    folder = folder.resolve()
    path = folder / LOCK_FILE
    descriptor = _held.get(folder)
    if descriptor is not None:
        if path.exists() and os.fstat(descriptor).st_ino == path.stat().st_ino:
            return
        os.close(_held.pop(folder))
    make_folder(folder)
    with storage_errors(path):
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, file_mode())
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(descriptor)
        raise RunLocked(
            f"{folder}: in use by another tartan-fw process (pid {holder}); wait for it to end or stop it, "
            f"or choose another run directory with -s"
        ) from None
    with storage_errors(path):
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    _held[folder] = descriptor
