"""META-TARTAN's meta head is fitted on rows kept apart from the ones it scores.

Fitted on the very batch whose training gradient the meta-gradient is compared with, phi* turns
the end-task's cosine negative and META-TARTAN turns the end-task down. These tests pin down
which rows each ``meta_source`` fits phi* on, and measure the bias on a small synthetic task
whose body has memorised its training set (as a trained encoder has).
"""

from __future__ import annotations

import statistics
from contextlib import nullcontext
from typing import Any

import pytest
import torch
from torch import nn

from tartan_fw.weighters import MetaWeighter, TaskGradient, WeighterContext


class LinearHead(nn.Module):
    def __init__(self, width: int, classes: int) -> None:
        super().__init__()
        self.out = nn.Linear(width, classes)

    def features(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.out(features)


class BlobTask:
    """An end-task whose classes are Gaussian blobs: informative inputs, an MLP body, a linear head."""

    name = "end"

    def __init__(self, sizes: dict[str, int], classes: int = 4, dim: int = 16, width: int = 128, seed: int = 0) -> None:
        draw = torch.Generator().manual_seed(seed)
        means = torch.randn(classes, dim, generator=draw)
        self.data = {}
        for split, size in sizes.items():
            labels = torch.arange(size) % classes
            self.data[split] = (means[labels] + torch.randn(size, dim, generator=draw), labels)
        self.labels = [str(c) for c in range(classes)]
        self.width = width
        torch.manual_seed(seed)
        self.body = nn.Sequential(nn.Linear(dim, width), nn.Tanh(), nn.Linear(width, width), nn.LayerNorm(width))
        self.head = LinearHead(width, classes)
        self.collated: list[tuple[str, torch.Tensor]] = []

    def build_head(self, body: nn.Module) -> LinearHead:
        return LinearHead(self.width, len(self.labels))

    def split_size(self, split: str) -> int:
        return len(self.data[split][1])

    def collate(self, rows: torch.Tensor, split: str) -> dict[str, torch.Tensor]:
        self.collated.append((split, rows.clone()))
        inputs, labels = self.data[split]
        return {"inputs": inputs[rows], "labels": labels[rows]}

    def encode(self, body: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return body(batch["inputs"])

    def memorise_train(self, steps: int = 300) -> None:
        """Fit body and head to the whole training set (training accuracy 1)."""
        inputs, labels = self.data["train"]
        optimizer = torch.optim.Adam([*self.body.parameters(), *self.head.parameters()], lr=1e-2)
        for _ in range(steps):
            loss = nn.functional.cross_entropy(self.head(self.body(inputs)), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def train_gradient(self, rows: torch.Tensor) -> TaskGradient:
        """The end-task's body gradient on training ``rows`` through its own head, as a step takes it."""
        inputs, labels = self.data["train"]
        features = self.body(inputs[rows])
        loss = nn.functional.cross_entropy(self.head(features), labels[rows])
        grads = torch.autograd.grad(loss, list(self.body.parameters()))
        return TaskGradient(0, torch.cat([g.reshape(-1) for g in grads]), features.detach(), labels[rows])


def weighter_on(task: BlobTask, **settings: Any) -> MetaWeighter:
    weighter = MetaWeighter(**settings)
    context = WeighterContext(task.body, list(task.body.parameters()), task, torch.device("cpu"), nullcontext, seed=0)
    weighter.setup([task.name], context)
    return weighter


def fitted_rows(task: BlobTask, weighter: MetaWeighter, gradient: TaskGradient) -> dict[str, Any]:
    """One update: the splits and rows collated, and the features phi* was fitted on."""
    fitted: list[torch.Tensor] = []
    fit = weighter.fitter.fit
    weighter.fitter.fit = lambda features, labels, seed: fitted.append(features) or fit(features, labels, seed)
    task.collated.clear()
    weighter.begin_step(1)
    weighter.coefficient(gradient)
    weighter.fitter.fit = fit
    return {"collated": list(task.collated), "fitted": fitted}


def test_each_meta_source_fits_phi_star_on_the_rows_it_names() -> None:
    task = BlobTask({"train": 40, "dev": 30})
    gradient = task.train_gradient(torch.arange(8))

    dev = fitted_rows(task, weighter_on(task, meta_batch_size=10, dev_batch_size=20), gradient)
    (fit_split, fit_rows), (scored_split, scored_rows) = dev["collated"]
    assert (fit_split, scored_split) == ("dev", "dev")
    assert (len(fit_rows), len(scored_rows)) == (10, 20)
    assert not set(fit_rows.tolist()) & set(scored_rows.tolist())  # kept apart

    train = fitted_rows(task, weighter_on(task, meta_batch_size=10, dev_batch_size=20, meta_source="train"), gradient)
    assert [(split, len(rows)) for split, rows in train["collated"]] == [("train", 10), ("dev", 20)]

    step = fitted_rows(task, weighter_on(task, meta_batch_size=10, dev_batch_size=20, meta_source="step"), gradient)
    assert [(split, len(rows)) for split, rows in step["collated"]] == [("dev", 20)]
    assert torch.equal(step["fitted"][0], gradient.features)  # the scored batch itself: the biased option

    same = fitted_rows(task, weighter_on(task, dev_batch_size=20, same_head=True), gradient)
    assert [(split, len(rows)) for split, rows in same["collated"]] == [("dev", 20)] and not same["fitted"]


def test_the_dev_split_must_hold_both_samples() -> None:
    from tartan_fw.errors import ConfigurationError

    task = BlobTask({"train": 40, "dev": 30})
    with pytest.raises(ConfigurationError, match=r"weighter.meta_batch_size: .* 32 dev examples .* 64 .* has 30"):
        weighter_on(task)


def end_task_cosines(task: BlobTask, draws: int, **settings: Any) -> list[float]:
    """The end-task's cosine with the meta-gradient over paired draws of a 16-row training batch."""
    weighter = weighter_on(task, **settings)
    batches = torch.Generator().manual_seed(1)
    cosines = []
    for draw in range(1, draws + 1):
        weighter.begin_step(draw)
        weighter.coefficient(task.train_gradient(torch.randperm(task.split_size("train"), generator=batches)[:16]))
        cosines.append(float(weighter.cosines[0]))
    return cosines


def z_score(values: list[float]) -> float:
    return statistics.fmean(values) / (statistics.stdev(values) / len(values) ** 0.5)


def test_default_meta_head_does_not_turn_the_end_task_down() -> None:
    task = BlobTask({"train": 64, "dev": 256})
    task.memorise_train()
    draws = 200
    default = end_task_cosines(task, draws)  # phi* on 32 dev rows, scored on 64 others
    on_scored_batch = end_task_cosines(task, draws, meta_batch_size=16, meta_source="step")
    # Not significantly negative with the default; the check has the power to see the bias, which
    # fitting phi* on the scored batch brings (seen: z = +2.3 and -3.3; paired difference z = +7.4).
    assert z_score(default) > -2
    assert z_score(on_scored_batch) < -2.5
    assert z_score([a - b for a, b in zip(default, on_scored_batch)]) > 3
