"""Heads map the body's hidden states to one task's predictions; each task owns one."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from tartan_fw.common.registrable import Registrable


class Head(Registrable, nn.Module):
    """Built by its task once the body exists; ``body`` and ``num_labels`` are passed in then."""

    family: ClassVar[str] = "head"
    injected_parameters: ClassVar[tuple[str, ...]] = ("body", "num_labels")

    def __init__(self) -> None:
        nn.Module.__init__(self)

    def features(self, hidden: torch.Tensor) -> torch.Tensor:
        """What the head reads from the body's hidden states, and ``forward`` takes.

        End-task heads implement it: a weighter fits or applies a head of the same kind on these
        features (META-TARTAN's meta head); auxiliary heads with another interface need not.
        """
        raise NotImplementedError
