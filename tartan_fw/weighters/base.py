"""How task gradients are mixed into one body update.

The trainer backpropagates one task at a time (so only one task's activations are alive) and
hands each task's body gradient, as a flat buffer, to the weighter, which returns the task's
coefficient. The body is updated with ``sum_i coefficient_i * g_i / normaliser``; a task's head
gradient is scaled by ``head_scale``. Fixed weights and learned ones (META-TARTAN, which needs
each gradient to set its weight) share this contract, so the trainer never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Optional, Union

import torch
from torch import nn

from tartan_fw.common.registrable import Registrable

Coefficient = Union[float, torch.Tensor]


@dataclass
class TaskGradient:
    """One task's contribution to the step: its flat body gradient and what its head read."""

    index: int
    body_grad: torch.Tensor
    features: Optional[torch.Tensor] = None
    labels: Optional[torch.Tensor] = None


@dataclass
class WeighterContext:
    """What a weighter may use besides gradients: the model, the end-task and the device."""

    body: nn.Module
    body_parameters: list[nn.Parameter]
    end_task: Any
    device: torch.device
    autocast: Callable[[], Any]
    seed: int
    all_reduce: Callable[[torch.Tensor], torch.Tensor] = lambda tensor: tensor


class Weighter(Registrable):
    """Turns per-task body gradients into one update and reports the mixing weights."""

    family: ClassVar[str] = "weighter"
    default_implementation: ClassVar[Optional[str]] = "uniform"
    task_names: list[str]

    def check_tasks(self, task_names: list[str]) -> None:
        """Raise ConfigurationError if the settings do not fit these tasks.

        The experiment calls it when it is built, so a mismatch fails before a run directory exists.
        """

    def setup(self, task_names: list[str], context: WeighterContext) -> None:
        """Called once before training; ``task_names[0]`` is the end-task."""
        self.task_names = task_names

    def begin_step(self, step: int) -> None:
        """Called before the first task's gradient of each optimisation step."""

    def coefficient(self, gradient: TaskGradient) -> Coefficient:
        """The (unnormalised) coefficient of this task's body gradient in the update.

        The gradient may hold NaN or inf (the trainer then skips the whole step): state learned
        from it must not take them in.
        """
        raise NotImplementedError

    def normaliser(self) -> Coefficient:
        """Divides the summed, coefficient-weighted body gradients."""
        return 1.0

    def head_scale(self, index: int) -> float:
        """Multiplies the task's head gradient."""
        return 1.0

    def weights(self) -> torch.Tensor:
        """The current mixing weights, one per task, summing to 1."""
        raise NotImplementedError

    def scalars(self) -> dict[str, float]:
        """Extra values to log under their own tags (e.g. ``cosine/<task>``)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class StaticWeighter(Weighter):
    """Weights fixed before training: the loss is ``sum_i w_i L_i`` (MT-TARTAN's Equation 3)."""

    fixed: torch.Tensor

    def coefficient(self, gradient: TaskGradient) -> Coefficient:
        return float(self.fixed[gradient.index])

    def head_scale(self, index: int) -> float:
        return float(self.fixed[index])

    def weights(self) -> torch.Tensor:
        return self.fixed
