"""The real task data (``$TARTAN_DATA``, skipped where absent): it reads cleanly, and a small slice of
citation_intent runs end to end through the CLI with the quickstart experiment and overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REAL_DATA, needs_real_data

from tartan_fw.cli.main import cli
from tartan_fw.data.readers import JsonlClassificationReader, TextLinesReader
from tartan_fw.data.root import DataRoot

REPO = Path(__file__).resolve().parents[1]
# Split sizes and class counts (the data README's, except hyperpartisan's: its files end without a
# newline, so `wc -l` there undercounts each split by one).
TASKS = {
    "chemprot": ((4169, 2427, 3469), 13),
    "citation_intent": ((1688, 114, 139), 6),
    "sciie": ((3219, 455, 974), 7),
    "hyperpartisan": ((516, 64, 65), 2),
}

pytestmark = needs_real_data


@pytest.mark.parametrize("task", sorted(TASKS))
def test_release_files_read_cleanly(task: str) -> None:
    sizes, classes = TASKS[task]
    reader = JsonlClassificationReader()
    root = DataRoot(REAL_DATA, fetch_missing=False)
    splits = {split: reader.read(root, f"{split}.jsonl", task, labelled=True) for split in ("train", "dev", "test")}
    assert tuple(len(examples) for examples in splits.values()) == sizes
    labels = set(splits["train"].dataset["label"])
    assert len(labels) == classes
    for split in ("dev", "test"):
        assert set(splits[split].dataset["label"]) <= labels
    if task == "hyperpartisan":
        assert labels == {"true", "false"}
    corpus = TextLinesReader().read(root, f"{task}/train.txt")
    assert len(corpus) == sizes[0]


def test_quickstart_slice_runs_and_evaluate_reproduces_the_test_score(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TARTAN_DATA", str(REAL_DATA))
    monkeypatch.chdir(REPO)
    out = tmp_path / "run"
    slice_of = {"type": "text_lines", "max_examples": 48}
    overrides = {
        "body": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64, "vocab_size": 1000,
                 "max_length": 64, "tokenizer_corpora": ["citation_intent/train.txt"]},
        "end_task": {"reader": {"type": "jsonl_classification", "max_examples": 96, "sample_seed": 1}},
    }
    result = CliRunner().invoke(cli, [
        "run", "experiments/quickstart.jsonnet", "-s", str(out), "--device", "cpu", "--quiet",
        "--ext-var", "steps=4", "--ext-var", "model=scratch",
        "--overrides", json.dumps(overrides),
        "-o", "end_task.batch_size=8",
        "-o", "aux_tasks.0.batch_size=8", "-o", f"aux_tasks.0.reader={json.dumps(slice_of)}",
        "-o", "trainer.eval_every=2", "-o", "trainer.patience=null",
        "-o", "trainer.finetune.max_steps=2", "-o", "trainer.finetune.eval_every=2",
    ])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["trainer"]["max_steps"] == 4 and config["body"]["hidden_size"] == 32
    assert config["aux_tasks"][0]["reader"] == {"type": "text_lines", "max_examples": 48}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metric"] == "macro_f1"
    assert set(metrics["test"]) >= {"micro_f1", "macro_f1", "accuracy"}
    # The multitask stage's 4 steps, the final fine-tuning's 2; selection over both phases. The scratch body is
    # random, so its untrained masked-LM head learns with it: no head warm-up.
    assert [(s["name"], s["steps"]) for s in metrics["stages"]] == [("multitask", 4), ("finetune", 2)]
    assert metrics["steps"] == 6 and metrics["best_step"] in (2, 4, 6)
    assert not metrics["mlm_heads"]["tapt"]["trained"] and metrics["mlm_heads"]["tapt"]["loss_after_warmup"] is None
    assert all(0.0 <= value <= 1.0 for value in metrics["test"].values() if isinstance(value, float))
    assert len(json.loads((out / "labels.json").read_text())) == 6

    evaluated = CliRunner().invoke(cli, ["evaluate", str(out), "--split", "test", "--device", "cpu"])
    assert evaluated.exit_code == 0, evaluated.output
    scores = json.loads(evaluated.output[evaluated.output.index("{"):])
    assert scores["metric"] == "macro_f1"
    assert scores["macro_f1"] == metrics["test"]["macro_f1"]
    assert scores["accuracy"] == metrics["test"]["accuracy"]
