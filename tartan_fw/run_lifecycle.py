"""One run directory's life, the same for a single experiment and a pipeline (and so for each seed of a sweep,
which runs ``tartan-fw run``): check, lock, check again, start or resume, log, write its JSON, finish.

::

    lifecycle = RunLifecycle(directory, config, force, resume, ext_vars)
    lifecycle.check()                # before anything is read: a wrong -s fails in a second
    with lifecycle.logging(show):    # in memory (and on stdout in a batch job) until the directory is ours
        ...                          # build and read the data (minutes)
        lifecycle.claim(device)      # rank 0: lock, check again, start afresh or check what a resume reads
        lifecycle.open_log()         # log.txt from here, beginning with the lines kept in memory
        ...                          # train
    lifecycle.finish(metrics)        # metrics.json, written last: the run is finished when it exists

Checking twice keeps the data from being read for a run that cannot be written, and keeps what was
checked true for the process that writes (another may have started or finished the run meanwhile).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextlib import contextmanager
from logging.handlers import MemoryHandler
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import torch

from tartan_fw.common.files import atomic_write_text, check_tensors, check_writable, make_folder, read_json, storage_errors
from tartan_fw.common.locking import lock_folder
from tartan_fw.data.root import DataRoot
from tartan_fw.environment import environment_record
from tartan_fw.errors import StorageError, TartanError
from tartan_fw.run_directory import (
    DAMAGED_CONFIG, RunDirectory, check_replaceable, clear_run_directory, data_root_record, has_contents,
)
from tartan_fw.training.checkpoint import DAMAGED_BEST, TrainingCheckpoint
from tartan_fw.training.logging import RunLogFile, journal
from tartan_fw.training.results import RunMetrics


def write_json(path: Path, value: Any) -> None:
    """Atomic: written beside ``path`` and renamed."""
    atomic_write_text(path, json.dumps(value, indent=2) + "\n")


class RunLifecycle:
    """The steps every run takes on its directory, in order; rank 0 alone writes (under torchrun the ranks share it)."""

    def __init__(self, directory: Path, config: dict[str, Any], force: bool = False, resume: bool = False,
                 ext_vars: Optional[dict[str, str]] = None) -> None:
        self.directory, self.config, self.force, self.resume = directory, config, force, resume
        self.ext_vars = ext_vars or {}
        self.files = RunDirectory(directory)

    def check(self) -> None:
        """A run may resume its own unfinished directory, replace a run directory with ``force``, or start afresh.

        A directory with contents is locked at once, so a live run is refused before the data is read.
        """
        self._check()
        if has_contents(self.directory):
            self._lock()

    def claim(self, device: torch.device, start: Callable[[RunDirectory], None] = lambda files: None) -> None:
        """Lock the directory and check it again, then start the run afresh or check what a resume will read
        (before anything is written); either way record the session's environment.

        ``start`` writes the caller's own first files (the labels, the model folder); a disk that cannot
        take them, or the lifecycle's, leaves no half-made run behind.
        """
        self._lock()
        self._check()
        if self.resume:
            self._check_resumable_state()
            self._record_environment("resume", device)
            return
        try:
            make_folder(self.directory)
            clear_run_directory(self.directory)
            write_json(self.files.config, self.config)
            write_json(self.files.ext_vars, self.ext_vars)
            write_json(self.files.data_root, data_root_record(DataRoot(self.config.get("data_root")).path))
            self._record_environment("start", device)
            start(self.files)
        except StorageError:
            clear_run_directory(self.directory)
            raise

    @contextmanager
    def logging(self, show_progress: bool) -> Iterator[None]:
        """The run's log from its first line: kept in memory until :meth:`open_log` (the directory is ours by
        then), in log.txt from there; the journal also on stdout when that is not a terminal (where the
        progress bar would print nothing until the end) and the command is not quiet."""
        self._early = MemoryHandler(capacity=1 << 20, flushLevel=logging.CRITICAL + 1)
        self._handlers = [("tartan_fw", self._early), (journal.name, self._early)]
        if show_progress and not sys.stdout.isatty():
            to_stdout = logging.StreamHandler(sys.stdout)
            to_stdout.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
            self._handlers.append((journal.name, to_stdout))
        for target, handler in self._handlers:
            logging.getLogger(target).addHandler(handler)
        try:
            yield
        finally:
            for target, handler in self._handlers:
                logging.getLogger(target).removeHandler(handler)
                handler.close()

    def open_log(self) -> None:
        """log.txt from now on, starting with what was kept in memory (the start, building, reading)."""
        with storage_errors(self.files.log):
            to_file = RunLogFile(self.files.log)
        early = self._early
        self._handlers = [(target, handler) for target, handler in self._handlers if handler is not early]
        for target in ("tartan_fw", journal.name):
            logging.getLogger(target).removeHandler(early)
        early.setTarget(to_file)
        early.close()  # flushes what it kept into log.txt
        for target in ("tartan_fw", journal.name):
            logging.getLogger(target).addHandler(to_file)
            self._handlers.append((target, to_file))

    def finish(self, metrics: RunMetrics) -> None:
        write_json(self.files.metrics, metrics.to_dict())

    def _check(self) -> None:
        directory = self.directory
        if self.resume:
            check_resumable(self.config, directory)
        elif directory.exists() and not directory.is_dir():
            raise TartanError(f"{directory}: is a file; choose a run directory with -s")
        elif not has_contents(directory):
            check_writable(self.files.config)  # a read-only disk, found before the data is read
        else:
            if not self.force:
                raise TartanError(
                    f"{directory}: run directory exists; choose another with -s, pass --force to replace it, "
                    f"or --resume to continue it"
                )
            check_replaceable(directory)

    def _lock(self) -> None:
        if os.environ.get("RANK", "0") == "0":
            lock_folder(self.directory)

    def _check_resumable_state(self) -> None:
        """What a resume will read, checked before it writes anything (a log, an event file)."""
        checkpoint = TrainingCheckpoint(self.files.checkpoint)
        if checkpoint.exists():
            checkpoint.check()
        if self.files.best_model.exists():
            check_tensors(self.files.best_model, DAMAGED_BEST)

    def _record_environment(self, event: str, device: torch.device) -> None:
        """Appends this session to ``environment.json`` (a run started before the record gets one from its resume)."""
        path = self.files.environment
        sessions = read_json(path, "delete it to start the record afresh") if path.exists() else []
        if not isinstance(sessions, list):
            raise TartanError(f"{path}: expected a list of sessions; delete it to start the record afresh")
        write_json(path, [*sessions, environment_record(event, device)])


def check_resumable(config: dict[str, Any], directory: Path) -> None:
    """A run can be resumed when it is unfinished and ``config`` is the one it was started with."""
    files = RunDirectory(directory)
    if not files.is_started():
        raise TartanError(f"{directory}: no run to resume (no {files.config.name}); start one with tartan-fw run")
    if files.is_finished():
        raise TartanError(f"{directory}: the run has finished ({files.metrics.name} exists); there is nothing to resume")
    saved = read_json(files.config, DAMAGED_CONFIG)
    changed = _differences(saved, json.loads(json.dumps(config)))
    if changed:
        raise TartanError(
            f"{directory}: the config differs from the run's {files.config.name} at {', '.join(changed[:5])}; "
            f"a run resumes with its own config: tartan-fw resume {directory}"
        )


def _differences(saved: Any, given: Any, path: str = "") -> list[str]:
    """Dotted paths where two JSON values differ."""
    if isinstance(saved, dict) and isinstance(given, dict):
        keys = sorted(set(saved) | set(given))
        return [d for k in keys for d in _differences(saved.get(k), given.get(k), f"{path}.{k}" if path else k)]
    return [] if saved == given else [path or "(top level)"]
