"""Writing and reading the files a run keeps, so that no crash, full disk or damaged file is a traceback.

A write goes to a hidden file beside its target, is fsynced, gets the mode a plain ``open`` gives
(0666 less the umask, so a colleague can read a shared run), is renamed over the target, and the
folder is fsynced: after a kill or a power loss a reader sees the old file or the whole new one.
A write that fails (disk full, read-only folder) removes its hidden file and is a StorageError
naming the file. A read of a missing or damaged file is a TartanError naming it and the remedy.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from tartan_fw.errors import StorageError, TartanError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    return 0o666 & ~_umask()


def folder_mode() -> int:
    return 0o777 & ~_umask()


@contextmanager
def storage_errors(path: Path) -> Iterator[None]:
    """An OSError while writing ``path`` (disk full, read-only, a file where a folder should be) as a StorageError."""
    try:
        yield
    except OSError as err:
        raise StorageError(
            f"{path}: cannot write ({err.strerror or err}); free space on that disk or use a writable folder, "
            f"then try again"
        ) from err


class _RecordingFile:
    """Keeps the OSError of a failed write: ``torch.save`` reports it as a bare RuntimeError."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.handle.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.handle.flush()


def write_synced(path: Path, write: Callable[[Any], None]) -> None:
    """``write(file)`` fills ``path`` (created), which is then flushed to the disk and given ``file_mode``.

    OSErrors pass through: the caller names what it was writing (not a hidden temporary name).
    """
    with open(path, "wb") as handle:
        out = _RecordingFile(handle)
        try:
            write(out)
        except RuntimeError as err:
            if out.error is None:
                raise
            raise out.error from err
        handle.flush()
        os.fsync(handle.fileno())
        os.chmod(path, file_mode())


def fsync_folder(folder: Path) -> None:
    """Makes the folder's entries (a rename, a new file) durable."""
    with storage_errors(folder):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def make_folder(folder: Path) -> None:
    with storage_errors(folder):
        folder.mkdir(parents=True, exist_ok=True)


def check_writable(path: Path) -> None:
    """Fails now, before slow work, if ``path`` cannot be made: its nearest existing folder must be a
    writable directory (the missing folders below it are made when it is written)."""
    existing = path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise StorageError(f"{path}: cannot be written, {existing} is a file; choose another place")
    if not os.access(existing, os.W_OK):
        raise StorageError(f"{path}: cannot be written, {existing} is read-only; choose a writable folder")


def atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    """``write(file)`` fills a hidden file beside ``path``, renamed over it once complete and on the disk."""
    make_folder(path.parent)
    with storage_errors(path):
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    partial = Path(name)
    try:
        with storage_errors(path):
            write_synced(partial, write)
            os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda out: out.write(text.encode("utf-8")))


def atomic_save_tensors(tensors: dict[str, Any], path: Path) -> None:
    atomic_write(path, lambda out: out.write(tensor_bytes(tensors)))


def tensor_bytes(tensors: dict[str, Any]) -> bytes:
    """Safetensors bytes, written by the caller so that a failed write is an OSError with its reason.

    Cloned: body parameters are views into one flat buffer, and safetensors refuses shared memory.
    """
    from safetensors.torch import save

    return save({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()})


def read_json(path: Path, remedy: str) -> Any:
    """The JSON value in ``path``; missing or damaged is an error naming the file and ``remedy``."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise TartanError(f"{path}: missing; {remedy}") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TartanError(f"{path}: unreadable or corrupt ({error_reason(err)}); {remedy}") from err


def load_tensors(path: Path, remedy: str) -> dict[str, Any]:
    """A safetensors file's tensors; missing, truncated or corrupt is an error naming it and ``remedy``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise TartanError(f"{path}: missing; {remedy}")
    try:
        return load_file(str(path))
    except (OSError, SafetensorError) as err:
        raise TartanError(f"{path}: truncated or corrupt ({error_reason(err)}); {remedy}") from err


def check_tensors(path: Path, remedy: str) -> None:
    """Reads only the header, which a truncated file fails (its size no longer matches): cheap enough for a pre-check."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise TartanError(f"{path}: missing; {remedy}")
    try:
        with safe_open(str(path), "pt"):
            pass
    except (OSError, SafetensorError) as err:
        raise TartanError(f"{path}: truncated or corrupt ({error_reason(err)}); {remedy}") from err


def error_reason(err: BaseException) -> str:
    """The first sentence of the error: enough to tell truncation from corruption."""
    text = str(err).strip()
    return text.splitlines()[0].split(". ")[0] if text else type(err).__name__
