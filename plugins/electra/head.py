"""ELECTRA's discriminator head: one logit per token, "was this token replaced?"."""

from __future__ import annotations

import torch
from torch import nn

from tartan_fw.common.constraints import DropoutRate
from tartan_fw.models.bodies import Body
from tartan_fw.models.heads import Head


@Head.register("token_discriminator")
class TokenDiscriminatorHead(Head):
    """Dense, GELU, then a single logit per position (ELECTRA's discriminator prediction layer).

    Args:
        dropout: applied to the hidden states before the dense layer.
    """

    def __init__(self, body: Body, dropout: DropoutRate = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(body.hidden_size, body.hidden_size)
        self.output = nn.Linear(body.hidden_size, 1)

    def forward(self, hidden: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy summed over the positions whose label is not -100."""
        positions = labels.ne(-100)
        selected = self.dropout(hidden[positions])
        logits = self.output(nn.functional.gelu(self.dense(selected))).squeeze(-1)
        return nn.functional.binary_cross_entropy_with_logits(
            logits.float(), labels[positions].float(), reduction="sum"
        )
