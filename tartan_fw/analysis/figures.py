"""Figures like the paper's 3-4: task-weight trajectories and the dev metric over training.

Values come from the runs' TensorBoard scalars (``weights/<task>``, ``eval/<metric>``). Given a
sweep directory, each curve is the mean over its seeds at each logged step, with a band of one
standard deviation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tartan_fw.analysis.runs import run_directories, tensorboard_directory
from tartan_fw.errors import TartanError

Curve = dict[int, list[float]]  # step -> the value of each run that logged it


@dataclass
class Group:
    """One method: its name and the scalar curves of all its runs, by tag."""

    name: str
    curves: dict[str, Curve]

    def tags(self, prefix: str) -> list[str]:
        return sorted(tag for tag in self.curves if tag.startswith(prefix))


def read_scalars(tensorboard: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series of one run's event files, all points kept."""
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    events = EventAccumulator(str(tensorboard), size_guidance={SCALARS: 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()[SCALARS]}


def read_group(directory: Path, name: str) -> Group:
    """A run or sweep directory's curves, pooled across its runs."""
    curves: dict[str, Curve] = defaultdict(lambda: defaultdict(list))
    for run in run_directories(directory):
        tensorboard = tensorboard_directory(run)
        if tensorboard is None:
            continue
        for tag, points in read_scalars(tensorboard).items():
            for step, value in points:
                curves[tag][step].append(value)
    if not curves:
        raise TartanError(f"{directory}: no TensorBoard events in its runs; plot runs trained with the tartan trainer")
    return Group(name, {tag: dict(curve) for tag, curve in curves.items()})


def _mean_and_band(curve: Curve) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    steps = np.array(sorted(curve))
    means = np.array([np.mean(curve[s]) for s in steps])
    spread = np.array([np.std(curve[s]) for s in steps])
    return steps, means, spread


def _draw(axes, curve: Curve, label: str) -> None:
    steps, means, spread = _mean_and_band(curve)
    line, = axes.plot(steps, means, label=label)
    if spread.any():
        axes.fill_between(steps, means - spread, means + spread, color=line.get_color(), alpha=0.2, linewidth=0)


def plot_weights(groups: list[Group], path: Path) -> None:
    """One panel per method, one line per task: how the weighter mixed the tasks over training."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, panels = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.6), squeeze=False, sharey=True)
    for axes, group in zip(panels[0], groups):
        tags = group.tags("weights/")
        for tag in tags:
            _draw(axes, group.curves[tag], tag.removeprefix("weights/"))
        axes.set_title(group.name)
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        if tags:
            axes.legend(fontsize="small")
    panels[0][0].set_ylabel("task weight")
    _save(figure, path)


def plot_dev(groups: list[Group], metric: str, path: Path) -> None:
    """The end-task's dev metric over training, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tag = f"eval/{metric}"
    missing = [group.name for group in groups if tag not in group.curves]
    if missing:
        raise TartanError(f"no '{tag}' scalars in {', '.join(missing)}; choose the metric with --metric")
    figure, axes = plt.subplots(figsize=(6, 3.6))
    for group in groups:
        _draw(axes, group.curves[tag], group.name)
    axes.set_xlabel("step")
    axes.set_ylabel(f"dev {metric}")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    _save(figure, path)


def _save(figure, path: Path) -> None:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120, format="png")
    plt.close(figure)
