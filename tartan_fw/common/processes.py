"""Child processes that end with their parent, however the parent ends (``kill -9`` included).

On Linux the kernel sends the child SIGTERM when its parent dies (``PR_SET_PDEATHSIG``); a run
takes SIGTERM as a preemption (a checkpoint, exit 143), so a killed sweep leaves resumable seeds
rather than orphans still training. Elsewhere children stay in the parent's process group, so a
Ctrl-C or a ``kill`` of the group still reaches them.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Ask the kernel for SIGTERM when the parent process (pid ``parent``) dies; exits at once if it
    already has. Meant for ``Popen(preexec_fn=functools.partial(die_with_parent, os.getpid()))``.
    """
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request was in place
        os._exit(128 + int(signal.SIGTERM))
