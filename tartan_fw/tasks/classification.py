from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Callable, Literal, Optional

import torch
from torch import nn

from tartan_fw.common.from_config import Lazy
from tartan_fw.data.batching import Batch, ordered_batches, pad
from tartan_fw.data.readers import DatasetReader, JsonlClassificationReader
from tartan_fw.data.root import DataRoot
from tartan_fw.data.tokenized import TokenizedTexts, file_key, tokenize
from tartan_fw.errors import DataError
from tartan_fw.models.bodies import Body, text_body
from tartan_fw.models.heads import ClassificationHead, Head
from tartan_fw.tasks.base import EndTask, TaskLoss

Metric = Literal["micro_f1", "macro_f1", "accuracy"]


@EndTask.register("classification")
class ClassificationTask(EndTask):
    """Text classification from ``<dataset>/{train,dev,test}.jsonl``; labels come from train.

    Args:
        dataset: the task's folder under the data root (``chemprot``, ``citation_intent``, ...).
        metric: the headline metric used for early stopping and model selection.
        reader: how the files are read; its cap or fraction applies to train only.
        head: the classification head (default: the paper's MLP).
        batch_size: training examples per step; eval_batch_size: per evaluation batch.
        name: the task's name in logs (defaults to ``dataset``).
        bucket_batches: length bucketing, for speed: examples are drawn this many batches at a
            time and sorted by length, so batches pad little (0: off).
    """

    def __init__(
        self,
        dataset: str,
        metric: Metric = "macro_f1",
        reader: Optional[DatasetReader] = None,
        head: Optional[Lazy[Head]] = None,
        batch_size: int = 16,
        eval_batch_size: int = 64,
        name: Optional[str] = None,
        train_file: str = "train.jsonl",
        dev_file: str = "dev.jsonl",
        test_file: str = "test.jsonl",
        bucket_batches: int = 0,
    ) -> None:
        super().__init__(name or dataset, batch_size, bucket_batches)
        self.dataset = dataset
        self.metric = metric
        self.reader = reader or JsonlClassificationReader()
        self.head_config = head or Lazy(ClassificationHead, {}, "end_task.head")
        self.eval_batch_size = eval_batch_size
        self.files = {"train": train_file, "dev": dev_file, "test": test_file}
        self.texts: dict[str, TokenizedTexts] = {}
        self.targets: dict[str, torch.Tensor] = {}

    def setup(self, body: Body, data_root: DataRoot, seed: int) -> None:
        text = text_body(body, "end_task")
        examples = {}
        paths = {split: data_root.file(f"{self.dataset}/{name}") for split, name in self.files.items()}
        for split, path in paths.items():
            examples[split] = self.reader.read(path, subsample=split == "train")
        self.labels = sorted({e.label for e in examples["train"]})
        index = {label: i for i, label in enumerate(self.labels)}
        for split, path in paths.items():
            unseen = next((e for e in examples[split] if e.label not in index), None)
            if unseen is not None:
                raise DataError(
                    f"{path}:{unseen.line}: label '{unseen.label}' never occurs in train "
                    f"(train labels: {', '.join(self.labels)}); fix the label or add training examples"
                )
            key = file_key(path, self.reader.cache_key() if split == "train" else "all", text.fingerprint())
            self.texts[split] = tokenize([e.text for e in examples[split]], text.tokenizer, text.max_length, key)
            self.targets[split] = torch.tensor([index[e.label] for e in examples[split]])
        self.pad_id = text.tokenizer.pad_token_id
        self.head = self.head_config.construct(body=body, num_labels=len(self.labels))
        self.start_stream(len(self.texts["train"]), seed, self.texts["train"].lengths())

    def data_files(self) -> list[str]:
        return [f"{self.dataset}/{name}" for name in self.files.values()]

    def split_size(self, split: str) -> int:
        return len(self.targets[split])

    def collate(self, indices: torch.Tensor, split: str = "train") -> Batch:
        batch = pad([self.texts[split][i] for i in indices.tolist()], self.pad_id)
        batch["labels"] = self.targets[split][indices]
        batch["num_targets"] = torch.tensor(len(indices))
        return batch

    def loss(self, body: nn.Module, batch: Batch) -> TaskLoss:
        features = self.head.features(body(batch["input_ids"], batch["attention_mask"]))
        logits = self.head(features)
        total = nn.functional.cross_entropy(logits.float(), batch["labels"], reduction="sum")
        return TaskLoss(total, features, batch["labels"])

    @torch.no_grad()
    def predict(
        self, body: nn.Module, split: str, device: torch.device, autocast: Callable[[], AbstractContextManager]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        texts, gold = self.texts[split], self.targets[split]
        predicted = torch.empty_like(gold)
        for batch in ordered_batches(texts, self.eval_batch_size, self.pad_id):
            with autocast():
                hidden = body(batch["input_ids"].to(device), batch["attention_mask"].to(device))
                logits = self.head(self.head.features(hidden))
            predicted[batch["index"]] = logits.argmax(-1).cpu()
        return predicted, gold
