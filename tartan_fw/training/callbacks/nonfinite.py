"""Steps skipped for a non-finite loss or gradient: counted, logged, and fatal when they persist."""

from __future__ import annotations

import logging
from typing import Any

from tartan_fw.errors import TartanError
from tartan_fw.training.callbacks.base import Callback, Loop

logger = logging.getLogger(__name__)


@Callback.register("nonfinite")
class NonFiniteGuard(Callback):
    """The step already skipped the update; this counts such steps and fails the run after
    ``trainer.max_nonfinite_steps`` in a row.

    A lone overflow (a bad batch, a loss spike) costs one step; a run that keeps producing NaN
    has diverged, and stopping it keeps the best checkpoint from being buried under a long
    useless run.
    """

    def __init__(self) -> None:
        self.consecutive = 0

    def on_step_end(self, loop: Loop) -> None:
        if loop.finite:
            self.consecutive = 0
            return
        state = loop.state
        self.consecutive += 1
        state.nonfinite_steps += 1
        losses = ", ".join(f"{name} {float(loss):.4g}" for name, loss in loop.losses.items())
        logger.warning("step %d (%s): non-finite loss or gradient, update skipped (losses: %s)",
                       state.global_step, state.stage, losses)
        loop.run.logger.scalar("train/nonfinite_steps", state.nonfinite_steps, state.global_step)
        if self.consecutive >= loop.settings.max_nonfinite_steps:
            loop.control.error = TartanError(
                f"step {state.global_step} ({state.stage}): {self.consecutive} steps in a row had a non-finite loss or "
                f"gradient (losses: {losses}); training stopped, the best checkpoint {loop.run.best_path} is "
                f"intact. Lower trainer.body_lr / head_lr, set trainer.max_grad_norm, or check the data; "
                f"trainer.max_nonfinite_steps sets how many are tolerated"
            )

    def state_dict(self) -> dict[str, Any]:
        return {"consecutive": self.consecutive}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.consecutive = state["consecutive"]
