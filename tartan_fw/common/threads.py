"""How many CPU threads a run may use without oversubscribing a shared machine.

torch starts one intra-op thread per core whatever else runs; on a busy machine the threads spin
against each other and every run slows down many times over. The budget is the cores this process
may use that are not busy now, divided among the jobs started together, at least one;
``OMP_NUM_THREADS``, when set, is the user's choice and wins. "Busy now" is the non-idle share of
those cores' time in /proc/stat over a short sample: the 1-minute load average lags, so a run started
just after another ended would see the old load. Where there is no /proc/stat (not Linux) the load
average has to do. A container's CPU quota (cgroup ``cpu.max``) bounds the cores too: the affinity
mask may list every core of the host while the quota allows two.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from time import sleep
from typing import Collection

PROC_STAT = Path("/proc/stat")
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"
# 25 ticks per core at Linux's usual USER_HZ of 100 (4% resolution); short beside a run's start-up.
SAMPLE_SECONDS = 0.25


def usable_cpus() -> set[int]:
    """The CPUs this process may run on."""
    try:
        return os.sched_getaffinity(0)
    except AttributeError:  # not on Linux
        return set(range(os.cpu_count() or 1))


def cpu_quota() -> float | None:
    """Cores' worth of CPU time this process's cgroup allows, or None where there is no quota."""
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):  # no cgroup v2 here, or a line this does not know
        return None


def cpu_ticks(stat: str, cpus: Collection[int]) -> tuple[int, int]:
    """Busy and total ticks of ``cpus`` so far, from /proc/stat's text (lines ``cpuN user nice system
    idle iowait irq softirq steal guest guest_nice``; guest time is already in user and nice)."""
    busy = total = 0
    for line in stat.splitlines():
        name, _, fields = line.partition(" ")
        if name[:3] == "cpu" and name[3:].isdigit() and int(name[3:]) in cpus:
            ticks = [int(field) for field in fields.split()[:8]]
            total += sum(ticks)
            busy += sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
    return busy, total


def busy_cores(cpus: Collection[int]) -> float:
    """How many of ``cpus`` other work keeps busy now."""
    if not PROC_STAT.exists():
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    busy, total = cpu_ticks(PROC_STAT.read_text(), cpus)
    sleep(SAMPLE_SECONDS)
    busy_after, total_after = cpu_ticks(PROC_STAT.read_text(), cpus)
    return len(cpus) * (busy_after - busy) / max(1, total_after - total)


def thread_budget(jobs: int = 1) -> int:
    """Threads for each of ``jobs`` runs started now on this machine."""
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    cpus = usable_cpus()
    quota = cpu_quota()
    cores = len(cpus) if quota is None else min(len(cpus), math.floor(quota))
    free = max(1, min(cores, round(len(cpus) - busy_cores(cpus))))
    return max(1, free // jobs)
