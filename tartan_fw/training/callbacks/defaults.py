"""The built-in callbacks, which every stage runs, and reading checkpoints written before callbacks were registrable.

The built-ins carry the trainer's duties: model selection (``evaluation``) and resumability
(``checkpointing``, and ``interruption``, which asks it for a checkpoint on SIGINT/SIGTERM). So no
config can lose them, ``trainer.callbacks`` adds to them (as AllenNLP's trainer adds its
``callbacks`` to its defaults) and never replaces or reorders them.
"""

from __future__ import annotations

from typing import Any, Optional

from tartan_fw.common.constraints import Constraint
from tartan_fw.common.from_config import Lazy
from tartan_fw.training.callbacks.base import Callback, TrainerState

# Order matters: the guard first (a diverged step is not evaluated), checkpointing last (the
# checkpoint holds every other callback's state after the step, the added ones' included).
BUILT_IN_CALLBACKS = ("nonfinite", "scalars", "evaluation", "progress_lines", "interruption", "checkpointing")

# Checkpoints of earlier versions keyed callback state by class name and kept the stage's
# counters beside it; these map them onto today's layout so such runs still resume.
_LEGACY_NAMES = {"NonFiniteGuard": "nonfinite", "ScalarLogging": "scalars", "Evaluation": "evaluation",
                 "Interruption": "interruption", "Checkpointing": "checkpointing"}


def added_callbacks_problem(value: list[Lazy[Callback]]) -> Optional[str]:
    """``trainer.callbacks``: each callback once (its checkpointed state is keyed by its name), none of the built-ins."""
    names = [Callback.registered_name(lazy.cls) for lazy in value]
    for index, name in enumerate(names):
        if name in BUILT_IN_CALLBACKS:
            return (f"entry {index}, '{name}', is built in and always runs, in this order: "
                    f"{', '.join(BUILT_IN_CALLBACKS)} (added callbacks run before checkpointing); remove it")
        if name in names[:index]:
            return f"entry {index}, '{name}', is listed twice; each callback may appear once (its state is keyed by its name)"
    return None


class AddedCallbacks(Constraint):
    """The declared constraint on ``trainer.callbacks``, whose message names the offending entry."""

    def problem(self, value: list[Lazy[Callback]]) -> Optional[str]:
        return added_callbacks_problem(value)


ADDED_CALLBACKS = AddedCallbacks(lambda value: added_callbacks_problem(value) is None, "none of the built-ins, each once")


def stage_callbacks(added: list[Lazy[Callback]]) -> list[Lazy[Callback]]:
    """The callbacks of every stage, in call order: the built-ins with ``added`` before ``checkpointing``."""
    built_ins = [Lazy(Callback.by_name(name), {}, f"<built-in {name}>") for name in BUILT_IN_CALLBACKS]
    return [*built_ins[:-1], *added, built_ins[-1]]


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
