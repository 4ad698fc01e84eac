"""Resuming: a run stopped by a signal or killed ends exactly as an uninterrupted one; checkpoints are atomic."""

from __future__ import annotations

import errno
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from conftest import tiny_config, without_wall_time, write_tiny_task
from safetensors.torch import load_file

from tartan_fw.cli.main import cli
from tartan_fw.errors import StorageError, TartanError, TrainingInterrupted
from tartan_fw.run_lifecycle import check_resumable
from tartan_fw.runner import run_experiment
from tartan_fw.training import checkpoint as checkpoint_module
from tartan_fw.training.checkpoint import TrainingCheckpoint
from tartan_fw.training.trainer import StageLoop

CPU = torch.device("cpu")


@pytest.fixture(scope="module", params=["fp32", "bf16"])
def reference(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> tuple[dict[str, Any], Path]:
    """Multitask steps 1-4, then fine-tuning steps 5-6, a checkpoint every other step; run once, uninterrupted.

    In both precisions: bf16 autocast must resume as exactly as fp32 (its casts are deterministic too).
    """
    root = tmp_path_factory.mktemp("resume")
    write_tiny_task(root / "data")
    finetune = {"max_steps": 2, "eval_every": 1, "body_lr": 1e-3, "head_lr": 1e-3}
    config = tiny_config(root / "data", max_steps=4, eval_every=2, checkpoint_every=2, finetune=finetune,
                         precision=request.param)
    with pytest.MonkeyPatch.context() as patch:  # the cache the function-scoped fixtures use
        patch.setenv("TARTAN_CACHE", os.environ.get("TARTAN_CACHE", str(tmp_path_factory.getbasetemp() / "cache")))
        run_experiment(config, root / "reference", CPU, show_progress=False)
    return config, root / "reference"


def after_step(monkeypatch: pytest.MonkeyPatch, action: Any, stages: tuple[str, ...] = ("multitask", "finetune")) -> None:
    """Calls ``action(global_step)`` at the end of every optimisation step of ``stages`` (inside the step)."""
    original = StageLoop.step

    def step(self: StageLoop, step: int) -> dict[str, torch.Tensor]:
        losses = original(self, step)
        if self.name in stages:
            action(self.state.first_step + step)
        return losses

    monkeypatch.setattr(StageLoop, "step", step)


def resume_in_a_new_second(arguments: list[str]) -> Any:
    """Run the CLI once the clock's second has changed.

    TensorBoard reads a run's event files in name order, and a name is the start second, the
    process id and a per-process counter: sessions of one test process started within one second
    would sort by that counter as text ("10" before "9"), and replay the purge of a resume out of
    order. Separate processes, as in real use, differ in process id and start time anyway.
    """
    time.sleep(1.0 - time.time() % 1.0 + 0.01)
    return CliRunner().invoke(cli, arguments)


def scalars(directory: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(directory / "tensorboard"))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def assert_same_run(resumed: Path, reference: Path) -> None:
    """Same metrics, same best model, same final weights and optimiser state, same logged curves."""
    metrics = json.loads((resumed / "metrics.json").read_text())
    assert without_wall_time(metrics) == without_wall_time(json.loads((reference / "metrics.json").read_text()))
    for name in ("best/model.safetensors",):
        ours, theirs = load_file(str(resumed / name)), load_file(str(reference / name))
        assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    (ours, our_state), (theirs, their_state) = (TrainingCheckpoint(d / "checkpoint").load() for d in (resumed, reference))
    assert our_state["trainer_state"]["steps_done"] == their_state["trainer_state"]["steps_done"] == 2
    assert our_state["stage"] == "finetune"
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    for mine, other in zip(our_state["optimizer"]["state"].values(), their_state["optimizer"]["state"].values()):
        assert all(torch.equal(mine[k], other[k]) for k in mine)
    assert scalars(resumed) == scalars(reference)


def test_signals_stop_with_a_checkpoint_and_resume_ends_like_an_uninterrupted_run(
    tmp_path: Path, reference: tuple[dict[str, Any], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, reference_dir = reference
    after_step(monkeypatch, lambda step: step in (3, 5) and signal.raise_signal(signal.SIGINT))
    interrupted = tmp_path / "interrupted"
    with pytest.raises(TrainingInterrupted, match=f"tartan-fw resume {interrupted}") as stop:
        run_experiment(config, interrupted, CPU, show_progress=False)
    assert stop.value.exit_code == 130
    assert TrainingCheckpoint(interrupted / "checkpoint").global_step() == 3  # not a periodic one
    assert not (interrupted / "metrics.json").exists()

    # Second interruption in the fine-tuning stage, through the CLI; then the resume that finishes.
    stopped = resume_in_a_new_second(["resume", str(interrupted), "--device", "cpu", "--quiet"])
    assert stopped.exit_code == 130, stopped.output
    assert "SIGINT received: stopped after step 5 (finetune)" in stopped.output
    finished = resume_in_a_new_second(["resume", str(interrupted), "--device", "cpu", "--quiet"])
    assert finished.exit_code == 0, finished.output
    assert_same_run(interrupted, reference_dir)


def test_slurms_signals_repeated_stop_once_with_a_checkpoint_and_resume_alike(
    tmp_path: Path, reference: tuple[dict[str, Any], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGUSR2 (submitit's) or SIGUSR1 before a time limit reaches every process of the job, and the sweep's job
    passes it on: a repeat is no second Ctrl-C."""
    config, reference_dir = reference
    pending = [3]  # the first session only

    def repeated(step: int) -> None:
        if pending and step == pending[0]:
            pending.pop()
            signal.raise_signal(signal.SIGUSR2)
            signal.raise_signal(signal.SIGUSR1)

    after_step(monkeypatch, repeated)
    interrupted = tmp_path / "interrupted"
    with pytest.raises(TrainingInterrupted, match="SIGUSR2 received: stopped after step 3") as stop:
        run_experiment(config, interrupted, CPU, show_progress=False)
    assert stop.value.exit_code == 128 + signal.SIGUSR2
    assert TrainingCheckpoint(interrupted / "checkpoint").global_step() == 3
    finished = resume_in_a_new_second(["resume", str(interrupted), "--device", "cpu", "--quiet"])
    assert finished.exit_code == 0, finished.output
    assert_same_run(interrupted, reference_dir)


def test_a_killed_run_resumes_from_its_last_periodic_checkpoint(
    tmp_path: Path, reference: tuple[dict[str, Any], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, reference_dir = reference
    kills = [4]  # step 3 was logged after the checkpoint of step 2: TensorBoard must drop it

    def kill(step: int) -> None:
        if kills and step == kills[0]:
            kills.pop()
            raise RuntimeError("killed")

    after_step(monkeypatch, kill)
    killed = tmp_path / "killed"
    with pytest.raises(RuntimeError, match="killed"):
        run_experiment(config, killed, CPU, show_progress=False)
    assert TrainingCheckpoint(killed / "checkpoint").global_step() == 2
    as_written_before_formats(killed / "checkpoint")

    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    resumed = resume_in_a_new_second(["run", str(config_file), "-s", str(killed), "--resume", "--device", "cpu", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert_same_run(killed, reference_dir)
    sessions = json.loads((killed / "environment.json").read_text())
    assert [session["event"] for session in sessions] == ["start", "resume"]
    assert sessions[1]["libraries"]["torch"] == torch.__version__ and sessions[1]["threads"] == torch.get_num_threads()


def as_written_before_formats(directory: Path) -> None:
    """The pointer as tartan-fw wrote it before checkpoints recorded their format (they are format 1)."""
    pointer = directory / TrainingCheckpoint.POINTER
    written = json.loads(pointer.read_text())
    assert written.pop("format") == TrainingCheckpoint.FORMAT == 1
    pointer.write_text(json.dumps(written))


def test_a_checkpoint_of_a_newer_format_is_refused_in_one_line(tmp_path: Path) -> None:
    checkpoint_with(1.0, tmp_path, 2)
    pointer = tmp_path / TrainingCheckpoint.POINTER
    pointer.write_text(json.dumps({**json.loads(pointer.read_text()), "format": TrainingCheckpoint.FORMAT + 1}))
    with pytest.raises(TartanError) as refused:
        TrainingCheckpoint(tmp_path).check()
    assert str(refused.value) == (
        f"{pointer}: checkpoint format 2, but this tartan-fw reads format 1 and older; resume with the tartan-fw "
        f"that wrote it (environment.json in the run directory names its version), or start the run again with "
        f"tartan-fw run ... --force")


def test_resume_refuses_finished_runs_changed_configs_and_missing_runs(tmp_path: Path, tiny: Any) -> None:
    config = tiny()
    directory = tmp_path / "run"
    with pytest.raises(TartanError, match="no run to resume"):
        check_resumable(config, directory)
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(config))
    check_resumable(config, directory)
    changed = tiny(max_steps=7)
    with pytest.raises(TartanError, match="differs .* at trainer.max_steps; a run resumes with its own config"):
        check_resumable(changed, directory)
    (directory / "metrics.json").write_text("{}")
    with pytest.raises(TartanError, match="the run has finished"):
        check_resumable(config, directory)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    refused = CliRunner().invoke(cli, ["run", str(config_file), "-s", str(directory), "--quiet"])
    assert refused.exit_code == 2 and "--resume to continue it" in refused.output


def checkpoint_with(value: float, directory: Path, step: int) -> None:
    TrainingCheckpoint(directory).save({"w": torch.full((4,), value)}, {"step": step}, step)


def test_a_checkpoint_write_that_fails_part_way_leaves_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "checkpoint"
    checkpoint_with(1.0, directory, 2)

    def half_written(state: Any, out: Any) -> None:
        out.write(b"\x80\x02half a pickle")
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(checkpoint_module.torch, "save", half_written)
        with pytest.raises(StorageError, match=r"step-4-\S+: cannot write \(No space left on device\)"):
            checkpoint_with(2.0, directory, 4)
    tensors, state = TrainingCheckpoint(directory).load()
    assert torch.equal(tensors["w"], torch.full((4,), 1.0)) and state == {"step": 2}
    assert sorted(p.name for p in directory.iterdir()) == sorted(["latest", TrainingCheckpoint(directory)._pointer()["folder"]])


def test_leftovers_of_a_killed_save_are_ignored_then_removed(tmp_path: Path) -> None:
    directory = tmp_path / "checkpoint"
    checkpoint_with(1.0, directory, 2)
    (directory / ".step-4-x1y2").mkdir()  # a save killed before its rename
    (directory / ".step-4-x1y2" / "model.safetensors").write_bytes(b"partial")
    (directory / ".latest.k3j4").write_text('{"fol')  # a pointer update killed before its rename
    tensors, _ = TrainingCheckpoint(directory).load()
    assert torch.equal(tensors["w"], torch.full((4,), 1.0))
    checkpoint_with(3.0, directory, 6)
    tensors, state = TrainingCheckpoint(directory).load()
    assert torch.equal(tensors["w"], torch.full((4,), 3.0)) and state == {"step": 6}
    assert len(list(directory.iterdir())) == 2


def tapt_then_finetune(tiny: Any, pretrain: dict[str, Any], finetune: dict[str, Any]) -> dict[str, Any]:
    """A two-stage pipeline on the tiny task: TAPT pretraining, then fine-tuning."""
    base = tiny(aux=("tapt",))
    return {
        **{key: base[key] for key in ("data_root", "seed", "body", "end_task")},
        "stages": [
            {"name": "tapt", "aux_tasks": base["aux_tasks"], "trainer": {"type": "pretrain", **pretrain}},
            {"name": "finetune", "trainer": {"type": "tartan", **finetune}},
        ],
    }


def signal_once(at_step: int, number: signal.Signals) -> Any:
    """An ``after_step`` action raising ``number`` at ``at_step`` of the first session only."""
    pending = [at_step]

    def action(step: int) -> None:
        if pending and step == pending[0]:
            pending.pop()
            signal.raise_signal(number)

    return action


def test_a_pipeline_resumes_its_interrupted_stage_and_keeps_the_finished_ones(
    tmp_path: Path, tiny: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tartan_fw.pipeline import run_config

    config = tapt_then_finetune(
        tiny, {"max_steps": 2, "lr": 1e-3}, {"max_steps": 3, "eval_every": 3, "checkpoint_every": None}
    )
    reference = run_config(config, tmp_path / "reference", CPU, show_progress=False)
    after_step(monkeypatch, signal_once(2, signal.SIGTERM), stages=("multitask",))  # the pipeline's second stage
    directory = tmp_path / "pipeline"
    with pytest.raises(TrainingInterrupted, match="SIGTERM received: stopped after step 2 .* with a checkpoint") as stop:
        run_config(config, directory, CPU, show_progress=False)
    assert stop.value.exit_code == 143 and (directory / "tapt" / "metrics.json").exists()
    pretrained = (directory / "tapt" / "body.safetensors").stat().st_mtime_ns
    resumed = resume_in_a_new_second(["resume", str(directory), "--device", "cpu", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert (directory / "tapt" / "body.safetensors").stat().st_mtime_ns == pretrained  # not trained again
    metrics = json.loads((directory / "metrics.json").read_text())
    assert without_wall_time(metrics) == without_wall_time(json.loads(json.dumps(reference.to_dict())))


def test_an_interrupted_pretraining_stage_resumes_to_the_same_body(
    tmp_path: Path, tiny: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tartan_fw.pipeline import run_config

    config = tapt_then_finetune(
        tiny, {"max_steps": 4, "lr": 1e-3, "log_every": 1, "checkpoint_every": None},
        {"max_steps": 2, "eval_every": 2, "checkpoint_every": None},
    )
    run_config(config, tmp_path / "reference", CPU, show_progress=False)
    after_step(monkeypatch, signal_once(2, signal.SIGINT), stages=("pretrain",))
    directory = tmp_path / "pipeline"
    with pytest.raises(TrainingInterrupted, match=r"stopped after step 2 \(pretrain\)"):
        run_config(config, directory, CPU, show_progress=False)
    assert TrainingCheckpoint(directory / "tapt" / "checkpoint").global_step() == 2
    assert not (directory / "tapt" / "body.safetensors").exists()
    resumed = resume_in_a_new_second(["resume", str(directory), "--device", "cpu", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    ours, theirs = (load_file(str(d / "tapt" / "body.safetensors")) for d in (directory, tmp_path / "reference"))
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert scalars(directory / "tapt") == scalars(tmp_path / "reference" / "tapt")
    metrics = json.loads((directory / "metrics.json").read_text())
    assert without_wall_time(metrics) == without_wall_time(json.loads((tmp_path / "reference" / "metrics.json").read_text()))


# A power cut or OOM kill inside a checkpoint write: the process gets SIGKILL after writing part of a file.
DIE_INSIDE_WRITE = """
import os, signal, sys
from pathlib import Path

from tartan_fw.common import files
from tartan_fw.training import checkpoint

prefix, nth = sys.argv[1], int(sys.argv[2])
real, seen = files.write_synced, []


def dying(path, write):
    if Path(path).name.startswith(prefix) and "checkpoint" in Path(path).parts:
        seen.append(path)
        if len(seen) == nth:
            with open(path, "wb") as out:
                out.write(b"\\x00" * 64)
                out.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    real(path, write)


files.write_synced = checkpoint.write_synced = dying
from tartan_fw.cli.main import main

sys.argv = ["tartan-fw", *sys.argv[3:]]
main()
"""


@pytest.mark.parametrize("prefix, nth, resumes_from", [
    ("model.safetensors", 2, 2),  # the step-4 checkpoint's model file, half written
    ("state.pt", 3, 4),  # the fine-tuning stage's checkpoint (step 6), state half written
    (".latest.", 2, 2),  # both files complete and renamed, the pointer not yet
])
def test_sigkill_inside_a_checkpoint_write_resumes_bit_identically(
    tmp_path: Path, reference: tuple[dict[str, Any], Path], prefix: str, nth: int, resumes_from: int
) -> None:
    import subprocess
    import sys

    config, reference_dir = reference
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    killed = tmp_path / "killed"
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.run(
        [sys.executable, "-c", DIE_INSIDE_WRITE, prefix, str(nth), "run", str(config_file), "-s", str(killed),
         "--device", "cpu", "--quiet"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr
    assert TrainingCheckpoint(killed / "checkpoint").global_step() == resumes_from
    resumed = resume_in_a_new_second(["resume", str(killed), "--device", "cpu", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert_same_run(killed, reference_dir)
