"""Every shipped experiment file validates offline through ``tartan-fw validate --config-only`` (the
data files some need, such as 10x DAPT corpora, are not all shipped).

The files are globbed when the tests are collected, so experiments added later are covered too.
Validation builds nothing, so the roberta-base configs need no download; the network is cut to prove it.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from tartan_fw.cli.main import cli

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((REPO / "experiments").rglob("*.jsonnet"))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("validation tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_there_are_experiments_to_validate() -> None:
    names = {path.relative_to(REPO / "experiments").as_posix() for path in EXPERIMENTS}
    assert {"quickstart.jsonnet", "citation_intent_mt.jsonnet"} <= names


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[str(p.relative_to(REPO / "experiments")) for p in EXPERIMENTS])
def test_experiment_validates(path: Path, no_network: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # plugins/ is found from the working directory, as when run from the repo
    result = CliRunner().invoke(cli, ["validate", "--config-only", str(path.relative_to(REPO))])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"{path.relative_to(REPO)}: ok")


def test_validate_catches_a_broken_experiment(tmp_path: Path, no_network: None) -> None:
    broken = tmp_path / "broken.jsonnet"
    broken.write_text(f"(import '{REPO}/experiments/quickstart.jsonnet') + {{ weighter: {{ type: 'unifrom' }} }}\n")
    result = CliRunner().invoke(cli, ["validate", str(broken)])
    assert result.exit_code == 2
    assert f"error: {broken}: weighter.type: unknown weighter 'unifrom' (did you mean 'uniform'?" in result.output


def test_an_unknown_auxiliary_task_name_is_an_error_in_the_paper_library(tmp_path: Path) -> None:
    config = tmp_path / "typo.jsonnet"
    config.write_text("local paper = import 'tartan_fw/paper.libsonnet';\n"
                      "paper('citation_intent', aux=['tapt', 'dpat'])\n")
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 2
    assert "aux: unknown task 'dpat'; use dapt, nsp, tapt" in result.output


def test_a_tasks_value_range_is_reported_before_anything_is_built(tmp_path: Path, no_network: None) -> None:
    config = tmp_path / "ranges.jsonnet"
    config.write_text(f"(import '{REPO}/experiments/quickstart.jsonnet') + "
                      "{ aux_tasks: [super.aux_tasks[0] + { mask_probability: 1.5, bucket_batches: -1 }] }\n")
    result = CliRunner().invoke(cli, ["validate", "--config-only", str(config)])
    assert result.exit_code == 2
    assert "aux_tasks[0].mask_probability: must be in (0, 1), got 1.5" in result.output
    assert "aux_tasks[0].bucket_batches: must be at least 0, got -1" in result.output


def test_the_data_check_runs_on_a_body_that_reads_no_files(no_network: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CIFAR experiments' CNN body and image tasks name no data files (the release is fetched on use)."""
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(cli, ["validate", "experiments/cifar100_meta.jsonnet"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("experiments/cifar100_meta.jsonnet: ok")


@pytest.mark.parametrize("name", ["quickstart.jsonnet", "quickstart_meta.jsonnet"])
def test_the_quickstart_needs_only_the_tasks_public_files(name: str, tmp_path: Path, no_network: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Table 1's setting: TAPT's corpus is derived from train.jsonl, and no domain corpus is read."""
    folder = tmp_path / "citation_intent"
    folder.mkdir()
    for split in ("train", "dev", "test"):
        (folder / f"{split}.jsonl").write_text('{"text": "we use their parser", "label": "Uses"}\n')
    monkeypatch.setenv("TARTAN_DATA", str(tmp_path))
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(cli, ["validate", f"experiments/{name}"])
    assert result.exit_code == 0, result.output
    assert not (folder / "domain.1xTAPT.txt").exists()
