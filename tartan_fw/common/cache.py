"""The on-disk cache (tokenised data, trained tokenizers): ``$TARTAN_CACHE`` or the user's cache folder."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    if os.environ.get("TARTAN_CACHE"):
        return Path(os.environ["TARTAN_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tartan_fw"
