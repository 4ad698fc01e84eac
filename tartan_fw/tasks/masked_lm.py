from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from torch import nn

from tartan_fw.common.constraints import NonNegativeInt, Probability
from tartan_fw.data.batching import Batch, to_device
from tartan_fw.data.masking import mask_tokens
from tartan_fw.data.root import DataRoot
from tartan_fw.models.bodies import Body, text_body
from tartan_fw.models.heads import MaskedLMHead
from tartan_fw.tasks.base import AuxTask, TaskLoss
from tartan_fw.tasks.corpus import CorpusTask


@AuxTask.register("mlm")
class MaskedLMTask(CorpusTask):
    """Masked-LM on a line-by-line corpus: TAPT on the task's ``train.txt``, DAPT on domain text.

    Args:
        name: the task's name in logs and weight trajectories (``tapt``, ``dapt``, ...).
        batch_size: texts per step.
        mask_probability: fraction of real tokens chosen for prediction.
        bucket_batches: length bucketing, for speed: texts are drawn this many batches at a time
            and sorted by length, so batches pad little (0: off).
    """

    def __init__(
        self,
        body: Body,
        data_root: DataRoot,
        seed: int,
        mask_probability: Probability = 0.15,
        bucket_batches: NonNegativeInt = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bucket_batches = bucket_batches
        self.mask_probability = mask_probability
        text = text_body(body, f"aux_tasks.{self.name}")
        self.read_corpus(text, data_root)
        tokenizer = text.tokenizer
        self.mask_id = tokenizer.mask_token_id
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)))
        self.vocab_size = len(tokenizer)
        self.head = MaskedLMHead(text)
        self.start_stream(len(self.texts), seed, self.texts.lengths())

    def collate(self, indices: torch.Tensor, generator: Optional[torch.Generator] = None) -> Batch:
        """The texts at ``indices``, masked with the training stream's generator (or ``generator``)."""
        batch = self.pad_texts(indices)
        maskable = batch["attention_mask"].bool() & ~torch.isin(batch["input_ids"], self.special_ids)
        batch["input_ids"], batch["labels"] = mask_tokens(
            batch["input_ids"], maskable, self.mask_id, self.vocab_size, self.mask_probability,
            generator or self.generator,
        )
        batch["num_targets"] = batch["labels"].ne(-100).sum()
        return batch

    def loss(self, body: nn.Module, batch: Batch) -> TaskLoss:
        hidden = body(batch["input_ids"], batch["attention_mask"])
        return TaskLoss(self.head(hidden, batch["labels"]))

    def sample_loss(self, body: nn.Module, device: torch.device, autocast: Callable[[], Any]) -> float:
        """Mean loss per masked token on a fixed sample: the first 64 texts, masked with a fixed seed.

        What tells a trained head from an untrained one by what it does rather than by the names of
        the weights a checkpoint held: a head that predicts nothing better than a uniform guess
        scores about ln(vocabulary size), a pretrained one far below. The training stream's random
        state is not touched; body and head are in eval mode for the measurement.
        """
        batch = to_device(self.collate(torch.arange(min(64, len(self.texts))), torch.Generator().manual_seed(0)),
                          device)
        modes = [(module, module.training) for module in (body, self.head)]
        for module, _ in modes:
            module.eval()
        try:
            with torch.no_grad(), autocast():
                total = self.loss(body, batch).total
        finally:
            for module, mode in modes:
                module.train(mode)
        return float(total) / max(1, int(batch["num_targets"]))
