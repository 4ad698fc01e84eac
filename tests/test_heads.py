"""Heads: the classification MLP on the first token, and the masked-LM head on masked positions only."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from tartan_fw.models.heads import ClassificationHead, MaskedLMHead

WORDS = ["the", "model", "data", "task", "train", "test", "word", "text"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BertForMaskedLM with a WordPiece tokenizer, saved as a local Hugging Face model."""
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(WORDS) + 5, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32)
    model = BertForMaskedLM(config)
    with torch.no_grad():  # make the saved head distinguishable from a fresh initialisation
        for parameter in model.cls.parameters():
            parameter.add_(torch.randn_like(parameter))
    model.save_pretrained(folder)
    return folder


@pytest.fixture
def hf_body(checkpoint: Path, monkeypatch: pytest.MonkeyPatch):
    from tartan_fw.models.bodies import HuggingFaceBody

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return HuggingFaceBody(data_root=None, model_name=str(checkpoint), max_length=16)


def test_classification_head_shapes_and_first_token() -> None:
    torch.manual_seed(0)
    head = ClassificationHead(SimpleNamespace(hidden_size=12), num_labels=5, dropout=0.0).eval()
    hidden = torch.randn(3, 7, 12)
    features = head.features(hidden)
    logits = head(features)
    assert features.shape == (3, 12) and logits.shape == (3, 5)
    later_tokens_changed = hidden.clone()
    later_tokens_changed[:, 1:] += 10.0
    assert torch.equal(head(head.features(later_tokens_changed)), logits)
    first_changed = hidden.clone()
    first_changed[:, 0] += 1.0
    assert not torch.allclose(head(head.features(first_changed)), logits)


def test_classification_head_width() -> None:
    head = ClassificationHead(SimpleNamespace(hidden_size=12), num_labels=2, hidden_size=7)
    assert head.dense.weight.shape == (7, 12) and head.output.weight.shape == (2, 7)


def test_masked_lm_head_projects_only_masked_positions(hf_body) -> None:
    head = MaskedLMHead(hf_body)
    decoder = head.predictions.predictions.decoder
    rows: list[int] = []
    decoder.register_forward_hook(lambda module, inputs, output: rows.append(inputs[0].shape[0]))
    hidden = torch.randn(4, 10, 16)
    labels = torch.full((4, 10), -100)
    labels[0, 1], labels[2, 3], labels[2, 5] = 5, 6, 7
    loss = head(hidden, labels)
    assert rows == [3]
    logits = hf_body.lm_head()(hidden[labels.ne(-100)])
    expected = nn.functional.cross_entropy(logits, torch.tensor([5, 6, 7]), reduction="sum")
    torch.testing.assert_close(loss, expected)


def test_masked_lm_head_with_nothing_masked_is_zero_without_nan(hf_body) -> None:
    head = MaskedLMHead(hf_body)
    hidden = torch.randn(2, 6, 16, requires_grad=True)
    loss = head(hidden, torch.full((2, 6), -100))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(hidden.grad).all() and hidden.grad.abs().sum() == 0


def test_masked_lm_head_reuses_the_pretrained_head_tied_to_the_embeddings(checkpoint: Path, hf_body) -> None:
    from safetensors.torch import load_file

    saved = load_file(str(checkpoint / "model.safetensors"))
    assert hf_body.lm_head_is_pretrained
    head = MaskedLMHead(hf_body)
    head_state = {f"cls.{name}": value for name, value in head.predictions.state_dict().items()}
    saved_head = {name: value for name, value in saved.items() if name.startswith("cls.")}
    assert len(saved_head) == 5  # transform dense and LayerNorm weights and biases, output bias
    for name, value in saved_head.items():
        torch.testing.assert_close(head_state[name], value, rtol=0, atol=0)
    embeddings = hf_body.encoder.get_input_embeddings().weight
    assert head.predictions.predictions.decoder.weight is embeddings
    other = MaskedLMHead(hf_body)
    assert other.predictions.predictions.transform.dense.weight is not head.predictions.predictions.transform.dense.weight
    assert other.predictions.predictions.decoder.weight is embeddings


def test_a_checkpoint_without_lm_head_is_reported_as_not_pretrained(tmp_path: Path, checkpoint: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import AutoTokenizer, BertModel

    from tartan_fw.models.bodies import HuggingFaceBody

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder_only = BertModel.from_pretrained(checkpoint)
    encoder_only.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(checkpoint).save_pretrained(tmp_path)
    body = HuggingFaceBody(data_root=None, model_name=str(tmp_path), max_length=16)
    assert not body.lm_head_is_pretrained
    head = MaskedLMHead(body)
    assert head.predictions.predictions.decoder.weight is body.encoder.get_input_embeddings().weight


def test_missing_model_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tartan_fw.errors import TartanError
    from tartan_fw.models.bodies import HuggingFaceBody

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TartanError, match=r"body\.model_name: cannot load .*--ext-var model="):
        HuggingFaceBody(data_root=None, model_name=str(tmp_path / "no-model"), max_length=16)


def test_fresh_lm_head_when_the_body_has_none() -> None:
    embeddings = nn.Embedding(11, 8)
    body = SimpleNamespace(lm_head=lambda: None, hidden_size=8,
                           encoder=SimpleNamespace(get_input_embeddings=lambda: embeddings))
    head = MaskedLMHead(body)
    rows: list[int] = []
    head.predictions.dense.register_forward_hook(lambda module, inputs, output: rows.append(inputs[0].shape[0]))
    labels = torch.full((2, 5), -100)
    labels[1, 2] = 3
    loss = head(torch.randn(2, 5, 8), labels)
    assert rows == [1] and loss.item() > 0
    assert head.predictions.decoder_weight is embeddings.weight
