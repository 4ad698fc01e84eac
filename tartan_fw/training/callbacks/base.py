"""Policy around the training step: callbacks observe the loop after each step and set its flags.

What changes the update (weighting, skipping a non-finite step) lives in the step; what decides
*when* to evaluate, stop, log or checkpoint lives here. Each callback's state goes into the
resumable checkpoint, so a resumed run takes the same decisions as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from tartan_fw.training.trainer import StageLoop


@dataclass
class Control:
    """Flags callbacks set for the loop: end the stage, or leave the run after a checkpoint."""

    stop: bool = False
    interrupted_by: Optional[int] = None
    status: str = ""  # shown once beside the progress bar


class Callback:
    """One piece of policy; every hook receives the stage loop, whose ``control`` it may set."""

    def on_train_begin(self, loop: "StageLoop") -> None:
        pass

    def on_step_end(self, loop: "StageLoop", step: int) -> None:
        pass

    def on_train_end(self, loop: "StageLoop") -> None:
        """Called even when training raised, to release what ``on_train_begin`` took."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass
