"""tools/profile_step.py profiles both fine-tuning steps, tartan-fw's and the plain Hugging Face loop's."""

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
