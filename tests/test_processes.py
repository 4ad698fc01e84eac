"""A child started with ``die_with_parent`` ends when its parent is killed, ``kill -9`` included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# The parent starts a child that asks for the signal, prints the child's pid once the child is ready, and waits.
PARENT = """
import functools, os, subprocess, sys
from tartan_fw.common.processes import die_with_parent
child = subprocess.Popen([sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(600)"],
                         stdout=subprocess.PIPE, text=True, preexec_fn=functools.partial(die_with_parent, os.getpid()))
assert child.stdout.readline() == "ready\\n"
print(child.pid, flush=True)
child.wait()
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; whoever adopted it reaps it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_ends_with_its_killed_parent() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, env=os.environ)
    child = int(parent.stdout.readline())
    assert alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 60
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)
