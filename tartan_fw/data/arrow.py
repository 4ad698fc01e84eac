"""``datasets`` tables in the project's cache: built once, keyed by a fingerprint, memory-mapped when used.

Both builders verify what they load (an unreadable file, or fewer rows than were written, as a file cut at
a record-batch boundary reads) and rebuild a corrupt entry once, saying so in one line.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from tartan_fw.common.cache import cache_dir, rebuilding
from tartan_fw.errors import DataError, TartanError

if TYPE_CHECKING:
    from datasets import Dataset, Features

#: Part of every fingerprint: bump it when what a reader or the tokenisation writes changes.
FORMAT_VERSION = 1


def datasets_cache() -> Path:
    return cache_dir() / "datasets"


def quiet_datasets(progress: bool) -> None:
    """The libraries' progress bars (``datasets`` reading and tokenising, hub downloads, transformers loading
    weights) only when ``progress``; ``datasets``' warnings never (ours say more)."""
    import datasets
    import huggingface_hub.utils
    from transformers.utils import logging as transformers_logging

    datasets.enable_progress_bars() if progress else datasets.disable_progress_bars()
    huggingface_hub.utils.enable_progress_bars() if progress else huggingface_hub.utils.disable_progress_bars()
    transformers_logging.enable_progress_bar() if progress else transformers_logging.disable_progress_bar()
    datasets.utils.logging.set_verbosity_error()


def from_rows(generator: Callable[..., Iterator[dict]], gen_kwargs: dict, features: "Features", fingerprint: str) -> "Dataset":
    """``Dataset.from_generator`` into the cache under ``fingerprint`` (which must cover everything the rows
    depend on: datasets then reuses the table without calling ``generator``)."""
    from datasets import Dataset
    from datasets.exceptions import DatasetGenerationError

    # datasets names the builder's folder after the fingerprint (its config id), see io/generator.py
    folder = datasets_cache() / "generator" / f"default-fingerprint={fingerprint}"

    def build() -> "Dataset":
        try:
            return Dataset.from_generator(generator, features=features, gen_kwargs=gen_kwargs,
                                          cache_dir=str(datasets_cache()), fingerprint=fingerprint)
        except DatasetGenerationError as err:
            cause = err.__cause__
            raise (cause if isinstance(cause, TartanError) else err) from cause

    return _healed(build, lambda: [folder] if folder.exists() else [],
                   lambda dataset: dataset.info.splits["train"].num_examples)


def cached_map(dataset: "Dataset", function: Callable, fingerprint: str, folder: str, features: "Features",
               num_proc: int = 1, **kwargs: Any) -> "Dataset":
    """``dataset.map(function, batched=True)`` (one output row per input row, replacing every column)
    into ``<cache>/datasets/<folder>/<fingerprint>.arrow``, reused while the fingerprint matches."""
    path = datasets_cache() / folder / f"{fingerprint}.arrow"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _cache_error(err) from err

    def build() -> "Dataset":
        return dataset.map(function, batched=True, remove_columns=dataset.column_names, features=features,
                           cache_file_name=str(path), new_fingerprint=fingerprint,
                           num_proc=num_proc if num_proc > 1 else None, **kwargs)

    return _healed(build, lambda: _cache_files(path), lambda mapped: len(dataset))


def _healed(build: Callable[[], "Dataset"], entry: Callable[[], list[Path]],
            expected: Callable[["Dataset"], int]) -> "Dataset":
    """``build()``, which loads the cache entry (the paths ``entry()`` lists) when there is one; an entry
    that cannot be read or holds fewer than ``expected`` rows is deleted and built again, once."""
    for attempt in (1, 2):
        try:
            dataset = build()
        except _corrupt() as err:
            if attempt == 2 or not entry():
                raise _cache_error(err) from err
            _discard(entry(), err)
            continue
        rows = expected(dataset)
        if len(dataset) == rows:
            return dataset
        if attempt == 2:
            raise DataError(f"{entry()[0]}: the cache holds {len(dataset)} of {rows} rows after a rebuild; delete it")
        _discard(entry(), f"{len(dataset)} of {rows} rows")
    raise AssertionError("unreachable")


def _cache_files(path: Path) -> list[Path]:
    """The table and, from a multi-process map, its shards (``<fingerprint>_00000_of_00002.arrow``)."""
    return sorted(path.parent.glob(f"{path.stem}*{path.suffix}"))


def _discard(paths: list[Path], reason: object) -> None:
    """Say that the entry is corrupt and delete it, so the next attempt rebuilds it."""
    rebuilding(paths[0], reason)
    try:
        for path in paths:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    except OSError as err:
        raise _cache_error(err) from err


def _cache_error(err: Exception) -> DataError:
    return DataError(f"{datasets_cache()}: cannot write the data cache ({err}); free some space or set "
                     f"TARTAN_CACHE to a writable folder")


def _corrupt() -> tuple[type[BaseException], ...]:
    """What reading a damaged Arrow file raises (pyarrow imported only when something failed)."""
    import pyarrow as pa

    return (pa.ArrowException, OSError)
