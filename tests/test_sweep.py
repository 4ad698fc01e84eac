"""``sweep``: one run per seed in its own process; a rerun skips finished seeds and redoes unfinished ones."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from tartan_fw.cli.main import cli
from tartan_fw.common.locking import lock_holder
from tartan_fw.errors import ConfigurationError, TartanError
from tartan_fw.sweep import CLI, parse_seeds, pending_jobs, sweep_directories


def test_parse_seeds() -> None:
    assert parse_seeds("0-4,7,3") == [0, 1, 2, 3, 4, 7]
    assert parse_seeds("5") == [5]
    with pytest.raises(TartanError, match="runs backwards"):
        parse_seeds("4-1")
    with pytest.raises(TartanError, match="'x' is not a seed"):
        parse_seeds("1,x")


def test_sweep_runs_each_seed_once_and_resumes(tmp_path: Path, tiny) -> None:
    config = tmp_path / "tiny.jsonnet"
    config.write_text(json.dumps(tiny(aux=("tapt",), max_steps=2, eval_every=2)))
    sweep = tmp_path / "sweep"
    command = ["sweep", str(config), "--seeds", "0-1", "-s", str(sweep), "--device", "cpu", "-o", "trainer.log_every=2"]

    first = CliRunner().invoke(cli, command)
    assert first.exit_code == 0, first.output + "".join(p.read_text() for p in sweep.glob("*.log"))
    for seed in (0, 1):
        config_used = json.loads((sweep / f"seed{seed}" / "config.json").read_text())
        assert config_used["seed"] == seed and config_used["trainer"]["log_every"] == 2
        log = (sweep / f"seed{seed}.log").read_text()  # the seed's stdout: plain progress lines, then the result
        assert "multitask step 2/2 | loss tiny" in log and "majority-class baseline" in log
    assert json.loads((sweep / "sweep.json").read_text())["seeds"] == [0, 1]
    finished = (sweep / "seed0" / "metrics.json").stat().st_mtime_ns

    second = CliRunner().invoke(cli, command)
    assert second.exit_code == 0, second.output
    assert "seeds 0, 1 finished before; skipped" in " ".join(second.output.split())
    assert "seed 0:" not in second.output and "seed 1:" not in second.output
    assert (sweep / "seed0" / "metrics.json").stat().st_mtime_ns == finished


def test_interrupted_seeds_resume_and_empty_ones_start_again(tmp_path: Path) -> None:
    (tmp_path / "seed0").mkdir()
    (tmp_path / "seed0" / "metrics.json").write_text("{}")
    (tmp_path / "seed1").mkdir()  # interrupted after it wrote its config: resumes
    (tmp_path / "seed1" / "config.json").write_text("{}")
    (tmp_path / "seed2").mkdir()  # interrupted before: starts again
    jobs, done = pending_jobs(tmp_path, [0, 1, 2, 3], lambda seed, directory: ["run", "x.jsonnet", "-s", str(directory)])
    assert done == [0]
    assert [job.seed for job in jobs] == [1, 2, 3]
    assert [job.command()[-1] for job in jobs] == ["--resume", "--force", str(tmp_path / "seed3")]
    assert jobs[0].log == tmp_path / "seed1.log"


def test_a_bad_config_fails_before_any_run(tmp_path: Path, tiny) -> None:
    config = tmp_path / "bad.jsonnet"
    config.write_text(json.dumps(tiny(max_step=2)))
    result = CliRunner().invoke(cli, ["sweep", str(config), "--seeds", "0-1", "-s", str(tmp_path / "sweep")])
    assert result.exit_code == 2 and "trainer.max_step" in result.output
    assert not (tmp_path / "sweep").exists()


def test_several_experiment_files_sweep_as_a_grid_into_one_folder_each(tmp_path: Path, tiny) -> None:
    for name, aux in (("mt", ("tapt",)), ("finetune", ())):
        (tmp_path / f"{name}.json").write_text(json.dumps(tiny(aux=aux, max_steps=2, eval_every=2)))
    grid = tmp_path / "grid"
    result = CliRunner().invoke(cli, ["sweep", str(tmp_path / "mt.json"), str(tmp_path / "finetune.json"),
                                      "--seeds", "0", "-s", str(grid), "--device", "cpu", "--jobs", "2"])
    assert result.exit_code == 0, result.output + "".join(p.read_text() for p in grid.glob("*/*.log"))
    assert json.loads((grid / "mt" / "seed0" / "config.json").read_text())["aux_tasks"]
    assert not json.loads((grid / "finetune" / "seed0" / "config.json").read_text())["aux_tasks"]
    assert f"compare them with: tartan-fw compare {grid / 'mt'} {grid / 'finetune'}" in " ".join(result.output.split())
    compared = CliRunner().invoke(cli, ["compare", str(grid / "mt"), str(grid / "finetune"), "--permutations", "10"])
    assert compared.exit_code == 0, compared.output


def test_sweep_directories_of_a_grid() -> None:
    assert sweep_directories([Path("a/x.jsonnet")], None) == [Path("sweeps/x")]
    assert sweep_directories([Path("a/x.jsonnet")], Path("out")) == [Path("out")]
    assert sweep_directories([Path("x.jsonnet"), Path("y.json")], Path("out")) == [Path("out/x"), Path("out/y")]
    with pytest.raises(TartanError, match="several experiment files named x"):
        sweep_directories([Path("a/x.jsonnet"), Path("b/x.jsonnet")], None)


def test_slurm_settings_come_from_the_user_file_with_the_command_over_them(tmp_path: Path, monkeypatch) -> None:
    from tartan_fw import slurm

    user = tmp_path / "slurm.json"
    user.write_text(json.dumps({"partition": "gpu", "account": "lab", "mem": "8G", "sbatch": {"qos": "low"}}))
    monkeypatch.setattr(slurm, "USER_SETTINGS", user)
    chosen = slurm.load_settings(None, {"partition": "debug", "mem": None, "time_limit": 30}).executor_parameters()
    assert chosen["partition"] == "debug" and chosen["account"] == "lab" and chosen["mem"] == "8G"
    assert chosen["time"] == 30 and chosen["additional_parameters"] == {"qos": "low"}

    user.write_text(json.dumps({"partiton": "gpu", "cpus_per_task": "8"}))
    with pytest.raises(ConfigurationError) as wrong:
        slurm.load_settings(None, {})
    assert len(wrong.value.problems) == 2 and all(p.startswith(f"{user}: ") for p in wrong.value.problems)
    assert "partiton" in str(wrong.value) and "cpus_per_task" in str(wrong.value)


def test_a_bad_sbatch_flag_fails_before_anything_is_submitted(tmp_path: Path, tiny) -> None:
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny()))
    result = CliRunner().invoke(cli, ["sweep", str(config), "-s", str(tmp_path / "sweep"), "--launcher", "slurm",
                                      "--sbatch", "qos"])
    assert result.exit_code == 2 and "--sbatch 'qos': write KEY=VALUE" in result.output
    assert not (tmp_path / "sweep").exists()


def test_slurm_options_without_the_slurm_launcher_are_refused(tmp_path: Path, tiny) -> None:
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny()))
    result = CliRunner().invoke(cli, ["sweep", str(config), "-s", str(tmp_path / "sweep"), "--partition", "gpu"])
    assert result.exit_code == 2 and "--partition is for --launcher slurm" in result.output
    assert not (tmp_path / "sweep").exists()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 900) -> Any:
    """Polls ``condition`` (a readiness signal: a lock taken or released) until it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_second_sweep_names_the_seeds_runner_and_a_killed_sweep_takes_its_run_with_it(tmp_path: Path, tiny) -> None:
    config = tmp_path / "long.jsonnet"
    config.write_text(json.dumps(tiny(aux=(), max_steps=100_000, eval_every=100_000, log_every=100_000)))
    sweep = tmp_path / "sweep"
    command = [*CLI, "sweep", str(config), "--seeds", "0", "-s", str(sweep), "--device", "cpu"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_pid = wait_for(lambda: lock_holder(sweep / "seed0") or first.poll() is not None,
                           "the seed's run to lock its directory")
        assert first.poll() is None, (sweep / "seed0.log").read_text()
        log = (sweep / "seed0.log").stat().st_ino

        second = subprocess.run(command, capture_output=True, text=True, timeout=900)
        assert second.returncode == 2
        assert f"seed 0: being run by pid {run_pid}; not started here" in second.stdout
        assert "failed" not in second.stdout + second.stderr
        assert f"are being run by other processes (pids {run_pid})" in " ".join(second.stderr.split())
        assert (sweep / "seed0.log").stat().st_ino == log and b"\0" not in (sweep / "seed0.log").read_bytes()
        assert lock_holder(sweep / "seed0") == run_pid  # untouched by the second sweep
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    wait_for(lambda: lock_holder(sweep / "seed0") is None, "the seed's run to end with its sweep", timeout=300)
