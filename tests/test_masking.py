"""BERT masking: 15% of real tokens chosen, of those 80% [MASK], 10% random, 10% unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tartan_fw.data.masking import mask_tokens
from tartan_fw.data.root import DataRoot

MASK_ID = 4
VOCAB = 1000


def masked_large_tensor(probability: float = 0.15) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, VOCAB, (400, 500), generator=generator)
    maskable = torch.rand(input_ids.shape, generator=generator) < 0.9
    corrupted, labels = mask_tokens(input_ids, maskable, MASK_ID, VOCAB, probability, generator)
    return input_ids, maskable, corrupted, labels


def test_fifteen_percent_of_maskable_tokens_are_chosen() -> None:
    _, maskable, _, labels = masked_large_tensor()
    chosen = labels.ne(-100)
    share = chosen.sum().item() / maskable.sum().item()
    assert abs(share - 0.15) < 0.005  # ~27k chosen of 180k: the standard error is under 0.001


def test_chosen_tokens_split_80_10_10() -> None:
    input_ids, _, corrupted, labels = masked_large_tensor()
    chosen = labels.ne(-100)
    total = chosen.sum().item()
    masked = (chosen & corrupted.eq(MASK_ID)).sum().item() / total
    kept = (chosen & corrupted.eq(input_ids)).sum().item() / total
    randomised = (chosen & corrupted.ne(MASK_ID) & corrupted.ne(input_ids)).sum().item() / total
    assert abs(masked - 0.8) < 0.015
    assert abs(kept - 0.1) < 0.01  # plus the 0.1% of random draws that hit the original token
    assert abs(randomised - 0.1) < 0.01
    replaced = corrupted[chosen & corrupted.ne(MASK_ID) & corrupted.ne(input_ids)]
    assert replaced.min() >= 0 and replaced.max() < VOCAB
    assert replaced.unique().numel() > VOCAB // 2  # drawn over the vocabulary, not one token


def test_labels_hold_originals_at_chosen_positions_only() -> None:
    input_ids, maskable, corrupted, labels = masked_large_tensor()
    chosen = labels.ne(-100)
    assert torch.equal(labels[chosen], input_ids[chosen])
    assert not (chosen & ~maskable).any()
    assert torch.equal(corrupted[~chosen], input_ids[~chosen])


def test_probability_is_honoured_and_masking_is_seeded() -> None:
    _, maskable, _, labels = masked_large_tensor(probability=0.4)
    assert abs(labels.ne(-100).sum().item() / maskable.sum().item() - 0.4) < 0.01
    assert torch.equal(masked_large_tensor()[2], masked_large_tensor()[2])


@pytest.fixture
def mlm_task(data_root: Path):
    from tartan_fw.models.bodies import ScratchBody
    from tartan_fw.tasks import MaskedLMTask

    root = DataRoot(data_root)
    body = ScratchBody(root, ["tiny/train.txt"], vocab_size=120, hidden_size=16, num_layers=1, num_heads=2,
                       intermediate_size=32, max_length=16)
    task = MaskedLMTask(body, root, 0, name="tapt", corpus="tiny/train.txt", batch_size=48)
    task.cls_id, task.sep_id = body.tokenizer.cls_token_id, body.tokenizer.sep_token_id
    return task


def test_collate_never_masks_special_or_padding_tokens(mlm_task) -> None:
    tokenizer_specials = mlm_task.special_ids
    chosen_total = maskable_total = 0
    for _ in range(40):
        original = mlm_task.collate(torch.arange(len(mlm_task.texts)))
        clean = original["labels"].ne(-100)
        restored = torch.where(clean, original["labels"], original["input_ids"])
        special = torch.isin(restored, tokenizer_specials) | original["attention_mask"].eq(0)
        assert not (clean & special).any()
        assert original["input_ids"][original["attention_mask"].eq(0)].eq(mlm_task.pad_id).all()
        assert original["num_targets"].item() == clean.sum().item()
        chosen_total += clean.sum().item()
        maskable_total += (~special).sum().item()
    assert abs(chosen_total / maskable_total - 0.15) < 0.02


def test_collate_keeps_cls_and_sep_in_place(mlm_task) -> None:
    batch = mlm_task.collate(torch.arange(8))
    last = batch["attention_mask"].sum(1) - 1
    rows = torch.arange(8)
    assert batch["input_ids"][:, 0].eq(mlm_task.cls_id).all() and batch["labels"][:, 0].eq(-100).all()
    assert batch["input_ids"][rows, last].eq(mlm_task.sep_id).all() and batch["labels"][rows, last].eq(-100).all()
