"""What a run cost: tokens, optimisation steps, wall time and an estimate of training FLOPs.

The estimate follows Kaplan et al. (2020): a forward and backward pass costs about
``6 x N x tokens`` FLOPs, with N the body's non-embedding parameters (embedding lookups are not
matrix products). Masked-LM tasks add ``6 x N_lm x masked tokens`` for their vocabulary
projection, which runs on the masked positions only; masked tokens are estimated as
``mask_probability x tokens``. Tokens are the real (unpadded) tokens of the training batches.
Left out, as small or outside training: attention-score FLOPs (``seq_len / (6 x hidden)`` of the
total), classification heads (one hidden-sized vector per example), evaluation passes, and any
passes a weighter makes on its own (META-TARTAN's dev-batch meta-gradients; its wall time shows
them).
"""

from __future__ import annotations

from typing import Iterable

from torch import nn

from tartan_fw.models.heads import MaskedLMHead
from tartan_fw.tasks import MaskedLMTask, Task
from tartan_fw.training.results import Compute, RunMetrics


def non_embedding_parameters(module: nn.Module) -> int:
    """Parameters outside ``nn.Embedding`` layers, each shared parameter counted once."""
    embedded = {id(p) for m in module.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    unique = {id(p): p for p in module.parameters() if id(p) not in embedded}
    return sum(p.numel() for p in unique.values())


def lm_projection_parameters(head: MaskedLMHead) -> int:
    """The masked-LM head's transform and vocabulary projection (the tied decoder counts here)."""
    unique = {id(p): p for p in head.predictions.parameters()}
    return sum(p.numel() for p in unique.values())


def training_compute(body: nn.Module, tasks: Iterable[Task], metrics: RunMetrics) -> Compute:
    """The compute record of a run from its metrics (``tokens`` keyed ``<stage>/<task>``)."""
    by_name = {task.name: task for task in tasks}
    body_parameters = non_embedding_parameters(body)
    flops = 0.0
    for key, count in metrics.tokens.items():
        task = by_name.get(key.split("/", 1)[-1])
        flops += 6.0 * body_parameters * count
        if isinstance(task, MaskedLMTask):
            flops += 6.0 * lm_projection_parameters(task.head) * task.mask_probability * count
    return Compute(body_parameters, sum(metrics.tokens.values()), metrics.steps, metrics.wall_time_s, flops)


def total_compute(records: list[Compute]) -> Compute:
    """Several runs one after another (a pipeline's stages): their counts added up."""
    return Compute(records[-1].body_parameters, sum(r.tokens for r in records), sum(r.steps for r in records),
                   sum(r.wall_time_s for r in records), sum(r.flops for r in records))
