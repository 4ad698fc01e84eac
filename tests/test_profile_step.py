"""tools/profile_step.py profiles steps side by side: tartan-fw's fine-tuning step and the plain Hugging Face
loop's; META-TARTAN's step, MT-TARTAN's and META's dev passes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

TOOL = Path(__file__).resolve().parents[1] / "tools" / "profile_step.py"
sys.path.insert(0, str(TOOL.parent))
import profile_step  # noqa: E402


def test_a_labelled_step_is_profiled_by_operator_with_its_phase_timed_apart() -> None:
    """The default run's check of the tool's measuring parts; the runs below profile real steps (slow)."""
    cpu: Counter = Counter()
    product = profile_step.labelled("product", lambda n: torch.ones(64, 64) @ torch.ones(64, 64), cpu)
    averages, faults, seconds = profile_step.profiled(product, 1)
    times, calls = profile_step.self_ms(averages)
    assert calls["aten::mm"] == 1 and times["aten::mm"] > 0
    assert not [key for key in times if key.startswith(profile_step.PHASE)]  # labels are phases, not operators
    assert any(event.key == profile_step.PHASE + "product" for event in averages)
    assert cpu["product"] > 0 and seconds >= cpu["product"] and faults >= 0


@pytest.mark.slow
def test_both_steps_are_profiled_on_a_tiny_shape() -> None:
    done = subprocess.run([sys.executable, str(TOOL), "--threads", "1", "--warmup", "1", "--batch-size", "2",
                           "--seq-len", "16"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "== tartan-fw fine-tune" in done.stdout and "== plain Hugging Face loop" in done.stdout
    assert done.stdout.count("Self CPU time total") == 2
    assert "aten::mm" in done.stdout  # the body's matrix products are in each table


@pytest.mark.slow
def test_meta_mode_diffs_meta_against_mt_and_the_dev_passes_on_a_tiny_shape() -> None:
    done = subprocess.run([sys.executable, str(TOOL), "--meta", "--aux", "1", "--threads", "1", "--warmup", "1",
                           "--batch-size", "2", "--seq-len", "16", "--dev-batch-size", "2", "--meta-batch-size", "2"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for name in ("== MT-TARTAN, K=1", "== META-TARTAN, K=1", "== META's dev passes alone"):
        assert name in out
    assert "META - MT - passes" in out and "minor page faults per step" in out
    phases = out.split("== META's phases")[1]
    for phase in ("meta-gradient", "fit phi*", "fitting rows' forward without gradients"):
        assert phase in phases  # the weighter's phases were labelled and timed
    assert "aten::" in out.split("META - MT - passes")[1]  # the operator diff lists operators (which ones lead depends on timing)
