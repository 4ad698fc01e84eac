"""The auxiliary task of the paper's vision experiment: every CIFAR-100 class outside the end-task's superclass."""

from __future__ import annotations

from typing import Optional

import torch

from tartan_fw.common.constraints import PositiveInt
from tartan_fw.common.from_config import Lazy
from tartan_fw.data.root import DataRoot
from tartan_fw.models.bodies import Body
from tartan_fw.models.heads import ClassificationHead, Head
from tartan_fw.tasks import AuxTask

from .data import load_cifar100
from .images import ImageClassification, Superclass


@AuxTask.register("cifar100_other_classes")
class OtherClassesTask(ImageClassification, AuxTask):
    """One 95-way classification task over the training images of the 19 other superclasses.

    The paper (appendix A.4) groups the remaining 95 classes into a single auxiliary task: domain
    data (images like the end-task's) with no end-task data in it.

    Args:
        name: the task's name in logs and weight trajectories.
        dataset: folder under the data root that holds (or receives) ``cifar-100-python/``.
        superclass: the end-task's superclass, left out.
        head: the classification head on the body's pooled features.
        augment: random crops and flips.
        batch_size: images per step.
    """

    def __init__(
        self,
        body: Body,
        data_root: DataRoot,
        seed: int,
        name: str = "other_classes",
        dataset: str = "cifar100",
        superclass: Superclass = 12,
        head: Optional[Lazy[Head]] = None,
        augment: bool = True,
        batch_size: PositiveInt = 64,
    ) -> None:
        super().__init__(name, batch_size)
        self.dataset, self.superclass = dataset, superclass
        self.head_config = head or Lazy(ClassificationHead, {}, f"aux_tasks.{name}.head")
        self.augment = augment
        train = load_cifar100(data_root.path / self.dataset).train
        rows = torch.nonzero(train.coarse != self.superclass).squeeze(1)
        classes = train.fine[rows].unique()
        relabel = torch.full((100,), -1, dtype=torch.long)
        relabel[classes] = torch.arange(len(classes))
        self.images = {"train": train.images[rows]}
        self.targets = {"train": relabel[train.fine[rows]]}
        self.head = self.head_config.construct(body=body, num_labels=len(classes))
        self.start_stream(len(self.targets["train"]), seed)
