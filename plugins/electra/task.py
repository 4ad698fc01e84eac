"""Replaced-token detection on a line-by-line corpus, with replacements drawn from its unigrams."""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from tartan_fw.common.constraints import Probability
from tartan_fw.common.from_config import Lazy
from tartan_fw.data.batching import Batch
from tartan_fw.data.root import DataRoot
from tartan_fw.errors import DataError
from tartan_fw.models.bodies import Body, text_body
from tartan_fw.models.heads import Head
from tartan_fw.tasks import AuxTask, CorpusTask, TaskLoss

from .head import TokenDiscriminatorHead


def replace_tokens(
    input_ids: torch.Tensor, replaceable: torch.Tensor, unigram: torch.Tensor, probability: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupted ids and per-token labels: 1 replaced, 0 original, -100 not scored.

    A chosen position gets a token drawn from ``unigram`` (counts per token id); a draw that
    happens to equal the original token counts as original, as in ELECTRA.
    """
    chosen = (torch.rand(input_ids.shape, generator=generator) < probability) & replaceable
    corrupted = input_ids.clone()
    if chosen.any():
        corrupted[chosen] = torch.multinomial(unigram, int(chosen.sum()), replacement=True, generator=generator)
    labels = corrupted.ne(input_ids).long()
    labels[~replaceable] = -100
    return corrupted, labels


@AuxTask.register("rtd")
class ReplacedTokenTask(CorpusTask):
    """Replaced-token detection (ELECTRA, Clark et al., 2020) without a generator network.

    ELECTRA trains a small masked-LM generator to propose plausible replacements; here tokens
    are replaced by draws from the corpus's own unigram distribution, which costs nothing and
    already rules out the trivial cue of rare or special tokens. Every real token is scored
    (original or replaced), so the task gives a signal at every position, unlike masked-LM's 15%.

    Args:
        head: the per-token discriminator head (default ``token_discriminator``).
        batch_size: texts per step.
        replace_probability: fraction of real tokens replaced.
    """

    def __init__(
        self,
        body: Body,
        data_root: DataRoot,
        seed: int,
        head: Optional[Lazy[Head]] = None,
        replace_probability: Probability = 0.15,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.head_config = head or Lazy(TokenDiscriminatorHead, {}, f"aux_tasks.{self.name}.head")
        self.replace_probability = replace_probability
        text = text_body(body, f"aux_tasks.{self.name}")
        origin = self.read_corpus(text, data_root)
        tokenizer = text.tokenizer
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)))
        unigram = self.texts.token_counts(len(tokenizer)).float()
        unigram[self.special_ids] = 0
        if not unigram.any():
            raise DataError(f"{origin}: the corpus has no ordinary tokens to draw replacements from")
        self.unigram = unigram
        self.head = self.head_config.construct(body=body)
        self.start_stream(len(self.texts), seed)

    def collate(self, indices: torch.Tensor) -> Batch:
        batch = self.pad_texts(indices)
        replaceable = batch["attention_mask"].bool() & ~torch.isin(batch["input_ids"], self.special_ids)
        batch["input_ids"], batch["labels"] = replace_tokens(
            batch["input_ids"], replaceable, self.unigram, self.replace_probability, self.generator
        )
        batch["num_targets"] = replaceable.sum()
        return batch

    def loss(self, body: nn.Module, batch: Batch) -> TaskLoss:
        return TaskLoss(self.head(body(batch["input_ids"], batch["attention_mask"]), batch["labels"]))
