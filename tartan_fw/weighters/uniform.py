from __future__ import annotations

import torch

from tartan_fw.weighters.base import StaticWeighter, Weighter


@Weighter.register("uniform")
class UniformWeighter(StaticWeighter):
    """Every task weighs ``1 / (n_aux + 1)``: MT-TARTAN (Dery et al., 2022, section 3.1)."""

    def fixed_weights(self, task_names: list[str]) -> torch.Tensor:
        return torch.full((len(task_names),), 1.0 / len(task_names))
