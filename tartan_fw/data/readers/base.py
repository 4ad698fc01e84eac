"""Dataset readers turn one file into examples; tokenisation happens later, with the body's tokenizer."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Optional

from tartan_fw.common.registrable import Registrable
from tartan_fw.errors import DataError


@dataclass(frozen=True)
class Example:
    """One text, with its label for classification data (``None`` for a raw corpus)."""

    text: str
    label: Optional[str] = None
    line: int = 0


class DatasetReader(Registrable):
    """Reads a file into examples, optionally capped or subsampled reproducibly.

    Args:
        max_examples: keep at most this many examples.
        fraction: keep this fraction of the examples (the paper's data-size experiments).
        sample_seed: seed of the subsample; the same seed always keeps the same examples.
    """

    family: ClassVar[str] = "dataset_reader"

    def __init__(self, max_examples: Optional[int] = None, fraction: Optional[float] = None, sample_seed: int = 0) -> None:
        if max_examples is not None and max_examples < 1:
            raise ValueError(f"max_examples must be at least 1, got {max_examples}")
        if fraction is not None and not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        self.max_examples = max_examples
        self.fraction = fraction
        self.sample_seed = sample_seed

    def read(self, path: Path, subsample: bool = True) -> list[Example]:
        """The file's examples; ``subsample=False`` ignores the cap (evaluation splits stay whole)."""
        if not path.exists():
            raise DataError(f"{path}: data file not found")
        try:
            examples = self._read(path)
        except UnicodeDecodeError as err:
            raise DataError(
                f"{path}:{_first_undecodable_line(path)}: not UTF-8 text ({err.reason}); re-save the file as UTF-8"
            ) from err
        if not examples:
            raise DataError(f"{path}: the file holds no examples; check the path or regenerate the file")
        return self._subsample(examples) if subsample else examples

    def _read(self, path: Path) -> list[Example]:
        raise NotImplementedError

    def _subsample(self, examples: list[Example]) -> list[Example]:
        keep = len(examples)
        if self.fraction is not None:
            keep = max(1, round(keep * self.fraction))
        if self.max_examples is not None:
            keep = min(keep, self.max_examples)
        if keep == len(examples):
            return examples
        chosen = sorted(random.Random(self.sample_seed).sample(range(len(examples)), keep))
        return [examples[i] for i in chosen]

    def cache_key(self) -> str:
        """What, besides the file, determines the examples (part of the tokenisation cache key)."""
        return f"{type(self).__name__}:{self.max_examples}:{self.fraction}:{self.sample_seed}"


def _first_undecodable_line(path: Path) -> int:
    """The decoder reports offsets within its read buffer, so the line is found by decoding line by line."""
    for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return number
    return 0
