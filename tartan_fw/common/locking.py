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
    descriptor = try_lock(path)
    if isinstance(descriptor, str):
        raise RunLocked(
            f"{folder}: in use by another tartan-fw process (pid {descriptor}); wait for it to end or stop it, "
            f"or choose another run directory with -s"
        )
    _held[folder] = descriptor


def try_lock(path: Path) -> int | str:
    """The descriptor now holding ``path``'s lock (the file then names this process; closing it releases
    the lock), or, when another process holds it, that process's pid."""
    with storage_errors(path):
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, file_mode())
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(descriptor)
        return holder
    with storage_errors(path):
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    return descriptor


def lock_holder(folder: Path) -> str | None:
    """The pid of the process holding the folder's lock, None when no process does."""
    if not (folder / LOCK_FILE).exists():
        return None
    descriptor = try_lock(folder / LOCK_FILE)
    if isinstance(descriptor, str):
        return descriptor
    os.close(descriptor)
    return None
