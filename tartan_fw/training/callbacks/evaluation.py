"""Dev evaluation, best-model selection and early stopping."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional

from tartan_fw.training.callbacks.base import Callback
from tartan_fw.training.checkpoint import save_end_task_model

if TYPE_CHECKING:
    from tartan_fw.training.trainer import StageLoop


class Evaluation(Callback):
    """Evaluates the end-task on dev every ``eval_every`` steps and at the stage's last step.

    A score above the best so far (``baseline`` at first: the previous stage's best) saves the
    body and end-task head to ``best/model.safetensors``; ``patience`` evaluations without
    improvement end the stage (null: never). With ``eval_every`` null it never evaluates.
    """

    def __init__(self, eval_every: Optional[int], patience: Optional[int], baseline: float = -math.inf) -> None:
        self.eval_every, self.patience = eval_every, patience
        self.best = baseline
        self.best_step = 0
        self.best_dev: dict[str, float] = {}
        self.bad_evaluations = 0

    def on_step_end(self, loop: "StageLoop", step: int) -> None:
        if self.eval_every is None or (step % self.eval_every and step != loop.schedule.max_steps):
            return
        run, metric = loop.run, loop.run.end_task.metric
        dev = run.evaluate("dev")
        run.logger.scalars({f"eval/{k}": v for k, v in dev.items()}, loop.global_step)
        if dev[metric] > self.best:
            self.best, self.best_step, self.best_dev, self.bad_evaluations = dev[metric], loop.global_step, dev, 0
            if run.parallel.is_main:
                save_end_task_model(run.body, run.end_task.head, run.best_path)
        else:
            self.bad_evaluations += 1
        loop.control.stop = self.patience is not None and self.bad_evaluations >= self.patience
        loop.control.status = f"dev {metric} {dev[metric]:.4f} (best {self.best:.4f})"

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step, "best_dev": self.best_dev,
                "bad_evaluations": self.bad_evaluations}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_step = state["best"], state["best_step"]
        self.best_dev, self.bad_evaluations = state["best_dev"], state["bad_evaluations"]
