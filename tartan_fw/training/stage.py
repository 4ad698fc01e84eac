"""What one training stage is, and the settings its loop runs with: typed, so nothing is read back by key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from tartan_fw.tasks import Task
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


@dataclass
class Stage:
    """A stage of a run: its tasks (the end-task first, when trained), their weighter and schedule."""

    name: str
    tasks: list["Task"]
    weighter: "Weighter"
    schedule: Schedule


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
