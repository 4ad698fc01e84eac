"""How task gradients are mixed into one body update.

The trainer backpropagates one task at a time (so only one task's activations are alive) and
hands each task's body gradient, as a flat buffer, to the weighter. A *streaming* weighter returns
the task's coefficient at once, and the body is updated with ``sum_i coefficient_i g_i /
normaliser`` from one body-sized buffer whatever the number of tasks. A weighter that needs every
gradient before it can decide (gradient surgery such as PCGrad) derives from
:class:`AllGradientsWeighter`: the trainer then keeps the K gradients (K body-sized buffers) and
the weighter writes the update direction itself. Either way the trainer runs the same step,
through the weighter's :class:`Mixer`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, ClassVar, Optional

import torch
from torch import nn

from tartan_fw.common.registrable import Registrable
from tartan_fw.tasks.base import EndTask


@dataclass
class TaskGradient:
    """One task's contribution to the step: its flat body gradient, its mean loss and what its head read.

    ``body_grad`` is summed over data-parallel ranks and ``loss`` too, so every rank sees the same
    values; ``features`` and ``labels`` are this rank's (end-tasks return them, for a meta head).
    """

    index: int
    body_grad: torch.Tensor
    features: Optional[torch.Tensor] = None
    labels: Optional[torch.Tensor] = None
    loss: Optional[torch.Tensor] = None


@dataclass
class WeighterContext:
    """What a weighter may use besides gradients.

    ``end_task`` offers what its base class declares: :meth:`EndTask.build_head` (a fresh head),
    :meth:`EndTask.collate` of a split by indices, :meth:`EndTask.split_size`,
    :meth:`Task.encode` and its head's :meth:`Head.features`. ``body_parameters`` are the body's
    trainable parameters in the order of the flat gradient buffer; ``all_reduce`` averages a
    tensor over data-parallel ranks (the identity in one process).
    """

    body: nn.Module
    body_parameters: list[nn.Parameter]
    end_task: EndTask
    device: torch.device
    autocast: Callable[[], Any]
    seed: int
    all_reduce: Callable[[torch.Tensor], torch.Tensor] = lambda tensor: tensor


class Weighter(Registrable):
    """Turns per-task body gradients into one update and reports the mixing weights.

    The protocol of one optimisation step, in this order:

    1. ``begin_step(step)``, once (steps count from 1);
    2. one call per task, in task order, index 0 first, which is the end-task whenever the stage
       trains it (``setup``'s ``task_names[0]``): ``coefficient(gradient)``, then
       ``head_scale(index)`` for the same task. ``gradient.body_grad`` is the trainer's buffer,
       valid during the call only: it holds the next task's gradient afterwards, so keep a copy
       of what later tasks need (GCS keeps the end-task's);
    3. ``normaliser()``, once, after the last task: the body gradient is then
       ``sum_i coefficient_i g_i / normaliser``. The step may still be skipped afterwards (a
       non-finite gradient or loss anywhere): state learned from a gradient must not take in
       NaN or inf.

    ``weights()`` and ``scalars()`` are read for logging after some steps, ``state_dict()`` for
    checkpoints; a resumed run continues bit-identically only if the state holds everything
    the weights depend on. Coefficients, the normaliser and head scales are tensors on the
    context's device (or the normaliser a float), so the step never waits for the device.
    """

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

    def mixer(self, like: torch.Tensor) -> "Mixer":
        """What forms the body update from this weighter's answers; ``like`` is the trainer's gradient buffer."""
        return StreamingMixer(self, like)

    def begin_step(self, step: int) -> None:
        """Called before the first task's gradient of each optimisation step."""

    def coefficient(self, gradient: TaskGradient) -> torch.Tensor:
        """The (unnormalised) coefficient of this task's body gradient in the update, a 0-dim tensor."""
        raise NotImplementedError

    def normaliser(self) -> torch.Tensor | float:
        """Divides the summed, coefficient-weighted body gradients."""
        return 1.0

    def head_scale(self, index: int) -> Optional[torch.Tensor]:
        """Multiplies the task's head gradient (a 0-dim tensor); None leaves it as it is."""
        return None

    def weights(self) -> torch.Tensor:
        """The current mixing weights, one per task, summing to 1: each task's share of the update."""
        raise NotImplementedError

    def scalars(self) -> dict[str, float]:
        """Extra values to log under their own tags (e.g. ``cosine/<task>``)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class AllGradientsWeighter(Weighter):
    """A weighter that sees every task's body gradient of the step at once, then writes the update.

    This costs K body-sized buffers (K tasks) on top of the trainer's two, which a streaming
    weighter never needs; in exchange the update may be any direction, not only a weighted sum
    (PCGrad projects gradients off each other). The protocol: ``begin_step(step)``, then
    ``head_scale(index)`` per task in task order as its gradient arrives, then ``combine`` once
    with all of them; ``coefficient`` and ``normaliser`` are not called.
    """

    def mixer(self, like: torch.Tensor) -> "Mixer":
        return AllGradientsMixer(self, like, len(self.task_names))

    def combine(self, gradients: list[TaskGradient], out: torch.Tensor) -> None:
        """Write the body update into ``out`` (the trainer's gradient buffer) from every task's gradient.

        ``gradients`` are in task order (index 0 the end-task) and are the weighter's to modify
        in place until the next step.
        """
        raise NotImplementedError


class Mixer:
    """Forms one step's body update from the task gradients as they arrive: the trainer's side of the contract."""

    def __init__(self, weighter: Weighter) -> None:
        self.weighter = weighter

    def begin_step(self, step: int) -> None:
        self.weighter.begin_step(step)

    def add(self, gradient: TaskGradient) -> Optional[torch.Tensor]:
        """Take in one task's gradient; returns the scale of its head gradient (None: unscaled)."""
        raise NotImplementedError

    def update(self, out: torch.Tensor) -> None:
        """Write the step's body update into ``out``."""
        raise NotImplementedError


class StreamingMixer(Mixer):
    """``sum_i coefficient_i g_i / normaliser`` in one body-sized buffer."""

    def __init__(self, weighter: Weighter, like: torch.Tensor) -> None:
        super().__init__(weighter)
        self.combined = torch.zeros_like(like)

    def begin_step(self, step: int) -> None:
        super().begin_step(step)
        self.combined.zero_()

    def add(self, gradient: TaskGradient) -> Optional[torch.Tensor]:
        self.combined.addcmul_(gradient.body_grad, self.weighter.coefficient(gradient))
        return self.weighter.head_scale(gradient.index)

    def update(self, out: torch.Tensor) -> None:
        out.copy_(self.combined).div_(self.weighter.normaliser())


class AllGradientsMixer(Mixer):
    """Keeps a copy of every task's gradient (K body-sized buffers) for an :class:`AllGradientsWeighter`."""

    weighter: AllGradientsWeighter

    def __init__(self, weighter: AllGradientsWeighter, like: torch.Tensor, num_tasks: int) -> None:
        super().__init__(weighter)
        self.buffers = torch.zeros((num_tasks, like.numel()), dtype=like.dtype, device=like.device)
        self.gradients: list[TaskGradient] = []

    def begin_step(self, step: int) -> None:
        super().begin_step(step)
        self.gradients = []

    def add(self, gradient: TaskGradient) -> Optional[torch.Tensor]:
        kept = self.buffers[gradient.index]
        kept.copy_(gradient.body_grad)
        self.gradients.append(replace(gradient, body_grad=kept))
        return self.weighter.head_scale(gradient.index)

    def update(self, out: torch.Tensor) -> None:
        self.weighter.combine(self.gradients, out)


class StaticWeighter(Weighter):
    """Weights fixed before training: the loss is ``sum_i w_i L_i`` (MT-TARTAN's Equation 3)."""

    fixed: torch.Tensor

    def setup(self, task_names: list[str], context: WeighterContext) -> None:
        super().setup(task_names, context)
        self.fixed = self.fixed_weights(task_names).to(context.device)

    def fixed_weights(self, task_names: list[str]) -> torch.Tensor:
        """One float32 weight per task, summing to 1."""
        raise NotImplementedError

    def coefficient(self, gradient: TaskGradient) -> torch.Tensor:
        return self.fixed[gradient.index]

    def head_scale(self, index: int) -> Optional[torch.Tensor]:
        return self.fixed[index]

    def weights(self) -> torch.Tensor:
        return self.fixed.cpu()
