"""The built-in callback list, and reading checkpoints written before callbacks were registrable."""

from __future__ import annotations

from typing import Any

from tartan_fw.common.from_config import Lazy
from tartan_fw.training.callbacks.base import Callback, TrainerState

# Order matters: the guard first (a diverged step is not evaluated), checkpointing last (the
# checkpoint holds every other callback's state after the step).
DEFAULT_CALLBACKS = ("nonfinite", "scalars", "evaluation", "progress_lines", "interruption", "checkpointing")

# Checkpoints of earlier versions keyed callback state by class name and kept the stage's
# counters beside it; these map them onto today's layout so such runs still resume.
_LEGACY_NAMES = {"NonFiniteGuard": "nonfinite", "ScalarLogging": "scalars", "Evaluation": "evaluation",
                 "Interruption": "interruption", "Checkpointing": "checkpointing"}


def default_callbacks() -> list[Lazy[Callback]]:
    return [Lazy(Callback.by_name(name), {}, f"trainer.callbacks[{index}]") for index, name in enumerate(DEFAULT_CALLBACKS)]


def legacy_callback_state(state: dict[str, Any], fresh: TrainerState) -> dict[str, Any]:
    """An earlier version's checkpoint state in today's layout (``trainer_state``, callbacks by name)."""
    callbacks = {_LEGACY_NAMES[name]: value for name, value in state["callbacks"].items()}
    evaluation, guard = callbacks["evaluation"], callbacks["nonfinite"]
    trainer_state = {
        **fresh.state_dict(), "steps_done": state["steps_done"], "stopped_early": state["stopped"],
        "tokens": dict(state["tokens"]), "best_score": evaluation["best"], "best_step": evaluation["best_step"],
        "best_dev": evaluation["best_dev"], "nonfinite_steps": guard["total"],
    }
    callbacks["evaluation"] = {"bad_evaluations": evaluation["bad_evaluations"]}
    callbacks["nonfinite"] = {"consecutive": guard["consecutive"]}
    return {**state, "trainer_state": trainer_state, "callbacks": callbacks}
