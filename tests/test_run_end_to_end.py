"""The real CLI on the tiny task: a run writes metrics, checkpoint and TensorBoard events."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tartan_fw.cli.main import cli


def write_config(path: Path, config: dict) -> Path:
    path.write_text(json.dumps(config))
    return path


def scalar_tags(directory: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(directory))
    events.Reload()
    return set(events.Tags()["scalars"])


def test_run_writes_metrics_checkpoint_and_events(tmp_path: Path, tiny) -> None:
    config = write_config(tmp_path / "mt.jsonnet", tiny())
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(config), "-s", str(out), "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metric"] == "macro_f1"
    assert set(metrics["test"]) == {"micro_f1", "macro_f1", "accuracy"}
    assert metrics["steps"] == 6 and metrics["best_step"] in (3, 6)
    assert (out / "best" / "model.safetensors").exists()
    assert json.loads((out / "config.json").read_text())["trainer"]["max_steps"] == 6
    tags = scalar_tags(out / "tensorboard")
    for task in ("tiny", "tapt", "dapt"):
        assert f"train/loss/{task}" in tags and f"weights/{task}" in tags
    assert "eval/macro_f1" in tags

    evaluated = CliRunner().invoke(cli, ["evaluate", str(out), "--split", "test", "--device", "cpu"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["macro_f1"] == metrics["test"]["macro_f1"]


def test_existing_run_directory_is_refused_without_force(tmp_path: Path, tiny) -> None:
    config = write_config(tmp_path / "mt.jsonnet", tiny(max_steps=2, eval_every=2))
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    result = CliRunner().invoke(cli, ["run", str(config), "-s", str(out), "--quiet"])
    assert result.exit_code == 2
    assert "--force" in result.output and (out / "keep.txt").exists()


def test_threads_sets_torchs_cpu_threads_for_the_run(tmp_path: Path, tiny, monkeypatch) -> None:
    import torch

    chosen: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", chosen.append)
    config = write_config(tmp_path / "mt.jsonnet", tiny(max_steps=1, eval_every=1))
    command = ["run", str(config), "-s", str(tmp_path / "run"), "--device", "cpu", "--quiet", "--threads"]
    result = CliRunner().invoke(cli, [*command, "3"])
    assert result.exit_code == 0, result.output
    assert chosen == [3]
    refused = CliRunner().invoke(cli, [*command, "0", "--force"])
    assert refused.exit_code == 2 and "--threads" in refused.output and chosen == [3]
