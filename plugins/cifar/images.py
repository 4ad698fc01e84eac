"""What both CIFAR-100 tasks share: augmented image batches and a classification loss."""

from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from tartan_fw.common.constraints import Constraint

from tartan_fw.data.batching import Batch
from tartan_fw.tasks import Task, TaskLoss

from .transforms import normalise, random_crop, random_flip, to_float


class ImageClassification(Task):
    """Image classification on a subset of CIFAR-100; subclasses fill ``images``, ``targets`` and ``head``.

    Training batches are augmented (random crop with 4 pixels of padding, horizontal flip) with
    the task's generator, so augmentation is seeded and resumes with the task's state.
    """

    images: dict[str, torch.Tensor]
    targets: dict[str, torch.Tensor]
    augment: bool

    def collate(self, indices: torch.Tensor, split: str = "train") -> Batch:
        images = to_float(self.images[split][indices])
        if split == "train" and self.augment:
            images = random_flip(random_crop(images, 4, self.generator), self.generator)
        return {"images": normalise(images), "labels": self.targets[split][indices],
                "num_targets": torch.tensor(len(indices))}

    def encode(self, body: nn.Module, batch: Batch) -> torch.Tensor:
        return body(batch["images"])

    def loss(self, body: nn.Module, batch: Batch) -> TaskLoss:
        features = self.head.features(self.encode(body, batch))
        total = nn.functional.cross_entropy(self.head(features).float(), batch["labels"], reduction="sum")
        return TaskLoss(total, features, batch["labels"])


Superclass = Annotated[int, Constraint(lambda value: 0 <= value < 20, "a CIFAR-100 coarse label in 0-19")]
