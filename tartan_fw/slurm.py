"""Sweeps on a Slurm cluster: each sweep's seeds as one job array, submitted through ``submitit``.

A job runs the seed's ``tartan-fw run`` exactly as a local sweep does, into the same run directory,
so finished seeds are skipped, started ones resume, and ``tartan-fw compare`` reads the results
alike. Slurm sends SIGUSR2 (submitit's choice; ``SUBMITIT_PREEMPT_SIGNAL`` changes it) ``signal_delay``
seconds before the time limit, and on preemption where the cluster does:
``submitit`` then asks the job's :meth:`SeedRun.checkpoint`, which has the run write its checkpoint
and stop, and requeues the job, whose next start resumes from that checkpoint (bit-identical, as
``tartan-fw resume``). The run directory's lock keeps any two processes from writing one run.

``submitit`` is an optional extra (``pip install 'tartan-fw[slurm]'``), imported only here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, List, Optional

from tartan_fw.common.files import read_json
from tartan_fw.errors import ConfigurationError, TartanError
from tartan_fw.run_directory import SweepDirectory
from tartan_fw.sweep import SeedJob

# Where a user keeps the cluster's settings (partition, account, ...), read by every Slurm sweep.
USER_SETTINGS = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "tartan-fw" / "slurm.json"
# sacct's states of a job that will still run (a requeued job is PENDING again): not submitted twice.
LIVE_STATES = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "COMPLETING",
               "RESIZING", "SUSPENDED", "SIGNALING", "STAGE_OUT"}
POLL_SECONDS = 3  # how often --wait asks sacct; a sweep's runs take minutes to days


def import_submitit() -> ModuleType:
    try:
        import submitit
    except ImportError as err:
        raise TartanError("--launcher slurm needs submitit: pip install 'tartan-fw[slurm]'") from err
    return submitit


class SlurmSettings:
    """What a sweep asks of Slurm; from the user's ``~/.config/tartan-fw/slurm.json`` (or
    ``--slurm-config``), then the command's options, which win.

    Args:
        partition: the partition (``--partition``); none: the cluster's default.
        account: the account charged (``--account``).
        time_limit: minutes per job (``--time``). A run longer than that is checkpointed and
            requeued, and continues. A day by default: submitit needs a limit to tell a time-out
            from a preemption, and a day is within most partitions' maximum.
        cpus_per_task: CPUs per run (``--cpus-per-task``), also its torch threads.
        gpus_per_task: GPUs per run (``--gpus-per-task``).
        mem: memory per run, Slurm's notation (``16G``).
        array_parallelism: at most this many of the array's runs at once (``--array=...%N``).
        sbatch: further sbatch flags without their dashes, e.g. ``{"qos": "high", "constraint": "a100"}``.
        setup: shell lines run before each run (``module load ...``, activating an environment).
        signal_delay: seconds before the time limit at which Slurm sends its signal; enough for the
            current step and a checkpoint (submitit's default).
        max_timeouts: how many times a run may reach the time limit and be requeued (submitit's default).
    """

    def __init__(
        self,
        partition: Optional[str] = None,
        account: Optional[str] = None,
        time_limit: int = 1440,
        cpus_per_task: int = 1,
        gpus_per_task: Optional[int] = None,
        mem: Optional[str] = None,
        array_parallelism: int = 256,
        sbatch: Optional[Dict[str, str]] = None,
        setup: Optional[List[str]] = None,
        signal_delay: int = 90,
        max_timeouts: int = 3,
    ) -> None:
        self.partition = partition
        self.account = account
        self.time_limit = time_limit
        self.cpus_per_task = cpus_per_task
        self.gpus_per_task = gpus_per_task
        self.mem = mem
        self.array_parallelism = array_parallelism
        self.sbatch = sbatch or {}
        self.setup = setup or []
        self.signal_delay = signal_delay
        self.max_timeouts = max_timeouts

    def executor_parameters(self) -> dict[str, Any]:
        """``submitit.SlurmExecutor``'s names for these settings."""
        return {"partition": self.partition, "account": self.account, "time": self.time_limit,
                "cpus_per_task": self.cpus_per_task, "gpus_per_task": self.gpus_per_task, "mem": self.mem,
                "array_parallelism": self.array_parallelism, "additional_parameters": self.sbatch,
                "setup": self.setup, "signal_delay_s": self.signal_delay}


def load_settings(file: Optional[Path], options: dict[str, Any]) -> SlurmSettings:
    """The settings in ``file`` (default :data:`USER_SETTINGS`, if it exists) with ``options`` (not None) over them."""
    from tartan_fw.common.from_config import build

    values: dict[str, Any] = {}
    source = file or USER_SETTINGS
    if file is not None or USER_SETTINGS.is_file():
        values = read_json(source, "write a JSON object of Slurm settings there (see tartan-fw sweep --help)")
        if not isinstance(values, dict):
            raise TartanError(f"{source}: expected a JSON object of Slurm settings, found {type(values).__name__}")
    values.update({key: value for key, value in options.items() if value is not None})
    try:
        return build(SlurmSettings, values)
    except ConfigurationError as err:
        raise ConfigurationError([f"{source}: {problem}" for problem in err.problems]) from err


class SeedRun:
    """A Slurm job's callable: the seed's run as a child process, as in a local sweep.

    ``submitit`` calls :meth:`checkpoint` on its signal and requeues the job with what it returns.
    """

    POLL_SECONDS = 0.5

    def __init__(self, job: SeedJob, threads: int) -> None:
        self.job = job
        self.threads = threads
        self.process: Optional[subprocess.Popen] = None

    def __call__(self) -> str:
        if not self.job.run.is_finished():
            environment = {**os.environ, "OMP_NUM_THREADS": str(self.threads)}
            with self.job.log.open("a") as log:  # appended: a requeued job's output follows its first start's
                self.process = subprocess.Popen(self.job.command(), stdout=log, stderr=subprocess.STDOUT,
                                                env=environment)
            # Polled, not waited on: submitit's signal handler waits for the same child (Popen.wait holds a lock).
            code = self._wait()
            if code != 0:
                raise TartanError(f"{self.job.name}: the run failed (exit {code}); see {self.job.log}")
        return str(self.job.run.root)

    def _wait(self) -> int:
        assert self.process is not None
        while (code := self.process.poll()) is None:
            time.sleep(self.POLL_SECONDS)
        return code

    def checkpoint(self) -> Any:
        """The run finishes its step, writes its checkpoint and stops; the requeued job resumes it.

        The child may have had Slurm's signal already: a repeat asks nothing more of it.
        """
        submitit = import_submitit()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)
            self._wait()
        return submitit.helpers.DelayedSubmission(self)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "process": None}  # the child belongs to this start only


def submit(jobs: list[SeedJob], sweep: Path, settings: SlurmSettings) -> dict[SeedJob, str]:
    """Submit one sweep's jobs as one array; returns each job's Slurm id, also kept in ``slurm/jobs.json``.

    A seed whose earlier job is still queued or running is left to it.
    """
    from tartan_fw.run_lifecycle import write_json

    submitit = import_submitit()
    files = SweepDirectory(sweep)
    known = {int(seed): job_id for seed, job_id in _read_jobs(files).items()}
    states = job_states(known.values())
    todo = [job for job in jobs if states.get(known.get(job.seed, ""), "") not in LIVE_STATES]
    if not todo:
        return {}
    # Named explicitly: submitit.AutoExecutor would pick Slurm or not by whether srun is on PATH.
    executor = submitit.SlurmExecutor(folder=files.slurm_folder / "%j", max_num_timeout=settings.max_timeouts)
    executor.update_parameters(job_name=f"tartan-{sweep.name}", **settings.executor_parameters())
    with executor.batch():
        handles = [executor.submit(SeedRun(job, settings.cpus_per_task)) for job in todo]
    ids = {job: handle.job_id for job, handle in zip(todo, handles)}
    write_json(files.slurm_jobs, {str(seed): job_id for seed, job_id in
                                  {**known, **{job.seed: job_id for job, job_id in ids.items()}}.items()})
    return ids


def _read_jobs(files: SweepDirectory) -> dict[str, str]:
    if not files.slurm_jobs.is_file():
        return {}
    return read_json(files.slurm_jobs, "delete it; tartan-fw sweep then submits the unfinished seeds again")


def job_states(job_ids: Iterable[str]) -> dict[str, str]:
    """Each job's state as sacct reports it (``RUNNING``, ``COMPLETED``, ...; ``UNKNOWN`` if not found)."""
    submitit = import_submitit()
    watcher = submitit.SlurmJob.watcher
    ids = list(job_ids)
    for job_id in ids:
        watcher.register_job(job_id)
    if ids:
        watcher.update()
    return {job_id: watcher.get_state(job_id, mode="cache") for job_id in ids}


def sweep_states(sweep: Path) -> list[tuple[int, str, str, str]]:
    """For each seed of a sweep: its run's state, its Slurm job id and that job's state ('' when local)."""
    files = SweepDirectory(sweep)
    settings = read_json(files.settings, "not a sweep directory (it has no sweep.json); name one tartan-fw sweep wrote")
    jobs = _read_jobs(files)
    states = job_states(jobs.values()) if jobs else {}
    rows = []
    for seed in settings["seeds"]:
        run = files.seed(seed)
        state = "finished" if run.is_finished() else "started" if run.is_started() else "not started"
        job_id = jobs.get(str(seed), "")
        rows.append((seed, state, job_id, states.get(job_id, "")))
    return rows


def wait(ids: dict[SeedJob, str], report: Callable[[SeedJob, bool, float], None]) -> dict[SeedJob, bool]:
    """Wait for the jobs; ``report(job, ok, seconds)`` as each ends. Returns whether each run finished."""
    submitit = import_submitit()
    handles = {job: submitit.SlurmJob(SweepDirectory(job.run.root.parent).slurm_folder / "%j", job_id)
               for job, job_id in ids.items()}
    started, outcome = time.perf_counter(), {}
    while len(outcome) < len(handles):
        submitit.SlurmJob.watcher.update()  # one sacct call for every job
        for job, handle in handles.items():
            if job not in outcome and handle.done():
                outcome[job] = job.run.is_finished()
                report(job, outcome[job], time.perf_counter() - started)
        time.sleep(POLL_SECONDS)
    return outcome

