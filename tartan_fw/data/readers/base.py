"""Dataset readers turn one source (a file, a saved ``datasets`` folder, a hub split) into a Hugging Face
``Dataset`` of texts, cached as Arrow and memory-mapped; tokenisation happens later, with the body's tokenizer."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Optional

from tartan_fw.common.constraints import PositiveInt, PositiveFraction
from tartan_fw.common.registrable import Registrable
from tartan_fw.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset

SUBSAMPLE_SETTINGS = ("max_examples", "fraction", "sample_seed")


@dataclass(frozen=True)
class Examples:
    """A source's examples: a ``Dataset`` with a ``text`` column, ``line`` (the line number in the file,
    or the row index where the format has no lines) and, for labelled data, ``label`` (strings).

    ``origin`` names the source in messages (a path, or a hub dataset and split).
    """

    dataset: "Dataset"
    origin: str
    lines: bool = True

    def __len__(self) -> int:
        return len(self.dataset)

    def at(self, line: int) -> str:
        """Where one example is, for an error message: ``file:line`` or ``source, row N``."""
        return f"{self.origin}:{line}" if self.lines else f"{self.origin}, row {line}"


@dataclass(frozen=True)
class Source:
    """One thing a task reads through its reader: ``name`` (a file relative to ``folder`` under the data root,
    or a hub split), with labels or without; what ``validate`` checks and ``data fetch`` prepares."""

    reader: "DatasetReader"
    name: str
    folder: str = ""
    labelled: bool = False

    def files(self) -> list[str]:
        """The files under the data root it needs (none for a hub split)."""
        return self.reader.data_files(self.name, self.folder)

    def read(self, data_root: Any, subsample: bool = True) -> Examples:
        return self.reader.read(data_root, self.name, self.folder, self.labelled, subsample)


class DatasetReader(Registrable):
    """Reads a source into examples, optionally capped or subsampled reproducibly.

    Subclasses implement :meth:`_load`, returning every example of the source with a fingerprint that
    covers the source's content and the reader's settings: ``datasets`` keys its caches by it.

    Args:
        max_examples: keep at most this many examples.
        fraction: keep this fraction of the examples (the paper's data-size experiments).
        sample_seed: seed of the subsample; the same seed always keeps the same examples.
    """

    family: ClassVar[str] = "dataset_reader"
    #: Whether a source is a folder (a saved dataset) rather than a file, so a folder is not refused as one.
    reads_folders: ClassVar[bool] = False

    def __init__(self, max_examples: Optional[PositiveInt] = None, fraction: Optional[PositiveFraction] = None,
                 sample_seed: int = 0) -> None:
        self.max_examples = max_examples
        self.fraction = fraction
        self.sample_seed = sample_seed

    def read(self, data_root: Any, name: str, folder: str = "", labelled: bool = False, subsample: bool = True) -> Examples:
        """The examples of ``name`` (a file, relative to ``folder`` under the data root, or the split of a
        hub dataset); ``labelled`` asks for labels too; ``subsample=False`` ignores the cap (evaluation
        splits stay whole)."""
        examples = self._load(data_root, name, folder, labelled)
        if not len(examples):
            raise DataError(f"{examples.origin}: the file holds no examples; check the path or regenerate the file")
        return self.subsample(examples) if subsample else examples

    def data_files(self, name: str, folder: str = "") -> list[str]:
        """The files under the data root that :meth:`read` of ``name`` needs, so ``validate`` can check them."""
        return [f"{folder}/{name}" if folder else name]

    def default_file(self, split: str) -> str:
        """What a classification end-task reads for ``split`` (train, dev, test) when its config names nothing."""
        return f"{split}.jsonl"

    def _load(self, data_root: Any, name: str, folder: str, labelled: bool) -> Examples:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """What, besides the source, shapes the examples before subsampling (part of the cache fingerprint)."""
        return {"reader": type(self).__qualname__,
                **{k: v for k, v in sorted(vars(self).items()) if k not in SUBSAMPLE_SETTINGS}}

    def subsample(self, examples: Examples) -> Examples:
        """``examples`` capped or subsampled as the settings say (the same examples for the same seed)."""
        from datasets.fingerprint import Hasher

        size = len(examples)
        keep = size
        if self.fraction is not None:
            keep = max(1, round(keep * self.fraction))
        if self.max_examples is not None:
            keep = min(keep, self.max_examples)
        if keep == size:
            return examples
        chosen = sorted(random.Random(self.sample_seed).sample(range(size), keep))
        fingerprint = Hasher.hash([examples.dataset._fingerprint, keep, self.sample_seed])
        subset = examples.dataset.select(chosen, keep_in_memory=True, new_fingerprint=fingerprint)
        return Examples(subset, examples.origin, examples.lines)
