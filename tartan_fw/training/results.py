"""What training returns and ``metrics.json`` holds, as typed records (``to_dict`` is the file's layout)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional


@dataclass
class StageResult:
    """One stage's summary; ``best_dev_score`` is None when the stage never evaluated."""

    name: str
    steps: int
    steps_total: int  # steps of this stage and the ones before
    best_dev: dict[str, float]
    best_dev_score: Optional[float]
    best_step: int
    stopped_early: bool
    nonfinite_steps: int
    tokens: dict[str, int]  # keyed ``<stage>/<task>``
    head_losses: dict[str, float] = field(default_factory=dict)  # a head warm-up's sample losses at its end

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Compute:
    """What a run cost (``training/compute.py`` explains the FLOPs estimate)."""

    body_parameters: int
    tokens: int
    steps: int
    wall_time_s: float
    flops: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StageSummary:
    """A pipeline stage's headline numbers, listed in the pipeline's metrics."""

    name: str
    best_dev: dict[str, float]
    best_step: Optional[int]
    test: dict[str, float]
    steps: int
    wall_time_s: float
    tokens: dict[str, int]
    compute: Compute

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunMetrics:
    """A finished run: the headline ``metric``, the best dev scores and the test scores at that checkpoint.

    ``best_dev``, ``best_step`` and ``test`` are empty (None) for a ``pretrain`` run, which does not
    evaluate. A pipeline's are its last stage's, with every stage in ``pipeline`` and ``compute``
    summed over them.
    """

    metric: str
    best_dev: dict[str, float]
    best_step: Optional[int]
    test: dict[str, float]
    steps: int
    wall_time_s: float
    tokens: dict[str, int]
    stages: list[StageResult]
    compute: Optional[Compute] = None
    pipeline: list[StageSummary] = field(default_factory=list)
    # What tells a real result from a trivial one (training/metrics.py); empty for pretrain runs
    # and runs made before they were recorded.
    majority_baseline: dict[str, Any] = field(default_factory=dict)  # per split: always the top train label
    dev_report: dict[str, Any] = field(default_factory=dict)  # per-class scores and confusion matrix
    test_report: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    precision: Optional[str] = None  # what the passes computed in, 'bf16' or 'fp32'; None: not recorded
    # Per masked-LM task: its head's sample loss before training and after the warm-up, and whether it
    # was trained to begin with (training/head_warmup.py).
    mlm_heads: dict[str, Any] = field(default_factory=dict)
    # The dev and test rows whose text is in train (data/check.py's Overlap per split: rows, in_train,
    # same_label, unseen) and the selected model's scores on the other rows ({} where there are none);
    # empty for runs made before they were recorded. ``selected_on``: the dev rows the model was selected on.
    train_overlap: dict[str, Any] = field(default_factory=dict)
    dev_unseen: dict[str, float] = field(default_factory=dict)
    test_unseen: dict[str, float] = field(default_factory=dict)
    selected_on: str = "dev"

    def to_dict(self) -> dict[str, Any]:
        """The ``metrics.json`` layout (``pipeline`` only for pipelines)."""
        result = asdict(self)
        if not self.pipeline:
            del result["pipeline"]
        return result

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunMetrics":
        return cls(**{
            **values,
            "stages": [StageResult(**s) for s in values["stages"]],
            "compute": Compute(**values["compute"]) if values.get("compute") else None,
            "pipeline": [StageSummary(**{**s, "compute": Compute(**s["compute"])}) for s in values.get("pipeline", [])],
        })

    def summary(self, name: str) -> StageSummary:
        assert self.compute is not None, "a finished run has its compute"
        return StageSummary(name, self.best_dev, self.best_step, self.test, self.steps, self.wall_time_s, self.tokens,
                            self.compute)
