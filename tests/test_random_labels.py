"""The random-labels control task: fixed random labels per text, trainable from a config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tartan_fw.common.from_config import build
from tartan_fw.experiment import Experiment, prepare
from tartan_fw.runner import training_loop
from tartan_fw.tasks import AuxTask

CPU = torch.device("cpu")


def control(**settings: Any) -> dict[str, Any]:
    return {"type": "random_labels", "name": "control", "corpus": "tiny/train.txt", "batch_size": 4, **settings}


def prepared(tiny, seed: int = 0, **settings: Any) -> list[AuxTask]:
    config = tiny(aux=("tapt",))
    config["aux_tasks"].append(control(**settings))
    config["seed"] = seed
    config["weighter"] = {"type": "meta", "meta_batch_size": 4, "dev_batch_size": 4}
    experiment = build(Experiment, config)
    return prepare(experiment, CPU)[2]


def test_labels_are_uniform_draws_fixed_by_the_seed(tiny) -> None:
    first = prepared(tiny, num_labels=3)[1]
    again = prepared(tiny, num_labels=3)[1]
    other = prepared(tiny, seed=1, num_labels=3)[1]
    assert len(first.targets) == len(first.texts) == 48
    assert torch.equal(first.targets, again.targets)
    assert not torch.equal(first.targets, other.targets)
    assert set(first.targets.tolist()) == {0, 1, 2}
    assert first.head.output.out_features == 3
    batch = first.collate(torch.tensor([5, 2, 7]))
    assert torch.equal(batch["labels"], first.targets[[5, 2, 7]]) and int(batch["num_targets"]) == 3


def test_reads_the_texts_of_a_labelled_file(tiny, data_root: Path) -> None:
    task = prepared(tiny, corpus="tiny/dev.jsonl", reader={"type": "jsonl_classification"})[1]
    assert len(task.texts) == len((data_root / "tiny" / "dev.jsonl").read_text().splitlines())


def test_trains_alongside_the_end_task_under_meta_weights(tiny, tmp_path: Path) -> None:
    config = tiny(aux=("tapt",))
    config["aux_tasks"].append(control(num_labels=4))
    config["weighter"] = {"type": "meta", "meta_batch_size": 4, "dev_batch_size": 4}
    loop = training_loop(config, tmp_path)
    head = loop.run.aux_tasks[1].head
    before = [p.detach().clone() for p in head.parameters()]
    losses = [loop.step(step)["control"] for step in (1, 2, 3)]
    assert abs(float(losses[0]) - torch.log(torch.tensor(4.0))) < 0.5  # chance level at the start
    assert all(not torch.equal(a, b) for a, b in zip(before, head.parameters()))
    assert float(loop.weighter.norms[2]) > 0  # its gradient reached the shared body
    assert torch.isclose(loop.weighter.weights().sum(), torch.tensor(1.0))
