"""Continued pretraining (TAPT, DAPT): the auxiliary tasks alone, then the body is saved for a later stage."""

from __future__ import annotations

import dataclasses
from typing import Optional

from tartan_fw.common.constraints import NonNegativeFloat, PositiveFloat, PositiveInt, WarmupFraction
from tartan_fw.errors import ConfigurationError
from tartan_fw.models.heads import MaskedLMHead
from tartan_fw.training.body_weights import save_body
from tartan_fw.training.precision import Precision
from tartan_fw.training.results import RunMetrics
from tartan_fw.training.stage import Stage
from tartan_fw.training.head_warmup import HeadCheck, check_heads, head_report
from tartan_fw.training.trainer import (
    AddedCallbackList, CheckpointEvery, GradNorm, Run, TartanTrainer, Trainer, warmed_losses,
)


@Trainer.register("pretrain")
class PretrainTrainer(TartanTrainer):
    """Task-agnostic continued pretraining (Gururangan et al., 2020): the baseline TARTAN replaces.

    Trains the body on the auxiliary tasks only (mixed by the weighter, uniform by default) for
    ``max_steps`` steps, with no end-task head and no evaluation, and writes ``body.safetensors``
    into the run directory: the body, and the first masked-LM task's head so that a chained stage
    (DAPT then TAPT) continues with it. A pipeline's next stage starts from that file. The loop is
    the ``tartan`` trainer's, so an interrupted stage resumes from its checkpoint like any run.

    Args:
        max_steps: optimisation steps.
        lr: peak learning rate of the body and the masked-LM heads (linear warmup, then decay).
        weight_decay, warmup_fraction, max_grad_norm, accumulation_steps, log_every: as in ``tartan``.
        checkpoint_every, max_nonfinite_steps, compile, head_warmup_steps, head_warmup_lr: as in ``tartan``.
        precision, callbacks: as in ``tartan``.
    """

    def __init__(
        self,
        max_steps: PositiveInt = 1000,
        lr: PositiveFloat = 1e-4,
        weight_decay: NonNegativeFloat = 0.01,
        warmup_fraction: WarmupFraction = 0.06,
        max_grad_norm: Optional[GradNorm] = 1.0,
        accumulation_steps: PositiveInt = 1,
        log_every: PositiveInt = 10,
        checkpoint_every: Optional[CheckpointEvery] = 500,
        max_nonfinite_steps: PositiveInt = 5,
        compile: bool = False,
        head_warmup_steps: Optional[PositiveInt] = 200,
        head_warmup_lr: PositiveFloat = 1e-3,
        precision: Precision = "auto",
        callbacks: Optional[AddedCallbackList] = None,
    ) -> None:
        super().__init__(
            max_steps=max_steps, body_lr=lr, head_lr=lr, weight_decay=weight_decay, warmup_fraction=warmup_fraction,
            max_grad_norm=max_grad_norm, accumulation_steps=accumulation_steps, log_every=log_every,
            checkpoint_every=checkpoint_every, max_nonfinite_steps=max_nonfinite_steps, compile=compile,
            head_warmup_steps=head_warmup_steps, head_warmup_lr=head_warmup_lr, precision=precision,
            callbacks=callbacks,
        )
        self.schedule = dataclasses.replace(self.schedule, eval_every=None, patience=None)

    def stages(self, run: Run, checks: Optional[list[HeadCheck]] = None) -> list[Stage]:
        if not run.aux_tasks:
            raise ConfigurationError(["aux_tasks: trainer 'pretrain' needs at least one auxiliary task to train on"])
        return [*self.warmup_stages(run, checks), Stage("pretrain", run.aux_tasks, run.weighter, self.schedule)]

    def fit(self, run: Run) -> RunMetrics:
        checks = check_heads(run)
        progress = self.train_stages(run, checks)
        lm_head = next((t.head.predictions for t in run.aux_tasks if isinstance(t.head, MaskedLMHead)), None)
        if run.parallel.is_main:
            save_body(run.body, run.files.pretrained_body, lm_head)
        stage = progress.completed[-1]
        return RunMetrics(run.end_task.metric, best_dev={}, best_step=None, test={}, steps=stage.steps_total,
                          wall_time_s=progress.elapsed(), tokens=stage.tokens, stages=progress.completed,
                          mlm_heads=head_report(checks, warmed_losses(progress.completed)))
