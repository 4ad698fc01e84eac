"""Parameters and gradients as views into two flat buffers.

Autograd accumulates into an existing ``.grad`` in place, so after a backward pass the flat
gradient buffer *is* the task's body gradient: weighters combine and compare task gradients
with a handful of whole-buffer operations instead of loops over parameters, and nothing is
copied to get there.
"""

from __future__ import annotations

import torch
from torch import nn


class FlatParameters:
    def __init__(self, parameters: list[nn.Parameter]) -> None:
        if not parameters:
            raise ValueError("no parameters to flatten")
        first = parameters[0]
        total = sum(p.numel() for p in parameters)
        self.parameters = parameters
        self.data = torch.empty(total, dtype=first.dtype, device=first.device)
        self.grad = torch.zeros_like(self.data)
        offset = 0
        for parameter in parameters:
            size = parameter.numel()
            view = self.data[offset : offset + size].view_as(parameter)
            view.copy_(parameter.data)
            parameter.data = view
            parameter.grad = self.grad[offset : offset + size].view_as(parameter)
            offset += size

    def __len__(self) -> int:
        return self.data.numel()

    def check_views(self) -> None:
        """Fail loudly if something replaced a gradient instead of accumulating into it."""
        start, end = self.grad.data_ptr(), self.grad.data_ptr() + self.grad.numel() * self.grad.element_size()
        for parameter in self.parameters:
            if parameter.grad is None or not start <= parameter.grad.data_ptr() < end:
                raise RuntimeError("a body gradient left the flat buffer; never zero gradients with set_to_none")


def unique_parameters(module: nn.Module, exclude: set[int] = frozenset()) -> list[nn.Parameter]:
    """Trainable parameters of ``module`` not in ``exclude`` (ids), each once (tied weights)."""
    seen = set(exclude)
    unique = []
    for parameter in module.parameters():
        if parameter.requires_grad and id(parameter) not in seen:
            seen.add(id(parameter))
            unique.append(parameter)
    return unique
