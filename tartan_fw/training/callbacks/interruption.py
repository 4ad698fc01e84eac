"""SIGINT, SIGTERM, SIGUSR1 and SIGUSR2 end a run cleanly: finish the step, write a checkpoint, say how to resume."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any, Optional

from tartan_fw.training.callbacks.base import Callback, Loop

logger = logging.getLogger(__name__)


@Callback.register("interruption")
class Interruption(Callback):
    """Turns the first SIGINT/SIGTERM/SIGUSR1/SIGUSR2 into a request honoured at the end of the current step.

    SIGUSR1 or SIGUSR2 is a Slurm job's warning before its time limit or a preemption (``sbatch
    --signal``; submitit asks for USR2; ``tartan-fw sweep --launcher slurm`` requeues the job, which
    resumes). A second SIGINT or SIGTERM stops at once (``KeyboardInterrupt``); the last checkpoint
    is then the periodic one. A repeated scheduler signal asks nothing more: Slurm signals every
    process of a job step, and the sweep's job passes it on to the run too. In a data-parallel run the request is shared, so every rank stops after the
    same step (``torchrun`` forwards signals to every worker).
    """

    SCHEDULER_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)
    SIGNALS = (signal.SIGINT, signal.SIGTERM, *SCHEDULER_SIGNALS)

    def __init__(self) -> None:
        self.received: Optional[int] = None
        self.previous: dict[int, Any] = {}

    def on_train_begin(self, loop: Loop) -> None:
        self.received = None
        if threading.current_thread() is threading.main_thread():
            self.previous = {number: signal.signal(number, self._handle) for number in self.SIGNALS}

    def _handle(self, number: int, frame: Optional[FrameType]) -> None:
        if self.received is not None:
            if number in self.SCHEDULER_SIGNALS:
                return
            self._restore()
            raise KeyboardInterrupt
        self.received = number
        logger.warning("%s received: stopping after this step with a checkpoint (send it again to stop now)",
                       signal.Signals(number).name)

    def on_step_end(self, loop: Loop) -> None:
        if loop.run.parallel.any(self.received is not None):
            loop.control.interrupted_by = self.received or signal.SIGTERM
            loop.control.should_save = True

    def on_train_end(self, loop: Loop) -> None:
        self._restore()

    def _restore(self) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        self.previous = {}
