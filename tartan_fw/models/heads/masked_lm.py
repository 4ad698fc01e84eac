from __future__ import annotations

import torch
from torch import nn

from tartan_fw.models.bodies.base import TextBody
from tartan_fw.models.heads.base import Head


@Head.register("masked_lm")
class MaskedLMHead(Head):
    """Predicts the original tokens at masked positions only.

    Reuses the checkpoint's pretrained LM head (decoder tied to the input embeddings) when the
    body has one, else a fresh transform with a decoder tied to the embeddings. The vocabulary
    projection runs on the masked positions alone, so its cost scales with the number of masked
    tokens rather than with the sequence length.
    """

    def __init__(self, body: TextBody) -> None:
        super().__init__()
        pretrained = body.lm_head()
        self.predictions = pretrained if pretrained is not None else _fresh_lm_head(body)

    def forward(self, hidden: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy summed over the masked positions (zero when none is masked)."""
        positions = labels.ne(-100)
        logits = self.predictions(hidden[positions])
        return nn.functional.cross_entropy(logits.float(), labels[positions], reduction="sum")


class _LMTransform(nn.Module):
    def __init__(self, hidden_size: int, embeddings: nn.Parameter) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.norm = nn.LayerNorm(hidden_size)
        self.decoder_weight = embeddings
        self.bias = nn.Parameter(torch.zeros(embeddings.shape[0]))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = self.norm(nn.functional.gelu(self.dense(hidden)))
        return nn.functional.linear(hidden, self.decoder_weight, self.bias)


def _fresh_lm_head(body: TextBody) -> nn.Module:
    return _LMTransform(body.hidden_size, body.encoder.get_input_embeddings().weight)
