"""``data fetch`` beyond the paper tasks: every source a config (or a task folder) reads, made ready before a run.

Each source is had as a run would have it: a file under the data root found, downloaded with its task
from the public release, or derived (``train.txt``); a hub split downloaded into the ``datasets`` cache;
then read once through its reader, which checks it line by line and fills the Arrow cache, so the run
starts from the cache, offline too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from tartan_fw.data.arrow import datasets_cache
from tartan_fw.data.readers import JsonlClassificationReader, Source, TextLinesReader
from tartan_fw.data.root import DERIVE, DOWNLOAD, PRESENT, SPLITS, DataRoot
from tartan_fw.errors import DataError

DONE = {PRESENT: "present", DOWNLOAD: "downloaded from the public release", DERIVE: "derived from train.jsonl"}


@dataclass(frozen=True)
class DataNeed:
    """Something a config reads, named by its config path (``where``): ``source`` through a reader, or a plain
    ``file`` (a body's tokenizer corpus)."""

    where: str
    root: DataRoot
    source: Optional[Source] = None
    file: Optional[str] = None

    def files(self) -> list[str]:
        return self.source.files() if self.source else [str(self.file)]

    @property
    def reads_folders(self) -> bool:
        return self.source is not None and self.source.reader.reads_folders

    def key(self) -> tuple:
        """Two needs with one key read the same thing the same way."""
        if self.source is None:
            return ("file", str(self.root.locate(str(self.file))))
        paths = tuple(str(self.root.locate(name)) for name in self.files())
        return (repr(self.source.reader.settings()), paths or (self.source.name,), self.source.labelled)


def task_folder_needs(task: str, root: DataRoot) -> list[DataNeed]:
    """A task of one's own as ``docs/tutorials/own-data.md`` lays it out: ``<task>/{train,dev,test}.jsonl``, its TAPT
    corpus ``train.txt`` (derived when absent) and, if there is one, its DAPT corpus."""
    reader = JsonlClassificationReader()
    needs = [DataNeed(f"{task} {split}", root, Source(reader, reader.default_file(split), task, labelled=True))
             for split in SPLITS]
    needs.append(DataNeed(f"{task} TAPT corpus", root, Source(TextLinesReader(), f"{task}/train.txt")))
    if root.locate(f"{task}/domain.1xTAPT.txt").exists():
        needs.append(DataNeed(f"{task} DAPT corpus", root, Source(TextLinesReader(), f"{task}/domain.1xTAPT.txt")))
    return needs


def prepare(needs: Iterable[DataNeed], report: Callable[[str], None]) -> None:
    """Make every need ready, reporting one line each; what cannot be had is reported together at the end
    (after the rest is prepared), in one error line."""
    first: dict[tuple, str] = {}
    problems: list[str] = []
    for need in needs:
        if need.key() in first:
            report(f"{need.where}: as {first[need.key()]}")
            continue
        first[need.key()] = need.where
        try:
            report(f"{need.where}: {_prepare(need)}")
        except DataError as err:
            problems.append(f"{need.where}: {err}")
    if len(problems) == 1:
        raise DataError(problems[0])
    if problems:
        raise DataError(f"{len(problems)} sources cannot be prepared: " + "; ".join(problems))


def _prepare(need: DataNeed) -> str:
    done = []
    for name in need.files():
        step = need.root.plan(name)
        # downloads or derives; a missing file is the error that says what to do
        path = need.root.file(name, need.reads_folders)
        done.append(f"{path} {DONE[step]}")
    if need.source is None:
        return "; ".join(done)
    examples = need.source.read(need.root, subsample=False)
    where = "; ".join(done) or f"{examples.origin} in the datasets cache ({datasets_cache()})"
    return f"{where}, {len(examples)} examples"
