"""Steps skipped for a non-finite loss or gradient: counted, logged, and fatal when they persist."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tartan_fw.errors import TartanError
from tartan_fw.training.callbacks.base import Callback

if TYPE_CHECKING:
    from tartan_fw.training.trainer import StageLoop

logger = logging.getLogger(__name__)


class NonFiniteGuard(Callback):
    """The step already skipped the update; this counts such steps and stops the run after ``limit`` in a row.

    A lone overflow (a bad batch, a loss spike) costs one step; a run that keeps producing NaN
    has diverged, and stopping it keeps the best checkpoint from being buried under a long
    useless run.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.consecutive = 0
        self.total = 0

    def on_step_end(self, loop: "StageLoop", step: int) -> None:
        if loop.finite:
            self.consecutive = 0
            return
        self.consecutive += 1
        self.total += 1
        losses = ", ".join(f"{name} {float(loss):.4g}" for name, loss in loop.losses.items())
        logger.warning("step %d (%s): non-finite loss or gradient, update skipped (losses: %s)",
                       loop.global_step, loop.name, losses)
        loop.run.logger.scalar("train/nonfinite_steps", self.total, loop.global_step)
        if self.consecutive >= self.limit:
            raise TartanError(
                f"step {loop.global_step} ({loop.name}): {self.consecutive} steps in a row had a non-finite loss or "
                f"gradient (losses: {losses}); training stopped, the best checkpoint {loop.run.best_path} is "
                f"intact. Lower trainer.body_lr / head_lr, set trainer.max_grad_norm, or check the data; "
                f"trainer.max_nonfinite_steps sets how many are tolerated"
            )

    def state_dict(self) -> dict[str, Any]:
        return {"consecutive": self.consecutive, "total": self.total}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.consecutive, self.total = state["consecutive"], state["total"]
