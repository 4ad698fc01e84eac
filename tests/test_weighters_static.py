"""Static weighters: uniform (MT-TARTAN) and fixed per-task weights."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
import torch
from torch import nn

from tartan_fw.common.from_config import build, validate
from tartan_fw.errors import ConfigurationError
from tartan_fw.weighters import FixedWeighter, TaskGradient, UniformWeighter, Weighter, WeighterContext

TASKS = ["citation_intent", "tapt", "dapt"]


def context() -> WeighterContext:
    body = nn.Linear(2, 2)
    return WeighterContext(body, list(body.parameters()), None, torch.device("cpu"), nullcontext, 0)


@pytest.mark.parametrize("n_aux", [0, 1, 2, 5])
def test_uniform_weighs_every_task_one_over_n_aux_plus_one(n_aux: int) -> None:
    weighter = build(Weighter, {"type": "uniform"})
    names = ["end", *(f"aux{i}" for i in range(n_aux))]
    weighter.setup(names, context())
    expected = 1.0 / (n_aux + 1)
    torch.testing.assert_close(weighter.weights(), torch.full((n_aux + 1,), expected))
    for index in range(n_aux + 1):
        gradient = TaskGradient(index, torch.ones(3))
        assert weighter.coefficient(gradient) == pytest.approx(expected)
        assert weighter.head_scale(index) == pytest.approx(expected)
    assert weighter.normaliser() == 1.0


def test_uniform_is_the_default_weighter() -> None:
    assert isinstance(build(Weighter, {}), UniformWeighter)


def test_fixed_normalises_in_task_order() -> None:
    weighter = build(Weighter, {"type": "fixed", "weights": {"dapt": 1, "citation_intent": 6, "tapt": 1}})
    weighter.setup(TASKS, context())
    torch.testing.assert_close(weighter.weights(), torch.tensor([0.75, 0.125, 0.125]))
    assert weighter.coefficient(TaskGradient(1, torch.ones(2))) == pytest.approx(0.125)
    assert weighter.head_scale(0) == pytest.approx(0.75)
    assert float(weighter.weights().sum()) == pytest.approx(1.0)


def test_fixed_allows_a_zero_weight() -> None:
    weighter = FixedWeighter({"citation_intent": 1.0, "tapt": 0.0, "dapt": 1.0})
    weighter.setup(TASKS, context())
    torch.testing.assert_close(weighter.weights(), torch.tensor([0.5, 0.0, 0.5]))


@pytest.mark.parametrize(
    "weights, missing, unknown",
    [
        ({"citation_intent": 1, "tapt": 1}, "dapt", "none"),
        ({"citation_intent": 1, "tapt": 1, "dapt": 1, "tapd": 1}, "none", "tapd"),
        ({"citation": 1, "tapt": 1, "dapt": 1}, "citation_intent", "citation"),
    ],
)
def test_fixed_names_missing_and_unknown_tasks(weights: dict, missing: str, unknown: str) -> None:
    weighter = FixedWeighter(weights)
    with pytest.raises(ConfigurationError) as err:
        weighter.setup(TASKS, context())
    message = str(err.value)
    assert message.startswith("weighter.weights: give one weight per task (citation_intent, tapt, dapt)")
    assert f"missing: {missing}" in message and f"unknown: {unknown}" in message


@pytest.mark.parametrize("weights, problem", [
    ({"citation_intent": -1, "tapt": 2}, "weighter.weights.citation_intent: must be a finite number >= 0, got -1.0"),
    ({"citation_intent": 0, "tapt": 0}, "weighter.weights: must be not all zero, got {'citation_intent': 0.0, 'tapt': 0.0}"),
    ({}, "weighter.weights: must be not all zero, got {}"),
])
def test_fixed_rejects_negative_or_all_zero_weights_before_building(weights: dict, problem: str) -> None:
    assert validate(Weighter, {"type": "fixed", "weights": weights}, "weighter") == [problem]


def test_fixed_requires_weights() -> None:
    with pytest.raises(ConfigurationError, match=r"weighter\.weights: missing required parameter of weighter 'fixed'"):
        build(Weighter, {"type": "fixed"}, "weighter")


def test_fixed_weights_are_checked_when_the_experiment_is_built(tiny) -> None:
    from tartan_fw.experiment import Experiment

    config = tiny()
    config["weighter"] = {"type": "fixed", "weights": {"tiny": 2, "tapt": 1, "dap": 1}}
    with pytest.raises(ConfigurationError) as err:
        build(Experiment, config)
    assert err.value.problems == [
        "weighter.weights: give one weight per task (tiny, tapt, dapt); missing: dapt; unknown: dap"
    ]
    config["weighter"]["weights"] = {"tiny": 2, "tapt": 1, "dapt": 1}
    assert build(Experiment, config).weighter.given == {"tiny": 2, "tapt": 1, "dapt": 1}
