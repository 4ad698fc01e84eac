"""Callbacks: configured in ``trainer.callbacks``, called in the documented order, steering the loop
only through its control, and resumed from their state, which checkpoints key by registered name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import without_wall_time

from tartan_fw.errors import TartanError
from tartan_fw.runner import run_experiment
from tartan_fw.pipeline import validate_config
from tartan_fw.training import StageLoop
from tartan_fw.training.callbacks import Callback, Loop
from tartan_fw.training.callbacks.defaults import BUILT_IN_CALLBACKS
from tartan_fw.training.checkpoint import TrainingCheckpoint

CPU = torch.device("cpu")


def with_callbacks(config: dict[str, Any], *added: dict[str, Any]) -> dict[str, Any]:
    """``config`` with ``added`` callbacks, which run after the built-ins and before checkpointing."""
    config["trainer"]["callbacks"] = list(added)
    return config


@pytest.fixture
def recorder(registry: Any) -> list[tuple[Any, ...]]:
    """A ``recorder`` callback appending every event it sees, and a ``stepcount`` one that keeps a count."""
    events: list[tuple[Any, ...]] = []

    @Callback.register("recorder")
    class Recorder(Callback):
        def on_train_begin(self, loop: Loop) -> None:
            events.append(("begin", loop.state.stage, loop.state.global_step))

        def on_step_end(self, loop: Loop) -> None:
            events.append(("step", loop.state.stage, loop.state.global_step))

        def on_evaluate(self, loop: Loop) -> None:
            result = loop.last_evaluation
            events.append(("evaluate", result.split, loop.state.global_step, result.metrics["macro_f1"]))

        def on_train_end(self, loop: Loop) -> None:
            events.append(("end", loop.state.stage, loop.state.global_step))

    @Callback.register("stepcount")
    class StepCount(Callback):
        def __init__(self) -> None:
            self.count = 0

        def on_step_end(self, loop: Loop) -> None:
            self.count += 1
            events.append(("count", self.count))

        def state_dict(self) -> dict[str, Any]:
            return {"count": self.count}

        def load_state_dict(self, state: dict[str, Any]) -> None:
            self.count = state["count"]

    return events


def test_events_arrive_in_the_documented_order(tiny: Any, tmp_path: Path, recorder: list) -> None:
    finetune = {"max_steps": 2, "eval_every": 2}
    config = with_callbacks(tiny(aux=("tapt",), max_steps=4, eval_every=2, finetune=finetune), {"type": "recorder"})
    metrics = run_experiment(config, tmp_path / "run", CPU, show_progress=False)
    events = [e if e[0] != "evaluate" else e[:3] for e in recorder]
    assert events == [
        ("begin", "multitask", 0), ("step", "multitask", 1), ("evaluate", "dev", 2), ("step", "multitask", 2),
        ("step", "multitask", 3), ("evaluate", "dev", 4), ("step", "multitask", 4), ("end", "multitask", 4),
        ("begin", "finetune", 4), ("step", "finetune", 5), ("evaluate", "dev", 6), ("step", "finetune", 6),
        ("end", "finetune", 6),
    ]
    # on_evaluate sees the scores the evaluation callback selects the best model on.
    scores = {e[2]: e[3] for e in recorder if e[0] == "evaluate"}
    assert metrics.best_dev["macro_f1"] == max(scores.values())


def test_checkpoints_key_callback_state_by_registered_name_and_resume_it(
    tiny: Any, tmp_path: Path, recorder: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = with_callbacks(tiny(aux=("tapt",), max_steps=4, eval_every=2, checkpoint_every=2), {"type": "stepcount"})
    reference = run_experiment(config, tmp_path / "reference", CPU, show_progress=False)
    original = StageLoop.step

    def killed_at_3(self: StageLoop, step: int) -> dict[str, torch.Tensor]:
        if step == 3:
            raise RuntimeError("killed")
        return original(self, step)

    monkeypatch.setattr(StageLoop, "step", killed_at_3)
    with pytest.raises(RuntimeError, match="killed"):
        run_experiment(config, tmp_path / "run", CPU, show_progress=False)
    _, state = TrainingCheckpoint(tmp_path / "run" / "checkpoint").load()
    assert list(state["callbacks"]) == ["nonfinite", "scalars", "evaluation", "progress_lines", "interruption",
                                        "stepcount", "checkpointing"]
    assert state["callbacks"]["stepcount"] == {"count": 2} and state["trainer_state"]["steps_done"] == 2

    monkeypatch.setattr(StageLoop, "step", original)
    recorder.clear()
    resumed = run_experiment(config, tmp_path / "run", CPU, show_progress=False, resume=True)
    assert recorder == [("count", 3), ("count", 4)]  # the count went on from the checkpoint's
    assert without_wall_time(resumed.to_dict()) == without_wall_time(reference.to_dict())


def to_earlier_layout(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint state as versions before registrable callbacks wrote it: callback state under
    class names, the stage's counters at the top level and in the callbacks."""
    progress, callbacks = state["trainer_state"], state["callbacks"]
    earlier = {key: value for key, value in state.items() if key not in ("trainer_state", "callbacks")}
    earlier.update(steps_done=progress["steps_done"], stopped=progress["stopped_early"], tokens=progress["tokens"])
    earlier["callbacks"] = {
        "NonFiniteGuard": {"consecutive": callbacks["nonfinite"]["consecutive"], "total": progress["nonfinite_steps"]},
        "ScalarLogging": {},
        "Evaluation": {"best": progress["best_score"], "best_step": progress["best_step"],
                       "best_dev": progress["best_dev"], "bad_evaluations": callbacks["evaluation"]["bad_evaluations"]},
        "Interruption": {},
        "Checkpointing": {},
    }
    return earlier


def test_a_checkpoint_of_the_earlier_layout_still_resumes(
    tiny: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tiny(aux=("tapt",), max_steps=4, eval_every=2, checkpoint_every=2, patience=5)
    reference = run_experiment(config, tmp_path / "reference", CPU, show_progress=False)
    original = StageLoop.step

    def killed_at_4(self: StageLoop, step: int) -> dict[str, torch.Tensor]:
        if step == 4:
            raise RuntimeError("killed")
        return original(self, step)

    monkeypatch.setattr(StageLoop, "step", killed_at_4)
    with pytest.raises(RuntimeError, match="killed"):
        run_experiment(config, tmp_path / "run", CPU, show_progress=False)
    checkpoint = TrainingCheckpoint(tmp_path / "run" / "checkpoint")
    tensors, state = checkpoint.load()
    checkpoint.save(tensors, to_earlier_layout(state), checkpoint.global_step())

    monkeypatch.setattr(StageLoop, "step", original)
    resumed = run_experiment(config, tmp_path / "run", CPU, show_progress=False, resume=True)
    assert without_wall_time(resumed.to_dict()) == without_wall_time(reference.to_dict())
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["best_step"] == reference.best_step


def test_a_callback_steers_the_loop_through_its_control(tiny: Any, tmp_path: Path, registry: Any) -> None:
    @Callback.register("stop_at_3")
    class StopAt3(Callback):
        def on_step_end(self, loop: Loop) -> None:
            loop.control.should_stop_stage = loop.state.steps_done == 3

    @Callback.register("fail_at_3")
    class FailAt3(Callback):
        def on_step_end(self, loop: Loop) -> None:
            if loop.state.steps_done == 3:
                loop.control.error = TartanError("step 3: failed on purpose")

    stopped = run_experiment(with_callbacks(tiny(aux=("tapt",)), {"type": "stop_at_3"}), tmp_path / "stopped", CPU,
                             show_progress=False)
    assert stopped.steps == 3 and stopped.stages[0].stopped_early  # of 6

    config = with_callbacks(tiny(aux=("tapt",), checkpoint_every=1), {"type": "fail_at_3"})
    with pytest.raises(TartanError, match="step 3: failed on purpose"):
        run_experiment(config, tmp_path / "failed", CPU, show_progress=False)
    # The error ended step 3 at once: checkpointing, after the failing callback, did not see it.
    assert TrainingCheckpoint(tmp_path / "failed" / "checkpoint").global_step() == 2


def test_callback_lists_are_checked_by_validate(tiny: Any, registry: Any) -> None:
    @Callback.register("noop")
    class Noop(Callback):
        pass

    repeated = with_callbacks(tiny(), {"type": "noop"}, {"type": "noop"})
    assert validate_config(repeated) == [
        "trainer.callbacks: entry 1, 'noop', is listed twice; each callback may appear once (its state is keyed by "
        "its name)"]
    typo = with_callbacks(tiny(), {"type": "evaluaton"})
    assert any("trainer.callbacks[0].type: unknown callback 'evaluaton' (did you mean 'evaluation'?" in p
               for p in validate_config(typo))


@pytest.mark.parametrize("built_in", BUILT_IN_CALLBACKS)
def test_no_config_can_drop_or_reorder_a_built_in_callback(tiny: Any, built_in: str) -> None:
    """Model selection and resumability live in built-in callbacks: listing one (as a list that replaced them
    once had to) is refused by validate, so a config can neither lose them nor run checkpointing early."""
    problems = validate_config(with_callbacks(tiny(), {"type": built_in}))
    assert problems == [f"trainer.callbacks: entry 0, '{built_in}', is built in and always runs, in this order: "
                        f"{', '.join(BUILT_IN_CALLBACKS)} (added callbacks run before checkpointing); remove it"]


def test_added_callbacks_run_with_every_built_in(tiny: Any, tmp_path: Path, recorder: list) -> None:
    config = with_callbacks(tiny(max_steps=2, eval_every=2), {"type": "recorder"})
    run_experiment(config, tmp_path / "run", CPU, show_progress=False)
    assert (tmp_path / "run" / "best" / "model.safetensors").exists()  # evaluation kept the best model
    assert ("evaluate", "dev", 2) in [e[:3] for e in recorder]


def test_the_interruption_message_says_what_was_written(tiny: Any, tmp_path: Path) -> None:
    from tartan_fw.runner import training_loop

    loop = training_loop(tiny(max_steps=4), tmp_path)
    loop.state.steps_done = 3
    assert "no checkpoint was written, so a resume starts the run from the beginning" in str(loop._interrupted(2))
    loop.run.checkpoint.save(*loop.checkpoint_state(), 2)
    assert (f"stopped after step 3 (multitask); the last checkpoint, in {tmp_path / 'checkpoint'}, is of step 2, "
            f"so a resume redoes the steps after it; continue with: tartan-fw resume {tmp_path}") in str(loop._interrupted(2))
    loop.run.checkpoint.save(*loop.checkpoint_state(), 3)
    assert f"SIGINT received: stopped after step 3 (multitask) with a checkpoint in {tmp_path / 'checkpoint'};" in str(
        loop._interrupted(2))


@pytest.mark.parametrize("how", ["set_to_none", "replaced"])
def test_a_callback_that_detaches_gradients_from_the_buffers_fails_the_run(
    tiny: Any, tmp_path: Path, registry: Any, how: str
) -> None:
    @Callback.register("detacher")
    class Detacher(Callback):
        def on_step_end(self, loop: Loop) -> None:
            if how == "set_to_none":
                loop.optimizer.zero_grad(set_to_none=True)
            else:
                head = loop.run.end_task.head
                parameter = next(head.parameters())
                parameter.grad = torch.zeros_like(parameter)

    config = with_callbacks(tiny(max_steps=3, checkpoint_every=1), {"type": "detacher"})
    with pytest.raises(TartanError, match=r"^callback 'detacher' \(on_step_end, step 1\): a parameter's gradient or "
                                          r"data is no longer the trainer's buffer"):
        run_experiment(config, tmp_path / "run", CPU, show_progress=False)
    assert not (tmp_path / "run" / "checkpoint").exists()  # the step's checkpoint never held the damage
