"""Checkpoints, written atomically: the best end-task model, and the training state a run resumes from."""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from tartan_fw.errors import TartanError


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


def atomic_write_text(path: Path, text: str) -> None:
    """Text written beside ``path`` and renamed over it: readers see the old file or the new one."""
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _named_tensors(modules: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    """Every module's parameters and buffers under ``<prefix>.`` keys, each tensor once: a weight
    tied between modules (a masked-LM decoder and the body's embeddings) under its first owner."""
    named: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for prefix, module in modules.items():
        for name, value in module.state_dict(keep_vars=True).items():
            if id(value) not in seen:
                seen.add(id(value))
                named[f"{prefix}.{name}"] = value
    return named


def module_tensors(modules: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    return {key: value.detach() for key, value in _named_tensors(modules).items()}


def load_module_tensors(modules: dict[str, nn.Module], tensors: dict[str, torch.Tensor], source: Path) -> None:
    """Copy saved values into the modules' tensors in place.

    In place because body parameters are views into the trainer's flat buffer: replacing a
    tensor would detach it from the buffer the optimiser updates.
    """
    with torch.no_grad():
        for key, value in _named_tensors(modules).items():
            if key not in tensors:
                raise TartanError(f"{source}: '{key}' is missing; the checkpoint was written by a different model config")
            value.copy_(tensors[key])


def training_modules(body: nn.Module, tasks: list[Any]) -> dict[str, nn.Module]:
    """What a training checkpoint holds: the body and every task's head, keyed by task name."""
    return {"body": body, **{f"heads.{task.name}": task.head for task in tasks}}


def save_end_task_model(body: nn.Module, head: nn.Module, path: Path) -> None:
    atomic_save_tensors(module_tensors({"body": body, "head": head}), path)


def load_end_task_model(body: nn.Module, head: nn.Module, path: Path) -> None:
    load_module_tensors({"body": body, "head": head}, load_file(str(path)), path)


def rng_state() -> dict[str, Any]:
    """Every random generator training draws from (dropout, anything seeded with ``seed_everything``)."""
    kind, keys, position, has_gauss, gauss = numpy.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(numpy.int64)), position, has_gauss, gauss),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    kind, keys, position, has_gauss, gauss = state["numpy"]
    random.setstate(state["python"])
    numpy.random.set_state((kind, keys.numpy().astype(numpy.uint32), position, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


class TrainingCheckpoint:
    """``<run_dir>/checkpoint/``: the latest complete training state, to resume a run from.

    A save writes a fresh folder (``model.safetensors``: the body and every head;
    ``state.pt``: optimiser, scheduler, weighter, data streams, random generators, callbacks and
    progress), then atomically rewrites the ``latest`` file to name it, then deletes every other
    folder. Whenever the process dies, ``latest`` names a complete folder; anything else in the
    directory is an unfinished save, removed by the next one.
    """

    MODEL = "model.safetensors"
    STATE = "state.pt"
    POINTER = "latest"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def exists(self) -> bool:
        return (self.directory / self.POINTER).exists()

    def global_step(self) -> int:
        """The step the latest checkpoint was taken after (without loading it)."""
        return self._pointer()["global_step"]

    def save(self, tensors: dict[str, torch.Tensor], state: dict[str, Any], global_step: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(dir=self.directory, prefix=f".step-{global_step}-"))
        try:
            save_file({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, str(partial / self.MODEL))
            torch.save(state, partial / self.STATE)
            folder = partial.with_name(partial.name[1:])
            os.replace(partial, folder)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        atomic_write_text(self.directory / self.POINTER, json.dumps({"folder": folder.name, "global_step": global_step}))
        for leftover in self.directory.iterdir():
            if leftover.name in (self.POINTER, folder.name):
                continue
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)

    def load(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The model tensors and the training state of the latest save."""
        folder = self.directory / self._pointer()["folder"]
        try:
            tensors = load_file(str(folder / self.MODEL))
            state = torch.load(folder / self.STATE, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError) as err:
            raise TartanError(f"{folder}: unreadable checkpoint ({err}); restart the run with --force") from err
        return tensors, state

    def _pointer(self) -> dict[str, Any]:
        path = self.directory / self.POINTER
        if not path.exists():
            raise TartanError(f"{self.directory}: no checkpoint to resume from; start the run again with --force")
        return json.loads(path.read_text())
