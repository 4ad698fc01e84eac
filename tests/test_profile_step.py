"""tools/profile_step.py profiles steps side by side: tartan-fw's fine-tuning step and the plain Hugging Face
loop's; META-TARTAN's step, MT-TARTAN's and META's dev passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "profile_step.py"


def test_both_steps_are_profiled_on_a_tiny_shape() -> None:
    done = subprocess.run([sys.executable, str(TOOL), "--threads", "1", "--warmup", "1", "--batch-size", "2",
                           "--seq-len", "16"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "== tartan-fw fine-tune" in done.stdout and "== plain Hugging Face loop" in done.stdout
    assert done.stdout.count("Self CPU time total") == 2
    assert "aten::mm" in done.stdout  # the body's matrix products are in each table


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
