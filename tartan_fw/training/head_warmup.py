"""Masked-LM heads fitted before they steer the body, when the body came without a trained one.

A masked-LM task's gradient reaches the body through its head. An encoder shipped without its
pretraining head (all-MiniLM-L6-v2, most sentence encoders) gets a random one, and for the first
hundreds of steps that head's gradient tells the body to serve a random projection: masked-LM then
damages the body it is meant to help. The paper's bodies (roberta-base) came with their heads. So
each head is measured first (``MaskedLMTask.sample_loss``: an untrained head scores about
ln(vocabulary)) and the untrained ones are fitted with the body frozen for a few hundred steps: a
forward of the body without gradients and the head's own backward, about a third of a masked-LM step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from tartan_fw.tasks import MaskedLMTask
from tartan_fw.training.logging import journal
from tartan_fw.training.stage import Schedule, Stage
from tartan_fw.weighters import UniformWeighter

if TYPE_CHECKING:
    from tartan_fw.training.trainer import Run

STAGE = "head_warmup"
# A head whose sample loss is above half of ln(vocabulary) predicts little better than a uniform
# guess (ln(vocabulary)); a pretrained head scores far below (BERT-like encoders: 1.5-3 nats).
TRAINED_BELOW = 0.5


@dataclass
class HeadCheck:
    """One masked-LM head's sample loss before training, against a uniform guess's."""

    task: str
    loss: float
    uniform_loss: float

    @property
    def trained(self) -> bool:
        return self.loss < TRAINED_BELOW * self.uniform_loss


def check_heads(run: "Run") -> list[HeadCheck]:
    """Every masked-LM task's head, measured on its fixed sample."""
    return [HeadCheck(task.name, task.sample_loss(run.body, run.device, run.autocast), math.log(task.vocab_size))
            for task in run.aux_tasks if isinstance(task, MaskedLMTask)]


def warmup_stage(run: "Run", checks: list[HeadCheck], steps: Optional[int], lr: float) -> Optional[Stage]:
    """The stage that fits the untrained heads with the body frozen; None when every head is trained,
    ``steps`` is None (off) or the body is itself random (nothing to fit a head to: heads and body
    learn together). Says in the log what it found either way."""
    for check in checks:
        journal.info("masked-LM head %s: loss %.3f per masked token on a fixed sample (a uniform guess: %.3f): %s",
                     check.task, check.loss, check.uniform_loss, "trained" if check.trained else "untrained")
    untrained = {check.task for check in checks if not check.trained}
    if untrained and not run.body.pretrained:
        journal.info("body initialised at random: its masked-LM heads train along with it, no head warm-up")
        return None
    if not untrained or steps is None:
        if untrained:
            journal.info("head warm-up off (trainer.head_warmup_steps null): untrained heads steer the body from the start")
        return None
    journal.info("fitting the head%s of %s for %d steps with the body frozen before training",
                 "s" if len(untrained) > 1 else "", ", ".join(sorted(untrained)), steps)
    tasks = [task for task in run.aux_tasks if task.name in untrained]
    schedule = Schedule(steps, body_lr=lr, head_lr=lr, warmup_fraction=0.06, eval_every=None, patience=None)
    return Stage(STAGE, tasks, UniformWeighter(), schedule, frozen_body=True)


def first_training_stage(stages: list[Stage]) -> Stage:
    """The first stage that trains the body, after any head warm-up: what tools that drive one stage step by
    step want."""
    return next(stage for stage in stages if stage.name != STAGE)


def head_report(checks: list[HeadCheck], after: dict[str, float]) -> dict[str, Any]:
    """``metrics.json``'s ``mlm_heads``: each head's loss before training, after the warm-up (when it had one)."""
    return {check.task: {"loss_before": check.loss, "uniform_loss": check.uniform_loss, "trained": check.trained,
                         "loss_after_warmup": after.get(check.task)} for check in checks}
