"""predict and export round trips: same predictions as the run's own evaluation, no data needed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from conftest import invoke, tiny_config, write_tiny_task
from tartan_fw.common.files import file_mode

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run (trained once for the module), its data root beside it."""
    folder = tmp_path_factory.mktemp("trained")
    root = folder / "data"
    write_tiny_task(root, sizes=(48, 12, 40))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TARTAN_CACHE", str(folder / "cache"))
        config = folder / "tiny.json"
        config.write_text(json.dumps(tiny_config(root, aux=("tapt",), max_steps=12, eval_every=6)))
        result = invoke("run", str(config), "-s", str(folder / "run"), "--device", "cpu", "--quiet")
        assert result.exit_code == 0, result.output
    return folder / "run"


def test_exported_model_loaded_with_the_documented_lines_matches_evaluate(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tartan_fw.runner import load_run
    from tartan_fw.training.metrics import classification_metrics

    monkeypatch.setenv("TARTAN_CACHE", str(trained.parent / "cache"))
    exported = invoke("export", str(trained), str(tmp_path / "exported"))
    assert exported.exit_code == 0, exported.output
    assert {"config.json", "model.safetensors", "head.safetensors", "labels.json", "tokenizer.json"} <= {
        p.name for p in (tmp_path / "exported").iterdir()
    }
    mode = file_mode()  # every file as a plain open() makes it, so a colleague can read the model
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in (tmp_path / "exported").iterdir()} == {
        p.name: oct(mode) for p in (tmp_path / "exported").iterdir()
    }

    code = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "how-to" / "export.md").read_text(), re.DOTALL)
    assert len(code) == 2  # the Hugging Face lines (tests/test_hf_export.py), then the hand-written head
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code[1], "docs/how-to/export.md", "exec"), namespace)  # noqa: S102 - the documented lines, as written

    test_file = trained.parent / "data" / "tiny" / "test.jsonl"
    records = [json.loads(line) for line in test_file.read_text().splitlines()]
    exported_rows = namespace["classify"]([r["text"] for r in records])
    labels = json.loads((trained / "labels.json").read_text())
    exported_ids = torch.tensor([max(range(len(labels)), key=lambda i: row[labels[i]]) for row in exported_rows])

    run = load_run(trained, torch.device("cpu"))
    run.body.eval(), run.end_task.head.eval()
    predicted, gold = run.end_task.predict(run.body, "test", run.device, run.autocast)
    assert torch.equal(exported_ids, predicted)
    evaluated = invoke("evaluate", str(trained), "--split", "test", "--device", "cpu")
    assert evaluated.exit_code == 0, evaluated.output
    reported = json.loads(evaluated.output)
    for name, value in classification_metrics(exported_ids, gold).items():
        assert value == pytest.approx(reported[name])

    output = tmp_path / "predicted.jsonl"
    predicted_cli = invoke("predict", str(trained), str(test_file), "-o", str(output), "--batch-size", "7", "--quiet")
    assert predicted_cli.exit_code == 0, predicted_cli.output
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["id"] for line in lines] == [r["id"] for r in records]  # input order and fields kept
    for line, row in zip(lines, exported_rows):
        assert line["probabilities"] == pytest.approx(row, abs=1e-5)
        assert line["prediction"] == max(row, key=row.get)


def test_predict_needs_no_training_data(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copied = tmp_path / "run"
    shutil.copytree(trained, copied)
    monkeypatch.setenv("TARTAN_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setenv("TARTAN_CACHE", str(tmp_path / "empty-cache"))
    config = json.loads((copied / "config.json").read_text())
    config["data_root"] = str(tmp_path / "nowhere")
    (copied / "config.json").write_text(json.dumps(config))
    texts = tmp_path / "texts.jsonl"
    texts.write_text('{"text": "we use the model"}\n\n{"text": "prior work is known", "source": "x"}\n')
    result = invoke("predict", str(copied), str(texts), "--quiet")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["text"] for line in lines] == ["we use the model", "prior work is known"]
    assert lines[1]["source"] == "x"
    for line in lines:
        assert sum(line["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert line["prediction"] in line["probabilities"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "fine"}\n{"text": broken\n', "input.jsonl:2: malformed JSON"),
        ('{"text": "fine"}\n\n{"label": "x"}\n', "input.jsonl:3: expected a JSON object with a string 'text' field"),
        ('["text"]\n', "input.jsonl:1: expected a JSON object"),
        ("\n", "input.jsonl: no texts to predict"),
    ],
)
def test_bad_input_is_one_line_with_file_and_line_and_writes_nothing(
    trained: Path, tmp_path: Path, content: str, message: str
) -> None:
    source = tmp_path / "input.jsonl"
    source.write_text(content)
    output = tmp_path / "out.jsonl"
    result = invoke("predict", str(trained), str(source), "-o", str(output), "--quiet")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert not output.exists() and list(tmp_path.iterdir()) == [source]


def test_export_refuses_a_non_empty_folder_and_a_non_run(trained: Path, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    result = invoke("export", str(trained), str(target))
    assert result.exit_code == 2 and "exists and is not empty" in result.output
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    result = invoke("export", str(tmp_path), str(tmp_path / "out"))
    assert result.exit_code == 2 and "not a run directory" in result.output
    assert not (tmp_path / "out").exists()


def test_streamed_predictions_equal_the_input_predicted_at_once(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tartan_fw.trained import load_trained_model

    monkeypatch.setattr("tartan_fw.trained.PREDICTION_CHUNK", 2)  # 40 texts in batches of 3: seven chunks
    test_file = trained.parent / "data" / "tiny" / "test.jsonl"
    output = tmp_path / "predicted.jsonl"
    result = invoke("predict", str(trained), str(test_file), "-o", str(output), "--batch-size", "3", "--quiet")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in test_file.read_text().splitlines()]
    model = load_trained_model(trained, torch.device("cpu"))
    whole = model.probabilities([r["text"] for r in records], len(records)).tolist()
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [{k: v for k, v in line.items() if k not in ("prediction", "probabilities")} for line in lines] == records
    for line, row in zip(lines, whole):
        assert list(line["probabilities"].values()) == pytest.approx(row, abs=1e-6)
        assert line["prediction"] == model.labels[row.index(max(row))]


def test_predictions_read_the_input_as_they_go(trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tartan_fw.trained import load_trained_model

    monkeypatch.setattr("tartan_fw.trained.PREDICTION_CHUNK", 2)
    read = []

    def texts():
        for number in range(1000):
            read.append(number)
            yield {"text": "we use the model", "id": number}

    predicted = load_trained_model(trained, torch.device("cpu")).predictions(texts(), batch_size=4)
    assert next(predicted)["id"] == 0
    assert len(read) == 8  # one chunk (2 batches of 4) read for the first prediction, not the whole input
    assert [p["id"] for p in predicted] == list(range(1, 1000)) and len(read) == 1000


def test_predict_interrupted_leaves_the_previous_output_and_no_partial_file(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tartan_fw.trained import TrainedModel

    monkeypatch.setattr("tartan_fw.trained.PREDICTION_CHUNK", 1)
    whole = TrainedModel.probabilities
    calls = []

    def interrupted(self: TrainedModel, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return whole(self, *args, **kwargs)

    monkeypatch.setattr(TrainedModel, "probabilities", interrupted)
    test_file = trained.parent / "data" / "tiny" / "test.jsonl"
    output = tmp_path / "out" / "predicted.jsonl"
    output.parent.mkdir()
    output.write_text("earlier predictions\n")
    result = invoke("predict", str(trained), str(test_file), "-o", str(output), "--batch-size", "4", "--quiet")
    assert result.exit_code != 0 and len(calls) == 3
    assert output.read_text() == "earlier predictions\n" and list(output.parent.iterdir()) == [output]


def test_export_draws_no_progress_bar_off_a_terminal(trained: Path, tmp_path: Path) -> None:
    from transformers.utils import logging as transformers_logging

    transformers_logging.enable_progress_bar()  # as in a fresh process, where transformers draws its bars
    result = invoke("export", str(trained), str(tmp_path / "exported"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"{tmp_path / 'exported'}: BertForSequenceClassification, 3 labels"]
