"""Batches: a cycling, reshuffled stream of indices per task, and padding to the batch's longest text."""

from __future__ import annotations

from typing import Iterator, Optional

import torch

from tartan_fw.data.tokenization import TokenizedTexts

Batch = dict[str, torch.Tensor]


class IndexStream:
    """Endless batches of example indices, reshuffled each epoch; its state resumes exactly.

    Given ``lengths`` and ``bucket_batches``, each epoch's shuffled order is cut into buckets of
    ``bucket_batches`` batches and every bucket is sorted by length (longest first): a batch then
    holds texts of similar length and pads little. The order stays a function of the seed and
    the epoch, so a resumed stream continues exactly.
    """

    def __init__(
        self, size: int, batch_size: int, seed: int, lengths: Optional[torch.Tensor] = None, bucket_batches: int = 0
    ) -> None:
        self.size = size
        self.batch_size = batch_size
        self.seed = seed
        self.lengths = lengths
        self.bucket = batch_size * bucket_batches if lengths is not None else 0
        self.epoch = 0
        self.position = 0
        self._order = self._shuffle()

    def _shuffle(self) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator)
        if not self.bucket:
            return order
        # Buckets start at batch boundaries: the first examples complete the batch the last epoch began.
        start = -(self.epoch * self.size) % self.batch_size
        pieces = [order[:start], *order[start:].split(self.bucket)]
        return torch.cat([b[torch.argsort(self.lengths[b], descending=True, stable=True)] for b in pieces])

    def next(self) -> torch.Tensor:
        chunks = []
        needed = self.batch_size
        while needed:
            take = self._order[self.position : self.position + needed]
            chunks.append(take)
            needed -= len(take)
            self.position += len(take)
            if self.position >= self.size:
                self.epoch += 1
                self.position = 0
                self._order = self._shuffle()
        return torch.cat(chunks)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.position = state["epoch"], state["position"]
        self._order = self._shuffle()


def pad(sequences: list[torch.Tensor], pad_id: int) -> Batch:
    """Right-pad to the longest sequence of the batch (dynamic padding)."""
    longest = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = sequence
        attention_mask[row, : len(sequence)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def to_device(batch: Batch, device: torch.device) -> Batch:
    """``batch`` on ``device``; to CUDA through pinned memory, so the copy is asynchronous and the host never
    waits for it (the trainer's batches, META-TARTAN's dev rows and tools/bench.py's reference loops alike)."""
    if device.type != "cuda":
        return batch
    return {k: v.pin_memory().to(device, non_blocking=True) for k, v in batch.items()}


def ordered_batches(texts: TokenizedTexts, batch_size: int, pad_id: int, labels: Optional[torch.Tensor] = None) -> Iterator[Batch]:
    """Every example once, in length order so padding stays small (evaluation)."""
    order = torch.argsort(texts.lengths(), stable=True)
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        batch = pad(texts.take(chosen), pad_id)
        batch["index"] = chosen
        if labels is not None:
            batch["labels"] = labels[chosen]
        yield batch


def batch_size(batch: Batch) -> int:
    """Examples in ``batch``: the length of any per-example tensor (texts, images alike)."""
    return next(len(v) for v in batch.values() if v.dim())


def split_batch(batch: Batch, parts: int) -> list[Batch]:
    """``parts`` micro-batches of (nearly) equal size, for gradient accumulation; a batch of fewer
    examples is split into single examples (the summed gradient is the same either way)."""
    size = batch_size(batch)
    parts = min(parts, size)
    bounds = torch.linspace(0, size, parts + 1).round().long().tolist()
    return [{k: v[a:b] if v.dim() else v for k, v in batch.items()} for a, b in zip(bounds, bounds[1:])]
