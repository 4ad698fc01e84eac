"""Masked-LM heads: trained or not is decided by what a head does; untrained ones are fitted, body frozen, first."""

from __future__ import annotations

import json
from contextlib import nullcontext
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import tiny_config, write_tiny_task
from safetensors.torch import load_file
from test_resume import after_step, resume_in_a_new_second, without_wall_time

from tartan_fw.data.root import DataRoot
from tartan_fw.errors import TrainingInterrupted
from tartan_fw.runner import run_experiment, training_loop
from tartan_fw.tasks import MaskedLMTask
from tartan_fw.training.head_warmup import HeadCheck, warmup_stage

CPU = torch.device("cpu")
WORDS = ["the", "model", "data", "task", "train", "test", "word", "text"]
SENTENCE = " ".join(WORDS)  # every line the same: a head that learnt it predicts each masked word


def save_tiny_bert(folder: Path, train_steps: int) -> Path:
    """A tiny BertForMaskedLM saved with its head: fitted to SENTENCE for ``train_steps`` steps (0: as initialised)."""
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    folder.mkdir(parents=True)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    tokenizer = BertTokenizerFast(vocab={token: index for index, token in enumerate(tokens)})
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=len(WORDS) + 5, hidden_size=32, num_hidden_layers=1,
                                       num_attention_heads=2, intermediate_size=64, max_position_embeddings=32))
    ids = tokenizer([SENTENCE] * 16, return_tensors="pt")["input_ids"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(train_steps):
        masked = ids.clone()
        chosen = (torch.rand(ids.shape, generator=torch.Generator().manual_seed(step)) < 0.3) & (ids > 4)
        masked[chosen] = 4
        loss = model(input_ids=masked, labels=torch.where(chosen, ids, -100)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(folder)
    return folder


def on_a_pretrained_body(config: dict[str, Any], folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``config`` with its scratch body swapped for a checkpoint's (a tiny BERT saved with a random head): only
    a pretrained body gets a head warm-up."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if not folder.exists():
        save_tiny_bert(folder, 0)
    return {**config, "body": {"type": "huggingface", "model_name": str(folder), "max_length": 32}}


def head_check(model_folder: Path, data: Path, monkeypatch: pytest.MonkeyPatch) -> HeadCheck:
    from tartan_fw.models.bodies import HuggingFaceBody

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (data / "c").mkdir(parents=True, exist_ok=True)
    (data / "c" / "train.txt").write_text((SENTENCE + "\n") * 64)
    body = HuggingFaceBody(data_root=None, model_name=str(model_folder), max_length=16)
    task = MaskedLMTask(body, DataRoot(str(data)), 0, name="tapt", corpus="c/train.txt", mask_probability=0.3)
    return HeadCheck("tapt", task.sample_loss(body, CPU, nullcontext),
                     float(torch.log(torch.tensor(float(task.vocab_size)))))


def test_a_pretrained_head_is_trained_and_a_saved_random_one_is_not(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    trained = head_check(save_tiny_bert(tmp_path / "trained", 150), tmp_path / "data", monkeypatch)
    assert trained.trained, trained
    # Saved with save_pretrained, so every head key is present: only its behaviour tells it is random.
    random_head = head_check(save_tiny_bert(tmp_path / "random", 0), tmp_path / "data", monkeypatch)
    assert not random_head.trained, random_head
    assert random_head.loss > trained.loss


def test_no_warmup_stage_when_every_head_is_trained_or_it_is_off(tiny: Any, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    loop = training_loop(on_a_pretrained_body(tiny(aux=("tapt",)), tmp_path / "bert", monkeypatch), tmp_path / "run")
    trained = [HeadCheck("tapt", 0.5, 4.8)]
    untrained = [HeadCheck("tapt", 4.9, 4.8)]
    assert warmup_stage(loop.run, trained, 10, 1e-3) is None
    assert warmup_stage(loop.run, untrained, None, 1e-3) is None
    stage = warmup_stage(loop.run, untrained, 10, 1e-3)
    assert stage is not None and stage.frozen_body and [t.name for t in stage.tasks] == ["tapt"]


def test_a_random_body_gets_no_warmup_its_heads_learn_with_it(tiny: Any, tmp_path: Path) -> None:
    metrics = run_experiment(tiny(aux=("tapt",), head_warmup_steps=30, max_steps=2, eval_every=2), tmp_path / "run",
                             CPU, show_progress=False).to_dict()
    assert [stage["name"] for stage in metrics["stages"]] == ["multitask"]
    head = metrics["mlm_heads"]["tapt"]
    assert not head["trained"] and head["loss_after_warmup"] is None


def test_the_warmup_fits_the_untrained_heads_and_leaves_the_body_as_it_was(tiny: Any, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    config = on_a_pretrained_body(tiny(aux=("tapt", "dapt"), head_warmup_steps=30, head_warmup_lr=1e-2),
                                  tmp_path / "bert", monkeypatch)
    loop = training_loop(config, tmp_path / "run", choose=lambda run, stages: stages[0])
    assert loop.name == "head_warmup" and loop.stage.frozen_body
    body = {k: v.clone() for k, v in loop.run.body.state_dict().items()}
    heads = [p.detach().clone() for group in loop.head_parameters for p in group]
    loop.train()
    assert all(torch.equal(body[k], v) for k, v in loop.run.body.state_dict().items())
    assert any(not torch.equal(a, p) for a, p in zip(heads, (p for g in loop.head_parameters for p in g)))


def test_a_run_records_each_heads_loss_before_and_after_its_warmup(tiny: Any, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = on_a_pretrained_body(tiny(aux=("tapt",), head_warmup_steps=30, head_warmup_lr=1e-2, max_steps=2,
                                       eval_every=2), tmp_path / "bert", monkeypatch)
    metrics = run_experiment(config, tmp_path / "run", CPU, show_progress=False).to_dict()
    assert [stage["name"] for stage in metrics["stages"]] == ["head_warmup", "multitask"]
    head = metrics["mlm_heads"]["tapt"]
    assert not head["trained"] and head["loss_before"] > 0.5 * head["uniform_loss"]
    assert head["loss_after_warmup"] < head["loss_before"]
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["mlm_heads"] == metrics["mlm_heads"]


def test_a_fine_tune_only_run_checks_no_head(tiny: Any, tmp_path: Path) -> None:
    metrics = run_experiment(tiny(aux=(), head_warmup_steps=30, max_steps=2, eval_every=2), tmp_path / "run", CPU,
                             show_progress=False).to_dict()
    assert metrics["mlm_heads"] == {} and [s["name"] for s in metrics["stages"]] == ["multitask"]


def test_a_run_interrupted_in_its_warmup_resumes_to_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tiny_task(tmp_path / "data")
    config = on_a_pretrained_body(tiny_config(tmp_path / "data", aux=("tapt",), head_warmup_steps=4, head_warmup_lr=1e-2,
                                              max_steps=4, eval_every=2, checkpoint_every=2), tmp_path / "bert", monkeypatch)
    run_experiment(config, tmp_path / "reference", CPU, show_progress=False)
    after_step(monkeypatch, lambda step: step == 3 and signal.raise_signal(signal.SIGINT), stages=("head_warmup",))
    with pytest.raises(TrainingInterrupted, match="stopped after step 3 \\(head_warmup\\)"):
        run_experiment(config, tmp_path / "interrupted", CPU, show_progress=False)
    monkeypatch.undo()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    resumed = resume_in_a_new_second(["resume", str(tmp_path / "interrupted"), "--device", "cpu", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    ours, theirs = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("interrupted", "reference"))
    assert without_wall_time(ours) == without_wall_time(theirs)
    best, reference = (load_file(str(tmp_path / d / "best" / "model.safetensors")) for d in ("interrupted", "reference"))
    assert all(torch.equal(best[k], reference[k]) for k in reference)
