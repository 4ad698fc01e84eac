from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Callable, Literal, Mapping, Optional

import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch import nn

from tartan_fw.common.constraints import NonNegativeInt, PositiveInt
from tartan_fw.common.from_config import Lazy
from tartan_fw.data.batching import Batch, ordered_batches, pad
from tartan_fw.data.check import train_overlap
from tartan_fw.data.readers import DatasetReader, JsonlClassificationReader, Source
from tartan_fw.data.root import DataRoot
from tartan_fw.data.tokenization import TokenizedTexts, tokenize
from tartan_fw.errors import DataError
from tartan_fw.models.bodies import Body, text_body
from tartan_fw.models.heads import ClassificationHead, Head
from tartan_fw.tasks.base import EndTask, TaskLoss

Metric = Literal["micro_f1", "macro_f1", "accuracy"]
SelectOn = Literal["dev", "dev_unseen"]


def split_files(reader: DatasetReader, names: dict[str, Optional[str]]) -> dict[str, str]:
    """Each split's source: the name given, else the reader's default for the split."""
    return {split: name or reader.default_file(split) for split, name in names.items()}


@EndTask.register("classification")
class ClassificationTask(EndTask):
    """Text classification from ``<dataset>/{train,dev,test}.jsonl`` (or the reader's sources); labels come
    from train.

    Args:
        dataset: the task's folder under the data root (``chemprot``, ``citation_intent``, ...); with a
            ``hub`` reader, only the task's name.
        metric: the headline metric used for early stopping and model selection.
        reader: how the files are read (JSON lines by default; ``csv``, ``parquet``, ``saved``, ``hub``); its
            cap or fraction applies to train only.
        head: the classification head (default: the paper's MLP).
        batch_size: training examples per step.
        eval_batch_size: examples per evaluation batch.
        name: the task's name in logs (defaults to ``dataset``).
        train_file, dev_file, test_file: each split's file in the task's folder, or its split name with a
            ``hub`` reader (default: the reader's, e.g. ``train.jsonl``; ``dev_file: 'train[90%:]'`` on the hub).
        bucket_batches: length bucketing, for speed: examples are drawn this many batches at a
            time and sorted by length, so batches pad little (0: off).
        select_on: the dev rows model selection and early stopping compare ``metric`` on: ``dev``, all
            of them, or ``dev_unseen``, those whose text is not in train (where dev leaks into train, the
            checkpoint that memorised train best wins on the rest; ``tartan-fw data check`` counts them).
            Either way metrics.json has both, and the test scores on all rows and on the unseen ones.
    """

    def __init__(
        self,
        body: Body,
        data_root: DataRoot,
        seed: int,
        dataset: str,
        metric: Metric = "macro_f1",
        reader: Optional[DatasetReader] = None,
        head: Optional[Lazy[Head]] = None,
        batch_size: PositiveInt = 16,
        eval_batch_size: PositiveInt = 64,
        name: Optional[str] = None,
        train_file: Optional[str] = None,
        dev_file: Optional[str] = None,
        test_file: Optional[str] = None,
        bucket_batches: NonNegativeInt = 0,
        select_on: SelectOn = "dev",
    ) -> None:
        super().__init__(name or dataset, batch_size, bucket_batches)
        self.dataset = dataset
        self.metric = metric
        self.reader = reader or self.default_reader()
        self.head_config = head or self.default_head()
        self.eval_batch_size = eval_batch_size
        self.select_on = select_on
        self.files = split_files(self.reader, {"train": train_file, "dev": dev_file, "test": test_file})
        text = text_body(body, "end_task")
        examples = {
            split: self.reader.read(data_root, name, self.dataset, labelled=True, subsample=False)
            for split, name in self.files.items()
        }
        self.overlap = train_overlap(examples)  # against the whole train file: the same rows for every subsample
        if select_on == "dev_unseen" and not self.overlap["dev"].unseen():
            raise DataError(f"{examples['dev'].origin}: the text of every dev row is in train, so select_on "
                            f"'dev_unseen' has no rows to select on; set end_task.select_on: 'dev'")
        examples["train"] = self.reader.subsample(examples["train"])
        labels = {split: e.dataset.with_format("arrow")["label"] for split, e in examples.items()}
        self.labels: list[str] = sorted(labels["train"].unique().to_pylist())
        self.targets: dict[str, torch.Tensor] = {}
        for split, column in labels.items():
            ids = pc.index_in(column, value_set=pa.array(self.labels))
            if ids.null_count:
                row = pc.index(ids.is_null(), True).as_py()
                raise DataError(
                    f"{examples[split].at(examples[split].dataset[row]['line'])}: label '{column[row].as_py()}' "
                    f"never occurs in train (train labels: {', '.join(self.labels)}); fix the label or add training examples"
                )
            self.targets[split] = torch.from_numpy(ids.to_numpy().astype("int64"))
        # after every check, so bad data fails before anything is tokenised
        self.texts: dict[str, TokenizedTexts] = {split: tokenize(examples[split], text) for split in examples}
        self.pad_id = text.tokenizer.pad_token_id
        self.head = self.head_config.construct(body=body, num_labels=len(self.labels))
        self.start_stream(len(self.texts["train"]), seed, self.texts["train"].lengths())

    @classmethod
    def default_reader(cls) -> DatasetReader:
        return JsonlClassificationReader()

    @classmethod
    def default_head(cls) -> Lazy[Head]:
        """The paper's MLP; also what ``predict`` and ``export`` rebuild from a run's config."""
        return Lazy(ClassificationHead, {}, "end_task.head")

    @classmethod
    def configured_name(cls, arguments: Mapping[str, Any]) -> str:
        return arguments["name"] or arguments["dataset"]

    @classmethod
    def sources(cls, arguments: Mapping[str, Any]) -> list[Source]:
        return list(cls.split_sources(arguments).values())

    @classmethod
    def split_sources(cls, arguments: Mapping[str, Any]) -> dict[str, Source]:
        reader = arguments["reader"] or cls.default_reader()
        files = split_files(reader, {split: arguments[f"{split}_file"] for split in ("train", "dev", "test")})
        return {split: Source(reader, name, arguments["dataset"], labelled=True) for split, name in files.items()}

    def split_size(self, split: str) -> int:
        return len(self.targets[split])

    def collate(self, indices: torch.Tensor, split: str = "train") -> Batch:
        batch = pad(self.texts[split].take(indices), self.pad_id)
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
