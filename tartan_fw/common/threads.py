"""How many CPU threads a run may use without oversubscribing a shared machine.

torch starts one intra-op thread per core whatever else runs; on a busy machine the threads spin
against each other and every run slows down many times over. The budget is the cores this process
may use that are not already busy (the 1-minute load average), divided among the jobs started
together, at least one; ``OMP_NUM_THREADS``, when set, is the user's choice and wins.
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def thread_budget(jobs: int = 1) -> int:
    """Threads for each of ``jobs`` runs started now on this machine."""
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    cores = usable_cores()
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    free = max(1, min(cores, round(cores - busy)))
    return max(1, free // jobs)
