"""What one training stage is, and the settings its loop runs with: typed, so nothing is read back by key."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from tartan_fw.training.logging import journal

if TYPE_CHECKING:
    from tartan_fw.tasks import EndTask, Task
    from tartan_fw.weighters import Weighter


@dataclass
class Schedule:
    """One training stage's length, learning rates and evaluation policy."""

    max_steps: int
    body_lr: float
    head_lr: float
    warmup_fraction: float
    eval_every: Optional[int]  # null: the stage never evaluates (continued pretraining has no end-task)
    patience: Optional[int]
    max_epochs: Optional[float] = None  # when set, replaces max_steps: passes over the end-task's training set

    def for_end_task(self, end_task: "EndTask") -> "Schedule":
        """With ``max_epochs``, the steps it takes at the end-task's batch size (the user need not know
        the training-set size); else unchanged."""
        if self.max_epochs is None:
            return self
        size, batch = end_task.split_size("train"), end_task.batch_size
        steps = max(1, math.ceil(self.max_epochs * size / batch))
        journal.info("%g epochs of %d training examples, %d a step: %d steps", self.max_epochs, size, batch, steps)
        return dataclasses.replace(self, max_steps=steps)


@dataclass
class Stage:
    """A stage of a run: its tasks (the end-task first, when trained), their weighter and schedule."""

    name: str
    tasks: list["Task"]
    weighter: "Weighter"
    schedule: Schedule
    frozen_body: bool = False  # the body's forward runs without gradients and the body is not updated: heads only


@dataclass(frozen=True)
class LoopSettings:
    """The trainer's settings every stage shares (documented on the ``tartan`` trainer)."""

    weight_decay: float
    max_grad_norm: Optional[float]
    accumulation_steps: int
    log_every: int
    checkpoint_every: Optional[int]
    max_nonfinite_steps: int
    compile: bool
