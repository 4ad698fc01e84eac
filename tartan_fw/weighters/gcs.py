"""GCS: auxiliary gradients enter the update only where they agree with the end-task's (Du et al., 2018)."""

from __future__ import annotations

from typing import Literal

import torch

from tartan_fw.errors import ConfigurationError
from tartan_fw.weighters.base import TaskGradient, Weighter, WeighterContext


def cosine(a: torch.Tensor, b: torch.Tensor, norm_a: torch.Tensor, norm_b: torch.Tensor) -> torch.Tensor:
    """cos(a, b) from precomputed norms; 0 where it is undefined (a zero or non-finite gradient)."""
    denominator = norm_a * norm_b
    usable = torch.isfinite(denominator) & (denominator > 0)
    return torch.where(usable, torch.dot(a, b) / denominator, 0.0).clamp(-1, 1)


def require_end_task_first(setting: str, task_names: list[str], context: WeighterContext) -> None:
    """A weighter that compares the others with the end-task's gradient needs it, at index 0."""
    if task_names[0] != context.end_task.name:
        raise ConfigurationError(
            [f"{setting} compares each task's gradient with the end-task's and needs the end-task "
             f"among the trained tasks (training {', '.join(task_names)}); use 'uniform' or 'fixed' here"]
        )


@Weighter.register("gcs")
class GradientCosineWeighter(Weighter):
    """GCS (Du et al., 2018): an auxiliary gradient counts only where it agrees with the end-task's.

    Du, Czarnecki, Jayakumar, Farajtabar, Pascanu and Lakshminarayanan, "Adapting Auxiliary Losses
    Using Gradient Similarity" (arXiv:1812.02224), Algorithms 1 and 2. With g_0 the end-task's
    *training* gradient on the shared body and ``cos_i = cos(g_0, g_i)``, the body follows ``g_0 +
    sum_i c_i g_i`` with ``c_i = [cos_i > 0]`` (``variant: gate``, the paper's unweighted version)
    or ``c_i = max(0, cos_i)`` (``weighted``). The cosine is this step's, on this step's batches, as
    in the paper.

    Our choices, where the paper is silent or its setting differs: the update is divided by
    ``1 + sum_i c_i``, so ``weights/<task>`` (``c_i / (1 + sum_j c_j)``) is each task's share and,
    when every auxiliary gradient agrees with the end-task's, the gated update is MT-TARTAN's
    uniform one (AdamW makes the update's scale matter little). Heads learn from their own
    gradients at MT-TARTAN's ``1 / K``: the gate concerns the shared body only. A zero or
    non-finite gradient has cosine 0, which the gate closes.

    Streaming: the end-task's gradient arrives first and is kept (one body-sized buffer); each
    auxiliary task's cosine and coefficient follow as its gradient arrives.

    Args:
        variant: ``gate`` (c_i in {0, 1}) or ``weighted`` (c_i = max(0, cos_i)).
    """

    def __init__(self, variant: Literal["gate", "weighted"] = "gate") -> None:
        self.variant = variant

    def setup(self, task_names: list[str], context: WeighterContext) -> None:
        super().setup(task_names, context)
        require_end_task_first("weighter.type: 'gcs'", task_names, context)
        first = context.body_parameters[0]
        size = sum(p.numel() for p in context.body_parameters)
        self.end_grad = torch.zeros(size, dtype=first.dtype, device=first.device)
        self.end_norm = torch.zeros((), device=context.device)
        count = len(task_names)
        self.coefficients = torch.ones(count, device=context.device)
        self.cosines = torch.ones(count, device=context.device)
        self.head = torch.tensor(1.0 / count, device=context.device)

    def coefficient(self, gradient: TaskGradient) -> torch.Tensor:
        index, grad = gradient.index, gradient.body_grad
        norm = torch.linalg.vector_norm(grad)
        if index == 0:
            self.end_grad.copy_(grad)
            self.end_norm = norm
            return self.coefficients[0]
        cos = cosine(self.end_grad, grad, self.end_norm, norm)
        self.cosines[index] = cos
        self.coefficients[index] = (cos > 0).float() if self.variant == "gate" else cos.clamp(min=0)
        return self.coefficients[index]

    def normaliser(self) -> torch.Tensor:
        return self.coefficients.sum()

    def head_scale(self, index: int) -> torch.Tensor:
        return self.head

    def weights(self) -> torch.Tensor:
        return (self.coefficients / self.coefficients.sum()).cpu()

    def scalars(self) -> dict[str, float]:
        return {f"cosine/{name}": value for name, value in zip(self.task_names[1:], self.cosines[1:].tolist())}
