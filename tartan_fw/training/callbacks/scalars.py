"""Training scalars every ``log_every`` steps: losses, task weights, weighter extras, learning rates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tartan_fw.training.callbacks.base import Callback

if TYPE_CHECKING:
    from tartan_fw.training.trainer import StageLoop


class ScalarLogging(Callback):
    """Reading losses and weights waits for the device, so it happens only on logging steps."""

    def __init__(self, log_every: int) -> None:
        self.log_every = log_every

    def on_step_end(self, loop: "StageLoop", step: int) -> None:
        if step % self.log_every == 0:
            loop.log_scalars(loop.losses, loop.global_step)
