"""Seed sweeps: one run per seed into ``<sweep dir>/seed<N>``, several at once, resumable; several
experiment files make a grid, one sweep directory each. This module runs them as local processes;
``slurm.py`` submits the same jobs to Slurm.

Each seed runs as its own ``tartan-fw run`` process, so runs share nothing (random state,
registries, memory) and a crash stops only its seed. A seed whose ``metrics.json`` exists is
finished and skipped; an interrupted seed (its ``config.json`` written, no ``metrics.json``)
continues from its last checkpoint (``run --resume``); a seed directory with neither is started
again.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from tartan_fw.common.locking import lock_holder, try_lock
from tartan_fw.common.processes import die_with_parent
from tartan_fw.errors import TartanError
from tartan_fw.run_directory import RunDirectory, SweepDirectory

# Run through main() rather than ``python -m``, which would import the CLI module twice.
CLI = [sys.executable, "-c", "from tartan_fw.cli.main import main; main()"]


def parse_seeds(text: str) -> list[int]:
    """``0-4,7,9`` -> [0, 1, 2, 3, 4, 7, 9] (ranges inclusive, order kept, repeats dropped)."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise TartanError(f"--seeds {text!r}: '{part}' is not a seed or a range like 0-9")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first:
            raise TartanError(f"--seeds {text!r}: the range '{part}' runs backwards; write {last}-{first}")
        seeds += [seed for seed in range(first, last + 1) if seed not in seeds]
    return seeds


def sweep_directories(config_files: list[Path], output: Optional[Path]) -> list[Path]:
    """Each experiment file's sweep directory: ``output`` for one file, else ``<output or sweeps>/<file name>``."""
    if len(config_files) == 1:
        return [output or Path("sweeps") / config_files[0].stem]
    names = [file.stem for file in config_files]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise TartanError(f"several experiment files named {', '.join(repeated)}: their sweep directories would be "
                          f"one; rename one, or sweep them with separate commands and -s")
    return [(output or Path("sweeps")) / name for name in names]


@dataclass(frozen=True)
class SeedJob:
    """One seed's ``tartan-fw run``; its output goes to ``<sweep dir>/seed<N>.log``, written only while
    a local sweep holds the seed's ``claim`` lock.

    Whether it resumes is decided when it starts (:meth:`command`), not when it is planned: a Slurm
    job requeued after a preemption continues what its first start began.
    """

    seed: int
    run: RunDirectory
    arguments: tuple[str, ...]
    log: Path
    claim: Path

    @property
    def name(self) -> str:
        """``<sweep folder>/seed<N>``: unique among the jobs of one command, several experiments included."""
        return f"{self.run.root.parent.name}/{self.run.root.name}"

    def command(self) -> list[str]:
        """Resume a started run, replace a folder left before the run began, or start."""
        if self.run.is_started():
            return [*CLI, *self.arguments, "--resume"]
        return [*CLI, *self.arguments, "--force"] if self.run.root.exists() else [*CLI, *self.arguments]


def pending_jobs(sweep: Path, seeds: list[int], run_arguments: Callable[[int, Path], list[str]]) -> tuple[list[SeedJob], list[int]]:
    """Jobs for the seeds not yet finished, and the finished seeds that are skipped."""
    jobs, done, files = [], [], SweepDirectory(sweep)
    for seed in seeds:
        run = files.seed(seed)
        if run.is_finished():
            done.append(seed)
        else:
            jobs.append(SeedJob(seed, run, tuple(run_arguments(seed, run.root)), files.log(seed), files.claim(seed)))
    return jobs, done


def run_jobs(
    jobs: list[SeedJob], parallel: int, threads: Optional[int] = None,
    report: Callable[[SeedJob, int, float], None] = lambda job, code, seconds: None,
    elsewhere: Callable[[SeedJob, str], None] = lambda job, pid: None,
) -> tuple[dict[SeedJob, int], dict[SeedJob, str]]:
    """Run the jobs as local processes, ``parallel`` at a time; returns each job's exit code, and the pid
    of the process that runs a seed this sweep left alone (another sweep of the same directory, or a run
    by hand).

    ``threads`` caps each process's intra-op threads (``OMP_NUM_THREADS``), so parallel runs
    do not oversubscribe the cores. Each run ends with the sweep (:func:`die_with_parent`), however
    the sweep ends.
    """
    environment = dict(os.environ)
    if threads is not None:
        environment["OMP_NUM_THREADS"] = str(threads)
    waiting = list(jobs)
    running: dict[SeedJob, tuple[subprocess.Popen, int, float]] = {}
    codes: dict[SeedJob, int] = {}
    holders: dict[SeedJob, str] = {}
    while waiting or running:
        while waiting and len(running) < parallel:
            job = waiting.pop(0)
            started = _start(job, environment)
            if isinstance(started, str):
                holders[job] = started
                elsewhere(job, started)
            else:
                running[job] = (*started, time.perf_counter())
        for job, (process, claim, started) in list(running.items()):
            code = process.poll()
            if code is None:
                continue
            del running[job]
            holder = lock_holder(job.run.root) if code != 0 else None
            os.close(claim)
            if holder is not None:  # a run by hand took the seed's directory first
                holders[job] = holder
                elsewhere(job, holder)
            else:
                codes[job] = code
                report(job, code, time.perf_counter() - started)
        if running:
            time.sleep(0.2)
    return codes, holders


def _start(job: SeedJob, environment: dict[str, str]) -> tuple[subprocess.Popen, int] | str:
    """The seed's process and the claim this sweep holds until it ends; or the pid of the process already
    running the seed, which this sweep leaves alone (its log included)."""
    job.log.parent.mkdir(parents=True, exist_ok=True)
    claim = try_lock(job.claim)
    if isinstance(claim, str):
        return lock_holder(job.run.root) or claim
    holder = lock_holder(job.run.root)
    if holder is not None:
        os.close(claim)
        return holder
    with job.log.open("w") as log:
        process = subprocess.Popen(job.command(), stdout=log, stderr=subprocess.STDOUT, env=environment,
                                   preexec_fn=functools.partial(die_with_parent, os.getpid()))
    return process, claim
