from __future__ import annotations

from typing import Annotated, Any, Optional

import torch

from tartan_fw.common.constraints import at_least
from tartan_fw.common.from_config import Lazy
from tartan_fw.data.root import DataRoot
from tartan_fw.models.bodies import Body, text_body
from tartan_fw.models.heads import ClassificationHead, Head
from tartan_fw.tasks.base import AuxTask
from tartan_fw.tasks.labelled_texts import LabelledTextsTask


@AuxTask.register("random_labels")
class RandomLabelsTask(LabelledTextsTask):
    """A control that cannot help: classifying texts under labels drawn uniformly at random.

    Each text's label is drawn once from the experiment seed, so the task can be memorised but
    says nothing about the end-task. Adding it shows what an auxiliary task without signal costs
    under fixed weights (MT-TARTAN), and whether learned weights (META-TARTAN) turn it down.

    Args:
        corpus: the texts, relative to the data root (e.g. the end-task's ``train.txt``).
        num_labels: how many random classes.
        reader: how the file is read (default one text per line; ``jsonl_classification`` reads
            a labelled file's texts, ignoring its labels).
        head: the classification head (default: the paper's MLP).
        batch_size: texts per step.
    """

    def __init__(
        self,
        body: Body,
        data_root: DataRoot,
        seed: int,
        num_labels: Annotated[int, at_least(2)] = 2,
        head: Optional[Lazy[Head]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_labels = num_labels
        self.head_config = head or Lazy(ClassificationHead, {}, f"aux_tasks.{self.name}.head")
        self.read_corpus(text_body(body, f"aux_tasks.{self.name}"), data_root)
        labels = torch.Generator().manual_seed(self.task_seed(seed))
        self.targets = torch.randint(self.num_labels, (len(self.texts),), generator=labels)
        self.head = self.head_config.construct(body=body, num_labels=self.num_labels)
        self.start_stream(len(self.texts), seed)
