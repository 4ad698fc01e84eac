"""Tokenised texts, cached on disk by file content, reader settings, tokenizer and max length."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from typing import Any

import torch

from tartan_fw.common.cache import cache_dir


class TokenizedTexts:
    """Token id sequences stored as one flat tensor with offsets (compact, fast to load)."""

    def __init__(self, ids: torch.Tensor, offsets: torch.Tensor) -> None:
        self.ids = ids
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.ids[self.offsets[index] : self.offsets[index + 1]]

    def lengths(self) -> torch.Tensor:
        return self.offsets[1:] - self.offsets[:-1]

    @classmethod
    def from_lists(cls, sequences: list[list[int]]) -> "TokenizedTexts":
        lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
        offsets = torch.zeros(len(sequences) + 1, dtype=torch.long)
        torch.cumsum(lengths, 0, out=offsets[1:])
        ids = torch.tensor([i for s in sequences for i in s], dtype=torch.int32)
        return cls(ids, offsets)


def tokenize(
    texts: list[str], tokenizer: Any, max_length: int, key: str, use_cache: bool = True
) -> TokenizedTexts:
    """Tokenise ``texts`` (truncated to ``max_length``), reusing the on-disk copy for the same ``key``."""
    digest = hashlib.sha256(f"{key}\0{max_length}".encode()).hexdigest()[:32]
    path = cache_dir() / "tokenized" / f"{digest}.pt"
    if use_cache and path.exists():
        stored = torch.load(path)
        return TokenizedTexts(stored["ids"], stored["offsets"])
    encoded = tokenizer(texts, truncation=True, max_length=max_length, add_special_tokens=True)["input_ids"]
    tokenized = TokenizedTexts.from_lists(encoded)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=path.parent, suffix=".partial")
        os.close(handle)
        torch.save({"ids": tokenized.ids, "offsets": tokenized.offsets}, partial)
        os.replace(partial, path)
    return tokenized


def tokenize_file(path: Path, reader: Any, body: Any) -> TokenizedTexts:
    """``reader``'s examples of ``path`` tokenised with ``body``'s tokenizer (cached)."""
    examples = reader.read(path)
    key = file_key(path, reader.cache_key(), body.fingerprint())
    return tokenize([e.text for e in examples], body.tokenizer, body.max_length, key)


def file_key(path: Path, *parts: str) -> str:
    """A cache key from a file's content and the settings that shaped its examples."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    tokenizer_parts = [hashlib.sha256(p.encode()).hexdigest() for p in parts]
    return ":".join([digest, *tokenizer_parts])
