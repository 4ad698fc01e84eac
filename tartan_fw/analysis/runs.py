"""Finding finished runs: a run directory holds ``metrics.json``; a sweep directory holds seed runs."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from tartan_fw.common.files import read_json
from tartan_fw.errors import TartanError
from tartan_fw.run_directory import RunDirectory


@dataclass
class RunResult:
    """One finished run's headline scores and cost (NaN where a run has no such score)."""

    directory: Path
    metric: str
    test: float
    dev: float
    compute: dict[str, Any] = field(default_factory=dict)
    majority: dict[str, Any] = field(default_factory=dict)  # the majority-class baseline per split (older runs: none)
    # On the rows whose text is not in train (NaN for runs made before they were recorded).
    test_unseen: float = math.nan
    dev_unseen: float = math.nan


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def run_directories(directory: Path) -> list[Path]:
    """``directory`` itself when it is a finished run, else its finished runs one level down (seed0, seed1, ...)."""
    if not directory.is_dir():
        raise TartanError(f"{directory}: no such directory; give a run or sweep directory")
    if RunDirectory(directory).is_finished():
        return [directory]
    runs = sorted((d for d in directory.iterdir() if RunDirectory(d).is_finished()), key=_natural_key)
    if not runs:
        raise TartanError(
            f"{directory}: no finished runs (no {RunDirectory(directory).metrics.name} in it or its subfolders); "
            f"finish the sweep first"
        )
    return runs


DAMAGED_METRICS = "the run's metrics are damaged; train it again, or leave it out"


def read_metrics(directory: Path) -> dict[str, Any]:
    """A finished run's ``metrics.json``; damaged or without its ``metric`` is an error naming the file."""
    path = RunDirectory(directory).metrics
    metrics = read_json(path, DAMAGED_METRICS)
    if not isinstance(metrics, dict) or not isinstance(metrics.get("metric"), str):
        raise TartanError(f"{path}: no 'metric' entry naming the run's headline metric; {DAMAGED_METRICS}")
    return metrics


def read_run(directory: Path) -> RunResult:
    metrics = read_metrics(directory)
    metric = metrics["metric"]
    return RunResult(
        directory,
        metric,
        _score(metrics, "test", directory),
        _score(metrics, "best_dev", directory),
        metrics.get("compute", {}),
        metrics.get("majority_baseline", {}),
        _score(metrics, "test_unseen", directory),
        _score(metrics, "dev_unseen", directory),
    )


def _score(metrics: dict[str, Any], split: str, directory: Path) -> float:
    scores, metric = metrics.get(split), metrics["metric"]
    if not isinstance(scores, dict) or metric not in scores:
        return math.nan
    value = scores[metric]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TartanError(f"{RunDirectory(directory).metrics}: {split}.{metric} is {value!r}, not a number; {DAMAGED_METRICS}")
    return float(value)


def read_runs(directory: Path) -> list[RunResult]:
    return [read_run(run) for run in run_directories(directory)]


def tensorboard_directory(run: Path) -> Optional[Path]:
    """The run's event files; for a pipeline, those of its last stage."""
    files = RunDirectory(run)
    if files.tensorboard.is_dir():
        return files.tensorboard
    metrics = read_metrics(run) if files.is_finished() else {}
    stages = [stage["name"] for stage in metrics.get("pipeline", [])]
    if stages and files.stage(stages[-1]).tensorboard.is_dir():
        return files.stage(stages[-1]).tensorboard
    return None
