"""tools/bench.py's paired comparisons: two steps in turn in one process, the ratio's mean and error over the pairs."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))
import bench  # noqa: E402


def test_pairs_alternate_their_order_after_both_warm_up_and_ratios_are_per_pair() -> None:
    calls: list[tuple[str, int]] = []
    steps = {name: (lambda n, name=name: calls.append((name, n))) for name in ("finetune", "hf")}
    # Made-up clocks: fine-tune takes 2, 3, 4 s of wall and 1, 1, 1 s of CPU; the plain loop 2 s and 0.5, 1, 2 s.
    clocks = {"finetune": iter([(2.0, 1.0), (3.0, 1.0), (4.0, 1.0)]), "hf": iter([(2.0, 0.5), (2.0, 1.0), (2.0, 2.0)])}

    def timed(step, n, device):
        step(n)
        return next(clocks[calls[-1][0]])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench, "timed", timed)
        result = bench.measure_pairs(bench.parse(["--steps", "3", "--warmup", "2"]), steps, bench.torch.device("cpu"))
    assert calls == [("finetune", 1), ("hf", 1), ("finetune", 2), ("hf", 2),  # warm-up, untimed
                     ("finetune", 3), ("hf", 3), ("hf", 4), ("finetune", 4), ("finetune", 5), ("hf", 5)]
    assert result["pairs"] == 3 and result["steps"] == ["finetune", "hf"]
    assert result["wall"]["ratios"] == [1.0, 1.5, 2.0] and result["cpu"]["ratios"] == [2.0, 1.0, 0.5]
    assert result["wall"]["mean"] == 1.5 and result["wall"]["se"] == pytest.approx(0.5 / 3**0.5)
    assert result["cpu"]["hf_s"] == [0.5, 1.0, 2.0]


@pytest.mark.slow  # a minute of real steps; test_pairs_alternate_... checks the pairing logic in the default run
def test_paired_only_times_each_pair_on_a_tiny_shape(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(TOOLS / "bench.py"), "--paired-only", "--threads", "1", "--steps", "2",
                           "--warmup", "1", "--batch-size", "2", "--seq-len", "16", "--dev-batch-size", "2",
                           "--meta-batch-size", "2", "--json", str(out)],
                          capture_output=True, text=True, timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())["results"]
    pairs = {"finetune_vs_hf": ("finetune / hf_finetune", ["finetune", "hf"]),
             "meta_vs_mt_k1": ("META / MT, K=1", ["meta", "mt"]), "meta_vs_mt_k2": ("META / MT, K=2", ["meta", "mt"])}
    assert sorted(results) == sorted(pairs)
    for name, (label, steps) in pairs.items():
        paired = results[name]
        assert paired["steps"] == steps
        for clock in ("wall", "cpu"):
            first, second = (paired[clock][f"{step}_s"] for step in steps)
            assert len(first) == len(second) == 2 and min(first + second) > 0
            assert paired[clock]["ratios"] == [a / b for a, b in zip(first, second)]
            assert paired[clock]["mean"] == pytest.approx(statistics.mean(paired[clock]["ratios"]))
        line = next(line for line in done.stdout.splitlines() if line.startswith(f"{label}, paired"))
        assert f"cpu {paired['cpu']['mean']:.3f} ± {paired['cpu']['se']:.3f}" in line
