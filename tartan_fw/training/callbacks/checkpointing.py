"""The resumable checkpoint: every ``trainer.checkpoint_every`` steps, and when a callback asks for one."""

from __future__ import annotations

from tartan_fw.training.callbacks.base import Callback, Loop


@Callback.register("checkpointing")
class Checkpointing(Callback):
    """Runs last, so the checkpoint holds every other callback's state after this step.

    ``checkpoint_every`` counts steps across stages (null: only when asked, as on interruption);
    a killed run loses the steps since the last checkpoint and redoes them identically when resumed.
    """

    def on_step_end(self, loop: Loop) -> None:
        every, step = loop.settings.checkpoint_every, loop.state.global_step
        if not (loop.control.should_save or (every is not None and step % every == 0)):
            return
        written = loop.checkpoint_state()  # collective: every rank takes part
        if written is not None:
            loop.run.logger.flush()  # the curves up to the checkpoint survive a kill, as the weights do
            loop.run.checkpoint.save(*written, step)
