"""A task is a training stream, a head and a loss; the end-task also evaluates."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Optional

import torch
from torch import nn

from tartan_fw.common.from_config import Lazy
from tartan_fw.common.registrable import Registrable
from tartan_fw.data.batching import Batch, IndexStream
from tartan_fw.data.check import Overlap
from tartan_fw.data.readers import Source
from tartan_fw.models.bodies import Body
from tartan_fw.models.heads import Head


@dataclass
class TaskLoss:
    """A batch's summed loss; ``features`` are what the head read (for META-TARTAN's meta head)."""

    total: torch.Tensor
    features: Optional[torch.Tensor] = None
    labels: Optional[torch.Tensor] = None


class Task:
    """Shared by end- and auxiliary tasks: a cycling stream of training batches and a head.

    Built in one phase: the framework injects the runtime dependencies (``injected_parameters``:
    the shared ``body``, the ``data_root`` and the experiment ``seed``) beside the config values, so
    the constructor reads the data, builds ``head`` on the body and starts ``stream``; a task is
    complete once constructed. Experiments hold it as ``Lazy[EndTask]`` / ``Lazy[AuxTask]`` until
    the body exists; what is needed before that (its name, its data files) comes from the config's
    values through the class methods :meth:`configured_name` and :meth:`data_files`.
    Subclasses implement :meth:`collate` and :meth:`loss`. Batches carry ``num_targets``
    (examples, or masked tokens) so that gradient accumulation can normalise by the whole batch's
    targets. Tasks that read text take the tokenizer from ``text_body(body, where)``, which fails
    with a configuration error for bodies of other inputs.
    """

    injected_parameters: ClassVar[tuple[str, ...]] = ("body", "data_root", "seed")
    head: nn.Module
    stream: IndexStream

    def __init__(self, name: str, batch_size: int, bucket_batches: int = 0) -> None:
        self.name = name
        self.batch_size = batch_size
        self.bucket_batches = bucket_batches
        self.generator = torch.Generator()

    @classmethod
    def configured_name(cls, arguments: Mapping[str, Any]) -> str:
        """The name of the task built from ``arguments`` (``Lazy.arguments()``), known before it is built:
        for the check that names are unique and the weighter's list of tasks."""
        return arguments["name"]

    @classmethod
    def sources(cls, arguments: Mapping[str, Any]) -> list[Source]:
        """What the task built from ``arguments`` reads through a reader, known before it is built, so
        ``validate`` can check it and ``data fetch`` prepare it."""
        return []

    @classmethod
    def data_files(cls, arguments: Mapping[str, Any]) -> list[str]:
        """The files the task built from ``arguments`` reads, relative to the data root."""
        return [file for source in cls.sources(arguments) for file in source.files()]

    def task_seed(self, seed: int) -> int:
        """Distinct per task, so tasks reading the same texts see them in different orders."""
        return seed * 1_000_003 + zlib.crc32(self.name.encode())

    def start_stream(self, size: int, seed: int, lengths: Optional[torch.Tensor] = None) -> None:
        """Seed the task's generator and start its training stream over ``size`` examples.

        Given the examples' token ``lengths``, batches are length-bucketed if configured.
        """
        self.generator.manual_seed(self.task_seed(seed))
        self.stream = IndexStream(size, self.batch_size, self.task_seed(seed), lengths, self.bucket_batches)

    def next_batch(self) -> Batch:
        return self.collate(self.stream.next())

    def encode(self, body: nn.Module, batch: Batch) -> torch.Tensor:
        """The body's hidden states for ``batch`` (tasks whose inputs are not token ids override it)."""
        return body(batch["input_ids"], batch["attention_mask"])

    def collate(self, indices: torch.Tensor) -> Batch:
        raise NotImplementedError

    def loss(self, body: nn.Module, batch: Batch) -> TaskLoss:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"stream": self.stream.state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stream.load_state_dict(state["stream"])
        self.generator.set_state(state["generator"])


class AuxTask(Task, Registrable):
    """An auxiliary objective trained alongside the end-task on the shared body."""

    family: ClassVar[str] = "aux_task"


class EndTask(Task, Registrable):
    """The task the user cares about: trained, and evaluated on dev and test with its metric.

    Besides training and evaluation, an end-task offers weighters (``WeighterContext.end_task``)
    what this class declares: a fresh head (:meth:`build_head`), batches of any split by indices
    (:meth:`collate`, :meth:`split_size`), the body's hidden states (:meth:`Task.encode`) and the
    features its head reads (:meth:`Head.features`). Subclasses set ``head_config`` (the head's
    config), ``labels`` and ``targets`` in ``__init__``.
    """

    family: ClassVar[str] = "end_task"
    default_implementation: ClassVar[Optional[str]] = "classification"
    metric: str
    # The dev split model selection compares on: ``dev``, or ``dev_unseen`` (the dev rows whose text is not
    # in train). A task that knows no overlap leaves ``overlap`` empty and selects on dev.
    select_on: str = "dev"
    overlap: dict[str, Overlap] = {}  # dev and test against train (data/check.py), found at start-up
    labels: list[str]
    targets: dict[str, torch.Tensor]  # gold label ids per split; train's give the majority-class baseline
    head: Head
    head_config: Lazy[Head]

    @classmethod
    def split_sources(cls, arguments: Mapping[str, Any]) -> dict[str, Source]:
        """The labelled splits (``train``, ``dev``, ``test``) the task built from ``arguments`` reads, for
        ``tartan-fw data check``; none: the task's data cannot be checked."""
        return {}

    def build_head(self, body: Body) -> Head:
        """A fresh, untrained head like the task's own (META-TARTAN fits one, phi*, every step)."""
        return self.head_config.construct(body=body, num_labels=len(self.labels))

    def collate(self, indices: torch.Tensor, split: str = "train") -> Batch:
        """The examples ``indices`` of ``split`` (``train``, ``dev``, ``test``) as one batch with ``labels``."""
        raise NotImplementedError

    def predict(self, body: nn.Module, split: str, device: torch.device, autocast: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted and gold label ids for every example of ``split``."""
        raise NotImplementedError

    def split_size(self, split: str) -> int:
        """Examples in ``split`` (``train``, ``dev``, ``test``), for samplers that draw from it."""
        raise NotImplementedError
