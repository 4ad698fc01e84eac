"""tools/meta_signal.py measures with the weighter's own code: at initialisation its first draw is training's step 1."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from tartan_fw.runner import run_experiment

TOOL = Path(__file__).resolve().parents[1] / "tools" / "meta_signal.py"


def load_tool() -> Any:
    spec = importlib.util.spec_from_file_location("meta_signal", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def logged_cosines(directory: Path, tasks: list[str], step: int) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(directory / "tensorboard"))
    events.Reload()
    return [next(e.value for e in events.Scalars(f"cosine/{task}") if e.step == step) for task in tasks]


def test_first_draw_at_initialisation_reproduces_the_cosines_of_step_one(tmp_path: Path, tiny: Any) -> None:
    config = tiny(max_steps=3, eval_every=3, checkpoint_every=2)
    config["weighter"] = {"type": "meta", "meta_batch_size": 4, "dev_batch_size": 4}
    run_experiment(config, tmp_path / "run", torch.device("cpu"), show_progress=False)
    tool = load_tool()

    at_init = tool.measure(tmp_path / "run", batches=2, at_init=True)
    tasks = list(at_init["tasks"])
    assert tasks == ["tiny", "tapt", "dapt"] and at_init["step"] == 0
    assert at_init["draws"]["dev"][0] == pytest.approx(logged_cosines(tmp_path / "run", tasks, 1), abs=1e-5)

    trained = tool.measure(tmp_path / "run", batches=2, at_init=False)
    assert trained["step"] == 2  # the last checkpoint
    for values in trained["tasks"].values():
        assert all(-1 <= values[source]["mean"] <= 1 and values[source]["se"] >= 0 for source in tool.SOURCES)
    for task, differences in trained["differences"].items():  # paired: per draw, against the dev source
        for source, difference in differences.items():
            per_draw = [row[tasks.index(task)] - base[tasks.index(task)]
                        for row, base in zip(trained["draws"][source], trained["draws"]["dev"])]
            assert difference["mean"] == pytest.approx(sum(per_draw) / len(per_draw))


def test_task_gradients_are_the_trainers_own(tmp_path: Path, tiny: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tool takes each task's gradient by the trainer's code path, gradient accumulation included, bit for bit."""
    from tartan_fw.runner import training_loop

    config = tiny(max_steps=3, accumulation_steps=2)
    trained = training_loop(config, tmp_path / "trained")
    received: list[torch.Tensor] = []

    def add(gradient: Any, original: Any = trained.mixer.add) -> Any:
        received.append(gradient.body_grad.clone())
        return original(gradient)

    monkeypatch.setattr(trained.mixer, "add", add)
    trained.step(1)
    fresh = training_loop(config, tmp_path / "fresh")
    measured = [load_tool().task_gradient(fresh, index).body_grad for index in range(len(fresh.tasks))]
    assert len(measured) == len(received) == 3
    assert all(torch.equal(m, r) and r.abs().sum() > 0 for m, r in zip(measured, received))
    assert not torch.equal(measured[0], measured[1])  # kept copies, not the loop's reused buffer


def test_a_finished_run_without_a_checkpoint_is_measured_on_its_best_model(tmp_path: Path, tiny: Any) -> None:
    config = tiny(max_steps=3, eval_every=3, checkpoint_every=None)
    config["weighter"] = {"type": "meta", "meta_batch_size": 4, "dev_batch_size": 4}
    run_experiment(config, tmp_path / "run", torch.device("cpu"), show_progress=False)
    assert not (tmp_path / "run" / "checkpoint").exists()
    tool = load_tool()
    loaded: dict = {}
    original = tool.load_end_task_model
    tool.load_end_task_model = lambda body, head, path: (loaded.update(path=path), original(body, head, path))

    result = tool.measure(tmp_path / "run", batches=2, at_init=False)
    assert loaded["path"] == tmp_path / "run" / "best" / "model.safetensors"
    assert result["step"] == json.loads((tmp_path / "run" / "metrics.json").read_text())["best_step"]

    shutil.rmtree(tmp_path / "run" / "best")
    failed = subprocess.run([sys.executable, str(TOOL), str(tmp_path / "run"), "--batches", "2"],
                            capture_output=True, text=True)
    assert failed.returncode != 0
    assert failed.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'run'}: neither a checkpoint/ nor a best model to measure; pass a run that trained, "
        f"or --at-init"
    ]
