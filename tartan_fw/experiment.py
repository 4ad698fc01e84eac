"""The top level of an experiment file, and building what it describes: the body, then the tasks on it."""

from __future__ import annotations

import random
from pathlib import Path
from typing import List, Optional

import torch

from tartan_fw.common.constraints import Seed
from tartan_fw.common.from_config import Lazy
from tartan_fw.data.root import DataRoot
from tartan_fw.errors import TartanError
from tartan_fw.models.bodies import Body
from tartan_fw.tasks import AuxTask, EndTask
from tartan_fw.training.body_weights import load_body
from tartan_fw.training.logging import journal
from tartan_fw.training.trainer import TartanTrainer, Trainer
from tartan_fw.weighters import UniformWeighter, Weighter


class Experiment:
    """An experiment: a shared body, the end-task, auxiliary tasks, a weighter and a trainer.

    Args:
        body: the shared encoder (``huggingface`` or ``scratch``).
        end_task: the task to do well on.
        aux_tasks: auxiliary objectives trained alongside it (none: plain fine-tuning).
        weighter: how task gradients are mixed (default ``uniform``: MT-TARTAN).
        trainer: the training loop's settings.
        seed: seeds data order, masking and initialisation.
        data_root: folder of ``<task>/<file>`` data; set here it wins over ``$TARTAN_DATA`` (the default),
            so the saved config says where the run's data came from.
        include: plugin modules to import before the rest of the config is read.
        init_from: a run directory or .safetensors file whose body weights replace the body's
            initial ones (continued pretraining handed on; a pipeline sets it for later stages).
        description: free text, kept in the run directory.
    """

    def __init__(
        self,
        body: Lazy[Body],
        end_task: Lazy[EndTask],
        aux_tasks: Optional[List[Lazy[AuxTask]]] = None,
        weighter: Optional[Weighter] = None,
        trainer: Optional[Trainer] = None,
        seed: Seed = 0,
        data_root: Optional[str] = None,
        include: Optional[List[str]] = None,
        description: str = "",
        init_from: Optional[str] = None,
    ) -> None:
        self.body = body
        self.end_task = end_task
        self.aux_tasks = aux_tasks or []
        self.weighter = weighter or UniformWeighter()
        self.trainer = trainer or TartanTrainer()
        self.seed = seed
        self.data_root = data_root
        self.include = include or []
        self.init_from = init_from
        # the tasks are built later, on the body; their names are known from their configs now
        self.task_names = [task.cls.configured_name(task.arguments()) for task in [end_task, *self.aux_tasks]]
        duplicates = sorted({n for n in self.task_names if self.task_names.count(n) > 1})
        if duplicates:
            raise ValueError(f"task names must be unique; repeated: {', '.join(duplicates)}")
        self.weighter.check_tasks(self.task_names)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy

        numpy.random.seed(seed)
    except ImportError:
        pass


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TartanError("--device cuda: no CUDA device is available; use --device cpu")
    return torch.device(name)


def prepare(experiment: Experiment, device: torch.device, with_aux: bool = True) -> tuple[Body, EndTask, list[AuxTask]]:
    """Build the body, then the tasks on it, each reading its data (all input errors surface here)."""
    seed_everything(experiment.seed)
    data_root = DataRoot(experiment.data_root)
    journal.info("building the body (%s) and its tokenizer", Body.registered_name(experiment.body.cls))
    body = experiment.body.construct(data_root=data_root)
    if experiment.init_from:
        load_body(body, Path(experiment.init_from))
    dependencies = {"body": body, "data_root": data_root, "seed": experiment.seed}
    tasks = [experiment.end_task, *(experiment.aux_tasks if with_aux else [])]
    built = []
    for name, task in zip(experiment.task_names, tasks):
        journal.info("reading and tokenising %s", name)
        built.append(task.construct(**dependencies))
    end_task, *aux_tasks = built
    body.to(device)
    for task in [end_task, *aux_tasks]:
        task.head.to(device)
    return body, end_task, aux_tasks
