"""The end-task of the paper's vision experiment: the five classes of one CIFAR-100 superclass."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Callable, Literal, Optional

import torch
from torch import nn

from tartan_fw.common.constraints import PositiveInt, Probability
from tartan_fw.common.from_config import Lazy
from tartan_fw.data.root import DataRoot
from tartan_fw.models.bodies import Body
from tartan_fw.models.heads import ClassificationHead, Head
from tartan_fw.tasks import EndTask

from .data import load_cifar100
from .images import ImageClassification, Superclass


@EndTask.register("cifar100_superclass")
class SuperclassTask(ImageClassification, EndTask):
    """Classify the images of one CIFAR-100 superclass into its five fine classes.

    The paper (appendix A.4) uses medium-sized mammals (coarse label 12: fox, porcupine, possum,
    raccoon, skunk). Dev is a seeded holdout of the superclass's training images, the same for
    every experiment seed; test is the superclass's test images.

    Args:
        dataset: folder under the data root that holds (or receives) ``cifar-100-python/``.
        superclass: the coarse label whose fine classes are the end-task's labels.
        dev_fraction: share of the superclass's training images held out as dev.
        holdout_seed: seed of the holdout draw.
        metric: the headline metric (the paper reports accuracy).
        head: the classification head on the body's pooled features.
        augment: random crops and flips on training images.
        batch_size: training images per step.
        eval_batch_size: images per evaluation batch.
        name: the task's name in logs.
    """

    def __init__(
        self,
        body: Body,
        data_root: DataRoot,
        seed: int,
        dataset: str = "cifar100",
        superclass: Superclass = 12,
        dev_fraction: Probability = 0.1,
        holdout_seed: int = 0,
        metric: Literal["accuracy", "macro_f1", "micro_f1"] = "accuracy",
        head: Optional[Lazy[Head]] = None,
        augment: bool = True,
        batch_size: PositiveInt = 64,
        eval_batch_size: PositiveInt = 256,
        name: str = "superclass",
    ) -> None:
        super().__init__(name, batch_size)
        self.dataset, self.superclass = dataset, superclass
        self.dev_fraction, self.holdout_seed = dev_fraction, holdout_seed
        self.metric = metric
        self.head_config = head or Lazy(ClassificationHead, {}, "end_task.head")
        self.augment = augment
        self.eval_batch_size = eval_batch_size
        cifar = load_cifar100(data_root.path / self.dataset)
        fine_classes = sorted(set(cifar.train.fine[cifar.train.coarse == self.superclass].tolist()))
        self.labels = [cifar.fine_names[c] for c in fine_classes]
        relabel = torch.full((100,), -1, dtype=torch.long)
        relabel[fine_classes] = torch.arange(len(fine_classes))
        train = torch.nonzero(cifar.train.coarse == self.superclass).squeeze(1)
        order = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(self.holdout_seed))]
        dev_size = max(1, round(self.dev_fraction * len(order)))
        test = torch.nonzero(cifar.test.coarse == self.superclass).squeeze(1)
        chosen = {"train": (cifar.train, order[dev_size:].sort().values), "dev": (cifar.train, order[:dev_size].sort().values),
                  "test": (cifar.test, test)}
        self.images = {split: source.images[rows] for split, (source, rows) in chosen.items()}
        self.targets = {split: relabel[source.fine[rows]] for split, (source, rows) in chosen.items()}
        self.head = self.head_config.construct(body=body, num_labels=len(self.labels))
        self.start_stream(len(self.targets["train"]), seed)

    def split_size(self, split: str) -> int:
        return len(self.targets[split])

    @torch.no_grad()
    def predict(
        self, body: nn.Module, split: str, device: torch.device, autocast: Callable[[], AbstractContextManager]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        gold = self.targets[split]
        predicted = []
        for start in range(0, len(gold), self.eval_batch_size):
            batch = self.collate(torch.arange(start, min(start + self.eval_batch_size, len(gold))), split)
            with autocast():
                logits = self.head(self.head.features(body(batch["images"].to(device))))
            predicted.append(logits.argmax(-1).cpu())
        return torch.cat(predicted), gold
