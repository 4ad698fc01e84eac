"""The replaced-token detection plugin (plugins/electra): corruption, head loss, a training run."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from click.testing import CliRunner

from tartan_fw.cli.main import cli

from conftest import REPO, load_shipped_plugins

load_shipped_plugins()

from plugins.electra.head import TokenDiscriminatorHead  # noqa: E402
from plugins.electra.task import replace_tokens  # noqa: E402


class FakeBody:
    hidden_size = 8


def test_replacements_follow_the_unigram_and_labels_mark_them() -> None:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.full((64, 50), 3)
    replaceable = torch.ones_like(input_ids, dtype=torch.bool)
    replaceable[:, 0] = False
    unigram = torch.tensor([0.0, 0.0, 0.0, 1.0, 3.0])  # ids 0-2 never drawn; 4 three times as often as 3
    corrupted, labels = replace_tokens(input_ids, replaceable, unigram, 0.4, generator)
    assert bool(labels[:, 0].eq(-100).all()) and bool(corrupted[:, 0].eq(3).all())
    assert set(corrupted.unique().tolist()) <= {3, 4}
    assert torch.equal(labels[:, 1:], corrupted[:, 1:].ne(3).long())
    replaced = labels.eq(1).float().mean().item() * 50 / 49
    assert 0.25 < replaced < 0.35  # 0.4 chosen x 3/4 of draws differ from the original


def test_head_loss_is_binary_cross_entropy_over_scored_positions() -> None:
    torch.manual_seed(0)
    head = TokenDiscriminatorHead(FakeBody(), dropout=0.0)
    hidden = torch.randn(2, 5, 8, requires_grad=True)
    labels = torch.tensor([[-100, 0, 1, 1, -100], [-100, 1, 0, -100, -100]])
    loss = head(hidden, labels)
    logits = head.output(torch.nn.functional.gelu(head.dense(hidden))).squeeze(-1)
    scored = labels.ne(-100)
    p = torch.sigmoid(logits[scored])
    y = labels[scored].float()
    expected = -(y * p.log() + (1 - y) * (1 - p).log()).sum()
    assert torch.allclose(loss, expected, atol=1e-5)
    loss.backward()
    assert hidden.grad[labels.eq(-100)].abs().sum() == 0 and hidden.grad[scored].abs().sum() > 0


def test_rtd_trains_beside_masked_lm(tmp_path: Path, tiny, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    config = tiny(aux=("tapt",))
    config["include"] = ["plugins.electra"]
    config["aux_tasks"].append({"type": "rtd", "name": "rtd", "corpus": "tiny/domain.1xTAPT.txt", "batch_size": 4})
    path = tmp_path / "rtd.json"
    path.write_text(json.dumps(config))
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(path), "-s", str(out), "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "metrics.json").read_text())["tokens"]["multitask/rtd"] > 0
