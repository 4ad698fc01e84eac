"""Experiment trackers (MLflow, Weights & Biases): ``trainer.report_to`` names them beside TensorBoard.

A tracker is a callback: the run's logger passes it every scalar TensorBoard gets, under the same tag
(losses, task weights, the weighter's scalars such as cosines, dev metrics, learning rates), so the
two cannot drift apart. It also gets the resolved config as parameters and the run's final metrics.
Only rank 0 reports; the tracker's package is imported only when the tracker is asked for.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Optional

from tartan_fw.common.files import read_json
from tartan_fw.errors import TartanError
from tartan_fw.training.callbacks.base import Callback, Loop

if TYPE_CHECKING:
    from tartan_fw.common.from_config import Lazy

TENSORBOARD = "tensorboard"  # written by the run's logger itself (training/logging.py), not a tracker callback


class Tracker(Callback):
    """One tracker's session for a whole run: built once per run (not per stage), started at the first
    stage on rank 0, continued by a resumed run (its id is the callback's checkpointed state).

    Subclasses implement the contract (``start``, ``log_params``, ``log_scalars``, ``log_final``,
    ``close``) and name their package and the ``tartan-fw`` extra that installs it.
    """

    package: ClassVar[str]  # the module imported when the tracker is asked for
    extra: ClassVar[str]  # pip install 'tartan-fw[<extra>]'

    def __init__(self) -> None:
        self.run_id: Optional[str] = None
        self.started = False

    def start(self, directory: Path, run_id: Optional[str]) -> str:
        """Open the tracker's run for the run directory ``directory`` (continue ``run_id`` when given); its id."""
        raise NotImplementedError

    def log_params(self, params: dict[str, Any]) -> None:
        """The resolved config, flattened to dotted keys (``trainer.body_lr``)."""
        raise NotImplementedError

    def log_scalars(self, values: dict[str, float], step: int) -> None:
        """Scalars at a global step, under TensorBoard's tags (``train/loss/<task>``, ``eval/<metric>``)."""
        raise NotImplementedError

    def log_final(self, metrics: dict[str, float]) -> None:
        """The run's final metrics (``test/<metric>``, ``best_dev/<metric>``, ...)."""
        raise NotImplementedError

    def close(self, finished: bool) -> None:
        """End the tracker's run (``finished``: the run completed; else it failed), writing what is buffered."""
        raise NotImplementedError

    @classmethod
    def check_installed(cls, name: str) -> None:
        """A one-line error naming the extra to install, before anything is trained."""
        if importlib.util.find_spec(cls.package) is None:
            raise ValueError(f"the '{name}' tracker needs the {cls.package} package: "
                             f"pip install 'tartan-fw[{cls.extra}]'")

    def on_train_begin(self, loop: Loop) -> None:
        run = loop.run
        if self.started or not run.parallel.is_main:
            return
        self.run_id = self.start(run.directory, self.run_id)
        self.started = True
        self.log_params(flatten(read_json(run.files.config, "the run directory is damaged"), "."))
        run.logger.subscribe(self)

    def finish(self, metrics: dict[str, Any]) -> None:
        """The run's final metrics, then close (called by the trainer once the run is evaluated)."""
        if self.started:
            self.log_final(final_metrics(metrics))
            self.end(finished=True)

    def end(self, finished: bool = False) -> None:
        """Close the session if it is open (not ``finished``: training failed or was interrupted)."""
        if self.started:
            self.started = False
            self.close(finished)

    def state_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id} if self.run_id else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.run_id = state.get("run_id")


def import_package(tracker: type[Tracker]) -> Any:
    """The tracker's package (``check_installed`` found it when the config was read)."""
    return importlib.import_module(tracker.package)


def tracker_callbacks(report_to: list[str]) -> list["Lazy[Callback]"]:
    """The trackers ``report_to`` names (``tensorboard`` aside), checked: registered, trackers, installed."""
    from tartan_fw.common.from_config import Lazy

    repeated = sorted({name for name in report_to if report_to.count(name) > 1})
    if repeated:
        raise ValueError(f"report_to: each tracker may appear once; repeated: {', '.join(repeated)}")
    trackers = []
    for index, name in enumerate(report_to):
        if name == TENSORBOARD:
            continue
        try:
            cls = Callback.by_name(name)
        except KeyError as err:
            raise ValueError(f"report_to[{index}]: {err.args[0]}; trackers: {', '.join(available_trackers())}") from None
        if not issubclass(cls, Tracker):
            raise ValueError(f"report_to[{index}]: '{name}' is a callback, not a tracker (trackers: "
                             f"{', '.join(available_trackers())}); list it in trainer.callbacks instead")
        cls.check_installed(name)
        trackers.append(Lazy(cls, {}, f"trainer.report_to[{index}]"))
    return trackers


def available_trackers() -> list[str]:
    return [TENSORBOARD] + [name for name in Callback.list_available() if issubclass(Callback.by_name(name), Tracker)]


def flatten(value: Any, separator: str, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists as one level: ``{"trainer": {"body_lr": 1e-4}}`` becomes ``{"trainer.body_lr": 1e-4}``."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in items:
        flat.update(flatten(item, separator, f"{prefix}{separator}{key}" if prefix else str(key)))
    return flat


def final_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The numbers of ``metrics.json`` a tracker's run table shows: scores on dev and test (all rows and
    the unseen ones), the best step, steps and training time; per-class reports and stage details stay in the file."""
    kept = {key: metrics[key] for key in ("best_dev", "test", "dev_unseen", "test_unseen", "best_step", "steps",
                                          "wall_time_s") if metrics.get(key) not in (None, {})}
    return {key: float(value) for key, value in flatten(kept, "/").items() if isinstance(value, (int, float))}
