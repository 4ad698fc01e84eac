"""The top level of an experiment file, and running one into a run directory."""

from __future__ import annotations

import json
import logging
import os
import random
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, List, Optional

import torch

from tartan_fw.analysis.summary import summary_lines
from tartan_fw.common.constraints import Seed
from tartan_fw.common.files import (
    atomic_write_text, check_tensors, check_writable, make_folder, read_json, storage_errors,
)
from tartan_fw.common.from_config import Lazy, build
from tartan_fw.common.locking import lock_folder
from tartan_fw.data.check import overlap_warning
from tartan_fw.data.root import DataRoot
from tartan_fw.errors import StorageError, TartanError
from tartan_fw.models.bodies import Body
from tartan_fw.tasks import AuxTask, EndTask
from tartan_fw.run_directory import (
    DAMAGED_CONFIG, RunDirectory, check_replaceable, clear_run_directory, data_root_record, has_contents,
    read_run_config, run_data_root,
)
from tartan_fw.trained import save_model_files
from tartan_fw.training.body_weights import load_body
from tartan_fw.training.checkpoint import DAMAGED_BEST, TrainingCheckpoint, load_end_task_model
from tartan_fw.training.compute import training_compute
from tartan_fw.training.head_warmup import first_training_stage
from tartan_fw.training.distributed import data_parallel
from tartan_fw.training.logging import RunLogFile, RunLogger, TensorBoardLogger, journal
from tartan_fw.training.metrics import trivial_result
from tartan_fw.training.precision import precision_name, resolve_precision
from tartan_fw.training.results import RunMetrics
from tartan_fw.training.stage import Stage
from tartan_fw.training.trainer import Run, StageLoop, TartanTrainer, Trainer
from tartan_fw.weighters import UniformWeighter, Weighter

log = logging.getLogger(__name__)


class Experiment:
    """An experiment: a shared body, the end-task, auxiliary tasks, a weighter and a trainer.

    Args:
        body: the shared encoder (``huggingface`` or ``scratch``).
        end_task: the task to do well on.
        aux_tasks: auxiliary objectives trained alongside it (none: plain fine-tuning).
        weighter: how task gradients are mixed (default ``uniform``: MT-TARTAN).
        trainer: the training loop's settings.
        seed: seeds data order, masking and initialisation.
        data_root: folder of ``<task>/<file>`` data; set here it wins over ``$TARTAN_DATA`` (the default),
            so the saved config says where the run's data came from.
        include: plugin modules to import before the rest of the config is read.
        init_from: a run directory or .safetensors file whose body weights replace the body's
            initial ones (continued pretraining handed on; a pipeline sets it for later stages).
        description: free text, kept in the run directory.
    """

    def __init__(
        self,
        body: Lazy[Body],
        end_task: Lazy[EndTask],
        aux_tasks: Optional[List[Lazy[AuxTask]]] = None,
        weighter: Optional[Weighter] = None,
        trainer: Optional[Trainer] = None,
        seed: Seed = 0,
        data_root: Optional[str] = None,
        include: Optional[List[str]] = None,
        description: str = "",
        init_from: Optional[str] = None,
    ) -> None:
        self.body = body
        self.end_task = end_task
        self.aux_tasks = aux_tasks or []
        self.weighter = weighter or UniformWeighter()
        self.trainer = trainer or TartanTrainer()
        self.seed = seed
        self.data_root = data_root
        self.include = include or []
        self.init_from = init_from
        # the tasks are built later, on the body; their names are known from their configs now
        self.task_names = [task.cls.configured_name(task.arguments()) for task in [end_task, *self.aux_tasks]]
        duplicates = sorted({n for n in self.task_names if self.task_names.count(n) > 1})
        if duplicates:
            raise ValueError(f"task names must be unique; repeated: {', '.join(duplicates)}")
        self.weighter.check_tasks(self.task_names)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy

        numpy.random.seed(seed)
    except ImportError:
        pass


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TartanError("--device cuda: no CUDA device is available; use --device cpu")
    return torch.device(name)


def prepare(experiment: Experiment, device: torch.device, with_aux: bool = True) -> tuple[Body, EndTask, list[AuxTask]]:
    """Build the body, then the tasks on it, each reading its data (all input errors surface here)."""
    seed_everything(experiment.seed)
    data_root = DataRoot(experiment.data_root)
    body = experiment.body.construct(data_root=data_root)
    if experiment.init_from:
        load_body(body, Path(experiment.init_from))
    dependencies = {"body": body, "data_root": data_root, "seed": experiment.seed}
    end_task = experiment.end_task.construct(**dependencies)
    aux_tasks = [task.construct(**dependencies) for task in experiment.aux_tasks] if with_aux else []
    body.to(device)
    for task in [end_task, *aux_tasks]:
        task.head.to(device)
    return body, end_task, aux_tasks


def check_run_directory(config: dict[str, Any], directory: Path, force: bool, resume: bool) -> None:
    """A run may resume its own unfinished directory, replace a run directory with ``force``, or start afresh.

    Called again once the directory is locked, so that what was checked still holds for the writer.
    """
    if resume:
        check_resumable(config, directory)
    elif directory.exists() and not directory.is_dir():
        raise TartanError(f"{directory}: is a file; choose a run directory with -s")
    elif not has_contents(directory):
        check_writable(RunDirectory(directory).config)  # a read-only disk, found before the data is read
    else:
        if not force:
            raise TartanError(
                f"{directory}: run directory exists; choose another with -s, pass --force to replace it, "
                f"or --resume to continue it"
            )
        check_replaceable(directory)


def lock_run_directory(directory: Path) -> None:
    """Rank 0 writes the run directory, so it alone locks it (under torchrun the ranks share it)."""
    if os.environ.get("RANK", "0") == "0":
        lock_folder(directory)


def start_run_directory(directory: Path, config: dict[str, Any], ext_vars: Optional[dict[str, str]]) -> None:
    """An empty run directory holding the resolved config, the ext-vars it was resolved with and the data root.

    A replaced run's files are deleted, the locked directory itself is kept (so is its lock).
    """
    make_folder(directory)
    clear_run_directory(directory)
    files = RunDirectory(directory)
    write_json(files.config, config)
    write_json(files.ext_vars, ext_vars or {})
    write_json(files.data_root, data_root_record(DataRoot(config.get("data_root")).path))


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
    check_run_directory(config, directory, force, resume)
    if has_contents(directory):
        lock_run_directory(directory)  # a live run is refused before the data is read
    experiment = build(Experiment, config)
    if resume:  # the root the run recorded stands in for the environment of the shell that started it
        root = run_data_root(directory, None, experiment.data_root)
        experiment.data_root = str(root) if root else None
    files = RunDirectory(directory)
    with data_parallel(device) as parallel:
        with parallel.main_first():  # the first process fills the tokenizer and tokenisation caches
            body, end_task, aux_tasks = prepare(experiment, parallel.device)
        if parallel.is_main:
            lock_run_directory(directory)
            check_run_directory(config, directory, force, resume)
            if resume:
                check_resumable_state(files)
            else:
                start_run(directory, config, ext_vars, end_task, body)
        logger, handlers = RunLogger(), run_log_handlers(files.log, show_progress) if parallel.is_main else []
        if parallel.is_main and "tensorboard" in experiment.trainer.report_to:
            checkpoint = TrainingCheckpoint(files.checkpoint)
            purge_step = (checkpoint.global_step() if checkpoint.exists() else 0) + 1 if resume else None
            logger = TensorBoardLogger(files.tensorboard, config, purge_step)
        for target, handler in handlers:
            logging.getLogger(target).addHandler(handler)
        leak = overlap_warning(end_task.name, end_task.overlap)
        if leak and parallel.is_main:
            log.warning("%s", leak)
        precision = resolve_precision(experiment.trainer.precision, parallel.device)
        journal.info("%s %s: %s; seed %d, device %s, %d CPU threads, %s", "resuming" if resume else "starting",
                     directory, config.get("description") or "experiment", experiment.seed, parallel.device,
                     torch.get_num_threads(), precision_name(precision))
        terminal = sys.stdout.isatty()
        run = Run(body, end_task, aux_tasks, experiment.weighter, directory, parallel.device,
                  experiment.seed, logger, show_progress and terminal and parallel.is_main, parallel, resume, precision)
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
                for target, handler in handlers:
                    logging.getLogger(target).removeHandler(handler)
                    handler.close()
            if parallel.is_main:
                write_json(files.metrics, metrics.to_dict())
    return metrics


@contextmanager
def _resume_hint(directory: Path) -> Iterator[None]:
    """A disk that fills during training costs only the steps since the last checkpoint."""
    try:
        yield
    except StorageError as err:
        raise StorageError(f"{err}; tartan-fw resume {directory} then continues from the last checkpoint") from err


def start_run(directory: Path, config: dict[str, Any], ext_vars: Optional[dict[str, str]], end_task: EndTask,
              body: Body) -> None:
    """The files a run writes before training; a disk that cannot take them leaves no half-made run behind."""
    files = RunDirectory(directory)
    try:
        start_run_directory(directory, config, ext_vars)
        write_json(files.labels, end_task.labels)
        with storage_errors(files.model_folder):
            save_model_files(body, files.model_folder)
    except StorageError:
        clear_run_directory(directory)
        raise


def check_resumable_state(files: RunDirectory) -> None:
    """What a resume will read, checked before it writes anything (a log, an event file)."""
    checkpoint = TrainingCheckpoint(files.checkpoint)
    if checkpoint.exists():
        checkpoint.check()
    if files.best_model.exists():
        check_tensors(files.best_model, DAMAGED_BEST)


def run_log_handlers(log_file: Path, show_progress: bool) -> list[tuple[str, logging.Handler]]:
    """(logger name, handler) pairs: everything into log.txt; the journal also to stdout when that is
    not a terminal (where the progress bar would print nothing until the end)."""
    with storage_errors(log_file):
        to_file = RunLogFile(log_file)
    handlers: list[tuple[str, logging.Handler]] = [("tartan_fw", to_file), (journal.name, to_file)]
    if show_progress and not sys.stdout.isatty():
        to_stdout = logging.StreamHandler(sys.stdout)
        to_stdout.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        handlers.append((journal.name, to_stdout))
    return handlers


def check_resumable(config: dict[str, Any], directory: Path) -> None:
    """A run can be resumed when it is unfinished and ``config`` is the one it was started with."""
    files = RunDirectory(directory)
    if not files.is_started():
        raise TartanError(f"{directory}: no run to resume (no {files.config.name}); start one with tartan-fw run")
    if files.is_finished():
        raise TartanError(f"{directory}: the run has finished ({files.metrics.name} exists); there is nothing to resume")
    saved = read_json(files.config, DAMAGED_CONFIG)
    changed = _differences(saved, json.loads(json.dumps(config)))
    if changed:
        raise TartanError(
            f"{directory}: the config differs from the run's {files.config.name} at {', '.join(changed[:5])}; "
            f"a run resumes with its own config: tartan-fw resume {directory}"
        )


def _differences(saved: Any, given: Any, path: str = "") -> list[str]:
    """Dotted paths where two JSON values differ."""
    if isinstance(saved, dict) and isinstance(given, dict):
        keys = sorted(set(saved) | set(given))
        return [d for k in keys for d in _differences(saved.get(k), given.get(k), f"{path}.{k}" if path else k)]
    return [] if saved == given else [path or "(top level)"]


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


def write_json(path: Path, value: Any) -> None:
    """Atomic: written beside ``path`` and renamed."""
    atomic_write_text(path, json.dumps(value, indent=2) + "\n")
