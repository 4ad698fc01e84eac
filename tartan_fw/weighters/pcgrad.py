"""PCGrad: conflicting task gradients projected onto each other's normal plane (Yu et al., 2020)."""

from __future__ import annotations

from typing import Literal

import torch

from tartan_fw.weighters.base import AllGradientsWeighter, TaskGradient, Weighter, WeighterContext
from tartan_fw.weighters.gcs import require_end_task_first


@Weighter.register("pcgrad")
class PCGradWeighter(AllGradientsWeighter):
    """PCGrad (Yu et al., 2020): conflicting task gradients projected off each other.

    Yu, Kumar, Gupta, Levine, Hausman and Finn, "Gradient Surgery for Multi-Task Learning" (NeurIPS
    2020), Algorithm 1. When ``g_i . g_j < 0`` the surgery replaces g_i by its projection onto the
    normal plane of g_j, ``g_i - (g_i . g_j / |g_j|^2) g_j``, always projecting off the *original*
    g_j.

    - ``all_pairs`` (the paper): every task's gradient is projected off every other task's in
      a random order, drawn afresh each step and per task;
    - ``end_task``: only auxiliary gradients are projected, off the end-task's gradient, which is
      never changed (the end-task aware variant).

    Every projected gradient is a combination of the original ones, so the surgery runs on the
    K x K matrix of their dot products and the update is one weighted sum of the K gradients;
    ``weights/<task>`` is each original gradient's share of it. Logged besides:
    ``cosine/<task>`` (with the end-task's gradient) and ``projections/<task>`` (projections made
    on that task's gradient in the step).

    Our choices: the update is the *mean* of the projected gradients (the paper sums them), and
    heads learn from their own gradients at ``1 / K``, so without conflicts PCGrad's step is
    MT-TARTAN's; AdamW makes the update's scale matter little. The random order is drawn from a
    generator seeded by the run's seed and the step, so a resumed run draws the same orders. The
    ``end_task`` mode needs only the end-task's gradient and could stream; it shares the
    all-gradients implementation (K body-sized buffers) instead.

    Args:
        mode: ``all_pairs`` or ``end_task``.
    """

    def __init__(self, mode: Literal["all_pairs", "end_task"] = "all_pairs") -> None:
        self.mode = mode

    def setup(self, task_names: list[str], context: WeighterContext) -> None:
        super().setup(task_names, context)
        if self.mode == "end_task":
            require_end_task_first("weighter.mode: 'end_task'", task_names, context)
        count = len(task_names)
        self.seed = context.seed
        self.step = 0
        self.head = torch.tensor(1.0 / count, device=context.device)
        self.shares = torch.full((count,), 1.0 / count, device=context.device)
        self.cosines = torch.ones(count, device=context.device)
        self.projections = torch.zeros(count, device=context.device)

    def begin_step(self, step: int) -> None:
        self.step = step

    def head_scale(self, index: int) -> torch.Tensor:
        return self.head

    def projection_orders(self, count: int) -> list[list[int]]:
        """For each task, the tasks its gradient is projected off, in order."""
        if self.mode == "end_task":
            return [[]] + [[0] for _ in range(1, count)]
        draw = torch.Generator().manual_seed(self.seed * 1_000_003 + self.step)
        orders = []
        for i in range(count):
            others = [j for j in range(count) if j != i]
            orders.append([others[k] for k in torch.randperm(len(others), generator=draw).tolist()])
        return orders

    def combine(self, gradients: list[TaskGradient], out: torch.Tensor) -> None:
        grads = [g.body_grad for g in gradients]
        count = len(grads)
        gram = torch.empty(count, count, device=grads[0].device, dtype=grads[0].dtype)
        for i in range(count):
            for j in range(i, count):
                gram[i, j] = gram[j, i] = torch.dot(grads[i], grads[j])
        # Row i: projected g_i as coefficients of the original gradients.
        mixing = torch.eye(count, device=gram.device, dtype=gram.dtype)
        projections = torch.zeros(count, device=gram.device, dtype=gram.dtype)
        for i, order in enumerate(self.projection_orders(count)):
            for j in order:
                dot = mixing[i] @ gram[:, j]
                conflict = (dot < 0) & (gram[j, j] > 0)
                mixing[i, j] -= torch.where(conflict, dot / gram[j, j], 0.0)
                projections[i] += conflict.to(gram.dtype)
        coefficients = mixing.sum(0) / count
        out.zero_()
        for grad, coefficient in zip(grads, coefficients):
            out.addcmul_(grad, coefficient)
        norms = gram.diagonal().sqrt()
        denominator = norms * norms[0]
        self.cosines = torch.where(denominator > 0, gram[0] / denominator, 0.0).float()
        self.shares = (coefficients / coefficients.sum()).float()
        self.projections = projections.float()

    def weights(self) -> torch.Tensor:
        return self.shares.cpu()

    def scalars(self) -> dict[str, float]:
        rows = {"cosine": self.cosines[1:].tolist(), "projections": self.projections.tolist()}
        names = {"cosine": self.task_names[1:], "projections": self.task_names}
        return {f"{prefix}/{name}": value for prefix, row in rows.items() for name, value in zip(names[prefix], row)}
