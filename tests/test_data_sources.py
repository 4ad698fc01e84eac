"""An experiment whose end-task is a CSV file and whose auxiliary corpus is a dataset ``load_dataset`` reads
(a local folder standing in for a hub repository), through the real CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from tartan_fw.cli.main import cli


def test_csv_end_task_and_hub_corpus_train(tmp_path: Path, tiny, data_root: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for split in ("train", "dev", "test"):
        records = [json.loads(line) for line in (data_root / "tiny" / f"{split}.jsonl").read_text().splitlines()]
        with (data_root / "tiny" / f"{split}.csv").open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["id", "sentence", "intent"])
            writer.writerows([r["id"], r["text"], r["label"]] for r in records)
    hub = tmp_path / "hub_corpus" / "data"
    hub.mkdir(parents=True)
    texts = (data_root / "tiny" / "domain.1xTAPT.txt").read_text().splitlines()
    pq.write_table(pa.table({"text": texts, "source": ["synthetic"] * len(texts)}), hub / "train-00000-of-00001.parquet")

    config = tiny(aux=("tapt",))
    config["end_task"]["reader"] = {"type": "csv", "text_column": "sentence", "label_column": "intent"}
    config["aux_tasks"][0].update(corpus="train", reader={"type": "hub", "path": str(hub.parent)})
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(config))
    validated = CliRunner().invoke(cli, ["validate", str(path)])
    assert validated.exit_code == 0, validated.output
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(path), "-s", str(out), "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "labels.json").read_text()) == ["background", "method", "result"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["tokens"]["multitask/tapt"] > 0 and 0 <= metrics["test"]["macro_f1"] <= 1


def docs_block(name: str) -> str:
    """The jsonnet block of docs/tutorials/own-data.md whose first line names ``name``."""
    import re

    text = (Path(__file__).resolve().parents[1] / "docs" / "tutorials" / "own-data.md").read_text()
    [code] = [c for c in re.findall(r"```jsonnet\n(.*?)```", text, re.DOTALL) if c.startswith(f"// {name}")]
    return code


def test_the_tutorials_csv_and_hub_experiments(tmp_path: Path, monkeypatch) -> None:
    """docs/tutorials/own-data.md's two files validate (the hub one offline: its splits are not files), and the CSV
    one trains on a CSV task with a small scratch encoder."""
    import shutil

    from conftest import write_tiny_task

    repo = Path(__file__).resolve().parents[1]
    project = tmp_path / "project"
    shutil.copytree(repo / "experiments", project / "experiments")
    for name in ("my_task_csv.jsonnet", "ag_news.jsonnet"):
        (project / "experiments" / name).write_text(docs_block(name))
    task = write_tiny_task(tmp_path / "data", "my_task")
    for split in ("train", "dev", "test"):
        records = [json.loads(line) for line in (task / f"{split}.jsonl").read_text().splitlines()]
        with (task / f"{split}.csv").open("w", newline="") as out:
            csv.writer(out).writerows([["sentence", "intent"]] + [[r["text"], r["label"]] for r in records])
        (task / f"{split}.jsonl").unlink()
    monkeypatch.setenv("TARTAN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(project)
    for name in ("my_task_csv.jsonnet", "ag_news.jsonnet"):
        validated = CliRunner().invoke(cli, ["validate", f"experiments/{name}"])
        assert validated.exit_code == 0, validated.output
    small = ["--ext-var", "model=scratch", "-o", "body.hidden_size=32", "-o", "body.num_layers=1", "-o",
             "body.intermediate_size=64", "-o", "body.vocab_size=120", "-o", "body.max_length=32",
             "-o", "trainer.max_steps=2", "-o", "trainer.eval_every=2"]
    result = CliRunner().invoke(cli, ["run", "experiments/my_task_csv.jsonnet", "-s", "runs/csv", "--device", "cpu",
                                      "--quiet", *small])
    assert result.exit_code == 0, result.output
    assert json.loads((project / "runs" / "csv" / "labels.json").read_text()) == ["background", "method", "result"]
