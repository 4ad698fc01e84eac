"""Uncertainty weighting: task weights from learned homoscedastic variances (Kendall et al., 2018)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from tartan_fw.common.constraints import PositiveFloat
from tartan_fw.weighters.base import TaskGradient, Weighter, WeighterContext


@Weighter.register("uncertainty")
class UncertaintyWeighter(Weighter):
    """Uncertainty weighting (Kendall et al., 2018): task weights from learned log-variances.

    Kendall, Gal and Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene
    Geometry and Semantics" (CVPR 2018), Equation 10 with s_i = log sigma_i^2 (section 3.2). Every
    task here has a classification likelihood (cross-entropy, masked-LM included), so the loss is
    ``sum_i exp(-s_i) L_i + s_i / 2``: the body and each head descend on the weighted sum
    (coefficient and head scale ``exp(-s_i)``, no normalisation, as in the paper), and s_i descends
    on ``1/2 - exp(-s_i) L_i``, whose optimum ``exp(-s_i) = 1 / (2 L_i)`` weighs a task down the
    larger its loss. ``weights/<task>`` is the share ``exp(-s_i) / sum_j exp(-s_j)``;
    ``log_variance/<task>`` logs s_i.

    How s is optimised and checkpointed (our choices; the paper trains s with the network's own
    optimiser): each s_i is a scalar parameter of this weighter's own Adam (no weight decay, no
    schedule), stepped as the task's loss arrives with the coefficient of this step already
    taken; that equals one Adam step on all of s at the end of the step, since each s_i's
    gradient involves only L_i. A non-finite loss gives s_i a zero gradient. s and the Adam
    state are in the weighter's ``state_dict``, so a resumed run continues bit-identically.

    Args:
        lr: Adam's learning rate for s. s_i moves by about ``lr`` a step; 0.01 lets it reach its
            optimum ``log(2 L_i)`` (a few units) within a few hundred steps.
        initial_log_variance: s_i at the start (0: every weight 1, the plain sum of the losses).
    """

    def __init__(self, lr: PositiveFloat = 0.01, initial_log_variance: float = 0.0) -> None:
        self.lr, self.initial_log_variance = lr, initial_log_variance

    def setup(self, task_names: list[str], context: WeighterContext) -> None:
        super().setup(task_names, context)
        self.log_variances = [
            nn.Parameter(torch.tensor(self.initial_log_variance, device=context.device)) for _ in task_names
        ]
        self.optimizer = torch.optim.Adam(self.log_variances, lr=self.lr)
        self.precisions = torch.exp(-torch.stack(self.log_variances).detach())

    def coefficient(self, gradient: TaskGradient) -> torch.Tensor:
        index, loss = gradient.index, gradient.loss.detach()
        log_variance = self.log_variances[index]
        precision = torch.exp(-log_variance.detach())
        self.precisions[index] = precision
        slope = 0.5 - precision * loss
        self.optimizer.zero_grad(set_to_none=True)
        log_variance.grad = torch.where(torch.isfinite(slope), slope, 0.0)
        self.optimizer.step()
        return self.precisions[index]

    def head_scale(self, index: int) -> torch.Tensor:
        return self.precisions[index]

    def weights(self) -> torch.Tensor:
        return (self.precisions / self.precisions.sum()).cpu()

    def scalars(self) -> dict[str, float]:
        values = torch.stack(self.log_variances).tolist()
        return {f"log_variance/{name}": value for name, value in zip(self.task_names, values)}

    def state_dict(self) -> dict[str, Any]:
        return {
            "log_variances": torch.stack(self.log_variances).detach().cpu(),
            "precisions": self.precisions.cpu(),
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for parameter, value in zip(self.log_variances, state["log_variances"]):
                parameter.copy_(value)
        self.precisions.copy_(state["precisions"])
        self.optimizer.load_state_dict(state["optimizer"])
