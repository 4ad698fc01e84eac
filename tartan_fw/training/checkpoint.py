"""The best model so far: body and end-task head in safetensors, written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn


def atomic_save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Write to a temporary file beside ``path`` and rename it, so a kill never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        save_file({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, partial)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def save_end_task_model(body: nn.Module, head: nn.Module, path: Path) -> None:
    tensors = {f"body.{k}": v for k, v in body.state_dict().items()}
    tensors.update({f"head.{k}": v for k, v in head.state_dict().items()})
    atomic_save_tensors(tensors, path)


def load_end_task_model(body: nn.Module, head: nn.Module, path: Path) -> None:
    tensors = load_file(str(path))
    for prefix, module in (("body.", body), ("head.", head)):
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        with torch.no_grad():
            for name, value in module.state_dict().items():
                value.copy_(state[name])
