"""Gradient accumulation: k micro-batches of B/k give the same update as one batch of B, for every
weighter, with auxiliary masked-LM tasks (normalised by the whole batch's masked-token count)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tartan_fw.runner import training_loop
from tartan_fw.training import StageLoop
from tartan_fw.weighters import Weighter

CPU = torch.device("cpu")
# Weighters whose constructor needs parameters; any other weighter is configured by its type alone.
CONFIGS: dict[str, dict[str, Any]] = {"fixed": {"type": "fixed", "weights": {"tiny": 3.0, "tapt": 1.0, "dapt": 2.0}}}
OWN_TEST = {"meta"}  # tests/test_meta_weighter.py covers META-TARTAN's accumulation with its own settings
# Named, not read from the registry (which would make the coverage check below a tautology): a new
# built-in weighter fails that check until it joins this list.
WEIGHTERS = ["fixed", "gcs", "pcgrad", "uncertainty", "uniform"]


def coverage_gaps() -> tuple[set[str], set[str]]:
    """The built-in weighters no accumulation test covers, and the covered names no longer registered."""
    builtin = {name for name in Weighter.list_available() if Weighter.by_name(name).__module__.startswith("tartan_fw.")}
    covered = set(WEIGHTERS) | OWN_TEST
    return builtin - covered, covered - builtin


def head_tensors(loop: StageLoop, attribute: str) -> list[torch.Tensor]:
    return [getattr(p, attribute).clone() for group in loop.head_parameters for p in group]


def counting(loss, sizes: list[int]):
    def wrapped(body, batch):
        sizes.append(len(batch["input_ids"]))
        return loss(body, batch)

    return wrapped


def after_steps(tiny, directory: Path, weighter: str, accumulation_steps: int, steps: int) -> dict[str, Any]:
    config = tiny(accumulation_steps=accumulation_steps, max_grad_norm=1.0, max_steps=10)
    config["weighter"] = CONFIGS.get(weighter, {"type": weighter})
    loop = training_loop(config, directory / f"{weighter}-{accumulation_steps}")
    trace: dict[str, Any] = {"losses": [], "body_grads": [], "head_grads": [], "micro_batches": []}
    for task in loop.tasks:  # record each micro-batch's size, to show the batch really was split
        task.loss = counting(task.loss, trace["micro_batches"])
    for step in range(1, steps + 1):
        losses = loop.step(step)
        trace["losses"].append(torch.stack(list(losses.values())) if isinstance(losses, dict) else losses.clone())
        trace["body_grads"].append(loop.flat.grad.clone())
        trace["head_grads"].append(head_tensors(loop, "grad"))
    trace["body"] = loop.flat.data.clone()
    trace["heads"] = head_tensors(loop, "data")
    trace["weights"] = loop.weighter.weights().clone()
    return trace


def assert_same(split: torch.Tensor, whole: torch.Tensor) -> None:
    """Equal up to float32 summation order: 1e-5 of the tensor's largest entry (a wrong
    normalisation or a lost micro-batch changes entries by a sizeable fraction of it)."""
    torch.testing.assert_close(split, whole, rtol=1e-4, atol=1e-5 * float(whole.abs().max()) + 1e-9)


@pytest.mark.parametrize("accumulation_steps", [2, 4, 8])  # 8: more than any batch has examples
@pytest.mark.parametrize("weighter", WEIGHTERS)
def test_micro_batches_give_the_same_update(tiny, tmp_path: Path, weighter: str, accumulation_steps: int) -> None:
    whole = after_steps(tiny, tmp_path, weighter, 1, steps=2)
    split = after_steps(tiny, tmp_path, weighter, accumulation_steps, steps=2)
    batch_sizes = [6, 4, 4]  # tiny's end-task and its two masked-LM tasks
    assert whole["micro_batches"] == batch_sizes * 2
    assert len(split["micro_batches"]) == 2 * sum(min(accumulation_steps, size) for size in batch_sizes)
    assert max(split["micro_batches"]) < 4
    assert sum(split["micro_batches"]) == 2 * sum(batch_sizes)
    torch.testing.assert_close(split["weights"], whole["weights"])
    for step in range(2):
        assert_same(split["losses"][step], whole["losses"][step])
        # The clipped, weighted gradients the optimiser consumed at this step.
        assert_same(split["body_grads"][step], whole["body_grads"][step])
        for a, b in zip(split["head_grads"][step], whole["head_grads"][step]):
            assert_same(a, b)
    # AdamW divides by the gradient's magnitude, so float noise in a near-zero gradient entry can
    # move a parameter by ~1e-7; a real difference in the update moves it by ~lr (1e-3).
    after_adam = {"rtol": 1e-5, "atol": 1e-5}
    torch.testing.assert_close(split["body"], whole["body"], **after_adam)
    for a, b in zip(split["heads"], whole["heads"]):
        torch.testing.assert_close(a, b, **after_adam)


def test_every_registered_weighter_is_covered() -> None:
    assert coverage_gaps() == (set(), set())


def test_the_coverage_check_sees_a_new_weighter_and_a_lost_one(registry, monkeypatch: pytest.MonkeyPatch) -> None:
    from tartan_fw.weighters import UniformWeighter

    @Weighter.register("newcomer")
    class Newcomer(UniformWeighter):
        pass

    Newcomer.__module__ = "tartan_fw.weighters.newcomer"  # as a built-in added to the package would be
    monkeypatch.setattr(f"{__name__}.WEIGHTERS", [*WEIGHTERS, "retired"])
    assert coverage_gaps() == ({"newcomer"}, {"retired"})
