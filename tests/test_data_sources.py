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
