"""The run directory's layout: every file a run writes, named here and nowhere else.

::

    <run dir>/
      config.json             the resolved experiment (or pipeline) config
      ext_vars.json           the --ext-var values it was resolved with
      labels.json             the end-task's label names, in head order
      data_root.json          the data root the run read (absolute), where evaluate and resume read it again
      environment.json        what made the run: tartan-fw version and git commit, library versions, device and
                              threads, one entry for its start and one per resume (``environment.py``)
      model/                  the encoder's Hugging Face config and tokenizer, and body.json (max_length)
      best/model.safetensors  body and end-task head at the best dev score
      body.safetensors        the body a ``pretrain`` stage hands on (with its masked-LM head)
      checkpoint/             the resumable training state (``training/checkpoint.py``)
      tensorboard/            event files
      log.txt                 the run's log
      metrics.json            written last: the run is finished when it exists
      .lock                   the OS lock of the process writing the run (``common/locking.py``)
      <stage>/                a pipeline stage's own run directory, laid out the same way

A sweep directory (:class:`SweepDirectory`) holds ``sweep.json``, one run directory per seed,
``seed<N>/``, each seed's output, ``seed<N>.log``, and on Slurm ``slurm/`` (submitit's folder, with
``jobs.json``: each seed's job id).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from tartan_fw.common.files import read_json
from tartan_fw.common.locking import LOCK_FILE
from tartan_fw.errors import DataError, TartanError

DAMAGED_CONFIG = "the run directory is damaged; start the run again with tartan-fw run CONFIG -s DIR --force"


@dataclass(frozen=True)
class RunDirectory:
    """Paths inside one run directory; creating or reading the files is left to their owners."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def ext_vars(self) -> Path:
        return self.root / "ext_vars.json"

    @property
    def labels(self) -> Path:
        return self.root / "labels.json"

    @property
    def data_root(self) -> Path:
        return self.root / "data_root.json"

    @property
    def environment(self) -> Path:
        return self.root / "environment.json"

    @property
    def model_folder(self) -> Path:
        return self.root / "model"

    @property
    def best_model(self) -> Path:
        return self.root / "best" / "model.safetensors"

    @property
    def pretrained_body(self) -> Path:
        return self.root / "body.safetensors"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def log(self) -> Path:
        return self.root / "log.txt"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    def stage(self, name: str) -> "RunDirectory":
        """A pipeline stage's run directory."""
        return RunDirectory(self.root / name)

    def is_finished(self) -> bool:
        return self.metrics.is_file()

    def is_started(self) -> bool:
        return self.config.is_file()


@dataclass(frozen=True)
class SweepDirectory:
    """Paths inside a sweep directory."""

    root: Path

    @property
    def settings(self) -> Path:
        return self.root / "sweep.json"

    def seed(self, seed: int) -> RunDirectory:
        return RunDirectory(self.root / f"seed{seed}")

    def log(self, seed: int) -> Path:
        return self.root / f"seed{seed}.log"

    @property
    def slurm_folder(self) -> Path:
        """submitit's files: each job's script, pickled call, result and Slurm logs."""
        return self.root / "slurm"

    @property
    def slurm_jobs(self) -> Path:
        """Each seed's latest Slurm job id, for ``tartan-fw status``."""
        return self.slurm_folder / "jobs.json"

    def claim(self, seed: int) -> Path:
        """The lock a sweep holds while it runs the seed, so that a second sweep neither starts it nor
        writes its log."""
        return self.root / f".seed{seed}.lock"


BODY_SETTINGS_FILE = "body.json"  # inside model/: what the tokenizer files do not say (max_length)
LABELS_FILE = "labels.json"  # also the name in an exported model folder (docs/how-to/export.md)


def read_run_config(directory: Path, include: Iterable[str] = ()) -> dict[str, Any]:
    """A run's resolved config, with the plugins it (and ``include``) needs imported."""
    from tartan_fw.plugins import load_plugins

    config_path = RunDirectory(directory).config
    if not config_path.exists():
        raise TartanError(f"{directory}: not a run directory (no {config_path.name}); pass the -s folder of a finished run")
    config = read_json(config_path, DAMAGED_CONFIG)
    if not isinstance(config, dict):
        raise TartanError(f"{config_path}: expected the run's resolved config (a JSON object); {DAMAGED_CONFIG}")
    load_plugins([*include, *config.get("include", [])])
    return config


def data_root_record(root: Path) -> dict[str, str]:
    """What ``data_root.json`` holds: the data root a run reads, absolute, so no later shell or folder changes it."""
    return {"data_root": str(root.expanduser().resolve())}


def run_data_root(directory: Path, given: Optional[str], configured: Optional[str]) -> Optional[Path]:
    """Where a run's data is read again (``evaluate``, ``resume``); None: the default, as a run without a config
    ``data_root`` reads it.

    ``given`` (``--data-root``) wins; then, as in training, the experiment's own ``data_root`` over
    ``$TARTAN_DATA``, and ``$TARTAN_DATA`` over the root the run recorded, which stands in for the
    environment of the shell that trained it. Runs made before the record read as they always did.
    """
    if given:
        return Path(given).expanduser()
    if configured is None and os.environ.get("TARTAN_DATA"):
        return None
    record = RunDirectory(directory).data_root
    if not record.exists():
        return Path(configured) if configured else None
    damaged = "pass --data-root DIR, or delete the file to read the data as a run without it does"
    saved = read_json(record, damaged)
    if not (isinstance(saved, dict) and isinstance(saved.get("data_root"), str)):
        raise TartanError(f"{record}: expected {{\"data_root\": \"<folder>\"}}; {damaged}")
    root = Path(saved["data_root"])
    if not root.is_dir():
        elsewhere = "--data-root DIR" if configured else "--data-root DIR or set TARTAN_DATA"
        raise DataError(f"{root}: the run's data root (recorded in {record}) no longer exists; pass {elsewhere} "
                        f"to read the data from where it is now")
    return root


def _written_names() -> frozenset[str]:
    files = RunDirectory(Path())
    paths = (files.config, files.ext_vars, files.labels, files.data_root, files.environment, files.model_folder, files.best_model,
             files.pretrained_body, files.checkpoint, files.tensorboard, files.log, files.metrics)
    return frozenset({path.parts[0] for path in paths} | {LOCK_FILE})


WRITTEN_NAMES = _written_names()  # the top-level entries a run writes: all that ``--force`` may delete


def _recorded_stages(directory: Path) -> frozenset[str]:
    """The stage folders the run's own ``config.json`` names (none if it names none or is damaged): a subfolder
    is the run's only on that record, never because the names inside it happen to be ones a run writes."""
    try:
        config = json.loads(RunDirectory(directory).config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return frozenset()
    stages = config.get("stages") if isinstance(config, dict) else None
    if not isinstance(stages, list):
        return frozenset()
    names = (stage.get("name") for stage in stages if isinstance(stage, dict))
    return frozenset(name for name in names if isinstance(name, str))


def _written_by_a_run(path: Path, stages: frozenset[str]) -> bool:
    """A file a run writes, the hidden leftover of one of its atomic writes, or one of the recorded ``stages``
    (holding only what a run writes, if anything: a stage that failed to start leaves at most its lock)."""
    if _written_name(path.name):
        return True
    return path.name in stages and path.is_dir() and not path.is_symlink() and not foreign_entries(path)


def _written_name(name: str) -> bool:
    """A top-level name a run writes, or the hidden leftover of one of its atomic writes."""
    return name in WRITTEN_NAMES or any(name.startswith(f".{entry}.") for entry in WRITTEN_NAMES)


def is_run_file(directory: Path, path: Path) -> bool:
    """Whether ``path`` is the run directory or lies under what its run writes (its files, its recorded stages),
    where another command's output (``predict -o``) would overwrite the run's results."""
    try:
        relative = path.resolve().relative_to(directory.resolve())
    except ValueError:
        return False
    return not relative.parts or _written_name(relative.parts[0]) or relative.parts[0] in _recorded_stages(directory)


def foreign_entries(directory: Path) -> list[str]:
    stages = _recorded_stages(directory)
    return sorted(entry.name for entry in directory.iterdir() if not _written_by_a_run(entry, stages))


def has_contents(directory: Path) -> bool:
    """Anything but the lock file (which a refused or failed start may leave behind)."""
    return directory.is_dir() and any(entry.name != LOCK_FILE for entry in directory.iterdir())


def check_replaceable(directory: Path) -> None:
    """``--force`` deletes a run directory only: never the working directory, one above it, or others' files."""
    resolved, here = directory.resolve(), Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        raise TartanError(f"{directory}: --force would delete the working directory or a folder above it; "
                          f"choose a run directory with -s")
    if not directory.is_dir() or directory.is_symlink():
        raise TartanError(f"{directory}: not a directory; choose a run directory with -s")
    if not RunDirectory(directory).is_started():
        raise TartanError(f"{directory}: not a tartan-fw run directory (no config.json), so --force will not "
                          f"delete it; empty it yourself or choose another with -s")
    foreign = foreign_entries(directory)
    if foreign:
        raise TartanError(f"{directory}: holds files no run writes ({', '.join(foreign[:5])}), so --force will not "
                          f"delete it; move them away or choose another run directory with -s")


def clear_run_directory(directory: Path) -> None:
    """Deletes what a run wrote, keeping the directory and its lock (held by this process)."""
    for entry in directory.iterdir():
        if entry.name == LOCK_FILE:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
