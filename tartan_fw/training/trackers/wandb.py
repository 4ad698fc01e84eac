"""Weights & Biases: the run's scalars, config and final metrics in a W&B run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from tartan_fw.training.callbacks.base import Callback
from tartan_fw.training.trackers.base import Tracker, import_package


@Callback.register("wandb")
class WandbTracker(Tracker):
    """Reports to the W&B project ``$WANDB_PROJECT`` (default ``tartan-fw``); W&B's own environment does the rest
    (``WANDB_ENTITY``, ``WANDB_DIR``, ``WANDB_MODE=offline`` to write the run locally and ``wandb sync`` it later).
    The W&B run is named after the run directory; the final metrics go into its summary. Install with
    ``pip install 'tartan-fw[wandb]'``.
    """

    package, extra = "wandb", "wandb"

    def start(self, directory: Path, run_id: Optional[str]) -> str:
        wandb = import_package(type(self))
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "tartan-fw"), name=directory.name,
                              notes=str(directory.resolve()), id=run_id, resume="allow" if run_id else None)
        return self.run.id

    def log_params(self, params: dict[str, Any]) -> None:
        self.run.config.update(params, allow_val_change=True)

    def log_scalars(self, values: dict[str, float], step: int) -> None:
        self.run.log({tag: float(value) for tag, value in values.items()}, step=step)

    def log_final(self, metrics: dict[str, float]) -> None:
        self.run.summary.update(metrics)

    def close(self, finished: bool) -> None:
        self.run.finish(exit_code=0 if finished else 1)
