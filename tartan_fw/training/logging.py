"""Run logging: TensorBoard scalars under grouped tags behind one small interface, and the run's
plain-text journal."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Optional


class RunLogger:
    """Discards everything; the base for real loggers and the logger of non-zero ranks."""

    def scalar(self, tag: str, value: float, step: int) -> None:
        pass

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.scalar(tag, value, step)

    def text(self, tag: str, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class TensorBoardLogger(RunLogger):
    """Tags group naturally in TensorBoard: ``train/loss/<task>``, ``weights/<task>``, ``eval/<metric>``."""

    def __init__(self, directory: Path, config: dict[str, Any], purge_step: Optional[int] = None) -> None:
        """``purge_step``: a resumed run continues the event files, hiding the events from this step on
        that the interrupted run wrote after its last checkpoint."""
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(directory), purge_step=purge_step)
        if purge_step is None:
            self.writer.add_text("config", "```\n" + json.dumps(config, indent=2) + "\n```")

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, step)

    def text(self, tag: str, text: str) -> None:
        self.writer.add_text(tag, text)

    def close(self) -> None:
        self.writer.close()


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
