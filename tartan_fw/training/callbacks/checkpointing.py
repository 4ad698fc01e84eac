"""The resumable checkpoint: every ``every`` steps, and when the run is interrupted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from tartan_fw.training.callbacks.base import Callback

if TYPE_CHECKING:
    from tartan_fw.training.trainer import StageLoop


class Checkpointing(Callback):
    """Runs last, so the checkpoint holds every other callback's state after this step.

    ``every`` counts steps across stages (null: only on interruption); a killed run loses the
    steps since the last checkpoint and redoes them identically when resumed.
    """

    def __init__(self, every: Optional[int]) -> None:
        self.every = every

    def on_step_end(self, loop: "StageLoop", step: int) -> None:
        periodic = self.every is not None and loop.global_step % self.every == 0
        if periodic or loop.control.interrupted_by is not None:
            loop.save_checkpoint()
