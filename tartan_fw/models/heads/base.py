"""Heads map the body's hidden states to one task's predictions; each task owns one."""

from __future__ import annotations

from typing import ClassVar

from torch import nn

from tartan_fw.common.registrable import Registrable


class Head(Registrable, nn.Module):
    """Built by its task once the body exists; ``body`` and ``num_labels`` are passed in then."""

    family: ClassVar[str] = "head"
    injected_parameters: ClassVar[tuple[str, ...]] = ("body", "num_labels")

    def __init__(self) -> None:
        nn.Module.__init__(self)
