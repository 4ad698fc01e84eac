"""A non-finite loss or gradient skips the step, is counted and logged, and stops a run that keeps producing it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, List

import pytest
import torch
from safetensors.torch import load_file

from tartan_fw.data.root import DataRoot
from tartan_fw.errors import TartanError
from tartan_fw.runner import run_experiment, training_loop
from tartan_fw.models.bodies import Body
from tartan_fw.tasks import AuxTask, MaskedLMTask
from tartan_fw.training import StageLoop

CPU = torch.device("cpu")


@pytest.fixture
def nan_task(registry: Any) -> None:
    @AuxTask.register("nan_mlm")
    class NaNMaskedLM(MaskedLMTask):
        """Masked LM whose loss is NaN on the given optimisation steps (1-based)."""

        def __init__(self, body: Body, data_root: DataRoot, seed: int, name: str, corpus: str, batch_size: int = 4,
                     nan_steps: List[int] = ()) -> None:
            super().__init__(body=body, data_root=data_root, seed=seed, name=name, corpus=corpus, batch_size=batch_size)
            self.nan_steps = set(nan_steps)
            self.steps = 0

        def loss(self, body: Any, batch: Any) -> Any:
            output = super().loss(body, batch)
            if not self.head.training:  # the head check's measurement (eval mode), not an optimisation step
                return output
            self.steps += 1
            if self.steps in self.nan_steps:
                output.total = output.total * float("nan")
            return output


def nan_config(tiny: Any, nan_steps: list[int], weighter: str = "uniform", **trainer: Any) -> dict[str, Any]:
    config = tiny(aux=("tapt",), **trainer)
    config["aux_tasks"][0].update(type="nan_mlm", nan_steps=nan_steps)
    config["weighter"] = {"type": "meta", "meta_batch_size": 4, "dev_batch_size": 5} if weighter == "meta" else {"type": weighter}
    return config


def snapshot(loop: StageLoop) -> list[torch.Tensor]:
    state = [s for group in loop.optimizer.state.values() for s in group.values()]
    return [t.clone() for t in [*loop.run.body.state_dict().values(), *loop.run.end_task.head.state_dict().values(),
                                 *loop.tasks[1].head.state_dict().values(), *state]]


@pytest.mark.parametrize("weighter", ["uniform", "meta"])
def test_a_nonfinite_step_changes_no_parameter_nor_optimiser_state(
    tmp_path: Path, tiny: Any, nan_task: None, weighter: str
) -> None:
    loop = training_loop(nan_config(tiny, [2], weighter), tmp_path)
    loop.step(1)
    assert loop.finite
    before = snapshot(loop)
    losses = loop.step(2)
    assert not loop.finite and torch.isnan(losses["tapt"]) and torch.isfinite(losses["tiny"])
    assert all(torch.equal(a, b) for a, b in zip(before, snapshot(loop)))
    # The learned weighting did not take the NaN in.
    assert torch.isfinite(loop.weighter.weights()).all()
    loop.step(3)
    assert loop.finite and not all(torch.equal(a, b) for a, b in zip(before, snapshot(loop)))


def scalars(directory: Path, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(directory / "tensorboard"))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def test_a_lone_nonfinite_step_is_logged_and_training_goes_on(tmp_path: Path, tiny: Any, nan_task: None) -> None:
    metrics = run_experiment(nan_config(tiny, [2], max_steps=4, max_nonfinite_steps=2), tmp_path / "run", CPU,
                             show_progress=False)
    assert metrics.stages[0].nonfinite_steps == 1 and metrics.steps == 4
    assert scalars(tmp_path / "run", "train/nonfinite_steps") == [(2, 1.0)]
    assert "step 2 (multitask): non-finite loss or gradient, update skipped" in (tmp_path / "run" / "log.txt").read_text()
    assert all(torch.isfinite(t).all() for t in load_file(str(tmp_path / "run" / "best" / "model.safetensors")).values())


def test_consecutive_nonfinite_steps_stop_the_run_and_keep_the_best_checkpoint(
    tmp_path: Path, tiny: Any, nan_task: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    best = tmp_path / "run" / "best" / "model.safetensors"
    digests = []
    original = StageLoop.step

    def step(self: StageLoop, number: int) -> dict[str, torch.Tensor]:
        if number == 2:  # the best checkpoint as step 1's evaluation left it
            digests.append(hashlib.sha256(best.read_bytes()).hexdigest())
        return original(self, number)

    monkeypatch.setattr(StageLoop, "step", step)
    config = nan_config(tiny, [2, 3, 4], eval_every=1, max_nonfinite_steps=3)
    with pytest.raises(TartanError) as stopped:
        run_experiment(config, tmp_path / "run", CPU, show_progress=False)
    message = str(stopped.value)
    assert message.startswith("step 4 (multitask): 3 steps in a row had a non-finite loss or gradient (losses: tiny ")
    assert f"the best checkpoint {best} is intact" in message and "trainer.max_nonfinite_steps" in message
    assert hashlib.sha256(best.read_bytes()).hexdigest() == digests[0]
    assert not (tmp_path / "run" / "metrics.json").exists()
    assert scalars(tmp_path / "run", "train/nonfinite_steps") == [(2, 1.0), (3, 2.0), (4, 3.0)]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["trainer"]["max_nonfinite_steps"] == 3
