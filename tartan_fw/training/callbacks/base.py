"""Policy around the training step: callbacks observe the loop and set the flags of its control.

What changes the update (weighting, skipping a non-finite step) lives in the step; what decides
*when* to evaluate, stop, log or checkpoint lives in callbacks, the shape the Hugging Face
Trainer made familiar: a serialisable :class:`TrainerState`, a :class:`TrainerControl` of flags,
and callbacks with one event signature, ``on_<event>(loop)``.

Events, in order (every callback in list order at each: the built-ins, with the callbacks
``trainer.callbacks`` adds before ``checkpointing``; ``defaults.py``):

1. ``on_train_begin``: a stage starts (after a resumed run's state is loaded).
2. per step, after the optimisation step: ``on_step_end``. Then the loop reads the control:
   ``error`` set by a callback is raised at once (later callbacks do not see that step);
   ``interrupted_by`` leaves the run after the step's callbacks; ``should_stop_stage`` ends
   the stage (the next one, if any, starts).
3. ``on_evaluate``: after ``loop.evaluate(split)`` (which a callback calls), with the result in
   ``loop.last_evaluation``.
4. ``on_train_end``: the stage ended, also when it raised (release what ``on_train_begin`` took).

Each callback's ``state_dict`` goes into the resumable checkpoint under its registered name, so
a resumed run takes the same decisions as an uninterrupted one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Optional, Protocol

import torch

from tartan_fw.common.registrable import Registrable
from tartan_fw.errors import TartanError

if TYPE_CHECKING:
    from tartan_fw.training.stage import LoopSettings, Stage
    from tartan_fw.training.trainer import Run


@dataclass
class TrainerState:
    """Where a stage stands; saved in every checkpoint, and the stage's result when it ends.

    ``best_score`` starts at the previous stage's best (``-inf`` for the first), so a later stage
    replaces the best model only when it beats it.
    """

    stage: str
    max_steps: int
    first_step: int = 0
    steps_done: int = 0
    best_score: float = -math.inf
    best_step: int = 0
    best_dev: dict[str, float] = field(default_factory=dict)
    nonfinite_steps: int = 0
    stopped_early: bool = False
    tokens: dict[str, int] = field(default_factory=dict)  # real tokens (or examples) seen per task

    @property
    def global_step(self) -> int:
        """Steps done in this stage and the ones before: TensorBoard's x axis and the checkpoint's step."""
        return self.first_step + self.steps_done

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, dict(value) if isinstance(value, dict) else value)


@dataclass
class TrainerControl:
    """Flags callbacks set for the loop; the loop reads them after each callback's ``on_step_end``."""

    should_stop_stage: bool = False  # end this stage normally (early stopping); not saved, re-decided
    should_save: bool = False  # write a checkpoint at this step (the ``checkpointing`` callback does)
    interrupted_by: Optional[int] = None  # a signal: leave the run after this step's callbacks
    error: Optional[TartanError] = None  # the run fails with it, before later callbacks see the step
    status: str = ""  # shown once beside the progress bar

    def reset_step(self) -> None:
        self.should_save = False
        self.status = ""


@dataclass
class EvaluationResult:
    """The end-task's predictions on a split, and their metrics (the same on every rank)."""

    split: str
    metrics: dict[str, float]
    predicted: torch.Tensor
    gold: torch.Tensor

    def on_rows(self, rows: list[int], split: str) -> "EvaluationResult":
        """The result on some of the split's rows, named ``split`` (no metrics when there are none)."""
        from tartan_fw.training.metrics import classification_metrics

        index = torch.tensor(rows, dtype=torch.long)
        predicted, gold = self.predicted[index], self.gold[index]
        return EvaluationResult(split, classification_metrics(predicted, gold) if rows else {}, predicted, gold)


class Loop(Protocol):
    """What a callback may use of the stage loop (``training/trainer.py``'s ``StageLoop``).

    ``losses`` and ``finite`` are the last step's (losses are device tensors: reading one waits
    for the device, so read them only when needed).
    """

    run: "Run"
    stage: "Stage"
    settings: "LoopSettings"
    state: TrainerState
    control: TrainerControl
    optimizer: torch.optim.Optimizer
    losses: dict[str, torch.Tensor]
    finite: bool
    last_evaluation: Optional[EvaluationResult]

    def evaluate(self, split: str) -> EvaluationResult: ...

    def checkpoint_state(self) -> Optional[tuple[dict[str, torch.Tensor], dict[str, Any]]]: ...


class Callback(Registrable):
    """One piece of policy, configured in ``trainer.callbacks`` by its registered name.

    Callbacks observe the loop and set ``loop.control``; they never change the loss or the update.
    Constructor arguments are config parameters; what depends on the stage (its schedule) or on
    the trainer's settings is read from ``loop`` when an event arrives.
    """

    family: ClassVar[str] = "callback"

    @staticmethod
    def reference_note() -> str:
        """For the generated reference page: which callbacks always run, in their order (from the code)."""
        from tartan_fw.training.callbacks.defaults import BUILT_IN_CALLBACKS

        names = ", ".join(f"`{name}`" for name in BUILT_IN_CALLBACKS)
        return (f"Built in, run by every stage in this order: {names}. They select the model and keep the run "
                f"resumable, so no config can drop or reorder them; `trainer.callbacks` adds callbacks, called "
                f"after the built-ins and before `checkpointing`, so the checkpoint holds their state.")

    def on_train_begin(self, loop: Loop) -> None:
        pass

    def on_step_end(self, loop: Loop) -> None:
        pass

    def on_evaluate(self, loop: Loop) -> None:
        pass

    def on_train_end(self, loop: Loop) -> None:
        """Called even when training raised, to release what ``on_train_begin`` took."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    @property
    def name(self) -> str:
        """The registered name: the key of this callback's state in checkpoints."""
        name = Callback.registered_name(type(self))
        if name is None:
            raise TartanError(f"{type(self).__qualname__}: register the callback (@Callback.register(name)) to use it")
        return name
