"""Parameters and gradients as views into two flat buffers.

Autograd accumulates into an existing ``.grad`` in place, so after a backward pass the flat
gradient buffer *is* the task's body gradient: weighters combine and compare task gradients
with a handful of whole-buffer operations instead of loops over parameters, and nothing is
copied to get there.
"""

from __future__ import annotations

import torch
from torch import nn

from tartan_fw.errors import TartanError


class FlatParameters:
    def __init__(self, parameters: list[nn.Parameter]) -> None:
        if not parameters:
            raise ValueError("no parameters to flatten")
        first = parameters[0]
        total = sum(p.numel() for p in parameters)
        self.parameters = parameters
        self.data = torch.empty(total, dtype=first.dtype, device=first.device)
        self.grad = torch.zeros_like(self.data)
        self.grads: list[torch.Tensor] = []  # each parameter's gradient view, the very tensor its .grad must stay
        offset = 0
        for parameter in parameters:
            size = parameter.numel()
            view = self.data[offset : offset + size].view_as(parameter)
            view.copy_(parameter.data)
            parameter.data = view
            parameter.grad = self.grad[offset : offset + size].view_as(parameter)
            self.grads.append(parameter.grad)
            offset += size
        self.data_pointers = [parameter.data_ptr() for parameter in parameters]

    def __len__(self) -> int:
        return self.data.numel()

    def check_views(self, where: str = "the flat buffers") -> None:
        """Fails in one line if a parameter or gradient stopped being its view into the buffers.

        A gradient replaced, or set to None as ``zero_grad(set_to_none=True)`` does, would make
        autograd accumulate the next task's gradient outside the buffer the weighter mixes and the
        optimiser steps: training would go on, silently wrong. Identity and pointer comparisons
        only, so it is cheap enough to run after every piece of code that could do it.
        """
        grads_kept = all(p.grad is view for p, view in zip(self.parameters, self.grads))
        if not (grads_kept and all(p.data_ptr() == ptr for p, ptr in zip(self.parameters, self.data_pointers))):
            raise TartanError(f"{where}: {LEFT_THE_BUFFER}")


# What went wrong and what to do instead, for every check of the buffers (body and heads).
LEFT_THE_BUFFER = ("a parameter's gradient or data is no longer the trainer's buffer (replaced, or set to None as "
                   "zero_grad(set_to_none=True) does), so gradients would silently stop reaching the update; change "
                   "gradients in place (grad.zero_(), grad.mul_()) or leave zeroing them to the trainer")


def unique_parameters(module: nn.Module, exclude: set[int] = frozenset()) -> list[nn.Parameter]:
    """Trainable parameters of ``module`` not in ``exclude`` (ids), each once (tied weights)."""
    seen = set(exclude)
    unique = []
    for parameter in module.parameters():
        if parameter.requires_grad and id(parameter) not in seen:
            seen.add(id(parameter))
            unique.append(parameter)
    return unique
