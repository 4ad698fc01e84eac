"""Auxiliary tasks that train on one corpus: a file under the data root, or a split of a hub dataset."""

from __future__ import annotations

from typing import Any, Mapping, Optional

import torch

from tartan_fw.common.constraints import PositiveInt
from tartan_fw.data.batching import Batch, pad
from tartan_fw.data.readers import DatasetReader, Examples, Source, TextLinesReader
from tartan_fw.data.root import DataRoot
from tartan_fw.data.tokenization import TokenizedTexts, tokenize
from tartan_fw.models.bodies import TextBody
from tartan_fw.tasks.base import AuxTask


class CorpusTask(AuxTask):
    """An auxiliary task on a corpus file: the file, how it is read, and its tokenised texts.

    A subclass's constructor takes the injected ``body``, ``data_root`` and ``seed`` and its own
    parameters, hands the rest on through ``**kwargs`` (the config builder reads this base's
    parameters for them), then calls :meth:`read_corpus`, or :meth:`read_examples` if it builds its
    texts from the examples itself. A subclass with another reader than one text per line
    overrides :meth:`default_reader`.

    Args:
        name: the task's name in logs and weight trajectories.
        corpus: the text file, relative to the data root.
        reader: how the corpus is read; ``max_examples`` or ``fraction`` subsample it.
        batch_size: examples per step.
    """

    texts: TokenizedTexts
    pad_id: int

    def __init__(
        self, name: str, corpus: str, reader: Optional[DatasetReader] = None, batch_size: PositiveInt = 16
    ) -> None:
        super().__init__(name, batch_size)
        self.corpus = corpus
        self.reader = reader or self.default_reader()

    @classmethod
    def default_reader(cls) -> DatasetReader:
        return TextLinesReader()

    @classmethod
    def sources(cls, arguments: Mapping[str, Any]) -> list[Source]:
        return [Source(arguments["reader"] or cls.default_reader(), arguments["corpus"])]

    def read_examples(self, data_root: DataRoot) -> Examples:
        """The corpus's examples, through the reader (a file under the data root, fetched if it is missing
        and fetchable, or a split of a hub dataset)."""
        return self.reader.read(data_root, self.corpus)

    def read_corpus(self, body: TextBody, data_root: DataRoot) -> str:
        """Fill ``texts`` with the corpus tokenised by ``body`` (cached, memory-mapped) and ``pad_id`` with
        the tokenizer's padding id; returns where the corpus is, for error messages."""
        examples = self.read_examples(data_root)
        self.texts = tokenize(examples, body)
        self.pad_id = body.tokenizer.pad_token_id
        return examples.origin

    def pad_texts(self, indices: torch.Tensor) -> Batch:
        """The texts at ``indices``, right-padded into one batch."""
        return pad(self.texts.take(indices), self.pad_id)
