"""Continued pretraining (TAPT, DAPT): the auxiliary tasks alone, then the body is saved for a later stage."""

from __future__ import annotations

import time
from typing import Any, Optional

from tartan_fw.errors import ConfigurationError
from tartan_fw.models.heads import MaskedLMHead
from tartan_fw.training.body_weights import BODY_FILE, save_body
from tartan_fw.training.trainer import Run, StageLoop, TartanTrainer, Trainer, _progress


@Trainer.register("pretrain")
class PretrainTrainer(TartanTrainer):
    """Task-agnostic continued pretraining (Gururangan et al., 2020): the baseline TARTAN replaces.

    Trains the body on the auxiliary tasks only (mixed by the weighter, uniform by default) for
    ``max_steps`` steps, with no end-task head and no evaluation, and writes ``body.safetensors``
    into the run directory: the body, and the first masked-LM task's head so that a chained stage
    (DAPT then TAPT) continues with it. A pipeline's next stage starts from that file.

    Args:
        max_steps: optimisation steps.
        lr: peak learning rate of the body and the masked-LM heads (linear warmup, then decay).
        weight_decay, warmup_fraction, max_grad_norm, accumulation_steps, log_every: as in ``tartan``.
    """

    def __init__(
        self,
        max_steps: int = 1000,
        lr: float = 1e-4,
        weight_decay: float = 0.01,
        warmup_fraction: float = 0.06,
        max_grad_norm: Optional[float] = 1.0,
        accumulation_steps: int = 1,
        log_every: int = 10,
    ) -> None:
        super().__init__(
            max_steps=max_steps, body_lr=lr, head_lr=lr, weight_decay=weight_decay, warmup_fraction=warmup_fraction,
            max_grad_norm=max_grad_norm, accumulation_steps=accumulation_steps, eval_every=max_steps,
            log_every=log_every,
        )

    def fit(self, run: Run) -> dict[str, Any]:
        if not run.aux_tasks:
            raise ConfigurationError(["aux_tasks: trainer 'pretrain' needs at least one auxiliary task to train on"])
        started = time.perf_counter()
        loop = StageLoop(self, run, "pretrain", run.aux_tasks, run.weighter, self.schedule, first_step=0)
        run.body.train()
        for task in run.aux_tasks:
            task.head.train()
        with _progress(run.show_progress, "pretrain", self.schedule.max_steps) as advance:
            for step in range(1, self.schedule.max_steps + 1):
                losses = loop.step(step)
                if step % self.log_every == 0:
                    loop.log_scalars(losses, step)
                advance(step, losses, "")
        lm_head = next((t.head.predictions for t in run.aux_tasks if isinstance(t.head, MaskedLMHead)), None)
        if run.parallel.is_main:
            save_body(run.body, run.directory / BODY_FILE, lm_head)
        tokens = {f"pretrain/{name}": count for name, count in loop.tokens.items()}
        steps = self.schedule.max_steps
        return {
            "metric": run.end_task.metric,
            "best_dev": {},
            "best_step": None,
            "test": {},
            "steps": steps,
            "wall_time_s": time.perf_counter() - started,
            "tokens": tokens,
            "stages": [{"name": "pretrain", "steps": steps, "steps_total": steps, "tokens": tokens}],
        }
