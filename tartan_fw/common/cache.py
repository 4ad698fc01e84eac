"""The on-disk cache (Arrow tables of read and tokenised data, trained tokenizers): ``$TARTAN_CACHE`` or
the user's cache folder. Everything in it can be rebuilt, so a corrupt entry is rebuilt, not an error."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)


def cache_dir() -> Path:
    if os.environ.get("TARTAN_CACHE"):
        return Path(os.environ["TARTAN_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tartan_fw"


def content_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, or of every file under a folder (names and bytes), read in chunks so
    memory stays flat however large the data."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(f"\0{file.relative_to(path)}\0".encode())
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def rebuilding(path: Path | str, reason: object) -> None:
    """Say, in one line, that a corrupt cache entry is being rebuilt."""
    detail = str(reason).splitlines()[0] if str(reason) else type(reason).__name__
    logger.warning("%s: corrupt cache entry (%s); rebuilding it", path, detail)
