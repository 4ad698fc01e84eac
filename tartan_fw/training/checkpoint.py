"""Checkpoints, written atomically: the best end-task model, and the training state a run resumes from."""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy
import torch
from torch import nn

from tartan_fw.common.files import (
    atomic_save_tensors, atomic_write_text, check_tensors, error_reason, folder_mode, fsync_folder, load_tensors,
    make_folder, read_json, storage_errors, tensor_bytes, write_synced,
)
from tartan_fw.errors import TartanError


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


# What to do about a missing or damaged best model: the run's selection cannot be redone without retraining.
DAMAGED_BEST = "the run's best model is lost; train the run again (tartan-fw run ... --force)"


def save_end_task_model(body: nn.Module, head: nn.Module, path: Path) -> None:
    atomic_save_tensors(module_tensors({"body": body, "head": head}), path)


def load_end_task_model(body: nn.Module, head: nn.Module, path: Path) -> None:
    load_module_tensors({"body": body, "head": head}, load_tensors(path, DAMAGED_BEST), path)


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
    DAMAGED = "the checkpoint is damaged; restart the run with tartan-fw run ... --force"
    # The layout of what a save writes, recorded in ``latest``. Raise it when a change would make an older
    # tartan-fw misread the checkpoint, and teach ``load`` to convert the older format (or to refuse it in one
    # line). Checkpoints written before the number was recorded are format 1.
    FORMAT = 1

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def exists(self) -> bool:
        return (self.directory / self.POINTER).exists()

    def global_step(self) -> int:
        """The step the latest checkpoint was taken after (without loading it)."""
        return self._pointer()["global_step"]

    def save(self, tensors: dict[str, torch.Tensor], state: dict[str, Any], global_step: int) -> None:
        make_folder(self.directory)
        with storage_errors(self.directory):
            partial = Path(tempfile.mkdtemp(dir=self.directory, prefix=f".step-{global_step}-"))
        folder = partial.with_name(partial.name[1:])
        try:
            with storage_errors(folder):
                os.chmod(partial, folder_mode())
                write_synced(partial / self.MODEL, lambda out: out.write(tensor_bytes(tensors)))
                write_synced(partial / self.STATE, lambda out: torch.save(state, out))
                fsync_folder(partial)
                os.replace(partial, folder)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        fsync_folder(self.directory)
        pointer = {"folder": folder.name, "global_step": global_step, "format": self.FORMAT}
        atomic_write_text(self.directory / self.POINTER, json.dumps(pointer))
        for leftover in self.directory.iterdir():
            if leftover.name in (self.POINTER, folder.name):
                continue
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)

    def load(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The model tensors and the training state of the latest save."""
        folder = self.folder()
        tensors = load_tensors(folder / self.MODEL, self.DAMAGED)
        try:
            state = torch.load(folder / self.STATE, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
            raise TartanError(f"{folder / self.STATE}: unreadable ({error_reason(err)}); {self.DAMAGED}") from err
        return tensors, state

    def check(self) -> None:
        """Fails now, before a resumed run writes anything, if ``load`` would fail on a truncated file:
        the model's header and the state's zip directory (``torch.save``'s format) are read, not the data."""
        check_tensors(self.folder() / self.MODEL, self.DAMAGED)
        state = self.folder() / self.STATE
        if not state.is_file():
            raise TartanError(f"{state}: missing; {self.DAMAGED}")
        try:
            zipfile.ZipFile(state).close()
        except (OSError, zipfile.BadZipFile) as err:
            raise TartanError(f"{state}: truncated or corrupt ({error_reason(err)}); {self.DAMAGED}") from err

    def folder(self) -> Path:
        return self.directory / self._pointer()["folder"]

    def _pointer(self) -> dict[str, Any]:
        path = self.directory / self.POINTER
        if not path.exists():
            raise TartanError(f"{self.directory}: no checkpoint to resume from; start the run again with --force")
        pointer = read_json(path, self.DAMAGED)
        if not (isinstance(pointer, dict) and isinstance(pointer.get("folder"), str)
                and isinstance(pointer.get("global_step"), int) and "/" not in pointer["folder"]):
            raise TartanError(f"{path}: not a checkpoint pointer (expected {{\"folder\": ..., \"global_step\": ...}}); "
                              f"{self.DAMAGED}")
        written = pointer.get("format", 1)
        if not (isinstance(written, int) and 1 <= written <= self.FORMAT):
            raise TartanError(
                f"{path}: checkpoint format {written!r}, but this tartan-fw reads format {self.FORMAT} and older; resume "
                f"with the tartan-fw that wrote it (environment.json in the run directory names its version), or "
                f"start the run again with tartan-fw run ... --force"
            )
        return pointer
