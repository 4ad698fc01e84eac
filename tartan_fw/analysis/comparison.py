"""Methods compared as in the paper's tables: mean and std over seeds, permutation-test p-values, cost.

Each method is a sweep directory (or one run). Scores are shown in points (x100), standard
deviations are sample standard deviations (n - 1), and p-values are two-sided permutation tests
of the difference of test means, against the baseline method (the first, unless chosen) in the
table and between every pair in the JSON and the pairwise Markdown table.

The split compared is ``test``, or ``test_unseen``: the test rows whose text is not in train, where
a method that memorises train gains nothing (shown beside ``dev_unseen``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from tartan_fw.analysis.permutation import PermutationResult, permutation_test
from tartan_fw.analysis.runs import RunResult, read_runs
from tartan_fw.errors import TartanError


@dataclass
class Method:
    """One method's runs and their summary statistics."""

    name: str
    directory: Path
    runs: list[RunResult]

    def scores(self, split: str) -> np.ndarray:
        values = np.array([getattr(run, split) for run in self.runs], dtype=float)
        return values[~np.isnan(values)]

    def mean(self, split: str) -> float:
        values = self.scores(split)
        return float(values.mean()) if len(values) else math.nan

    def std(self, split: str) -> float:
        values = self.scores(split)
        return float(values.std(ddof=1)) if len(values) > 1 else math.nan

    def cost(self, key: str) -> float:
        """Mean over runs of a compute record's entry (``flops``, ``wall_time_s``, ``steps``)."""
        values = [run.compute[key] for run in self.runs if key in run.compute]
        return float(np.mean(values)) if values else math.nan


@dataclass
class Comparison:
    metric: str
    methods: list[Method]
    baseline: int
    tests: dict[tuple[int, int], PermutationResult]
    split: str = "test"  # what is ranked and tested; shown beside the matching dev split

    @property
    def dev_split(self) -> str:
        return self.split.replace("test", "dev")

    def pair(self, i: int, j: int) -> Optional[PermutationResult]:
        """Method i tested against method j (``difference`` = mean i - mean j); None if either has < 2 runs."""
        result = self.tests.get((min(i, j), max(i, j)))
        if result is None or i < j:
            return result
        return PermutationResult(-result.difference, result.p_value, result.permutations, result.exact)

    def test_against_baseline(self, index: int) -> Optional[PermutationResult]:
        return None if index == self.baseline else self.pair(index, self.baseline)

    def majority(self) -> Optional[dict[str, Any]]:
        """The majority-class baseline of the compared splits (the same for every run of one task), if recorded."""
        return next((run.majority for method in self.methods for run in method.runs
                     if self.split in run.majority and self.dev_split in run.majority), None)


def compare(
    directories: list[Path], names: Optional[list[str]] = None, baseline: int = 0,
    permutations: int = 10_000, seed: int = 0, split: str = "test",
) -> Comparison:
    """Read every method's runs and test every pair of methods on ``split`` (``test`` or ``test_unseen``)."""
    names = names or [directory.name for directory in directories]
    if len(names) != len(directories):
        raise TartanError(f"--name was given {len(names)} times for {len(directories)} directories; give one per directory")
    if not 0 <= baseline < len(directories):
        raise TartanError(f"--baseline {baseline}: choose a method by its position, 0 to {len(directories) - 1}")
    methods = [Method(name, directory, read_runs(directory)) for name, directory in zip(names, directories)]
    metrics = {run.metric for method in methods for run in method.runs}
    if len(metrics) != 1:
        raise TartanError(f"the runs report different headline metrics ({', '.join(sorted(metrics))}); compare runs of one end-task")
    for method in methods:
        if len(method.scores(split)):
            continue
        if split == "test_unseen" and len(method.scores("test")):
            raise TartanError(f"{method.directory}: no run has test_unseen scores (on the test rows whose text is not "
                              f"in train): its runs were made before they were recorded; run them again, or compare "
                              f"on --split test")
        raise TartanError(f"{method.directory}: no run has a {split} score (a pretraining-only run?); compare "
                          f"end-task runs")
    tests = {
        (i, j): permutation_test(methods[i].scores(split), methods[j].scores(split), permutations, seed)
        for i in range(len(methods)) for j in range(i + 1, len(methods))
        if len(methods[i].scores(split)) > 1 and len(methods[j].scores(split)) > 1
    }
    return Comparison(metrics.pop(), methods, baseline, tests, split)


def _points(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.2f}"


def _number(value: float, pattern: str) -> str:
    return "-" if math.isnan(value) else format(value, pattern)


def table_rows(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    """The printed table: header and formatted rows (shared by the terminal and Markdown)."""
    baseline = comparison.methods[comparison.baseline].name
    metric, split, dev = comparison.metric, comparison.split, comparison.dev_split
    header = ["method", "runs", f"{split} {metric}", f"{dev} {metric}", f"p vs {baseline}", "TFLOPs", "wall s", "steps"]
    rows = []
    for index, method in enumerate(comparison.methods):
        test = comparison.test_against_baseline(index)
        rows.append([
            method.name,
            str(len(method.scores(split))),
            f"{_points(method.mean(split))} ± {_points(method.std(split))}",
            f"{_points(method.mean(dev))} ± {_points(method.std(dev))}",
            "" if index == comparison.baseline else _p_value(test),
            _number(method.cost("flops") / 1e12, ".3g"),
            _number(method.cost("wall_time_s"), ".0f"),
            _number(method.cost("steps"), ".0f"),
        ])
    majority = comparison.majority()
    if majority:
        rows.append([f"majority class ('{majority[split]['label']}')", "", _points(majority[split][metric]),
                     _points(majority[dev][metric]), "", "", "", ""])
    return header, rows


def to_markdown(comparison: Comparison) -> str:
    header, rows = table_rows(comparison)
    lines = [_markdown_row(header), _markdown_row(["---"] * len(header)), *(_markdown_row(row) for row in rows), "",
             f"Scores x100, mean ± sample std over seeds; p: two-sided permutation test of {comparison.split}-score "
             f"means against {comparison.methods[comparison.baseline].name}."
             + (" test_unseen and dev_unseen: on the rows whose text is not in train." if comparison.split != "test"
                else "") + " Cost is the mean per run (all stages of a pipeline); "
             f"TFLOPs is the 6 x parameters x tokens estimate of tartan_fw/training/compute.py, which leaves out a "
             f"weighter's own passes (META-TARTAN's meta-gradients): the wall time shows them."
             + (" The majority-class row always predicts the training set's most frequent label: a method "
                "at or below it learned nothing usable." if comparison.majority() else "")]
    if len(comparison.methods) > 2:
        names = [method.name for method in comparison.methods]
        lines += ["", f"Pairwise p-values (two-sided permutation test on {comparison.split} scores):", "",
                  _markdown_row(["", *names]), _markdown_row(["---"] * (len(names) + 1))]
        for i, name in enumerate(names):
            cells = ["" if i == j else _p_value(comparison.pair(i, j)) for j in range(len(names))]
            lines.append(_markdown_row([name, *cells]))
    return "\n".join(lines) + "\n"


def _p_value(result: Optional[PermutationResult]) -> str:
    return "-" if result is None else f"{result.p_value:.3f}"


def _markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def to_csv(comparison: Comparison) -> str:
    """One row per method with raw numbers (scores as fractions)."""
    out = io.StringIO()
    writer = csv.writer(out)
    split, dev = comparison.split, comparison.dev_split
    writer.writerow(["method", "directory", "runs", "metric", f"{split}_mean", f"{split}_std", f"{dev}_mean",
                     f"{dev}_std", "p_vs_baseline", "difference_vs_baseline", "flops", "wall_time_s", "steps"])
    for index, method in enumerate(comparison.methods):
        test = comparison.test_against_baseline(index)
        writer.writerow([
            method.name, str(method.directory), len(method.scores(split)), comparison.metric,
            method.mean(split), method.std(split), method.mean(dev), method.std(dev),
            "" if test is None else test.p_value, "" if test is None else test.difference,
            method.cost("flops"), method.cost("wall_time_s"), method.cost("steps"),
        ])
    majority = comparison.majority()
    if majority:
        writer.writerow([f"majority class ('{majority[split]['label']}')", "", 0, comparison.metric,
                         majority[split][comparison.metric], "", majority[dev][comparison.metric],
                         "", "", "", "", "", ""])
    return out.getvalue()


def to_json(comparison: Comparison) -> str:
    """Everything, including each run's scores and every pairwise test."""
    names = [method.name for method in comparison.methods]
    split, dev = comparison.split, comparison.dev_split
    document: dict[str, Any] = {
        "metric": comparison.metric,
        "split": split,
        "baseline": names[comparison.baseline],
        "majority_baseline": comparison.majority(),
        "methods": [
            {
                "name": method.name,
                "directory": str(method.directory),
                "runs": [{"directory": str(run.directory), "test": run.test, "dev": run.dev,
                          "test_unseen": run.test_unseen, "dev_unseen": run.dev_unseen, "compute": run.compute}
                         for run in method.runs],
                f"{split}_mean": method.mean(split), f"{split}_std": method.std(split),
                f"{dev}_mean": method.mean(dev), f"{dev}_std": method.std(dev),
                "flops": method.cost("flops"), "wall_time_s": method.cost("wall_time_s"), "steps": method.cost("steps"),
            }
            for method in comparison.methods
        ],
        "tests": [
            {"a": names[i], "b": names[j], "difference": result.difference, "p_value": result.p_value,
             "permutations": result.permutations, "exact": result.exact}
            for (i, j), result in comparison.tests.items()
        ],
    }
    return json.dumps(document, indent=2, allow_nan=True) + "\n"
