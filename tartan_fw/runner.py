"""Running an experiment into its run directory, and the loops and finished runs that tools and evaluation
rebuild from a config."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

import torch

from tartan_fw.analysis.summary import summary_lines
from tartan_fw.common.files import check_tensors, storage_errors
from tartan_fw.common.from_config import build
from tartan_fw.data.check import overlap_warning
from tartan_fw.errors import StorageError, TartanError
from tartan_fw.experiment import Experiment, prepare
from tartan_fw.run_directory import RunDirectory, read_run_config, run_data_root
from tartan_fw.run_lifecycle import RunLifecycle, write_json
from tartan_fw.trained import save_model_files
from tartan_fw.training.checkpoint import DAMAGED_BEST, TrainingCheckpoint, load_end_task_model
from tartan_fw.training.compute import training_compute
from tartan_fw.training.distributed import data_parallel
from tartan_fw.training.head_warmup import first_training_stage
from tartan_fw.training.logging import RunLogger, TensorBoardLogger, journal
from tartan_fw.training.metrics import trivial_result
from tartan_fw.training.precision import precision_name, resolve_precision
from tartan_fw.training.results import RunMetrics
from tartan_fw.training.stage import Stage
from tartan_fw.training.trainer import Run, StageLoop, TartanTrainer

log = logging.getLogger(__name__)


def run_experiment(
    config: dict[str, Any],
    directory: Path,
    device: torch.device,
    force: bool = False,
    show_progress: bool = True,
    ext_vars: Optional[dict[str, str]] = None,
    resume: bool = False,
) -> RunMetrics:
    """Train and evaluate ``config`` into ``directory``; returns the metrics written there.

    ``resume`` continues the unfinished run in ``directory`` from its last checkpoint (from the
    start if it has none); ``config`` must be the run's own. Under ``torchrun`` every process
    calls this and trains its share of each batch; rank 0 alone writes the directory.
    """
    lifecycle = RunLifecycle(directory, config, force, resume, ext_vars)
    lifecycle.check()
    experiment = build(Experiment, config)
    if resume:  # the root the run recorded stands in for the environment of the shell that started it
        root = run_data_root(directory, None, experiment.data_root)
        experiment.data_root = str(root) if root else None
    files = RunDirectory(directory)
    with data_parallel(device) as parallel, lifecycle.logging(show_progress) if parallel.is_main else nullcontext():
        precision = resolve_precision(experiment.trainer.precision, parallel.device)
        journal.info("%s %s: %s; seed %d, device %s, %d CPU threads, %s", "resuming" if resume else "starting",
                     directory, config.get("description") or "experiment", experiment.seed, parallel.device,
                     torch.get_num_threads(), precision_name(precision))
        with parallel.main_first():  # the first process fills the tokenizer and tokenisation caches
            body, end_task, aux_tasks = prepare(experiment, parallel.device)

        def start(files: RunDirectory) -> None:
            write_json(files.labels, end_task.labels)
            with storage_errors(files.model_folder):
                save_model_files(body, files.model_folder)

        logger = RunLogger()
        if parallel.is_main:
            lifecycle.claim(parallel.device, start)
            lifecycle.open_log()
        if parallel.is_main and "tensorboard" in experiment.trainer.report_to:
            checkpoint = TrainingCheckpoint(files.checkpoint)
            purge_step = (checkpoint.global_step() if checkpoint.exists() else 0) + 1 if resume else None
            logger = TensorBoardLogger(files.tensorboard, config, purge_step)
        leak = overlap_warning(end_task.name, end_task.overlap)
        if leak and parallel.is_main:
            log.warning("%s", leak)
        terminal = sys.stdout.isatty()
        run = Run(body, end_task, aux_tasks, experiment.weighter, directory, parallel.device, experiment.seed,
                  logger, show_progress and terminal and parallel.is_main, parallel, resume, precision)
        with _resume_hint(directory):
            try:
                metrics = experiment.trainer.fit(run)
                metrics.compute = training_compute(body, run.tasks, metrics)
                metrics.precision = precision_name(precision)
                if metrics.test:
                    warning = trivial_result(metrics.to_dict())
                    metrics.warnings = [warning] if warning else []
                    for line in summary_lines(directory, metrics.to_dict()):
                        journal.info("%s", line)
                    if warning and parallel.is_main:
                        log.warning("%s: %s", directory, warning)
            finally:
                logger.close()
            if parallel.is_main:
                lifecycle.finish(metrics)
    return metrics


@contextmanager
def _resume_hint(directory: Path) -> Iterator[None]:
    """A disk that fills during training costs only the steps since the last checkpoint."""
    try:
        yield
    except StorageError as err:
        raise StorageError(f"{err}; tartan-fw resume {directory} then continues from the last checkpoint") from err


def training_loop(
    config: dict[str, Any], directory: Path, device: torch.device = torch.device("cpu"),
    choose: Optional[Callable[[Run, list[Stage]], Stage]] = None,
) -> StageLoop:
    """The loop of an experiment's first training stage, after any head warm-up (or of the stage ``choose``
    returns), to drive step by step.

    Built exactly as ``run`` builds it (same seeding, data, weighter and settings) but writes
    nothing: for tests and tools that inspect single steps. ``directory`` is where the loop's
    callbacks would write.
    """
    experiment = build(Experiment, config)
    body, end_task, aux_tasks = prepare(experiment, device)
    run = Run(body, end_task, aux_tasks, experiment.weighter, directory, device, experiment.seed, show_progress=False,
              precision=resolve_precision(experiment.trainer.precision, device))
    trainer = experiment.trainer
    if not isinstance(trainer, TartanTrainer):
        raise TartanError(f"trainer: {type(trainer).__name__} has no stage loop to drive step by step")
    stages = trainer.stages(run)
    return trainer.loop(run, choose(run, stages) if choose else first_training_stage(stages))


def load_run(directory: Path, device: torch.device, include: Iterable[str] = (), data_root: Optional[str] = None) -> Run:
    """A finished run's end-task model (best checkpoint) with its data, for evaluation; the data is read from
    ``data_root`` if given, else from where the run read it (``run_directory.run_data_root``)."""
    config = read_run_config(directory, include)
    best = RunDirectory(directory).best_model
    if not best.exists():
        raise TartanError(f"{best}: no checkpoint; the run did not finish an evaluation")
    check_tensors(best, DAMAGED_BEST)  # before the data is read
    experiment = build(Experiment, config)
    experiment.init_from = None  # the best checkpoint replaces the whole body anyway
    root = run_data_root(directory, data_root, experiment.data_root)
    experiment.data_root = str(root) if root else None
    body, end_task, _ = prepare(experiment, device, with_aux=False)
    run = Run(body, end_task, [], experiment.weighter, directory, device, experiment.seed, show_progress=False,
              precision=resolve_precision(experiment.trainer.precision, device))
    load_end_task_model(body, end_task.head, run.best_path)
    return run


