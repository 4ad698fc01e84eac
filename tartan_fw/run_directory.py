"""The run directory's layout: every file a run writes, named here and nowhere else.

::

    <run dir>/
      config.json             the resolved experiment (or pipeline) config
      ext_vars.json           the --ext-var values it was resolved with
      labels.json             the end-task's label names, in head order
      model/                  the encoder's Hugging Face config and tokenizer, and body.json (max_length)
      best/model.safetensors  body and end-task head at the best dev score
      body.safetensors        the body a ``pretrain`` stage hands on (with its masked-LM head)
      checkpoint/             the resumable training state (``training/checkpoint.py``)
      tensorboard/            event files
      log.txt                 the run's log
      metrics.json            written last: the run is finished when it exists
      <stage>/                a pipeline stage's own run directory, laid out the same way

A sweep directory (:class:`SweepDirectory`) holds ``sweep.json``, one run directory per seed,
``seed<N>/``, and each seed's output, ``seed<N>.log``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from tartan_fw.errors import TartanError

@dataclass(frozen=True)
class RunDirectory:
    """Paths inside one run directory; creating or reading the files is left to their owners."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def ext_vars(self) -> Path:
        return self.root / "ext_vars.json"

    @property
    def labels(self) -> Path:
        return self.root / "labels.json"

    @property
    def model_folder(self) -> Path:
        return self.root / "model"

    @property
    def best_model(self) -> Path:
        return self.root / "best" / "model.safetensors"

    @property
    def pretrained_body(self) -> Path:
        return self.root / "body.safetensors"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def log(self) -> Path:
        return self.root / "log.txt"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    def stage(self, name: str) -> "RunDirectory":
        """A pipeline stage's run directory."""
        return RunDirectory(self.root / name)

    def is_finished(self) -> bool:
        return self.metrics.is_file()

    def is_started(self) -> bool:
        return self.config.is_file()


@dataclass(frozen=True)
class SweepDirectory:
    """Paths inside a sweep directory."""

    root: Path

    @property
    def settings(self) -> Path:
        return self.root / "sweep.json"

    def seed(self, seed: int) -> RunDirectory:
        return RunDirectory(self.root / f"seed{seed}")

    def log(self, seed: int) -> Path:
        return self.root / f"seed{seed}.log"


BODY_SETTINGS_FILE = "body.json"  # inside model/: what the tokenizer files do not say (max_length)
LABELS_FILE = "labels.json"  # also the name in an exported model folder (docs/export.md)


def read_run_config(directory: Path, include: Iterable[str] = ()) -> dict[str, Any]:
    """A run's resolved config, with the plugins it (and ``include``) needs imported."""
    from tartan_fw.plugins import load_plugins

    config_path = RunDirectory(directory).config
    if not config_path.exists():
        raise TartanError(f"{directory}: not a run directory (no {config_path.name}); pass the -s folder of a finished run")
    config = json.loads(config_path.read_text())
    load_plugins([*include, *config.get("include", [])])
    return config
