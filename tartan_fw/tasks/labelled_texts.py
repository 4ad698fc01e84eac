"""Auxiliary tasks that classify each tokenised text (or text pair) under one label."""

from __future__ import annotations

import torch
from torch import nn

from tartan_fw.data.batching import Batch, pad
from tartan_fw.data.tokenized import TokenizedTexts
from tartan_fw.tasks.base import AuxTask, TaskLoss


class LabelledTextsTask(AuxTask):
    """Batches of ``texts`` with their ``targets``, and cross-entropy through a classification head.

    Subclasses fill ``texts``, ``targets``, ``pad_id``, ``head`` and ``stream`` in ``setup``; what
    differs between them is only where the texts and labels come from.
    """

    texts: TokenizedTexts
    targets: torch.Tensor
    pad_id: int

    def collate(self, indices: torch.Tensor) -> Batch:
        batch = pad([self.texts[i] for i in indices.tolist()], self.pad_id)
        batch["labels"] = self.targets[indices]
        batch["num_targets"] = torch.tensor(len(indices))
        return batch

    def loss(self, body: nn.Module, batch: Batch) -> TaskLoss:
        logits = self.head(self.head.features(self.encode(body, batch)))
        return TaskLoss(nn.functional.cross_entropy(logits.float(), batch["labels"], reduction="sum"))
