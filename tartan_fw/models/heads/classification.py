from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from tartan_fw.common.constraints import DropoutRate, PositiveInt
from tartan_fw.models.bodies.base import Body
from tartan_fw.models.heads.base import Head


@Head.register("classification")
class ClassificationHead(Head):
    """The paper's MLP on the first token's hidden state: dense, tanh, dropout, output.

    Args:
        dropout: applied before the dense layer and before the output layer.
        hidden_size: width of the dense layer (defaults to the body's hidden size).
    """

    def __init__(self, body: Body, num_labels: int, dropout: DropoutRate = 0.1,
                 hidden_size: Optional[PositiveInt] = None) -> None:
        super().__init__()
        width = hidden_size or body.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(body.hidden_size, width)
        self.output = nn.Linear(width, num_labels)

    def features(self, hidden: torch.Tensor) -> torch.Tensor:
        """The first token's hidden state: what the head (and a META-TARTAN meta head) reads."""
        return hidden[:, 0]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = torch.tanh(self.dense(self.dropout(features)))
        return self.output(self.dropout(hidden))
