"""``tartan-fw export`` writes a standard Hugging Face sequence classifier for BERT- and RoBERTa-family
bodies: AutoModelForSequenceClassification and pipeline("text-classification") load it, with
id2label, and score texts exactly as the run's own model does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import tiny_config, write_tiny_task

from tartan_fw.cli.main import cli
from tartan_fw.models.heads import ClassificationHead
from tartan_fw.run_directory import BODY_SETTINGS_FILE as BODY_FILE
from tartan_fw.trained import SavedEncoderBody, TrainedModel, export_model, load_trained_model

REPO = Path(__file__).resolve().parents[1]
TEXTS = ["prior work earlier the of", "we use algorithm a model", "improves accuracy score gain", "known studies"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run with a scratch (BERT) body."""
    folder = tmp_path_factory.mktemp("hf_export")
    root = folder / "data"
    write_tiny_task(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TARTAN_CACHE", str(folder / "cache"))
        config = folder / "tiny.json"
        config.write_text(json.dumps(tiny_config(root, aux=(), max_steps=6, eval_every=3)))
        result = CliRunner().invoke(cli, ["run", str(config), "-s", str(folder / "run"), "--device", "cpu", "--quiet"])
        assert result.exit_code == 0, result.output
    return folder / "run"


def assert_loads_as_the_run_scores(folder: Path, model: TrainedModel) -> None:
    from transformers import AutoModelForSequenceClassification, pipeline

    classifier = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    assert classifier.config.id2label == dict(enumerate(model.labels))
    expected = model.probabilities(TEXTS, batch_size=2)
    classify = pipeline("text-classification", model=str(folder), top_k=None, device="cpu")
    for text, row, scores in zip(TEXTS, expected, classify(TEXTS)):
        by_label = {score["label"]: score["score"] for score in scores}
        assert by_label == pytest.approx(dict(zip(model.labels, row.tolist())), abs=1e-5), text


def test_a_bert_body_exports_as_bert_for_sequence_classification(trained: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(cli, ["export", str(trained), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "BertForSequenceClassification, 3 labels" in result.output
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    tokenizer_config = json.loads((tmp_path / "out" / "tokenizer_config.json").read_text())
    assert tokenizer_config.get("tokenizer_class") != "TokenizersBackend"  # unknown to transformers 4
    assert_loads_as_the_run_scores(tmp_path / "out", load_trained_model(trained, torch.device("cpu")))

    documented = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "how-to" / "export.md").read_text(), re.DOTALL)[0]
    (tmp_path / "out").rename(tmp_path / "exported")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(documented, "docs/how-to/export.md", "exec"), namespace)  # noqa: S102 - the documented lines, as written
    assert namespace["model"].config.id2label == {0: "background", 1: "method", 2: "result"}


def roberta_model(trained: Path, folder: Path) -> TrainedModel:
    """A tiny random RoBERTa body (the run's tokenizer) and head, as a run would hold them."""
    from transformers import AutoTokenizer, RobertaConfig

    tokenizer = AutoTokenizer.from_pretrained(trained / "model")
    RobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=64, max_position_embeddings=40, pad_token_id=tokenizer.pad_token_id,
                  ).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / BODY_FILE).write_text(json.dumps({"max_length": 32}))
    torch.manual_seed(0)
    body = SavedEncoderBody(folder).eval()
    head = ClassificationHead(body, num_labels=3).eval()
    return TrainedModel(body, head, ["background", "method", "result"], torch.device("cpu"))


def test_a_roberta_body_exports_as_roberta_for_sequence_classification(trained: Path, tmp_path: Path) -> None:
    model = roberta_model(trained, tmp_path / "roberta")
    assert export_model(model, tmp_path / "out") == "RobertaForSequenceClassification"
    assert_loads_as_the_run_scores(tmp_path / "out", model)


def test_a_head_narrower_than_the_body_keeps_the_bare_encoder_export(trained: Path, tmp_path: Path) -> None:
    model = roberta_model(trained, tmp_path / "roberta")
    model.head = ClassificationHead(model.body, num_labels=3, hidden_size=8).eval()
    assert export_model(model, tmp_path / "out") == "RobertaModel"
    assert (tmp_path / "out" / "head.safetensors").exists()
