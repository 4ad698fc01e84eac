"""Length-bucketed index streams: every example once per epoch, little padding, reproducible and resumable."""

from __future__ import annotations

from typing import Any

import torch

from tartan_fw.common.from_config import build
from tartan_fw.data.batching import IndexStream
from tartan_fw.experiment import Experiment, prepare

LENGTHS = torch.randint(5, 200, (103,), generator=torch.Generator().manual_seed(0))


def padding(stream: IndexStream, batches: int) -> float:
    """Share of padded positions over ``batches`` batches padded to their longest text."""
    padded = real = 0
    for _ in range(batches):
        lengths = LENGTHS[stream.next()]
        padded += int(lengths.max()) * len(lengths)
        real += int(lengths.sum())
    return 1 - real / padded


def test_buckets_hold_each_example_once_per_epoch_sorted_by_length() -> None:
    stream = IndexStream(len(LENGTHS), 8, seed=3, lengths=LENGTHS, bucket_batches=4)
    epoch = stream._order
    assert torch.equal(epoch.sort().values, torch.arange(len(LENGTHS)))
    for bucket in epoch.split(32):
        lengths = LENGTHS[bucket]
        assert torch.all(lengths[:-1] >= lengths[1:])
    # Over four epochs (103 examples: batches straddle the epoch ends), padding halves or better.
    plain = IndexStream(len(LENGTHS), 8, seed=3)
    assert padding(IndexStream(len(LENGTHS), 8, 3, LENGTHS, 4), 52) < padding(plain, 52) / 2


def test_bucketed_streams_are_reproducible_and_resume_exactly() -> None:
    first, second = (IndexStream(len(LENGTHS), 8, 5, LENGTHS, 4) for _ in range(2))
    drawn = [first.next() for _ in range(17)]  # past the first epoch (13 batches)
    assert all(torch.equal(a, second.next()) for a in drawn)
    resumed = IndexStream(len(LENGTHS), 8, 5, LENGTHS, 4)
    resumed.load_state_dict(first.state_dict())
    assert all(torch.equal(first.next(), resumed.next()) for _ in range(20))
    assert not torch.equal(IndexStream(len(LENGTHS), 8, 6, LENGTHS, 4)._order, first._order)


def test_tasks_take_bucket_batches_from_their_config(tiny: Any) -> None:
    config = tiny(aux=("tapt",))
    config["aux_tasks"][0]["bucket_batches"] = 3
    experiment = build(Experiment, config)
    _, end_task, (tapt,) = prepare(experiment, torch.device("cpu"))
    assert tapt.stream.bucket == 3 * tapt.batch_size and end_task.stream.bucket == 0
    lengths = tapt.texts.lengths()[tapt.stream._order[: tapt.stream.bucket]]
    assert torch.all(lengths[:-1] >= lengths[1:])
