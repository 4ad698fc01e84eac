"""What made a run, recorded in its ``environment.json``: code, libraries and hardware.

A result is only as reproducible as the record of what produced it: the same config on another
tartan-fw commit, torch release or thread count can train differently (kernels and reduction
orders change), so a run keeps the versions next to its config, as ``pip freeze`` logs do for
Hugging Face examples. Each session appends an entry, so a run resumed under other code says so.
"""

from __future__ import annotations

import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

import torch

import tartan_fw

LIBRARIES = ("torch", "transformers", "datasets", "safetensors", "numpy")
CHECKOUT = Path(tartan_fw.__file__).resolve().parents[1]  # the repository root when tartan-fw runs from a checkout


def git_commit(folder: Path = CHECKOUT) -> Optional[dict[str, Any]]:
    """The checkout's commit and whether it has uncommitted changes; None outside a git checkout (an installed
    wheel) or without git."""
    if not (folder / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        changes = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "uncommitted_changes": bool(changes.strip())}


def library_version(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment_record(event: str, device: torch.device) -> dict[str, Any]:
    """One session of a run (``event``: start or resume)."""
    return {
        "event": event,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tartan_fw": tartan_fw.__version__,
        "git": git_commit(),
        "python": platform.python_version(),
        "libraries": {name: library_version(name) for name in LIBRARIES},
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or None,
        "cuda": torch.version.cuda,
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }
