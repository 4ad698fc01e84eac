"""Tokenised texts: ``Dataset.map`` over a reader's examples (batched, in several processes for large data),
cached as Arrow by a fingerprint of the examples, the tokenizer and the maximum length, and memory-mapped,
so a corpus larger than memory trains and rows are read only when a batch needs them."""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

from tartan_fw.data.arrow import FORMAT_VERSION, cached_map

if TYPE_CHECKING:
    import pyarrow as pa

    from tartan_fw.data.readers import Examples

# A process of its own pays off from about this many texts (starting one costs about a second).
ROWS_PER_PROCESS = 20_000


class TokenizedTexts:
    """Token id sequences in an Arrow ``list<int32>`` column: from the cache (memory-mapped) or in memory.

    Indexing returns one sequence as a tensor; ``take`` a batch of them. The stream position of a task is
    an index into this table, so a resumed run reads the same rows.
    """

    def __init__(self, column: "pa.ChunkedArray") -> None:
        self.column = column
        self._chunks = [c for c in column.chunks if len(c)]
        self._starts = np.cumsum([0] + [len(c) for c in self._chunks]).tolist()
        self._views: list[Any] = [None] * len(self._chunks)

    def __len__(self) -> int:
        return self._starts[-1]

    def __getitem__(self, index: int) -> torch.Tensor:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} texts")
        index %= len(self)
        chunk = bisect_right(self._starts, index) - 1
        offsets, values = self._view(chunk)
        row = index - self._starts[chunk]
        return torch.from_numpy(values[offsets[row] : offsets[row + 1]].copy())

    def take(self, indices: Sequence[int] | torch.Tensor) -> list[torch.Tensor]:
        return [self[i] for i in (indices.tolist() if isinstance(indices, torch.Tensor) else indices)]

    def _view(self, chunk: int) -> tuple[np.ndarray, np.ndarray]:
        """The chunk's offsets and values as numpy views of the (memory-mapped) buffers: nothing is copied."""
        if self._views[chunk] is None:
            array = self._chunks[chunk]
            self._views[chunk] = (array.offsets.to_numpy(), array.values.to_numpy(zero_copy_only=True))
        return self._views[chunk]

    def lengths(self) -> torch.Tensor:
        import pyarrow.compute as pc

        return torch.from_numpy(pc.list_value_length(self.column).to_numpy().astype(np.int64))

    def token_counts(self, size: int) -> torch.Tensor:
        """How often each token id occurs, counted chunk by chunk (memory stays flat)."""
        counts = np.zeros(size, dtype=np.int64)
        for chunk in range(len(self._chunks)):
            offsets, values = self._view(chunk)
            counts += np.bincount(values[offsets[0] : offsets[-1]], minlength=size)[:size]
        return torch.from_numpy(counts)

    @classmethod
    def from_lists(cls, sequences: list[list[int]]) -> "TokenizedTexts":
        import pyarrow as pa

        return cls(pa.chunked_array([pa.array(sequences, type=pa.list_(pa.int32()))]))


def tokenize(examples: "Examples", body: Any) -> TokenizedTexts:
    """``examples``' texts tokenised by ``body``'s tokenizer and truncated to its ``max_length``, from the
    cache when the same examples were tokenised the same way before."""
    from datasets import Features, Sequence, Value
    from datasets.fingerprint import Hasher

    fingerprint = Hasher.hash([FORMAT_VERSION, examples.dataset._fingerprint, body.fingerprint(), body.max_length])
    tokenized = cached_map(
        examples.dataset, _encode, fingerprint, "tokenized", Features({"input_ids": Sequence(Value("int32"))}),
        num_proc=processes(len(examples)), input_columns="text",
        fn_kwargs={"tokenizer": body.tokenizer, "max_length": body.max_length}, desc=f"Tokenising {examples.origin}",
    )
    return TokenizedTexts(tokenized.data.column("input_ids"))


def tokenize_texts(texts: list[str], tokenizer: Any, max_length: int) -> TokenizedTexts:
    """A few texts tokenised in memory, exactly as :func:`tokenize` does (prediction, sentence pairs)."""
    return TokenizedTexts.from_lists(_encode(texts, tokenizer, max_length)["input_ids"])


def processes(rows: int) -> int:
    """Tokenising processes: one per thread of the budget (``--threads``, else torch's default), and one
    for small data."""
    return max(1, min(torch.get_num_threads(), rows // ROWS_PER_PROCESS))


def _encode(texts: list[str], tokenizer: Any, max_length: int) -> dict[str, list[list[int]]]:
    encoded = tokenizer(texts, truncation=True, max_length=max_length, return_attention_mask=False,
                        return_token_type_ids=False)
    return {"input_ids": encoded["input_ids"]}
