"""Run logging behind one small interface: TensorBoard scalars under grouped tags."""

from __future__ import annotations

import json
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
