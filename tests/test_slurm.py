"""Sweeps on a real one-node Slurm cluster (tools/slurm/start_cluster.sh; .ci/run starts it): a job array through
submitit, compared, and a preempted run requeued that ends bit-identical to an uninterrupted one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from safetensors.torch import load_file
from submitit.slurm.slurm import SlurmJobEnvironment

from tartan_fw.cli.main import cli
from tartan_fw.training.trainer import StageLoop

pytestmark = pytest.mark.usefixtures("slurm_cluster")

# Slows each optimisation step, so a signal finds the run training (numerics untouched).
SLOW_STEPS = '''
import time
from tartan_fw.training.trainer import StageLoop
original = StageLoop.step
def step(self, step):
    time.sleep(0.4)
    return original(self, step)
StageLoop.step = step
'''


def without_wall_time(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_wall_time(v) for k, v in value.items() if k != "wall_time_s"}
    return [without_wall_time(v) for v in value] if isinstance(value, list) else value


def wait_for(condition: Any, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_a_two_seed_sweep_runs_as_one_job_array_and_compares(tmp_path: Path, tiny: Any) -> None:
    config = tmp_path / "mt.json"
    config.write_text(json.dumps(tiny(aux=("tapt",), max_steps=2, eval_every=2)))
    sweep = tmp_path / "mt"
    command = ["sweep", str(config), "--seeds", "0-1", "-s", str(sweep), "--device", "cpu", "--launcher", "slurm",
               "--wait", "--time-limit", "10", "--mem", "2G"]
    submitted = CliRunner().invoke(cli, command)
    assert submitted.exit_code == 0, submitted.output + "".join(p.read_text() for p in sweep.glob("*.log"))
    assert "2 seeds submitted as Slurm job array" in " ".join(submitted.output.split())
    for seed in (0, 1):
        assert json.loads((sweep / f"seed{seed}" / "config.json").read_text())["seed"] == seed
        assert (sweep / f"seed{seed}" / "metrics.json").is_file()
    script = next((sweep / "slurm").glob("*/*_submission.sh")).read_text()
    assert "#SBATCH --time=10" in script and "#SBATCH --mem=2G" in script and "#SBATCH --array=0-1%2" in script

    compared = CliRunner().invoke(cli, ["compare", str(sweep), "--permutations", "10"])
    assert compared.exit_code == 0, compared.output
    assert "mt" in compared.output

    status = CliRunner().invoke(cli, ["status", str(sweep)])
    assert status.exit_code == 0, status.output
    assert status.output.count("COMPLETED") == 2 and status.output.count("finished") == 2

    again = CliRunner().invoke(cli, command)
    assert again.exit_code == 0 and "seeds 0, 1 finished before; skipped" in " ".join(again.output.split())
    assert "submitted" not in again.output


def test_a_preempted_job_checkpoints_is_requeued_and_ends_like_an_uninterrupted_run(
    tmp_path: Path, tiny: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "slow_steps.py").write_text(SLOW_STEPS)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    monkeypatch.syspath_prepend(str(tmp_path))  # the sweep command imports the plugin here too:
    monkeypatch.setattr(StageLoop, "step", StageLoop.step)  # its patch is undone after the test
    monkeypatch.delitem(sys.modules, "slow_steps", raising=False)
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny(aux=("tapt",), max_steps=12, eval_every=4, checkpoint_every=4)))
    sweep = tmp_path / "sweep"
    submitted = CliRunner().invoke(cli, ["--include-package", "slow_steps", "sweep", str(config), "--seeds", "3",
                                         "-s", str(sweep), "--device", "cpu", "--launcher", "slurm"])
    assert submitted.exit_code == 0, submitted.output
    job_id = json.loads((sweep / "slurm" / "jobs.json").read_text())["3"]
    log = sweep / "seed3.log"
    wait_for(lambda: log.is_file() and "multitask step 5/" in log.read_text(), "the run to train")
    # As Slurm does before a time limit: submitit's signal to the job's processes
    subprocess.run(["scancel", f"--signal={SlurmJobEnvironment.USR_SIG}", job_id], check=True)
    wait_for(lambda: (sweep / "seed3" / "metrics.json").is_file(), "the requeued job to finish", timeout=300)

    text = log.read_text()
    signal_name = f"SIG{SlurmJobEnvironment.USR_SIG}"
    assert f"{signal_name} received: stopping after this step with a checkpoint" in text, text
    stopped_at = int(text.split(f"{signal_name} received: stopped after step ")[1].split()[0])
    assert 5 <= stopped_at < 12  # stopped while training, not after it
    history = subprocess.run(["sacct", "-D", "-n", "-X", "-j", job_id, "-o", "State"], capture_output=True, text=True)
    assert "REQUEUED" in history.stdout, history.stdout

    reference = CliRunner().invoke(cli, ["run", str(config), "--seed", "3", "-s", str(tmp_path / "reference"),
                                         "--device", "cpu", "--quiet"])
    assert reference.exit_code == 0, reference.output
    ours, theirs = (json.loads((d / "metrics.json").read_text()) for d in (sweep / "seed3", tmp_path / "reference"))
    assert without_wall_time(ours) == without_wall_time(theirs)
    ours, theirs = (load_file(str(d / "best" / "model.safetensors")) for d in (sweep / "seed3", tmp_path / "reference"))
    assert ours.keys() == theirs.keys() and all((ours[k] == theirs[k]).all() for k in ours)
