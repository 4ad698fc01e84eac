"""Auxiliary tasks that train on one text file under the data root."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from tartan_fw.data.batching import Batch, pad
from tartan_fw.data.readers import DatasetReader, TextLinesReader
from tartan_fw.data.root import DataRoot
from tartan_fw.data.tokenized import TokenizedTexts, tokenize_file
from tartan_fw.models.bodies import Body, text_body
from tartan_fw.tasks.base import AuxTask


class CorpusTask(AuxTask):
    """An auxiliary task on a corpus file: the file, how it is read, and its tokenised texts.

    The registry reads a component's parameters from its own ``__init__``, so each subclass still
    declares ``name``, ``corpus``, ``reader`` and ``batch_size`` (with their defaults and docs) and
    hands them on; this base does what they share. A subclass's ``setup`` calls
    :meth:`read_corpus`, or :meth:`corpus_file` if it builds its texts from the examples itself.
    """

    texts: TokenizedTexts
    pad_id: int

    def __init__(
        self, name: str, corpus: str, reader: Optional[DatasetReader], batch_size: int, bucket_batches: int = 0
    ) -> None:
        super().__init__(name, batch_size, bucket_batches)
        self.corpus = corpus
        self.reader = reader or TextLinesReader()

    def data_files(self) -> list[str]:
        return [self.corpus]

    def corpus_file(self, data_root: DataRoot) -> Path:
        """The corpus under the data root (fetched if it is missing and fetchable)."""
        return data_root.file(self.corpus)

    def read_corpus(self, body: Body, data_root: DataRoot) -> Path:
        """Fill ``texts`` with the corpus tokenised by ``body`` (cached on disk) and ``pad_id`` with
        the tokenizer's padding id; returns the corpus's path, for error messages."""
        text = text_body(body, f"aux_tasks.{self.name}")
        path = self.corpus_file(data_root)
        self.texts = tokenize_file(path, self.reader, text)
        self.pad_id = text.tokenizer.pad_token_id
        return path

    def pad_texts(self, indices: torch.Tensor) -> Batch:
        """The texts at ``indices``, right-padded into one batch."""
        return pad([self.texts[i] for i in indices.tolist()], self.pad_id)
