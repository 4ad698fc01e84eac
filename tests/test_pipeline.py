"""Pipelines of stages: continued pretraining hands its body (and LM head) to the next stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import tartan_fw.experiment as experiment_module
from tartan_fw.cli.main import cli
from tartan_fw.common.from_config import build
from tartan_fw.errors import ConfigurationError, TartanError
from tartan_fw.pipeline import run_config, stage_configs, validate_config
from tartan_fw.run_directory import check_replaceable


def pipeline(tiny, stages: list[tuple[str, tuple[str, ...], dict[str, Any]]]) -> dict[str, Any]:
    """A pipeline over the tiny task: the body and data shared, each stage its aux tasks and trainer."""
    base = tiny()
    shared = {key: base[key] for key in ("data_root", "seed", "body", "end_task")}
    return {
        **shared,
        "stages": [
            {"name": name, "aux_tasks": tiny(aux=aux)["aux_tasks"], "trainer": trainer}
            for name, aux, trainer in stages
        ],
    }


PRETRAIN = {"type": "pretrain", "max_steps": 3, "lr": 1e-3, "log_every": 1}
FINETUNE = {"type": "tartan", "max_steps": 2, "eval_every": 2, "log_every": 1}


@pytest.fixture
def loaded_bodies(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Records, for every init_from load, the file and the body (and its LM head) right after loading."""
    records: list[dict[str, Any]] = []
    original = experiment_module.load_body

    def spy(body: torch.nn.Module, source: Path) -> Path:
        path = original(body, source)
        lm_head = body.lm_head()
        records.append({
            "file": path,
            "body": {k: v.detach().clone() for k, v in body.state_dict().items()},
            "lm_head": {k: v.detach().clone() for k, v in lm_head.state_dict().items()} if lm_head else {},
        })
        return path

    monkeypatch.setattr(experiment_module, "load_body", spy)
    return records


def test_finetune_stage_starts_from_the_pretrained_body(tmp_path: Path, tiny, loaded_bodies) -> None:
    config = pipeline(tiny, [("tapt", ("tapt",), PRETRAIN), ("finetune", (), FINETUNE)])
    out = tmp_path / "run"
    metrics = run_config(config, out, torch.device("cpu"), show_progress=False)

    saved = load_file(str(out / "tapt" / "body.safetensors"))
    assert len(loaded_bodies) == 1 and loaded_bodies[0]["file"] == out / "tapt" / "body.safetensors"
    loaded = loaded_bodies[0]["body"]
    assert loaded.keys() == {k.removeprefix("body.") for k in saved if k.startswith("body.")}
    for name, value in loaded.items():
        assert torch.equal(value, saved[f"body.{name}"]), name

    # Pretraining changed the body: the hand-off is not a no-op.
    fresh = build(experiment_module.Experiment, stage_configs(config)[0][1])
    body, _, _ = experiment_module.prepare(fresh, torch.device("cpu"), with_aux=False)
    assert any(not torch.equal(v, loaded[k]) for k, v in body.state_dict().items())

    stage_config = json.loads((out / "finetune" / "config.json").read_text())
    assert stage_config["init_from"] == str((out / "tapt").resolve())
    assert [s.name for s in metrics.pipeline] == ["tapt", "finetune"]
    assert metrics.test == metrics.pipeline[1].test and "macro_f1" in metrics.test
    assert metrics.pipeline[0].test == {}
    stages = [s.compute for s in metrics.pipeline]
    assert metrics.compute.flops == pytest.approx(sum(c.flops for c in stages))
    assert metrics.compute.steps == 3 + 2
    assert json.loads((out / "metrics.json").read_text())["compute"] == metrics.compute.to_dict()


def test_chained_pretraining_hands_on_the_lm_head(tmp_path: Path, tiny, loaded_bodies) -> None:
    config = pipeline(tiny, [("dapt", ("dapt",), PRETRAIN), ("tapt", ("tapt",), PRETRAIN)])
    run_config(config, tmp_path / "run", torch.device("cpu"), show_progress=False)
    saved = load_file(str(tmp_path / "run" / "dapt" / "body.safetensors"))
    lm_head = loaded_bodies[0]["lm_head"]
    assert lm_head and all(torch.equal(v, saved[f"lm_head.{k}"]) for k, v in lm_head.items())


def test_pipeline_config_errors_name_the_stage(tiny) -> None:
    config = pipeline(tiny, [("a", ("tapt",), PRETRAIN), ("a", (), {**FINETUNE, "max_step": 2})])
    config["stages"][1]["init_from"] = "elsewhere"
    with pytest.raises(ConfigurationError) as raised:
        stage_configs(config)
    text = str(raised.value)
    assert "stages[1].name" in text and "stages[1].init_from" in text
    del config["stages"][1]["init_from"]
    config["stages"][1]["name"] = "b"
    problems = validate_config(config)
    assert len(problems) == 1 and problems[0].startswith("stages[1].trainer.max_step") and "max_steps" in problems[0]


def test_cli_validates_and_runs_a_pipeline(tmp_path: Path, tiny) -> None:
    path = tmp_path / "tapt.jsonnet"
    path.write_text(json.dumps(pipeline(tiny, [("tapt", ("tapt",), PRETRAIN), ("finetune", (), FINETUNE)])))
    assert CliRunner().invoke(cli, ["validate", str(path)]).exit_code == 0
    result = CliRunner().invoke(cli, ["run", str(path), "-s", str(tmp_path / "run"), "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "test macro_f1" in result.output


def test_force_replaces_only_the_stages_the_run_recorded(tmp_path: Path, tiny) -> None:
    """A stage folder is the run's because its config.json names it, not because of the names inside it."""
    run = tmp_path / "run"
    run.mkdir()
    config = pipeline(tiny, [("tapt", ("tapt",), PRETRAIN), ("finetune", (), FINETUNE)])
    (run / "config.json").write_text(json.dumps(config))
    (run / "tapt").mkdir()
    (run / "tapt" / "log.txt").write_text("stage log\n")
    (run / "finetune").mkdir()
    (run / "finetune" / ".lock").write_text("")  # a stage that failed to start
    check_replaceable(run)
    (run / "dapt").mkdir()
    (run / "dapt" / "log.txt").write_text("not this run's\n")
    with pytest.raises(TartanError, match=r"holds files no run writes \(dapt\)"):
        check_replaceable(run)


def test_init_from_a_different_body_is_refused(tmp_path: Path, tiny) -> None:
    first = {**tiny(aux=("tapt",)), "trainer": PRETRAIN}
    run_config(first, tmp_path / "small", torch.device("cpu"), show_progress=False)
    second = tiny(aux=())
    second["body"] = {**second["body"], "hidden_size": 16}
    second["init_from"] = str(tmp_path / "small")
    with pytest.raises(TartanError, match="init_from: .*does not fit this body.*same body config"):
        run_config(second, tmp_path / "big", torch.device("cpu"), show_progress=False)


EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
BASELINES = sorted(
    [p for pattern in ("*_finetune", "*_tapt", "*_dapt") for p in EXPERIMENTS.glob(f"{pattern}.jsonnet")]
    + list((EXPERIMENTS / "cpu").glob("*.jsonnet")) + list((EXPERIMENTS / "data_efficiency").glob("*.jsonnet"))
)


@pytest.mark.parametrize("path", BASELINES, ids=lambda p: str(p.relative_to(EXPERIMENTS)))
def test_shipped_baselines_validate(path: Path) -> None:
    from tartan_fw.common.config import load_config

    assert validate_config(load_config(path)) == []


def test_baseline_pipelines_chain_their_stages() -> None:
    from tartan_fw.common.config import load_config

    assert len(BASELINES) >= 30
    chained = load_config(EXPERIMENTS / "chemprot_dapt_tapt.jsonnet")
    assert [s["name"] for s in chained["stages"]] == ["dapt", "tapt", "finetune"]
    assert [s["trainer"]["type"] for s in chained["stages"]] == ["pretrain", "pretrain", "tartan"]
    released = load_config(EXPERIMENTS / "chemprot_finetune.jsonnet", {"model": "allenai/chemprot_roberta_tapt_base"})
    assert released["body"]["model_name"] == "allenai/chemprot_roberta_tapt_base" and "stages" not in released
    ten = load_config(EXPERIMENTS / "sciie_dapt.jsonnet", {"dapt_corpus": "sciie/domain.10xTAPT.txt", "dapt_size": "10"})
    one = load_config(EXPERIMENTS / "sciie_dapt.jsonnet")
    assert ten["stages"][0]["aux_tasks"][0]["corpus"] == "sciie/domain.10xTAPT.txt"
    steps = [config["stages"][0]["trainer"]["max_steps"] for config in (one, ten)]
    assert steps[1] == pytest.approx(10 * steps[0], rel=0.01)  # 100 epochs of a corpus 10x as large
