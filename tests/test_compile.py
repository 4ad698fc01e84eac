"""``compile: true`` trains the same model: gradients still land in the flat buffer the optimiser steps."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import torch

from tartan_fw.runner import run_experiment
from tartan_fw.training.checkpoint import TrainingCheckpoint


def test_a_compiled_body_trains_exactly_like_the_eager_one(tmp_path: Path, tiny: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Inductor would compile C++ for minutes on a CPU; aot_eager traces the same graphs (Dynamo and
    # AOTAutograd over parameters that are views of the flat buffer) and runs them eagerly.
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    weights = {}
    for compiled in (False, True):
        config = tiny(aux=("tapt",), max_steps=2, eval_every=2, checkpoint_every=2, compile=compiled)
        run_experiment(config, tmp_path / str(compiled), torch.device("cpu"), show_progress=False)
        weights[compiled], _ = TrainingCheckpoint(tmp_path / str(compiled) / "checkpoint").load()
    assert weights[True].keys() == weights[False].keys()
    assert all(torch.equal(weights[True][k], weights[False][k]) for k in weights[True])
