"""MLflow: the run's scalars, config and final metrics in an MLflow run."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Optional

from tartan_fw.training.callbacks.base import Callback
from tartan_fw.training.trackers.base import Tracker, import_package


@Callback.register("mlflow")
class MLflowTracker(Tracker):
    """Reports where MLflow's own settings say (``$MLFLOW_TRACKING_URI``; MLflow 3's default is ``mlflow.db``
    in the current folder) under the experiment ``$MLFLOW_EXPERIMENT_NAME`` (default ``tartan-fw``); the
    MLflow run is named after the run directory and tagged with its path. Install with
    ``pip install 'tartan-fw[mlflow]'``.
    """

    package, extra = "mlflow", "mlflow"

    def start(self, directory: Path, run_id: Optional[str]) -> str:
        mlflow = import_package(type(self))
        self.client = mlflow.MlflowClient()
        if run_id is not None:
            self.client.update_run(run_id, status="RUNNING")
            return run_id
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "tartan-fw")
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
        tags = {"tartan_fw.run_directory": str(directory.resolve())}
        return self.client.create_run(experiment_id, run_name=directory.name, tags=tags).info.run_id

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        self.client.log_batch(self.run_id, params=[Param(key, str(value)) for key, value in params.items()])

    def log_scalars(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(tag, float(value), now, step) for tag, value in values.items()])

    def log_final(self, metrics: dict[str, float]) -> None:
        self.log_scalars(metrics, 0)

    def close(self, finished: bool) -> None:
        self.client.set_terminated(self.run_id, "FINISHED" if finished else "FAILED")
