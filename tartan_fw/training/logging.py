"""Run logging: TensorBoard scalars under grouped tags behind one small interface, and the run's
plain-text journal."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Optional, Protocol

from tartan_fw.common.files import storage_errors


class ScalarSubscriber(Protocol):
    """What the logger passes scalars on to: a tracker (``training/trackers/base.py``)."""

    def log_scalars(self, values: dict[str, float], step: int) -> None: ...


class RunLogger:
    """Writes nothing itself (the logger of non-zero ranks, and of a run without TensorBoard); the base for
    real loggers. Every scalar also goes to the subscribed trackers, under the same tag: the one source of
    the run's curves, so TensorBoard and a tracker cannot name them differently."""

    def __init__(self) -> None:
        self.subscribers: list[ScalarSubscriber] = []

    def subscribe(self, subscriber: ScalarSubscriber) -> None:
        self.subscribers.append(subscriber)

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars({tag: value}, step)

    def scalars(self, values: dict[str, float], step: int) -> None:
        self.write_scalars(values, step)
        for subscriber in self.subscribers:
            subscriber.log_scalars(values, step)

    def write_scalars(self, values: dict[str, float], step: int) -> None:
        pass

    def text(self, tag: str, text: str) -> None:
        pass

    def flush(self) -> None:
        """Makes what was logged durable (a checkpoint does this, so a resumed run's curves are whole)."""

    def close(self) -> None:
        pass


class TensorBoardLogger(RunLogger):
    """Tags group naturally in TensorBoard: ``train/loss/<task>``, ``weights/<task>``, ``eval/<metric>``.

    The event file is opened at the first scalar, so a run that fails before training (a resume
    refused on a damaged checkpoint) leaves none. A full disk is a StorageError, not a thread's traceback.
    """

    def __init__(self, directory: Path, config: dict[str, Any], purge_step: Optional[int] = None) -> None:
        """``purge_step``: a resumed run continues the event files, hiding the events from this step on
        that the interrupted run wrote after its last checkpoint."""
        super().__init__()
        self.directory, self.config, self.purge_step = directory, config, purge_step
        self._writer: Any = None

    @property
    def writer(self) -> Any:
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            with storage_errors(self.directory):
                self._writer = SummaryWriter(log_dir=str(self.directory), purge_step=self.purge_step)
                if self.purge_step is None:
                    self._writer.add_text("config", "```\n" + json.dumps(self.config, indent=2) + "\n```")
        return self._writer

    def write_scalars(self, values: dict[str, float], step: int) -> None:
        with storage_errors(self.directory):
            for tag, value in values.items():
                self.writer.add_scalar(tag, value, step)

    def text(self, tag: str, text: str) -> None:
        with storage_errors(self.directory):
            self.writer.add_text(tag, text)

    def flush(self) -> None:
        if self._writer is not None:
            with storage_errors(self.directory):
                self._writer.flush()

    def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            with storage_errors(self.directory):
                writer.close()


class RunLogFile(logging.FileHandler):
    """``log.txt``: a copy of the run's log. A line that cannot be written (disk full) is dropped
    quietly instead of printing a traceback; the next checkpoint write reports the disk as an error."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8")
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def handleError(self, record: logging.LogRecord) -> None:
        pass


# The run's journal: start, progress lines, evaluations and the result, in plain lines. It goes to
# log.txt, and to stdout when that is not a terminal (a batch job's log), where the progress bar
# would show nothing until the end; never to stderr, which keeps warnings and errors.
journal = logging.getLogger("tartan_fw.run")
journal.propagate = False


def duration(seconds: float) -> str:
    """``1h02m``, ``3m05s`` or ``42s``."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
