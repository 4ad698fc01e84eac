"""Finding finished runs: a run directory holds ``metrics.json``; a sweep directory holds seed runs."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

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


def read_run(directory: Path) -> RunResult:
    metrics = json.loads(RunDirectory(directory).metrics.read_text())
    metric = metrics["metric"]
    return RunResult(
        directory,
        metric,
        _score(metrics.get("test"), metric),
        _score(metrics.get("best_dev"), metric),
        metrics.get("compute", {}),
        metrics.get("majority_baseline", {}),
    )


def _score(scores: Optional[dict[str, float]], metric: str) -> float:
    return float(scores[metric]) if scores and metric in scores else math.nan


def read_runs(directory: Path) -> list[RunResult]:
    return [read_run(run) for run in run_directories(directory)]


def tensorboard_directory(run: Path) -> Optional[Path]:
    """The run's event files; for a pipeline, those of its last stage."""
    files = RunDirectory(run)
    if files.tensorboard.is_dir():
        return files.tensorboard
    metrics = json.loads(files.metrics.read_text()) if files.is_finished() else {}
    stages = [stage["name"] for stage in metrics.get("pipeline", [])]
    if stages and files.stage(stages[-1]).tensorboard.is_dir():
        return files.stage(stages[-1]).tensorboard
    return None
