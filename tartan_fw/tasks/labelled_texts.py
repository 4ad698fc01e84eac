"""Auxiliary tasks that classify each tokenised text (or text pair) under one label."""

from __future__ import annotations

import torch
from torch import nn

from tartan_fw.data.batching import Batch
from tartan_fw.tasks.base import TaskLoss
from tartan_fw.tasks.corpus import CorpusTask


class LabelledTextsTask(CorpusTask):
    """Batches of ``texts`` with their ``targets``, and cross-entropy through a classification head.

    Subclasses fill ``texts`` and ``pad_id`` (``read_corpus`` does, for a corpus of single texts),
    ``targets``, ``head`` and ``stream`` in their constructors; what differs between them is only
    where the texts and labels come from.
    """

    targets: torch.Tensor

    def collate(self, indices: torch.Tensor) -> Batch:
        batch = self.pad_texts(indices)
        batch["labels"] = self.targets[indices]
        batch["num_targets"] = torch.tensor(len(indices))
        return batch

    def loss(self, body: nn.Module, batch: Batch) -> TaskLoss:
        logits = self.head(self.head.features(self.encode(body, batch)))
        return TaskLoss(nn.functional.cross_entropy(logits.float(), batch["labels"], reduction="sum"))
