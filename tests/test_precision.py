"""Mixed precision: what ``auto`` picks, what stays fp32 under bf16 autocast, and accumulation within bf16's tolerance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from tartan_fw.runner import run_experiment, training_loop
from tartan_fw.training import precision as precision_module
from tartan_fw.training.precision import resolve_precision

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.mark.parametrize("native, expected", [(True, torch.bfloat16), (False, None)])
def test_auto_is_bf16_on_cuda_and_on_cpus_that_compute_it_natively(
    monkeypatch: pytest.MonkeyPatch, native: bool, expected: Any
) -> None:
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: native)
    assert resolve_precision("auto", CPU) is expected
    assert resolve_precision("auto", CUDA) is torch.bfloat16
    assert resolve_precision("bf16", CPU) is torch.bfloat16  # forced, emulated where not native
    assert resolve_precision("fp32", CUDA) is None


def test_a_wrong_precision_is_a_config_error(tiny: Any) -> None:
    from tartan_fw.pipeline import validate_config

    problems = validate_config(tiny(precision="fp16"))
    assert any(p.startswith("trainer.precision:") and "fp16" in p for p in problems), problems


def test_under_bf16_weights_gradients_optimiser_state_and_losses_stay_fp32(tiny: Any, tmp_path: Path) -> None:
    loop = training_loop(tiny(precision="bf16"), tmp_path)
    assert loop.run.precision is torch.bfloat16
    losses = loop.step(1)
    assert all(loss.dtype == torch.float32 for loss in losses.values())
    assert loop.flat.grad.dtype == torch.float32
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in loop.all_parameters)
    state = [t for s in loop.optimizer.state.values() for t in s.values() if t.dim() > 0]
    assert state and all(t.dtype == torch.float32 for t in state)
    # The matrix products really ran in bf16: the same step in fp32 differs by bf16's rounding, not by 0.
    fp32 = training_loop(tiny(precision="fp32"), tmp_path / "fp32")
    fp32_losses = fp32.step(1)
    difference = max(abs(float(losses[k]) - float(fp32_losses[k])) for k in losses)
    assert 0 < difference < 0.05


def body_gradient(tiny: Any, directory: Path, accumulation_steps: int) -> torch.Tensor:
    loop = training_loop(tiny(precision="bf16", accumulation_steps=accumulation_steps, max_grad_norm=None), directory)
    loop.step(1)
    return loop.flat.grad.clone()


@pytest.mark.parametrize("accumulation_steps", [2, 4])
def test_bf16_micro_batches_give_one_large_batchs_gradient_within_bf16_tolerance(
    tiny: Any, tmp_path: Path, accumulation_steps: int
) -> None:
    whole = body_gradient(tiny, tmp_path / "whole", 1)
    split = body_gradient(tiny, tmp_path / "split", accumulation_steps)
    # bf16 keeps 8 bits of mantissa (relative rounding 2^-9 per op); the mixed gradient of a wrong
    # normalisation or a lost micro-batch would be off by a large fraction of its norm.
    relative = float(torch.linalg.vector_norm(split - whole) / torch.linalg.vector_norm(whole))
    assert relative < 0.02


def test_a_run_records_the_precision_it_computed_in(tiny: Any, tmp_path: Path) -> None:
    run_experiment(tiny(precision="bf16", max_steps=2, eval_every=2), tmp_path / "run", CPU, show_progress=False)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["precision"] == "bf16"
