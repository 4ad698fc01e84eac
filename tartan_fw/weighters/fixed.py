from __future__ import annotations

from typing import Annotated, Dict

import torch

from tartan_fw.common.constraints import Constraint, NonNegativeFloat
from tartan_fw.errors import ConfigurationError
from tartan_fw.weighters.base import StaticWeighter, Weighter


NotAllZero = Constraint(lambda weights: sum(weights.values()) > 0, "not all zero")


@Weighter.register("fixed")
class FixedWeighter(StaticWeighter):
    """Weights given per task name, held fixed (e.g. the end-task weighted above the rest).

    Args:
        weights: task name to weight, for every task; normalised to sum to 1.
    """

    def __init__(self, weights: Annotated[Dict[str, NonNegativeFloat], NotAllZero]) -> None:
        self.given = weights

    def check_tasks(self, task_names: list[str]) -> None:
        missing = [name for name in task_names if name not in self.given]
        unknown = [name for name in self.given if name not in task_names]
        if missing or unknown:
            raise ConfigurationError(
                [f"weighter.weights: give one weight per task ({', '.join(task_names)}); "
                 f"missing: {', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'}"]
            )

    def fixed_weights(self, task_names: list[str]) -> torch.Tensor:
        self.check_tasks(task_names)
        raw = torch.tensor([self.given[name] for name in task_names], dtype=torch.float64)
        return (raw / raw.sum()).float()
